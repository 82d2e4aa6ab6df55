"""Local primary storage: one directory R on one host (SPEC §7, §11).

Layout under R:
    imagecache/template/<imageUuid>/<imageUuid>.<fmt>   image copied from backup storage
    rootVolumes/<vmUuid>-<volumeUuid>.qcow2             overlay backed by the image cache
    dataVolumes/<volumeUuid>.qcow2
    snapshots/<volumeUuid>-<snapshotUuid>.qcow2

Volumes and snapshots sit side by side, one file each and no directory of
their own: every new inode costs (ext4 searches its bitmaps for one, slowly
where many files were deleted recently), and a directory per volume doubled
that for each VM; and every file of a chain is then one level below R, so
backing files can be named relative to R (qemu_img.backing_name). Files made
before this layout live in a directory of their own
(rootVolumes/<vmUuid>/<volumeUuid>.qcow2, dataVolumes/<volumeUuid>/...,
snapshots/<volumeUuid>/<snapshotUuid>.qcow2) and name their backing files
absolutely; their records keep those paths, and deleting one removes that
directory too.

Next to each image cache live its root volume TEMPLATES (hidden files):

    imagecache/template/<imageUuid>/.<imageUuid>.<fmt>.tmpl.<ino>-<mtime_ns>-<bytes>.<size>.qcow2

each an empty qcow2 overlay of the cache, made once by qemu-img (<size> is
"image" for the image's own virtual size, else the grown size in bytes). A
new overlay's bytes depend only on its backing file's name and format and its
virtual size (qcow2 keeps no per-image id), so a root volume is a copy of the
template: a ~200 KB write instead of two qemu-img processes. See
create_root_volume.

Backing files are named relative to the image's directory (qemu_img.backing_name),
so a chain opens from every view of the storage: the host's QEMU, this machine
through a simulated host's root or /proc/<pid>/root, another host after a move.
Images made before that name theirs absolutely; moving such a chain means
``qemu_img.rebase(..., unsafe=True)`` on each copied file (migration does it
for every file it moves).

Snapshots. A volume's snapshots and its image form one linear qcow2 chain:

    volume (active overlay) -> newest snapshot -> ... -> oldest -> image cache

Taking a snapshot freezes the volume's current file as the snapshot and puts
a fresh empty overlay of it at the volume's path, so the volume keeps its
path and the snapshot is an ordinary file in the chain. It is done in an
order where the volume's path always names a complete, valid volume:
  1. hard-link the volume's file to the snapshot path (a copy if R spans
     filesystems): the same bytes now have two names;
  2. create the overlay, backed by the snapshot path, in a temporary file
     next to the volume;
  3. rename the overlay over the volume's path (atomic): the old file now
     has only its snapshot name.
A crash before 3 leaves the volume exactly as it was (plus a stray link the
next attempt removes); after 3 the snapshot is complete. The caller must not
do this under a running VM: the VM keeps writing to the file it has open,
which would be the snapshot. qemu's image locks make qemu-img refuse a
volume a running VM holds, so this fails cleanly instead (live snapshots are
libvirt's business).

Deleting a snapshot merges it out with a safe ``qemu-img rebase`` of its
child (the next image up the chain) onto its parent: qemu copies into the
child every cluster the snapshot provided, then repoints the child's header.
Only the child is written; never the parent, which may be the image cache
that other volumes share (that is why this is not ``qemu-img commit``). An
interrupted rebase leaves the child pointing at the snapshot with data that
already agreed with it, so the chain stays valid; a snapshot whose merge
finished but whose file was not removed is recognised and removed on retry.
"""

import fcntl
import os
import struct

from . import StorageError, qemu_img
from .files import (Hasher, capacity as _capacity, check_name, copy_file, discard, fsync_dir,
                    is_cross_device, make_dirs, publish, remove_dir_if_empty, same_file,
                    sha256, temp_path, write_all)

IMAGE_CACHE = os.path.join("imagecache", "template")
ROOT_VOLUMES = "rootVolumes"
DATA_VOLUMES = "dataVolumes"
SNAPSHOTS = "snapshots"


# -- paths (pure) ------------------------------------------------------------

def image_cache_path(root, image_uuid, fmt):
    check_name(image_uuid)
    check_name(fmt)
    return os.path.join(os.path.abspath(root), IMAGE_CACHE, image_uuid, f"{image_uuid}.{fmt}")


