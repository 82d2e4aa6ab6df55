"""Data volumes and volume snapshots (SPEC §7)."""

from .. import hypervisor
from ..hypervisor.domain import disk_xml
from ..i18n import msg
from ..errors import argerr, operr
from ..storage import StorageError, layout
from . import common, hosts, tags, vm_state
from ..clock import new_uuid, now
from .capacity import release, reserve


def create_data_volume(ctx, p):
    """A record only: the file is made on the host of the VM it is first attached to."""
    offering = ctx.store.get("DiskOfferingVO", p["diskOfferingUuid"])
    row = {"name": p["name"], "description": p.get("description"),
           "primaryStorageUuid": p.get("primaryStorageUuid"), "vmInstanceUuid": None,
           "diskOfferingUuid": offering["uuid"], "rootImageUuid": None, "installPath": None,
           "type": "Data", "format": "qcow2", "size": offering["diskSize"], "actualSize": 0,
           "deviceId": None, "state": "Enabled", "status": "NotInstantiated", "isShareable": 0}
    return common.create(ctx, "VolumeVO", row, p)


def host_of(ctx, volume_uuid):
    ref = ctx.store.get("LocalStorageResourceRefVO", volume_uuid, key="resourceUuid")
    return ref["hostUuid"] if ref else None


def attach_data_volume(ctx, p):
    with _guard(ctx, p["volumeUuid"]):
        return _attach_data_volume(ctx, p)


def _attach_data_volume(ctx, p):
    store = ctx.store
    volume = store.get("VolumeVO", p["volumeUuid"])
    vm_uuid = p["vmInstanceUuid"]
    if volume["type"] != "Data":
        raise argerr(msg("the volume[uuid:{volume}] is a {type} volume; only data volumes can be "
                         "attached", volume=volume['uuid'], type=volume['type']))
    if volume["vmInstanceUuid"]:
        raise operr(msg("the data volume[uuid:{volume}] is already attached to the "
                        "VM[uuid:{vmInstanceUuid}]",
                        volume=volume['uuid'], vmInstanceUuid=volume['vmInstanceUuid']))
    if volume["status"] not in ("Ready", "NotInstantiated"):
        raise operr(msg("the data volume[uuid:{volume}] is {status}; it can be attached once "
                        "Ready", volume=volume['uuid'], status=volume['status']))
    vm = vm_state.claim(ctx, vm_uuid, "AttachDataVolumeToVm")
    host = hosts.connected(ctx, vm["hostUuid"])
    root = store.get("VolumeVO", vm["rootVolumeUuid"])
    if volume["status"] == "Ready" and host_of(ctx, volume["uuid"]) != host["uuid"]:
        raise operr(msg("the data volume[uuid:{volume}] is on host[uuid:{src_host}] but the "
                        "VM[uuid:{vm_uuid}] is on host[uuid:{host}]; move it with "
                        "LocalStorageMigrateVolume first",
                        volume=volume['uuid'], src_host=host_of(ctx, volume['uuid']),
                        vm_uuid=vm_uuid, host=host['uuid']))
    if volume["status"] == "NotInstantiated":
        _instantiate(ctx, volume, host, volume["primaryStorageUuid"] or root["primaryStorageUuid"])
    with store.transaction():
        used = {r[0] for r in store.rows("SELECT deviceId FROM VolumeVO WHERE vmInstanceUuid = ?",
                                         (vm_uuid,))}
        device = next(i for i in range(1, 64) if i not in used)
        store.update("VolumeVO", volume["uuid"], {"vmInstanceUuid": vm_uuid,
                                                  "deviceId": device, "lastOpDate": now()})
    if vm["state"] == "Running":
        try:
            fresh = store.get("VolumeVO", volume["uuid"])
            hosts.driver(ctx, host).attach_disk(vm_uuid, disk_xml(_disk(fresh)),
                                                live=True)
        except hypervisor.HypervisorError as e:
            with store.transaction():
                store.update("VolumeVO", volume["uuid"], {"vmInstanceUuid": None,
                                                          "deviceId": None})
            raise operr(msg("failed to attach the volume[uuid:{volume}]: {error}",
                            volume=volume['uuid'], error=e)) from None
    return common.inventory(ctx, "VolumeVO", volume["uuid"])


def _disk(volume):
    return {"uuid": volume["uuid"], "path": volume["installPath"], "format": volume["format"],
            "deviceId": volume["deviceId"], "type": volume["type"]}


