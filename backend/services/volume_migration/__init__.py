"""LocalStorageMigrateVolume: a volume, its snapshots and its backing chain move to
another host of the same local primary storage (SPEC §11, the seed's section 3).

The steps, each safe to die in:

1. check, then in one transaction: record the intent (LocalStorageMigrationVO,
   which also reserves the bytes on the destination), mark the volume Migrating
   and a root volume's VM VolumeMigrating (nothing else may touch them meanwhile);
2. copy: the destination's image cache is reused or made; every file of the
   chain, oldest first, is written to a fixed temporary name there and checked
   in transit (storage/transfer.py), re-pointed (``qemu-img rebase -u``) at its
   destination backing file if its header names it by an absolute path, and
   renamed into place; then the chain is opened on the destination;
3. switch, in one transaction: the storage references, the VM's host and
   cluster; the intent says 'landing' (the volume stays Migrating, the VM
   VolumeMigrating);
4. landing (landing.py): every file is flushed on the destination and its
   checksum, read back from the disk, compared with the source's; then, in one
   durable transaction, the volume's status and the VM's state come back and
   the intent says 'switched';
5. the source's files go, the VM's domain leaves the source host, the intent
   is deleted (and with it the reservation).

Until the landing's check has passed the source is untouched: a failure (or a
process killed, found later by whoever takes the intent's lock) removes what
was written on the destination, puts the records and states back, so the VM
starts on its old host, and a rerun starts over. After it a failure only
leaves source files to delete, which the clean-up finishes. In a shell session
steps 4 and 5 run after the reply (Backend.after_reply), as cp leaves its
copy's write-back to the kernel.

The modules, each importing only those before it: ``rules`` (the checks and
the plan), ``copying`` (step 2), ``intent`` (steps 1, 3 and 5, and the roll
back), ``landing`` (step 4), ``recovery`` (the volume's lock and what a dead process left); this one
holds the API. A test patches a step where it is defined: every caller
reaches it through its module.
"""

from ... import catalogue, hypervisor
from ...i18n import msg
from ...errors import operr
from ...storage import StorageError
from ...store.query import inventories
from . import copying, landing, rules
from . import intent as intents
from . import recovery
from .recovery import guard, recover_all
from .rules import files_of

__all__ = ["migrate_volume", "reference", "migrate_vm", "guard", "recover_all", "files_of"]

# -- the API --------------------------------------------------------------------------------------

def migrate_volume(ctx, p):
    volume_uuid, dst_uuid = p["volumeUuid"], p["destHostUuid"]
    with recovery._operation_lock(ctx, volume_uuid, wait=False) as held:
        recovery._recover(ctx, volume_uuid)
        if intents._rerun_of_finished(ctx, volume_uuid, dst_uuid):
            return reference(ctx, volume_uuid)
        plan = rules._check(ctx, volume_uuid, dst_uuid)
        intent = intents._begin(ctx, plan)
        try:
            expected = copying._copy_chain(ctx, plan, intent)
            intents._switch(ctx, intent, expected)      # one transaction: all of it, or none
        except BaseException as e:
            intents._roll_back(ctx, intent, plan["dst_files"])
            if isinstance(e, (StorageError, hypervisor.HypervisorError)):
                raise operr(msg("failed to migrate the volume[uuid:{volume_uuid}] to the "
                                "host[uuid:{dst_uuid}]: {error}; it stays on the "
                                "host[uuid:{src_host}]",
                                volume_uuid=volume_uuid, dst_uuid=dst_uuid, error=e,
                                src_host=plan['src_host']['uuid'])) from None
            raise
        ctx.backend.after_reply(
            ctx, lambda ctx: landing.land(ctx, intent, plan["src_files"], plan["dst_files"]),
            held.pass_on().release, msg("the landing of the volume[uuid:{volume_uuid}] on the "
                                        "host[uuid:{dst_uuid}]", volume_uuid=volume_uuid,
                                        dst_uuid=dst_uuid))
    return reference(ctx, volume_uuid)


def reference(ctx, volume_uuid):
    """The volume's LocalStorageResourceRef inventory (the API's reply)."""
    row = ctx.store.get("LocalStorageResourceRefVO", volume_uuid, key="resourceUuid")
    resource = catalogue.RESOURCES["LocalStorageResourceRefVO"]
    return inventories(ctx.store, catalogue.RESOURCES, resource, [row])[0]


def migrate_vm(ctx, p):
    """MigrateVm: live migration needs shared storage; with local storage it would
    be a live migration with storage, which the seed turns off at the API because
    KVM's corrupted disks under load. The cold way is named instead."""
    from ..vm_state import claim

    vm = claim(ctx, p["vmInstanceUuid"], "MigrateVm")
    raise operr(msg("the VM[uuid:{vm}] uses local primary storage: live migration with storage "
                    "is disabled (it can corrupt the disk under load). Migrate it cold: "
                    "StopVmInstance, LocalStorageMigrateVolume volumeUuid={rootVolumeUuid} "
                    "destHostUuid={hostUuid}, StartVmInstance",
                    vm=vm['uuid'], rootVolumeUuid=vm['rootVolumeUuid'], hostUuid=p['hostUuid']))
