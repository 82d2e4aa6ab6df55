"""Root volume templates of local primary storage (local.py holds the layout,
the image cache and the volumes).

Next to each image cache live its root volume TEMPLATES (hidden files):

    imagecache/template/<imageUuid>/.<imageUuid>.<fmt>.tmpl.<ino>-<mtime_ns>-<bytes>.<size>.qcow2

each an empty qcow2 overlay of the cache, made once by qemu-img (<size> is
"image" for the image's own virtual size, else the grown size in bytes). A
new overlay's bytes depend only on its backing file's name and format and its
virtual size (qcow2 keeps no per-image id), so a root volume is a copy of the
template: a ~200 KB write instead of two qemu-img processes. See
local.create_root_volume, which falls back to ``qemu-img create`` whenever
there is no template to copy, and write_copy (why the copy is not fsync'ed).
"""

import os
import struct

from ..i18n import msg
from . import StorageError, files, qemu_img
from .files import discard, make_dirs, write_all
from .layout import ROOT_VOLUMES

# -- reading and making templates --------------------------------------------
#
# A template's name carries the cache file's identity (inode, mtime, length):
# a cache replaced by another file gets new templates, and the stale ones are
# removed when the first new one is made (and all of them with the cache).
# Templates are made under the cache's lock file (the one
# local.ensure_image_cache takes), so processes racing on a new cache make one
# template between them; qemu_img.create publishes it by rename after an
# fsync, so a template's path always names a complete file. Each process
# keeps the templates it has read (a few hundred KB each), keyed by that name:
# the usual call reads no file.

_TEMPLATE_TAG = ".tmpl."
_TEMPLATES = {}            # (template path, st_dev of the cache) -> (virtual size, bytes) or None
_TEMPLATES_KEPT = 32       # per process; the oldest entry goes first


def _template_prefix(cache_path):
    directory, name = os.path.split(cache_path)
    return directory, f".{name}{_TEMPLATE_TAG}"


def _template_path(cache_path, st, want):
    directory, prefix = _template_prefix(cache_path)
    ident = f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"
    return os.path.join(directory, f"{prefix}{ident}.{want or 'image'}.qcow2"), ident


def template_bytes(cache_path, fmt, st, want):
    """The bytes of a new root volume of at least ``want`` bytes (0: the
    image's size) over the cache whose stat is ``st``."""
    found = _template(cache_path, fmt, st, 0)
    if found and want > found[0]:
        found = _template(cache_path, fmt, st, want)
    return found[1] if found else None


def _template(cache_path, fmt, st, want):
    """(virtual size, bytes) of the template for ``want``, read or made;
    None if qemu-img made one this module does not recognise (it is then
    not tried again in this process: each call would cost a process more)."""
    path, ident = _template_path(cache_path, st, want)
    key = (path, st.st_dev)
    if key in _TEMPLATES:
        return _TEMPLATES[key]
    found = _read_template(path, cache_path, fmt, want)
    if found is None:
        with files.file_lock(cache_path + ".lock"):
            found = _read_template(path, cache_path, fmt, want)   # made while we waited?
            if found is None:
                discard_templates(cache_path, keep=ident)
                qemu_img.create(path, want or None, "qcow2", backing=cache_path,
                                backing_fmt=fmt)
                # Named as the root volumes it is copied to will find the cache.
                qemu_img.rebase(path, cache_path, fmt, unsafe=True,
                                seen_from=_volume_seat(cache_path))
                try:
                    found = _read_template(path, cache_path, fmt, want)
                except StorageError:
                    found = None                   # qemu-img's own output: stop trying
    if len(_TEMPLATES) >= _TEMPLATES_KEPT:
        del _TEMPLATES[next(iter(_TEMPLATES))]
    _TEMPLATES[key] = found
    return found


