"""LocalStorageMigrateVolume's rules (SPEC §11): what may move where, and the
plan of the move (the files, the bytes the destination must have free)."""

from ... import hypervisor
from ...i18n import msg
from ...errors import argerr, operr
from ...storage import StorageError, remote_files, transfer
from .. import hosts

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
        from ...storage.ssh import SshTarget

        uri = host["libvirtUri"] or f"qemu+ssh://root@{host['managementIp']}/system"
        try:
            return remote_files.SshFiles(SshTarget.from_uri(uri, host.get("username") or "root"))
        except StorageError as e:
            raise operr(msg("cannot reach the files of the host[uuid:{host}]: {error}",
                            host=host['uuid'], error=e)) from None
    return transfer.LocalFiles(root.rstrip("/"))
