"""A simulated host: libvirt's ``test`` driver, made persistent and private.

``test:///default`` keeps its domains in the memory of one process. A
simulated host instead lives in a directory D:

    D/node.xml    a test-driver <node>: every domain with its run state
                  (<test:runstate>: 1 running, 3 paused, 5 shut off), plus
                  our own elements (namespace ZS_NS, ignored by libvirt):
                  console ports and pending definitions of running domains
    D/node.lock   flock'ed around every operation
    D/fs/         the host's filesystem as seen from here (local_path)
    D/capacity.json  optional {"cpuNum", "memoryBytes", "hostname"}

Every operation takes the lock (shared to read, exclusive to change), opens
``test:///D/node.xml`` (a fresh private state), acts, writes the node file
back atomically (tmp + rename) and closes. So state survives processes, and
processes (or threads) using one host serialise on the lock. (A process may
keep its last connection instead of closing it, and reuse it while the file
still carries the random generation that connection wrote or read: see
_CACHE. Any other writer changes the generation and forces a fresh load.)

What the test driver lacks is emulated so that, from the user's side, the
host behaves like a real one:
- attach/detach of disks and CD-ROM media changes edit the domain XML with
  ElementTree: the definition is redefined through libvirt (which validates
  it) and, for a live change on a running domain, the edited live XML is what
  gets written back;
- a running domain's live XML and its pending definition (a redefinition
  while running, applied at the next start as in QEMU) are both kept;
- consoles get a port (5900 and up, the smallest free on this host) at their
  first start, kept while the domain is defined, shown in the live XML.
"""

import contextlib
import copy
import fcntl
import json
import os
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import libvirt

from .domain import media_path, set_media
from .driver import HostDriver, describe, strip_domain_id
from .errors import HostUnreachable, HypervisorError

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
ZS_NS = "http://zstack.org/simulator/1.0"
FIRST_PORT = 5900
DEFAULT_CAPACITY = {"cpuNum": 32, "memoryBytes": 64 * 1024 ** 3}

_RUNNING, _PAUSED, _SHUTOFF = 1, 3, 5
_INACTIVE = libvirt.VIR_DOMAIN_XML_INACTIVE
# An active domain's libvirt state -> the <test:runstate> that brings it back.
_RUNSTATES = {libvirt.VIR_DOMAIN_PAUSED: _PAUSED,
              libvirt.VIR_DOMAIN_PMSUSPENDED: _PAUSED,
              libvirt.VIR_DOMAIN_CRASHED: libvirt.VIR_DOMAIN_CRASHED}


