"""The host agent across a restart of the machine's real libvirtd (SPEC §12).

Stopping libvirtd (SIGTERM to the pid in /var/run/libvirtd.pid) leaves the
QEMU processes running; the agent's connection closes and it retries every
second. Once the daemon is back (``libvirtd -d``), the agent reconnects,
registers for events again and reconciles every VM of the host:

- a restart shorter than the grace period marks nothing, and a change made
  after the daemon is back but before the agent reconnected (the agent is
  held with SIGSTOP meanwhile, so nothing else could have seen it) is caught
  by that reconcile;
- an outage past the grace period (ZSTACK_HOST_AGENT_GRACE=1 here) marks the
  host Disconnected and its VMs Unknown, as a failed ReconnectHost does; the
  reconnection makes it Connected and its VMs what their domains are.

Afterwards virsh changes show in QueryVmInstance (the installed command)
within 2 s, through the new connection's events. The daemon is running and
answering again when each test ends, whatever happened (the session's other
tests need it), and the agent is never left stopped.
"""

import os
import signal
import time

import pytest

from tests.integration import system_libvirtd as daemon
from tests.integration.agent_cloud import AgentCloud
from tests.integration.realhost import domstate, virsh

pytestmark = pytest.mark.integration

LIMIT = 2.0                         # seconds, SPEC §12
GRACE = 1.0                         # the short grace period of the second test


@pytest.fixture
def cloud(libvirtd, cli):
    with AgentCloud(cli, net="10.254.0") as c:
        yield c.build()


@pytest.fixture
def impatient_cloud(libvirtd, cli):
    with AgentCloud(cli, net="10.254.0", grace=GRACE) as c:
        yield c.build()


@pytest.fixture
def restarts(libvirtd):
    """Restores the daemon after the test, even a failed one; holds the agent
    pids to resume (a stopped agent would wedge every test after)."""
    held = []
    yield held
    for pid in held:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    daemon.ensure_libvirtd()


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


def qemu_pid(vm):
    with open(f"/var/run/libvirt/qemu/{vm}.pid") as f:
        return int(f.read().strip())


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def virsh_changes_show(cloud, vm):
    """destroy, start, suspend, resume with virsh: each in QueryVmInstance within 2 s."""
    for words, state in ((("destroy", vm), "Stopped"), (("start", vm), "Running"),
                         (("suspend", vm), "Paused"), (("resume", vm), "Running")):
        virsh(*words)
        cloud.shows(vm, state, since=time.monotonic(), limit=LIMIT)


def test_agent_survives_a_libvirtd_restart(cloud, restarts):
    vm = cloud.new_vm()
    _supervisor, agent = cloud.agent()
    qemu = qemu_pid(vm)
    old = daemon.stop_libvirtd()
    assert alive(qemu), "the domain died with libvirtd"
    time.sleep(0.5)             # the agent has seen the close and retries: nothing to record
    assert cloud.host_status() == "Connected" and cloud.db_state(vm) == "Running"

    # hold the agent, so the change below happens between the daemon's return and
    # the agent's reconnection: only the reconcile can catch it
    os.kill(agent, signal.SIGSTOP)
    restarts.append(agent)
    new = daemon.start_libvirtd()
    assert new != old
    assert domstate(vm) == "running" and qemu_pid(vm) == qemu and alive(qemu)   # survived
    virsh("suspend", vm)
    resumed = time.monotonic()
    os.kill(agent, signal.SIGCONT)
    took = cloud.shows(vm, "Paused", since=resumed, limit=LIMIT)
    print(f"\n[host agent] agent resumed -> reconciled after a libvirtd restart: "
          f"{took * 1000:.0f} ms")
    assert f"VM[uuid:{vm}] Running -> Paused (reconcile)" in cloud.agent_log()
    assert cloud.agent() == (_supervisor, agent)        # the same agent: it reconnected
    assert cloud.host_status() == "Connected"
    assert cloud.agent_log().count("listening to domain events") == 2

    # its new registrations: virsh changes show within 2 s again
    virsh("resume", vm)
    cloud.shows(vm, "Running", since=time.monotonic(), limit=LIMIT)
    virsh_changes_show(cloud, vm)


def test_libvirtd_down_past_the_grace_period(impatient_cloud, restarts):
    cloud = impatient_cloud
    vm = cloud.new_vm()
    stopped_vm = cloud.new_vm()
    assert cloud.zs("StopVmInstance", f"uuid={stopped_vm}", "type=cold")["state"] == "Stopped"
    _supervisor, agent = cloud.agent()
    restarts.append(agent)                  # never stopped here; just in case
    started = time.monotonic()
    daemon.stop_libvirtd()
    stopped = time.monotonic()

    # past the grace: the host Disconnected and its VMs Unknown, as ReconnectHost would
    wait(lambda: cloud.host_status() == "Disconnected", GRACE + 5, "the host Disconnected")
    marked = time.monotonic()
    assert marked - started >= GRACE
    host = cloud.zs("QueryHost", f"uuid={cloud.ids['host']}")["inventories"][0]
    assert host["status"] == "Disconnected"
    assert cloud.cli_state(vm) == "Unknown" and cloud.cli_state(stopped_vm) == "Unknown"
    print(f"\n[host agent] libvirtd stopped -> host Disconnected: {marked - stopped:.2f} s "
          f"(grace {GRACE:g} s, retries every 1 s)")

    # back: Connected, and the reconcile gives every VM its domain's state
    daemon.start_libvirtd()
    back = time.monotonic()
    wait(lambda: cloud.host_status() == "Connected", LIMIT + 1, "the host Connected again")
    cloud.shows(vm, "Running", since=back, limit=LIMIT + 1)
    assert cloud.cli_state(stopped_vm) == "Stopped"
    assert cloud.zs("QueryHost", f"uuid={cloud.ids['host']}")["inventories"][0]["status"] \
        == "Connected"
    assert cloud.agent() == (_supervisor, agent)
    # and the API works on the host again
    assert cloud.zs("StartVmInstance", f"uuid={stopped_vm}")["state"] == "Running"
    virsh_changes_show(cloud, vm)
