"""Reaching hosts from services: the driver of a host row, and the operations
on its files and links (here, or by its agent on a remote host). One place, so
every service reaches a host alike."""

from .. import hypervisor
from ..i18n import msg
from ..errors import operr


def driver(ctx, host):
    return hypervisor.driver_for(host, ctx.home)


def ops(ctx, host, drv=None):
    """The host's operations on its own files and links (backend.hostops): run
    here for a host this machine reaches, by its agent over ssh for a remote one."""
    from .. import hostops
    from ..storage import StorageError

    drv = drv or driver(ctx, host)

    def to_local(path):
        # A private libvirtd of this machine that is down: its files can not be
        # found (its /proc/<pid>/root), which is a failed operation, said so.
        try:
            return drv.local_path(path)
        except hypervisor.HypervisorError as e:
            raise StorageError(e.text) from None
    return hostops.for_host(getattr(drv, "uri", ""), to_local, host.get("username") or "root")


def discard_file(ctx, host, path):
    """Best effort: delete a volume or snapshot file of a host that is going away
    or whose record is. A host out of reach must not keep the records alive: a
    remote one is noted to delete the file once it answers (leftovers.py)."""
    from ..storage import StorageError

    try:
        ops(ctx, host).delete_volume(path)
    except (StorageError, hypervisor.HypervisorError):
        from . import leftovers

        leftovers.defer(ctx, host, leftovers.FILE, path)


def connected(ctx, host_uuid):
    host = ctx.store.get("HostVO", host_uuid)
    if host is None or host["status"] != "Connected":
        status = host["status"] if host else "gone"
        raise operr(msg("host[uuid:{host_uuid}] is {status}; reconnect it with ReconnectHost",
                        host_uuid=host_uuid, status=status))
    return host


# (host, L2 uuid, the L2's interface and VLAN) -> when its bridge was last made sure of.
# A batch creating many VMs on one host asks once, not per VM (one round trip each on
# a remote host); a bridge removed by hand meanwhile is made again within the window.
_BRIDGES_SEEN = {}
BRIDGE_RECHECK_S = 30.0


def plug_networks(ctx, host, vm_uuid, drv=None):
    """Make the bridges the VM's NICs need on its host (first use creates them;
    a remote host's are made there by its agent). Simulated hosts need none:
    the test driver plugs nothing."""
    from ..network.bridge import BridgeError
    from ..storage import StorageError
    from .vm_spec import networks_of

    if (host["libvirtUri"] or "").startswith("test:"):
        return
    import time

    host_ops = None
    for l2 in networks_of(ctx, vm_uuid):
        key = (host["uuid"], l2["uuid"], l2["physicalInterface"], l2["vlan"])
        if time.monotonic() - _BRIDGES_SEEN.get(key, -BRIDGE_RECHECK_S) < BRIDGE_RECHECK_S:
            continue
        host_ops = host_ops or ops(ctx, host, drv)
        try:
            host_ops.ensure_bridge(dict(l2))
        except (BridgeError, StorageError) as e:
            raise operr(msg("cannot prepare the network of L2[uuid:{l2}] on host[uuid:{host}]: "
                            "{error}", l2=l2['uuid'], host=host['uuid'], error=e)) from None
        _BRIDGES_SEEN[key] = time.monotonic()
