"""How a simulated host's files are written.

Durability: files are written to a temporary name and renamed, never
fsync'ed (DURABLE = False): a crash may lose the last operations, which the
backend's reconcile repairs, but never leaves a torn file; an empty domain
file (the remains of an unsynced new file after a power loss) counts as no
domain. With DURABLE = True every file is fsync'ed and its directory once per
operation (about 0.5 ms more per operation on ext4).

Other modules of the package use ``files.DURABLE`` and
``files._write_file``, looked up at each call: DURABLE is switched at run
time, which a name bound by ``from .files import ...`` would not see.
"""

import contextlib
import os

DURABLE = False                 # fsync files and directories (see the module doc)


def _write_file(path, data, node=None):
    """Replace ``path`` atomically (tmp + rename; fsync'ed only if DURABLE)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if DURABLE:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if node is not None:
        node.dirty.add(directory)


def _read_all(fd):
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 16, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)
