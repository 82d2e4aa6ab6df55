"""One libvirt host: the operations services need, with libvirt's errors tamed.

Every method names domains by VM uuid and either succeeds or raises
HypervisorError / HostUnreachable with a one-line message; a libvirtError
never escapes. Its connections come from connections.py (cached per process
and URI); ``close_all``, ``describe``, ``is_connection_lost`` and
``open_connection`` are that module's, named here too for the host agent.
"""

import contextlib
import os
import re
import time
import xml.etree.ElementTree as ET

import libvirt

from .connections import (_daemon_pid, _is_local_uri, _socket_of, acquire, close_all,  # noqa: F401
                          describe, forget, is_connection_lost, open_connection)
from .domain import find_drive, media_path, set_media
from ..i18n import msg
from .errors import HostUnreachable, HypervisorError

MiB = 1024 * 1024

# libvirt's default error handler prints every error to stderr; the backend
# never prints, and every error reaches us as an exception anyway.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

# SPEC §7.2. NOSTATE is only seen for an instant while QEMU is launched.
_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: "Unknown",
    libvirt.VIR_DOMAIN_RUNNING: "Running",
    libvirt.VIR_DOMAIN_BLOCKED: "Running",
    libvirt.VIR_DOMAIN_PAUSED: "Paused",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "Paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "Stopped",
    libvirt.VIR_DOMAIN_SHUTOFF: "Stopped",
    libvirt.VIR_DOMAIN_CRASHED: "Crashed",
}

