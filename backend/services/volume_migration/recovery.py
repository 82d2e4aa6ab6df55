"""A LocalStorageMigrateVolume whose process died (SPEC §11): the volume's lock,
which its death frees, and the recovery that finishes or undoes what it left."""

import contextlib
import fcntl
import json
import os
import time

from ...i18n import msg
from ...errors import ApiError, operr
from . import rules
from . import intent as intents
from . import landing

# A landing (the copy flushed and checked from the disk, the source deleted) takes
# about as long as writing the volume out; a writer waits that long for it.
LANDING_WAIT = 600

# -- a process that died --------------------------------------------------------------------------

class _Held:
    """A volume's lock, held until released (closing the file frees it); it can
    be passed on to the thread that finishes a migration after its reply."""

    def __init__(self, fd):
        self.fd = fd

    def pass_on(self):
        held, self.fd = _Held(self.fd), None
        return held

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@contextlib.contextmanager
def _operation_lock(ctx, volume_uuid, wait=True):
    """Held by the process migrating the volume: its death frees it, which is how
    another process knows an intent has nobody behind it. ``wait``: True waits
    as long as it takes, False not at all, a number that many seconds."""
    directory = os.path.join(ctx.home, "locks")
    os.makedirs(directory, exist_ok=True)
    held = _Held(os.open(os.path.join(directory, f"migrate-{volume_uuid}.lock"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    try:
        _lock(held.fd, wait, volume_uuid)
        yield held
    finally:
        held.release()


def _lock(fd, wait, volume_uuid):
    if wait is True:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + (wait or 0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise operr(msg("the volume[uuid:{volume_uuid}] is being migrated by another "
                                "process", volume_uuid=volume_uuid)) from None
            time.sleep(0.01)


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
    if intent["stage"] == "landing":
        landing.land(ctx, intent, files(intent["srcHostUuid"]), files(intent["dstHostUuid"]),
                     recovered=True)
    elif intent["stage"] == "switched":
        intents._finish(ctx, intent, files(intent["srcHostUuid"]), recovered=True)
    elif intent["stage"] == "cleanup-src":
        intents._settle(ctx, intent, "cleanup-src" if intents._remove_all(
            files(intent["srcHostUuid"]), json.loads(intent["files"])) else None)
    else:                                   # copying, cleanup-dst
        intents._roll_back(ctx, intent, files(intent["dstHostUuid"]))


def recover_all(ctx, params=None):
    """Every migration whose process is gone (called before operations that could
    trip over a volume left Migrating or a VM left VolumeMigrating). A landing
    still under way in another process is waited for when the call names its
    volume, a snapshot of it, its VM or one of its hosts (``params``, the call's
    typed parameters): the call may be the next step of a script that just moved
    a VM (StartVmInstance). Files left to clean up wait for the next operation on
    their own volume (guard): a host out of reach must not slow every command
    down."""
    named = _named(params)
    for intent in ctx.store.rows("SELECT * FROM LocalStorageMigrationVO WHERE stage IN "
                                 "('copying', 'landing', 'switched')"):
        wait = intent["stage"] == "landing" and _concerns(ctx, intent, named)
        with contextlib.suppress(ApiError):     # busy: its process is alive
            with _operation_lock(ctx, intent["volumeUuid"],
                                 wait=LANDING_WAIT if wait else False):
                _recover(ctx, intent["volumeUuid"])


def _named(params):
    """Every text among the parameters' values (uuids, mostly)."""
    found = set()
    for value in (params or {}).values():
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, (list, tuple)):
            found.update(v for v in value if isinstance(v, str))
    return found


def _concerns(ctx, intent, named):
    ends = {intent["volumeUuid"], intent["vmInstanceUuid"], intent["srcHostUuid"],
            intent["dstHostUuid"]}
    if named & ends:
        return True
    return any(uuid in named for (uuid,) in ctx.store.rows(
        "SELECT uuid FROM VolumeSnapshotVO WHERE volumeUuid = ?", (intent["volumeUuid"],)))


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
