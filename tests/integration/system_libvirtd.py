"""The machine's own libvirtd (qemu:///system) without systemd: start, stop, restart.

Shared by the integration fixture (conftest.py), the libvirtd-restart test
and the agent benchmark (tests/perf/bench_agent.py); no pytest in here, a
failure is a DaemonError.

The system daemon needs the ``libvirt-qemu`` user (and group) and the ``kvm``
group, /var/log/libvirt and /var/run/libvirt, then ``virtlogd -d`` and
``libvirtd -d``. Only processes started here are ever stopped, by the pid in
their pid files.

/dev/kvm gets the owner and mode a udev rule gives it on Debian (root:kvm
0660) when the device is root-only: otherwise libvirtd, which probes QEMU as
libvirt-qemu, finds its capability cache stale at every call and each domain
start (or daemon start) costs seconds of re-probing. ``restore_kvm`` puts the
original mode back.
"""

import contextlib
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time

from tests.waiting import alive

BINARIES = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img")
LIBVIRTD_PID = "/var/run/libvirtd.pid"
VIRTLOGD_PID = "/var/run/virtlogd.pid"
SYSTEM_URI = "qemu:///system"
KVM = "/dev/kvm"


class DaemonError(Exception):
    pass


def unavailable():
    """Why the system daemon can not be used here, or None."""
    if os.geteuid() != 0:
        return "the system libvirtd needs root"
    missing = [b for b in BINARIES if not shutil.which(b)]
    if missing:
        return f"not installed: {', '.join(missing)}"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "the libvirt Python binding is not installed"
    return None


def running(pidfile, name):
    """The pid in ``pidfile`` if that process is alive and is ``name``."""
    try:
        pid = int(open(pidfile).read().strip())
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == name else None


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise DaemonError(f"timed out after {timeout} s waiting for {what}")


def connectable():
    import libvirt

    import backend.hypervisor.driver  # noqa: F401  (keeps libvirt from printing errors)

    try:
        libvirt.open(SYSTEM_URI).close()
        return True
    except libvirt.libvirtError:
        return False


def prepare():
    """Accounts, directories and /dev/kvm; returns what ``restore_kvm`` needs."""
    _ensure_accounts()
    os.makedirs("/var/log/libvirt", exist_ok=True)
    os.makedirs("/var/run/libvirt", exist_ok=True)
    return _open_kvm_to_group()


def start_daemons(started):
    """virtlogd and libvirtd, each started unless it runs; the names of those
    started here are appended to ``started`` as they start (so a failure half
    way still tells what to stop). The daemon accepts connections on return."""
    if not running(VIRTLOGD_PID, "virtlogd"):
        _start("virtlogd", VIRTLOGD_PID)
        started.append("virtlogd")
    if not running(LIBVIRTD_PID, "libvirtd"):
        _start("libvirtd", LIBVIRTD_PID)
        started.append("libvirtd")
    wait_for(connectable, 15, f"{SYSTEM_URI} to accept connections")


def stop_daemons(names):
    """Stop the daemons ``start_daemons`` started (libvirtd first): whichever
    process runs under that name now, so a libvirtd restarted meanwhile goes too."""
    for name, pidfile in (("libvirtd", LIBVIRTD_PID), ("virtlogd", VIRTLOGD_PID)):
        if name in names:
            pid = running(pidfile, name)
            if pid:
                stop(pid)


def stop(pid, timeout=15):
    """SIGTERM, wait until gone; SIGKILL after ``timeout`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop_libvirtd():
    """Stop the running libvirtd (its domains keep running); returns its pid."""
    pid = running(LIBVIRTD_PID, "libvirtd")
    if pid is None:
        raise DaemonError("libvirtd is not running")
    stop(pid)
    if alive(pid):
        raise DaemonError(f"libvirtd[{pid}] did not stop")
    return pid


def start_libvirtd():
    """``libvirtd -d`` and wait until ``virsh -c qemu:///system list`` works; returns
    its pid. Connections this process had cached in the driver are dropped (they
    died with the old daemon)."""
    _start("libvirtd", LIBVIRTD_PID)
    wait_for(lambda: subprocess.run(["virsh", "-c", SYSTEM_URI, "list"], capture_output=True,
                                    timeout=30).returncode == 0,
             15, f"{SYSTEM_URI} to answer virsh list")
    from backend.hypervisor.driver import close_all

    close_all()
    return running(LIBVIRTD_PID, "libvirtd")


def ensure_libvirtd():
    """A running, connectable libvirtd, whatever happened before (a test's
    finally): started again when it is not running."""
    if not running(LIBVIRTD_PID, "libvirtd"):
        start_libvirtd()
    wait_for(connectable, 15, f"{SYSTEM_URI} to accept connections")


def restore_kvm(saved):
    if saved is not None:
        mode, gid = saved
        with contextlib.suppress(OSError):
            os.chown(KVM, -1, gid)
            os.chmod(KVM, mode)


def _start(cmd, pidfile):
    subprocess.run([cmd, "-d"], check=True)
    return wait_for(lambda: running(pidfile, cmd), 15, f"{cmd} to start")


def _ensure_accounts():
    try:
        grp.getgrnam("kvm")
    except KeyError:
        subprocess.run(["groupadd", "--system", "kvm"], check=True)
    try:
        grp.getgrnam("libvirt-qemu")
    except KeyError:
        subprocess.run(["groupadd", "--system", "libvirt-qemu"], check=True)
    try:
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        subprocess.run(["useradd", "--system", "--gid", "libvirt-qemu", "--groups", "kvm",
                        "--home-dir", "/var/lib/libvirt", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "libvirt-qemu"], check=True)


def _open_kvm_to_group():
    """Make /dev/kvm root:kvm 0660 if it is closed to the kvm group; return
    the (mode, gid) to restore, or None when nothing was changed."""
    try:
        st = os.stat(KVM)
    except OSError:
        return None
    kvm_gid = grp.getgrnam("kvm").gr_gid
    if st.st_gid == kvm_gid and st.st_mode & 0o060 == 0o060:
        return None
    os.chown(KVM, -1, kvm_gid)
    os.chmod(KVM, stat.S_IMODE(st.st_mode) | 0o660)
    return stat.S_IMODE(st.st_mode), st.st_gid
