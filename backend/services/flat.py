"""The Flat network provider: distributed DHCP and userdata (SPEC §9).

For each host and each L3 network with Flat DHCP that has VMs on that host,
the host runs its own DHCP server (dnsmasq in a namespace on the L2 bridge)
and, with Flat Userdata, a metadata server beside it. This module decides
what each (host, L3) server must hold from the records and hands that to the
runtime (backend.network.flat), which applies it incrementally. It is called
after every change that moves a VM in or out of a host's servers: the VM is
about to start, stopped, destroyed, expunged, moved; an L3's services
changed; a host or an L3 network is deleted.
"""

import os
import sys

from ..i18n import msg
from ..errors import operr
from ..storage import StorageError
from . import flat_documents, hosts as host_access, ipam, tags
from .flat_documents import METADATA_ADDRESS
from .l3services import provider_of

DHCP_TAG = "flatNetwork::DhcpServer::{ip}::ipUuid::{ipUuid}"
# The states in which a VM's NICs are served: it runs, or is about to.
SERVED_STATES = ("Starting", "Running", "Rebooting", "Paused", "Stopping", "Migrating",
                 "VolumeMigrating", "Unknown")


def _runtime():
    from ..network import flat

    return flat


def uses_flat_dhcp(store, l3_uuid):
    return provider_of(store, l3_uuid, "DHCP") == "Flat"


def _host_netns(host):
    """The namespace holding the host's bridges: its own one for a simulated
    host, else the host's root namespace (None)."""
    if (host["libvirtUri"] or "").startswith("test:"):
        return _runtime().ensure_host_namespace(host["uuid"])
    return None


def _is_remote(host):
    from ..hostops import is_remote

    return is_remote(host["libvirtUri"] or "")


def dhcp_server_ip(ctx, l3_uuid):
    """The L3's DHCP server address: the first free one of its range, taken
    once and recorded as an inherent tag of the L3 network."""
    store = ctx.store
    with store.transaction():
        found = tags.values_of(store, l3_uuid, DHCP_TAG)
        if found:
            return found[0]["ip"]
        used = ipam.allocate(store, l3_uuid, "FirstAvailableIpAllocatorStrategy", used_for="DHCP")
        tags.insert(store, "SystemTagVO", "L3NetworkVO", l3_uuid,
                    f"flatNetwork::DhcpServer::{used['ip']}::ipUuid::{used['uuid']}",
                    inherent=True)
        return used["ip"]


def release_dhcp_ip(ctx, l3_uuid):
    """The L3 lost Flat DHCP: its server address goes back to the range."""
    store = ctx.store
    with store.transaction():
        for found in tags.values_of(store, l3_uuid, DHCP_TAG):
            ipam.release(store, found["ipUuid"])
        store.conn.execute("DELETE FROM SystemTagVO WHERE resourceUuid = ? AND tag LIKE ?",
                           (l3_uuid, "flatNetwork::DhcpServer::%"))


def dhcp_ip_in_range(ctx, l3_uuid, range_uuid):
    """Whether the L3's DHCP server address belongs to this IP range."""
    for found in tags.values_of(ctx.store, l3_uuid, DHCP_TAG):
        if ctx.store.row("SELECT 1 FROM UsedIpVO WHERE uuid = ? AND ipRangeUuid = ?",
                         (found["ipUuid"], range_uuid)):
            return True
    return False


def _endpoint(ctx, host, l3_uuid, host_netns, remote=False):
    store = ctx.store
    l3 = store.get("L3NetworkVO", l3_uuid)
    l2 = store.get("L2NetworkVO", l3["l2NetworkUuid"])
    rng = store.row("SELECT netmask, gateway FROM IpRangeVO WHERE l3NetworkUuid = ? LIMIT 1",
                    (l3_uuid,))
    server_ip = dhcp_server_ip(ctx, l3_uuid)
    dns = [r[0] for r in store.rows("SELECT dns FROM L3NetworkDnsVO WHERE l3NetworkUuid = ? "
                                    "ORDER BY rowid", (l3_uuid,))]
    metadata = None
    if _serves_userdata(store, l3_uuid) and remote:
        metadata = flat_documents.command(host["uuid"], l3_uuid,
                                          _server_dir(ctx, host, l3_uuid, remote), server_ip)
    elif _serves_userdata(store, l3_uuid):
        metadata = [sys.executable, "-m", "backend.agent.metadata_server", "--home", ctx.home,
                    "--host", host["uuid"], "--l3", l3_uuid, "--address", server_ip,
                    "--address", METADATA_ADDRESS]
    return {"host": host["uuid"], "l3": l3_uuid, "host_netns": host_netns or None,
            "l2": {"physicalInterface": l2["physicalInterface"], "vlan": l2["vlan"]},
            "server_ip": server_ip, "netmask": rng["netmask"], "gateway": rng["gateway"],
            "dns": dns, "dns_domain": l3["dnsDomain"],
            "state_dir": _server_dir(ctx, host, l3_uuid, remote), "metadata_cmd": metadata}