def _volume_seat(cache_path):
    """Where a root volume made from a template sits, for naming the cache from
    there: R/rootVolumes/<file>, the cache being R/imagecache/template/<i>/<file>."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(cache_path))))
    return os.path.join(root, ROOT_VOLUMES, "volume.qcow2")


def _read_template(path, cache_path, fmt, want):
    """(virtual size, bytes) of the template at ``path``; None if there is
    none. A template that is not exactly what qemu-img makes for this cache
    (any doubt: an unknown feature bit, another backing file or format, the
    wrong size) is removed, so the next caller makes it again, and the call
    goes on without it (StorageError)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    size = _check_overlay(data, qemu_img.backing_name(_volume_seat(cache_path), cache_path), fmt)
    if size is None or (want and size != -(-want // 512) * 512):     # qemu rounds up to 512
        discard(path)
        raise StorageError(msg("{path} is not a template of {cache_path}",
                               path=path, cache_path=cache_path))
    return size, data


_QCOW2 = struct.Struct(">4sIQIIQ")         # magic, version, backing offset/length, cluster bits, size
_BACKING_FORMAT = 0xE2792ACA              # header extension: the backing file's format


def _check_overlay(data, backing, fmt):
    """The virtual size of the qcow2 image ``data`` if it is an overlay of
    ``backing`` in ``fmt`` with no feature qemu-img's create would not set;
    else None."""
    if len(data) < 104:
        return None
    magic, version, b_offset, b_length, cluster_bits, size = _QCOW2.unpack_from(data)
    if magic != b"QFI\xfb" or version != 3 or not 9 <= cluster_bits <= 21 or size <= 0:
        return None
    incompatible, = struct.unpack_from(">Q", data, 72)
    header_length, = struct.unpack_from(">I", data, 100)
    if incompatible or header_length < 104 or header_length % 8:
        return None
    if data[b_offset:b_offset + b_length] != os.fsencode(backing) or b_offset + b_length > len(data):
        return None
    offset, backing_fmt = header_length, None
    while offset + 8 <= min(len(data), b_offset):
        kind, length = struct.unpack_from(">II", data, offset)
        if kind == 0:
            break
        if kind == _BACKING_FORMAT:
            backing_fmt = data[offset + 8:offset + 8 + length]
        offset += 8 + (length + 7) // 8 * 8
    if backing_fmt != fmt.encode():
        return None
    return size


def discard_templates(cache_path, keep):
    """Remove the cache's templates (and leftovers of their making) except
    those named for the cache identity ``keep``. Under the cache's lock."""
    directory, prefix = _template_prefix(cache_path)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    kept = f"{prefix}{keep}." if keep else None
    for name in names:
        making = name.startswith("." + prefix)           # temporary file of one (temp_path)
        stale = name.startswith(prefix) and not (kept and name.startswith(kept))
        if making or stale:
            discard(os.path.join(directory, name))


def forget_templates(cache_path):
    """Drop this process's copies of the cache's templates."""
    directory, prefix = _template_prefix(os.path.abspath(cache_path))
    start = os.path.join(directory, prefix)
    for key in [k for k in _TEMPLATES if k[0].startswith(start)]:
        del _TEMPLATES[key]


# -- the copy ----------------------------------------------------------------

def write_copy(path, data):
    """Write ``data`` (a template's bytes) as the new root volume ``path``
    (refusing an existing one, as qemu_img.create does): a temporary file
    renamed into place, so the path never names a partial volume while this
    process runs. The directory is made only when the first file finds it
    missing.

    The copy is not fsync'ed (qemu-img's create did, twice: file and
    directory). What it holds is no guest data, only an empty overlay that
    can be made again identically at any time; until this returns the
    volume's record says Creating, so a crash before then leaves a volume
    the service deletes and creates again. After it returns, the kernel
    writes the file back within its usual interval (seconds); a power cut
    inside that window can leave an empty (ext4 allocates at writeback) or
    partial file under a volume already marked Ready. No guest data can be
    lost that way (the guest never ran on it), qemu refuses an empty file,
    and creating the volume again (same bytes) repairs either. A data sync
    per volume is a disk flush each (+0.4 ms per file measured on the
    benchmark's virtual disk; a real disk's flush costs more), several times
    the copy itself, for a file that can always be remade."""
    if os.path.lexists(path):
        raise StorageError(msg("cannot create {path}: the file already exists", path=path))
    try:
        fd, tmp = _open_temp(path)
    except FileNotFoundError:
        make_dirs(os.path.dirname(path))
        fd, tmp = _open_temp(path)
    try:
        try:
            write_all(fd, data, path)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as e:
        discard(tmp)
        raise StorageError(msg("cannot create {path}: {error}", path=path, error=e.strerror))
    except BaseException:
        discard(tmp)
        raise


def _open_temp(final_path):
    """files.temp_path's file, left open for writing: (fd, its path);
    FileNotFoundError when its directory is missing."""
    directory, name = os.path.split(final_path)
    for attempt in range(100):
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{attempt}.part")
        try:
            return os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise                       # no directory yet: the caller makes it
        except OSError as e:
            raise StorageError(msg("cannot create a file in {directory}: {error}",
                                   directory=directory, error=e.strerror))
    raise StorageError(msg("cannot create a temporary file next to {final_path}",
                           final_path=final_path))
