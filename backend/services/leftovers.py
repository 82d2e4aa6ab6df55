"""What a remote host out of reach still holds after its records went: removed
there once it answers again.

Deleting a volume, a Flat L3 or the host itself never waits for a host that
does not answer: the records go, and the file or the DHCP and metadata servers
stay on the host (a DHCP server answering for addresses nobody holds any more).
Each is noted in HostLeftoverVO with the host's URI, and removed
(host.drain_leftovers) when that host is reached: at ReconnectHost, when its
agent finds it again, or when a host at the same managementIp is added (the
machine back after its record was deleted), through that new host's login.
This module keeps the notes only: the services that leave things note them
here, and the removal, which needs those services, lives above them.
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


def pending(ctx, host):
    """What ``host``'s machine may still hold for this store: rows (id, hostUuid,
    kind, target), the least failed first, so one that keeps failing there never
    holds up the others."""
    return ctx.store.rows("SELECT id, hostUuid, kind, target FROM HostLeftoverVO WHERE "
                          "hostUuid = ? OR managementIp = ? ORDER BY attempts, id",
                          (host["uuid"], host["managementIp"]))


def settled(ctx, row_id, removed):
    """Removed there: forgotten; else one failed attempt more."""
    store = ctx.store
    with store.transaction():
        if removed:
            store.delete("HostLeftoverVO", row_id, key="id")
        else:
            store.conn.execute("UPDATE HostLeftoverVO SET attempts = attempts + 1 WHERE id = ?",
                               (row_id,))
