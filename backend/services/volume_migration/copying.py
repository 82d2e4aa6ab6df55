"""LocalStorageMigrateVolume's copy (SPEC §11, step 2): the destination's image
cache (or ISO) reused or made, every file of the chain copied, checked,
re-pointed and published, then the whole chain opened there."""

from ...i18n import msg
from ...storage import StorageError, transfer
from ...clock import now
from ..capacity import recount_host_storage
from ..imagecache import ensure_cache

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
    from ..vm_spec import attached_iso

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
    found = dst.durable_digest(tmp, like=digest)
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
