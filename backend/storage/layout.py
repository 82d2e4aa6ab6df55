"""Where local primary storage keeps each kind of file under its root R (pure paths;
the layout is described in local.py's docstring)."""

import os

from .files import check_name

IMAGE_CACHE = os.path.join("imagecache", "template")
ROOT_VOLUMES = "rootVolumes"
DATA_VOLUMES = "dataVolumes"
SNAPSHOTS = "snapshots"


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
