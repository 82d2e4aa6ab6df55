"""A cloud on a REAL host, through the installed zstack-cli command (SPEC §7, §7.1, §7.2).

The machine's own libvirtd (the session fixture of conftest.py) is the host:
AddKVMHost managementIp=127.0.0.1 takes libvirtUri=qemu:///system by default.
The cloud is realcloud.py's: storage in a directory QEMU (running as
libvirt-qemu) can traverse, the L2 network on a dummy interface made there,
and the VM is a real QEMU domain (TCG, no guest OS). Everything made is
removed afterwards, even when the test fails: domains named by the uuids the
cloud chose, the directory, the dummy interface and the bridge the product
made on it.
"""

import json
import os
import subprocess

import pytest

from tests.integration.realcloud import RealCloud
from tests.integration.realhost import SYSTEM_URI, domstate, uid, virsh

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
def cloud(libvirtd, cli):
    with RealCloud(cli, net="10.251.0") as c:
        yield c.build()


def test_vm_lifecycle_on_a_real_host(cloud):
    zs, workdir, dummy, i = cloud.zs, cloud.work, cloud.link, cloud.ids
    host, l3, volume = i["host"], i["l3"], uid()
    added = cloud.replies["host"]
    assert added["libvirtUri"] == SYSTEM_URI and added["status"] == "Connected"
    assert added["totalMemoryCapacity"] > 64 * 1024 ** 2 and added["cpuNum"] >= 1
    assert cloud.replies["image"]["status"] == "Ready"

    # a real QEMU domain, on the product's bridge
    created = cloud.create_vm()
    vm = created["uuid"]
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
    assert zs("CreateDataVolume", "name=it-data", f"diskOfferingUuid={i['disk']}",
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
