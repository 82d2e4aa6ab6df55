"""The host agent on the machine's real libvirtd (SPEC §12): virsh destroy,
start, suspend and resume show in the store within 2 s; prints the
event-to-database latency over ~30 changes. The cloud is agent_cloud.py's."""

import os
import statistics
import time

import pytest

from tests.integration.agent_cloud import AgentCloud
from tests.integration.realhost import virsh

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(libvirtd, cli):
    with AgentCloud(cli, net="10.252.0") as c:
        yield c.build()


def test_agent_follows_virsh(cloud, capsys):
    vm = cloud.new_vm()
    supervisor = os.path.join(cloud.home, "hosts", cloud.ids["host"], "agent", "supervisor.pid")
    assert os.path.exists(supervisor)
    time.sleep(1.0)                 # the agent's first reconcile is done

    virsh("destroy", vm)
    cloud.wait_db(vm, "Stopped")
    assert cloud.cli_state(vm) == "Stopped"
    virsh("start", vm)
    cloud.wait_db(vm, "Running")
    virsh("suspend", vm)
    cloud.wait_db(vm, "Paused")
    virsh("resume", vm)
    cloud.wait_db(vm, "Running")

    # latency: the moment virsh returns (the change is made) -> the row says so
    latencies = []
    for i in range(30):
        command, state = [("suspend", "Paused"), ("resume", "Running")][i % 2]
        virsh(command, vm)
        latencies.append(cloud.wait_db(vm, state))
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    with capsys.disabled():
        print(f"\n[host agent] real libvirtd (events): virsh returned -> database over "
              f"{len(ordered)} changes: median {statistics.median(ordered) * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")
    assert statistics.median(ordered) < 1.0

    cloud.zs("DeleteHost", f"uuid={cloud.ids['host']}", "deleteMode=Enforcing")
    assert not os.path.exists(supervisor)
