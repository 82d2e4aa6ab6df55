"""The VM lifecycle (SPEC §7.1, §7.2): create, start, stop, reboot, destroy,
recover, expunge.

Records change in short transactions; libvirt and qemu-img run between them,
never inside one. Creation records everything first (state Starting/Created),
then builds disks and the domain; if a step fails, what was built is undone
and the records are removed, so a failed create leaves nothing behind.
"""

from .. import hypervisor
from ..hypervisor.domain import domain_xml
from ..i18n import msg
from ..errors import ApiError, argerr, operr
from ..storage import StorageError, layout
from . import common, config, flat, hosts, ipam, tags, vm_spec, vm_state, vm_tags
from .imagecache import ensure_cache
from ..clock import new_uuid, now
from .capacity import recount_host, release, reserve

def _check_networks(p):
    l3s = p["l3NetworkUuids"]
    duplicates = sorted({u for u in l3s if l3s.count(u) > 1})
    if duplicates:
        raise operr(msg("duplicate L3 network uuid[{duplicates}] in l3NetworkUuids",
                        duplicates=', '.join(duplicates)))
    default = p.get("defaultL3NetworkUuid")
    if default is None:
        if len(l3s) > 1:
            raise argerr(msg("there are more than one L3 network specified in l3NetworkUuids, "
                             "but defaultL3NetworkUuid is null"))
        default = l3s[0]
    elif default not in l3s:
        raise argerr(msg("the default L3 network[uuid:{default}] is not in l3NetworkUuids "
                         "[{l3s}]", default=default, l3s=', '.join(l3s)))
    return default


def _check_tags(ctx, p, name):
    """Every system tag must match a VM pattern; staticIp names one of the VM's
    networks; a hostname is unique on each of the VM's networks."""
    system_tags = [tags.normalize(t) for t in p.get("systemTags") or ()]
    static = {}
    hostname = None
    for tag in system_tags:
        pattern, tokens = tags.check_system_tag("VmInstanceVO", tag)
        if pattern.format.startswith("staticIp::"):
            if tokens["l3Uuid"] not in p["l3NetworkUuids"]:
                raise argerr(msg("the L3 network[uuid:{l3Uuid}] of the tag[{tag}] is not in "
                                 "l3NetworkUuids", l3Uuid=tokens['l3Uuid'], tag=tag))
            static[tokens["l3Uuid"]] = tokens["ip"]
        elif pattern.format.startswith("hostname::"):
            if hostname is not None and hostname != tokens["name"]:
                raise argerr(msg("a VM has one hostname, not both [{one}] and [{other}]",
                                 one=hostname, other=tokens["name"]))
            hostname = tokens["name"]
    if hostname:
        vm_tags.hostname_clash(ctx.store, hostname, p["l3NetworkUuids"])
    if config.value(ctx.store, "vm", "uniqueVmName") == "true" and ctx.store.row(
            "SELECT 1 FROM VmInstanceVO WHERE name = ? AND state != 'Destroyed'", (name,)):
        raise argerr(msg("a VM named [{name}] already exists (vm/uniqueVmName is true)", name=name))
    return system_tags, static


