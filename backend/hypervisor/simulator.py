"""A simulated host: libvirt's ``test`` driver, made persistent and private.

``test:///default`` keeps its domains in the memory of one process. A
simulated host instead lives in a directory D, one file per domain, so that
an operation costs the same on a host with 1 domain or with 10,000:

    D/host.xml          a test-driver <node> without domains: the host's cpu
                        and memory (check() opens it; so does defining a new
                        domain). It is the driver's ``state_file``.
    D/domains/<name>.xml   one domain (file name: the name %-quoted), itself a
                        test-driver <node> holding only that domain, with its
                        run state (<test:runstate>: 1 running, 3 paused, 5 shut
                        off, 6 crashed) and, for a running domain, its pending
                        definition; it starts with our own header (namespace
                        ZS_NS, ignored by libvirt): a random generation, then
                        <zs:domain name uuid runstate [transient] [port] [id]/>
                        so that state() and states() read it without libvirt.
    D/ports             console ports in use: byte i is '1' when port 5900+i
                        is taken (the smallest free one is a memchr away, and
                        taking or freeing one writes one byte in place)
    D/domid             the last domain id given (ids grow at each start, and
                        stay while the domain runs, as on a real host)
    D/uuids/<uuid>      symlink to the file of the domain with that uuid, for
                        a domain not named by its uuid (the backend's are), so
                        that libvirt's "already defined with uuid" check still
                        sees the other domains
    D/node.lock         flock'ed around every operation
    D/fs/               the host's filesystem as seen from here (local_path)
    D/capacity.json     optional {"cpuNum", "memoryBytes", "hostname"}

An operation on domain X takes the host lock (shared to read, exclusive to
change), opens ``test:///D/domains/X.xml`` (X alone: a fresh private state),
acts, writes back X's file only if it changed (tmp + rename, atomic) and
closes. A domain's definition and start happen on a connection opened on
host.xml, so a new domain never loads the others either. A process keeps the
connection of its recent operations (_CACHE, one per domain file, bounded)
and reuses it while the file still carries the random generation that
connection wrote or read; any other writer changes it and forces a fresh
load. ``_session()`` without a domain (the base class's hook, used by tests to
go under the driver) loads every domain into one connection and writes back
the domains it changed.

Durability: files are written to a temporary name and renamed, never
fsync'ed (DURABLE = False): a crash may lose the last operations, which the
backend's reconcile repairs, but never leaves a torn file; an empty domain
file (the remains of an unsynced new file after a power loss) counts as no
domain. With DURABLE = True every file is fsync'ed and its directory once per
operation (about 0.5 ms more per operation on ext4).

An old single-file host (D/node.xml holding every domain) is split into
domain files at its first use, under the exclusive lock.

What the test driver lacks is emulated so that, from the user's side, the
host behaves like a real one:
- attach/detach of disks and CD-ROM media changes edit the domain XML with
  ElementTree: the definition is redefined through libvirt (which validates
  it) and, for a live change on a running domain, the edited live XML is what
  gets written back;
- a running domain's live XML and its pending definition (a redefinition
  while running, applied at the next start as in QEMU) are both kept;
- consoles get a port (5900 and up, the smallest free on this host) at their
  first start, kept while the domain is defined, shown in the live XML;
- a running domain's id is unique on the host and kept until it stops.
"""

import collections
import contextlib
import copy
import fcntl
import hashlib
import json
import os
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, unescape

import libvirt

from .domain import media_path, set_media
from .driver import _STATES, HostDriver, describe, strip_domain_id
from .errors import HostUnreachable, HypervisorError

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
ZS_NS = "http://zstack.org/simulator/1.0"
FIRST_PORT = 5900
DEFAULT_CAPACITY = {"cpuNum": 32, "memoryBytes": 64 * 1024 ** 3}
DURABLE = False                 # fsync files and directories (see the module doc)
CACHE_SIZE = 64                 # connections a process keeps (~25 KiB each)

