"""qemu-img, wrapped: each call has a timeout and fails with one line.

Paths are made absolute before qemu-img sees them, so a backing file is
always recorded as an absolute path (moving a chain is an explicit
``rebase(..., unsafe=True)``, see SPEC §11). Formats are passed explicitly
(-f/-F) wherever the caller knows them: probing a raw disk that a guest wrote
could read a qcow2 header the guest planted there.
"""

import json
import os
import subprocess

from ..i18n import msg
from . import StorageError
from .files import discard, make_dirs, publish, temp_path

QEMU_IMG = "qemu-img"
TIMEOUT = 120               # metadata operations: info, create, unsafe rebase
LONG_TIMEOUT = 6 * 3600     # operations that copy data: convert, safe rebase

FORMATS = ("qcow2", "raw")


def run(args, what=None, timeout=TIMEOUT):
    """Run ``qemu-img args...`` and return its stdout. ``what`` names the
    operation in the error line: "qemu-img failed to <what>: <reason>"."""
    what = what or f"{args[0]} {args[-1]}"
    try:
        proc = subprocess.run([QEMU_IMG, *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="replace", timeout=timeout,
                              env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise StorageError(msg("qemu-img is not installed (it comes with the qemu-utils package)"))
    except subprocess.TimeoutExpired:
        raise StorageError(msg("qemu-img failed to {what}: timed out after {timeout} seconds",
                               what=what, timeout=timeout))
    except OSError as e:
        raise StorageError(msg("qemu-img failed to {what}: {error}", what=what, error=e.strerror))
    if proc.returncode != 0:
        raise StorageError(msg("qemu-img failed to {what}: {reason}",
                               what=what, reason=_reason(proc.stderr, proc.returncode)))
    return proc.stdout


def _reason(stderr, code):
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("qemu-img: "):
            line = line[len("qemu-img: "):]
        if line:
            return line
    return msg("exit status {code}", code=code)


def info(path, chain=True, force_share=True, fmt=None):
    """What qemu-img knows of an image.

    Returns {"format", "virtualSize", "actualSize", "backingFile",
    "backingName", "backingFormat", "backingChain"}: ``backingFile`` is the
    absolute path of the direct backing file (None without one), ``backingName``
    the name the header gives it (relative or absolute); ``backingChain`` lists every
    backing file below the image, nearest first (the image itself excluded),
    all of which must exist. ``chain=False`` reads only the image's own
    header (backingChain is then just [backingFile] or []), which works even
    when the backing files are not (yet) where the header says.
    ``force_share`` (-U, the default) reads without taking qemu's image
    lock: a read that held the lock at the moment a VM starts would make the
    VM fail to start. Pass False to fail on an image in use. ``fmt``
    (-f) reads the image as that format instead of probing it.
    """
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise StorageError(msg("image not found: {path}", path=path))
    args = ["info", "--output=json"]
    if chain:
        args.append("--backing-chain")
    if force_share:
        args.append("-U")
    if fmt:
        args += ["-f", fmt]
    out = run([*args, path], what=msg("read {path}", path=path))
    try:
        data = json.loads(out)
    except ValueError:
        raise StorageError(msg("qemu-img failed to read {path}: unexpected output", path=path))
    entries = data if isinstance(data, list) else [data]
    top = entries[0]
    backing = _backing_path(top, path)
    if chain:
        backing_chain = [os.path.abspath(e["filename"]) for e in entries[1:]]
    else:
        backing_chain = [backing] if backing else []
    return {
        "format": top.get("format"),
        "virtualSize": top.get("virtual-size"),
        "actualSize": top.get("actual-size"),
        "backingFile": backing,
        "backingName": top.get("backing-filename") if backing else None,
        "backingFormat": top.get("backing-filename-format") if backing else None,
        "backingChain": backing_chain,
        "formatSpecific": (top.get("format-specific") or {}).get("data") or {},
    }


def _backing_path(entry, path):
    name = entry.get("full-backing-filename") or entry.get("backing-filename")
    if not name:
        return None
    # A relative backing name is relative to the image's directory, as qemu reads it.
    return os.path.normpath(os.path.join(os.path.dirname(path), name))


def backing_name(image, backing):
    """How an image names its backing file.

    Volumes, snapshots and the root volume templates' targets sit one level
    below their storage root R (R/rootVolumes, R/dataVolumes, R/snapshots); a
    backing file under the same R is named "../<its path below R>", which reads
    the same from all of those directories (a volume hard-linked into snapshots/
    as a snapshot keeps a valid name) and from every view of the host's storage:
    the host's own (its QEMU), this machine's (a simulated host's root, a
    libvirtd in a mount namespace of its own seen through /proc/<pid>/root),
    another host's after a migration. Anything else keeps an absolute name."""
    image = os.path.abspath(image)
    root = os.path.dirname(os.path.dirname(image))
    backing = os.path.abspath(backing)
    if root != "/" and backing.startswith(root + "/"):
        return os.path.join("..", os.path.relpath(backing, root))
    return backing


def create(path, size_bytes=None, fmt="qcow2", backing=None, backing_fmt=None):
    """Create a new image at ``path`` (and its parent directories); refuses
    to overwrite an existing file. With ``backing``, the image is a qcow2
    overlay (size defaults to the backing file's virtual size; a larger size
    grows the disk). ``backing_fmt`` is probed from the backing file if not
    given."""
    path = os.path.abspath(path)
    if fmt not in FORMATS:
        raise StorageError(msg("unsupported image format {fmt} (qcow2 or raw)", fmt=fmt))
    if os.path.lexists(path):
        raise StorageError(msg("cannot create {path}: the file already exists", path=path))
    args = ["create", "-q", "-f", fmt]
    if backing:
        if fmt != "qcow2":
            raise StorageError(msg("cannot create {path}: only a qcow2 image can have a backing "
                                   "file", path=path))
        backing = os.path.abspath(backing)
        if backing_fmt is None:
            backing_fmt = info(backing, chain=False)["format"]
        args += ["-b", backing_name(path, backing), "-F", backing_fmt]
    elif size_bytes is None:
        raise StorageError(msg("cannot create {path}: no size given", path=path))
    if size_bytes is not None:
        size_bytes = int(size_bytes)
        if size_bytes <= 0:
            raise StorageError(msg("cannot create {path}: the size must be positive, not "
                                   "{size_bytes}", path=path, size_bytes=size_bytes))
    make_dirs(os.path.dirname(path))
    tmp = temp_path(path)
    try:
        tail = [str(size_bytes)] if size_bytes is not None else []
        run([*args, tmp, *tail], what=msg("create {path}", path=path))
    except BaseException:
        discard(tmp)
        raise
    publish(tmp, path)
    return path


def snapshot_overlay(current_path, new_path):
    """Create ``new_path``: a qcow2 overlay whose backing file is
    ``current_path`` (which from then on must not be written)."""
    current_path = os.path.abspath(current_path)
    fmt = info(current_path, chain=False)["format"]
    return create(new_path, None, "qcow2", backing=current_path, backing_fmt=fmt)


def rebase(path, backing, backing_fmt="qcow2", unsafe=True, seen_from=None):
    """Point the qcow2 image ``path`` at a new backing file (None: no backing),
    named relative to the directory of ``path`` (or of ``seen_from``: an image
    whose bytes will be copied there, see local's root volume templates).

    unsafe=True only rewrites the header (-u): for a chain that was moved or
    copied, where the new backing file has the same content as the old one.
    unsafe=False first copies into ``path`` every cluster that differs
    between the old and the new chain, so what the image shows is unchanged
    (this is how a snapshot is merged out of a chain); the old backing file
    must still be readable."""
    path = os.path.abspath(path)
    args = ["rebase", "-q", "-f", "qcow2"]
    if unsafe:
        args.append("-u")
    if backing:
        args += ["-b", backing_name(seen_from or path, os.path.abspath(backing)),
                 "-F", backing_fmt]
    else:
        args += ["-b", ""]
    run([*args, path], what=msg("rebase {path}", path=path),
        timeout=TIMEOUT if unsafe else LONG_TIMEOUT)


def convert(src, dst, fmt, src_fmt=None):
    """Write a copy of ``src`` in format ``fmt`` to ``dst`` (a new file; the
    copy is standalone: backing data is folded in)."""
    src, dst = os.path.abspath(src), os.path.abspath(dst)
    if fmt not in FORMATS:
        raise StorageError(msg("unsupported image format {fmt} (qcow2 or raw)", fmt=fmt))
    if os.path.lexists(dst):
        raise StorageError(msg("cannot convert {src} to {dst}: the file already exists",
                               src=src, dst=dst))
    if src_fmt is None:
        src_fmt = info(src, chain=False)["format"]
    make_dirs(os.path.dirname(dst))
    tmp = temp_path(dst)
    try:
        run(["convert", "-q", "-f", src_fmt, "-O", fmt, src, tmp],
            what=msg("convert {src} to {dst}", src=src, dst=dst),
            timeout=LONG_TIMEOUT)
    except BaseException:
        discard(tmp)
        raise
    publish(tmp, dst)
    return dst


def compare(a, b, a_fmt=None, b_fmt=None):
    """True if the two images show the same guest-visible content, their
    whole chains considered, and have the same virtual size. (Not -s:
    strict mode would also call an allocated zero cluster a difference.)"""
    if info(a, chain=False)["virtualSize"] != info(b, chain=False)["virtualSize"]:
        return False
    args = ["compare", "-q"]
    if a_fmt:
        args += ["-f", a_fmt]
    if b_fmt:
        args += ["-F", b_fmt]
    try:
        proc = subprocess.run([QEMU_IMG, *args, os.path.abspath(a), os.path.abspath(b)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=LONG_TIMEOUT,
                              env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError:
        raise StorageError(msg("qemu-img is not installed (it comes with the qemu-utils package)"))
    except subprocess.TimeoutExpired:
        raise StorageError(msg("qemu-img failed to compare {a} and {b}: timed out", a=a, b=b))
    # 0: identical, 1: different, anything else: an error.
    if proc.returncode in (0, 1):
        return proc.returncode == 0
    raise StorageError(msg("qemu-img failed to compare {a} and {b}: {reason}",
                           a=a, b=b, reason=_reason(proc.stderr, proc.returncode)))
