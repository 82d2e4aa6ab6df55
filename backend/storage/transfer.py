"""Carrying a volume's files from one host's local storage to another's (SPEC §11).

Two kinds of host, one interface (``HostFiles``):

- ``LocalFiles``: the host's storage is a directory of this machine (a simulated
  host's private root, or this machine's own libvirtd). Plain file operations.
- ``SshFiles`` (remote_files.py): a remote host, reached with the ssh of its
  libvirt URI; each operation is one command there, and files travel with
  ``rsync``: run on the source between two remote hosts (never staged on this
  machine), run here between this machine and a remote host.

Paths given to both are the *logical* paths the records hold (a volume's
installPath); ``LocalFiles`` maps them under its root, as the host driver does.

A file moves in two steps. ``copy`` writes its bytes to a temporary name on the
destination and checks them in transit (read back and compared on this machine,
rsync's own whole-file checksum otherwise), as fast as cp: nothing is flushed
yet. Before the source is deleted, ``durable_digest`` flushes the copy and
checksums it as the disk holds it, which must equal the source's ``digest``
(SPEC §11: verified before the source is touched). Checksums come in two kinds:
"crc" (per-block CRC-32s, this machine only) and "sha256" (any host). Sparse
files stay sparse: only the source's data extents are read and written.
"""

import os

from ..i18n import msg
from . import StorageError, files, local_copy, qcow2, qemu_img
from .files import SHA256, fsync_dir, remove_dir_if_empty


def temp_name(path):
    """The fixed temporary name of ``path``'s copy on the destination: fixed, so
    whoever cleans up after a process that died knows what to remove."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.migrating")


def digest_kind(src, dst):
    """The checksum both ends can make: sha256 as soon as one end is remote."""
    return "sha256" if src.remote or dst.remote else "crc"


# -- this machine --------------------------------------------------------------------------------

class LocalFiles:
    """A host whose storage this machine reaches directly; ``root`` prefixes every
    logical path ('' for this machine's own files)."""

    remote = False

    def __init__(self, root=""):
        self.root = root.rstrip("/")

    def path(self, logical):
        return self.root + logical if self.root else logical

    def logical(self, real):
        real = os.path.abspath(real)
        if self.root and real.startswith(self.root + "/"):
            return real[len(self.root):]
        return real

    def exists(self, logical):
        return os.path.lexists(self.path(logical))

    def backing(self, logical):
        """(logical path, format, portable) of the file's direct backing file, or
        (None, None, True). ``portable``: its name in the header is relative, so
        it reads the same on every host's storage (qemu_img.backing_name)."""
        real = self.path(logical)
        header = qcow2.backing(real)
        if header is None:                  # not a header qcow2.py reads: ask qemu-img
            found = qemu_img.info(real, chain=False, fmt="qcow2")
            header = (found["backingName"], found["backingFormat"]) if found["backingFile"] \
                else (None, None)
        name, fmt = header
        if name is None:
            return None, None, True
        # A relative name is relative to the image's directory, as qemu reads it.
        path = os.path.normpath(os.path.join(os.path.dirname(real), name))
        return self.logical(path), fmt or "qcow2", not os.path.isabs(name)

    def digest(self, logical, kind="crc"):
        real = self.path(logical)
        if kind == "sha256":
            return SHA256 + files.sha256(real)
        with files.open_for_reading(real) as f:
            return local_copy.checksum(f.fileno(), real)

    def durable_digest(self, logical, kind="crc", progress=None):
        """Flush the file and its directory entry to the disk (and the entries of
        the directories above it, which the copy may have made), drop it from the
        page cache and checksum it: the bytes the disk holds, not those still in
        memory. ``progress(done, total)`` as the checksum reads."""
        real = self.path(logical)
        with files.open_for_reading(real) as f:
            try:
                os.fsync(f.fileno())
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            except OSError as e:
                raise StorageError(msg("cannot write {path}: {error}", path=real,
                                       error=e.strerror))
            directory = os.path.dirname(real)
            fsync_dir(directory, strict=True)
            for _ in range(3):
                parent = os.path.dirname(directory)
                if parent == directory or not parent.startswith(self.root + "/"):
                    break
                fsync_dir(parent, strict=True)
                directory = parent
            if kind == "sha256":
                return SHA256 + files.sha256(real, progress)
            return local_copy.checksum(f.fileno(), real, progress)

    def rebase(self, logical, backing, fmt):
        qemu_img.rebase(self.path(logical), self.path(backing) if backing else None, fmt,
                        unsafe=True)

    def publish(self, tmp, final):
        """Rename ``tmp`` to ``final`` (made durable later, by durable_digest)."""
        real = self.path(final)
        try:
            os.replace(self.path(tmp), real)
        except OSError as e:
            raise StorageError(msg("cannot write {path}: {error}", path=real, error=e.strerror))

    def remove(self, logical):
        """Delete a file (gone already is fine) and its directory once empty,
        unless that directory is a storage root's shared one."""
        real = self.path(logical)
        try:
            os.unlink(real)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StorageError(msg("cannot delete {path}: {error}", path=real, error=e.strerror))
        directory = os.path.dirname(real)
        if os.path.basename(directory) not in ("rootVolumes", "dataVolumes", "snapshots"):
            remove_dir_if_empty(directory)

    def same_storage(self, other, directory):
        """True when ``directory`` (a logical path) is one and the same directory on
        both hosts: two hosts sharing storage, nothing to move."""
        if not isinstance(other, LocalFiles):
            return False
        try:
            mine, theirs = os.stat(self.path(directory)), os.stat(other.path(directory))
        except OSError:
            return False                # not made yet on one side: not the same
        return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def copy(src, logical, dst, tmp, progress=None):
    """Copy one file from host ``src`` to the temporary name ``tmp`` on ``dst``
    with the transport the pair needs, checked in transit (not yet durable)."""
    if not src.remote and not dst.remote:
        return local_copy.copy_verified(src.path(logical), dst.path(tmp), progress)
    from . import remote_files

    return remote_files.copy(src, logical, dst, tmp, progress)
