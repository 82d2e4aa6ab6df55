"""LocalStorageMigrateVolume: a volume, its snapshots and its backing chain move to
another host of the same local primary storage (SPEC §11, the seed's section 3).

The steps, each safe to die in:

1. check, then in one transaction: record the intent (LocalStorageMigrationVO,
   which also reserves the bytes on the destination), mark the volume Migrating
   and a root volume's VM VolumeMigrating (nothing else may touch them meanwhile);
2. copy: the destination's image cache is reused or made; every file of the
   chain, oldest first, is written to a fixed temporary name there, its checksum
   compared with the source's, re-pointed (``qemu-img rebase -u``) at its
   destination backing file, made durable and renamed into place; then the
   whole chain is opened on the destination (``qemu-img info --backing-chain``);
3. switch, in one transaction: the storage references, the VM's host and
   cluster, the volume's status and the VM's state; the intent says 'switched';
4. the source's files go, the VM's domain leaves the source host, the intent
   is deleted (and with it the reservation).

Until the switch the source is the volume: a failure (or a process killed, found
later by whoever takes the intent's lock) removes what was written on the
destination and puts the states back, so the VM starts on its old host and a
rerun starts over. After the switch a failure only leaves source files to
delete, which the clean-up finishes.
"""

import contextlib
import fcntl
import json
import os

from .. import catalogue, hypervisor
from ..i18n import msg
from ..errors import ApiError, argerr, operr
from ..storage import StorageError, transfer
from ..store.query import inventories
from . import hosts
from .capacity import recount_host_storage
from ..clock import now
from .imagecache import ensure_cache

# -- the API --------------------------------------------------------------------------------------

def migrate_volume(ctx, p):
    volume_uuid, dst_uuid = p["volumeUuid"], p["destHostUuid"]
    with _operation_lock(ctx, volume_uuid, wait=False):
        _recover(ctx, volume_uuid)
        if _rerun_of_finished(ctx, volume_uuid, dst_uuid):
            return reference(ctx, volume_uuid)
        plan = _check(ctx, volume_uuid, dst_uuid)
        intent = _begin(ctx, plan)
        try:
            _copy_chain(ctx, plan, intent)
            _verify_chain(plan)
            _switch(ctx, intent)        # one transaction: all of it, or none of it
        except BaseException as e:
            _roll_back(ctx, intent, plan["dst_files"])
            if isinstance(e, (StorageError, hypervisor.HypervisorError)):
                raise operr(msg("failed to migrate the volume[uuid:{volume_uuid}] to the "
                                "host[uuid:{dst_uuid}]: {error}; it stays on the "
                                "host[uuid:{src_host}]",
                                volume_uuid=volume_uuid, dst_uuid=dst_uuid, error=e,
                                src_host=plan['src_host']['uuid'])) from None
            raise
        _finish(ctx, intent, plan["src_files"])
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
    from .vm_state import claim

    vm = claim(ctx, p["vmInstanceUuid"], "MigrateVm")
    raise operr(msg("the VM[uuid:{vm}] uses local primary storage: live migration with storage "
                    "is disabled (it can corrupt the disk under load). Migrate it cold: "
                    "StopVmInstance, LocalStorageMigrateVolume volumeUuid={rootVolumeUuid} "
                    "destHostUuid={hostUuid}, StartVmInstance",
                    vm=vm['uuid'], rootVolumeUuid=vm['rootVolumeUuid'], hostUuid=p['hostUuid']))


# -- 0. rules ---------------------------------------------------------------------------------------

