"""The landing of a LocalStorageMigrateVolume (SPEC §11): after the switch, the
copy is flushed to the destination's disk and checksummed as the disk holds it;
only when every file matches its source are the source's files deleted.

Until then the volume stays Migrating and its VM VolumeMigrating (nothing may
write to the copy), and the source is untouched: a check that fails, or a
machine that crashed before the copy reached its disk, puts the records back
on the source host. In a shell session the landing runs after the reply, in a
thread of its own (``Backend.after_reply``), as ``cp`` leaves its copy to the
kernel's write-back; the next command that changes anything waits for it.
"""

import json

from ... import hypervisor
from ...i18n import msg
from ...errors import ApiError, operr
from ...storage import StorageError, transfer
from ...clock import now
from ...storage.local_copy import Background
from ..capacity import recount_host_storage
from . import intent as intents


def land(ctx, intent, src_files, dst_files, recovered=False):
    """Check the copy from the disk, then make the move final and delete the
    source; or, when the check fails, move the records back to the source host
    and raise (not when ``recovered``: the recovery of what a dead process left
    has then put it right). ``src_files``/``dst_files``: HostFiles, or functions
    returning them (recovery reaches the hosts only when it has to)."""
    try:
        src, dst = _resolve(src_files), _resolve(dst_files)
        _check_on_disk(ctx, intent, src, dst)
    except (StorageError, hypervisor.HypervisorError, ApiError) as e:
        # Unchecked is not landed: an end out of reach counts as a failed check.
        # The records and states go back to the untouched source in one transaction,
        # then the copy is removed.
        intents._roll_back(ctx, intent, dst_files)
        if recovered:       # what a dead process left is put right: nothing failed now
            return
        raise operr(msg("the copy of the volume[uuid:{volume}] on the host[uuid:{dst}] failed "
                        "its check from the disk: {error}; it stays on the "
                        "host[uuid:{src}]", volume=intent["volumeUuid"],
                        dst=intent["dstHostUuid"], error=e,
                        src=intent["srcHostUuid"])) from None
    _make_final(ctx, intent)
    intents._finish(ctx, intent, src, recovered=recovered)


def _resolve(files):
    found = files() if callable(files) else files
    if not hasattr(found, "durable_digest"):
        raise StorageError(msg("the host is no longer in the cloud"))
    return found


def _check_on_disk(ctx, intent, src, dst):
    """Every file of the copy, flushed and read back from the disk, against its
    source's checksum (read alongside: the source is usually still cached). The
    shell draws a bar for it as for the copy (not behind a reply)."""
    kind = transfer.digest_kind(src, dst)
    expected = json.loads(intent.get("expected") or "{}")
    paths = json.loads(intent["files"])
    for n, logical in enumerate(paths, start=1):
        want = expected.get(logical)
        source = None if want else Background(src.digest, logical, kind)
        label = msg("check {n}/{total}", n=n, total=len(paths))
        try:
            found = dst.durable_digest(logical, kind,
                                       lambda done, total: ctx.progress(label, done, total))
        finally:
            if source is not None:
                want = source.result(msg("cannot read {path}", path=logical))
        if found != want:
            raise StorageError(msg("the copy of {logical} does not match the source (checksum "
                                   "{found} instead of {digest})", logical=logical, found=found,
                                   digest=want))


def _make_final(ctx, intent):
    """The volume and its VM are theirs again, and the intent says 'switched' (its
    source files to delete), durably: the source is deleted right after, so this
    must survive a power cut, not only a killed process."""
    store = ctx.store
    store.conn.execute("PRAGMA synchronous = FULL")
    try:
        stamp = now()
        with store.transaction():
            store.update("VolumeVO", intent["volumeUuid"], {"status": intent["volumeStatus"],
                                                            "lastOpDate": stamp})
            vm = store.get("VmInstanceVO", intent["vmInstanceUuid"]) \
                if intent["vmInstanceUuid"] else None
            if vm is not None and vm["state"] == "VolumeMigrating":
                store.update("VmInstanceVO", vm["uuid"], {"state": intent["vmState"],
                                                          "lastOpDate": stamp})
            store.update("LocalStorageMigrationVO", intent["volumeUuid"],
                         {"stage": "switched", "size": 0, "lastOpDate": stamp},
                         key="volumeUuid")
            recount_host_storage(ctx, intent["primaryStorageUuid"], intent["srcHostUuid"])
    finally:
        store.conn.execute("PRAGMA synchronous = NORMAL")
