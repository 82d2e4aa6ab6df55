"""The host agent on a simulated host (SPEC §12): a VM changed behind our back
shows its new state within 2 s; the supervisor brings a killed agent back;
DeleteHost stops it. The cloud is tests/clouds.py's, built by the installed
command; the test then talks to Backend(home) directly."""

import os
import signal
import statistics
import subprocess
import time

import pytest

from tests.waiting import alive, wait_for
from tests.clouds import HOST1, HOST2, VM1, environment


@pytest.fixture
def cloud(tmp_path, cli, monkeypatch):
    from backend.api import Backend
    from backend.services import agent

    monkeypatch.setenv("ZSTACK_HOST_AGENT", "on")
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    batch = tmp_path / "env.zs"
    batch.write_text(environment(tmp_path, image))
    home = str(tmp_path / "home")
    env = dict(os.environ, ZSTACK_HOME=home)
    out = subprocess.run([cli, "-f", str(batch)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    backend = Backend(home)
    try:
        yield backend
    finally:
        ctx = _ctx(backend)
        for host in (HOST1, HOST2):     # whatever the test left running
            agent.stop(ctx, host)
        backend.close()


def _ctx(backend):
    from backend.api import Context

    return Context(backend, None, None)


def vm_state(backend, uuid):
    reply = backend.call("QueryVmInstance", {"conditions": [("uuid", "=", uuid)]})
    assert reply["success"], reply
    return reply["inventories"][0]["state"]


def driver(backend, host_uuid):
    from backend.hypervisor import driver_for

    return driver_for(backend.store.get("HostVO", host_uuid), backend.home)


def test_agent_records_changes_made_behind_our_back(cloud):
    from backend.services import agent

    ctx = _ctx(cloud)
    supervisor_pid, agent_pid = wait_for(lambda: all(agent.running(ctx, HOST1)) and
                                         agent.running(ctx, HOST1), 5, "the agent of host1")
    assert vm_state(cloud, VM1) == "Running"
    drv = driver(cloud, HOST1)

    drv.stop(VM1, force=True)
    wait_for(lambda: vm_state(cloud, VM1) == "Stopped", 2, "Stopped")
    drv.start(VM1)
    wait_for(lambda: vm_state(cloud, VM1) == "Running", 2, "Running")

    # ensure is idempotent: the same supervisor, the same agent
    assert agent.ensure(ctx, HOST1) == supervisor_pid
    assert agent.running(ctx, HOST1) == (supervisor_pid, agent_pid)

    # kill -9 the agent: its supervisor starts another, which still works
    os.kill(agent_pid, signal.SIGKILL)
    new_pid = wait_for(lambda: (agent.running(ctx, HOST1)[1] or 0) not in (0, agent_pid) and
                       agent.running(ctx, HOST1)[1], 5, "a new agent")
    assert agent.running(ctx, HOST1)[0] == supervisor_pid and new_pid != agent_pid
    time.sleep(1.0)                     # its first look (a reconcile) is done
    drv.stop(VM1, force=True)
    wait_for(lambda: vm_state(cloud, VM1) == "Stopped", 2, "Stopped after the restart")
    drv.start(VM1)
    wait_for(lambda: vm_state(cloud, VM1) == "Running", 2, "Running after the restart")

    # the API's own operations still end where the API says
    assert cloud.call("StopVmInstance", {"uuid": VM1})["inventory"]["state"] == "Stopped"
    time.sleep(1.0)
    assert vm_state(cloud, VM1) == "Stopped"
    assert cloud.call("StartVmInstance", {"uuid": VM1})["inventory"]["state"] == "Running"
    time.sleep(1.0)
    assert vm_state(cloud, VM1) == "Running"

    # DeleteHost stops it (and its supervisor)
    reply = cloud.call("DeleteHost", {"uuid": HOST1, "deleteMode": "Enforcing"})
    assert reply["success"], reply
    wait_for(lambda: not alive(supervisor_pid) and not alive(new_pid), 10,
             "the agent to stop")


def test_event_to_database_latency_simulated(cloud, capsys):
    from backend.services import agent

    ctx = _ctx(cloud)
    wait_for(lambda: all(agent.running(ctx, HOST1)), 5, "the agent of host1")
    time.sleep(1.0)
    drv = driver(cloud, HOST1)
    latencies = []
    for i in range(30):
        target = "Stopped" if i % 2 == 0 else "Running"
        started = time.monotonic()
        if target == "Stopped":
            drv.stop(VM1, force=True)
        else:
            drv.start(VM1)
        wait_for(lambda: _db_state(cloud, VM1) == target, 2, target)
        latencies.append(time.monotonic() - started)
    _report("simulated host (polling)", latencies, capsys)
    assert statistics.median(latencies) < 1.0


def _db_state(backend, uuid):
    return backend.store.row("SELECT state FROM VmInstanceVO WHERE uuid = ?", (uuid,))[0]


def _report(what, latencies, capsys):
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    with capsys.disabled():
        print(f"\n[host agent] {what}: change -> database over {len(ordered)} changes: "
              f"median {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
              f"max {ordered[-1] * 1000:.0f} ms")