_AFFECT_LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
_AFFECT_CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG
# Eject even a tray the guest has locked, as an operator detaching an ISO expects.
_MODIFY_FORCE = libvirt.VIR_DOMAIN_DEVICE_MODIFY_FORCE
_UNDEFINE_ALL = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                 | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                 | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
def _retry_tray(action, seconds=20.0):
    """QEMU refuses a media change while the tray is closed and locked ("Tray of
    device ... is not open"): it asks the guest to open it, and the guest (or
    the BIOS, reading the disc while it looks for something to boot) lets go
    some moments later."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except libvirt.libvirtError as e:
            if "Tray of device" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class HostDriver:
    """A real libvirt host (``qemu:///system``, ``qemu+ssh://root@ip/system``).

    ``fs_root`` is where the host's filesystem is seen from this machine: ''
    for a real host (paths are used as they are). ``state_file`` is the node
    file of a simulated host (None here).
    """

    def __init__(self, uri, fs_root="", state_file=None):
        self.uri = uri
        self.fs_root = fs_root or ""
        self.state_file = state_file

    def __repr__(self):
        return f"{type(self).__name__}({self.uri!r})"

    # ------------------------------------------------------------ host

    def check(self):
        """Capacity and identity of the host; HostUnreachable if it can't be used."""
        try:
            with self._session(msg("connect"), write=False) as conn:
                info = conn.getInfo()
                return {"cpuNum": int(info[2]),
                        "memoryBytes": _memory_bytes(conn, info),
                        "hostname": conn.getHostname(),
                        "libvirtVersion": _version(conn.getLibVersion())}
        except HostUnreachable:
            raise
        except HypervisorError as e:
            raise HostUnreachable(e.text) from None

    def domain_type(self):
        """'kvm' when this host's QEMU can use KVM, else 'qemu'."""
        if _is_local_uri(self.uri):
            # libvirt's capabilities claim kvm even when /dev/kvm is closed to
            # the QEMU user; the local check looks at the device itself.
            return _local_domain_type()
        with self._session(msg("read capabilities"), write=False) as conn:
            caps = ET.fromstring(conn.getCapabilities())
        for guest in caps.findall("guest"):
            arch = guest.find("arch")
            if arch is not None and arch.get("name") == "x86_64" \
                    and arch.find("domain[@type='kvm']") is not None:
                return "kvm"
        return "qemu"

    def local_path(self, path):
        """Where a path of the host's filesystem is on this machine."""
        scheme, _, rest = self.uri.partition("://")
        if "+" in scheme or rest.split("/", 1)[0]:
            # qemu+ssh://host/system: its files are on that host. Acting on the same
            # path here would touch this machine's files instead, so refuse.
            raise HypervisorError(msg("the files of the remote host {uri} can not be reached from "
                                      "this machine yet (needs the host agent on that host)",
                                      uri=self.uri))
        clean = os.path.normpath("/" + str(path).lstrip("/"))
        if not self.fs_root:
            socket_path = _socket_of(self.uri)
            if socket_path is None:
                return path
            # A libvirtd of this machine listening on its own socket may run in a mount
            # namespace of its own (a second "host" on one machine): its QEMU sees the
            # files its daemon sees, which /proc/<pid>/root shows us.
            return f"/proc/{_daemon_pid(socket_path, self.uri)}/root" + clean.rstrip("/")
        return self.fs_root.rstrip("/") + clean

    # ------------------------------------------------------------ domains

    def define(self, xml):
        """Define (or redefine) a persistent domain; returns its name."""
        with self._session(msg("define domain")) as conn:
            return conn.defineXML(xml).name()

    def start(self, name, settle=10.0):
        """Start a defined domain; a running one is left alone. One whose guest
        has powered off but whose QEMU is still exiting (libvirt says shutdown,
        for a second or two after the guest's request) is waited for, up to
        ``settle`` seconds, so that the start is not lost on a dying process."""
        with self._session(msg("start domain[{name}]", name=name)) as conn:
            dom = self._domain(conn, name)
            deadline = time.monotonic() + settle
            while dom.isActive() and dom.state()[0] == libvirt.VIR_DOMAIN_SHUTDOWN \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            if not dom.isActive():
                dom.create()

    def stop(self, name, force=False, timeout=60):
        """ACPI shutdown, wait up to ``timeout`` s, then pull the plug.

        ``force`` pulls it at once; so does a paused domain, whose stopped
        vCPUs could never answer the power button. Returns True when the
        guest shut down by itself.
        """
        with self._session(msg("stop domain[{name}]", name=name)) as conn:
            dom = self._domain(conn, name)
            if not dom.isActive():
                return True
            if not force and dom.state()[0] not in (libvirt.VIR_DOMAIN_PAUSED,
                                                    libvirt.VIR_DOMAIN_PMSUSPENDED):
                try:
                    dom.shutdown()
                except libvirt.libvirtError as e:
                    if is_connection_lost(e):
                        raise
                    # Agent-less guests without ACPI refuse; fall through to destroy.
                deadline = time.monotonic() + max(0, timeout)
                while dom.isActive():
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.2)
                else:
                    return True
            _destroy(dom)
            return False

    def reboot(self, name):
        """Reboot in place (QEMU resets; the live definition stays)."""
        with self._session(msg("reboot domain[{name}]", name=name)) as conn:
            self._domain(conn, name).reboot(0)

    def destroy(self, name):
        """Pull the plug; nothing to do if not running or not defined."""
        with self._session(msg("destroy domain[{name}]", name=name)) as conn:
            dom = self._lookup(conn, name)
            if dom is not None:
                _destroy(dom)

    def undefine(self, name):
        """Forget the definition; nothing to do if there is none."""
        with self._session(msg("undefine domain[{name}]", name=name)) as conn:
            dom = self._lookup(conn, name)
            if dom is None or not dom.isPersistent():
                return
            try:
                dom.undefineFlags(_UNDEFINE_ALL)
            except libvirt.libvirtError as e:
                if e.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG,
                                              libvirt.VIR_ERR_NO_SUPPORT):
                    raise
                dom.undefine()          # an older or simpler driver

    def state(self, name):
        """'Running', 'Paused', 'Stopped', 'Crashed' ('Unknown'), or None if absent."""
        with self._session(msg("read state of domain[{name}]", name=name), write=False) as conn:
            dom = self._lookup(conn, name)
            if dom is None:
                return None
            try:
                return _STATES.get(dom.state()[0], "Unknown")
            except libvirt.libvirtError as e:
                if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return None
                raise

    def states(self):
        """{domain name: state} for every domain of the host."""
        with self._session(msg("list domains"), write=False) as conn:
            try:
                stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
                return {dom.name(): _STATES.get(s.get("state.state"), "Unknown")
                        for dom, s in stats}
            except libvirt.libvirtError as e:
                if is_connection_lost(e):
                    raise
            return domain_states(conn)

    def xml(self, name, inactive=False):
        """The domain's XML: live when running (unless ``inactive``), else its definition."""
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        with self._session(msg("read domain[{name}]", name=name), write=False) as conn:
            return self._domain(conn, name).XMLDesc(flags)

    # ------------------------------------------------------------ devices

    def attach_disk(self, name, xml, live=True):
        """Add a disk to the definition, and to the running domain when ``live``."""
        with self._session(msg("attach disk to domain[{name}]", name=name)) as conn:
            dom = self._domain(conn, name)
            dom.attachDeviceFlags(xml, _affect(dom, live))

    def detach_disk(self, name, xml, live=True):
        """Remove a disk (matched by target) from the definition and, when
        ``live``, from the running domain. A live unplug needs the guest's
        cooperation: without a guest OS, QEMU keeps the disk until it answers."""
        with self._session(msg("detach disk from domain[{name}]", name=name)) as conn:
            dom = self._domain(conn, name)
            dom.detachDeviceFlags(xml, _affect(dom, live))

    def change_media(self, name, cdrom_xml):
        """Insert or eject the CD-ROM's media (``cdrom_xml`` from
        domain.cdrom_xml): live when running, and in the definition."""
        new = ET.fromstring(cdrom_xml)
        target = new.find("target").get("dev")
        with self._session(msg("change cdrom media of domain[{name}]", name=name)) as conn:
            dom = self._domain(conn, name)
            if dom.isActive():
                # Live, QEMU only swaps the media: the drive keeps its boot order.
                _retry_tray(lambda: dom.updateDeviceFlags(cdrom_xml, _AFFECT_LIVE | _MODIFY_FORCE))
            if dom.isPersistent():
                # In the definition libvirt replaces the whole drive with the
                # given XML, which would drop its <boot order>: send the
                # defined drive with only its media changed.
                drive = find_drive(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), target)
                if drive is None:
                    raise HypervisorError(msg("cannot change cdrom media of domain[{name}]: no "
                                              "cdrom drive {target}", name=name, target=target))
                set_media(drive, media_path(new))
                dom.updateDeviceFlags(ET.tostring(drive, encoding="unicode"), _AFFECT_CONFIG)

    def graphics(self, name):
        """(protocol, port) of the running domain's console, from the live XML."""
        live = self.xml(name)
        el = ET.fromstring(live)
        g = el.find("devices/graphics")
        if el.get("id") in (None, "-1") or g is None:
            raise HypervisorError(msg("domain[{name}] is not running or has no console", name=name))
        port = int(g.get("port") or -1)
        if port <= 0:
            raise HypervisorError(msg("domain[{name}] has no console port yet", name=name))
        return g.get("type"), port

    # ------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _session(self, what, write=True):
        """A connection for one operation; libvirt errors become ours.

        ``write`` says whether the operation changes the host (the simulator
        takes a shared or an exclusive lock accordingly).
        """
        conn = self._acquire()
        try:
            yield conn
        except libvirt.libvirtError as e:
            if is_connection_lost(e):
                self._forget(conn)
                raise HostUnreachable(msg("cannot {what}: lost the connection to {uri}: {error}",
                                          what=what, uri=self.uri, error=describe(e))) from None
            raise HypervisorError(msg("cannot {what}: {error}",
                                      what=what, error=describe(e))) from None

    def _acquire(self):
        return acquire(self.uri)

    def _forget(self, conn):
        forget(self.uri, conn)

    @staticmethod
    def _lookup(conn, name):
        try:
            return conn.lookupByName(name)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def _domain(self, conn, name):
        dom = self._lookup(conn, name)
        if dom is None:
            raise HypervisorError(msg("no domain[{name}] on host {uri}", name=name, uri=self.uri))
        return dom


