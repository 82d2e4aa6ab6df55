"""The host agent on the machine's real libvirtd (SPEC §12): virsh destroy,
start, suspend and resume show in the store within 2 s; prints the
event-to-database latency over ~30 changes."""

import os
import sqlite3
import statistics
import subprocess
import time

import pytest

from tests.integration.test_real_host_cli import (  # noqa: F401  (fixtures)
    domains, dummy, uid, virsh, workdir, zs)

pytestmark = pytest.mark.integration


@pytest.fixture
def agent_on(monkeypatch):
    monkeypatch.setenv("ZSTACK_HOST_AGENT", "on")


def db_state(home, vm):
    with sqlite3.connect(f"file:{home}/zstack.db?mode=ro", uri=True, timeout=5) as db:
        row = db.execute("SELECT state FROM VmInstanceVO WHERE uuid = ?", (vm,)).fetchone()
    return row[0] if row else None


def wait_state(home, vm, state, timeout=2.0):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if db_state(home, vm) == state:
            return time.monotonic() - started
        time.sleep(0.01)
    pytest.fail(f"VM {vm} is {db_state(home, vm)}, not {state}, after {timeout} s")


def test_agent_follows_virsh(agent_on, zs, workdir, dummy, domains, tmp_path, capsys):
    home = str(tmp_path / "home")
    zone, cluster, ps, host, bs, image, offering, l2, l3, vm = (uid() for _ in range(10))
    domains.append(vm)
    zs("CreateZone", "name=ag-zone", f"resourceUuid={zone}")
    zs("CreateCluster", "name=ag-cluster", f"zoneUuid={zone}", "hypervisorType=KVM",
       f"resourceUuid={cluster}")
    zs("AddLocalPrimaryStorage", "name=ag-ps", f"url={workdir}/ps", f"zoneUuid={zone}",
       f"resourceUuid={ps}")
    zs("AttachPrimaryStorageToCluster", f"primaryStorageUuid={ps}", f"clusterUuid={cluster}")
    zs("AddKVMHost", "name=ag-host", f"clusterUuid={cluster}", "managementIp=127.0.0.1",
       "username=root", "password=password", f"resourceUuid={host}")
    try:
        zs("AddSftpBackupStorage", "name=ag-bs", f"url={workdir}/bs", "hostname=127.0.0.1",
           "username=root", "password=password", f"resourceUuid={bs}")
        zs("AttachBackupStorageToZone", f"backupStorageUuid={bs}", f"zoneUuid={zone}")
        template = os.path.join(workdir, "tiny.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", template, "64M"], check=True)
        zs("AddImage", "name=ag-image", "format=qcow2", f"url={template}",
           f"backupStorageUuids={bs}", f"resourceUuid={image}")
        zs("CreateInstanceOffering", "name=ag-small", "cpuNum=1", "memorySize=64M",
           f"resourceUuid={offering}")
        zs("CreateL2NoVlanNetwork", "name=ag-l2", f"zoneUuid={zone}",
           f"physicalInterface={dummy}", f"resourceUuid={l2}")
        zs("AttachL2NetworkToCluster", f"l2NetworkUuid={l2}", f"clusterUuid={cluster}")
        zs("CreateL3Network", "name=ag-l3", f"l2NetworkUuid={l2}", f"resourceUuid={l3}")
        zs("AddIpRange", f"l3NetworkUuid={l3}", "name=ag-range", "startIp=10.252.0.10",
           "endIp=10.252.0.20", "netmask=255.255.255.0", "gateway=10.252.0.1")
        assert zs("CreateVmInstance", "name=ag-vm", f"instanceOfferingUuid={offering}",
                  f"imageUuid={image}", f"l3NetworkUuids={l3}",
                  f"resourceUuid={vm}")["state"] == "Running"
        supervisor = os.path.join(home, "hosts", host, "agent", "supervisor.pid")
        assert os.path.exists(supervisor)
        time.sleep(1.0)                 # the agent's first reconcile is done

        virsh("destroy", vm)
        wait_state(home, vm, "Stopped")
        assert zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"] == "Stopped"
        virsh("start", vm)
        wait_state(home, vm, "Running")
        virsh("suspend", vm)
        wait_state(home, vm, "Paused")
        virsh("resume", vm)
        wait_state(home, vm, "Running")

        # latency: the moment virsh returns (the change is made) -> the row says so
        latencies = []
        for i in range(30):
            command, state = [("suspend", "Paused"), ("resume", "Running")][i % 2]
            virsh(command, vm)
            latencies.append(wait_state(home, vm, state))
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
        with capsys.disabled():
            print(f"\n[host agent] real libvirtd (events): virsh returned -> database over "
                  f"{len(ordered)} changes: median {statistics.median(ordered) * 1000:.1f} ms, "
                  f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")
        assert statistics.median(ordered) < 1.0
    finally:
        zs("DeleteHost", f"uuid={host}", "deleteMode=Enforcing")
    assert not os.path.exists(supervisor)
