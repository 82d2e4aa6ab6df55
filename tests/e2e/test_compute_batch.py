"""A batch file builds a whole cloud from nothing on simulated hosts and runs
VMs on it, through the installed zstack-cli command (SPEC §7, §7.1, §7.2)."""

import json
import os
import subprocess

import pytest

from tests.clouds import (BS, DATA, HOST1, IMAGE, L2, L3, OFFERING, VM1, VM2, VM3,
                          ZONE, environment)

@pytest.fixture
def cloud(tmp_path, cli):
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    batch = tmp_path / "env.zs"
    batch.write_text(environment(tmp_path, image))
    env = dict(os.environ, ZSTACK_HOME=str(tmp_path / "home"))
    out = subprocess.run([cli, "-f", str(batch)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr

    def run(*words, expect=0):
        result = subprocess.run([cli, *words], env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == expect, (words, result.stdout, result.stderr)
        return json.loads(result.stdout) if expect == 0 else result.stderr
    return run


def test_whole_environment_and_vm_lifecycle(cloud):
    vm = cloud("QueryVmInstance", f"uuid={VM1}")["inventories"][0]
    assert vm["state"] == "Running" and vm["hostUuid"] == HOST1
    nic = vm["vmNics"][0]
    assert nic["mac"].startswith("fa:") and nic["ip"].startswith("10.0.0.")
    assert nic["ip"] != "10.0.0.1"
    assert [v["type"] for v in vm["allVolumes"]] == ["Root", "Data"]
    assert cloud("QueryVmInstance", f"vmNics.ip={nic['ip']}", "fields=uuid")["inventories"] == \
        [{"uuid": VM1}]
    assert cloud("QueryVmInstance", f"uuid={VM2}")["inventories"][0]["state"] == "Stopped"
    assert cloud("QueryVmNic", f"vmInstanceUuid={VM2}")["inventories"][0]["ip"] == "10.0.0.15"
    assert cloud("QueryVmInstance", f"uuid={VM3}")["inventories"][0]["state"] == "Created"

    # state rules: VM.1010 as the cause of SYS.1006
    err = cloud("StartVmInstance", f"uuid={VM1}", expect=3)
    assert "SYS.1006" in err and "VM.1010" in err and "current vm instance state[Running]" in err
    assert cloud("StopVmInstance", f"uuid={VM1}")["inventory"]["state"] == "Stopped"
    assert cloud("StartVmInstance", f"uuid={VM1}")["inventory"]["state"] == "Running"
    assert cloud("RebootVmInstance", f"uuid={VM1}")["inventory"]["state"] == "Running"
    assert cloud("StartVmInstance", f"uuid={VM3}")["inventory"]["state"] == "Running"

    # data volume and snapshots
    assert cloud("DetachDataVolumeFromVm", f"uuid={DATA}")["inventory"]["vmInstanceUuid"] is None
    snap = cloud("CreateVolumeSnapshot", f"volumeUuid={DATA}", "name=s1")["inventory"]
    assert snap["status"] == "Ready" and snap["latest"] is True
    cloud("DeleteVolumeSnapshot", f"uuid={snap['uuid']}")
    cloud("DeleteDataVolume", f"uuid={DATA}")

    # destroy, recover, expunge
    cloud("DestroyVmInstance", f"uuid={VM2}")
    assert cloud("QueryVmInstance", f"uuid={VM2}")["inventories"][0]["state"] == "Destroyed"
    assert cloud("RecoverVmInstance", f"uuid={VM2}")["inventory"]["state"] == "Stopped"
    cloud("DestroyVmInstance", f"uuid={VM2}")
    cloud("ExpungeVmInstance", f"uuid={VM2}")
    assert cloud("QueryVmInstance", f"uuid={VM2}")["inventories"] == []
    assert cloud("QueryVmNic", "ip=10.0.0.15")["inventories"] == []


def test_create_rules_and_texts(cloud):
    err = cloud("CreateVmInstance", "name=x", f"instanceOfferingUuid={OFFERING}",
                f"imageUuid={IMAGE}", f"l3NetworkUuids={L3},{L3}", expect=3)
    assert "SYS.1006" in err and "duplicate" in err
    cloud("CreateL3Network", "name=l3b", f"l2NetworkUuid={L2}", f"resourceUuid={'c3' * 16}")
    err = cloud("CreateVmInstance", "name=x", f"instanceOfferingUuid={OFFERING}",
                f"imageUuid={IMAGE}", f"l3NetworkUuids={L3},{'c3' * 16}", expect=3)
    assert ("there are more than one L3 network specified in l3NetworkUuids, but "
            "defaultL3NetworkUuid is null") in err
    err = cloud("CreateVmInstance", "name=x", f"instanceOfferingUuid={OFFERING}",
                "imageUuid=00000000000000000000000000000000", f"l3NetworkUuids={L3}", expect=3)
    assert "SYS.1003" in err and "invalid field[imageUuid]" in err
    err = cloud("CreateVmInstance", "name=x", f"instanceOfferingUuid={OFFERING}",
                f"imageUuid={IMAGE}", f"l3NetworkUuids={L3}", "systemTags=nonsense::1", expect=3)
    assert "no system tag matches[nonsense::1] for resourceType[VmInstanceVO]" in err
    err = cloud("CreateVmInstance", "name=x", f"instanceOfferingUuid={OFFERING}",
                f"imageUuid={IMAGE}", f"l3NetworkUuids={L3}", "systemTags=hostname::web1",
                expect=3)
    assert "hostname[web1] is already used" in err


def test_ip_addresses_are_never_handed_out_twice(cloud):
    ips = {n["ip"] for n in cloud("QueryVmNic")["inventories"]}
    for i in range(6):
        cloud("CreateVmInstance", f"name=more{i}", f"instanceOfferingUuid={OFFERING}",
              f"imageUuid={IMAGE}", f"l3NetworkUuids={L3}", "strategy=JustCreate")
    nics = cloud("QueryVmNic")["inventories"]
    assert len({n["ip"] for n in nics}) == len(nics) == len(ips) + 6
    assert len({n["mac"] for n in nics}) == len(nics)


def test_enforcing_delete_of_the_zone_takes_everything(cloud):
    err = cloud("DeleteHost", f"uuid={HOST1}", expect=3)
    assert "still used by" in err and "deleteMode=Enforcing" in err
    err = cloud("DeleteZone", f"uuid={ZONE}", expect=3)
    assert "zone[uuid:" in err
    cloud("DeleteZone", f"uuid={ZONE}", "deleteMode=Enforcing")
    for query in ("QueryVmInstance", "QueryHost", "QueryCluster", "QueryL3Network",
                  "QueryPrimaryStorage", "QueryVolume", "QueryVmNic"):
        assert cloud(query, "count=true")["total"] == 0, query
    assert cloud("QueryImage", "count=true")["total"] == 1      # images live on backup storage
    cloud("DeleteImage", f"uuid={IMAGE}")
    cloud("DeleteBackupStorage", f"uuid={BS}")
    assert cloud("QueryBackupStorage", "count=true")["total"] == 0
