"""VM states: which operation each state allows, claiming a transition
atomically, and reconciling records with what the hypervisor says (SPEC §7.2)."""

import os

from .. import catalogue
from ..i18n import msg
from ..errors import ApiError, VM_STATE, operr
from ..clock import now

# libvirt's word (through the driver) -> ours
FROM_HYPERVISOR = {"Running": "Running", "Paused": "Paused", "Stopped": "Stopped",
                   "Crashed": "Crashed"}


def state_error(uuid, state, operation, allowed):
    details = msg("current vm instance state[{state}] doesn't allow to proceed message"
                  "[API{operation}Msg], allowed states are [{allowed}]",
                  state=state, operation=operation, allowed=", ".join(allowed))
    cause = ApiError(VM_STATE, details)
    return operr(msg("the VM[uuid:{uuid}] is {state}: {details}",
                     uuid=uuid, state=state, details=details), cause)


# States an operation holds a VM in while it talks to the host; the process doing
# so owns it (VmTransitionVO). Migrations have their own records (volume_migration).
TRANSITIONAL = ("Starting", "Stopping", "Rebooting", "Destroying")


def claim(ctx, uuid, operation, to_state=None):
    """Check the VM's state allows ``operation`` and, when ``to_state`` is
    given, move it there in the same transaction (so two shells can not start
    one VM twice). Returns the VM row as it was, with ``_owner``: who held it
    before (a VmTransitionVO row as a tuple, or None), for ``transition`` to
    give back when the operation fails."""
    allowed = catalogue.APIS[operation].vm_states
    store = ctx.store
    vm = store.get("VmInstanceVO", uuid)
    if vm["state"] in TRANSITIONAL:
        take_back_from_the_dead(ctx, uuid)
    with store.transaction():
        vm = store.get("VmInstanceVO", uuid)
        if vm["state"] not in allowed:
            raise state_error(uuid, vm["state"], operation, allowed)
        vm["_owner"] = _owner(store, uuid)
        if to_state:
            store.update("VmInstanceVO", uuid, {"state": to_state, "lastOpDate": now()})
            if to_state in TRANSITIONAL:
                own(store, uuid)
    return vm


def own(store, vm_uuid, owner=None):
    """This process (or ``owner``, a row as ``_owner`` gives it) holds the VM in a
    transitional state (inside a transaction)."""
    if owner is None:
        pid = os.getpid()
        owner = (pid, _started(pid), now())
    store.conn.execute("INSERT OR REPLACE INTO VmTransitionVO (vmUuid, pid, started, "
                       "createDate) VALUES (?, ?, ?, ?)", (vm_uuid, *owner))


def _owner(store, vm_uuid):
    row = store.row("SELECT pid, started, createDate FROM VmTransitionVO WHERE vmUuid = ?",
                    (vm_uuid,))
    return None if row is None else tuple(row)


def owner_alive(store, vm_uuid):
    """True when a live process holds the VM; False when its holder died; None
    when nobody is recorded."""
    owner = _owner(store, vm_uuid)
    return None if owner is None else _started(owner[0]) == owner[1]


def take_back_from_the_dead(ctx, uuid, states=None):
    """A VM left in a transitional state by a process that died on the way (kill
    -9, a crash) takes the state its domain shows, as a reconnect would give it;
    True when it did. A live owner (another shell still working) keeps it. A
    domain that exists means every disk was made (they turn Ready); disks a
    killed create left Creating with no domain are the next start's to make
    again, under its own claim (start_vm)."""
    from . import hosts
    from .. import hypervisor

    store = ctx.store
    owner = _owner(store, uuid)
    if owner is None or _started(owner[0]) == owner[1]:
        return False
    vm = store.get("VmInstanceVO", uuid)
    if states is None:
        host = store.get("HostVO", vm["hostUuid"]) if vm["hostUuid"] else None
        try:
            states = hosts.driver(ctx, host).states() if host else {}
        except hypervisor.HypervisorError:
            return False                # the host tells nothing now: left as it is
    with store.transaction():
        current = store.get("VmInstanceVO", uuid)
        if current["state"] != vm["state"] or _owner(store, uuid) != owner:
            return False                # someone else took it meanwhile
        if uuid in states:
            disks_made(store, uuid)
        set_state(ctx, uuid, FROM_HYPERVISOR.get(states.get(uuid), "Stopped"))
    from .flat import sync_vm

    sync_vm(ctx, uuid)
    return True


