"""A cloud on a REAL host, through the installed zstack-cli command (SPEC §7, §7.1, §7.2).

The machine's own libvirtd (the session fixture of conftest.py) is the host:
AddKVMHost managementIp=127.0.0.1 takes libvirtUri=qemu:///system by default.
Storage lives in a directory QEMU (running as libvirt-qemu) can traverse, the
L2 network sits on a dummy interface made here, and the VM is a real QEMU
domain (TCG, no guest OS). Everything made is removed afterwards, even when
the test fails: domains named by the uuids the test chose, the directory, the
dummy interface and the bridge the product made on it.
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile

import pytest

from tests.integration.realhost import command, SYSTEM_URI, domstate, uid, virsh

pytestmark = pytest.mark.integration


def blklist(name, inactive=False):
    """{target: source} from `virsh domblklist`."""
    out = virsh("domblklist", name, *(["--inactive"] if inactive else [])).stdout
    rows = {}
    for line in out.splitlines()[2:]:
        words = line.split()
        if len(words) == 2:
            rows[words[0]] = words[1]
    return rows


def link(name):
    out = subprocess.run(["ip", "-j", "link", "show", "dev", name], capture_output=True,
                         text=True)
    return json.loads(out.stdout)[0] if out.returncode == 0 and out.stdout.strip() else None


@pytest.fixture
def workdir():
    """Where QEMU (user libvirt-qemu) can reach the disks: pytest's tmp_path is 0700."""
    path = tempfile.mkdtemp(prefix="zs-it-", dir="/var/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dummy():
    """A dummy interface for the L2 network; its bridge is the product's to make.
    A kernel without the dummy driver gets one end of a veth pair instead."""
    name = "zsit" + secrets.token_hex(3)
    made = subprocess.run(["ip", "link", "add", name, "type", "dummy"], capture_output=True,
                          text=True)
    if made.returncode != 0:
        subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"],
                       check=True)
    try:
        yield name
    finally:
        for dev in (f"br_{name}", name):          # a veth's peer goes with it
            subprocess.run(["ip", "link", "del", dev], capture_output=True)


@pytest.fixture
def domains(libvirtd, workdir, dummy):
    """Uuids the test gives its VMs: any domain by those names is destroyed and
    undefined afterwards (before the disks and the bridge go)."""
    names = []
    yield names
    for name in names:
        virsh("destroy", name, check=False)
        virsh("undefine", name, check=False)


@pytest.fixture
def zs(cli, tmp_path):
    return command(cli, tmp_path / "home")