def create_vm(ctx, p):
    store = ctx.store
    image = store.get("ImageVO", p["imageUuid"])
    if image["mediaType"] not in ("RootVolumeTemplate", "ISO"):
        raise argerr(msg("the image[uuid:{image}] is a {mediaType}; a VM needs an image of "
                         "mediaType RootVolumeTemplate or ISO",
                         image=image['uuid'], mediaType=image['mediaType']))
    if image["status"] != "Ready":
        raise operr(msg("the image[uuid:{image}] is {status}, not Ready",
                        image=image['uuid'], status=image['status']))
    is_iso = image["mediaType"] == "ISO"
    root_offering = None
    if p.get("rootDiskOfferingUuid"):
        root_offering = store.get("DiskOfferingVO", p["rootDiskOfferingUuid"])
    elif is_iso:
        raise argerr(msg("rootDiskOfferingUuid is required when the image is an ISO: it sizes "
                         "the disk the ISO installs to"))
    default_l3 = _check_networks(p)
    system_tags, static = _check_tags(ctx, p, p["name"])
    offering = store.get("InstanceOfferingVO", p["instanceOfferingUuid"])
    data_offerings = [store.get("DiskOfferingVO", u) for u in p.get("dataDiskOfferingUuids") or ()]
    root_size = root_offering["diskSize"] if root_offering else image["size"]
    if root_offering and not is_iso:
        root_size = max(root_size, image["size"])
    disk = root_size + sum(o["diskSize"] for o in data_offerings)
    strategy = p["strategy"]
    host = vm_spec.choose_host(ctx, p, offering["cpuNum"], offering["memorySize"], disk,
                               p["l3NetworkUuids"], strategy == "InstantStart")
    ps = store.get("PrimaryStorageVO", host["primaryStorageUuid"])

    vm_uuid = p.get("resourceUuid") or new_uuid()
    records = _record(ctx, p, vm_uuid, image, offering, host, ps, default_l3, root_size,
                      data_offerings, system_tags, static, is_iso)
    try:
        if strategy != "JustCreate":    # JustCreate: records only; the first start builds
            _build(ctx, vm_uuid, image, host, ps, records, strategy)
    except BaseException as e:
        _undo_create(ctx, vm_uuid, host, records)
        if isinstance(e, (StorageError, hypervisor.HypervisorError)):
            raise operr(msg("failed to create the VM[name:{name}]: {error}",
                            name=p['name'], error=e)) from None
        raise
    return common.inventory(ctx, "VmInstanceVO", vm_uuid)


def _record(ctx, p, vm_uuid, image, offering, host, ps, default_l3, root_size,
            data_offerings, system_tags, static, is_iso):
    """All rows of the new VM in one transaction: VM, NICs with IPs and MACs,
    volumes with their storage accounting, tags."""
    store = ctx.store
    stamp = now()
    root_uuid = new_uuid()
    strategy = config.value(store, "l3Network", "ipAllocateStrategy")
    state = {"InstantStart": "Starting", "CreateStopped": "Stopped",
             "JustCreate": "Created"}[p["strategy"]]
    volumes = []
    with store.transaction():
        if store.exists("VmInstanceVO", vm_uuid):
            raise argerr(msg("resource[uuid:{vm_uuid}, type:VmInstanceVO] already exists",
                             vm_uuid=vm_uuid))
        store.insert("VmInstanceVO", {
            "uuid": vm_uuid, "name": p["name"], "description": p.get("description"),
            "zoneUuid": host["zoneUuid"], "clusterUuid": host["clusterUuid"],
            "hostUuid": host["uuid"], "lastHostUuid": host["uuid"], "imageUuid": image["uuid"],
            "instanceOfferingUuid": offering["uuid"], "rootVolumeUuid": root_uuid,
            "defaultL3NetworkUuid": default_l3, "type": "UserVm", "hypervisorType": "KVM",
            "cpuNum": offering["cpuNum"], "cpuSpeed": offering["cpuSpeed"],
            "memorySize": offering["memorySize"], "platform": image["platform"],
            "allocatorStrategy": offering["allocatorStrategy"], "state": state,
            "createDate": stamp, "lastOpDate": stamp})
        if state in vm_state.TRANSITIONAL:
            vm_state.own(store, vm_uuid)
        for device, l3 in enumerate(p["l3NetworkUuids"]):
            used = ipam.allocate(store, l3, strategy, static_ip=static.get(l3))
            nic_uuid = new_uuid()
            store.insert("VmNicVO", {
                "uuid": nic_uuid, "vmInstanceUuid": vm_uuid, "l3NetworkUuid": l3,
                "ip": used["ip"], "mac": ipam.new_mac(store), "netmask": used["netmask"],
                "gateway": used["gateway"], "usedIpUuid": used["uuid"], "deviceId": device,
                "metaData": None, "createDate": stamp, "lastOpDate": stamp})
            store.update("UsedIpVO", used["uuid"], {"vmNicUuid": nic_uuid})
        root_path = layout.root_volume_path(ps["url"], vm_uuid, root_uuid)
        volumes.append(_volume_row(vm_uuid, root_uuid, f"ROOT-for-{p['name']}", ps, "Root", 0,
                                   root_size, root_path, image["uuid"], None))
        for i, o in enumerate(data_offerings, start=1):
            uuid = new_uuid()
            volumes.append(_volume_row(vm_uuid, uuid, f"DATA-for-{p['name']}-{i}", ps, "Data",
                                       i, o["diskSize"], layout.data_volume_path(ps["url"], uuid),
                                       None, o["uuid"]))
        for row in volumes:
            store.insert("VolumeVO", row)
            reserve(ctx, ps["uuid"], host["uuid"], row["uuid"], "VolumeVO", row["size"])
        for tag in system_tags:
            tags.insert(store, "SystemTagVO", "VmInstanceVO", vm_uuid, tag)
        for tag in p.get("userTags") or ():
            tags.insert(store, "UserTagVO", "VmInstanceVO", vm_uuid, tags.normalize(tag))
        if is_iso:
            tags.insert(store, "SystemTagVO", "VmInstanceVO", vm_uuid,
                        f"iso::{image['uuid']}", inherent=True)
            if not tags.values_of(store, vm_uuid, vm_spec.BOOT_TAG):
                # Inherent: the system's install order, switched to HardDisk at the
                # first reboot (a user's SetVmBootOrder writes an ordinary tag).
                tags.insert(store, "SystemTagVO", "VmInstanceVO", vm_uuid,
                            "bootOrder::CdRom,HardDisk", inherent=True)
        recount_host(ctx, host["uuid"])
    return volumes


