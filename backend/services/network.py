"""L2 and L3 networks, IP ranges and DNS."""

import ipaddress

from ..i18n import msg
from ..errors import argerr, operr
from . import common, flat, ipam
from ..clock import now


def _create_l2(ctx, p, kind, vlan=None):
    if vlan is not None and not 1 <= vlan <= 4094:
        raise argerr(msg("vlan[{vlan}] must be between 1 and 4094", vlan=vlan))
    row = {"name": p["name"], "description": p.get("description"), "zoneUuid": p["zoneUuid"],
           "physicalInterface": p["physicalInterface"], "type": kind, "vlan": vlan}
    return common.create(ctx, "L2NetworkVO", row, p)


def create_l2_novlan(ctx, p):
    return _create_l2(ctx, p, "L2NoVlanNetwork")


def create_l2_vlan(ctx, p):
    return _create_l2(ctx, p, "L2VlanNetwork", p["vlan"])


def _same_zone(ctx, what, uuid, zone_uuid, cluster_uuid):
    cluster = ctx.store.get("ClusterVO", cluster_uuid)
    if cluster["zoneUuid"] != zone_uuid:
        raise argerr(msg("{what}[uuid:{uuid}] and cluster[uuid:{cluster_uuid}] are in different "
                         "zones", what=what, uuid=uuid, cluster_uuid=cluster_uuid))


def attach_l2(ctx, p):
    l2 = ctx.store.get("L2NetworkVO", p["l2NetworkUuid"])
    _same_zone(ctx, msg("L2 network"), l2["uuid"], l2["zoneUuid"], p["clusterUuid"])
    with ctx.store.transaction():
        ctx.store.conn.execute("INSERT OR IGNORE INTO L2NetworkClusterRefVO (l2NetworkUuid, "
                               "clusterUuid, createDate) VALUES (?, ?, ?)",
                               (l2["uuid"], p["clusterUuid"], now()))
    return common.inventory(ctx, "L2NetworkVO", l2["uuid"])


def detach_l2(ctx, p):
    with ctx.store.transaction():
        ctx.store.conn.execute("DELETE FROM L2NetworkClusterRefVO WHERE l2NetworkUuid = ? AND "
                               "clusterUuid = ?", (p["l2NetworkUuid"], p["clusterUuid"]))
    return common.inventory(ctx, "L2NetworkVO", p["l2NetworkUuid"])


def delete_l2(ctx, p):
    return remove_l2(ctx, p["uuid"], p["deleteMode"])


def remove_l2(ctx, uuid, mode):
    return common.delete(ctx, "L2NetworkVO", uuid, mode,
                         dependents=((msg("L3 network"), "L3NetworkVO", "l2NetworkUuid",
                                      remove_l3),),
                         refs=(("L2NetworkClusterRefVO", "l2NetworkUuid"),))


def create_l3(ctx, p):
    l2 = ctx.store.get("L2NetworkVO", p["l2NetworkUuid"])
    row = {"name": p["name"], "description": p.get("description"), "type": p["type"],
           "zoneUuid": l2["zoneUuid"], "l2NetworkUuid": l2["uuid"], "state": "Enabled",
           "system": 1 if p["system"] else 0, "dnsDomain": p.get("dnsDomain")}
    return common.create(ctx, "L3NetworkVO", row, p)


def delete_l3(ctx, p):
    return remove_l3(ctx, p["uuid"], p["deleteMode"])


def remove_l3(ctx, uuid, mode):
    if ctx.store.get("L3NetworkVO", uuid) is None:
        return None
    _refuse_if_nics(ctx, "l3NetworkUuid", uuid, msg("L3 network[uuid:{uuid}]", uuid=uuid), mode)
    flat.remove_l3(ctx, uuid)
    with ctx.store.transaction():
        ctx.store.conn.execute("DELETE FROM NetworkServiceL3NetworkRefVO WHERE l3NetworkUuid = ?",
                               (uuid,))
        ctx.store.conn.execute("DELETE FROM UsedIpVO WHERE l3NetworkUuid = ?", (uuid,))
        ctx.store.conn.execute("DELETE FROM IpRangeVO WHERE l3NetworkUuid = ?", (uuid,))
        ctx.store.conn.execute("DELETE FROM L3NetworkDnsVO WHERE l3NetworkUuid = ?", (uuid,))
    return common.delete(ctx, "L3NetworkVO", uuid, mode)