def test_vm_lifecycle_on_a_real_host(zs, workdir, dummy, domains):
    zone, cluster, ps, host, bs, image = (uid() for _ in range(6))
    offering, disk, l2, l3, vm, volume = (uid() for _ in range(6))
    domains.append(vm)

    zs("CreateZone", "name=it-zone", f"resourceUuid={zone}")
    zs("CreateCluster", "name=it-cluster", f"zoneUuid={zone}", "hypervisorType=KVM",
       f"resourceUuid={cluster}")
    zs("AddLocalPrimaryStorage", "name=it-ps", f"url={workdir}/ps", f"zoneUuid={zone}",
       f"resourceUuid={ps}")
    zs("AttachPrimaryStorageToCluster", f"primaryStorageUuid={ps}", f"clusterUuid={cluster}")
    added = zs("AddKVMHost", "name=it-host", f"clusterUuid={cluster}", "managementIp=127.0.0.1",
               "username=root", "password=password", f"resourceUuid={host}")
    assert added["libvirtUri"] == SYSTEM_URI and added["status"] == "Connected"
    assert added["totalMemoryCapacity"] > 64 * 1024 ** 2 and added["cpuNum"] >= 1
    zs("AddSftpBackupStorage", "name=it-bs", f"url={workdir}/bs", "hostname=127.0.0.1",
       "username=root", "password=password", f"resourceUuid={bs}")
    zs("AttachBackupStorageToZone", f"backupStorageUuid={bs}", f"zoneUuid={zone}")
    template = os.path.join(workdir, "tiny.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", template, "64M"], check=True)
    assert zs("AddImage", "name=it-image", "format=qcow2", f"url={template}",
              f"backupStorageUuids={bs}", f"resourceUuid={image}")["status"] == "Ready"
    zs("CreateInstanceOffering", "name=it-small", "cpuNum=1", "memorySize=64M",
       f"resourceUuid={offering}")
    zs("CreateDiskOffering", "name=it-disk", "diskSize=16M", f"resourceUuid={disk}")
    zs("CreateL2NoVlanNetwork", "name=it-l2", f"zoneUuid={zone}", f"physicalInterface={dummy}",
       f"resourceUuid={l2}")
    zs("AttachL2NetworkToCluster", f"l2NetworkUuid={l2}", f"clusterUuid={cluster}")
    zs("CreateL3Network", "name=it-l3", f"l2NetworkUuid={l2}", f"resourceUuid={l3}")
    zs("AddIpRange", f"l3NetworkUuid={l3}", "name=it-range", "startIp=10.251.0.10",
       "endIp=10.251.0.20", "netmask=255.255.255.0", "gateway=10.251.0.1")

    # a real QEMU domain, on the product's bridge
    created = zs("CreateVmInstance", "name=it-vm", f"instanceOfferingUuid={offering}",
                 f"imageUuid={image}", f"l3NetworkUuids={l3}", f"resourceUuid={vm}")
    assert created["state"] == "Running" and created["hostUuid"] == host
    assert domstate(vm) == "running"
    root = created["allVolumes"][0]["installPath"]
    assert root.startswith(f"{workdir}/ps/rootVolumes/{vm}-") and os.path.exists(root)
    assert blklist(vm) == {"vda": root, "hdc": "-"}
    bridge = f"br_{dummy}"
    assert link(bridge) is not None and link(dummy).get("master") == bridge
    iface = virsh("domiflist", vm).stdout
    assert bridge in iface and created["vmNics"][0]["mac"] in iface
    xml = virsh("dumpxml", vm).stdout
    assert "<domain type='qemu'" in xml or "<domain type='kvm'" in xml

    # stop, start, reboot
    assert zs("StopVmInstance", f"uuid={vm}", "type=cold")["state"] == "Stopped"
    assert domstate(vm) == "shut off"
    error = zs("StopVmInstance", f"uuid={vm}", expect=3)
    assert "VM.1010" in error and "current vm instance state[Stopped]" in error
    assert zs("StartVmInstance", f"uuid={vm}")["state"] == "Running"
    assert domstate(vm) == "running"
    assert zs("RebootVmInstance", f"uuid={vm}")["state"] == "Running"
    assert domstate(vm) == "running"

    # hot-plug a data volume; unplug it (live, QEMU may keep it until a guest answers)
    assert zs("CreateDataVolume", "name=it-data", f"diskOfferingUuid={disk}",
              f"resourceUuid={volume}")["status"] == "NotInstantiated"
    attached = zs("AttachDataVolumeToVm", f"vmInstanceUuid={vm}", f"volumeUuid={volume}")
    data = attached["installPath"]
    assert attached["status"] == "Ready" and data.startswith(f"{workdir}/ps/dataVolumes/")
    assert os.path.exists(data)
    assert blklist(vm)["vdb"] == data
    assert blklist(vm, inactive=True)["vdb"] == data
    assert zs("DetachDataVolumeFromVm", f"uuid={volume}")["vmInstanceUuid"] is None
    assert "vdb" not in blklist(vm, inactive=True)
    assert domstate(vm) == "running"

    # destroy (the domain goes), expunge (the records and the root volume go)
    zs("DestroyVmInstance", f"uuid={vm}")
    assert domstate(vm) is None
    assert zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"] == "Destroyed"
    assert os.path.exists(root)
    zs("ExpungeVmInstance", f"uuid={vm}")
    assert zs("QueryVmInstance", f"uuid={vm}")["inventories"] == []
    assert zs("QueryVmNic", f"l3NetworkUuid={l3}")["inventories"] == []
    assert not os.path.exists(root)
    zs("DeleteDataVolume", f"uuid={volume}")
    assert not os.path.exists(data)
    assert zs("QueryHost", f"uuid={host}")["inventories"][0]["availableMemoryCapacity"] == \
        added["availableMemoryCapacity"]
