"""The per-host agent (SPEC §12): hypervisor state changes → the store, at once.

    python -m backend.agent.host_agent --home H --host UUID

One process per host, run under the flat supervisor (see services/agent.py,
which starts, stops and ensures it). It opens its own Backend(home) and:

- real hosts (``qemu:///…``, ``qemu+ssh://…``): registers the default event
  implementation *before* opening its own connection, runs
  ``virEventRunDefaultImpl`` on a thread, and listens to lifecycle and reboot
  events. Each event is queued; the main thread (the only one that touches
  the store) confirms the domain's current state on that connection (a late
  event never overwrites a newer truth) and records it. A close callback
  (EOF: the daemon died) or a failed keepalive makes it reconnect every 1 s,
  with new registrations and a reconcile of every VM of the host (events
  were lost meanwhile).
- simulated hosts (``test:…``): no cross-process events exist, so it polls
  ``driver.states()`` every POLL seconds and records what changed.

A host out of reach for longer than a grace period (reachability.py,
``ZSTACK_HOST_AGENT_GRACE``) is marked Disconnected with its VMs Unknown, as a
failed ReconnectHost marks it; reached again, it is Connected and reconciled.

Recording: only VMs of this host in our store; a VM in a transition the API
owns (Starting, Stopping, Rebooting, Destroying, ...) is skipped, the API sets
its final state. The state is compared and set inside one transaction.

The ISO install switch (SPEC §10): on a REBOOT event of a VM whose boot order
is still the install one (``vm_devices.end_install_boot`` returns True) the
domain is redefined from the records. QEMU has already reset in place with the
old (CdRom first) definition, so the HardDisk-first order takes effect at the
domain's next start or reset from a fresh definition; the records (and
GetVmBootOrder) say HardDisk at once.

The agent retires by itself (it stops its supervisor, then exits) when its
host or its home's database is gone, so a forgotten host leaves no daemon.
"""

import argparse
import os
import queue
import signal
import sys
import time

from . import libvirt_events
from .reachability import Reachability, grace

POLL = 0.4                  # seconds between two looks at a simulated host
RECONNECT = 1.0             # seconds between two tries to reach a real host
HOUSEKEEPING = 2.0          # seconds between two checks that the host still exists
SKIP = ("Starting", "Stopping", "Rebooting", "Destroying", "Destroyed", "Created",
        "Migrating", "VolumeMigrating")


def log(message):
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} host-agent[{os.getpid()}]: "
                     f"{message}\n")
    sys.stderr.flush()