def root_volume_path(root, vm_uuid, volume_uuid):
    check_name(vm_uuid)
    check_name(volume_uuid)
    return os.path.join(os.path.abspath(root), ROOT_VOLUMES, f"{vm_uuid}-{volume_uuid}.qcow2")


def data_volume_path(root, volume_uuid):
    check_name(volume_uuid)
    return os.path.join(os.path.abspath(root), DATA_VOLUMES, f"{volume_uuid}.qcow2")


def volume_uuid_of(path):
    """The volume uuid a volume's file name carries (<vmUuid>-<volumeUuid>.qcow2 for
    a root volume; <volumeUuid>.qcow2, or a directory of that name, otherwise)."""
    return os.path.splitext(os.path.basename(path))[0].rsplit("-", 1)[-1]


def snapshot_path(root, volume_uuid, snapshot_uuid):
    check_name(volume_uuid)
    check_name(snapshot_uuid)
    return os.path.join(os.path.abspath(root), SNAPSHOTS, f"{volume_uuid}-{snapshot_uuid}.qcow2")


# -- image cache -------------------------------------------------------------

def ensure_image_cache(root, image_uuid, fmt, source_path, md5sum=None):
    """The image's copy in this primary storage, copied from ``source_path``
    (the backup storage file) the first time it is needed.

    Several processes may ask at once: they take turns on a lock file next
    to the copy, and whoever comes second finds the copy made. A file at
    the final path is always complete (it is renamed there after the copy),
    so it is reused as is; ``md5sum``, when given, is checked on the copy."""
    target = image_cache_path(root, image_uuid, fmt)
    if os.path.exists(target):
        return target
    directory = os.path.dirname(target)
    make_dirs(directory)
    with _locked(target + ".lock"):
        if os.path.exists(target):          # made while we waited for the lock
            return target
        tmp = temp_path(target)
        try:
            _copy(source_path, tmp, md5sum)
            publish(tmp, target)
        except BaseException:
            discard(tmp)
            raise
    return target


def _copy(source_path, tmp, md5sum):
    """Copy the backup storage file into ``tmp``, checking its md5 if known."""
    hasher = Hasher("md5") if md5sum else None
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
    try:
        copy_file(source_path, fd, tmp, hasher)
    finally:
        os.close(fd)
    if md5sum and hasher.hexdigest("md5") != md5sum.lower():
        raise StorageError(f"the copy of {source_path} is damaged: md5 {hasher.hexdigest('md5')}, "
                           f"expected {md5sum}")


class _locked:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as e:
            raise StorageError(f"cannot create the lock file {self.path}: {e.strerror}")
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)     # closing releases the lock


def delete_image_cache(root, image_uuid, fmt):
    """Remove an image's cached copy (no error if absent). The caller makes
    sure no volume is still backed by it."""
    target = image_cache_path(root, image_uuid, fmt)
    if not os.path.exists(os.path.dirname(target)):
        return
    with _locked(target + ".lock"):
        _unlink(target)
        _discard_templates(target, keep=None)
        discard(target + ".lock")
    _forget_templates(target)
    remove_dir_if_empty(os.path.dirname(target))


def _cache_format(cache_path):
    """The format a cached image was declared with (its extension): it is
    read as that, never probed (a raw disk may hold anything)."""
    fmt = os.path.splitext(cache_path)[1].lstrip(".")
    if fmt not in qemu_img.FORMATS:
        raise StorageError(f"{cache_path} is not a disk image (qcow2 or raw): "
                           f"a volume can not be created from it")
    return fmt


# -- volumes -----------------------------------------------------------------

