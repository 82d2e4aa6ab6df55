"""File helpers shared by the storage modules: publish-by-rename, copying
while hashing, free space, tidy directories.

hashlib is imported where hashing happens, not at import time: the CLI
imports the backend on every one-shot command (see the start-up benchmarks).
"""

import errno
import os

from ..i18n import msg
from . import StorageError

SHA256 = "sha256:"          # the prefix of a sha256 checksum (the only kind remote hosts make)

CHUNK = 1024 * 1024


def check_name(name):
    """A uuid becomes a path component: refuse anything that could climb out
    of its directory (a defect upstream, never a user's wish)."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise StorageError(msg("invalid name for a storage path: {name!r}", name=name))
    return name


def temp_path(final_path):
    """A fresh, exclusively created temporary file next to ``final_path``:
    same directory, so the final rename is atomic (never across filesystems)."""
    directory, name = os.path.split(final_path)
    for attempt in range(100):
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{attempt}.part")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise StorageError(msg("cannot create a file in {directory}: {error}",
                                   directory=directory, error=e.strerror))
    raise StorageError(msg("cannot create a temporary file next to {final_path}",
                           final_path=final_path))


def publish(tmp, final_path):
    """Flush ``tmp`` to disk and rename it to ``final_path`` (atomically
    replacing whatever was there), then flush the directory entry, so that
    after a crash the final path holds either nothing or the whole file."""
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final_path)
        fsync_dir(os.path.dirname(final_path))
    except OSError as e:
        discard(tmp)
        raise StorageError(msg("cannot write {path}: {error}",
                               path=final_path, error=e.strerror))


def fsync_dir(directory, strict=False):
    """Flush a directory's entries to the disk. ``strict``: a failure raises
    StorageError (where the flush is what makes a rename durable before
    something else is deleted), else it is ignored."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        if strict:
            raise StorageError(msg("cannot write {path}: {error}", path=directory,
                                   error=e.strerror))


def discard(path):
    """Remove a file if it exists (cleanup after a failure: never raises)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_dir_if_empty(directory):
    try:
        os.rmdir(directory)
    except OSError:
        pass   # not empty, gone already, or not ours to remove


def make_dirs(directory):
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise StorageError(msg("cannot create directory {directory}: {error}",
                               directory=directory, error=e.strerror))


class Hasher:
    """Feeds every chunk to the digests asked for (one pass over the data)."""

    def __init__(self, *names):
        import hashlib
        self.digests = {name: hashlib.new(name) for name in names}

    def update(self, chunk):
        for d in self.digests.values():
            d.update(chunk)

    def hexdigest(self, name):
        return self.digests[name].hexdigest()


def open_for_reading(path):
    """``open(path, "rb")``, failing with one StorageError line."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise StorageError(msg("file not found: {path}", path=path))
    except IsADirectoryError:
        raise StorageError(msg("{path} is a directory, not a file", path=path))
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}", path=path, error=e.strerror))


def copy_file(src, dst_fd, dst_path, hasher=None, progress=None):
    """Stream ``src`` into the open descriptor ``dst_fd``, hashing as it goes.
    Returns the number of bytes copied."""
    with open_for_reading(src) as f:
        total = os.fstat(f.fileno()).st_size
        done = 0
        if progress:
            progress.update(0, total)
        while True:
            try:
                chunk = f.read(CHUNK)
            except OSError as e:
                raise StorageError(msg("cannot read {path}: {error}", path=src, error=e.strerror))
            if not chunk:
                break
            write_all(dst_fd, chunk, dst_path)
            if hasher:
                hasher.update(chunk)
            done += len(chunk)
            if progress:
                progress.update(done, total)
        if progress:
            progress.finish(done, total)
        return done


def write_all(fd, data, path):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except OSError as e:
            raise StorageError(msg("cannot write {path}: {error}", path=path, error=e.strerror))
        view = view[n:]


def sha256(path, progress=None):
    """The sha256 of a file's bytes, read in chunks (``progress(done, total)``)."""
    hasher = Hasher("sha256")
    try:
        with open(path, "rb") as f:
            total, done = os.fstat(f.fileno()).st_size, 0
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                hasher.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except FileNotFoundError:
        raise StorageError(msg("file not found: {path}", path=path))
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}", path=path, error=e.strerror))
    return hasher.hexdigest("sha256")


def capacity(directory):
    """(total, available) bytes of the filesystem holding ``directory``.
    Available is what an unprivileged writer may use (f_bavail), the figure
    that matters before promising space to a volume."""
    try:
        st = os.statvfs(directory)
    except FileNotFoundError:
        raise StorageError(msg("directory not found: {directory}", directory=directory))
    except OSError as e:
        raise StorageError(msg("cannot read the capacity of {directory}: {error}",
                               directory=directory, error=e.strerror))
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def disk_usage(path):
    """Bytes a file occupies on disk (sparse files count only what is allocated)."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}", path=path, error=e.strerror))


class Progress:
    """Calls ``callback(done, total)`` at most ``rate`` times a second, plus
    once at the end, so a fast local copy does not flood the caller."""

    def __init__(self, callback, rate=10):
        import time
        self._clock = time.monotonic
        self.callback = callback
        self.interval = 1.0 / rate
        self.last = None
        self.reported = None

    def update(self, done, total):
        now = self._clock()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            self._report(done, total)

    def finish(self, done, total):
        self.last = self._clock()
        self._report(done, total)

    def _report(self, done, total):
        if self.reported != (done, total):
            self.reported = (done, total)
            self.callback(done, total)


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def is_cross_device(e):
    return isinstance(e, OSError) and e.errno == errno.EXDEV


class file_lock:
    """``with file_lock(path):`` an exclusive flock on ``path`` (made if missing),
    held until the block ends (closing the file releases it). ``on_wait()`` is
    called once when another holder makes it wait."""

    def __init__(self, path, on_wait=None):
        self.path = path
        self.on_wait = on_wait

    def __enter__(self):
        import fcntl

        try:
            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as e:
            raise StorageError(msg("cannot create the lock file {path}: {error}",
                                   path=self.path, error=e.strerror))
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait is not None:
                self.on_wait()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)     # closing releases the lock
