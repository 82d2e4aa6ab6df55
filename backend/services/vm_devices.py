"""A VM's CD-ROM, boot order and console (SPEC §10; seed §4, §5)."""

from .. import hypervisor
from ..i18n import msg
from ..errors import argerr, operr
from ..hypervisor.domain import cdrom_xml
from . import common, hosts, tags, vm_spec, vm_state
from .imagecache import ensure_cache


def attach_iso(ctx, p):
    store = ctx.store
    vm_uuid, iso_uuid = p["vmInstanceUuid"], p["isoUuid"]
    iso = store.get("ImageVO", iso_uuid)
    if iso["mediaType"] != "ISO":
        raise argerr(msg("the image[uuid:{iso_uuid}] is a {mediaType}, not an ISO",
                         iso_uuid=iso_uuid, mediaType=iso['mediaType']))
    vm = vm_state.claim(ctx, vm_uuid, "AttachIsoToVmInstance")
    current = vm_spec.attached_iso(ctx, vm_uuid)
    if current:
        raise operr(msg("VM[uuid:{vm_uuid}] already has an ISO[uuid:{current}] attached",
                        vm_uuid=vm_uuid, current=current))
    host = hosts.connected(ctx, vm["hostUuid"])
    ps = store.get("PrimaryStorageVO", store.get("VolumeVO", vm["rootVolumeUuid"])
                   ["primaryStorageUuid"])
    path = ensure_cache(ctx, iso, host, ps)
    _change_media(ctx, host, vm_uuid, path)
    with store.transaction():
        tags.insert(store, "SystemTagVO", "VmInstanceVO", vm_uuid, f"iso::{iso_uuid}",
                    inherent=True)
    return common.inventory(ctx, "VmInstanceVO", vm_uuid)


def detach_iso(ctx, p):
    store = ctx.store
    vm_uuid = p["vmInstanceUuid"]
    if vm_spec.attached_iso(ctx, vm_uuid) is None:
        return common.inventory(ctx, "VmInstanceVO", vm_uuid)     # nothing in the drive
    vm = vm_state.claim(ctx, vm_uuid, "DetachIsoFromVmInstance")
    if vm["state"] != "Created":
        _change_media(ctx, hosts.connected(ctx, vm["hostUuid"]), vm_uuid, None)
    with store.transaction():
        store.conn.execute("DELETE FROM SystemTagVO WHERE resourceUuid = ? AND tag LIKE "
                           "'iso::%'", (vm_uuid,))
    return common.inventory(ctx, "VmInstanceVO", vm_uuid)


def _change_media(ctx, host, vm_uuid, path):
    try:
        hosts.driver(ctx, host).change_media(vm_uuid, cdrom_xml(path))
    except hypervisor.HypervisorError as e:
        raise operr(msg("failed to change the CD-ROM of the VM[uuid:{vm_uuid}]: {error}",
                        vm_uuid=vm_uuid, error=e)) from None


def set_boot_order(ctx, p):
    order = [d.strip() for d in p.get("bootOrder") or () if d.strip()]
    if order:
        tags.check_system_tag("VmInstanceVO", f"bootOrder::{','.join(order)}")
    store = ctx.store
    with store.transaction():
        store.conn.execute("DELETE FROM SystemTagVO WHERE resourceUuid = ? AND tag LIKE "
                           "'bootOrder::%'", (p["uuid"],))
        if order:
            tags.insert(store, "SystemTagVO", "VmInstanceVO", p["uuid"],
                        f"bootOrder::{','.join(order)}")
    return common.inventory(ctx, "VmInstanceVO", p["uuid"])


def get_boot_order(ctx, p):
    return {"order": vm_spec.boot_order(ctx, p["uuid"])}


def console_address(ctx, p):
    vm = vm_state.claim(ctx, p["uuid"], "GetVmConsoleAddress")
    host = hosts.connected(ctx, vm["hostUuid"])
    try:
        protocol, port = hosts.driver(ctx, host).graphics(p["uuid"])
    except hypervisor.HypervisorError as e:
        raise operr(msg("cannot read the console of the VM[uuid:{uuid}]: {error}",
                        uuid=p['uuid'], error=e)) from None
    return {"hostIp": host["managementIp"], "port": port, "protocol": protocol}


def end_install_boot(ctx, vm_uuid):
    """A VM made from an ISO boots CdRom first until its first reboot; after
    that the installed disk comes first (the ISO stays in the drive).
    Returns True when the order changed."""
    with ctx.store.transaction():
        return ctx.store.conn.execute(
            "DELETE FROM SystemTagVO WHERE resourceUuid = ? AND inherent = 1 AND tag LIKE "
            "'bootOrder::%'", (vm_uuid,)).rowcount > 0


def live_boot_order(xml):
    """The boot devices of a domain's XML, in order (per-device <boot order>)."""
    import xml.etree.ElementTree as ET

    found = []
    for disk in ET.fromstring(xml).iter("disk"):
        boot = disk.find("boot")
        if boot is not None:
            kind = "CdRom" if disk.get("device") == "cdrom" else "HardDisk"
            found.append((int(boot.get("order", "0")), kind))
    return [kind for _, kind in sorted(found)]
