"""Integration fixtures: the machine's own libvirtd, started only if needed.

The system daemon runs here without systemd (DESIGN.md): it needs the
``libvirt-qemu`` user (and group) and the ``kvm`` group, /var/log/libvirt and
/var/run/libvirt, then ``virtlogd -d`` and ``libvirtd -d``. This fixture does
exactly that, leaves alone a daemon somebody else started, and stops only the
processes it started itself (by the pid in their pid files).

It also gives /dev/kvm the owner and mode a udev rule gives it on Debian
(root:kvm 0660) when the device is root-only: otherwise libvirtd, which
probes QEMU as libvirt-qemu, finds its capability cache stale at every call
and each domain start costs ~4 s of re-probing. The original mode is put back
at the end.
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

import pytest

BINARIES = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img")
LIBVIRTD_PID = "/var/run/libvirtd.pid"
VIRTLOGD_PID = "/var/run/virtlogd.pid"
SYSTEM_URI = "qemu:///system"
KVM = "/dev/kvm"


def _running(pidfile, name):
    """The pid in ``pidfile`` if that process is alive and is ``name``."""
    try:
        pid = int(open(pidfile).read().strip())
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == name else None


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


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


def _start(cmd, pidfile, name):
    subprocess.run([cmd, "-d"], check=True)
    return _wait_for(lambda: _running(pidfile, name), 15, f"{name} to start")


def _stop(pid):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _connectable():
    import libvirt

    try:
        libvirt.open(SYSTEM_URI).close()
        return True
    except libvirt.libvirtError:
        return False


@pytest.fixture(scope="session")
def libvirtd():
    """The system libvirtd, running; yields its URI."""
    if os.geteuid() != 0:
        pytest.skip("the system libvirtd needs root")
    missing = [b for b in BINARIES if not shutil.which(b)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    pytest.importorskip("libvirt")
    import backend.hypervisor.driver  # noqa: F401  (keeps libvirt from printing errors)

    _ensure_accounts()
    os.makedirs("/var/log/libvirt", exist_ok=True)
    os.makedirs("/var/run/libvirt", exist_ok=True)
    kvm_restore = _open_kvm_to_group()
    started = []
    try:
        if not _running(VIRTLOGD_PID, "virtlogd"):
            started.append(_start("virtlogd", VIRTLOGD_PID, "virtlogd"))
        if not _running(LIBVIRTD_PID, "libvirtd"):
            started.append(_start("libvirtd", LIBVIRTD_PID, "libvirtd"))
        _wait_for(_connectable, 15, f"{SYSTEM_URI} to accept connections")
        yield SYSTEM_URI
    finally:
        from backend.hypervisor.driver import close_all

        close_all()
        for pid in reversed(started):       # libvirtd first, then virtlogd
            _stop(pid)
        if kvm_restore is not None:
            mode, gid = kvm_restore
            with contextlib.suppress(OSError):
                os.chown(KVM, -1, gid)
                os.chmod(KVM, mode)
