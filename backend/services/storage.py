"""Local primary storage and backup storage."""

import os

from ..i18n import msg
from ..errors import argerr, operr
from ..storage import StorageError, image_store
from . import common, hosts
from .capacity import refresh_totals, used_on
from ..clock import now


def _absolute(url):
    path = url[len("file://"):] if url.startswith("file://") else url
    if not os.path.isabs(path):
        raise argerr(msg("url[{url}] must be an absolute path", url=url))
    return os.path.normpath(path)


def add_local_primary_storage(ctx, p):
    row = {"name": p["name"], "description": p.get("description"), "zoneUuid": p["zoneUuid"],
           "url": _absolute(p["url"]), "type": "LocalStorage", "state": "Enabled",
           "status": "Connected", "mountPath": _absolute(p["url"]), "totalCapacity": 0,
           "availableCapacity": 0, "totalPhysicalCapacity": 0, "availablePhysicalCapacity": 0}
    return common.create(ctx, "PrimaryStorageVO", row, p)


def prepare_host(ctx, ps, host):
    """Make the storage root on a host and record its capacity there."""
    try:
        total, available = hosts.ops(ctx, host).prepare_root(ps["url"])
    except StorageError as e:
        raise operr(msg("cannot use {url} on host[uuid:{host}]: {error}",
                        url=ps['url'], host=host['uuid'], error=e)) from None
    stamp = now()
    with ctx.store.transaction():
        ctx.store.conn.execute(
            "INSERT INTO LocalStorageHostRefVO (primaryStorageUuid, hostUuid, totalCapacity,"
            " availableCapacity, totalPhysicalCapacity, availablePhysicalCapacity, createDate,"
            " lastOpDate) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (primaryStorageUuid, hostUuid)"
            " DO UPDATE SET"
            " totalPhysicalCapacity = excluded.totalPhysicalCapacity,"
            " availablePhysicalCapacity = excluded.availablePhysicalCapacity",
            (ps["uuid"], host["uuid"], total, total - used_on(ctx, ps["uuid"], host["uuid"]),
             total, available, stamp, stamp))
        refresh_totals(ctx, ps["uuid"])


def attach_primary_storage(ctx, p):
    store = ctx.store
    ps = store.get("PrimaryStorageVO", p["primaryStorageUuid"])
    cluster = store.get("ClusterVO", p["clusterUuid"])
    if cluster["zoneUuid"] != ps["zoneUuid"]:
        raise argerr(msg("primary storage[uuid:{ps}] and cluster[uuid:{cluster}] are in "
                         "different zones", ps=ps['uuid'], cluster=cluster['uuid']))
    for host in store.rows("SELECT * FROM HostVO WHERE clusterUuid = ?", (cluster["uuid"],)):
        prepare_host(ctx, ps, dict(host))
    with store.transaction():
        store.conn.execute("INSERT OR IGNORE INTO PrimaryStorageClusterRefVO (primaryStorageUuid,"
                           " clusterUuid, createDate) VALUES (?, ?, ?)",
                           (ps["uuid"], cluster["uuid"], now()))
    return common.inventory(ctx, "PrimaryStorageVO", ps["uuid"])


def detach_primary_storage(ctx, p):
    store = ctx.store
    used = store.value("SELECT COUNT(*) FROM LocalStorageResourceRefVO r JOIN HostVO h ON "
                       "h.uuid = r.hostUuid WHERE r.primaryStorageUuid = ? AND h.clusterUuid = ?",
                       (p["primaryStorageUuid"], p["clusterUuid"]))
    if used:
        raise operr(msg("primary storage[uuid:{primaryStorageUuid}] still holds {used} volume(s) "
                        "or snapshot(s) on hosts of cluster[uuid:{clusterUuid}]",
                        primaryStorageUuid=p['primaryStorageUuid'], used=used,
                        clusterUuid=p['clusterUuid']))
    with store.transaction():
        store.conn.execute("DELETE FROM PrimaryStorageClusterRefVO WHERE primaryStorageUuid = ? "
                           "AND clusterUuid = ?", (p["primaryStorageUuid"], p["clusterUuid"]))
    return common.inventory(ctx, "PrimaryStorageVO", p["primaryStorageUuid"])