def domain_states(conn):
    """{domain name: state} of a connection, one domain at a time (for libvirts
    without getAllDomainStats); a domain gone meanwhile is left out."""
    result = {}
    for dom in conn.listAllDomains():
        try:
            result[dom.name()] = _STATES.get(dom.state()[0], "Unknown")
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
    return result


def _affect(dom, live):
    flags = _AFFECT_CONFIG if dom.isPersistent() else 0
    if live and dom.isActive():
        flags |= _AFFECT_LIVE
    return flags


def _destroy(dom):
    try:
        dom.destroy()
    except libvirt.libvirtError as e:
        if e.get_error_code() not in (libvirt.VIR_ERR_OPERATION_INVALID,
                                      libvirt.VIR_ERR_NO_DOMAIN):
            raise


def _memory_bytes(conn, info):
    # getInfo() sums the NUMA cells' memory, which a machine with hot-added
    # (or lazily onlined) memory under-reports; the node total is /proc/meminfo's.
    try:
        return int(conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)["total"]) * 1024
    except (libvirt.libvirtError, KeyError):
        return int(info[1]) * MiB


def _version(number):
    major, rest = divmod(int(number), 1000000)
    minor, micro = divmod(rest, 1000)
    return f"{major}.{minor}.{micro}"


_ID = re.compile(r"^(<domain\b[^>]*?)\s+id='-?\d+'")


def strip_domain_id(xml):
    """The live XML without its runtime ``id`` attribute (to compare with a definition)."""
    return _ID.sub(r"\1", xml, count=1)


_LOCAL_TYPE = {"at": None, "type": None}
_LOCAL_TYPE_TTL = 30.0


def _local_domain_type():
    """This machine's answer, read again after _LOCAL_TYPE_TTL seconds: the check
    walks the group database, too slow to repeat for each of a thousand VMs in
    one batch, and /dev/kvm's permissions change only when an operator fixes them."""
    from . import domain_type

    now = time.monotonic()
    if _LOCAL_TYPE["at"] is None or now - _LOCAL_TYPE["at"] > _LOCAL_TYPE_TTL:
        _LOCAL_TYPE.update(at=now, type=domain_type())
    return _LOCAL_TYPE["type"]
