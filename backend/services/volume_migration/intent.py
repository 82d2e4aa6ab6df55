"""The life of a LocalStorageMigrateVolume's intent (LocalStorageMigrationVO,
SPEC §11): begun with its reservation, switched in one transaction, finished
by removing the source's files, or rolled back before the switch."""

import contextlib
import json

from ... import hypervisor
from ...i18n import msg
from ...errors import ApiError, argerr, operr
from ...storage import StorageError, transfer
from ...clock import now
from .. import hosts
from ..capacity import recount_host_storage
from . import rules

VM_PLACE = ("hostUuid", "lastHostUuid", "clusterUuid", "zoneUuid")

# -- 1. the intent --------------------------------------------------------------------------------

def _begin(ctx, plan):
    store = ctx.store
    volume, vm, ps, dst = plan["volume"], plan["vm"], plan["ps"], plan["dst_host"]
    stamp = now()
    with store.transaction():
        # Again inside the write lock: another shell may have started the VM since.
        fresh = store.get("VolumeVO", volume["uuid"])
        if fresh["status"] != "Ready":
            raise argerr(msg("the volume[uuid:{volume}] is {status}; only a Ready volume can be "
                             "migrated", volume=volume['uuid'], status=fresh['status']))
        if vm is not None:
            rules._check_root_vm(ctx, volume, store.get("VmInstanceVO", vm["uuid"]))
        elif fresh["vmInstanceUuid"]:
            raise argerr(msg("the data volume[uuid:{volume_uuid}, name: {name}] is still "
                             "attached to the VM[uuid:{vm}]. Please detach it before migration",
                             volume_uuid=volume["uuid"], name=fresh["name"],
                             vm=fresh["vmInstanceUuid"]))
        free = store.value("SELECT availableCapacity FROM LocalStorageHostRefVO WHERE "
                           "primaryStorageUuid = ? AND hostUuid = ?", (ps["uuid"], dst["uuid"]))
        if free < plan["need"]:
            raise operr(msg("the host[uuid:{dst}] has {free} bytes of local storage free; the "
                            "volume[uuid:{volume}] and its snapshots need {size}",
                            dst=dst['uuid'], free=free, volume=volume['uuid'], size=plan['need']))
        intent = {"volumeUuid": volume["uuid"], "primaryStorageUuid": ps["uuid"],
                  "srcHostUuid": plan["src_host"]["uuid"], "dstHostUuid": dst["uuid"],
                  "vmInstanceUuid": vm["uuid"] if vm else None,
                  "vmState": vm["state"] if vm else None, "volumeStatus": fresh["status"],
                  "files": json.dumps(plan["paths"]), "size": plan["size"],
                  "vmPlace": json.dumps({k: vm[k] for k in VM_PLACE}) if vm else None,
                  "stage": "copying", "createDate": stamp, "lastOpDate": stamp}
        store.insert("LocalStorageMigrationVO", intent)
        store.update("VolumeVO", volume["uuid"], {"status": "Migrating", "lastOpDate": stamp})
        if vm is not None:
            store.update("VmInstanceVO", vm["uuid"], {"state": "VolumeMigrating",
                                                      "lastOpDate": stamp})
        recount_host_storage(ctx, ps["uuid"], dst["uuid"])
    return intent



# -- 3. the switch, 4. the clean-up -----------------------------------------------------------

def _switch(ctx, intent, expected=None):
    """The records name the destination; the volume stays Migrating and its VM
    VolumeMigrating until the landing has checked the copy from the disk.
    ``expected``: checksums of files whose header was rewritten on the way."""
    store = ctx.store
    volume_uuid, dst_uuid = intent["volumeUuid"], intent["dstHostUuid"]
    stamp = now()
    with store.transaction():
        _still_as_planned(ctx, intent)
        _point_at(ctx, intent, dst_uuid, stamp)
        if intent["vmInstanceUuid"]:
            dst = store.get("HostVO", dst_uuid)
            store.update("VmInstanceVO", intent["vmInstanceUuid"], {
                "hostUuid": dst_uuid, "lastHostUuid": intent["srcHostUuid"],
                "clusterUuid": dst["clusterUuid"], "zoneUuid": dst["zoneUuid"],
                "lastOpDate": stamp})
        # The reservation stays, on the source now (capacity.used_on): its files
        # remain there until the landing, which may yet put the volume back.
        changes = {"stage": "landing", "expected": json.dumps(expected or {}),
                   "lastOpDate": stamp}
        store.update("LocalStorageMigrationVO", volume_uuid, changes, key="volumeUuid")
        intent.update(changes)
        for host in (intent["srcHostUuid"], dst_uuid):
            recount_host_storage(ctx, intent["primaryStorageUuid"], host)


def _point_at(ctx, intent, host_uuid, stamp):
    """The volume's and its snapshots' storage references name ``host_uuid``."""
    ctx.store.conn.execute(
        "UPDATE LocalStorageResourceRefVO SET hostUuid = ?, lastOpDate = ? WHERE "
        "resourceUuid = ? OR resourceUuid IN (SELECT uuid FROM VolumeSnapshotVO WHERE "
        "volumeUuid = ?)", (host_uuid, stamp, intent["volumeUuid"], intent["volumeUuid"]))


def _unswitch(ctx, intent, stamp):
    """A landing that failed: the records name the source host again, the VM is
    where it was."""
    store = ctx.store
    _point_at(ctx, intent, intent["srcHostUuid"], stamp)
    place = json.loads(intent.get("vmPlace") or "null")
    if place and intent["vmInstanceUuid"] and store.get("VmInstanceVO",
                                                        intent["vmInstanceUuid"]):
        store.update("VmInstanceVO", intent["vmInstanceUuid"], {**place, "lastOpDate": stamp})


