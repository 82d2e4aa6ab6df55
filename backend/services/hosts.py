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

    drv = drv or driver(ctx, host)
    return hostops.for_host(getattr(drv, "uri", ""), drv.local_path)


def discard_file(ctx, host, path):
    """Best effort: delete a volume or snapshot file of a host that is going away
    or whose record is. A file already gone, or a host out of reach, must not
    keep the records alive."""
    from ..storage import StorageError

    try:
        ops(ctx, host).delete_volume(path)
    except (StorageError, hypervisor.HypervisorError):
        pass


def connected(ctx, host_uuid):
    host = ctx.store.get("HostVO", host_uuid)
    if host is None or host["status"] != "Connected":
        status = host["status"] if host else "gone"
        raise operr(msg("host[uuid:{host_uuid}] is {status}; reconnect it with ReconnectHost",
                        host_uuid=host_uuid, status=status))
    return host


def plug_networks(ctx, host, vm_uuid, drv=None):
    """Make the bridges the VM's NICs need on its host (first use creates them;
    a remote host's are made there by its agent). Simulated hosts need none:
    the test driver plugs nothing."""
    from ..network.bridge import BridgeError
    from ..storage import StorageError
    from .vm_spec import networks_of

    if (host["libvirtUri"] or "").startswith("test:"):
        return
    host_ops = ops(ctx, host, drv)
    for l2 in networks_of(ctx, vm_uuid):
        try:
            host_ops.ensure_bridge(dict(l2))
        except (BridgeError, StorageError) as e:
            raise operr(msg("cannot prepare the network of L2[uuid:{l2}] on host[uuid:{host}]: "
                            "{error}", l2=l2['uuid'], host=host['uuid'], error=e)) from None