def create_root_volume(root, vm_uuid, volume_uuid, cache_path, size=None):
    """A root volume: a qcow2 overlay backed by the image cache, grown to
    ``size`` bytes if that is larger than the image's virtual size.

    The volume is a copy of the cache's template for that size (made by
    qemu-img the first time, see _template), written to a temporary file and
    renamed into place; it runs no process. Anything wrong with the template
    (it can not be made, read, or does not describe this cache exactly)
    falls back to ``qemu-img create``, as without templates.

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
    path = root_volume_path(root, vm_uuid, volume_uuid)
    cache_path = os.path.abspath(cache_path)
    fmt = _cache_format(cache_path)
    want = int(size) if size else 0
    try:
        st = os.stat(cache_path)
    except FileNotFoundError:
        raise StorageError(f"image not found: {cache_path}")
    except OSError as e:
        raise StorageError(f"cannot read {cache_path}: {e.strerror}")
    try:
        data = _template_bytes(cache_path, fmt, st, want)
    except (StorageError, OSError):
        data = None
    if data is None:
        return _create_with_qemu_img(path, cache_path, fmt, want)
    _write_new(path, data)
    return path


def _create_with_qemu_img(path, cache_path, fmt, want):
    """create_root_volume without a template: two qemu-img processes."""
    image_size = qemu_img.info(cache_path, chain=False, fmt=fmt)["virtualSize"]
    grow = want if want > image_size else None
    return qemu_img.create(path, grow, "qcow2", backing=cache_path, backing_fmt=fmt)


def _write_new(path, data):
    """Write ``data`` as the new file ``path`` (refusing an existing one, as
    qemu_img.create does): a temporary file renamed into place, so the path
    never names a partial volume while this process runs. No fsync: see
    create_root_volume. The directory is made only when the first file
    finds it missing."""
    if os.path.lexists(path):
        raise StorageError(f"cannot create {path}: the file already exists")
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
        raise StorageError(f"cannot create {path}: {e.strerror}")
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
            raise StorageError(f"cannot create a file in {directory}: {e.strerror}")
    raise StorageError(f"cannot create a temporary file next to {final_path}")


# -- root volume templates -----------------------------------------------------
#
# A template's name carries the cache file's identity (inode, mtime, length):
# a cache replaced by another file gets new templates, and the stale ones are
# removed when the first new one is made (and all of them with the cache).
# Templates are made under the cache's lock file (the one ensure_image_cache
# takes), so processes racing on a new cache make one template between them;
# qemu_img.create publishes it by rename after an fsync, so a template's path
# always names a complete file. Each process keeps the templates it has read
# (a few hundred KB each), keyed by that name: the usual call reads no file.

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


def _template_bytes(cache_path, fmt, st, want):
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
        with _locked(cache_path + ".lock"):
            found = _read_template(path, cache_path, fmt, want)   # made while we waited?
            if found is None:
                _discard_templates(cache_path, keep=ident)
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
        raise StorageError(f"{path} is not a template of {cache_path}")
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


def _discard_templates(cache_path, keep):
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


def _forget_templates(cache_path):
    """Drop this process's copies of the cache's templates."""
    directory, prefix = _template_prefix(os.path.abspath(cache_path))
    start = os.path.join(directory, prefix)
    for key in [k for k in _TEMPLATES if k[0].startswith(start)]:
        del _TEMPLATES[key]


def create_empty_volume(path, size):
    """A blank qcow2 volume of ``size`` bytes (thin: nothing allocated)."""
    return qemu_img.create(path, size, "qcow2")


def delete_volume(path):
    """Remove a volume's file (no error if absent), and the directory of its
    own that a volume of the former layout has. Its snapshots are the
    caller's to delete first or after: they do not depend on the volume."""
    _unlink(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.basename(directory) not in (ROOT_VOLUMES, DATA_VOLUMES):
        remove_dir_if_empty(directory)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StorageError(f"cannot delete {path}: {e.strerror}")


# -- snapshots ---------------------------------------------------------------

def snapshot(volume_path, snapshot_path):
    """Freeze the volume's current content as ``snapshot_path`` and continue
    the volume in a new overlay at the same path (see the module docstring).
    Returns the volume's path, unchanged."""
    volume_path = os.path.abspath(volume_path)
    snapshot_path = os.path.abspath(snapshot_path)
    # Also the in-use check: qemu-img can not read a volume a running VM holds.
    found = qemu_img.info(volume_path, chain=False, fmt="qcow2", force_share=False)
    if os.path.lexists(snapshot_path):
        if not same_file(snapshot_path, volume_path):
            raise StorageError(f"cannot snapshot {volume_path}: {snapshot_path} already exists")
        discard(snapshot_path)               # the stray link of an interrupted attempt
    make_dirs(os.path.dirname(snapshot_path))

    try:
        os.link(volume_path, snapshot_path)
        fsync_dir(os.path.dirname(snapshot_path))
    except OSError as e:
        if not is_cross_device(e):
            raise StorageError(f"cannot snapshot {volume_path} to {snapshot_path}: {e.strerror}")
        tmp = temp_path(snapshot_path)
        try:
            _copy(volume_path, tmp, None)
        except BaseException:
            discard(tmp)
            raise
        publish(tmp, snapshot_path)

    before = os.stat(volume_path)
    overlay = temp_path(volume_path)
    try:
        qemu_img.run(["create", "-q", "-f", "qcow2", "-b",
                      qemu_img.backing_name(overlay, snapshot_path), "-F", "qcow2", overlay,
                      str(found["virtualSize"])], what=f"snapshot {volume_path}")
        publish(overlay, volume_path)
    except BaseException:
        discard(overlay)
        now = os.stat(volume_path)
        if (now.st_dev, now.st_ino) == (before.st_dev, before.st_ino):
            discard(snapshot_path)           # the volume is untouched: forget the snapshot
        raise
    return volume_path


def delete_snapshot(volume_path, snapshot_path):
    """Merge ``snapshot_path`` out of the volume's chain and delete it; the
    volume's content is unchanged. A missing snapshot is not an error."""
    volume_path = os.path.abspath(volume_path)
    snapshot_path = os.path.abspath(snapshot_path)
    if not os.path.lexists(snapshot_path):
        return
    if snapshot_path == volume_path:
        raise StorageError(f"cannot delete {snapshot_path}: it is the volume itself")
    chain = [volume_path] + qemu_img.info(volume_path, chain=True, fmt="qcow2")["backingChain"]
    where = next((i for i, p in enumerate(chain) if same_file(p, snapshot_path)), None)
    if where == 0:
        pass   # a second name of the volume left by an interrupted snapshot(): drop the name
    elif where is None:
        # Merged out already (an earlier delete stopped before removing the
        # file) unless something else still reads it. Only a file of this
        # volume's snapshot directory qualifies: one of another volume's may
        # well be that volume's backing file.
        volume_uuid = volume_uuid_of(volume_path)
        if not _is_snapshot_of(snapshot_path, volume_uuid):
            raise StorageError(f"cannot delete {snapshot_path}: it is not a snapshot of "
                               f"{volume_path}")
        user = _backed_by(snapshot_path, volume_uuid)
        if user:
            raise StorageError(f"cannot delete {snapshot_path}: it is not in the chain of "
                               f"{volume_path} and {user} is backed by it")
    else:
        child = chain[where - 1]
        parent = chain[where + 1] if where + 1 < len(chain) else None
        parent_fmt = qemu_img.info(snapshot_path, chain=False, fmt="qcow2")["backingFormat"]
        qemu_img.rebase(child, parent, parent_fmt or "qcow2", unsafe=False)
    _unlink(snapshot_path)
    if os.path.basename(os.path.dirname(snapshot_path)) != SNAPSHOTS:
        remove_dir_if_empty(os.path.dirname(snapshot_path))      # a former layout's own


def _is_snapshot_of(path, volume_uuid):
    """A file of the volume's snapshots: snapshots/<volume>-<snapshot>.qcow2, or in
    the former layout snapshots/<volume>/<snapshot>.qcow2."""
    directory, name = os.path.split(path)
    return name.startswith(f"{volume_uuid}-") or os.path.basename(directory) == volume_uuid


def _backed_by(path, volume_uuid):
    """Another snapshot of the same volume whose backing file is ``path``."""
    directory = os.path.dirname(path)
    for name in sorted(os.listdir(directory)):
        other = os.path.join(directory, name)
        if name.startswith(".") or not name.endswith(".qcow2") or same_file(other, path) \
                or not _is_snapshot_of(other, volume_uuid):
            continue
        backing = qemu_img.info(other, chain=False, fmt="qcow2")["backingFile"]
        if backing and same_file(backing, path):
            return other
    return None


# -- space and checks --------------------------------------------------------

def capacity(root):
    """(total, available) bytes of the filesystem holding R."""
    return _capacity(root)


def checksum(path):
    """sha256 of a file's bytes (streamed), to verify a copy before the
    original is deleted (SPEC §11)."""
    return sha256(path)
