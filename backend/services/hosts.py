"""Reaching hosts from services: the driver of a host row, and where a host's
paths live on this machine. One place, so every service maps paths alike."""

from .. import hypervisor
from ..errors import operr


def driver(ctx, host):
    return hypervisor.driver_for(host, ctx.home)


def local_path(ctx, host, path):
    """The real path on this machine of ``path`` on ``host``."""
    return driver(ctx, host).local_path(path)


def connected(ctx, host_uuid):
    host = ctx.store.get("HostVO", host_uuid)
    if host is None or host["status"] != "Connected":
        status = host["status"] if host else "gone"
        raise operr(f"host[uuid:{host_uuid}] is {status}; reconnect it with ReconnectHost")
    return host
