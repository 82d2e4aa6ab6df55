"""Integration fixtures: the machine's own libvirtd, started only if needed.

The system daemon runs here without systemd (DESIGN.md); system_libvirtd.py
does the work (accounts, directories, /dev/kvm, ``virtlogd -d``,
``libvirtd -d``). This fixture leaves alone a daemon somebody else started and
stops at the end only the daemons it started itself: by the pid in their pid
files at that moment, so a libvirtd a test restarted meanwhile (see
test_agent_restart_real.py) is the one stopped. /dev/kvm gets its original mode
back.
"""

import sys
from pathlib import Path

import pytest

from tests.integration import system_libvirtd as daemon


@pytest.fixture(scope="session")
def installed_cli():
    """The installed zstack-cli, for clouds that outlive one test (``cli`` is per test)."""
    cli = Path(sys.executable).parent / "zstack-cli"
    if not cli.exists():
        pytest.skip("zstack-cli is not installed")
    return str(cli)


@pytest.fixture(scope="session")
def libvirtd():
    """The system libvirtd, running; yields its URI."""
    why = daemon.unavailable()
    if why:
        pytest.skip(why)
    kvm_restore = daemon.prepare()
    started = []
    try:
        try:
            daemon.start_daemons(started)
        except daemon.DaemonError as e:
            pytest.fail(str(e))
        yield daemon.SYSTEM_URI
    finally:
        from backend.hypervisor.driver import close_all

        close_all()
        daemon.stop_daemons(started)
        daemon.restore_kvm(kvm_restore)
