"""ISO, boot order and console on a REAL QEMU domain, through the installed
zstack-cli command (SPEC §10); tests/e2e/test_vm_devices.py is the same on
simulated hosts.

The host is the machine's own libvirtd (conftest.py's session fixture), the
cloud is built as in test_real_host_cli.py: storage in a directory QEMU can
traverse, an L2 network on a zs-prefixed dummy interface. What the product
did is read back from libvirt: ``virsh dumpxml`` (the running domain) and
``dumpxml --inactive`` (its definition). One cloud serves the whole module;
everything made is removed afterwards by name: the domains (by the uuids the
tests chose), the directory, the dummy interface and the product's bridge.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from backend.storage.local import image_cache_path

from tests.integration.realhost import domstate, uid, virsh

pytestmark = pytest.mark.integration


def dumpxml(name, inactive=False):
    return ET.fromstring(virsh("dumpxml", name, *(["--inactive"] if inactive else [])).stdout)


def drive(dom, device):
    """The first <disk device=...> of a domain."""
    found = [d for d in dom.findall("devices/disk") if d.get("device") == device]
    assert found, ET.tostring(dom, encoding="unicode")
    return found[0]


def media(dom):
    source = drive(dom, "cdrom").find("source")
    return source.get("file") if source is not None else None


def boot(dom, device):
    b = drive(dom, device).find("boot")
    return int(b.get("order")) if b is not None else None


def listens(port):
    with socket.socket() as s:
        s.settimeout(5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def make_iso(path):
    """The smallest thing qemu takes for an ISO: CD001 at 0x8001, 128 KiB."""
    data = bytearray(128 * 1024)
    data[0x8001:0x8006] = b"CD001"
    path.write_bytes(bytes(data))


class Cloud:
    def __init__(self, cli, home, workdir):
        self.env = dict(os.environ, ZSTACK_HOME=home, ZSTACK_LANG="en")
        self.cli, self.workdir = cli, workdir
        self.domains = []

    def __call__(self, *words, expect=0):
        out = subprocess.run([self.cli, *words], env=self.env, capture_output=True, text=True,
                             timeout=120)
        assert "Traceback" not in out.stderr, out.stderr
        assert out.returncode == expect, (words, out.stdout, out.stderr)
        if expect:
            return out.stderr
        reply = json.loads(out.stdout)
        assert reply["success"] is True
        return reply.get("inventory", reply)


@pytest.fixture(scope="module")
def cloud(libvirtd):
    cli = Path(sys.executable).parent / "zstack-cli"
    if not cli.exists():
        pytest.skip("zstack-cli is not installed")
    workdir = tempfile.mkdtemp(prefix="zs-it-", dir="/var/tmp")
    os.chmod(workdir, 0o755)                # QEMU (libvirt-qemu) must reach the disks
    dummy = "zsit" + secrets.token_hex(3)
    made = subprocess.run(["ip", "link", "add", dummy, "type", "dummy"], capture_output=True)
    if made.returncode != 0:
        subprocess.run(["ip", "link", "add", dummy, "type", "veth", "peer", "name",
                        dummy + "p"], check=True)
    zs = Cloud(str(cli), os.path.join(workdir, "home"), workdir)
    try:
        ids = {k: uid() for k in ("zone", "cluster", "ps", "host", "bs", "image", "iso",
                                  "offering", "disk", "l2", "l3")}
        zs.ids = ids
        zs("CreateZone", "name=it-zone", f"resourceUuid={ids['zone']}")
        zs("CreateCluster", "name=it-cluster", f"zoneUuid={ids['zone']}", "hypervisorType=KVM",
           f"resourceUuid={ids['cluster']}")
        zs("AddLocalPrimaryStorage", "name=it-ps", f"url={workdir}/ps",
           f"zoneUuid={ids['zone']}", f"resourceUuid={ids['ps']}")
        zs("AttachPrimaryStorageToCluster", f"primaryStorageUuid={ids['ps']}",
           f"clusterUuid={ids['cluster']}")
        zs("AddKVMHost", "name=it-host", f"clusterUuid={ids['cluster']}",
           "managementIp=127.0.0.1", "username=root", "password=password",
           f"resourceUuid={ids['host']}")
        zs("AddSftpBackupStorage", "name=it-bs", f"url={workdir}/bs", "hostname=127.0.0.1",
           "username=root", "password=password", f"resourceUuid={ids['bs']}")
        zs("AttachBackupStorageToZone", f"backupStorageUuid={ids['bs']}",
           f"zoneUuid={ids['zone']}")
        template = os.path.join(workdir, "tiny.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", template, "64M"],
                       check=True)
        zs("AddImage", "name=it-image", "format=qcow2", f"url={template}",
           f"backupStorageUuids={ids['bs']}", f"resourceUuid={ids['image']}")
        make_iso(Path(workdir) / "install.iso")
        zs("AddImage", "name=it-iso", "format=iso", "mediaType=ISO",
           f"url={workdir}/install.iso", f"backupStorageUuids={ids['bs']}",
           f"resourceUuid={ids['iso']}")
        zs("CreateInstanceOffering", "name=it-small", "cpuNum=1", "memorySize=64M",
           f"resourceUuid={ids['offering']}")
        zs("CreateDiskOffering", "name=it-disk", "diskSize=16M", f"resourceUuid={ids['disk']}")
        zs("CreateL2NoVlanNetwork", "name=it-l2", f"zoneUuid={ids['zone']}",
           f"physicalInterface={dummy}", f"resourceUuid={ids['l2']}")
        zs("AttachL2NetworkToCluster", f"l2NetworkUuid={ids['l2']}",
           f"clusterUuid={ids['cluster']}")
        zs("CreateL3Network", "name=it-l3", f"l2NetworkUuid={ids['l2']}",
           f"resourceUuid={ids['l3']}")
        zs("AddIpRange", f"l3NetworkUuid={ids['l3']}", "name=it-range", "startIp=10.252.0.10",
           "endIp=10.252.0.20", "netmask=255.255.255.0", "gateway=10.252.0.1")
        zs.iso_cache = image_cache_path(f"{workdir}/ps", ids["iso"], "iso")
        yield zs
    finally:
        for name in zs.domains:
            virsh("destroy", name, check=False)
            virsh("undefine", name, check=False)
        for dev in (f"br_{dummy}", dummy):          # a veth's peer goes with it
            subprocess.run(["ip", "link", "del", dev], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def new_vm(zs, image=None, *extra):
    vm = uid()
    zs.domains.append(vm)
    created = zs("CreateVmInstance", f"name=it-{vm[:6]}",
                 f"instanceOfferingUuid={zs.ids['offering']}",
                 f"imageUuid={image or zs.ids['image']}", f"l3NetworkUuids={zs.ids['l3']}",
                 f"resourceUuid={vm}", *extra)
    assert created["state"] == "Running" and domstate(vm) == "running"
    return vm


@pytest.fixture(scope="module")
def vm(cloud):
    """A VM from the qcow2 template, running."""
    return new_vm(cloud)


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
    vm = new_vm(cloud, cloud.ids["iso"], f"rootDiskOfferingUuid={cloud.ids['disk']}")
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