def disks_made(store, vm_uuid):
    """The VM has a domain, which is defined only after every disk of it was made:
    disks a killed create left Creating are whole (and may hold guest data now)."""
    store.conn.execute("UPDATE VolumeVO SET status = 'Ready', lastOpDate = ? WHERE "
                       "vmInstanceUuid = ? AND status = 'Creating'", (now(), vm_uuid))


def _started(pid):
    """The process's start time (clock ticks since boot), or None when it is gone or
    a zombie: with the pid, it names one process (pids are reused)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


class transition:
    """``with transition(ctx, uuid, "StopVmInstance", "Stopping", "Stopped", msg("stop")) as vm:``

    Claims the VM (its state must allow the operation) and shows ``during``
    while the body talks to the host; then ``after``. If the body fails, the
    VM gets its previous state back: never left Starting or Stopping. A host
    or storage failure becomes a SYS.1006 naming what failed.
    """

    def __init__(self, ctx, uuid, operation, during, after, verb):
        self.ctx, self.uuid, self.operation = ctx, uuid, operation
        self.during, self.after, self.verb = during, after, verb
        self.vm = None

    def __enter__(self):
        self.vm = claim(self.ctx, self.uuid, self.operation, self.during)
        return self.vm

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self.after:
                set_state(self.ctx, self.uuid, self.after)
            return False
        with self.ctx.store.transaction():
            set_state(self.ctx, self.uuid, self.vm["state"])
            if self.vm["state"] in TRANSITIONAL:
                # (a Stop of a VM another process is starting, failed): that
                # process holds it again, not this one.
                if self.vm["_owner"] is None:
                    self.ctx.store.delete("VmTransitionVO", self.uuid, key="vmUuid")
                else:
                    own(self.ctx.store, self.uuid, self.vm["_owner"])
        from ..hypervisor import HypervisorError
        from ..storage import StorageError

        if isinstance(exc, (HypervisorError, StorageError)):
            raise operr(msg("failed to {verb} the VM[uuid:{uuid}]: {error}",
                            verb=self.verb, uuid=self.uuid, error=exc)) from None
        return False


def set_state(ctx, uuid, state, **columns):
    from .capacity import recount_host

    store = ctx.store
    with store.transaction():
        vm = store.get("VmInstanceVO", uuid)
        store.update("VmInstanceVO", uuid, {"state": state, "lastOpDate": now(), **columns})
        if state not in TRANSITIONAL:
            store.delete("VmTransitionVO", uuid, key="vmUuid")
        for host_uuid in {vm["hostUuid"], columns.get("hostUuid")} - {None}:
            recount_host(ctx, host_uuid)


def reconcile_host(ctx, host_uuid):
    """After (re)connecting: every VM of the host takes the state its domain has."""
    from . import hosts

    store = ctx.store
    host = store.get("HostVO", host_uuid)
    states = hosts.driver(ctx, host).states()
    vms = store.rows("SELECT uuid, state FROM VmInstanceVO WHERE hostUuid = ? AND state NOT IN "
                     "('Destroyed', 'Created')", (host_uuid,))
    from .flat import sync_vm

    for vm in vms:
        if vm["state"] in TRANSITIONAL and owner_alive(store, vm["uuid"]) is not None:
            # An operation holds it: its own to finish if alive, else taken back.
            take_back_from_the_dead(ctx, vm["uuid"], states)
            continue
        actual = FROM_HYPERVISOR.get(states.get(vm["uuid"]), "Stopped")
        if actual != vm["state"]:
            with store.transaction():
                if vm["uuid"] in states:
                    disks_made(store, vm["uuid"])
                set_state(ctx, vm["uuid"], actual)
            sync_vm(ctx, vm["uuid"])