def _check(ctx, volume_uuid, dst_uuid):
    store = ctx.store
    volume = store.get("VolumeVO", volume_uuid)
    ref = store.get("LocalStorageResourceRefVO", volume_uuid, key="resourceUuid")
    ps = store.get("PrimaryStorageVO", ref["primaryStorageUuid"]) if ref else None
    if ps is None or ps["type"] != "LocalStorage":
        raise argerr(msg("the volume[uuid:{volume_uuid}] is not on any local primary storage",
                         volume_uuid=volume_uuid))
    if ref["hostUuid"] == dst_uuid:
        raise argerr(msg("the volume[uuid:{volume_uuid}] is already on the host[uuid:{dst_uuid}]",
                         volume_uuid=volume_uuid, dst_uuid=dst_uuid))
    dst_host = store.get("HostVO", dst_uuid)
    if not store.row("SELECT 1 FROM LocalStorageHostRefVO WHERE primaryStorageUuid = ? AND "
                     "hostUuid = ?", (ps["uuid"], dst_uuid)):
        raise argerr(msg("the host[uuid:{dst_uuid}] does not belong to the local primary "
                         "storage[uuid:{ps}] of the volume[uuid:{volume_uuid}]",
                         dst_uuid=dst_uuid, ps=ps['uuid'], volume_uuid=volume_uuid))
    if volume["status"] != "Ready":
        raise argerr(msg("the volume[uuid:{volume_uuid}] is {status}; only a Ready volume can be "
                         "migrated", volume_uuid=volume_uuid, status=volume['status']))
    vm = store.get("VmInstanceVO", volume["vmInstanceUuid"]) if volume["vmInstanceUuid"] \
        else None
    if vm is not None and volume["type"] == "Data":
        raise argerr(msg("the data volume[uuid:{volume_uuid}, name: {name}] is still attached to "
                         "the VM[uuid:{vm}]. Please detach it before migration",
                         volume_uuid=volume_uuid, name=volume['name'], vm=vm['uuid']))
    if vm is not None:
        _check_root_vm(ctx, volume, vm)
    if dst_host["status"] != "Connected" or dst_host["state"] != "Enabled":
        raise operr(msg("the host[uuid:{dst_uuid}] is {status} and {state}; a volume can only "
                        "move to a Connected, Enabled host",
                        dst_uuid=dst_uuid, status=dst_host['status'], state=dst_host['state']))
    src_host = store.get("HostVO", ref["hostUuid"])
    src_files, dst_files = files_of(ctx, src_host), files_of(ctx, dst_host)
    if src_files.same_storage(dst_files, ps["url"]):
        raise operr(msg("the hosts[uuid:{src_host}, uuid:{dst_uuid}] share one storage "
                        "directory: there is nothing to move",
                        src_host=src_host['uuid'], dst_uuid=dst_uuid))
    paths = [volume["installPath"]] + [r[0] for r in store.rows(
        "SELECT primaryStorageInstallPath FROM VolumeSnapshotVO WHERE volumeUuid = ?",
        (volume_uuid,))]
    size = store.value("SELECT COALESCE(SUM(size), 0) FROM LocalStorageResourceRefVO WHERE "
                       "resourceUuid = ? OR resourceUuid IN (SELECT uuid FROM VolumeSnapshotVO "
                       "WHERE volumeUuid = ?)", (volume_uuid, volume_uuid))
    return {"volume": volume, "vm": vm, "ps": ps, "src_host": src_host, "dst_host": dst_host,
            "src_files": src_files, "dst_files": dst_files, "paths": paths, "size": size,
            "need": size + _cache_to_make(ctx, volume, ps, dst_uuid)}


def _cache_to_make(ctx, volume, ps, dst_uuid):
    """Bytes of the image cache the destination will have to make first (its
    record accounts for them then; they must fit now)."""
    store = ctx.store
    image = store.get("ImageVO", volume["rootImageUuid"]) if volume["rootImageUuid"] else None
    if image is None or store.row("SELECT 1 FROM ImageCacheVO WHERE primaryStorageUuid = ? AND "
                                  "hostUuid = ? AND imageUuid = ?",
                                  (ps["uuid"], dst_uuid, image["uuid"])):
        return 0
    return image["actualSize"] or 0


def _check_root_vm(ctx, volume, vm):
    if vm["state"] != "Stopped":
        raise operr(msg("the volume[uuid:{volume}] is the root volume of the vm[uuid:{vm}]. "
                        "Currently the vm is in state of {state}, please stop it before "
                        "migration", volume=volume['uuid'], vm=vm['uuid'], state=vm['state']))
    attached = ctx.store.value("SELECT COUNT(*) FROM VolumeVO WHERE vmInstanceUuid = ? AND "
                               "type = 'Data'", (vm["uuid"],))
    if attached:
        raise operr(msg("the volume[uuid:{volume}] is the root volume of the vm[uuid:{vm}]. "
                        "Currently the vm still has {attached} data volumes attached, please "
                        "detach them before migration",
                        volume=volume['uuid'], vm=vm['uuid'], attached=attached))


def files_of(ctx, host):
    """How this machine reaches the host's files."""
    try:
        root = hosts.driver(ctx, host).local_path("/")
    except hypervisor.HostUnreachable as e:
        raise operr(msg("cannot reach the files of the host[uuid:{host}]: {error}",
                        host=host['uuid'], error=e)) from None
    except hypervisor.HypervisorError:      # a remote host: its files are over there
        return transfer.SshFiles(host["managementIp"], host.get("username") or "root")
    return transfer.LocalFiles(root.rstrip("/"))


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
            _check_root_vm(ctx, volume, store.get("VmInstanceVO", vm["uuid"]))
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
                  "stage": "copying", "createDate": stamp, "lastOpDate": stamp}
        store.insert("LocalStorageMigrationVO", intent)
        store.update("VolumeVO", volume["uuid"], {"status": "Migrating", "lastOpDate": stamp})
        if vm is not None:
            store.update("VmInstanceVO", vm["uuid"], {"state": "VolumeMigrating",
                                                      "lastOpDate": stamp})
        recount_host_storage(ctx, ps["uuid"], dst["uuid"])
    return intent