def _instantiate(ctx, volume, host, ps_uuid):
    ps = ctx.store.get("PrimaryStorageVO", ps_uuid)
    path = layout.data_volume_path(ps["url"], volume["uuid"])
    with ctx.store.transaction():
        reserve(ctx, ps["uuid"], host["uuid"], volume["uuid"], "VolumeVO", volume["size"])
    try:
        hosts.ops(ctx, host).create_empty_volume(path, volume["size"])
    except StorageError as e:
        with ctx.store.transaction():
            release(ctx, volume["uuid"])
        raise operr(msg("failed to create the data volume[uuid:{volume}]: {error}",
                        volume=volume['uuid'], error=e)) from None
    with ctx.store.transaction():
        ctx.store.update("VolumeVO", volume["uuid"], {
            "installPath": path, "primaryStorageUuid": ps["uuid"], "status": "Ready",
            "lastOpDate": now()})


def detach_data_volume(ctx, p):
    store = ctx.store
    volume = store.get("VolumeVO", p["uuid"])
    if volume["type"] != "Data":
        raise argerr(msg("the volume[uuid:{volume}] is a {type} volume; only data volumes can be "
                         "detached", volume=volume['uuid'], type=volume['type']))
    vm_uuid = volume["vmInstanceUuid"]
    if vm_uuid is None:
        return common.inventory(ctx, "VolumeVO", volume["uuid"])
    if p.get("vmUuid") and p["vmUuid"] != vm_uuid:
        raise argerr(msg("the data volume[uuid:{volume}] is attached to the VM[uuid:{vm_uuid}], "
                         "not to the VM[uuid:{vmUuid}]",
                         volume=volume['uuid'], vm_uuid=vm_uuid, vmUuid=p['vmUuid']))
    vm = vm_state.claim(ctx, vm_uuid, "DetachDataVolumeFromVm")
    if vm["state"] == "Running":
        host = hosts.connected(ctx, vm["hostUuid"])
        try:
            hosts.driver(ctx, host).detach_disk(vm_uuid, disk_xml(_disk(volume)),
                                                live=True)
        except hypervisor.HypervisorError as e:
            raise operr(msg("failed to detach the volume[uuid:{volume}]: {error}",
                            volume=volume['uuid'], error=e)) from None
    with store.transaction():
        store.update("VolumeVO", volume["uuid"], {"vmInstanceUuid": None, "deviceId": None,
                                                  "lastOpDate": now()})
    return common.inventory(ctx, "VolumeVO", volume["uuid"])


def delete_data_volume(ctx, p):
    volume = ctx.store.get("VolumeVO", p["uuid"])
    if volume is None:
        return None
    if volume["type"] != "Data":
        raise argerr(msg("the volume[uuid:{volume}] is a {type} volume; a root volume goes with "
                         "its VM (ExpungeVmInstance)", volume=volume['uuid'], type=volume['type']))
    if volume["status"] == "Migrating":
        raise operr(msg("the data volume[uuid:{volume}] is being migrated to another host; "
                        "delete it once that is done", volume=volume['uuid']))
    if volume["vmInstanceUuid"]:
        detach_data_volume(ctx, {"uuid": volume["uuid"]})
    return remove_volume(ctx, volume["uuid"])


def remove_volume(ctx, uuid, mode=None):
    """Delete a volume's file, snapshots and records. ``mode`` is the delete mode
    common.delete gives every dependent remover; a volume has nothing of its own
    to remove differently."""
    with _guard(ctx, uuid):
        return _remove_volume(ctx, uuid)


def _remove_volume(ctx, uuid):
    store = ctx.store
    volume = store.get("VolumeVO", uuid)
    if volume is None:
        return None
    host_uuid = host_of(ctx, uuid)
    host = store.get("HostVO", host_uuid) if host_uuid else None
    for snap in store.rows("SELECT uuid FROM VolumeSnapshotVO WHERE volumeUuid = ? ORDER BY "
                           "createDate DESC", (uuid,)):
        _drop_snapshot_files_and_rows(ctx, snap["uuid"], host, merge=False)
    if host is not None and volume["installPath"]:
        hosts.discard_file(ctx, host, volume["installPath"])
    with store.transaction():
        release(ctx, uuid)
        tags.delete_all(store, uuid)
        store.delete("VolumeVO", uuid)
    return None


def create_snapshot(ctx, p):
    with _guard(ctx, p["volumeUuid"]):
        return _create_snapshot(ctx, p)


