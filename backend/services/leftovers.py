"""What a remote host out of reach still holds after its records went: removed
there once it answers again.

Deleting a volume, a Flat L3 or the host itself never waits for a host that
does not answer: the records go, and the file or the DHCP and metadata servers
stay on the host (a DHCP server answering for addresses nobody holds any more).
Each is noted in HostLeftoverVO with the host's URI, and removed by ``drain``
when that host is reached: at ReconnectHost, when its agent finds it again, or
when a host at the same managementIp is added (the machine back after its
record was deleted), through that new host's login.
"""

from ..clock import now

FILE, FLAT = "file", "flat"


def defer(ctx, host, kind, target):
    """Note ``target`` (a file's path, an L3's uuid) as left on a remote ``host``."""
    from ..hostops import is_remote

    if not is_remote(host["libvirtUri"]):
        return
    store = ctx.store
    with store.transaction():
        if store.row("SELECT 1 FROM HostLeftoverVO WHERE hostUuid = ? AND kind = ? AND "
                     "target = ?", (host["uuid"], kind, target)):
            return
        store.insert("HostLeftoverVO", {
            "hostUuid": host["uuid"], "managementIp": host["managementIp"],
            "libvirtUri": host["libvirtUri"], "username": host["username"], "kind": kind,
            "target": target, "attempts": 0, "createDate": now()})


def drain(ctx, host):
    """Remove what ``host``'s machine still holds for this store; the number
    removed. Stops at the first failure (out of reach again, most likely): the
    rest waits for the next time, the failed one behind the others."""
    from ..hostops import is_remote

    store = ctx.store
    if not is_remote(host["libvirtUri"]):
        return 0
    rows = store.rows("SELECT id, hostUuid, kind, target FROM HostLeftoverVO WHERE hostUuid = ?"
                      " OR managementIp = ? ORDER BY attempts, id",
                      (host["uuid"], host["managementIp"]))
    done = 0
    for row in rows:
        # Reached through this host's login; named as the host that left it (a Flat
        # server's directory there carries that host's uuid).
        there = dict(host, uuid=row["hostUuid"])
        removed = _remove(ctx, there, row["kind"], row["target"])
        with store.transaction():
            if removed:
                store.delete("HostLeftoverVO", row["id"], key="id")
            else:
                store.conn.execute("UPDATE HostLeftoverVO SET attempts = attempts + 1 WHERE "
                                   "id = ?", (row["id"],))
        if not removed:
            break
        done += 1
    return done


def _remove(ctx, host, kind, target):
    from .. import hypervisor
    from ..storage import StorageError
    from . import flat, hosts

    try:
        if kind == FILE:
            hosts.ops(ctx, host).delete_volume(target)
        else:
            flat.remove_leftover_server(ctx, host, target)
    except (StorageError, hypervisor.HypervisorError):
        return False
    return True