def _volume_row(vm_uuid, uuid, name, ps, kind, device, size, path, image_uuid, offering_uuid):
    stamp = now()
    return {"uuid": uuid, "name": name, "description": None, "primaryStorageUuid": ps["uuid"],
            "vmInstanceUuid": vm_uuid, "diskOfferingUuid": offering_uuid,
            "rootImageUuid": image_uuid, "installPath": path, "type": kind, "format": "qcow2",
            "size": size, "actualSize": 0, "deviceId": device, "state": "Enabled",
            "status": "Creating", "isShareable": 0, "createDate": stamp, "lastOpDate": stamp}


def _build(ctx, vm_uuid, image, host, ps, volumes, strategy):
    """Make the VM's disks, then (unless JustCreate) its domain. The volumes
    turn Ready in the same transaction that records the VM's new state: one
    commit fewer per VM, and until then a crash leaves them Creating, which
    the next start makes again."""
    store = ctx.store
    drv = hosts.driver(ctx, host)
    host_ops = hosts.ops(ctx, host, drv)
    cache = ensure_cache(ctx, image, host, ps)
    made = {}
    for row in volumes:
        if row["type"] == "Root" and image["mediaType"] != "ISO":
            made[row["uuid"]] = host_ops.create_root_volume(ps["url"], vm_uuid, row["uuid"],
                                                            cache, row["size"])
        else:
            made[row["uuid"]] = host_ops.create_empty_volume(row["installPath"], row["size"])
    if strategy == "JustCreate":
        _mark_ready(store, made)
        return
    hosts.plug_networks(ctx, host, vm_uuid, drv)
    xml = domain_xml(vm_spec.domain_spec(ctx, vm_uuid, drv, made_volumes=made))
    if strategy != "InstantStart":
        drv.define(xml)
        _mark_ready(store, made)
        return
    flat.sync_vm(ctx, vm_uuid)           # its DHCP entry is there before it boots
    define_and_start = getattr(drv, "define_and_start", None)   # one step on a simulator
    if define_and_start is not None:
        define_and_start(xml)
    else:
        drv.define(xml)
        drv.start(vm_uuid)
    with store.transaction():
        _mark_ready(store, made)
        vm_state.set_state(ctx, vm_uuid, "Running")


def _mark_ready(store, made):
    """Volumes whose files now exist (uuid -> bytes allocated) are Ready."""
    with store.transaction():
        stamp = now()
        for uuid, actual in made.items():
            store.update("VolumeVO", uuid, {"status": "Ready", "lastOpDate": stamp,
                                            "actualSize": actual})


def _undo_create(ctx, vm_uuid, host, volumes):
    l3s = [r[0] for r in ctx.store.rows("SELECT DISTINCT l3NetworkUuid FROM VmNicVO WHERE "
                                        "vmInstanceUuid = ?", (vm_uuid,))]
    try:
        drv = hosts.driver(ctx, host)
        drv.destroy(vm_uuid)
        drv.undefine(vm_uuid)
        host_ops = hosts.ops(ctx, host, drv)
        for row in volumes:
            host_ops.delete_volume(row["installPath"])
    except (StorageError, hypervisor.HypervisorError):
        pass
    with ctx.store.transaction():
        # The data volumes made for it go too (_delete_records would only detach them).
        for row in volumes:
            if row["type"] == "Data":
                release(ctx, row["uuid"])
                ctx.store.delete("VolumeVO", row["uuid"])
        _delete_records(ctx, vm_uuid)
    for l3 in l3s:          # it may have reached its host's DHCP server already
        flat.sync(ctx, host["uuid"], l3)