# -- 2. the copy ----------------------------------------------------------------------------------

def _copy_chain(ctx, plan, intent):
    """Oldest file first, so each file's new backing file is there before it."""
    src, dst = plan["src_files"], plan["dst_files"]
    moving = set(plan["paths"])
    chain = []
    path = plan["volume"]["installPath"]
    while path is not None and path in moving:
        chain.append(path)
        path, _ = src.backing(path)
    base = path                         # an image cache (or nothing): not ours to move
    if set(chain) != moving:
        raise StorageError(msg("the backing chain of {path} does not hold exactly the volume "
                               "and its snapshots", path=plan['volume']['installPath']))
    if base is not None:
        _ensure_base(ctx, plan, base)
    _ensure_iso(ctx, plan)
    total = len(chain)
    for n, logical in enumerate(reversed(chain), start=1):
        copy_file(ctx, src, dst, logical, msg("copy {n}/{total}", n=n, total=total))


def _ensure_base(ctx, plan, base):
    """The image cache the chain rests on, reused or made on the destination."""
    store = ctx.store
    cache = store.row("SELECT * FROM ImageCacheVO WHERE hostUuid = ? AND installPath = ?",
                      (plan["src_host"]["uuid"], base))
    image = store.get("ImageVO", cache["imageUuid"]) if cache else None
    if cache is None:
        raise StorageError(msg("the volume rests on {base}, which is not the cache of an image "
                               "this cloud still has: it can not be made on the destination",
                               base=base))
    if image is None:
        _copy_orphan_cache(ctx, plan, dict(cache))
        return
    made = ensure_cache(ctx, image, plan["dst_host"], plan["ps"])
    if made != base:
        raise StorageError(msg("the image cache on the destination is {made}, not {base}",
                               made=made, base=base))


def _copy_orphan_cache(ctx, plan, cache):
    """The cache of an image deleted since (its volumes still rest on it) can not
    be made from backup storage: it is copied from the source like the chain,
    checksum and all, and recorded for the destination."""
    dst = plan["dst_host"]
    if not ctx.store.row("SELECT 1 FROM ImageCacheVO WHERE primaryStorageUuid = ? AND "
                         "hostUuid = ? AND imageUuid = ?",
                         (cache["primaryStorageUuid"], dst["uuid"], cache["imageUuid"])):
        copy_file(ctx, plan["src_files"], plan["dst_files"], cache["installPath"],
                  msg("copy the image cache"))
        with ctx.store.transaction():
            ctx.store.insert("ImageCacheVO", {**cache, "hostUuid": dst["uuid"],
                                              "createDate": now()})
            recount_host_storage(ctx, cache["primaryStorageUuid"], dst["uuid"])


def _ensure_iso(ctx, plan):
    """A VM moving with an ISO in its drive finds the ISO on its new host."""
    from .vm_spec import attached_iso

    if plan["vm"] is None:
        return
    iso = attached_iso(ctx, plan["vm"]["uuid"])
    image = ctx.store.get("ImageVO", iso) if iso else None
    if iso and image is None:
        raise StorageError(msg("the VM's ISO[uuid:{iso}] is no longer in the cloud: detach it "
                               "(DetachIsoFromVmInstance) to migrate the VM", iso=iso))
    if image is not None:
        ensure_cache(ctx, image, plan["dst_host"], plan["ps"])


def copy_file(ctx, src, dst, logical, label):
    """One file: copy to the temporary name, compare checksums, re-point, publish."""
    tmp = transfer.temp_name(logical)
    digest = transfer.copy(src, logical, dst, tmp,
                           lambda done, total: ctx.progress(label, done, total))
    verify_copy(dst, tmp, digest, logical)
    backing, fmt = src.backing(logical)
    if backing is not None:
        dst.rebase(tmp, backing, fmt)
    dst.publish(tmp, logical)


def verify_copy(dst, tmp, digest, logical):
    found = dst.durable_digest(tmp)
    if found != digest:
        raise StorageError(msg("the copy of {logical} does not match the source (checksum {found} "
                               "instead of {digest})", logical=logical, found=found, digest=digest))


def _verify_chain(plan):
    """The whole chain opens on the destination (every backing file is there)."""
    dst = plan["dst_files"]
    path = plan["volume"]["installPath"]
    while path is not None:
        if not dst.exists(path):
            raise StorageError(msg("{path} is missing on the destination", path=path))
        path, _ = dst.backing(path) if path in plan["paths"] else (None, None)


# -- 3. the switch, 4. the clean-up -----------------------------------------------------------

def _switch(ctx, intent):
    """Durably (synchronous=FULL: the source is deleted right after, so the commit
    must survive a power cut, not only a killed process)."""
    store = ctx.store
    store.conn.execute("PRAGMA synchronous = FULL")
    try:
        _switch_records(ctx, intent)
    finally:
        store.conn.execute("PRAGMA synchronous = NORMAL")


