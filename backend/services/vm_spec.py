"""Where a new VM goes, and the domain description of a VM built from its
records (handed to the one pure XML function of the hypervisor layer)."""

from ..i18n import msg
from ..errors import operr
from ..network.bridge import bridge_name
from . import config, tags

ISO_TAG = "iso::{uuid}"
BOOT_TAG = "bootOrder::{list}"


def choose_host(ctx, p, cpu, memory, disk, l3_uuids, reserve_compute):
    """A Connected, Enabled host in the narrowest of hostUuid/clusterUuid/zoneUuid
    whose cluster reaches every L2 of the VM's networks, has local primary storage
    with ``disk`` bytes free on that host, and (when the VM starts now) the CPUs and
    memory. Among those, the one with the most free memory."""
    where = ["h.status = 'Connected'", "h.state = 'Enabled'", "c.state = 'Enabled'",
             "z.state = 'Enabled'"]
    args = []
    for key, column in (("hostUuid", "h.uuid"), ("clusterUuid", "h.clusterUuid"),
                        ("zoneUuid", "h.zoneUuid")):
        if p.get(key):
            where.append(f"{column} = ?")
            args.append(p[key])
            break
    for l3 in dict.fromkeys(l3_uuids):
        where.append("EXISTS (SELECT 1 FROM L3NetworkVO l JOIN L2NetworkClusterRefVO r ON "
                     "r.l2NetworkUuid = l.l2NetworkUuid WHERE l.uuid = ? AND "
                     "r.clusterUuid = h.clusterUuid)")
        args.append(l3)
    sql = (f"SELECT h.*, s.primaryStorageUuid, s.availableCapacity AS diskFree FROM HostVO h "
           f"JOIN ClusterVO c ON c.uuid = h.clusterUuid JOIN ZoneVO z ON z.uuid = h.zoneUuid "
           f"JOIN PrimaryStorageClusterRefVO pr ON pr.clusterUuid = h.clusterUuid "
           f"JOIN LocalStorageHostRefVO s ON s.hostUuid = h.uuid AND "
           f"s.primaryStorageUuid = pr.primaryStorageUuid "
           f"WHERE {' AND '.join(where)} ORDER BY h.availableMemoryCapacity DESC, h.rowid")
    candidates = [dict(r) for r in ctx.store.rows(sql, args)]
    if not candidates:
        raise operr(_why_no_host(ctx, p, l3_uuids))
    fitting = [h for h in candidates if h["diskFree"] >= disk and (not reserve_compute or (
        h["availableCpuCapacity"] >= cpu and h["availableMemoryCapacity"] >= memory))]
    if not fitting:
        raise operr(msg("no host has enough capacity for the VM: it needs {cpu} CPU(s), {memory} "
                        "bytes of memory and {disk} bytes of local storage; {count} host(s) "
                        "qualify otherwise",
                        cpu=cpu, memory=memory, disk=disk, count=len(candidates)))
    return fitting[0]


def _why_no_host(ctx, p, l3_uuids):
    store = ctx.store
    scope = next((f"{k}={p[k]}" for k in ("hostUuid", "clusterUuid", "zoneUuid") if p.get(k)),
                 msg("any zone"))
    if not store.value("SELECT COUNT(*) FROM HostVO WHERE status = 'Connected' AND state = "
                       "'Enabled'"):
        return msg("no host found for the VM: there is no Connected and Enabled host; add one "
                   "with AddKVMHost")
    if not store.value("SELECT COUNT(*) FROM PrimaryStorageClusterRefVO"):
        return msg("no host found for the VM: no primary storage is attached to any cluster; "
                   "use AddLocalPrimaryStorage and AttachPrimaryStorageToCluster")
    return msg("no host found for the VM in {scope}: a host must be Connected and Enabled, in a "
               "cluster attached to the L2 networks of every L3 network [{l3s}] "
               "(AttachL2NetworkToCluster) and to local primary storage",
               scope=scope, l3s=", ".join(l3_uuids))


_UNKNOWN = object()


def boot_order(ctx, vm_uuid, iso=_UNKNOWN):
    """The bootOrder:: tag if set; else HardDisk, then CdRom when an ISO is attached
    (``iso``: the attached ISO's uuid when the caller has already read it)."""
    found = tags.values_of(ctx.store, vm_uuid, BOOT_TAG)
    if found:
        return [d.strip() for d in found[0]["list"].split(",") if d.strip()]
    if iso is _UNKNOWN:
        iso = attached_iso(ctx, vm_uuid)
    return ["HardDisk", "CdRom"] if iso else ["HardDisk"]


def attached_iso(ctx, vm_uuid):
    found = tags.values_of(ctx.store, vm_uuid, ISO_TAG)
    return found[0]["uuid"] if found else None


def domain_spec(ctx, vm_uuid, driver, made_volumes=()):
    """``driver``: the host's driver, which knows whether its QEMU can use KVM.
    The VM's Ready volumes are its disks, and those in ``made_volumes`` (uuids
    of volumes whose files were just made and are still Creating)."""
    store = ctx.store
    vm = store.get("VmInstanceVO", vm_uuid)
    made = set(made_volumes)
    volumes = [{"uuid": v["uuid"], "path": v["installPath"], "format": v["format"],
                "deviceId": v["deviceId"], "type": v["type"]}
               for v in store.rows("SELECT * FROM VolumeVO WHERE vmInstanceUuid = ? AND status "
                                   "IN ('Ready', 'Creating') ORDER BY deviceId", (vm_uuid,))
               if v["status"] == "Ready" or v["uuid"] in made]
    nics = []
    for nic in store.rows("SELECT n.mac, n.deviceId, l2.physicalInterface, l2.vlan FROM VmNicVO "
                          "n JOIN L3NetworkVO l3 ON l3.uuid = n.l3NetworkUuid JOIN L2NetworkVO "
                          "l2 ON l2.uuid = l3.l2NetworkUuid WHERE n.vmInstanceUuid = ? ORDER BY "
                          "n.deviceId", (vm_uuid,)):
        nics.append({"mac": nic["mac"], "deviceId": nic["deviceId"],
                     "bridge": bridge_name(dict(nic))})
    iso = attached_iso(ctx, vm_uuid)
    cdrom = None
    if iso:
        cache = store.row("SELECT installPath FROM ImageCacheVO WHERE imageUuid = ? AND "
                          "hostUuid = ?", (iso, vm["hostUuid"]))
        cdrom = cache["installPath"] if cache else None
    return {"uuid": vm_uuid, "name": vm["name"], "cpuNum": vm["cpuNum"],
            "memorySize": vm["memorySize"], "domainType": driver.domain_type(),
            "volumes": volumes, "nics": nics, "cdrom": {"path": cdrom},
            "bootOrder": boot_order(ctx, vm_uuid, iso),
            "console": config.value(store, "kvm", "vm.consoleMode")}


def networks_of(ctx, vm_uuid):
    """The L2 networks the VM's NICs plug into."""
    return [dict(r) for r in ctx.store.rows(
        "SELECT DISTINCT l2.* FROM VmNicVO n JOIN L3NetworkVO l3 ON l3.uuid = n.l3NetworkUuid "
        "JOIN L2NetworkVO l2 ON l2.uuid = l3.l2NetworkUuid WHERE n.vmInstanceUuid = ?",
        (vm_uuid,))]
