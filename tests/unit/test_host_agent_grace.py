"""The host agent and a host it can no longer reach (SPEC §12, §7.2).

An outage longer than the grace period marks the host Disconnected and its
VMs Unknown (what a failed ReconnectHost records); a shorter one marks
nothing; reaching the host again makes it Connected and reconciles its VMs.
The agent runs in-process on a thread, its libvirt replaced by a fake one
(``libvirt.open`` and the event loop), or, for a simulated host, its driver
by one whose ``states()`` fails while the host is "down". The cloud is
tests/clouds.py's, built by the installed command, without any agent of its own.
"""

import os
import subprocess
import threading
import time

import pytest

from backend.agent import host_agent, libvirt_events, reachability
from tests.waiting import wait_for as _wait
from tests.clouds import HOST1, HOST2, VM1, environment

GRACE = 0.4


def wait_for(predicate, timeout, what):
    return _wait(predicate, timeout, what, step=0.01)


@pytest.fixture
def home(tmp_path, cli):
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    batch = tmp_path / "env.zs"
    batch.write_text(environment(tmp_path, image))
    path = str(tmp_path / "home")
    out = subprocess.run([cli, "-f", str(batch)], env=dict(os.environ, ZSTACK_HOME=path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return path


@pytest.fixture
def store(home):
    from backend.api import Backend

    backend = Backend(home)
    yield backend.store
    backend.close()


def host_status(store, uuid=HOST1):
    return store.value("SELECT status FROM HostVO WHERE uuid = ?", (uuid,))


def vm_states(store, host=HOST1):
    return dict(store.rows("SELECT uuid, state FROM VmInstanceVO WHERE hostUuid = ? AND state "
                           "NOT IN ('Destroyed', 'Created')", (host,)))


# ---------------------------------------------------------------- a fake libvirt

class FakeDomain:
    def __init__(self, name, state):
        self._name, self._state = name, state

    def name(self):
        return self._name

    def state(self):
        return [self._state, 0]


class FakeConn:
    def __init__(self, domains):
        self.domains = dict(domains)
        self.on_close = None
        self.closed = False

    def setKeepAlive(self, interval, count):
        pass

    def registerCloseCallback(self, callback, opaque):
        self.on_close = callback

    def unregisterCloseCallback(self):
        pass

    def domainEventRegisterAny(self, dom, event, callback, opaque):
        return event

    def domainEventDeregisterAny(self, callback_id):
        pass

    def listAllDomains(self):
        return [FakeDomain(n, s) for n, s in self.domains.items()]

    def lookupByName(self, name):
        import libvirt

        if name not in self.domains:
            raise libvirt.libvirtError("no domain")
        return FakeDomain(name, self.domains[name])

    def close(self):
        self.closed = True


class FakeLibvirtd:
    """The daemon: up or down; its domains; every connection it accepted."""

    def __init__(self, domains):
        self.up, self.domains, self.conns = True, dict(domains), []
        self.lock = threading.Lock()

    def open(self, uri):
        import libvirt

        with self.lock:
            if not self.up:
                raise libvirt.libvirtError("Failed to connect socket to "
                                           "'/var/run/libvirt/libvirt-sock': Connection refused")
            conn = FakeConn(self.domains)
            self.conns.append(conn)
            return conn

    def stop(self):
        """What a dying daemon does to a client: EOF, i.e. the close callback."""
        with self.lock:
            self.up = False
            conn = self.conns[-1]
        conn.on_close(conn, 0, None)

    def start(self, domains):
        with self.lock:
            self.domains, self.up = dict(domains), True


class AgentThread:
    """One Agent on a thread (made there: it owns its store connection)."""

    def __init__(self, home, host, target):
        self.agent = None
        self.error = None
        ready = threading.Event()

        def main():
            try:
                self.agent = host_agent.Agent(home, host)
                ready.set()
                target(self.agent)
            except BaseException as e:      # shown by stop(), not lost on the thread
                self.error = e
                ready.set()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        assert self.error is None, self.error

    def stop(self):
        if self.agent is not None:
            self.agent.stopping = True
        self.thread.join(10)
        assert not self.thread.is_alive(), "the agent did not stop"
        if self.error is not None:
            raise self.error
        self.agent.backend.close()


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv(reachability.GRACE_ENV, str(GRACE))
    monkeypatch.setattr(host_agent, "RECONNECT", 0.05)
    monkeypatch.setattr(host_agent, "POLL", 0.05)


# ---------------------------------------------------------------- real hosts (fake libvirt)

def test_libvirt_outage_past_the_grace_marks_the_host_then_reconnects(home, store, quick,
                                                                        monkeypatch):
    import libvirt

    daemon = FakeLibvirtd({VM1: libvirt.VIR_DOMAIN_RUNNING})
    monkeypatch.setattr(libvirt, "open", daemon.open)
    monkeypatch.setattr(libvirt_events, "start_event_loop", lambda _libvirt, _log: None)
    assert host_status(store) == "Connected" and vm_states(store)[VM1] == "Running"
    other = vm_states(store, HOST2)

    runner = AgentThread(home, HOST1, lambda a: a.run_libvirt("qemu:///system"))
    try:
        wait_for(lambda: daemon.conns, 5, "the agent to connect")

        # a short outage (a libvirtd restart): nothing is marked; the reconcile on
        # reconnection catches the change made while the agent was away
        daemon.stop()
        time.sleep(GRACE / 4)
        daemon.start({VM1: libvirt.VIR_DOMAIN_PAUSED})
        wait_for(lambda: len(daemon.conns) == 2, 5, "the agent to reconnect")
        wait_for(lambda: vm_states(store)[VM1] == "Paused", 2, "VM1 Paused by the reconcile")
        assert host_status(store) == "Connected"

        # a long one: Disconnected and Unknown once the grace period is over, not before
        daemon.stop()
        lost = time.monotonic()
        assert host_status(store) == "Connected"
        wait_for(lambda: host_status(store) == "Disconnected", 5, "the host Disconnected")
        assert time.monotonic() - lost >= GRACE * 0.9
        states = vm_states(store)
        assert states and set(states.values()) == {"Unknown"}, states
        assert vm_states(store, HOST2) == other             # another host's VMs: untouched
        time.sleep(3 * host_agent.RECONNECT)                # still down: marked once, stays so
        assert host_status(store) == "Disconnected"

        # reached again: Connected, and every VM of the host reconciled
        daemon.start({VM1: libvirt.VIR_DOMAIN_RUNNING})
        wait_for(lambda: host_status(store) == "Connected", 3, "the host Connected again")
        wait_for(lambda: vm_states(store)[VM1] == "Running", 2, "VM1 Running by the reconcile")
        assert "Unknown" not in vm_states(store).values()   # a VM without a domain is Stopped
        assert len(daemon.conns) == 3 and all(c.closed for c in daemon.conns[:2])
    finally:
        runner.stop()


def test_agent_reconnects_a_host_left_disconnected(home, store, quick, monkeypatch):
    """A ReconnectHost that failed while the agent ran: the agent's connection is the
    host's way back."""
    import libvirt

    from backend.api import Context
    from backend.services.host import mark_unreachable

    mark_unreachable(Context(_Backend(store, home), None, None), HOST1)
    assert host_status(store) == "Disconnected" and vm_states(store)[VM1] == "Unknown"
    daemon = FakeLibvirtd({VM1: libvirt.VIR_DOMAIN_RUNNING})
    monkeypatch.setattr(libvirt, "open", daemon.open)
    monkeypatch.setattr(libvirt_events, "start_event_loop", lambda _libvirt, _log: None)
    runner = AgentThread(home, HOST1, lambda a: a.run_libvirt("qemu:///system"))
    try:
        wait_for(lambda: host_status(store) == "Connected", 3, "the host Connected")
        wait_for(lambda: vm_states(store)[VM1] == "Running", 2, "VM1 Running")
    finally:
        runner.stop()


class _Backend:
    """The least of a Backend a Context needs."""

    def __init__(self, store, home):
        self.store, self.home = store, home


# ---------------------------------------------------------------- simulated hosts

def test_simulated_host_out_of_reach(home, store, quick, monkeypatch):
    import backend.hypervisor as hypervisor

    real = hypervisor.driver_for
    down = threading.Event()

    class Flaky:
        def __init__(self, driver):
            self.driver = driver

        def states(self):
            if down.is_set():
                raise hypervisor.HostUnreachable("cannot list domains: the host is down")
            return self.driver.states()

    monkeypatch.setattr(hypervisor, "driver_for", lambda host, home_: Flaky(real(host, home_)))
    runner = AgentThread(home, HOST1, lambda a: a.run())
    try:
        time.sleep(0.3)                 # its first look
        down.set()
        wait_for(lambda: host_status(store) == "Disconnected", 5, "the host Disconnected")
        assert set(vm_states(store).values()) == {"Unknown"}
        down.clear()
        wait_for(lambda: host_status(store) == "Connected", 3, "the host Connected again")
        wait_for(lambda: vm_states(store)[VM1] == "Running", 2, "VM1 Running again")
    finally:
        runner.stop()


# ---------------------------------------------------------------- the tracker alone

def test_reachability_marks_once_after_the_grace(store, home):
    from backend.api import Context

    now = [100.0]
    lines = []
    ctx = Context(_Backend(store, home), None, None)
    reach = reachability.Reachability(ctx, HOST1, 10.0, lines.append, clock=lambda: now[0])
    assert reach.found() is False                       # Connected already: nothing to do
    assert reach.lost() is False                        # the clock starts
    now[0] += 9.9
    assert reach.lost() is False and host_status(store) == "Connected"
    now[0] += 0.1
    assert reach.lost() is True
    assert host_status(store) == "Disconnected" and vm_states(store)[VM1] == "Unknown"
    now[0] += 60
    assert reach.lost() is False                        # marked once
    assert reach.found() is True and host_status(store) == "Connected"
    assert reach.found() is False
    assert len(lines) == 2 and "grace 10 s" in lines[0]


@pytest.mark.parametrize("text, expected", [("", 10.0), ("1", 1.0), ("0.5", 0.5), ("0", 0.0),
                                            ("soon", 10.0), ("-3", 10.0), ("nan", 10.0)])
def test_grace_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv(reachability.GRACE_ENV, text)
    lines = []
    assert reachability.grace(lines.append) == expected
    assert bool(lines) == (text in ("soon", "-3", "nan"))


def test_an_agent_whose_home_was_made_again_at_once_is_gone(home, tmp_path):
    """The home deleted and made again at once, with a host of the same uuid (the
    directory may even take its old inode): the agent's connection still reads the
    deleted database, so the agent is gone, whatever the new store holds."""
    import shutil

    agent = host_agent.Agent(home, HOST1)
    assert not agent.gone()
    copy = tmp_path / "copy.db"
    shutil.copy(os.path.join(home, "zstack.db"), copy)
    shutil.rmtree(home)
    os.makedirs(home)
    shutil.copy(copy, os.path.join(home, "zstack.db"))     # the same host there again
    assert agent.gone()
    agent.backend.close()            # (each agent is a process of its own)
    fresh = host_agent.Agent(home, HOST1)                     # a new agent of the new store
    assert not fresh.gone()
    fresh.backend.close()