def _still_as_planned(ctx, intent):
    """Inside the switch's transaction: the volume is still the one being moved,
    with the files that were copied, and the destination host still exists."""
    store = ctx.store
    volume = store.get("VolumeVO", intent["volumeUuid"])
    files = [volume["installPath"]] if volume else []
    files += [r[0] for r in store.rows("SELECT primaryStorageInstallPath FROM VolumeSnapshotVO "
                                       "WHERE volumeUuid = ?", (intent["volumeUuid"],))]
    if volume is None or volume["status"] != "Migrating" or \
            sorted(files) != sorted(json.loads(intent["files"])) or \
            store.get("HostVO", intent["dstHostUuid"]) is None:
        raise operr(msg("the volume[uuid:{volume}] or its destination host changed while it "
                        "was being copied; the migration is undone",
                        volume=intent["volumeUuid"]))


def _finish(ctx, intent, src_files, recovered=False):
    """After the switch: the source's files, the VM's domain there, the intent.
    Finished for a process that died (``recovered``), the intent stays as a note
    so that rerunning the same command reports the migration done. Source files
    that can not be removed now keep the intent as 'cleanup-src'."""
    left = _remove_all(src_files, json.loads(intent["files"]))
    if intent["vmInstanceUuid"]:
        _leave_source_host(ctx, intent)
    stage = "cleanup-src" if left else "recovered" if recovered else None
    _settle(ctx, intent, stage)


def _remove_all(files, paths):
    """Remove every file (and its temporary name); True when some could not be."""
    left = False
    for logical in paths:
        for path in (transfer.temp_name(logical), logical):
            try:
                files().remove(path) if callable(files) else files.remove(path)
            except (StorageError, ApiError):
                left = True
    return left


def _settle(ctx, intent, stage):
    """Delete the intent, or keep it at ``stage`` (its reservation already gone)."""
    with ctx.store.transaction():
        if stage:
            ctx.store.update("LocalStorageMigrationVO", intent["volumeUuid"],
                             {"stage": stage, "size": 0, "lastOpDate": now()}, key="volumeUuid")
        else:
            ctx.store.delete("LocalStorageMigrationVO", intent["volumeUuid"], key="volumeUuid")


def _rerun_of_finished(ctx, volume_uuid, dst_uuid):
    """True when the last migration of the volume, to ``dst_uuid``, was finished by
    a clean-up after its process died: this call is its rerun, and is done."""
    store = ctx.store
    note = store.get("LocalStorageMigrationVO", volume_uuid, key="volumeUuid")
    if note is None or note["stage"] != "recovered":
        return False
    with store.transaction():
        store.delete("LocalStorageMigrationVO", volume_uuid, key="volumeUuid")
    return note["dstHostUuid"] == dst_uuid and \
        store.value("SELECT hostUuid FROM LocalStorageResourceRefVO WHERE resourceUuid = ?",
                    (volume_uuid,)) == dst_uuid


def _leave_source_host(ctx, intent):
    from ..flat import sync

    store = ctx.store
    src = store.get("HostVO", intent["srcHostUuid"])
    if src is not None:
        with contextlib.suppress(hypervisor.HypervisorError):
            hosts.driver(ctx, src).undefine(intent["vmInstanceUuid"])
        for (l3,) in store.rows("SELECT DISTINCT l3NetworkUuid FROM VmNicVO WHERE "
                                "vmInstanceUuid = ?", (intent["vmInstanceUuid"],)):
            # The VM is stopped: its entries are gone already; this only tidies up,
            # and must not fail a migration that is done.
            with contextlib.suppress(ApiError, hypervisor.HypervisorError):
                sync(ctx, src["uuid"], l3)


def _roll_back(ctx, intent, dst_files):
    """Before the switch, or after it when the landing failed (the records are
    put back with everything else): put the states back and return the reservation first
    (they do not depend on reaching the destination), then remove what the
    destination got; what can not be removed now keeps the intent as
    'cleanup-dst'. ``dst_files``: the destination's HostFiles, or a function
    returning them (it may fail: the host is out of reach)."""
    store = ctx.store
    with store.transaction():
        if intent["stage"] == "landing":
            _unswitch(ctx, intent, now())
        volume = store.get("VolumeVO", intent["volumeUuid"])
        if volume is not None and volume["status"] == "Migrating":
            store.update("VolumeVO", intent["volumeUuid"], {"status": intent["volumeStatus"],
                                                            "lastOpDate": now()})
        vm = store.get("VmInstanceVO", intent["vmInstanceUuid"]) \
            if intent["vmInstanceUuid"] else None
        if vm is not None and vm["state"] == "VolumeMigrating":
            store.update("VmInstanceVO", vm["uuid"], {"state": intent["vmState"],
                                                      "lastOpDate": now()})
        store.update("LocalStorageMigrationVO", intent["volumeUuid"],
                     {"stage": "cleanup-dst", "size": 0, "lastOpDate": now()}, key="volumeUuid")
        for host in (intent["srcHostUuid"], intent["dstHostUuid"]):
            recount_host_storage(ctx, intent["primaryStorageUuid"], host)
    left = _remove_all(dst_files, json.loads(intent["files"]))
    _settle(ctx, intent, "cleanup-dst" if left else None)