def _serves_userdata(store, l3_uuid):
    return provider_of(store, l3_uuid, "Userdata") == "Flat"


def _state_dir(ctx, host_uuid, l3_uuid):
    """The server's state here; for a remote host, only a mark that the host
    serves the L3 (its state is on that host, _server_dir)."""
    return os.path.join(ctx.home, "hosts", host_uuid, "flat", l3_uuid)


def _server_dir(ctx, host, l3_uuid, remote):
    if remote:
        return f"~/.zstack-cli/flat/{host['uuid']}/{l3_uuid}"
    return _state_dir(ctx, host["uuid"], l3_uuid)


_NICS = ("SELECT n.mac, n.ip, n.vmInstanceUuid, v.defaultL3NetworkUuid, v.hostUuid, v.state, "
         "(SELECT substr(t.tag, 11) FROM SystemTagVO t WHERE t.resourceUuid = v.uuid AND "
         "t.tag LIKE 'hostname::%' LIMIT 1) AS hostname FROM VmNicVO n JOIN VmInstanceVO v ON "
         "v.uuid = n.vmInstanceUuid WHERE ")


def _entry(row, l3_uuid):
    return {"mac": row["mac"], "ip": row["ip"],
            "hostname": row["hostname"] or row["ip"].replace(".", "-"),
            "default": row["defaultL3NetworkUuid"] == l3_uuid}


def entries(ctx, host_uuid, l3_uuid):
    """What the (host, L3) server hands out: each served NIC's MAC, IP, hostname,
    and whether it is its VM's default NIC (router and DNS go only there)."""
    marks = ", ".join("?" for _ in SERVED_STATES)
    rows = ctx.store.rows(_NICS + f"n.l3NetworkUuid = ? AND v.hostUuid = ? AND v.state IN "
                          f"({marks}) ORDER BY n.ip", (l3_uuid, host_uuid, *SERVED_STATES))
    return [_entry(r, l3_uuid) for r in rows]


def vm_entries(ctx, vm_uuid, host_uuid, l3_uuid):
    """(what the (host, L3) server hands out for one VM's NICs, the MACs of all its
    NICs on the L3): the part of ``entries`` that one VM decides."""
    # (+: by the VM's NICs, not by all the NICs of the L3)
    rows = ctx.store.rows(_NICS + "n.vmInstanceUuid = ? AND +n.l3NetworkUuid = ? ORDER BY n.ip",
                          (vm_uuid, l3_uuid))
    return ([_entry(r, l3_uuid) for r in rows
             if r["hostUuid"] == host_uuid and r["state"] in SERVED_STATES],
            [r["mac"] for r in rows])


# The servers this process made match the records in full (state dirs): after
# that, a change of one VM is handed to them as that VM's entries alone, so its
# cost does not grow with the VMs a server holds. A process's first change to a
# server hands it everything, which repairs whatever a crash left behind.
_SYNCED = set()