def _refuse_if_nics(ctx, column, uuid, what, mode):
    """VM NICs hold addresses of the network: refused, or (Enforcing) removed."""
    if column == "ipRangeUuid":
        nics = ctx.store.rows("SELECT n.uuid, n.vmInstanceUuid FROM VmNicVO n JOIN UsedIpVO u "
                              "ON u.uuid = n.usedIpUuid WHERE u.ipRangeUuid = ?", (uuid,))
    else:
        nics = ctx.store.rows("SELECT uuid, vmInstanceUuid FROM VmNicVO WHERE l3NetworkUuid = ?",
                              (uuid,))
    if not nics:
        return
    if mode != "Enforcing":
        vms = sorted({n["vmInstanceUuid"] for n in nics})
        raise operr(msg("{what} is still used by {count} VM NIC(s) of VM(s) [{vms}{more}]; "
                        "delete the VMs first, or use deleteMode=Enforcing to remove those NICs",
                        what=what, count=len(nics), vms=', '.join(vms[:5]),
                        more=', ...' if len(vms) > 5 else ''))
    with ctx.store.transaction():
        for nic in nics:
            ctx.store.delete("VmNicVO", nic["uuid"])
        # A VM that lost the NIC of its default network defaults to its next NIC's network.
        for vm_uuid in {n["vmInstanceUuid"] for n in nics}:
            ctx.store.conn.execute(
                "UPDATE VmInstanceVO SET defaultL3NetworkUuid = (SELECT l3NetworkUuid FROM "
                "VmNicVO WHERE vmInstanceUuid = ?1 ORDER BY deviceId LIMIT 1) WHERE uuid = ?1 "
                "AND defaultL3NetworkUuid NOT IN (SELECT l3NetworkUuid FROM VmNicVO WHERE "
                "vmInstanceUuid = ?1)", (vm_uuid,))


def _add_range(ctx, p, start, end, netmask, gateway, cidr):
    network, start_ip, end_ip, gateway_ip = ipam.check_range(start, end, netmask, gateway)
    uuid = p["l3NetworkUuid"]
    row = {"name": p["name"], "description": p.get("description"), "l3NetworkUuid": uuid,
           "startIp": str(start_ip), "endIp": str(end_ip), "netmask": str(network.netmask),
           "gateway": str(gateway_ip), "networkCidr": cidr or str(network),
           "startIpInLong": int(start_ip), "endIpInLong": int(end_ip)}
    with ctx.store.transaction():
        clash = ipam.overlapping(ctx.store, uuid, start_ip, end_ip)
        if clash:
            raise argerr(msg("the IP range [{start_ip}, {end_ip}] overlaps the IP "
                             "range[uuid:{clash}, name:{name}] of the L3 network",
                             start_ip=start_ip, end_ip=end_ip, clash=clash['uuid'],
                             name=clash['name']))
        other = ctx.store.row("SELECT gateway, netmask FROM IpRangeVO WHERE l3NetworkUuid = ?",
                              (uuid,))
        if other and (other["gateway"], other["netmask"]) != (row["gateway"], row["netmask"]):
            raise argerr(msg("all IP ranges of an L3 network share one gateway and netmask; this "
                             "one has {gateway}/{netmask}",
                             gateway=other['gateway'], netmask=other['netmask']))
        return common.create(ctx, "IpRangeVO", row, p)


def add_ip_range(ctx, p):
    return _add_range(ctx, p, p["startIp"], p["endIp"], p["netmask"], p["gateway"], None)


def add_ip_range_by_cidr(ctx, p):
    try:
        network = ipaddress.IPv4Network(p["networkCidr"], strict=False)
    except ValueError:
        raise argerr(msg("networkCidr[{networkCidr}] is not a valid IPv4 CIDR",
                         networkCidr=p['networkCidr'])) from None
    if network.num_addresses < 4:
        raise argerr(msg("networkCidr[{networkCidr}] is too small: it needs room for a gateway "
                         "and addresses", networkCidr=p['networkCidr']))
    hosts = list(network.hosts()) if network.num_addresses <= 256 else None
    first = hosts[0] if hosts else network.network_address + 1
    last = hosts[-1] if hosts else network.broadcast_address - 1
    return _add_range(ctx, p, str(first + 1), str(last), str(network.netmask), str(first),
                      str(network))


def delete_ip_range(ctx, p):
    uuid = p["uuid"]
    if ctx.store.get("IpRangeVO", uuid) is None:
        return None
    _refuse_if_nics(ctx, "ipRangeUuid", uuid, msg("IP range[uuid:{uuid}]", uuid=uuid),
                    p["deleteMode"])
    l3_uuid = ctx.store.get("IpRangeVO", uuid)["l3NetworkUuid"]
    dhcp_moves = flat.dhcp_ip_in_range(ctx, l3_uuid, uuid)
    if dhcp_moves:
        flat.remove_l3(ctx, l3_uuid)        # its servers come back on an address of another range
        flat.release_dhcp_ip(ctx, l3_uuid)
    with ctx.store.transaction():
        ctx.store.conn.execute("DELETE FROM UsedIpVO WHERE ipRangeUuid = ?", (uuid,))
    common.delete(ctx, "IpRangeVO", uuid, p["deleteMode"])
    flat.sync_l3(ctx, l3_uuid)
    return None


def add_dns(ctx, p):
    ipam.parse_ip(p["dns"], "dns")
    with ctx.store.transaction():
        ctx.store.conn.execute("INSERT OR IGNORE INTO L3NetworkDnsVO (l3NetworkUuid, dns, "
                               "createDate) VALUES (?, ?, ?)", (p["l3NetworkUuid"], p["dns"],
                                                                now()))
    return common.inventory(ctx, "L3NetworkVO", p["l3NetworkUuid"])


def remove_dns(ctx, p):
    with ctx.store.transaction():
        ctx.store.conn.execute("DELETE FROM L3NetworkDnsVO WHERE l3NetworkUuid = ? AND dns = ?",
                               (p["l3NetworkUuid"], p["dns"]))
    return common.inventory(ctx, "L3NetworkVO", p["l3NetworkUuid"])
