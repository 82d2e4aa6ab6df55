"""ISO, boot order and console on a REAL QEMU domain, through the installed
zstack-cli command (SPEC §10); tests/e2e/test_vm_devices.py is the same on
simulated hosts.

The host is the machine's own libvirtd (conftest.py's session fixture), the
cloud is realcloud.py's (with an ISO): storage in a directory QEMU can
traverse, an L2 network on a zs-prefixed dummy interface. What the product
did is read back from libvirt: ``virsh dumpxml`` (the running domain) and
``dumpxml --inactive`` (its definition). One cloud serves the whole module;
everything made is removed afterwards by name: the domains (by the uuids the
cloud chose), the directory, the dummy interface and the product's bridge.
"""

import socket

import pytest

from backend.storage.local import image_cache_path
from tests.integration.realcloud import RealCloud
from tests.integration.realhost import boot, domstate, dumpxml, media

pytestmark = pytest.mark.integration


def listens(port):
    with socket.socket() as s:
        s.settimeout(5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def cloud(libvirtd, installed_cli):
    with RealCloud(installed_cli, net="10.252.0", iso="blank") as c:
        c.build()
        c.iso_cache = image_cache_path(c.ps, c.ids["iso"], "iso")
        yield c


@pytest.fixture(scope="module")
def vm(cloud):
    """A VM from the qcow2 template, running."""
    return cloud.new_vm()


def test_iso_attach_and_detach_are_live(cloud, vm):
    assert media(dumpxml(vm)) is None
    cloud("AttachIsoToVmInstance", f"vmInstanceUuid={vm}", f"isoUuid={cloud.ids['iso']}")
    assert media(dumpxml(vm)) == cloud.iso_cache              # in the running drive
    assert media(dumpxml(vm, inactive=True)) == cloud.iso_cache
    with open(cloud.iso_cache, "rb") as f:
        f.seek(0x8001)
        assert f.read(5) == b"CD001"
    # attaching never changes the boot order: the root disk alone boots
    live = dumpxml(vm)
    assert boot(live, "disk") == 1 and boot(live, "cdrom") is None
    cloud("DetachIsoFromVmInstance", f"vmInstanceUuid={vm}")
    assert media(dumpxml(vm)) is None                         # ejected live
    assert media(dumpxml(vm, inactive=True)) is None
    assert domstate(vm) == "running"


def test_boot_order_applies_at_reboot(cloud, vm):
    cloud("SetVmBootOrder", f"uuid={vm}", "bootOrder=CdRom,HardDisk")
    live = dumpxml(vm)
    assert boot(live, "disk") == 1 and boot(live, "cdrom") is None   # not before the reboot
    assert cloud("RebootVmInstance", f"uuid={vm}")["state"] == "Running"
    assert domstate(vm) == "running"
    live = dumpxml(vm)
    assert boot(live, "cdrom") == 1 and boot(live, "disk") == 2
    assert cloud("GetVmBootOrder", f"uuid={vm}")["order"] == ["CdRom", "HardDisk"]
    cloud("SetVmBootOrder", f"uuid={vm}")                    # back to the default
    cloud("RebootVmInstance", f"uuid={vm}")
    live = dumpxml(vm)
    assert boot(live, "disk") == 1 and boot(live, "cdrom") is None


def test_vm_from_iso_boots_cdrom_then_harddisk(cloud):
    vm = cloud.new_vm(iso=True)
    live = dumpxml(vm)
    assert media(live) == cloud.iso_cache
    assert boot(live, "cdrom") == 1 and boot(live, "disk") == 2
    assert cloud("RebootVmInstance", f"uuid={vm}")["state"] == "Running"
    assert domstate(vm) == "running"
    live = dumpxml(vm)
    assert boot(live, "disk") == 1 and boot(live, "cdrom") == 2
    assert media(live) == cloud.iso_cache                     # the ISO stays in the drive
    inactive = dumpxml(vm, inactive=True)
    assert boot(inactive, "disk") == 1 and media(inactive) == cloud.iso_cache
    assert cloud("GetVmBootOrder", f"uuid={vm}")["order"] == ["HardDisk", "CdRom"]
    cloud("DestroyVmInstance", f"uuid={vm}")
    assert domstate(vm) is None


def test_console_vnc_then_spice(cloud, vm):
    address = cloud("GetVmConsoleAddress", f"uuid={vm}")
    graphics = dumpxml(vm).find("devices/graphics")
    assert graphics.get("type") == "vnc"
    assert address["protocol"] == "vnc" and address["hostIp"] == "127.0.0.1"
    assert address["port"] == int(graphics.get("port")) and listens(address["port"])

    cloud("UpdateGlobalConfig", "category=kvm", "name=vm.consoleMode", "value=spice")
    try:
        assert cloud("GetVmConsoleAddress", f"uuid={vm}")["protocol"] == "vnc"  # until restarted
        cloud("StopVmInstance", f"uuid={vm}", "type=cold")
        assert cloud("StartVmInstance", f"uuid={vm}")["state"] == "Running"
        live = dumpxml(vm)
        graphics = live.find("devices/graphics")
        assert graphics.get("type") == "spice"
        assert live.find("devices/video/model").get("type") == "qxl"
        address = cloud("GetVmConsoleAddress", f"uuid={vm}")
        assert address["protocol"] == "spice" and address["hostIp"] == "127.0.0.1"
        assert address["port"] == int(graphics.get("port")) and listens(address["port"])
    finally:
        cloud("UpdateGlobalConfig", "category=kvm", "name=vm.consoleMode", "value=vnc")
