"""Images copied to a host's local primary storage, once per host (the base
of root volumes and the media of CD-ROM drives)."""

from ..storage import layout
from . import hosts, image as images
from .capacity import recount_host_storage
from ..clock import now


def ensure_cache(ctx, image, host, ps):
    """The image's copy on the host's primary storage (made once per host)."""
    store = ctx.store
    row = store.row("SELECT installPath FROM ImageCacheVO WHERE primaryStorageUuid = ? AND "
                    "hostUuid = ? AND imageUuid = ?", (ps["uuid"], host["uuid"], image["uuid"]))
    if row:
        return row["installPath"]
    host_path = layout.image_cache_path(ps["url"], image["uuid"], image["format"])
    hosts.ops(ctx, host).ensure_image_cache(ps["url"], image["uuid"], image["format"],
                                            images.install_path(ctx, image["uuid"]),
                                            image["md5Sum"])
    with store.transaction():
        store.conn.execute("INSERT OR IGNORE INTO ImageCacheVO (primaryStorageUuid, hostUuid, "
                           "imageUuid, installPath, md5Sum, size, createDate) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?)", (ps["uuid"], host["uuid"], image["uuid"],
                                                     host_path, image["md5Sum"],
                                                     image["actualSize"], now()))
        recount_host_storage(ctx, ps["uuid"], host["uuid"])
    return host_path
