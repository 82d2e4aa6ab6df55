"""Images on backup storage (SPEC §7): added from a path, file:// or http(s)://."""

from ..i18n import msg
from ..errors import argerr, operr
from ..storage import StorageError, image_store
from . import common
from ..clock import now

_FORMATS_OF = {"ISO": ("iso",), "RootVolumeTemplate": ("qcow2", "raw"),
               "DataVolumeTemplate": ("qcow2", "raw")}


def add_image(ctx, p):
    media, fmt = p["mediaType"], p["format"]
    if fmt not in _FORMATS_OF[media]:
        raise argerr(msg("an image of mediaType[{media}] must be in format [{formats}], but "
                         "{fmt} found",
                         media=media, formats=', '.join(_FORMATS_OF[media]), fmt=fmt))
    store = ctx.store
    storages = [store.get("BackupStorageVO", uuid) for uuid in dict.fromkeys(
        p["backupStorageUuids"])]
    row = {"name": p["name"], "description": p.get("description"), "url": p["url"],
           "mediaType": media, "format": fmt, "platform": p["platform"],
           "guestOsType": p.get("guestOsType"), "system": 1 if p["system"] else 0,
           "type": "zstack", "state": "Enabled", "status": "Downloading", "size": 0,
           "actualSize": 0, "md5Sum": None}
    image = common.create(ctx, "ImageVO", row, p)
    uuid = image["uuid"]
    # The copy runs outside any transaction: others keep working while it downloads,
    # and see the image as Downloading.
    try:
        result = None
        for bs in storages:
            result = image_store.import_image(
                p["url"], bs["url"], uuid, fmt,
                progress=lambda done, total: ctx.progress(
                    msg("AddImage {name}", name=p["name"]), done, total))
            with store.transaction():
                store.insert("ImageBackupStorageRefVO", {
                    "imageUuid": uuid, "backupStorageUuid": bs["uuid"],
                    "installPath": result["path"], "status": "Ready", "createDate": now(),
                    "lastOpDate": now()})
    except StorageError as e:
        remove_image(ctx, uuid)
        raise operr(msg("failed to add image[{name}] from {url}: {error}",
                        name=p['name'], url=p['url'], error=e)) from None
    except BaseException:
        remove_image(ctx, uuid)
        raise
    return common.update(ctx, "ImageVO", uuid, {
        "status": "Ready", "size": result["size"], "actualSize": result["actualSize"],
        "md5Sum": result["md5sum"]})


def delete_image(ctx, p):
    return remove_image(ctx, p["uuid"])


def remove_image(ctx, uuid):
    """Delete the image's files from backup storage and its records. VMs made from
    it keep running: their disks lean on the image cache of primary storage."""
    store = ctx.store
    for ref in store.rows("SELECT installPath FROM ImageBackupStorageRefVO WHERE imageUuid = ?",
                          (uuid,)):
        try:
            image_store.delete_image(ref["installPath"])
        except StorageError:
            pass        # a file already gone must not keep the record alive
    with store.transaction():
        store.conn.execute("DELETE FROM ImageBackupStorageRefVO WHERE imageUuid = ?", (uuid,))
    return common.delete(ctx, "ImageVO", uuid, "Permissive")


def install_path(ctx, image_uuid):
    """Where a Ready image can be read (its first backup storage copy)."""
    ref = ctx.store.row("SELECT installPath FROM ImageBackupStorageRefVO WHERE imageUuid = ? "
                        "AND status = 'Ready' ORDER BY rowid LIMIT 1", (image_uuid,))
    if ref is None:
        raise operr(msg("image[uuid:{image_uuid}] has no ready copy on any backup storage",
                        image_uuid=image_uuid))
    return ref["installPath"]