def _delete_records(ctx, vm_uuid):
    store = ctx.store
    with store.transaction():
        vm = store.get("VmInstanceVO", vm_uuid)
        for nic in store.rows("SELECT uuid, usedIpUuid FROM VmNicVO WHERE vmInstanceUuid = ?",
                              (vm_uuid,)):
            store.delete("VmNicVO", nic["uuid"])
            ipam.release(store, nic["usedIpUuid"])
        for vol in store.rows("SELECT uuid FROM VolumeVO WHERE vmInstanceUuid = ? AND type = "
                              "'Root'", (vm_uuid,)):
            release(ctx, vol["uuid"])
            store.delete("VolumeVO", vol["uuid"])
        store.conn.execute("UPDATE VolumeVO SET vmInstanceUuid = NULL, deviceId = NULL WHERE "
                           "vmInstanceUuid = ?", (vm_uuid,))
        tags.delete_all(store, vm_uuid)
        store.delete("VmInstanceVO", vm_uuid)
        store.delete("VmTransitionVO", vm_uuid, key="vmUuid")
        if vm and vm["hostUuid"]:
            recount_host(ctx, vm["hostUuid"])


def start_vm(ctx, p):
    uuid = p["uuid"]
    vm = vm_state.claim(ctx, uuid, "StartVmInstance")
    host = hosts.connected(ctx, vm["hostUuid"])
    if (host["availableMemoryCapacity"] < vm["memorySize"]
            or host["availableCpuCapacity"] < vm["cpuNum"]):
        raise operr(msg("host[uuid:{host}] has not enough free CPU or memory for the "
                        "VM[uuid:{uuid}] (local storage ties the VM to this host)",
                        host=host['uuid'], uuid=uuid))
    with vm_state.transition(ctx, uuid, "StartVmInstance", "Starting", "Running",
                             msg("start")):
        _ensure_volumes(ctx, uuid, host)
        hosts.plug_networks(ctx, host, uuid)
        drv = hosts.driver(ctx, host)
        drv.define(domain_xml(vm_spec.domain_spec(ctx, uuid, drv)))
        flat.sync_vm(ctx, uuid)          # its DHCP entry is there before it boots
        drv.start(uuid)
    return common.inventory(ctx, "VmInstanceVO", uuid)


def _ensure_volumes(ctx, vm_uuid, host):
    """A VM created with JustCreate has records but no disks yet; one whose
    create was killed may have some of them, still Creating."""
    store = ctx.store
    pending = store.rows("SELECT * FROM VolumeVO WHERE vmInstanceUuid = ? AND status = "
                         "'Creating'", (vm_uuid,))
    if not pending:
        return
    drv = hosts.driver(ctx, host)
    if vm_uuid in drv.states():
        # A domain is defined only once every disk of it was made: they are whole,
        # and may hold the guest's data. Never made again.
        with store.transaction():
            vm_state.disks_made(store, vm_uuid)
        return
    # No domain, so no guest ever used what a killed create left: made anew (this
    # start holds the VM meanwhile, so nobody else makes or uses them).
    host_ops = hosts.ops(ctx, host, drv)
    for row in pending:
        host_ops.delete_volume(row["installPath"])
    vm = store.get("VmInstanceVO", vm_uuid)
    image = store.get("ImageVO", vm["imageUuid"])
    ps = store.get("PrimaryStorageVO", pending[0]["primaryStorageUuid"])
    if image is None:
        raise operr(msg("the image[uuid:{imageUuid}] of the VM was deleted before its disks were "
                        "made", imageUuid=vm['imageUuid']))
    _build(ctx, vm_uuid, image, host, ps, [dict(r) for r in pending], "JustCreate")