def delete_primary_storage(ctx, p):
    return remove_primary_storage(ctx, p["uuid"], p["deleteMode"])


def remove_primary_storage(ctx, uuid, mode):
    from .volume import remove_volume

    store = ctx.store
    if store.get("PrimaryStorageVO", uuid) is None:
        return None
    common.delete(ctx, "PrimaryStorageVO", uuid, mode,
                  dependents=((msg("volume"), "VolumeVO", "primaryStorageUuid", remove_volume),),
                  refs=(("PrimaryStorageClusterRefVO", "primaryStorageUuid"),
                        ("ImageCacheVO", "primaryStorageUuid"),
                        ("LocalStorageResourceRefVO", "primaryStorageUuid"),
                        ("LocalStorageHostRefVO", "primaryStorageUuid")))
    return None


def host_disk_capacity(ctx, p):
    sql = "SELECT * FROM LocalStorageHostRefVO WHERE primaryStorageUuid = ?"
    args = [p["primaryStorageUuid"]]
    if p.get("hostUuid"):
        sql += " AND hostUuid = ?"
        args.append(p["hostUuid"])
    from .. import catalogue
    from ..store.query import to_inventory

    resource = catalogue.RESOURCES["LocalStorageHostRefVO"]
    return {"inventories": [to_inventory(resource, row) for row in ctx.store.rows(sql, args)]}


def add_sftp_backup_storage(ctx, p):
    from .. import hypervisor

    if not hypervisor.is_local_address(p["hostname"]):
        raise operr(msg("backup storage on a remote host[{hostname}] is not supported yet; use a "
                        "directory of this machine (hostname=127.0.0.1)", hostname=p['hostname']))
    url = _absolute(p["url"])
    try:
        os.makedirs(url, exist_ok=True)
        total, available = image_store.capacity(url)
    except (OSError, StorageError) as e:
        raise operr(msg("cannot use the directory {url}: {error}", url=url, error=e)) from None
    row = {"name": p["name"], "description": p.get("description"), "url": url,
           "hostname": p["hostname"], "username": p["username"], "password": p.get("password"),
           "sshPort": p["sshPort"], "type": "SftpBackupStorage", "state": "Enabled",
           "status": "Connected", "totalCapacity": total, "availableCapacity": available}
    return common.create(ctx, "BackupStorageVO", row, p)


def attach_backup_storage(ctx, p):
    with ctx.store.transaction():
        ctx.store.conn.execute("INSERT OR IGNORE INTO BackupStorageZoneRefVO (backupStorageUuid,"
                               " zoneUuid, createDate) VALUES (?, ?, ?)",
                               (p["backupStorageUuid"], p["zoneUuid"], now()))
    return common.inventory(ctx, "BackupStorageVO", p["backupStorageUuid"])


def detach_backup_storage(ctx, p):
    with ctx.store.transaction():
        ctx.store.conn.execute("DELETE FROM BackupStorageZoneRefVO WHERE backupStorageUuid = ? "
                               "AND zoneUuid = ?", (p["backupStorageUuid"], p["zoneUuid"]))
    return common.inventory(ctx, "BackupStorageVO", p["backupStorageUuid"])


def delete_backup_storage(ctx, p):
    from .image import remove_image

    uuid = p["uuid"]
    store = ctx.store
    if store.get("BackupStorageVO", uuid) is None:
        return None
    images = store.rows("SELECT imageUuid AS uuid, installPath AS name FROM "
                        "ImageBackupStorageRefVO WHERE backupStorageUuid = ?", (uuid,))
    if images and p["deleteMode"] != "Enforcing":
        raise operr(msg("backup storage[uuid:{uuid}] still keeps {count} image(s); delete them "
                        "first, or use deleteMode=Enforcing to delete them too",
                        uuid=uuid, count=len(images)))
    for image in images:
        remove_image(ctx, image["uuid"])
    return common.delete(ctx, "BackupStorageVO", uuid, p["deleteMode"],
                         refs=(("BackupStorageZoneRefVO", "backupStorageUuid"),))
