"""The Flat network provider's runtime on one host (SPEC §9): per (host, L3)
a DHCP namespace with dnsmasq in static mode and, optionally, a supervised
metadata server, reached from the L2 bridge by a veth.

No database here: callers pass plain dicts.

``ep`` (one server)::

    {"host": host uuid, "l3": L3 uuid,
     "host_netns": None (this machine's root namespace) | a simulated host's namespace,
     "l2": {"physicalInterface": "eth1", "vlan": None | 10},
     "server_ip": "10.0.0.2", "netmask": "255.255.255.0", "gateway": "10.0.0.1" | None,
     "dns": ["10.0.0.53"], "dns_domain": "example.org" | None,
     "state_dir": "/private/dir/of/this/server",
     "metadata_cmd": ["python3", "-m", "..."] | None}

``entries``: [{"mac", "ip", "hostname", "default": bool}], the NICs of this
host's VMs on this L3; router and DNS servers go to default NICs only.

Names: host namespace ``zsh-<host[:12]>``, DHCP namespace
``zsd-<host[:8]>-<l3[:8]>``, veth ``zsdo<hash>`` (host side, on the bridge) /
``zsdi<hash>`` (DHCP side, with server_ip and 169.254.169.254/32).
How changes reach dnsmasq: see dnsmasq.py.
"""

from .errors import FlatNetworkError
from .server import (ensure_host_namespace, ensure_server, host_namespace,
                     remove_host_namespace, remove_server, set_entries, status)

__all__ = ["FlatNetworkError", "host_namespace", "ensure_host_namespace",
           "remove_host_namespace", "ensure_server", "set_entries", "remove_server", "status"]
