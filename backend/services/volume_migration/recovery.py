"""A LocalStorageMigrateVolume whose process died (SPEC §11): the volume's lock,
which its death frees, and the recovery that finishes or undoes what it left."""

import contextlib
import fcntl
import json
import os

from ...i18n import msg
from ...errors import ApiError, operr
from . import rules
from . import intent as intents

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
        return (lambda: rules.files_of(ctx, host)) if host else _Nowhere()
    if intent["stage"] == "switched":
        intents._finish(ctx, intent, files(intent["srcHostUuid"]), recovered=True)
    elif intent["stage"] == "cleanup-src":
        intents._settle(ctx, intent, "cleanup-src" if intents._remove_all(
            files(intent["srcHostUuid"]), json.loads(intent["files"])) else None)
    else:                                   # copying, cleanup-dst
        intents._roll_back(ctx, intent, files(intent["dstHostUuid"]))


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
