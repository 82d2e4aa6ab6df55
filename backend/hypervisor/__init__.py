"""The hypervisor layer: libvirt hosts, domain XML, the simulated host.

    driver_for(host, home)      the HostDriver of a HostVO-like dict
    default_uri(management_ip)  SPEC §7: qemu:///system if local, else qemu+ssh
    domain_type()               'kvm' if this machine's QEMU can use KVM, else 'qemu'
    domain.domain_xml(spec)     the domain XML of a VM (pure)

Importing this package does not import libvirt (the catalogue and one-shot
commands must load without it); driver_for does, on first use.
"""

import grp
import ipaddress
import os
import pwd
import re
import socket

from .errors import HostUnreachable, HypervisorError

__all__ = ["driver_for", "forget_host", "default_uri", "domain_type", "is_local_address",
           "HypervisorError", "HostUnreachable"]

LOCAL_URI = "qemu:///system"
KVM_DEVICE = "/dev/kvm"
QEMU_CONF = "/etc/libvirt/qemu.conf"
# Who libvirtd runs QEMU as by default (Debian, then Fedora/RHEL) without a qemu.conf user.
QEMU_USERS = ("libvirt-qemu", "qemu")


def driver_for(host, home):
    """The driver of a host record: simulated when its libvirtUri is test:..."""
    uri = host.get("libvirtUri") or default_uri(host["managementIp"])
    if uri.startswith("test:"):
        from .simulator import SimulatedHostDriver
        return SimulatedHostDriver(os.path.join(home, "hosts", host["uuid"]))
    from .driver import HostDriver
    return HostDriver(uri, fs_root="")


def forget_host(host, home):
    """A host left the cloud: a simulated host's whole state (domains and
    files) goes with it; a real host keeps its files, which are the operator's."""
    uri = host.get("libvirtUri") or ""
    if uri.startswith("test:"):
        import shutil

        shutil.rmtree(os.path.join(home, "hosts", host["uuid"]), ignore_errors=True)


def default_uri(management_ip, user="root", port=22):
    """``qemu:///system`` for this machine, ``qemu+ssh://<user>@<ip>[:<port>]/system``
    otherwise."""
    if is_local_address(management_ip):
        return LOCAL_URI
    host = str(management_ip).strip()
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass                            # a host name
    port = f":{port}" if port and int(port) != 22 else ""
    return f"qemu+ssh://{user or 'root'}@{host}{port}/system"


def is_local_address(address):
    """True for loopback and for any address (or name) of this machine.

    A name is resolved (getaddrinfo: /etc/hosts, then DNS, which may take
    a while when DNS is unreachable); an IP literal never waits.
    """
    text = str(address or "").strip().strip("[]")
    if not text:
        return False
    if text.lower() == "localhost":
        return True
    try:
        ips = [ipaddress.ip_address(text)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False
        ips = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    return any(ip.is_loopback or _bindable(ip) for ip in ips)


def _bindable(ip):
    # Binding succeeds only to an address configured on this machine (in this
    # network namespace): no need to parse `ip addr`.
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
        return True
    except OSError:
        return False


def domain_type():
    """'kvm' when QEMU started by the system libvirtd can use /dev/kvm, else 'qemu' (TCG).

    Opening /dev/kvm read-write is not enough as root: libvirtd runs QEMU as
    an unprivileged user (qemu.conf ``user``; libvirt-qemu on Debian), and on
    a machine without udev the device stays root-only, so QEMU would die with
    EACCES. The device's owner, group and mode must let that user in.
    """
    try:
        fd = os.open(KVM_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return "qemu"
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if os.geteuid() != 0:
        return "kvm"                    # a session libvirt runs QEMU as ourselves
    user = _qemu_user()
    if user == "root":
        return "kvm"
    if st.st_mode & 0o006 == 0o006:
        return "kvm"
    if user is not None and st.st_uid == user.pw_uid and st.st_mode & 0o600 == 0o600:
        return "kvm"
    gids = _groups(user) if user is not None else _gids_named("kvm")
    return "kvm" if st.st_mode & 0o060 == 0o060 and st.st_gid in gids else "qemu"


_CONF_USER = re.compile(r'^\s*user\s*=\s*"([^"]+)"', re.M)


def _qemu_user():
    """The account QEMU runs as: 'root', a pwd entry, or None (not created yet)."""
    try:
        with open(QEMU_CONF, encoding="utf-8") as f:
            found = _CONF_USER.search(f.read())
    except OSError:
        found = None
    names = [found.group(1)] if found else list(QEMU_USERS)
    for name in names:
        if name in ("root", "+0"):
            return "root"
        try:
            return pwd.getpwuid(int(name[1:])) if name.startswith("+") else pwd.getpwnam(name)
        except (KeyError, ValueError):
            continue
    return None


def _groups(user):
    gids = {user.pw_gid}
    gids.update(g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem)
    return gids


def _gids_named(name):
    # The QEMU user does not exist yet: its package will put it in 'kvm'.
    try:
        return {grp.getgrnam(name).gr_gid}
    except KeyError:
        return set()
