"""Storage primitives: qemu-img, backup storage (a directory of images) and
local primary storage (a directory per host holding image caches, volumes
and snapshots).

Everything here works on real local paths (the caller maps host paths to this
machine) and knows nothing of the database or the API: a failure is a
StorageError with one user-facing line, which the services wrap in an API
error (its text is a message, backend.i18n.msg, shown in the reply's
language). No function leaves a half-written file at a final path: content is
written to a temporary file in the same directory and renamed into place.
"""


from ..i18n import Error, msg


class StorageError(Error):
    """A storage operation failed; ``str(e)`` is one line a user can read."""

    def shape(self, text, lang):
        # One line, whatever the cause produced (tools print multi-line errors).
        return " ".join(text.splitlines()).strip() \
            or msg("storage operation failed").render(lang)
