"""LocalStorageMigrateVolume's copy (SPEC §11, step 2): the destination's image
cache (or ISO) reused or made, every file of the chain copied, checked,
re-pointed and published, then the whole chain opened there."""

import contextlib

from ...i18n import msg
from ...storage import StorageError, transfer
from ...clock import now
from ..capacity import recount_host_storage
from ..imagecache import ensure_cache

# -- 2. the copy ----------------------------------------------------------------------------------

def _copy_chain(ctx, plan, intent):
    """Oldest file first, so each file's backing file is there before it.
    Returns the checksums the landing must find for files whose header was
    rewritten on the way ({logical path: checksum})."""
    src, dst = plan["src_files"], plan["dst_files"]
    moving = set(plan["paths"])
    chain = []                          # [(path, (backing, format, portable))], newest first
    path = plan["volume"]["installPath"]
    while path is not None and path in moving:
        chain.append((path, src.backing(path)))
        path = chain[-1][1][0]
    base = path                         # an image cache (or nothing): not ours to move
    if {p for p, _ in chain} != moving:
        raise StorageError(msg("the backing chain of {path} does not hold exactly the volume "
                               "and its snapshots", path=plan['volume']['installPath']))
    if base is not None:
        _ensure_base(ctx, plan, base)
    _ensure_iso(ctx, plan)
    total = len(chain)
    expected = {}
    for n, (logical, backing) in enumerate(reversed(chain), start=1):
        rewritten = copy_file(ctx, src, dst, logical, backing,
                              msg("copy {n}/{total}", n=n, total=total))
        if rewritten:
            expected[logical] = rewritten
    _verify_chain(dst, chain, base)
    return expected


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
    made durable and checked from the disk at once (it is recorded for the
    destination now, and outlives the migration), and recorded."""
    src, dst = plan["src_files"], plan["dst_files"]
    host = plan["dst_host"]
    logical = cache["installPath"]
    if not ctx.store.row("SELECT 1 FROM ImageCacheVO WHERE primaryStorageUuid = ? AND "
                         "hostUuid = ? AND imageUuid = ?",
                         (cache["primaryStorageUuid"], host["uuid"], cache["imageUuid"])):
        try:
            kind = transfer.digest_kind(src, dst)
            digest = copy_file(ctx, src, dst, logical, src.backing(logical),
                               msg("copy the image cache")) or src.digest(logical, kind)
            found = dst.durable_digest(logical, kind)
            if found != digest:
                raise StorageError(msg("the copy of {logical} does not match the source "
                                       "(checksum {found} instead of {digest})",
                                       logical=logical, found=found, digest=digest))
        except BaseException:
            for path in (transfer.temp_name(logical), logical):
                with contextlib.suppress(StorageError):
                    dst.remove(path)
            raise
        with ctx.store.transaction():
            ctx.store.insert("ImageCacheVO", {**cache, "hostUuid": host["uuid"],
                                              "createDate": now()})
            recount_host_storage(ctx, cache["primaryStorageUuid"], host["uuid"])


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


def copy_file(ctx, src, dst, logical, backing, label):
    """One file: copied to its temporary name (checked in transit), re-pointed if
    its header names its backing file by an absolute path, renamed into place.
    ``backing``: src.backing(logical). Returns the checksum the copy has after
    such a rewrite (the source's no longer applies), else None."""
    tmp = transfer.temp_name(logical)
    transfer.copy(src, logical, dst, tmp, lambda done, total: ctx.progress(label, done, total))
    path, fmt, portable = backing
    rewritten = None
    if path is not None and not portable:
        dst.rebase(tmp, path, fmt)
        rewritten = dst.digest(tmp, transfer.digest_kind(src, dst))
    dst.publish(tmp, logical)
    return rewritten


def _verify_chain(dst, chain, base):
    """The chain opens on the destination: every file is there, and each one
    that has a backing file finds it (qemu-img reads the header there)."""
    for logical, (backing, _, _) in chain:
        if backing is None:
            if not dst.exists(logical):
                raise StorageError(msg("{path} is missing on the destination", path=logical))
            continue
        found, _, _ = dst.backing(logical)
        if found != backing or not dst.exists(found):
            raise StorageError(msg("{path} is missing on the destination",
                                   path=found or backing))
