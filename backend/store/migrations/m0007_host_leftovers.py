"""HostLeftoverVO: what could not be removed from a host out of reach, to remove
there once it answers again (services/leftovers.py).

A volume's file, a Flat L3's DHCP and metadata servers: their records go when
the operator deletes them, whether the host answers or not. What the host still
holds is noted here with enough to reach it later (its URI and login user), so
it survives the host's own record going too. No foreign keys, for that reason.
``attempts`` counts the failed removals: the least failed go first, so one that
keeps failing there never holds up the others.
"""


def up(db):
    db["HostLeftoverVO"].create(
        {"id": int, "hostUuid": str, "managementIp": str, "libvirtUri": str, "username": str,
         "kind": str, "target": str, "attempts": int, "createDate": str},
        pk="id", not_null={"hostUuid", "libvirtUri", "kind", "target"})
    db["HostLeftoverVO"].create_index(["hostUuid"], index_name="idx_HostLeftoverVO_host")
    db["HostLeftoverVO"].create_index(["managementIp"], index_name="idx_HostLeftoverVO_ip")
