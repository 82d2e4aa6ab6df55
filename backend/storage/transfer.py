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

``copy`` writes a file's bytes to a temporary name on the destination and
returns the checksum of the source's bytes (per-block CRC-32s here, sha256sum
on remote hosts); the caller compares it with the destination's
``durable_digest`` of the temporary file before anything else happens (SPEC
§11: verified before the source is touched). Sparse files stay sparse: only
the source's data extents are read and written, holes count as the zeros they
read as.
"""

import errno
import hashlib
import os
import zlib

from ..i18n import msg
from . import StorageError, files, qemu_img
from .files import SHA256, fsync_dir, make_dirs, remove_dir_if_empty

CHUNK = 4 << 20


def temp_name(path):
    """The fixed temporary name of ``path``'s copy on the destination: fixed, so
    whoever cleans up after a process that died knows what to remove."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.migrating")


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
        """(logical path, format) of the file's direct backing file, or (None, None)."""
        found = qemu_img.info(self.path(logical), chain=False, fmt="qcow2")
        if not found["backingFile"]:
            return None, None
        return self.logical(found["backingFile"]), found["backingFormat"] or "qcow2"

    def digest(self, logical):
        with _open(self.path(logical)) as f:
            return _hash_extents(f.fileno(), self.path(logical))

    def durable_digest(self, logical, like=None):
        """Flush the file to disk and return its checksum, the two at once (the hash
        reads the pages the flush writes). ``like`` a sha256 checksum (a remote
        host's) asks for the sha256 of the file."""
        real = self.path(logical)
        with _open(real) as f:
            flushed = _Background(os.fsync, f.fileno())
            if str(like).startswith(SHA256):
                digest = SHA256 + files.sha256(real)
            else:
                digest = _hash_extents(f.fileno(), real)
            flushed.result(msg("cannot write {path}", path=real))
        return digest

    def rebase(self, logical, backing, fmt):
        qemu_img.rebase(self.path(logical), self.path(backing) if backing else None, fmt,
                        unsafe=True)

    def publish(self, tmp, final):
        """Make ``tmp`` durable and rename it to ``final``."""
        real = self.path(final)
        try:
            fd = os.open(self.path(tmp), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self.path(tmp), real)
            fsync_dir(os.path.dirname(real))
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


def _open(path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise StorageError(msg("file not found: {path}", path=path))
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}", path=path, error=e.strerror))


def _extents(fd, size):
    """The file's data extents [(offset, length)], from SEEK_DATA/SEEK_HOLE. Past
    the last extent (ENXIO) is a hole; any other answer means the filesystem can
    not tell, and the rest of the file counts as data."""
    out = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as e:
            if e.errno != errno.ENXIO:
                out.append((offset, size - offset))
            break
        out.append((start, min(end, size) - start))
        offset = end
    return out


def _hash_extents(fd, path):
    """The file's checksum: CRC-32 of every 4 MiB block of its bytes, the list
    hashed into one hex string. Corruption in a copy is accidental, not forged: a
    32-bit CRC per block catches it as surely as a filesystem's block checksums
    do, at 6 GB/s where sha256 manages 2 (two sha256 passes over a 200 MiB volume
    were half of its migration time). Read straight through, holes included: the
    copy trusts the extent map to skip holes, the checksum must not (a filesystem
    that called data a hole would otherwise fool both the same way)."""
    size = os.fstat(fd).st_size
    listing = [b"%d\n" % size]
    view = memoryview(bytearray(CHUNK))
    try:
        for block, position in enumerate(range(0, size, CHUNK)):
            want = min(CHUNK, size - position)
            got = 0
            crc = 0
            while got < want:
                n = os.preadv(fd, [view[got:want]], position + got)
                if n <= 0:
                    raise StorageError(msg("cannot read {path}: it shrank while being read",
                                           path=path))
                crc = zlib.crc32(view[got:got + n], crc)
                got += n
            listing.append(b"%d:%08x\n" % (block, crc))
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}", path=path, error=e.strerror))
    return hashlib.sha256(b"".join(listing)).hexdigest()


def _pwrite_all(fd, view, position):
    while view:
        n = os.pwrite(fd, view, position)
        view = view[n:]
        position += n


class _Background:
    """``fn(*args)`` in a thread (hashlib, fsync and copy_file_range release the GIL)."""

    def __init__(self, fn, *args):
        import threading

        self.value = self.error = None

        def work():
            try:
                self.value = fn(*args)
            except BaseException as e:      # handed to result()
                self.error = e
        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def result(self, what):
        self.thread.join()
        if isinstance(self.error, OSError):
            raise StorageError(msg("{what}: {error}", what=what, error=self.error.strerror))
        if self.error is not None:
            raise self.error
        return self.value


def copy_local(src, logical, dst, tmp, progress=None):
    """Copy one file between two LocalFiles hosts to ``tmp`` on ``dst``; returns
    the source's checksum. The kernel copies the data extents (copy_file_range,
    holes stay holes) while a second thread hashes the source."""
    source, target = src.path(logical), dst.path(tmp)
    make_dirs(os.path.dirname(target))
    with _open(source) as f, _open(source) as g:
        try:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StorageError(msg("cannot create {path}: {error}",
                                   path=target, error=e.strerror))
        try:
            hashed = _Background(_hash_extents, g.fileno(), source)
            try:
                _copy_extents(f.fileno(), out, source, target, progress)
            finally:
                digest = hashed.result(msg("cannot read {path}", path=source))
            return digest
        finally:
            os.close(out)


def _copy_extents(fd, out, source, target, progress):
    size = os.fstat(fd).st_size
    done = 0
    try:
        for start, length in _extents(fd, size):
            position, end = start, start + length
            while position < end:
                n = _copy_range(fd, out, min(CHUNK * 16, end - position), position)
                if n <= 0:
                    raise StorageError(msg("cannot read {source}: it shrank while being copied",
                                           source=source))
                position += n
                done += n
                if progress:
                    progress(done, size)
        os.ftruncate(out, size)
    except OSError as e:
        raise StorageError(msg("cannot copy {source} to {target}: {error}",
                               source=source, target=target, error=e.strerror))


def _copy_range(fd, out, count, position):
    try:
        return os.copy_file_range(fd, out, count, position, position)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    data = os.pread(fd, min(count, CHUNK), position)   # filesystems without it
    _pwrite_all(out, memoryview(data), position)
    return len(data)


def copy(src, logical, dst, tmp, progress=None):
    """Copy one file from host ``src`` to the temporary name ``tmp`` on ``dst``
    with the transport the pair needs; returns the source's checksum, of the
    kind ``dst.durable_digest(tmp, like=checksum)`` computes to compare."""
    if not src.remote and not dst.remote:
        return copy_local(src, logical, dst, tmp, progress)
    from . import remote_files

    return remote_files.copy(src, logical, dst, tmp, progress)
