"""What guests do by themselves, seen by the host agent on the machine's real
libvirtd (SPEC §12, §10): a guest reboot ends an ISO install's CdRom-first
boot order; a guest power-off shows Stopped within 2 s.

The guests run a few bytes of boot code (guest.py) that reset or power the
machine off at a key press, so the reboot and the power-off really come from
inside the guest (libvirt: "event 'reboot'", "Shutdown Finished after guest
request"). An independent event watcher (events.py) times them; the agent
must have recorded them within 2 s of that moment, as QueryVmInstance /
GetVmBootOrder (the installed command) show.
"""

import shutil
import time

import libvirt
import pytest

from backend.storage.local import image_cache_path
from tests.integration import guest
from tests.integration.agent_cloud import AgentCloud
from tests.integration.events import Watcher
from tests.integration.realhost import boot, domstate, dumpxml, media

pytestmark = pytest.mark.integration

LIMIT = 2.0                         # seconds, SPEC §12


@pytest.fixture(scope="module")
def cloud(libvirtd, installed_cli):
    with AgentCloud(installed_cli, net="10.253.0", dhcp=bool(shutil.which("dnsmasq"))) as c:
        yield c.build()


def boot_order_within(cloud, vm, order, since):
    while True:
        asked = time.monotonic()
        got = cloud.zs("GetVmBootOrder", f"uuid={vm}")["order"]
        if got == order:
            return asked - since
        assert asked - since <= LIMIT, f"GetVmBootOrder says {got} {asked - since:.2f} s " \
                                       f"after the guest's reboot"
        time.sleep(0.05)


def test_guest_reboot_ends_the_iso_install_boot(cloud):
    iso = image_cache_path(cloud.ps, cloud.ids["iso"], "iso")
    vm = cloud.new_vm(iso=True)
    live = dumpxml(vm)
    assert boot(live, "cdrom") == 1 and boot(live, "disk") == 2 and media(live) == iso
    assert cloud.zs("GetVmBootOrder", f"uuid={vm}")["order"] == ["CdRom", "HardDisk"]

    with Watcher(vm) as events:
        _, rebooted = guest.press(vm, lambda: events.poll("reboot"))
    took = boot_order_within(cloud, vm, ["HardDisk", "CdRom"], rebooted)
    print(f"\n[host agent] guest reboot -> GetVmBootOrder HardDisk first: {took * 1000:.0f} ms")
    assert "rebooted after its install" in cloud.agent_log()
    # a reboot is no state change; QEMU reset in place, with the definition it had
    assert cloud.cli_state(vm) == "Running" and domstate(vm) == "running"
    defined = dumpxml(vm, inactive=True)
    assert boot(defined, "disk") == 1 and boot(defined, "cdrom") == 2 and media(defined) == iso

    # the next fresh start boots the disk, the ISO still in the drive
    assert cloud.zs("StopVmInstance", f"uuid={vm}", "type=cold")["state"] == "Stopped"
    assert cloud.zs("StartVmInstance", f"uuid={vm}")["state"] == "Running"
    live = dumpxml(vm)
    assert boot(live, "disk") == 1 and boot(live, "cdrom") == 2 and media(live) == iso
    assert cloud.zs("GetVmBootOrder", f"uuid={vm}")["order"] == ["HardDisk", "CdRom"]

    # a second guest reboot changes nothing more
    with Watcher(vm) as events:
        guest.press(vm, lambda: events.poll("reboot"))
    time.sleep(0.5)
    assert cloud.zs("GetVmBootOrder", f"uuid={vm}")["order"] == ["HardDisk", "CdRom"]
    assert cloud.agent_log().count("rebooted after its install") == 1
    cloud.zs("DestroyVmInstance", f"uuid={vm}")


def test_guest_poweroff_shows_stopped(cloud):
    vm = cloud.new_vm()
    mac = cloud.zs("QueryVmNic", f"vmInstanceUuid={vm}")["inventories"][0]["mac"]
    if cloud.dhcp:
        assert cloud.dhcp_entries(mac), "the running VM has no DHCP entry"

    with Watcher(vm) as events:
        (_, detail), halted = guest.press(vm, lambda: events.poll("lifecycle", "SHUTDOWN"))
        assert int(detail) == libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST    # the guest's doing
        in_db = cloud.wait_db(vm, "Stopped", since=halted, timeout=LIMIT)
        shown = cloud.shows(vm, "Stopped", since=halted, limit=LIMIT)
        events.next("lifecycle", "STOPPED", timeout=30)                  # QEMU is gone
    print(f"\n[host agent] guest power-off -> database {in_db * 1000:.0f} ms, "
          f"QueryVmInstance {shown * 1000:.0f} ms")
    assert domstate(vm) == "shut off"
    if cloud.dhcp:                  # a stopped VM has no DHCP entry (SPEC §9)
        deadline = halted + LIMIT
        while cloud.dhcp_entries(mac):
            assert time.monotonic() < deadline, cloud.dhcp_entries(mac)
            time.sleep(0.05)

    # still the API's VM: it starts again (and waits for its next key press)
    assert cloud.zs("StartVmInstance", f"uuid={vm}")["state"] == "Running"
    assert domstate(vm) == "running"
    if cloud.dhcp:
        assert cloud.dhcp_entries(mac)
    time.sleep(0.5)
    assert cloud.cli_state(vm) == "Running"
    cloud.zs("DestroyVmInstance", f"uuid={vm}")
