"""Bridges on a host: ``br_eth1`` for a flat L2 network on eth1, and
``br_eth1_10`` on the VLAN interface ``eth1.10`` for VLAN 10 (SPEC §9).

A bridge is made the first time a VM needs it. The physical interface is
enslaved only when it exists and carries no IPv4 address: moving the address
of a machine's live uplink into a bridge would cut the machine off, so that
is left to the operator, and said so.
"""

import json
import subprocess

from ..i18n import Error, msg


class BridgeError(Error):
    """A bridge could not be made; its text is a message (backend.i18n)."""


def bridge_name(l2):
    name = f"br_{l2['physicalInterface']}"
    return f"{name}_{l2['vlan']}" if l2.get("vlan") is not None else name


def _ip(*args, netns=None):
    command = (["ip", "netns", "exec", netns] if netns else []) + ["ip", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise BridgeError(msg("`{command}` failed: {first}", command=' '.join(command),
                              first=(result.stderr.strip().splitlines() or ['?'])[0]))
    return result.stdout


def _link(name, netns=None):
    """The link's JSON description, or None when it does not exist."""
    try:
        out = _ip("-j", "addr", "show", "dev", name, netns=netns)
    except BridgeError:
        return None
    links = json.loads(out or "[]")
    return links[0] if links else None


def ensure(l2, netns=None):
    """Make the L2 network's bridge exist and be up; returns its name."""
    name = bridge_name(l2)
    if _link(name, netns) is None:
        _ip("link", "add", name, "type", "bridge", netns=netns)
    _ip("link", "set", name, "up", netns=netns)
    uplink = l2["physicalInterface"]
    phys = _link(uplink, netns)
    if phys is None:
        return name         # no such NIC here: VMs on this host talk among themselves only
    if l2.get("vlan") is not None:
        sub = f"{uplink}.{l2['vlan']}"
        if _link(sub, netns) is None:
            _ip("link", "add", "link", uplink, "name", sub, "type", "vlan", "id",
                str(l2["vlan"]), netns=netns)
        uplink, phys = sub, _link(sub, netns)
    if phys.get("master") == name:
        return name
    if any(a.get("family") == "inet" for a in phys.get("addr_info", [])):
        raise BridgeError(msg("the interface {uplink} has an IPv4 address: zstack-cli will not "
                              "move it into the bridge {name} (that could cut this machine off); "
                              "use an interface without an address, or bridge it yourself",
                              uplink=uplink, name=name))
    if phys.get("master"):
        raise BridgeError(msg("the interface {uplink} is already in {master}",
                              uplink=uplink, master=phys['master']))
    _ip("link", "set", uplink, "master", name, netns=netns)
    _ip("link", "set", uplink, "up", netns=netns)
    return name
