"""IP address management: ranges, and allocation that never hands out one
address twice, even with several processes allocating at once.

Every allocation runs inside the caller's IMMEDIATE transaction and inserts
into UsedIpVO, whose unique (l3NetworkUuid, ipInLong) index is the last word.
"""

import ipaddress
import random

from ..i18n import msg
from ..errors import argerr, operr
from ..clock import new_uuid, now


def to_long(ip):
    return int(ipaddress.IPv4Address(ip))


def to_ip(number):
    return str(ipaddress.IPv4Address(number))


def parse_ip(value, what):
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise argerr(msg("{what}[{value}] is not a valid IPv4 address",
                         what=what, value=value)) from None


def check_range(start, end, netmask, gateway):
    """Validate a range; returns (network, start, end, gateway) as ipaddress objects."""
    start, end = parse_ip(start, "startIp"), parse_ip(end, "endIp")
    gateway = parse_ip(gateway, "gateway")
    try:
        network = ipaddress.IPv4Network(f"{start}/{netmask}", strict=False)
    except ValueError:
        raise argerr(msg("netmask[{netmask}] is not a valid netmask", netmask=netmask)) from None
    if start > end:
        raise argerr(msg("startIp[{start}] is greater than endIp[{end}]", start=start, end=end))
    for ip, what in ((end, "endIp"), (gateway, "gateway")):
        if ip not in network:
            raise argerr(msg("{what}[{ip}] is not in the network {network} of startIp[{start}]",
                             what=what, ip=ip, network=network, start=start))
    return network, start, end, gateway


def overlapping(store, l3_uuid, start, end):
    return store.row("SELECT uuid, name FROM IpRangeVO WHERE l3NetworkUuid = ? AND "
                     "startIpInLong <= ? AND endIpInLong >= ?", (l3_uuid, int(end), int(start)))


def _used(store, l3_uuid, lo, hi):
    rows = store.rows("SELECT ipInLong FROM UsedIpVO WHERE l3NetworkUuid = ? AND "
                      "ipInLong BETWEEN ? AND ?", (l3_uuid, lo, hi))
    return {r[0] for r in rows}


def _pick(store, l3_uuid, rng, strategy):
    lo, hi = rng["startIpInLong"], rng["endIpInLong"]
    gateway = to_long(rng["gateway"])
    size = hi - lo + 1
    if strategy == "RandomIpAllocatorStrategy":
        # A few random tries, each one indexed look-up: the cost does not grow
        # with the number of addresses already given out.
        for _ in range(16):
            candidate = lo + random.randrange(size)
            if candidate != gateway and not _used(store, l3_uuid, candidate, candidate):
                return candidate
    used = _used(store, l3_uuid, lo, hi)      # nearly full, or first-available: scan
    used.add(gateway)
    for candidate in range(lo, hi + 1):
        if candidate not in used:
            return candidate
    return None


def allocate(store, l3_uuid, strategy, used_for="VmNic", static_ip=None):
    """Reserve an address of the L3 network; returns the UsedIpVO row dict."""
    ranges = store.rows("SELECT * FROM IpRangeVO WHERE l3NetworkUuid = ? ORDER BY "
                        "startIpInLong", (l3_uuid,))
    if not ranges:
        raise operr(msg("L3 network[uuid:{l3_uuid}] has no IP range; add one with AddIpRange",
                        l3_uuid=l3_uuid))
    chosen, address = None, None
    if static_ip is not None:
        chosen, address = check_static(store, l3_uuid, static_ip, ranges)
    else:
        order = list(ranges)
        if strategy == "RandomIpAllocatorStrategy":
            random.shuffle(order)
        for rng in order:
            address = _pick(store, l3_uuid, rng, strategy)
            if address is not None:
                chosen = rng
                break
        if chosen is None:
            raise operr(msg("no available IP address left in the L3 network[uuid:{l3_uuid}]",
                            l3_uuid=l3_uuid))
    row = {"uuid": new_uuid(), "ipRangeUuid": chosen["uuid"], "l3NetworkUuid": l3_uuid,
           "ip": to_ip(address), "ipInLong": address, "gateway": chosen["gateway"],
           "netmask": chosen["netmask"], "usedFor": used_for, "vmNicUuid": None,
           "createDate": now()}
    store.insert("UsedIpVO", row)
    return row


def check_static(store, l3_uuid, static_ip, ranges=None, holder=None):
    """(its range, the address as a number) of a static IP the L3 can give; an error
    when it is outside the ranges, the gateway, or held by another than ``holder``
    (a VmNic's uuid: the NIC that has it already)."""
    if ranges is None:
        ranges = store.rows("SELECT * FROM IpRangeVO WHERE l3NetworkUuid = ?", (l3_uuid,))
    address = to_long(str(parse_ip(static_ip, "staticIp")))
    chosen = next((r for r in ranges if r["startIpInLong"] <= address <= r["endIpInLong"]),
                  None)
    if chosen is None:
        raise argerr(msg("the static IP[{static_ip}] is not in any IP range of the L3 "
                         "network[uuid:{l3_uuid}]", static_ip=static_ip, l3_uuid=l3_uuid))
    if address == to_long(chosen["gateway"]):
        raise argerr(msg("the static IP[{static_ip}] is the gateway of the L3 "
                         "network[uuid:{l3_uuid}]", static_ip=static_ip, l3_uuid=l3_uuid))
    if store.row("SELECT 1 FROM UsedIpVO WHERE l3NetworkUuid = ? AND ipInLong = ? AND "
                 "(? IS NULL OR vmNicUuid IS NOT ?)", (l3_uuid, address, holder, holder)):
        raise operr(msg("the static IP[{static_ip}] is already used in the L3 "
                        "network[uuid:{l3_uuid}]", static_ip=static_ip, l3_uuid=l3_uuid))
    return chosen, address


def release(store, used_ip_uuid):
    if used_ip_uuid:
        store.delete("UsedIpVO", used_ip_uuid)


def new_mac(store):
    """A unique MAC 'fa:xx:xx:xx:xx:xx' (locally administered, unicast)."""
    for _ in range(100):
        mac = "fa:" + ":".join(f"{b:02x}" for b in random.randbytes(5))
        if store.row("SELECT 1 FROM VmNicVO WHERE mac = ?", (mac,)) is None:
            return mac
    raise operr(msg("could not find a free MAC address"))