class SimulatedHostDriver(HostDriver):
    """The HostDriver interface over a simulated host kept in ``directory``."""

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        node = os.path.join(self.directory, "node.xml")
        super().__init__("test://" + urllib.parse.quote(node),
                         fs_root=os.path.join(self.directory, "fs"), state_file=node)
        self._lock_path = os.path.join(self.directory, "node.lock")

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
        result = super().check()
        cap = self.capacity()
        result.update(cpuNum=int(cap["cpuNum"]), memoryBytes=int(cap["memoryBytes"]),
                      hostname=str(cap["hostname"]))
        return result

    def domain_type(self):
        return "kvm"                # nothing runs; look like the KVM host it stands for

    # ------------------------------------------------------------ emulated

    def start(self, name):
        with self._sim(f"start domain[{name}]") as sim:
            dom = self._domain(sim.conn, name)
            if not dom.isActive():
                dom.create()
            sim.port(name)

    def xml(self, name, inactive=False):
        with self._sim(f"read domain[{name}]", write=False) as sim:
            dom = self._domain(sim.conn, name)
            if inactive or not dom.isActive():
                return dom.XMLDesc(_INACTIVE if inactive else 0)
            return sim.with_port(name, sim.live_xml(dom))

    def graphics(self, name):
        # Read-only unless the port must be given now (a domain started by
        # another tool than start()): then the file records it.
        for write in (False, True):
            with self._sim(f"read console of domain[{name}]", write=write) as sim:
                dom = self._domain(sim.conn, name)
                if not dom.isActive():
                    raise HypervisorError(f"domain[{name}] is not running or has no console")
                g = ET.fromstring(sim.live_xml(dom)).find("devices/graphics")
                if g is None:
                    raise HypervisorError(f"domain[{name}] is not running or has no console")
                if write or name in sim.ports:
                    return g.get("type"), sim.port(name)

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
        with self._sim(what) as sim:
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
    def _session(self, what, write=True):
        with self._sim(what, write) as sim:
            yield sim.conn

    @contextlib.contextmanager
    def _sim(self, what, write=True):
        """Lock, load, yield a _Node, write back (even after a failure: the
        node file must hold whatever state the test driver reached)."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise HostUnreachable(f"cannot {what}: {e}") from None
        try:
            exists = os.path.exists(self.state_file)
            fcntl.flock(lock_fd, fcntl.LOCK_EX if write or not exists else fcntl.LOCK_SH)
            node = self._load(what)
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
                reusable = not node.live
            finally:
                if reusable:
                    _checkin(self.state_file, node)
                else:
                    node.conn.close()
        finally:
            os.close(lock_fd)           # closing drops the flock

    def _save(self, node, what, write, quiet=False):
        """Write the node back after a changing operation. After a failed one
        too (``quiet``: the operation's own error is the one to report)."""
        if not write:
            return
        try:
            self._store(node)
        except (libvirt.libvirtError, OSError) as e:
            node.generation = None      # the file may not match the connection
            if not quiet:
                raise HypervisorError(f"cannot {what}: cannot save the simulated host "
                                      f"{self.directory}: {describe(e)}") from None

    def _load(self, what):
        """The host's state: this process's last connection if the file is
        still the one it wrote or read (same generation), else a fresh load."""
        try:
            if not os.path.exists(self.state_file):
                self._write_file(_render(self.capacity(), [], {}, _new_generation()))
            generation = _read_generation(self.state_file)
            node = _checkout(self.state_file, generation)
            if node is not None:
                return node
            extras = ET.parse(self.state_file).getroot()
            conn = libvirt.open(self.uri)
        except (OSError, ET.ParseError, libvirt.libvirtError) as e:
            raise HostUnreachable(f"cannot {what}: simulated host {self.directory} "
                                  f"is unusable: {describe(e)}") from None
        node = _Node(conn, generation)
        for el in extras.findall(f"{{{ZS_NS}}}port"):
            node.ports[el.get("domain")] = int(el.get("port"))
        try:
            # A running domain's pending definition, as QEMU would hold it.
            for el in extras.findall(f"{{{ZS_NS}}}definition"):
                conn.defineXML(el.text)
        except libvirt.libvirtError as e:
            conn.close()
            raise HostUnreachable(f"cannot {what}: simulated host {self.directory} "
                                  f"is unusable: {describe(e)}") from None
        return node

    def _store(self, node):
        entries = []
        for dom in node.conn.listAllDomains():
            name = dom.name()
            state = dom.state()[0]
            if dom.isActive():
                live = node.live_xml(dom)
                pending = dom.XMLDesc(_INACTIVE) if dom.isPersistent() else None
                if pending is not None and pending == strip_domain_id(dom.XMLDesc(0)) \
                        and name not in node.live:
                    pending = None      # nothing pending: the definition is the live XML
                runstate = _RUNSTATES.get(state, _RUNNING)
                entries.append((name, live, runstate, not dom.isPersistent(), pending))
            else:
                entries.append((name, dom.XMLDesc(0), _SHUTOFF, False, None))
        entries.sort(key=lambda e: e[0])
        names = {e[0] for e in entries}
        ports = {n: p for n, p in node.ports.items() if n in names}   # undefined: port freed
        generation = _new_generation()
        self._write_file(_render(self.capacity(), entries, ports, generation))
        node.generation = generation

    def _write_file(self, text):
        tmp = f"{self.state_file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)


class _Node:
    """One opened simulated host: the connection plus our own bookkeeping."""

    def __init__(self, conn, generation):
        self.conn = conn
        self.generation = generation    # of the node file this state matches
        self.ports = {}             # domain name -> console port
        self.live = {}              # domain name -> live XML edited in this session

    def live_xml(self, dom):
        return self.live.get(dom.name()) or dom.XMLDesc(0)

    def port(self, name):
        """The domain's console port, given at its first start and kept."""
        if name not in self.ports:
            used = set(self.ports.values())
            port = FIRST_PORT
            while port in used:
                port += 1
            self.ports[name] = port
        return self.ports[name]

    def with_port(self, name, xml):
        """The live XML showing the console port, as a real host's does."""
        if name not in self.ports:
            return xml
        root = ET.fromstring(xml)
        for g in root.findall("devices/graphics"):
            g.set("port", str(self.ports[name]))
        return _tostring(root)


# Reusing a connection: opening the test driver parses every domain (about
# 0.3 ms each), the bulk of an operation's cost on a busy host. A process
# keeps the connection of its last operation on a host and reuses it when the
# node file still carries the generation that connection matches; any writer
# puts a new random generation at the head of the file.
_CACHE = {}                         # node file -> (pid, _Node)
_CACHE_LOCK = threading.Lock()
_GENERATION = re.compile(r"<zs:generation>([0-9a-f]{32})</zs:generation>")


def _new_generation():
    return uuid.uuid4().hex


def _read_generation(path):
    with open(path, "rb") as f:
        found = _GENERATION.search(f.read(512).decode("utf-8", "replace"))
    return found.group(1) if found else None


def _checkout(path, generation):
    """The cached state of ``path`` if it is this process's and still current."""
    with _CACHE_LOCK:
        pid, node = _CACHE.pop(path, (None, None))
    if node is None:
        return None
    if pid == os.getpid() and generation and node.generation == generation:
        return node
    if pid == os.getpid():
        node.conn.close()
    return None


def _checkin(path, node):
    if not node.generation:
        node.conn.close()
        return
    with _CACHE_LOCK:
        old = _CACHE.get(path)
        _CACHE[path] = (os.getpid(), node)
    if old is not None and old[0] == os.getpid() and old[1] is not node:
        old[1].conn.close()


def _render(capacity, entries, ports, generation):
    cpus = int(capacity["cpuNum"])
    kib = int(capacity["memoryBytes"]) // 1024
    out = [f"<node xmlns:zs='{ZS_NS}'>",
           f"  <zs:generation>{generation}</zs:generation>",
           f"  <cpu><nodes>1</nodes><sockets>1</sockets><cores>{cpus}</cores>"
           f"<threads>1</threads><active>{cpus}</active><mhz>2400</mhz>"
           f"<model>x86_64</model></cpu>",
           f"  <memory>{kib}</memory>"]
    for name, port in sorted(ports.items()):
        out.append(f"  <zs:port domain='{escape(name, {chr(39): '&apos;'})}' port='{port}'/>")
    for name, xml, runstate, transient, pending in entries:
        marks = f"<test:runstate xmlns:test='{TEST_NS}'>{runstate}</test:runstate>"
        if transient:
            marks += f"<test:transient xmlns:test='{TEST_NS}'/>"
        head, _, _ = xml.rstrip().rpartition("</domain>")
        out.append(head + marks + "</domain>")
        if pending is not None:
            out.append(f"  <zs:definition>{escape(pending)}</zs:definition>")
    out.append("</node>")
    return "\n".join(out) + "\n"


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
