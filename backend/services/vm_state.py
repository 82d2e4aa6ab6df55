"""VM states: which operation each state allows, claiming a transition
atomically, and reconciling records with what the hypervisor says (SPEC §7.2)."""

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


def claim(ctx, uuid, operation, to_state=None):
    """Check the VM's state allows ``operation`` and, when ``to_state`` is
    given, move it there in the same transaction (so two shells can not start
    one VM twice). Returns the VM row as it was."""
    allowed = catalogue.APIS[operation].vm_states
    store = ctx.store
    with store.transaction():
        vm = store.get("VmInstanceVO", uuid)
        if vm["state"] not in allowed:
            raise state_error(uuid, vm["state"], operation, allowed)
        if to_state:
            store.update("VmInstanceVO", uuid, {"state": to_state, "lastOpDate": now()})
    return vm


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
        set_state(self.ctx, self.uuid, self.vm["state"])
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
        actual = FROM_HYPERVISOR.get(states.get(vm["uuid"]), "Stopped")
        if actual != vm["state"]:
            set_state(ctx, vm["uuid"], actual)
            sync_vm(ctx, vm["uuid"])
