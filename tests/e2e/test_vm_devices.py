"""ISO, boot order and console through the command on simulated hosts (SPEC §10;
seed §4, §5): the seed's command lines, every rule and text."""

import json
import os
import subprocess

import pytest

from tests.clouds import BS, DISK, IMAGE, L3, OFFERING, VM1, VM2, environment

ISO = "f1" * 16


def make_iso(path):
    """The smallest thing qemu and our checks take for an ISO: CD001 at 0x8001."""
    data = bytearray(64 * 2048)
    data[0x8001:0x8006] = b"CD001"
    path.write_bytes(bytes(data))


@pytest.fixture
def cloud(tmp_path, cli):
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    make_iso(tmp_path / "install.iso")
    (tmp_path / "env.zs").write_text(environment(tmp_path, image) + (
        f"AddImage name=install format=iso mediaType=ISO url={tmp_path}/install.iso "
        f"backupStorageUuids={BS} resourceUuid={ISO}\n"))
    env = dict(os.environ, ZSTACK_HOME=str(tmp_path / "home"))

    def run(*words, expect=0):
        out = subprocess.run([cli, *words], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == expect, (words, out.stdout, out.stderr)
        if expect or words[0].startswith("-"):
            return out.stderr
        return json.loads(out.stdout)
    run("-f", str(tmp_path / "env.zs"))
    return run


def test_iso_attach_detach_rules(cloud):
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["HardDisk"]
    vm = cloud("AttachIsoToVmInstance", f"vmInstanceUuid={VM1}", f"isoUuid={ISO}")["inventory"]
    assert vm["state"] == "Running"
    # attaching an ISO never changes the order, but the default now lists the CD-ROM second
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["HardDisk", "CdRom"]
    err = cloud("AttachIsoToVmInstance", f"vmInstanceUuid={VM1}", f"isoUuid={ISO}", expect=3)
    assert f"VM[uuid:{VM1}] already has an ISO[uuid:{ISO}] attached" in err
    err = cloud("AttachIsoToVmInstance", f"vmInstanceUuid={VM2}", f"isoUuid={IMAGE}", expect=3)
    assert "SYS.1007" in err
    cloud("DetachIsoFromVmInstance", f"vmInstanceUuid={VM1}")
    cloud("DetachIsoFromVmInstance", f"vmInstanceUuid={VM1}")        # a no-op success
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["HardDisk"]


def test_boot_order_rules(cloud):
    cloud("SetVmBootOrder", f"uuid={VM1}", "bootOrder=HardDisk,CdRom")
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["HardDisk", "CdRom"]
    err = cloud("SetVmBootOrder", f"uuid={VM1}", "bootOrder=Floppy,HardDisk", expect=3)
    assert "invalid boot device[Floppy] in boot order[Floppy, HardDisk]" in err
    err = cloud("SetVmBootOrder", f"uuid={VM1}", "bootOrder=HardDisk,HardDisk", expect=3)
    assert "boot device[HardDisk] is twice in boot order[HardDisk, HardDisk]" in err
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["HardDisk", "CdRom"]
    cloud("SetVmBootOrder", f"uuid={VM1}", "bootOrder=CdRom,HardDisk")
    cloud("RebootVmInstance", f"uuid={VM1}")
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["CdRom", "HardDisk"]
    cloud("SetVmBootOrder", f"uuid={VM1}")                # no bootOrder: back to the default
    assert cloud("GetVmBootOrder", f"uuid={VM1}")["order"] == ["HardDisk"]


def test_vm_from_iso_boots_cdrom_then_harddisk(cloud):
    vm = cloud("CreateVmInstance", "name=installer", f"instanceOfferingUuid={OFFERING}",
               f"imageUuid={ISO}", f"rootDiskOfferingUuid={DISK}",
               f"l3NetworkUuids={L3}")["inventory"]
    assert cloud("GetVmBootOrder", f"uuid={vm['uuid']}")["order"] == ["CdRom", "HardDisk"]
    cloud("RebootVmInstance", f"uuid={vm['uuid']}")
    assert cloud("GetVmBootOrder", f"uuid={vm['uuid']}")["order"] == ["HardDisk", "CdRom"]
    err = cloud("CreateVmInstance", "name=x", f"instanceOfferingUuid={OFFERING}",
                f"imageUuid={ISO}", f"l3NetworkUuids={L3}", expect=3)
    assert "rootDiskOfferingUuid is required" in err


def test_console_address_and_mode(cloud):
    address = cloud("GetVmConsoleAddress", f"uuid={VM1}")
    assert address["hostIp"] == "127.0.0.1" and address["protocol"] == "vnc"
    assert address["port"] >= 5900 and address["success"] is True
    cloud("UpdateGlobalConfig", "category=kvm", "name=vm.consoleMode", "value=spice")
    assert cloud("GetVmConsoleAddress", f"uuid={VM1}")["protocol"] == "vnc"   # until restarted
    cloud("StopVmInstance", f"uuid={VM1}")
    err = cloud("GetVmConsoleAddress", f"uuid={VM1}", expect=3)
    assert "VM.1010" in err
    cloud("StartVmInstance", f"uuid={VM1}")
    assert cloud("GetVmConsoleAddress", f"uuid={VM1}")["protocol"] == "spice"
