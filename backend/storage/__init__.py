"""Storage primitives: qemu-img, backup storage (a directory of images) and
local primary storage (a directory per host holding image caches, volumes
and snapshots).

Everything here works on real local paths (the caller maps host paths to this
machine) and knows nothing of the database or the API: a failure is a
StorageError with one user-facing line, which the services wrap in an API
error. No function leaves a half-written file at a final path: content is
written to a temporary file in the same directory and renamed into place.
"""


class StorageError(Exception):
    """A storage operation failed; ``str(e)`` is one line a user can read."""

    def __init__(self, message):
        # One line, whatever the cause produced (tools print multi-line errors).
        message = " ".join(str(message).splitlines()).strip() or "storage operation failed"
        super().__init__(message)
        self.message = message
