"""Copying and checksumming files of this machine, for a volume's move between two
hosts whose storage this machine reaches (transfer.LocalFiles).

The copy runs as fast as ``cp``: one thread reads the source's data extents into
a few 1 MiB buffers and writes them out, while a second thread reads every chunk
back from the copy and compares it, byte for byte, with the buffer it was written
from. Nothing is flushed here: the copy is made durable, and checked again by
checksum from the disk, before the source is deleted (the migration's landing).

Holes stay holes: only the extents SEEK_DATA reports are read and written, as
cp --sparse and rsync --sparse do.
"""

import errno
import hashlib
import os
import queue
import threading
import zlib

from ..i18n import msg
from . import StorageError
from .files import make_dirs, open_for_reading

CHUNK = 1 << 20          # the copy's buffers: big enough for few system calls, small
BUFFERS = 4              # enough to stay in the CPU's caches between write and read-back
BLOCK = 4 << 20          # the checksum's blocks


def extents(fd, size):
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


def checksum(fd, path, progress=None):
    """The file's checksum: CRC-32 of every 4 MiB block of its bytes, the list
    hashed into one hex string (``progress(done, total)`` after each block). Corruption in a copy is accidental, not forged: a
    32-bit CRC per block catches it as surely as a filesystem's block checksums
    do, at 5 GB/s where sha256 manages 2. Read straight through, holes included:
    the copy trusts the extent map to skip holes, the checksum does not."""
    size = os.fstat(fd).st_size
    listing = [b"%d\n" % size]
    view = memoryview(bytearray(BLOCK))
    try:
        for block, position in enumerate(range(0, size, BLOCK)):
            want = min(BLOCK, size - position)
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
            if progress:
                progress(position + want, size)
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}", path=path, error=e.strerror))
    return hashlib.sha256(b"".join(listing)).hexdigest()


class Background:
    """``fn(*args)`` in a thread (preadv, zlib, hashlib and fsync release the GIL)."""

    def __init__(self, fn, *args):
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


def copy_verified(source, target, progress=None):
    """Copy ``source`` to a new file ``target``, every chunk read back from
    ``target`` and compared with what was written. ``progress(done, total)``."""
    make_dirs(os.path.dirname(target))
    with open_for_reading(source) as f:
        try:
            out = os.open(target, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StorageError(msg("cannot create {path}: {error}",
                                   path=target, error=e.strerror))
        try:
            _copy(f.fileno(), out, source, target, progress)
        finally:
            os.close(out)


def _copy(fd, out, source, target, progress):
    size = os.fstat(fd).st_size
    checker = _ReadBack(out)
    done = 0
    try:
        for start, length in extents(fd, size):
            position, end = start, start + length
            while position < end and checker.error is None:
                index = checker.free.get()
                buffer = checker.buffers[index]
                n = os.preadv(fd, [buffer[:min(CHUNK, end - position)]], position)
                if n <= 0:
                    raise StorageError(msg("cannot read {source}: it shrank while being copied",
                                           source=source))
                _pwrite_all(out, buffer[:n], position)
                checker.todo.put((index, position, n))
                position += n
                done += n
                if progress:
                    progress(done, size)
        os.ftruncate(out, size)
    except OSError as e:
        raise StorageError(msg("cannot copy {source} to {target}: {error}",
                               source=source, target=target, error=e.strerror))
    finally:
        checker.todo.put(None)
        checker.join()
    if isinstance(checker.error, OSError):
        raise StorageError(msg("cannot read {path}: {error}", path=target,
                               error=checker.error.strerror))
    if isinstance(checker.error, BaseException):
        raise checker.error
    if checker.error is not None:
        raise StorageError(msg("the copy of {source} does not read back as written (at byte "
                               "{offset})", source=source, offset=checker.error))


class _ReadBack(threading.Thread):
    """Reads each chunk back from the copy and compares it with its buffer, then
    frees the buffer for the next chunk. ``error``: the first exception, or the
    offset of the first chunk that differs."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.buffers = [memoryview(bytearray(CHUNK)) for _ in range(BUFFERS)]
        self.free = queue.SimpleQueue()
        self.todo = queue.SimpleQueue()
        for index in range(BUFFERS):
            self.free.put(index)
        self.error = None
        self.start()

    def run(self):
        while (item := self.todo.get()) is not None:
            index, position, length = item
            try:
                if self.error is None:
                    back = os.pread(self.fd, length, position)
                    # bytes against bytearray is one memcmp (memoryviews compare item by item).
                    written = self.buffers[index].obj
                    if back != (written if length == CHUNK else written[:length]):
                        self.error = position
            except BaseException as e:     # noqa: BLE001 - handed to the copying thread
                self.error = e
            finally:
                self.free.put(index)        # the copying thread may be waiting for it


def _pwrite_all(fd, view, position):
    while view:
        n = os.pwrite(fd, view, position)
        view = view[n:]
        position += n