def sync(ctx, host_uuid, l3_uuid, vm_uuid=None):
    """Make one host's server for one L3 match the records (when ``vm_uuid`` is
    given, only that VM's NICs changed)."""
    store = ctx.store
    host = store.get("HostVO", host_uuid)
    if host is None:
        return
    state_dir = _state_dir(ctx, host_uuid, l3_uuid)
    macs = None
    if not uses_flat_dhcp(store, l3_uuid):
        wanted = []
    elif vm_uuid is not None and state_dir in _SYNCED and os.path.isdir(state_dir):
        wanted, macs = vm_entries(ctx, vm_uuid, host_uuid, l3_uuid)
    else:
        wanted = entries(ctx, host_uuid, l3_uuid)
    if not wanted and not os.path.isdir(state_dir):
        _SYNCED.discard(state_dir)
        return
    runtime = _runtime()
    try:
        if not wanted and macs is None:
            _remove_server(ctx, host, l3_uuid)
            return
        remote = _is_remote(host)
        endpoint = _endpoint(ctx, host, l3_uuid, _host_netns(host), remote)
        _SYNCED.discard(state_dir)          # until it is known to match again
        host_ops = host_access.ops(ctx, host)
        if remote:
            os.makedirs(state_dir, exist_ok=True)   # marked before: a failure still cleans up
            if endpoint["metadata_cmd"]:            # the documents first: a VM may ask at once
                flat_documents.publish(ctx, host_ops, host_uuid, l3_uuid, endpoint["state_dir"],
                                       wanted, macs)
        done = host_ops.flat_serve(endpoint, wanted, macs)
        if not done["total"]:
            _remove_server(ctx, host, l3_uuid)      # that was its last VM
        else:
            _SYNCED.add(state_dir)
    except (runtime.FlatNetworkError, StorageError) as e:
        raise operr(msg("the Flat DHCP server of L3 network[uuid:{l3_uuid}] on "
                        "host[uuid:{host_uuid}] failed: {error}",
                        l3_uuid=l3_uuid, host_uuid=host_uuid, error=e)) from None


def _remove_server(ctx, host, l3_uuid):
    mark = _state_dir(ctx, host["uuid"], l3_uuid)
    _SYNCED.discard(mark)
    remote = _is_remote(host)
    host_access.ops(ctx, host).flat_remove(_bare_endpoint(ctx, host, l3_uuid, remote))
    if remote:
        import shutil

        shutil.rmtree(mark, ignore_errors=True)


def _remove_server_of_gone(ctx, host, l3_uuid):
    """Stop a server whose L3 or host is being deleted. A remote host out of reach
    must not keep the records alive: its server is then left running there, the
    mark here goes with the records, and the server is noted to stop once the
    host answers (leftovers.py)."""
    try:
        _remove_server(ctx, host, l3_uuid)
    except (StorageError, _runtime().FlatNetworkError):
        if not _is_remote(host):
            raise
        import shutil

        from . import leftovers

        shutil.rmtree(_state_dir(ctx, host["uuid"], l3_uuid), ignore_errors=True)
        leftovers.defer(ctx, host, leftovers.FLAT, l3_uuid)


def remove_leftover_server(ctx, host, l3_uuid):
    """Stop the server a remote host kept for an L3 while out of reach
    (leftovers.py); not when this store serves the L3 there again meanwhile."""
    if os.path.isdir(_state_dir(ctx, host["uuid"], l3_uuid)):
        return
    try:
        host_access.ops(ctx, host).flat_remove(_bare_endpoint(ctx, host, l3_uuid, True))
    except _runtime().FlatNetworkError as e:
        raise StorageError(str(e)) from None


def _bare_endpoint(ctx, host, l3_uuid, remote):
    """Enough of an endpoint to remove a server (its records may be gone)."""
    netns = None
    if (host["libvirtUri"] or "").startswith("test:"):
        netns = _runtime().host_namespace(host["uuid"])
    return {"host": host["uuid"], "l3": l3_uuid, "host_netns": netns,
            "state_dir": _server_dir(ctx, host, l3_uuid, remote)}


def sync_vm(ctx, vm_uuid, *extra_hosts):
    """After a VM changed state (or host): its networks on its host, and on
    any host it just left."""
    store = ctx.store
    vm = store.get("VmInstanceVO", vm_uuid)
    hosts = {h for h in (vm and vm["hostUuid"], *extra_hosts) if h}
    l3s = [r[0] for r in store.rows("SELECT DISTINCT l3NetworkUuid FROM VmNicVO WHERE "
                                    "vmInstanceUuid = ?", (vm_uuid,))]
    for l3 in l3s:
        if uses_flat_dhcp(store, l3) or _any_server(ctx, l3):
            for host in hosts:
                sync(ctx, host, l3, vm_uuid)


def _any_server(ctx, l3_uuid):
    hosts_dir = os.path.join(ctx.home, "hosts")
    try:
        return any(os.path.isdir(os.path.join(hosts_dir, h, "flat", l3_uuid))
                   for h in os.listdir(hosts_dir))
    except OSError:
        return False