_RUNNING, _PAUSED, _SHUTOFF = 1, 3, 5
_ACTIVE = (_RUNNING, _PAUSED, libvirt.VIR_DOMAIN_CRASHED)
_INACTIVE = libvirt.VIR_DOMAIN_XML_INACTIVE
# An active domain's libvirt state -> the <test:runstate> that brings it back.
_RUNSTATES = {libvirt.VIR_DOMAIN_PAUSED: _PAUSED,
              libvirt.VIR_DOMAIN_PMSUSPENDED: _PAUSED,
              libvirt.VIR_DOMAIN_CRASHED: libvirt.VIR_DOMAIN_CRASHED}


class _Scope:
    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


_HOST = _Scope("host.xml alone, no domain")    # what an operation loads, besides
_ALL = _Scope("every domain of the host")       # a domain name (or (name, uuid))


class SimulatedHostDriver(HostDriver):
    """The HostDriver interface over a simulated host kept in ``directory``."""

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        host = os.path.join(self.directory, "host.xml")
        super().__init__("test://" + urllib.parse.quote(host),
                         fs_root=os.path.join(self.directory, "fs"), state_file=host)
        self._lock_path = os.path.join(self.directory, "node.lock")
        self._old_node = os.path.join(self.directory, "node.xml")
        self._domains = os.path.join(self.directory, "domains")
        self._uuids = os.path.join(self.directory, "uuids")
        self._ports = os.path.join(self.directory, "ports")
        self._domid = os.path.join(self.directory, "domid")
        self._tls = threading.local()       # the scope of the base class's _session

    # ------------------------------------------------------------ host

    def capacity(self):
        """The simulated host's size: DEFAULT_CAPACITY, or capacity.json's."""
        cap = dict(DEFAULT_CAPACITY, hostname="sim-" + os.path.basename(self.directory)[:8])
        path = os.path.join(self.directory, "capacity.json")
        try:
            with open(path, encoding="utf-8") as f:
                cap.update(json.load(f))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            raise HostUnreachable(f"cannot read {path}: {e}") from None
        return cap

    def check(self):
        with self._scoped(_HOST):
            result = super().check()
        cap = self.capacity()
        result.update(cpuNum=int(cap["cpuNum"]), memoryBytes=int(cap["memoryBytes"]),
                      hostname=str(cap["hostname"]))
        return result

    def domain_type(self):
        return "kvm"                # nothing runs; look like the KVM host it stands for

    # ------------------------------------------------------------ domains

    def define(self, xml):
        with self._scoped(self._definition_scope(xml)):
            return super().define(xml)

    def define_and_start(self, xml):
        """define() then start() in one operation (one lock, one load, one
        write); returns the name. A domain already running is left running
        (the definition then waits for its next start, as define() does)."""
        with self._sim("define domain", scope=self._definition_scope(xml)) as sim:
            dom = sim.conn.defineXML(xml)
            name = dom.name()
            try:
                if not dom.isActive():
                    dom.create()
            except libvirt.libvirtError as e:
                raise HypervisorError(f"cannot start domain[{name}]: {describe(e)}") from None
            sim.port(name)
            return name

    def start(self, name):
        with self._sim(f"start domain[{name}]", scope=name) as sim:
            dom = self._domain(sim.conn, name)
            if not dom.isActive():
                dom.create()
            sim.port(name)

    def stop(self, name, force=False, timeout=60):
        with self._scoped(name):
            return super().stop(name, force=force, timeout=timeout)

    def reboot(self, name):
        with self._scoped(name):
            return super().reboot(name)

    def destroy(self, name):
        with self._scoped(name):
            return super().destroy(name)

    def undefine(self, name):
        with self._scoped(name):
            return super().undefine(name)

    def state(self, name):
        what = f"read state of domain[{name}]"
        with self._locked(what, write=False):
            record = self._record(self._file(name), what)
        return None if record is None else _STATES.get(record.runstate, "Unknown")

    def states(self):
        """{domain name: state}, from the domain files' headers (no libvirt).

        Without the host lock once the host is laid out: every domain file is
        replaced by a rename, so each read sees one whole version of it, and
        the host agent, which asks this several times a second, never holds
        back an operation (a lock held for a thousand files' reads did)."""
        what = "list domains"
        if not os.path.exists(self.state_file) or os.path.exists(self._old_node):
            with self._locked(what, write=False):
                pass                    # lays the host out first
        result = {}
        for path in self._domain_files(what):
            header = self._header(path, what)
            if header is not None:
                result[header[0]] = _STATES.get(header[1], "Unknown")
        return dict(sorted(result.items()))

    def _header(self, path, what):
        """(name, runstate) from the head of a domain file; None if it is gone."""
        try:
            with open(path, "rb") as f:
                head = f.read(_HEAD_BYTES)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._unusable(what, f"{path}: {describe(e)}") from None
        m = _HEADER.match(head.decode("utf-8", "replace"))
        if m is None:                   # a longer header (a very long name): read it all
            record = self._record(path, what)
            return None if record is None else (record.name, record.runstate)
        attrs = dict(_ATTR.findall(m.group(2)))
        try:
            return unescape(attrs["name"], _UNESCAPE), int(attrs["runstate"])
        except (KeyError, ValueError):
            raise self._unusable(what, f"{path}: not a simulated domain file") from None

    def xml(self, name, inactive=False):
        with self._sim(f"read domain[{name}]", write=False, scope=name) as sim:
            dom = self._domain(sim.conn, name)
            if inactive or not dom.isActive():
                return dom.XMLDesc(_INACTIVE if inactive else 0)
            return sim.shown(name, sim.live_xml(dom))

    def graphics(self, name):
        # Read-only unless the port must be given now (a domain started by
        # another tool than start()): then the file records it.
        for write in (False, True):
            with self._sim(f"read console of domain[{name}]", write=write, scope=name) as sim:
                dom = self._domain(sim.conn, name)
                if not dom.isActive():
                    raise HypervisorError(f"domain[{name}] is not running or has no console")
                g = ET.fromstring(sim.live_xml(dom)).find("devices/graphics")
                if g is None:
                    raise HypervisorError(f"domain[{name}] is not running or has no console")
                if write or name in sim.ports:
                    return g.get("type"), sim.port(name)

    # ------------------------------------------------------------ emulated devices

    def attach_disk(self, name, xml, live=True):
        disk = _parse_device(xml, "disk")
        target = _target(disk)

        def add(devices):
            if any(_target(d) == target for d in devices.findall("disk")):
                raise HypervisorError(f"cannot attach disk to domain[{name}]: "
                                      f"target {target} already exists")
            devices.append(copy.deepcopy(disk))      # one copy per tree edited

        self._edit(f"attach disk to domain[{name}]", name, live, add)

    def detach_disk(self, name, xml, live=True):
        target = _target(_parse_device(xml, "disk"))

        def remove(devices):
            for d in devices.findall("disk"):
                if _target(d) == target and d.get("device", "disk") == "disk":
                    devices.remove(d)
                    return
            raise HypervisorError(f"cannot detach disk from domain[{name}]: "
                                  f"disk {target} not found")

        self._edit(f"detach disk from domain[{name}]", name, live, remove)

    def change_media(self, name, cdrom_xml):
        new = _parse_device(cdrom_xml, "disk")
        target = _target(new)
        path = media_path(new)

        def swap(devices):
            for d in devices.findall("disk"):
                if d.get("device") == "cdrom" and _target(d) == target:
                    set_media(d, path)
                    return
            raise HypervisorError(f"cannot change cdrom media of domain[{name}]: "
                                  f"no cdrom drive {target}")

        self._edit(f"change cdrom media of domain[{name}]", name, True, swap)

    def _edit(self, what, name, live, change):
        """Apply ``change(devices)`` to the definition, and to the live XML
        when ``live`` and running (as AFFECT_CONFIG [| AFFECT_LIVE] would)."""
        with self._sim(what, scope=name) as sim:
            dom = self._domain(sim.conn, name)
            active = dom.isActive()
            if dom.isPersistent():
                config = ET.fromstring(dom.XMLDesc(_INACTIVE))
                change(config.find("devices"))
                sim.conn.defineXML(_tostring(config))   # libvirt validates the result
            if live and active:
                running = ET.fromstring(sim.live_xml(dom))
                change(running.find("devices"))
                sim.live[name] = _tostring(running)

    # ------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _scoped(self, scope):
        """Make the base class's _session() open only ``scope``."""
        outer = getattr(self._tls, "scope", _ALL)
        self._tls.scope = scope
        try:
            yield
        finally:
            self._tls.scope = outer

    @contextlib.contextmanager
    def _session(self, what, write=True):
        with self._sim(what, write, getattr(self._tls, "scope", _ALL)) as sim:
            yield sim.conn

    @contextlib.contextmanager
    def _locked(self, what, write):
        """The host lock (exclusive to change, shared to read), with the
        directory laid out (and an old node.xml split) first."""
        try:
            try:
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:       # no directory yet (the only time it is made)
                os.makedirs(self.directory, exist_ok=True)
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise HostUnreachable(f"cannot {what}: {e}") from None
        try:
            ready = os.path.exists(self.state_file) and not os.path.exists(self._old_node)
            fcntl.flock(lock_fd, fcntl.LOCK_EX if write or not ready else fcntl.LOCK_SH)
            if not ready:
                self._lay_out(what)
            yield
        finally:
            os.close(lock_fd)           # closing drops the flock

    @contextlib.contextmanager
    def _sim(self, what, write=True, scope=_ALL):
        """Lock, load ``scope`` (a domain name, _HOST or _ALL), yield a _Node,
        write back what changed (even after a failure: the files must hold
        whatever state the test driver reached)."""
        with self._locked(what, write):
            node = self._load(what, scope)
            reusable = False
            try:
                yield node
            except libvirt.libvirtError as e:
                self._save(node, what, write, quiet=True)
                raise HypervisorError(f"cannot {what}: {describe(e)}") from None
            except BaseException:
                self._save(node, what, write, quiet=True)
                raise
            else:
                self._save(node, what, write)
                # Live edits exist only in the file, not in this connection.
                reusable = not node.live and not node.broken
            finally:
                key = node.key() if reusable else None
                if key:
                    _checkin(key, node)
                else:
                    node.close()

    def _save(self, node, what, write, quiet=False):
        """Write back after a changing operation. After a failed one too
        (``quiet``: the operation's own error is the one to report)."""
        if not write:
            return
        try:
            self._store(node)
        except (libvirt.libvirtError, OSError) as e:
            node.broken = True          # the files may not match the connection
            if not quiet:
                raise HypervisorError(f"cannot {what}: cannot save the simulated host "
                                      f"{self.directory}: {describe(e)}") from None
        finally:
            node.sync_dirs()

    # ------------------------------------------------------------ loading

    def _unusable(self, what, error):
        return HostUnreachable(f"cannot {what}: simulated host {self.directory} "
                               f"is unusable: {describe(error)}")

    def _load(self, what, scope):
        if scope is _HOST:
            return _Node(self, self._open(what, self.state_file), {})
        if scope is _ALL:
            return self._load_all(what)
        name, wanted_uuid = scope if isinstance(scope, tuple) else (scope, None)
        path = self._file(name)
        record = self._record(path, what)
        if record is None:
            # A new domain: on host.xml, unless its uuid is another domain's,
            # whose file then lets libvirt refuse it as a real host would.
            other = self._uuid_owner(wanted_uuid, path, what) if wanted_uuid else None
            if other is None:
                return _Node(self, self._open(what, self.state_file), {})
            record, path = other, other.path
        node = _checkout(path, record.generation)
        if node is not None:
            return node
        conn = self._open(what, path)
        try:
            if record.pending is not None:
                conn.defineXML(record.pending)
        except libvirt.libvirtError as e:
            conn.close()
            raise self._unusable(what, e) from None
        return _Node(self, conn, {record.name: record})

    def _load_all(self, what):
        """Every domain in one connection (one node file made for it)."""
        records = {}
        for path in self._domain_files(what):
            record = self._record(path, what)
            if record is not None:
                records[record.name] = record
        try:
            with open(self.state_file, encoding="utf-8") as f:
                host = f.read()
        except OSError as e:
            raise self._unusable(what, e) from None
        head, sep, _ = host.rpartition("</node>")
        if not sep:
            raise self._unusable(what, f"{self.state_file} is not a node file")
        text = head + "".join(r.domain_xml() + "\n" for r in records.values()) + "</node>\n"
        tmp = os.path.join(self.directory, f".all.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            _write_file(tmp, text)
            conn = self._open(what, tmp)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        try:
            for r in records.values():
                if r.pending is not None:
                    conn.defineXML(r.pending)
        except libvirt.libvirtError as e:
            conn.close()
            raise self._unusable(what, e) from None
        return _Node(self, conn, records)

    def _open(self, what, path):
        try:
            return libvirt.open("test://" + urllib.parse.quote(path))
        except libvirt.libvirtError as e:
            raise self._unusable(what, e) from None

    def _record(self, path, what):
        """The domain file at ``path`` (None if there is none)."""
        try:
            return _Record.read(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise self._unusable(what, f"{path}: {describe(e)}") from None

    def _domain_files(self, what):
        try:
            return sorted(e.path for e in os.scandir(self._domains)
                          if e.name.endswith(".xml") and not e.name.startswith("."))
        except OSError as e:
            raise self._unusable(what, e) from None

    def _file(self, name):
        """The file of domain ``name`` (which need not exist)."""
        quoted = urllib.parse.quote(name, safe="")
        if quoted.startswith("."):
            quoted = "%2E" + quoted[1:]
        if len(quoted) > 200:           # a file name has at most 255 bytes
            quoted = "%%" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self._domains, quoted + ".xml")

    def _definition_scope(self, xml):
        """What defining ``xml`` must load: the domain of that name (and the
        owner of its uuid), or nothing when libvirt will refuse it anyway."""
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            return _HOST
        name = root.findtext("name")
        if root.tag != "domain" or not name:
            return _HOST
        return name, _uuid_key(root.findtext("uuid"))

    def _uuid_owner(self, key, path, what):
        """The record of another domain with uuid ``key``, if there is one:
        the domain named after that uuid (as the backend names them all), or
        the one D/uuids/<key> points to (any other domain has a link there)."""
        candidates = [self._file(key)]
        with contextlib.suppress(OSError):
            candidates.append(os.path.join(self._domains,
                                           os.readlink(os.path.join(self._uuids, key))))
        for other in candidates:
            if other != path:
                record = self._record(other, what)
                if record is not None and _uuid_key(record.uuid) == key:
                    return record
        return None

    # ------------------------------------------------------------ storing

    def _store(self, node):
        """Write every domain of the connection whose file would change, and
        remove the files of the loaded domains that are gone."""
        present = set()
        for dom in node.conn.listAllDomains():
            name = dom.name()
            present.add(name)
            old = node.records.get(name)
            if dom.isActive():
                current = dom.XMLDesc(0)
                xml = _strip_id(node.live.get(name) or current)   # ids: ours, in the header
                persistent = dom.isPersistent()
                pending = dom.XMLDesc(_INACTIVE) if persistent else None
                if pending is not None and name not in node.live \
                        and pending == strip_domain_id(current):
                    pending = None      # nothing pending: the definition is the live XML
                runstate = _RUNSTATES.get(dom.state()[0], _RUNNING)
                domid = old.domid if old is not None and old.active and old.domid \
                    else self._next_domid(node)
                transient = not persistent
            else:
                xml, runstate, pending, domid, transient = \
                    dom.XMLDesc(0), _SHUTOFF, None, None, False
            record = _Record(self._file(name), name, dom.UUIDString(), runstate, transient,
                             node.ports.get(name), domid, xml, pending)
            if old is not None and old.body == record.body:
                continue
            record.generation = uuid.uuid4().hex
            _write_file(record.path, record.text(), node)
            node.records[name] = record
            if old is None:
                self._link_uuid(record, node)
        for name in [n for n in node.records if n not in present]:
            gone = node.records.pop(name)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(gone.path)
                node.dirty.add(self._domains)
            self._unlink_uuid(gone, node)
            port = node.ports.pop(name, None)
            if port is not None:
                self._free_port(port)

    def _link_uuid(self, record, node):
        if _uuid_key(record.uuid) == record.name:
            return                      # found by its name (a symlink costs ~0.3 ms)
        link = os.path.join(self._uuids, _uuid_key(record.uuid))
        tmp = os.path.join(self._uuids, f".{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.path.basename(record.path), tmp)
        os.replace(tmp, link)
        node.dirty.add(self._uuids)

    def _unlink_uuid(self, record, node):
        if _uuid_key(record.uuid) == record.name:
            return
        link = os.path.join(self._uuids, _uuid_key(record.uuid))
        with contextlib.suppress(OSError):
            if os.readlink(link) == os.path.basename(record.path):
                os.unlink(link)
                node.dirty.add(self._uuids)

    def _take_port(self):
        """The smallest free console port of the host, now taken."""
        try:
            fd = os.open(self._ports, os.O_RDWR)
        except FileNotFoundError:
            self._rebuild_ports()
            fd = os.open(self._ports, os.O_RDWR)
        try:
            used = _read_all(fd)
            i = used.find(b"0")
            if i < 0:
                i = len(used)
            os.pwrite(fd, b"1", i)
            if DURABLE:
                os.fsync(fd)
        finally:
            os.close(fd)
        return FIRST_PORT + i

    def _free_port(self, port):
        i = port - FIRST_PORT
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(self._ports, os.O_RDWR)
            try:
                if 0 <= i < os.fstat(fd).st_size:
                    os.pwrite(fd, b"0", i)
            finally:
                os.close(fd)

    def _rebuild_ports(self, ports=None):
        """Write the port map from ``ports`` or from the domain files."""
        if ports is None:
            ports = []
            for path in self._domain_files("rebuild the console ports"):
                record = self._record(path, "rebuild the console ports")
                if record is not None and record.port is not None:
                    ports.append(record.port)
        used = bytearray(b"0" * (max(ports, default=FIRST_PORT - 1) - FIRST_PORT + 1))
        for p in ports:
            if p >= FIRST_PORT:
                used[p - FIRST_PORT] = ord("1")
        _write_file(self._ports, bytes(used))

    def _next_domid(self, node):
        """A new domain id, unique on the host (real hosts count up too)."""
        fd = os.open(self._domid, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            text = _read_all(fd).strip()
            domid = (int(text) if text.isdigit() else 0) + 1
            os.pwrite(fd, b"%20d\n" % domid, 0)
        finally:
            os.close(fd)
        return domid

    # ------------------------------------------------------------ layout

    def _lay_out(self, what):
        """Under the exclusive lock: the directories, host.xml, and the
        split of an old single node file."""
        try:
            os.makedirs(self._domains, exist_ok=True)
            os.makedirs(self._uuids, exist_ok=True)
            if os.path.exists(self._old_node):
                self._migrate(what)
            if not os.path.exists(self.state_file):
                _write_file(self.state_file, _render_host(self.capacity()))
        except OSError as e:
            raise HostUnreachable(f"cannot {what}: simulated host {self.directory} "
                                  f"is unusable: {describe(e)}") from None

    def _migrate(self, what):
        """Split D/node.xml (every domain in one node file, console ports in
        <zs:port>, pending definitions in <zs:definition>) into domain files."""
        try:
            extras = ET.parse(self._old_node).getroot()
        except ET.ParseError as e:
            raise self._unusable(what, e) from None
        conn = self._open(what, self._old_node)
        node = _Node(self, conn, {})
        try:
            for el in extras.findall(f"{{{ZS_NS}}}definition"):
                conn.defineXML(el.text)
            names = {d.name() for d in conn.listAllDomains()}
            for el in extras.findall(f"{{{ZS_NS}}}port"):
                if el.get("domain") in names:
                    node.ports[el.get("domain")] = int(el.get("port"))
            # A half-done earlier split is done again from the start.
            for d in (self._domains, self._uuids):
                for entry in os.scandir(d):
                    os.unlink(entry.path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._domid)
            self._store(node)
        except libvirt.libvirtError as e:
            raise self._unusable(what, e) from None
        finally:
            node.close()
        self._rebuild_ports(list(node.ports.values()))
        if not os.path.exists(self.state_file):
            _write_file(self.state_file, _render_host(self.capacity()))
        node.sync_dirs()
        os.unlink(self._old_node)


class _Record:
    """One domain file: our header, then the domain as the test driver reads it."""

    __slots__ = ("body", "domid", "generation", "name", "path", "pending", "port",
                 "runstate", "transient", "uuid", "xml")

    def __init__(self, path, name, uuid_, runstate, transient, port, domid, xml, pending,
                 generation=None, body=None):
        self.path, self.name, self.uuid = path, name, uuid_
        self.runstate, self.transient, self.port, self.domid = runstate, transient, port, domid
        self.xml, self.pending, self.generation = xml, pending, generation
        self.body = body if body is not None else self._render_body()

    @property
    def active(self):
        return self.runstate in _ACTIVE

    def _render_body(self):
        attrs = [("name", self.name), ("uuid", self.uuid), ("runstate", self.runstate)]
        if self.transient:
            attrs.append(("transient", "yes"))
        if self.port is not None:
            attrs.append(("port", self.port))
        if self.domid is not None:
            attrs.append(("id", self.domid))
        header = " ".join(f"{k}='{_attr(v)}'" for k, v in attrs)
        out = [f"  <zs:domain {header}/>", self.domain_xml()]
        if self.pending is not None:
            out.append(f"  <zs:definition>{escape(self.pending)}</zs:definition>")
        out.append("</node>")
        return "\n".join(out) + "\n"

    def domain_xml(self):
        """The domain element as the test driver loads it (run state marked)."""
        marks = f"<test:runstate xmlns:test='{TEST_NS}'>{self.runstate}</test:runstate>"
        if self.transient:
            marks += f"<test:transient xmlns:test='{TEST_NS}'/>"
        head, sep, _ = self.xml.rstrip().rpartition("</domain>")
        if not sep:
            raise ValueError("no <domain> element")
        return head + marks + "</domain>"

    def text(self):
        return f"{_PREFIX}{self.generation}{_MIDDLE}{self.body}"

    @classmethod
    def read(cls, path):
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise FileNotFoundError(path)   # an unsynced new file a crash left empty
        text = data.decode("utf-8")
        m = _HEADER.match(text)
        if not m:
            raise ValueError("not a simulated domain file")
        attrs = {k: unescape(v, _UNESCAPE) for k, v in _ATTR.findall(m.group(2))}
        start = text.find("<domain", m.end())
        end = text.rfind("</domain>")
        if start < 0 or end < start:
            raise ValueError("no <domain> element")
        marks = text.rfind("<test:runstate", start, end)
        pending = _PENDING.search(text, end)
        try:
            return cls(path, attrs["name"], attrs["uuid"], int(attrs["runstate"]),
                       attrs.get("transient") == "yes",
                       int(attrs["port"]) if "port" in attrs else None,
                       int(attrs["id"]) if "id" in attrs else None,
                       text[start:marks if marks >= 0 else end] + "</domain>",
                       unescape(pending.group(1)) if pending else None,
                       generation=m.group(1), body=text[m.end(1) + len(_MIDDLE):])
        except KeyError as e:
            raise ValueError(f"no {e.args[0]} in the header") from None


_HEAD_BYTES = 2048             # holds the header line of any domain with a name of usual length
_PREFIX = f"<node xmlns:zs='{ZS_NS}'>\n  <zs:generation>"
_MIDDLE = "</zs:generation>\n"
_HEADER = re.compile(r"<node xmlns:zs='[^']*'>\n  <zs:generation>([0-9a-f]{32})"
                     r"</zs:generation>\n  <zs:domain ([^>]*)/>\n")
_ATTR = re.compile(r"(\w+)='([^']*)'")
_PENDING = re.compile(r"<zs:definition>(.*?)</zs:definition>", re.DOTALL)
_DOMAIN_ID = re.compile(r"^(<domain\b[^>]*?)\s+id=(['\"])-?\d+\2")
_ESCAPE = {"'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_UNESCAPE = {v: k for k, v in _ESCAPE.items()}


class _Node:
    """One opened scope of a simulated host: the connection, the domain files
    it was loaded from (and has written since), and our own bookkeeping."""

    def __init__(self, driver, conn, records):
        self.driver = driver
        self.conn = conn
        self.records = records      # domain name -> _Record, as on disk
        self.ports = {n: r.port for n, r in records.items() if r.port is not None}
        self.live = {}              # domain name -> live XML edited in this session
        self.broken = False         # a write failed: the files may not match
        self.dirty = set()          # directories to fsync (DURABLE)

    def key(self):
        """The cache key of a connection holding exactly one domain file's state."""
        if len(self.records) != 1:
            return None
        (record,) = self.records.values()
        return record.path if record.generation else None

    def close(self):
        with contextlib.suppress(libvirt.libvirtError):
            self.conn.close()

    def sync_dirs(self):
        dirty, self.dirty = self.dirty, set()
        if DURABLE:
            for d in dirty:
                fd = os.open(d, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def live_xml(self, dom):
        return self.live.get(dom.name()) or dom.XMLDesc(0)

    def port(self, name):
        """The domain's console port, given at its first start and kept."""
        if name not in self.ports:
            self.ports[name] = self.driver._take_port()
        return self.ports[name]

    def shown(self, name, xml):
        """The live XML as a real host shows it: its console port and the
        domain's host-wide id."""
        record = self.records.get(name)
        if record is not None and record.domid is not None:
            xml = _DOMAIN_ID.sub(rf"\g<1> id='{record.domid}'", xml, count=1)
        if name not in self.ports:
            return xml
        root = ET.fromstring(xml)
        for g in root.findall("devices/graphics"):
            g.set("port", str(self.ports[name]))
        return _tostring(root)


# Reusing a connection: opening the test driver on a domain file parses and
# starts that domain (about 0.4 ms). A process keeps the connections of its
# recent operations, one per domain file, and reuses one when its file still
# carries the generation that connection wrote or read.
_CACHE = collections.OrderedDict()  # domain file -> (pid, _Node)
_CACHE_LOCK = threading.Lock()


def _checkout(path, generation):
    """The cached state of ``path`` if it is this process's and still current."""
    with _CACHE_LOCK:
        pid, node = _CACHE.pop(path, (None, None))
    if node is None:
        return None
    if pid == os.getpid() and node.records and \
            next(iter(node.records.values())).generation == generation:
        return node
    if pid == os.getpid():
        node.close()
    return None


def _checkin(path, node):
    evicted = []
    with _CACHE_LOCK:
        old = _CACHE.pop(path, None)
        if old is not None:
            evicted.append(old)
        _CACHE[path] = (os.getpid(), node)
        while len(_CACHE) > CACHE_SIZE:
            evicted.append(_CACHE.popitem(last=False)[1])
    for pid, stale in evicted:
        if pid == os.getpid() and stale is not node:
            stale.close()


def forget_connections():
    """Close this process's cached connections (tests)."""
    with _CACHE_LOCK:
        entries = list(_CACHE.values())
        _CACHE.clear()
    for pid, node in entries:
        if pid == os.getpid():
            node.close()


def _write_file(path, data, node=None):
    """Replace ``path`` atomically (tmp + rename; fsync'ed only if DURABLE)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if DURABLE:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if node is not None:
        node.dirty.add(directory)


def _read_all(fd):
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 16, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _render_host(capacity):
    cpus = int(capacity["cpuNum"])
    kib = int(capacity["memoryBytes"]) // 1024
    return (f"<node xmlns:zs='{ZS_NS}'>\n"
            f"  <cpu><nodes>1</nodes><sockets>1</sockets><cores>{cpus}</cores>"
            f"<threads>1</threads><active>{cpus}</active><mhz>2400</mhz>"
            f"<model>x86_64</model></cpu>\n"
            f"  <memory>{kib}</memory>\n"
            f"</node>\n")


def _uuid_key(text):
    """A uuid as 32 lower-case hex digits, or None when it is not one."""
    key = (text or "").strip().replace("-", "").lower()
    return key if re.fullmatch(r"[0-9a-f]{32}", key) else None


def _attr(value):
    return escape(str(value), _ESCAPE)


def _strip_id(xml):
    """A domain's XML without its runtime id (libvirt's or an edited copy's)."""
    return _DOMAIN_ID.sub(r"\1", xml, count=1)


def _parse_device(xml, tag):
    try:
        el = ET.fromstring(xml)
    except ET.ParseError as e:
        raise HypervisorError(f"invalid device XML: {e}") from None
    if el.tag != tag:
        raise HypervisorError(f"invalid device XML: expected <{tag}>, got <{el.tag}>")
    return el


def _target(disk):
    t = disk.find("target")
    if t is None or not t.get("dev"):
        raise HypervisorError("invalid disk XML: no <target dev=...>")
    return t.get("dev")


def _tostring(el):
    return ET.tostring(el, encoding="unicode")