def _create_snapshot(ctx, p):
    store = ctx.store
    volume = store.get("VolumeVO", p["volumeUuid"])
    if volume["status"] != "Ready":
        raise operr(msg("the volume[uuid:{volume}] is {status}; only a Ready volume can be "
                        "snapshotted", volume=volume['uuid'], status=volume['status']))
    host = store.get("HostVO", host_of(ctx, volume["uuid"]))
    if volume["vmInstanceUuid"]:
        vm = vm_state.claim(ctx, volume["vmInstanceUuid"], "CreateVolumeSnapshot")
        if vm["state"] in ("Running", "Paused") and not host["libvirtUri"].startswith("test:"):
            raise operr(msg("the VM[uuid:{vm}] is {state}: stop it to snapshot its volume (live "
                            "snapshots are not supported yet)", vm=vm['uuid'], state=vm['state']))
    uuid = p.get("resourceUuid") or new_uuid()
    ps = store.get("PrimaryStorageVO", volume["primaryStorageUuid"])
    path = layout.snapshot_path(ps["url"], volume["uuid"], uuid)
    try:
        size = hosts.ops(ctx, host).snapshot(volume["installPath"], path)
    except StorageError as e:
        raise operr(msg("failed to snapshot the volume[uuid:{volume}]: {error}",
                        volume=volume['uuid'], error=e)) from None
    parent = store.row("SELECT uuid FROM VolumeSnapshotVO WHERE volumeUuid = ? AND latest = 1",
                       (volume["uuid"],))
    row = {"name": p["name"], "description": p.get("description"), "type": "Hypervisor",
           "volumeUuid": volume["uuid"], "parentUuid": parent["uuid"] if parent else None,
           "primaryStorageUuid": ps["uuid"], "primaryStorageInstallPath": path,
           "volumeType": volume["type"], "format": "qcow2", "latest": 1,
           "size": size, "state": "Enabled",
           "status": "Ready"}
    with store.transaction():
        store.conn.execute("UPDATE VolumeSnapshotVO SET latest = 0 WHERE volumeUuid = ?",
                           (volume["uuid"],))
        snapshot = common.create(ctx, "VolumeSnapshotVO", row, {**p, "resourceUuid": uuid})
        reserve(ctx, ps["uuid"], host["uuid"], uuid, "VolumeSnapshotVO", row["size"])
    return snapshot


def delete_snapshot(ctx, p):
    snap = ctx.store.get("VolumeSnapshotVO", p["uuid"])
    if snap is None:
        return None
    with _guard(ctx, snap["volumeUuid"]):
        return _delete_snapshot(ctx, p)


def _guard(ctx, volume_uuid):
    """No migration of the volume runs while its files or attachment change."""
    from .volume_migration import guard

    return guard(ctx, volume_uuid)


def _delete_snapshot(ctx, p):
    store = ctx.store
    snap = store.get("VolumeSnapshotVO", p["uuid"])
    if snap is None:
        return None
    volume = store.get("VolumeVO", snap["volumeUuid"])
    if volume and volume["vmInstanceUuid"]:
        vm = store.get("VmInstanceVO", volume["vmInstanceUuid"])
        host = store.get("HostVO", host_of(ctx, volume["uuid"]))
        if vm["state"] in ("Running", "Paused") and not host["libvirtUri"].startswith("test:"):
            raise operr(msg("the VM[uuid:{vm}] is {state}: stop it to delete a snapshot of its "
                            "volume", vm=vm['uuid'], state=vm['state']))
    host_uuid = host_of(ctx, snap["volumeUuid"]) or host_of(ctx, snap["uuid"])
    host = store.get("HostVO", host_uuid) if host_uuid else None
    _drop_snapshot_files_and_rows(ctx, snap["uuid"], host, merge=True)
    return None


def _drop_snapshot_files_and_rows(ctx, uuid, host, merge):
    store = ctx.store
    snap = store.get("VolumeSnapshotVO", uuid)
    volume = store.get("VolumeVO", snap["volumeUuid"])
    if host is not None and merge and volume is not None:
        try:
            hosts.ops(ctx, host).delete_snapshot(volume["installPath"],
                                                 snap["primaryStorageInstallPath"])
        except StorageError as e:
            raise operr(msg("failed to delete the snapshot[uuid:{uuid}]: {error}",
                            uuid=uuid, error=e)) from None
    elif host is not None:
        hosts.discard_file(ctx, host, snap["primaryStorageInstallPath"])
    with store.transaction():
        store.conn.execute("UPDATE VolumeSnapshotVO SET parentUuid = ? WHERE parentUuid = ?",
                           (snap["parentUuid"], uuid))
        if snap["latest"] and snap["parentUuid"]:
            store.update("VolumeSnapshotVO", snap["parentUuid"], {"latest": 1})
        release(ctx, uuid)
        tags.delete_all(store, uuid)
        store.delete("VolumeSnapshotVO", uuid)