class Agent:
    def __init__(self, home, host_uuid):
        from ..api import Backend, Context

        self.home, self.host_uuid = home, host_uuid
        self.simulated = False          # known once run() has read the host
        self.home_id = _dir_id(home)     # which directory the home is (see home_deleted)
        self.backend = Backend(home)
        self.ctx = Context(self.backend, None, None)
        self.stopping = False
        self.events = queue.Queue()
        self._last_check = 0.0
        self.reach = Reachability(self.ctx, host_uuid, grace(log), log)

    # ------------------------------------------------------------ the store side
    def host(self):
        return self.ctx.store.get("HostVO", self.host_uuid)

    def record(self, vm_uuid, state, why=""):
        """Set a VM of this host to ``state`` unless the API owns it now.
        Returns True when the store changed."""
        from ..services.flat import sync_vm
        from ..services.vm_state import set_state

        store = self.ctx.store
        with store.transaction():
            vm = store.get("VmInstanceVO", vm_uuid)
            if (vm is None or vm["hostUuid"] != self.host_uuid or vm["state"] in SKIP
                    or vm["state"] == state):
                return False
            set_state(self.ctx, vm_uuid, state)
            before = vm["state"]
        log(f"VM[uuid:{vm_uuid}] {before} -> {state}{f' ({why})' if why else ''}")
        try:
            sync_vm(self.ctx, vm_uuid)
        except Exception as e:          # the network catches up at the next change
            log(f"cannot update the network of VM[uuid:{vm_uuid}]: {e}")
        return True

    def reconcile(self, states):
        """Every VM of the host takes the state its domain has (a missing domain
        is Stopped); VMs in a transition the API owns are left to it."""
        from ..services.vm_state import FROM_HYPERVISOR

        vms = self.ctx.store.rows("SELECT uuid FROM VmInstanceVO WHERE hostUuid = ?",
                                  (self.host_uuid,))
        for vm in vms:
            actual = states.get(vm["uuid"])
            if actual == "Unknown":
                continue
            self.record(vm["uuid"], FROM_HYPERVISOR.get(actual, "Stopped"), "reconcile")

    def end_install_boot(self, vm_uuid):
        """A guest rebooted: a VM still on its install boot order boots HardDisk from now on."""
        from ..hypervisor.domain import domain_xml
        from ..services import hosts, vm_spec
        from ..services.vm_devices import end_install_boot

        vm = self.ctx.store.get("VmInstanceVO", vm_uuid)
        if vm is None or vm["hostUuid"] != self.host_uuid or vm["state"] in SKIP:
            return
        if end_install_boot(self.ctx, vm_uuid):
            drv = hosts.driver(self.ctx, self.host())
            drv.define(domain_xml(vm_spec.domain_spec(self.ctx, vm_uuid, drv)))
            log(f"VM[uuid:{vm_uuid}] rebooted after its install: HardDisk boots first now")

    def gone(self):
        """True when this agent has nothing left to watch."""
        from ..api import DB_NAME

        import sqlite3

        path = os.path.join(self.home, DB_NAME)
        if not os.path.exists(path) or _open_file_deleted(path):
            # (a home deleted and made again at once: the database there is another
            # store's, this agent's connection still reads the deleted one)
            return True
        try:
            return self.host() is None
        except sqlite3.OperationalError as e:
            return "no such table" in str(e)
        except Exception:
            return False

    def home_deleted(self):
        """The store went with its directory: no database there, and the home is
        not the directory it was (gone, or made again since). A database moved
        aside leaves the same directory, and is no reason to stop anything."""
        from ..api import DB_NAME

        if os.path.exists(os.path.join(self.home, DB_NAME)):
            return False
        return _dir_id(self.home) != self.home_id

    def sweep_if_home_gone(self):
        """The whole store went (its home directory deleted; not a database moved
        aside, nor the host deleted): nobody else is left to stop this host's DHCP
        and metadata servers, so this agent does."""
        deadline = time.monotonic() + 5.0
        while not self.home_deleted():          # a deletion in progress removes files first
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        from ..network.flat.sweep import sweep_host

        try:
            sweep_host(self.home, self.host_uuid, self.simulated, self.home_deleted)
            self._forget_what_this_agent_made()
            log("the store is gone: this host's DHCP servers are stopped")
        except Exception as e:       # retiring matters more than a perfect sweep
            log(f"cannot stop this host's DHCP servers: {type(e).__name__}: {e}")

    def _db_missing(self):
        from ..api import DB_NAME

        return not os.path.exists(os.path.join(self.home, DB_NAME))

    def _forget_what_this_agent_made(self):
        """A simulated host's poll may have made its directory again under the
        deleted home: removed, with the parents it leaves empty."""
        import shutil

        if not self.home_deleted():
            return
        shutil.rmtree(os.path.join(self.home, "hosts", self.host_uuid), ignore_errors=True)
        for directory in (os.path.join(self.home, "hosts"), self.home):
            try:
                os.rmdir(directory)
            except OSError:
                break

    def reached(self, ok):
        """Tell the reachability tracker how the last attempt went; a store
        that is busy right now must not stop the agent (the next attempt retries)."""
        try:
            if ok:
                self.reach.found()
            else:
                self.reach.lost()
        except Exception as e:
            log(f"cannot record the host's reachability: {type(e).__name__}: {e}")

    def housekeeping(self):
        now = time.monotonic()
        if now - self._last_check >= HOUSEKEEPING:
            self._last_check = now
            if self.gone():
                self.sweep_if_home_gone()
                log("the host is gone: retiring")
                retire()

    # ------------------------------------------------------------ simulated hosts
    def run_simulated(self):
        from ..hypervisor import HypervisorError, driver_for
        from ..services.vm_state import FROM_HYPERVISOR

        driver = driver_for(self.host(), self.home)
        previous = None
        while not self.stopping:
            self.housekeeping()
            if self._db_missing():      # nothing to record into: do not poll (nor make files)
                time.sleep(POLL)
                continue
            try:
                states = driver.states()
            except HypervisorError as e:
                log(f"cannot list domains: {e}")
                previous = None
                self.reached(False)
                time.sleep(RECONNECT)
                continue
            if previous is None:
                self.reached(True)
                self.reconcile(states)
            else:
                for name, state in states.items():
                    if previous.get(name) != state and state in FROM_HYPERVISOR:
                        self.record(name, FROM_HYPERVISOR[state], "domain changed")
            previous = states
            time.sleep(POLL)

    # ------------------------------------------------------------ real hosts
    def run_libvirt(self, uri):
        import libvirt

        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        libvirt_events.start_event_loop(libvirt, log)
        while not self.stopping:
            self.housekeeping()
            conn = self._open(libvirt, uri)
            if conn is None:
                self.reached(False)
                time.sleep(RECONNECT)
                continue
            self.reached(True)
            try:
                self._serve(libvirt, conn)
            finally:
                libvirt_events.close(libvirt, conn)
            if not self.stopping:
                self.reached(False)         # the grace period runs from here
                time.sleep(RECONNECT)

    def _open(self, libvirt, uri):
        from ..hypervisor import HypervisorError

        try:
            conn = libvirt_events.open_watched(libvirt, uri, self._on_lifecycle,
                                               self._on_reboot, self._on_close)
        except HypervisorError as e:
            log(f"{e}; retrying")
            return None
        log(f"connected to {uri}; listening to domain events")
        return conn

    def _serve(self, libvirt, conn):
        """Reconcile, then record events until the connection closes."""
        from ..hypervisor.driver import domain_states

        self.events.put(("reconcile", None, None))
        while not self.stopping:
            self.housekeeping()
            try:
                kind, name, detail = self.events.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                if kind == "closed":
                    if detail is conn:
                        log("the connection closed; reconnecting")
                        return
                    continue
                if kind == "reconcile":
                    self.reconcile(domain_states(conn))
                elif kind == "reboot":
                    self.end_install_boot(name)
                elif kind == "state":
                    self.record(name, libvirt_events.confirm(libvirt, conn, name, detail),
                                "event")
            except libvirt.libvirtError as e:
                from ..hypervisor.driver import describe, is_connection_lost

                if is_connection_lost(e):
                    log(f"lost the connection: {describe(e)}; reconnecting")
                    return
                log(f"{kind} {name}: {describe(e)}")
            except Exception as e:      # one bad event must not stop the agent
                log(f"{kind} {name}: {type(e).__name__}: {e}")

    # event thread: queue only, never touch the store here
    def _on_lifecycle(self, _conn, dom, event, detail, _opaque):
        state = libvirt_events.state_of(event)
        if state is not None:
            self.events.put(("state", dom.name(), state))

    def _on_reboot(self, _conn, dom, _opaque):
        self.events.put(("reboot", dom.name(), None))

    def _on_close(self, conn, reason, _opaque):
        self.events.put(("closed", None, conn))

    # ------------------------------------------------------------ main
    def run(self):
        host = None if self.gone() else self.host()
        if host is None:
            log("no such host: retiring")
            retire()
            return
        uri = host["libvirtUri"] or ""
        self.simulated = uri.startswith("test:")
        if self.simulated:
            self.run_simulated()
        else:
            from .. import hypervisor

            self.run_libvirt(uri or hypervisor.default_uri(host["managementIp"]))


def _open_file_deleted(path):
    """This process holds ``path`` open, and that file was unlinked since: the
    kernel names it '<path> (deleted)'. Unlike an inode number, which a file
    made again at once may take over, that can not be mistaken."""
    deleted = path + " (deleted)"
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == deleted:
                return True
        except OSError:
            pass
    return False


def _dir_id(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def retire():
    """Stop the supervisor that would restart us (it stops us in turn), then exit."""
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        argv = []
    if any(a.startswith(b"--pidfile=") and a.endswith(b"/agent/supervisor.pid") for a in argv):
        try:
            os.kill(parent, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os._exit(0)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="host_agent")
    parser.add_argument("--home", required=True)
    parser.add_argument("--host", required=True)
    args = parser.parse_args(argv)
    agent = Agent(os.path.abspath(args.home), args.host)

    def on_term(_signum, _frame):
        agent.stopping = True
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log(f"watching host[uuid:{args.host}] of {args.home}")
    try:
        agent.run()
    except SystemExit:
        pass
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