def _switch_records(ctx, intent):
    store = ctx.store
    volume_uuid, dst_uuid = intent["volumeUuid"], intent["dstHostUuid"]
    stamp = now()
    with store.transaction():
        _still_as_planned(ctx, intent)
        store.conn.execute(
            "UPDATE LocalStorageResourceRefVO SET hostUuid = ?, lastOpDate = ? WHERE "
            "resourceUuid = ? OR resourceUuid IN (SELECT uuid FROM VolumeSnapshotVO WHERE "
            "volumeUuid = ?)", (dst_uuid, stamp, volume_uuid, volume_uuid))
        store.update("VolumeVO", volume_uuid, {"status": intent["volumeStatus"],
                                               "lastOpDate": stamp})
        if intent["vmInstanceUuid"]:
            dst = store.get("HostVO", dst_uuid)
            store.update("VmInstanceVO", intent["vmInstanceUuid"], {
                "hostUuid": dst_uuid, "lastHostUuid": intent["srcHostUuid"],
                "clusterUuid": dst["clusterUuid"], "zoneUuid": dst["zoneUuid"],
                "state": intent["vmState"], "lastOpDate": stamp})
        store.update("LocalStorageMigrationVO", volume_uuid, {"stage": "switched", "size": 0,
                                                              "lastOpDate": stamp},
                     key="volumeUuid")
        for host in (intent["srcHostUuid"], dst_uuid):
            recount_host_storage(ctx, intent["primaryStorageUuid"], host)


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
    from .flat import sync

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
    """Before the switch: put the states back and return the reservation first
    (they do not depend on reaching the destination), then remove what the
    destination got; what can not be removed now keeps the intent as
    'cleanup-dst'. ``dst_files``: the destination's HostFiles, or a function
    returning them (it may fail: the host is out of reach)."""
    store = ctx.store
    with store.transaction():
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
        recount_host_storage(ctx, intent["primaryStorageUuid"], intent["dstHostUuid"])
    left = _remove_all(dst_files, json.loads(intent["files"]))
    _settle(ctx, intent, "cleanup-dst" if left else None)


# -- a process that died --------------------------------------------------------------------------

@contextlib.contextmanager
def _operation_lock(ctx, volume_uuid, wait=True):
    """Held by the process migrating the volume: its death frees it, which is how
    another process knows an intent has nobody behind it."""
    directory = os.path.join(ctx.home, "locks")
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, f"migrate-{volume_uuid}.lock"),
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise operr(msg("the volume[uuid:{volume_uuid}] is being migrated by another process",
                            volume_uuid=volume_uuid)) from None
        yield
    finally:
        os.close(fd)


def _recover(ctx, volume_uuid):
    """Finish or undo the volume's migration left by a process that died, or the
    clean-up a failure left (the caller holds the volume's lock)."""
    store = ctx.store
    intent = store.get("LocalStorageMigrationVO", volume_uuid, key="volumeUuid")
    if intent is None or intent["stage"] == "recovered":
        return
    intent = dict(intent)

    def files(host_uuid):
        host = store.get("HostVO", host_uuid)
        return (lambda: files_of(ctx, host)) if host else _Nowhere()
    if intent["stage"] == "switched":
        _finish(ctx, intent, files(intent["srcHostUuid"]), recovered=True)
    elif intent["stage"] == "cleanup-src":
        _settle(ctx, intent, "cleanup-src" if _remove_all(
            files(intent["srcHostUuid"]), json.loads(intent["files"])) else None)
    else:                                   # copying, cleanup-dst
        _roll_back(ctx, intent, files(intent["dstHostUuid"]))


def recover_all(ctx):
    """Every migration whose process is gone (called before operations that could
    trip over a volume left Migrating or a VM left VolumeMigrating). Files left
    to clean up wait for the next operation on their own volume (guard): a host
    out of reach must not slow every command down."""
    for (volume_uuid,) in ctx.store.rows("SELECT volumeUuid FROM LocalStorageMigrationVO WHERE "
                                         "stage IN ('copying', 'switched')"):
        with contextlib.suppress(ApiError):     # busy: its process is alive
            with _operation_lock(ctx, volume_uuid, wait=False):
                _recover(ctx, volume_uuid)


@contextlib.contextmanager
def guard(ctx, volume_uuid):
    """Held by an operation that changes a volume's files or where it is attached
    (snapshots, attach, delete): no migration of it may run meanwhile, and what a
    dead one left is dealt with first."""
    with _operation_lock(ctx, volume_uuid, wait=False):
        _recover(ctx, volume_uuid)
        yield


class _Nowhere:
    """The files of a host that was deleted meanwhile: nothing to remove."""

    def remove(self, logical):
        pass