def sync_l3(ctx, l3_uuid):
    """The L3's services changed: every host with its VMs, and every host that
    still runs a server for it."""
    store = ctx.store
    hosts = {r[0] for r in store.rows("SELECT DISTINCT v.hostUuid FROM VmNicVO n JOIN "
                                      "VmInstanceVO v ON v.uuid = n.vmInstanceUuid WHERE "
                                      "n.l3NetworkUuid = ? AND v.hostUuid IS NOT NULL",
                                      (l3_uuid,))}
    hosts |= set(_hosts_serving(ctx, l3_uuid))
    for host in sorted(hosts):
        sync(ctx, host, l3_uuid)
    if not uses_flat_dhcp(store, l3_uuid):
        release_dhcp_ip(ctx, l3_uuid)


def _hosts_serving(ctx, l3_uuid):
    hosts_dir = os.path.join(ctx.home, "hosts")
    try:
        return [h for h in os.listdir(hosts_dir)
                if os.path.isdir(os.path.join(hosts_dir, h, "flat", l3_uuid))]
    except OSError:
        return []


def remove_l3(ctx, l3_uuid):
    """The L3 network is going: stop its servers on every host."""
    for host_uuid in _hosts_serving(ctx, l3_uuid):
        host = ctx.store.get("HostVO", host_uuid)
        if host is not None:
            _remove_server_of_gone(ctx, host, l3_uuid)


def remove_host(ctx, host):
    """The host is going: stop all its servers, and a simulated host's namespace.
    A host that never served anything has no servers and no namespace."""
    flat_dir = os.path.join(ctx.home, "hosts", host["uuid"], "flat")
    if not os.path.isdir(flat_dir):
        return
    for l3_uuid in os.listdir(flat_dir):
        _remove_server_of_gone(ctx, host, l3_uuid)
    if (host["libvirtUri"] or "").startswith("test:"):
        _runtime().remove_host_namespace(host["uuid"])


def update_shown_name(ctx, resource_name, column, p):
    """Update*'s name and description of a resource whose name VMs' metadata shows
    (their zone, their offering: ``column`` of VmInstanceVO names it)."""
    from . import common

    inventory = common.update(ctx, resource_name, p["uuid"],
                              {"name": p.get("name"), "description": p.get("description")})
    if p.get("name"):
        _refresh_vms_of(ctx, column, p["uuid"])
    return inventory


def _refresh_vms_of(ctx, column, value):
    """The documents of the VMs of ``column`` = ``value`` on remote hosts are
    rewritten (this machine's hosts read the records on each request)."""
    store = ctx.store
    # A host out of reach would cost an ssh timeout per VM: only Connected hosts,
    # and a host that fails once is left for the rest (its next sync rewrites all).
    remote = [h["uuid"] for h in store.rows("SELECT uuid, libvirtUri FROM HostVO WHERE "
                                            "status = 'Connected'") if _is_remote(h)]
    for host_uuid in remote:
        for (vm_uuid,) in store.rows(f'SELECT uuid FROM VmInstanceVO WHERE "{column}" = ? AND '
                                     "hostUuid = ?", (value, host_uuid)):
            if not refresh_vm(ctx, vm_uuid):
                break


def refresh_vm(ctx, vm_uuid):
    """A tag the metadata shows changed on the VM: a remote host's documents of
    it are rewritten (this machine's hosts read the records on each request).
    Best effort: the tag is saved whether or not the host can be reached; False
    when it could not be."""
    store = ctx.store
    vm = store.get("VmInstanceVO", vm_uuid)
    if vm is None or not vm["hostUuid"] or vm["state"] not in SERVED_STATES:
        return True
    host = store.get("HostVO", vm["hostUuid"])
    if host is None or not _is_remote(host):
        return True
    for (l3_uuid,) in store.rows("SELECT DISTINCT l3NetworkUuid FROM VmNicVO WHERE "
                                 "vmInstanceUuid = ?", (vm_uuid,)):
        if uses_flat_dhcp(store, l3_uuid) and _serves_userdata(store, l3_uuid):
            wanted, macs = vm_entries(ctx, vm_uuid, host["uuid"], l3_uuid)
            try:
                flat_documents.publish(ctx, host_access.ops(ctx, host), host["uuid"], l3_uuid,
                                       _server_dir(ctx, host, l3_uuid, True), wanted, macs)
            except StorageError:
                # The tag is saved; a host out of reach gets the VM's documents whole with
                # its next sync (this process's next one for the L3 is a full one).
                _SYNCED.discard(_state_dir(ctx, host["uuid"], l3_uuid))
                return False
    return True
