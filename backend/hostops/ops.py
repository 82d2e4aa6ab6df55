"""The operations a host performs on its storage root and links, on paths of
that host (see the package's docstring). Every method is an ``@operation``:
the names a remote host's agent accepts (agent/remote_main.py) and ``RemoteHostOps``
forwards (remote.py) are read from here, so an operation is declared once.

Arguments and results are JSON values: a remote host gets them over ssh.
"""

import os

from ..storage import local

OPERATIONS = set()


def operation(method):
    OPERATIONS.add(method.__name__)
    return method


def _allocated(path):
    """Bytes a file takes on disk (0 when it can not be read)."""
    try:
        return os.stat(path).st_blocks * 512
    except OSError:
        return 0


def _size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _here(ep):
    """An endpoint whose paths may be named from the login's home (``~/...``: a
    remote host's, whose home this machine does not know): its state directory
    and the words of its metadata server's command."""
    cmd = ep.get("metadata_cmd")
    return {**ep, "state_dir": os.path.expanduser(ep["state_dir"]),
            "metadata_cmd": [os.path.expanduser(w) for w in cmd] if cmd else cmd}


class HostOps:
    """A host's operations, run on this machine: ``to_local`` maps the host's
    paths to where they are here (identity on the host itself)."""

    remote = False

    def __init__(self, to_local=None):
        self.path = to_local or (lambda p: p)

    @operation
    def prepare_root(self, root):
        """Make the storage root; its [total, available] bytes. A host without
        qemu-img is refused here, when it is added, not at its first VM."""
        import shutil

        if shutil.which("qemu-img") is None:
            from ..i18n import msg
            from ..storage import StorageError

            raise StorageError(msg("qemu-img is not installed on the host (Debian: apt-get "
                                   "install qemu-utils)"))
        real = self.path(root)
        try:
            os.makedirs(real, exist_ok=True)
        except OSError as e:
            from ..i18n import msg
            from ..storage import StorageError

            raise StorageError(msg("cannot create {path}: {error}", path=root,
                                   error=e.strerror)) from None
        return list(local.capacity(real))

    @operation
    def capacity(self, root):
        return list(local.capacity(self.path(root)))

    @operation
    def ensure_image_cache(self, root, image_uuid, fmt, source_path, md5sum=None):
        """The image's copy under the root, from ``source_path`` (a file of this
        machine; a remote host reads it from its standard input)."""
        local.ensure_image_cache(self.path(root), image_uuid, fmt, source_path, md5sum)

    @operation
    def delete_image_cache(self, root, image_uuid, fmt):
        local.delete_image_cache(self.path(root), image_uuid, fmt)

    @operation
    def create_root_volume(self, root, vm_uuid, volume_uuid, cache_path, size=None):
        """A root volume backed by the image cache; the bytes it takes."""
        made = local.create_root_volume(self.path(root), vm_uuid, volume_uuid,
                                        self.path(cache_path), size)
        return _allocated(made)

    @operation
    def create_empty_volume(self, path, size):
        """A blank qcow2 volume; the bytes it takes."""
        real = self.path(path)
        local.create_empty_volume(real, size)
        return _allocated(real)

    @operation
    def delete_volume(self, path):
        local.delete_volume(self.path(path))

    @operation
    def snapshot(self, volume_path, snapshot_path):
        """Freeze the volume as ``snapshot_path``; the snapshot file's size."""
        local.snapshot(self.path(volume_path), self.path(snapshot_path))
        return _size(self.path(snapshot_path))

    @operation
    def delete_snapshot(self, volume_path, snapshot_path):
        local.delete_snapshot(self.path(volume_path), self.path(snapshot_path))

    @operation
    def flat_serve(self, ep, entries, macs=None):
        """The Flat DHCP server of one L3 on this host made (or kept) and holding
        ``entries`` (backend.network.flat's endpoint and entries); its counts."""
        from ..network import flat

        ep = _here(ep)
        flat.ensure_server(ep)
        return flat.set_entries(ep, entries, macs)

    @operation
    def flat_remove(self, ep):
        from ..network import flat

        flat.remove_server(_here(ep))

    @operation
    def metadata_documents(self, directory, docs, drop=None):
        """A remote host's metadata documents (backend.network.flat.documents)."""
        from ..network.flat import documents

        documents.write(os.path.expanduser(directory), docs, drop)

    @operation
    def ensure_bridge(self, l2):
        """The L2 network's bridge on this host (made on first use); its name."""
        from ..network import bridge

        return bridge.ensure(l2)
