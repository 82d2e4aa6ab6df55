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

Next to each image cache live its root volume TEMPLATES (hidden files,
.<imageUuid>.<fmt>.tmpl.*): empty overlays of the cache that root volumes are
copies of. See templates.py and create_root_volume.

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

import os

from ..i18n import msg
from . import StorageError, files, qemu_img, templates
from .files import (Hasher, capacity as _capacity, copy_file, discard, fsync_dir,
                    is_cross_device, make_dirs, publish, remove_dir_if_empty, same_file,
                    sha256, temp_path)

from .layout import (DATA_VOLUMES, ROOT_VOLUMES, SNAPSHOTS, image_cache_path, root_volume_path,
                     volume_uuid_of)


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
    with files.file_lock(target + ".lock"):
        if os.path.exists(target):          # made while we waited for the lock
            return target
        _discard_partial_copies(target)
        tmp = temp_path(target)
        try:
            _copy(source_path, tmp, md5sum)
            publish(tmp, target)
        except BaseException:
            discard(tmp)
            raise
    return target


def _discard_partial_copies(target):
    """Temporary files of copies of ``target`` that a killed process left (under the
    cache's lock: nobody else is copying it now)."""
    directory, name = os.path.split(target)
    for other in os.listdir(directory):
        if other.startswith(f".{name}.") and other.endswith(".part"):
            discard(os.path.join(directory, other))


def _copy(source_path, tmp, md5sum):
    """Copy the backup storage file into ``tmp``, checking its md5 if known."""
    hasher = Hasher("md5") if md5sum else None
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
    try:
        copy_file(source_path, fd, tmp, hasher)
    finally:
        os.close(fd)
    if md5sum and hasher.hexdigest("md5") != md5sum.lower():
        raise StorageError(msg("the copy of {source_path} is damaged: md5 {found}, expected "
                               "{md5sum}", source_path=source_path,
                               found=hasher.hexdigest('md5'), md5sum=md5sum))


def delete_image_cache(root, image_uuid, fmt):
    """Remove an image's cached copy (no error if absent). The caller makes
    sure no volume is still backed by it."""
    target = image_cache_path(root, image_uuid, fmt)
    if not os.path.exists(os.path.dirname(target)):
        return
    with files.file_lock(target + ".lock"):
        _unlink(target)
        templates.discard_templates(target, keep=None)
        discard(target + ".lock")
    templates.forget_templates(target)
    remove_dir_if_empty(os.path.dirname(target))


def _cache_format(cache_path):
    """The format a cached image was declared with (its extension): it is
    read as that, never probed (a raw disk may hold anything)."""
    fmt = os.path.splitext(cache_path)[1].lstrip(".")
    if fmt not in qemu_img.FORMATS:
        raise StorageError(msg("{cache_path} is not a disk image (qcow2 or raw): a volume can not "
                               "be created from it", cache_path=cache_path))
    return fmt


# -- volumes -----------------------------------------------------------------

def create_root_volume(root, vm_uuid, volume_uuid, cache_path, size=None):
    """A root volume: a qcow2 overlay backed by the image cache, grown to
    ``size`` bytes if that is larger than the image's virtual size.

    The volume is a copy of the cache's template for that size (made by
    qemu-img the first time, see templates.py), written to a temporary file
    and renamed into place; it runs no process. Anything wrong with the
    template (it can not be made, read, or does not describe this cache
    exactly) falls back to ``qemu-img create``, as without templates.

    The copy is not fsync'ed: templates.write_copy says why (it holds no
    guest data, and can always be made again)."""
    path = root_volume_path(root, vm_uuid, volume_uuid)
    cache_path = os.path.abspath(cache_path)
    fmt = _cache_format(cache_path)
    want = int(size) if size else 0
    try:
        st = os.stat(cache_path)
    except FileNotFoundError:
        raise StorageError(msg("image not found: {path}", path=cache_path))
    except OSError as e:
        raise StorageError(msg("cannot read {path}: {error}",
                               path=cache_path, error=e.strerror))
    try:
        data = templates.template_bytes(cache_path, fmt, st, want)
    except (StorageError, OSError):
        data = None
    if data is None:
        return _create_with_qemu_img(path, cache_path, fmt, want)
    templates.write_copy(path, data)
    return path


def _create_with_qemu_img(path, cache_path, fmt, want):
    """create_root_volume without a template: two qemu-img processes."""
    image_size = qemu_img.info(cache_path, chain=False, fmt=fmt)["virtualSize"]
    grow = want if want > image_size else None
    return qemu_img.create(path, grow, "qcow2", backing=cache_path, backing_fmt=fmt)


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
        raise StorageError(msg("cannot delete {path}: {error}", path=path, error=e.strerror))


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
            raise StorageError(msg("cannot snapshot {volume_path}: {snapshot_path} already exists",
                                   volume_path=volume_path, snapshot_path=snapshot_path))
        discard(snapshot_path)               # the stray link of an interrupted attempt
    make_dirs(os.path.dirname(snapshot_path))

    try:
        os.link(volume_path, snapshot_path)
        fsync_dir(os.path.dirname(snapshot_path))
    except OSError as e:
        if not is_cross_device(e):
            raise StorageError(msg("cannot snapshot {volume_path} to {snapshot_path}: {error}",
                                   volume_path=volume_path, snapshot_path=snapshot_path,
                                   error=e.strerror))
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
                      str(found["virtualSize"])], what=msg("snapshot {volume_path}",
                                                           volume_path=volume_path))
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
        raise StorageError(msg("cannot delete {snapshot_path}: it is the volume itself",
                               snapshot_path=snapshot_path))
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
            raise StorageError(msg("cannot delete {snapshot_path}: it is not a snapshot of "
                                   "{volume_path}",
                                   snapshot_path=snapshot_path, volume_path=volume_path))
        user = _backed_by(snapshot_path, volume_uuid)
        if user:
            raise StorageError(msg("cannot delete {snapshot_path}: it is not in the chain of "
                                   "{volume_path} and {user} is backed by it",
                                   snapshot_path=snapshot_path, volume_path=volume_path,
                                   user=user))
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
