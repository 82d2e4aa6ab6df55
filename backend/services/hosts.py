"""Reaching hosts from services: the driver of a host row, and where a host's
paths live on this machine. One place, so every service maps paths alike."""

from .. import hypervisor
from ..i18n import msg
from ..errors import operr


def driver(ctx, host):
    return hypervisor.driver_for(host, ctx.home)


def local_path(ctx, host, path):
    """The real path on this machine of ``path`` on ``host``."""
    try:
        return driver(ctx, host).local_path(path)
    except hypervisor.HypervisorError as e:
        raise operr(e.text) from None


def discard_file(ctx, host, path):
    """Best effort: delete a volume or snapshot file of a host that is going away
    or whose record is. A file already gone, or a host out of reach, must not
    keep the records alive."""
    from ..storage import StorageError, local

    try:
        local.delete_volume(driver(ctx, host).local_path(path))
    except (StorageError, hypervisor.HypervisorError):
        pass


def connected(ctx, host_uuid):
    host = ctx.store.get("HostVO", host_uuid)
    if host is None or host["status"] != "Connected":
        status = host["status"] if host else "gone"
        raise operr(msg("host[uuid:{host_uuid}] is {status}; reconnect it with ReconnectHost",
                        host_uuid=host_uuid, status=status))
    return host


def plug_networks(ctx, host, vm_uuid):
    """Make the bridges the VM's NICs need on its host (first use creates them).

    Simulated hosts need none (the test driver plugs nothing); a remote host's
    bridges are made on that host, which this embedded backend can not reach yet.
    """
    from ..network.bridge import BridgeError, ensure
    from .vm_spec import networks_of

    uri = host["libvirtUri"] or ""
    if not uri.startswith("qemu:///"):
        return
    for l2 in networks_of(ctx, vm_uuid):
        try:
            ensure(l2)
        except BridgeError as e:
            raise operr(msg("cannot prepare the network of L2[uuid:{l2}] on host[uuid:{host}]: "
                            "{error}", l2=l2['uuid'], host=host['uuid'], error=e)) from None