def stop_vm(ctx, p):
    uuid = p["uuid"]
    with vm_state.transition(ctx, uuid, "StopVmInstance", "Stopping", "Stopped",
                             msg("stop")) as vm:
        host = ctx.store.get("HostVO", vm["hostUuid"])
        hosts.driver(ctx, host).stop(uuid, force=p["type"] == "cold")
    flat.sync_vm(ctx, uuid)
    return common.inventory(ctx, "VmInstanceVO", uuid)


def reboot_vm(ctx, p):
    from .vm_devices import end_install_boot, live_boot_order

    uuid = p["uuid"]
    with vm_state.transition(ctx, uuid, "RebootVmInstance", "Rebooting", "Running",
                             msg("reboot")) as vm:
        drv = hosts.driver(ctx, ctx.store.get("HostVO", vm["hostUuid"]))
        end_install_boot(ctx, uuid)
        if live_boot_order(drv.xml(uuid)) == vm_spec.boot_order(ctx, uuid):
            drv.reboot(uuid)
        else:
            # A reset keeps the running definition: a new boot order needs a fresh start.
            drv.define(domain_xml(vm_spec.domain_spec(ctx, uuid, drv)))
            drv.destroy(uuid)
            drv.start(uuid)
    return common.inventory(ctx, "VmInstanceVO", uuid)


def destroy_vm(ctx, p):
    uuid = p["uuid"]
    vm = ctx.store.get("VmInstanceVO", uuid)
    if vm is None or vm["state"] == "Destroyed":
        return None
    with vm_state.transition(ctx, uuid, "DestroyVmInstance", "Destroying", "Destroyed",
                             msg("destroy")):
        host = ctx.store.get("HostVO", vm["hostUuid"]) if vm["hostUuid"] else None
        if host is not None:
            drv = hosts.driver(ctx, host)
            drv.destroy(uuid)
            drv.undefine(uuid)
        with ctx.store.transaction():
            # Data volumes stay, detached; the root volume waits for expunge. One never
            # made (the VM never started) is again a new volume, made where it is attached.
            for vol in ctx.store.rows("SELECT uuid FROM VolumeVO WHERE vmInstanceUuid = ? AND "
                                      "type = 'Data' AND status = 'Creating'", (uuid,)):
                release(ctx, vol["uuid"])
                ctx.store.update("VolumeVO", vol["uuid"], {"status": "NotInstantiated",
                                                           "installPath": None})
            ctx.store.conn.execute("UPDATE VolumeVO SET vmInstanceUuid = NULL, deviceId = NULL "
                                   "WHERE vmInstanceUuid = ? AND type = 'Data'", (uuid,))
    flat.sync_vm(ctx, uuid)
    return None


def recover_vm(ctx, p):
    vm_state.claim(ctx, p["uuid"], "RecoverVmInstance", "Stopped")
    vm_state.set_state(ctx, p["uuid"], "Stopped")
    return common.inventory(ctx, "VmInstanceVO", p["uuid"])


def expunge_vm(ctx, p):
    vm = vm_state.claim(ctx, p["uuid"], "ExpungeVmInstance")
    _expunge(ctx, vm)
    return None


def _expunge(ctx, vm):
    from .volume import remove_volume

    for vol in ctx.store.rows("SELECT uuid FROM VolumeVO WHERE vmInstanceUuid = ? AND type = "
                              "'Root'", (vm["uuid"],)):
        remove_volume(ctx, vol["uuid"])     # its file, and its snapshots with their files
    _delete_records(ctx, vm["uuid"])


def remove_vm(ctx, uuid, mode=None):
    """Destroy and expunge (for a cascading delete of its host). A host that can
    not be reached does not keep the VM: that host is leaving the cloud."""
    try:
        destroy_vm(ctx, {"uuid": uuid})
    except ApiError:
        if not _host_unreachable(ctx, uuid):
            raise
    vm = ctx.store.get("VmInstanceVO", uuid)
    if vm is not None:
        _expunge(ctx, vm)


def _host_unreachable(ctx, vm_uuid):
    vm = ctx.store.get("VmInstanceVO", vm_uuid)
    host = ctx.store.get("HostVO", vm["hostUuid"]) if vm and vm["hostUuid"] else None
    if host is None:
        return False
    try:
        hosts.driver(ctx, host).state(vm_uuid)
    except hypervisor.HostUnreachable:
        return True
    except hypervisor.HypervisorError:
        pass
    return False

