"""SimulatedHostDriver: the HostDriver operations on a simulated host, each
one session (session.py) on the host's directory (layout.py).

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

import copy
import json
import os
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import unescape

import libvirt

from ..domain import media_path, set_media
from ..driver import _STATES, HostDriver, describe
from ...i18n import msg
from ..errors import HostUnreachable, HypervisorError
from .layout import _HostDirectory
from .record import _ATTR, _HEAD_BYTES, _HEADER, _INACTIVE, _UNESCAPE, _tostring
from .session import _HOST, _Sessions

DEFAULT_CAPACITY = {"cpuNum": 32, "memoryBytes": 64 * 1024 ** 3}


class SimulatedHostDriver(_Sessions, _HostDirectory, HostDriver):
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
            raise HostUnreachable(msg("cannot read {path}: {error}", path=path, error=e)) from None
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
        with self._sim(msg("define domain"), scope=self._definition_scope(xml)) as sim:
            dom = sim.conn.defineXML(xml)
            name = dom.name()
            try:
                if not dom.isActive():
                    dom.create()
            except libvirt.libvirtError as e:
                raise HypervisorError(msg("cannot start domain[{name}]: {error}",
                                          name=name, error=describe(e))) from None
            sim.port(name)
            return name

    def start(self, name):
        with self._sim(msg("start domain[{name}]", name=name), scope=name) as sim:
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
            raise self._unusable(what, msg("{path}: {error}",
                                           path=path, error=describe(e))) from None
        m = _HEADER.match(head.decode("utf-8", "replace"))
        if m is None:                   # a longer header (a very long name): read it all
            record = self._record(path, what)
            return None if record is None else (record.name, record.runstate)
        attrs = dict(_ATTR.findall(m.group(2)))
        try:
            return unescape(attrs["name"], _UNESCAPE), int(attrs["runstate"])
        except (KeyError, ValueError):
            raise self._unusable(what, msg("{path}: not a simulated domain file",
                                           path=path)) from None

    def xml(self, name, inactive=False):
        with self._sim(msg("read domain[{name}]", name=name), write=False, scope=name) as sim:
            dom = self._domain(sim.conn, name)
            if inactive or not dom.isActive():
                return dom.XMLDesc(_INACTIVE if inactive else 0)
            return sim.shown(name, sim.live_xml(dom))

    def graphics(self, name):
        # Read-only unless the port must be given now (a domain started by
        # another tool than start()): then the file records it.
        for write in (False, True):
            with self._sim(msg("read console of domain[{name}]", name=name), write=write,
                           scope=name) as sim:
                dom = self._domain(sim.conn, name)
                if not dom.isActive():
                    raise HypervisorError(msg("domain[{name}] is not running or has no console",
                                              name=name))
                g = ET.fromstring(sim.live_xml(dom)).find("devices/graphics")
                if g is None:
                    raise HypervisorError(msg("domain[{name}] is not running or has no console",
                                              name=name))
                if write or name in sim.ports:
                    return g.get("type"), sim.port(name)

    # ------------------------------------------------------------ emulated devices

    def attach_disk(self, name, xml, live=True):
        disk = _parse_device(xml, "disk")
        target = _target(disk)

        def add(devices):
            if any(_target(d) == target for d in devices.findall("disk")):
                raise HypervisorError(msg("cannot attach disk to domain[{name}]: target {target} "
                                          "already exists", name=name, target=target))
            devices.append(copy.deepcopy(disk))      # one copy per tree edited

        self._edit(msg("attach disk to domain[{name}]", name=name), name, live, add)

    def detach_disk(self, name, xml, live=True):
        target = _target(_parse_device(xml, "disk"))

        def remove(devices):
            for d in devices.findall("disk"):
                if _target(d) == target and d.get("device", "disk") == "disk":
                    devices.remove(d)
                    return
            raise HypervisorError(msg("cannot detach disk from domain[{name}]: disk {target} not "
                                      "found", name=name, target=target))

        self._edit(msg("detach disk from domain[{name}]", name=name), name, live, remove)

    def change_media(self, name, cdrom_xml):
        new = _parse_device(cdrom_xml, "disk")
        target = _target(new)
        path = media_path(new)

        def swap(devices):
            for d in devices.findall("disk"):
                if d.get("device") == "cdrom" and _target(d) == target:
                    set_media(d, path)
                    return
            raise HypervisorError(msg("cannot change cdrom media of domain[{name}]: no cdrom "
                                      "drive {target}", name=name, target=target))

        self._edit(msg("change cdrom media of domain[{name}]", name=name), name, True, swap)

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


def _parse_device(xml, tag):
    try:
        el = ET.fromstring(xml)
    except ET.ParseError as e:
        raise HypervisorError(msg("invalid device XML: {error}", error=e)) from None
    if el.tag != tag:
        raise HypervisorError(msg("invalid device XML: expected <{tag}>, got <{found}>",
                                  tag=tag, found=el.tag))
    return el


def _target(disk):
    t = disk.find("target")
    if t is None or not t.get("dev"):
        raise HypervisorError(msg("invalid disk XML: no <target dev=...>"))
    return t.get("dev")
