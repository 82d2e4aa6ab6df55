"""KVM hosts: libvirt connections, simulated or real (SPEC §7)."""

from .. import hypervisor
from ..i18n import msg
from ..errors import ApiError, argerr, operr
from . import capacity, common, hosts
from ..clock import now

_STATE = {"enable": "Enabled", "disable": "Disabled"}


def add_kvm_host(ctx, p):
    store = ctx.store
    cluster = store.get("ClusterVO", p["clusterUuid"])
    uri = p.get("libvirtUri") or hypervisor.default_uri(p["managementIp"], p["username"],
                                                         p["sshPort"])
    # The same URI, or it with the key parameters a password login adds (_key_login):
    # checked before that login touches the host.
    if store.row("SELECT 1 FROM HostVO WHERE managementIp = ? AND (libvirtUri = ? OR "
                 "libvirtUri LIKE ? ESCAPE '\\' OR libvirtUri LIKE ? ESCAPE '\\')",
                 (p["managementIp"], uri, _like_prefix(uri) + "?%", _like_prefix(uri) + "&%")) \
            and not uri.startswith("test:"):
        raise argerr(msg("a host with managementIp[{managementIp}] and libvirtUri[{uri}] already "
                         "exists", managementIp=p['managementIp'], uri=uri))
    uri = _key_login(ctx, p, uri)
    row = {"name": p["name"], "description": p.get("description"),
           "zoneUuid": cluster["zoneUuid"], "clusterUuid": cluster["uuid"],
           "managementIp": p["managementIp"], "hypervisorType": "KVM", "state": "Enabled",
           "status": "Connecting", "libvirtUri": uri, "username": p["username"],
           "password": p["password"], "sshPort": p["sshPort"], "cpuNum": 0,
           "totalCpuCapacity": 0, "availableCpuCapacity": 0, "totalMemoryCapacity": 0,
           "availableMemoryCapacity": 0}
    host = common.create(ctx, "HostVO", row, p)
    try:
        _connect(ctx, host["uuid"])
        from .storage import prepare_host

        for ps in store.rows("SELECT p.* FROM PrimaryStorageVO p JOIN PrimaryStorageClusterRefVO "
                             "r ON r.primaryStorageUuid = p.uuid WHERE r.clusterUuid = ?",
                             (cluster["uuid"],)):
            prepare_host(ctx, dict(ps), store.get("HostVO", host["uuid"]))
    except BaseException:
        _forget(ctx, host["uuid"])
        raise
    return common.inventory(ctx, "HostVO", host["uuid"])


def _like_prefix(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _key_login(ctx, p, uri):
    """A remote host's URI that logs in by key (with its password once, to put
    this store's key there: backend.hostops.login)."""
    from ..hostops import is_remote

    if not is_remote(uri) or not uri.startswith("qemu+ssh:"):
        return uri
    from ..hostops.login import ensure_key_login
    from ..storage import StorageError

    try:
        return ensure_key_login(ctx.home, uri, p.get("password"))
    except StorageError as e:
        raise operr(msg("failed to connect to host[managementIp:{managementIp}] through "
                        "{libvirtUri}: {error}", managementIp=p["managementIp"],
                        libvirtUri=uri, error=e)) from None


def _connect(ctx, uuid):
    """Connect, record capacity and status, and reconcile the host's VMs."""
    store = ctx.store
    host = store.get("HostVO", uuid)
    try:
        facts = hosts.driver(ctx, host).check()
    except hypervisor.HypervisorError as e:
        mark_unreachable(ctx, uuid)
        raise operr(msg("failed to connect to host[uuid:{uuid}, managementIp:{managementIp}] "
                        "through {libvirtUri}: {error}",
                        uuid=uuid, managementIp=host['managementIp'],
                        libvirtUri=host['libvirtUri'], error=e)) from None
    used_cpu, used_memory = capacity.host_used(ctx, uuid)
    with store.transaction():
        store.update("HostVO", uuid, {
            "status": "Connected", "cpuNum": facts["cpuNum"],
            "totalCpuCapacity": facts["cpuNum"],
            "availableCpuCapacity": facts["cpuNum"] - used_cpu,
            "totalMemoryCapacity": facts["memoryBytes"],
            "availableMemoryCapacity": facts["memoryBytes"] - used_memory,
            "lastOpDate": now()})
    from .vm_state import reconcile_host

    drain_leftovers(ctx, store.get("HostVO", uuid))
    reconcile_host(ctx, uuid)
    from .agent import ensure as ensure_agent

    ensure_agent(ctx, uuid)


def drain_leftovers(ctx, host):
    """Remove what ``host``'s machine kept for this store while out of reach
    (services/leftovers.py); the number removed. Stops at the first failure (out
    of reach again, most likely): the rest waits for the next time."""
    from .. import hostops
    from ..storage import StorageError
    from . import flat, leftovers

    if not hostops.is_remote(host["libvirtUri"]):
        return 0
    done = 0
    store = ctx.store
    for row in leftovers.pending(ctx, host):
        # Reached through this host's login; named as the host that left it (a Flat
        # server's directory there carries that host's uuid).
        there = dict(host, uuid=row["hostUuid"])
        if row["kind"] == leftovers.FILE and store.row(
                "SELECT 1 FROM VolumeVO WHERE installPath = ?1 UNION ALL SELECT 1 FROM "
                "VolumeSnapshotVO WHERE primaryStorageInstallPath = ?1", (row["target"],)):
            # The path names a volume again (a uuid given back with resourceUuid):
            # that file is no leftover any more.
            leftovers.settled(ctx, row["id"], True)
            continue
        try:
            if row["kind"] == leftovers.FILE:
                hosts.ops(ctx, there).delete_volume(row["target"])
            else:
                flat.remove_leftover_server(ctx, there, row["target"])
            removed = True
        except (StorageError, hypervisor.HypervisorError):
            removed = False
        leftovers.settled(ctx, row["id"], removed)
        if not removed:
            break
        done += 1
    return done


def mark_unreachable(ctx, uuid):
    """The host is out of reach: Disconnected, and nobody knows what its VMs do.
    ReconnectHost's failure and the host agent's grace period both end here."""
    store = ctx.store
    with store.transaction():
        store.update("HostVO", uuid, {"status": "Disconnected", "lastOpDate": now()})
        _mark_vms_unknown(ctx, uuid)


def mark_reachable(ctx, uuid):
    """The host agent reached a Disconnected host again: Connected (its VMs'
    states come from the reconcile that follows). Returns True when it changed."""
    store = ctx.store
    with store.transaction():
        host = store.get("HostVO", uuid)
        if host is None or host["status"] != "Disconnected":
            return False
        store.update("HostVO", uuid, {"status": "Connected", "lastOpDate": now()})
    return True


def _mark_vms_unknown(ctx, host_uuid):
    # A VM whose root volume is being migrated runs nowhere: its state is the
    # migration's to give back.
    ctx.store.conn.execute("UPDATE VmInstanceVO SET state = 'Unknown', lastOpDate = ? WHERE "
                           "hostUuid = ? AND state NOT IN ('Destroyed', 'Created', "
                           "'VolumeMigrating')", (now(), host_uuid))


def reconnect_host(ctx, p):
    try:
        _connect(ctx, p["uuid"])
    except ApiError:
        # A host reinstalled, or its authorized_keys cleaned, no longer takes this
        # store's key: with its password, as ZStack's reconnect does, put it back.
        if not _key_login_repaired(ctx, p["uuid"]):
            raise
        _connect(ctx, p["uuid"])
    return common.inventory(ctx, "HostVO", p["uuid"])


def _key_login_repaired(ctx, uuid):
    """Whether the host's ssh login by key had to be (and now is) put back with
    its recorded password; an error when that password does not log in either."""
    host = ctx.store.get("HostVO", uuid)
    uri = host["libvirtUri"]
    if not host["password"] or not uri.startswith("qemu+ssh:"):
        return False
    from ..hostops.login import key_refused

    if not key_refused(uri):
        return False           # ssh logs in, or the host is out of reach: not a key matter
    repaired = _key_login(ctx, host, uri)
    if repaired != uri:
        common.update(ctx, "HostVO", uuid, {"libvirtUri": repaired})
    return True


def update_host(ctx, p):
    return common.update(ctx, "HostVO", p["uuid"],
                         {"name": p.get("name"), "description": p.get("description")})


def update_kvm_host(ctx, p):
    """The name and the ssh login. A new user or port goes into an ssh URI too;
    nothing logs in now: the next ReconnectHost does, with these."""
    host = ctx.store.get("HostVO", p["uuid"])
    uri = host["libvirtUri"]
    if uri.startswith("qemu+ssh:") and (p.get("username") or p.get("sshPort")):
        uri = _with_login(uri, p.get("username"), p.get("sshPort"))
    return common.update(ctx, "HostVO", p["uuid"], {
        "name": p.get("name"), "description": p.get("description"),
        "username": p.get("username"), "password": p.get("password"),
        "sshPort": p.get("sshPort"), "libvirtUri": uri if uri != host["libvirtUri"] else None})


def _with_login(uri, user, port):
    from urllib.parse import quote, urlsplit

    parts = urlsplit(uri)
    address = parts.hostname or ""
    if ":" in address:
        address = f"[{address}]"                        # IPv6
    user = quote(user, safe="") if user else parts.username
    port = port or parts.port
    netloc = (f"{user}@" if user else "") + address + (f":{port}" if port and port != 22 else "")
    return parts._replace(netloc=netloc).geturl()


def change_host_state(ctx, p):
    return common.update(ctx, "HostVO", p["uuid"], {"state": _STATE[p["stateEvent"]]})


def delete_host(ctx, p):
    return remove_host(ctx, p["uuid"], p["deleteMode"])


def remove_host(ctx, uuid, mode):
    from .vm import remove_vm
    from .volume import remove_volume

    store = ctx.store
    if store.get("HostVO", uuid) is None:
        return None
    moving = store.value("SELECT volumeUuid FROM LocalStorageMigrationVO WHERE stage IN "
                         "('copying', 'landing', 'switched') AND (srcHostUuid = ?1 OR "
                         "dstHostUuid = ?1)",
                         (uuid,))
    if moving:
        raise operr(msg("host[uuid:{uuid}] is an end of the migration of the volume"
                        "[uuid:{volume}]; delete it once that is done", uuid=uuid, volume=moving))
    if mode == "Enforcing":
        # VMs first: their data volumes become detached volumes of this host,
        # which go below with the others (never left without a host or a file).
        for vm in store.rows("SELECT uuid FROM VmInstanceVO WHERE hostUuid = ? ORDER BY rowid",
                             (uuid,)):
            remove_vm(ctx, vm["uuid"])
    volumes = store.rows("SELECT v.uuid, v.name FROM VolumeVO v JOIN LocalStorageResourceRefVO r"
                         " ON r.resourceUuid = v.uuid WHERE r.hostUuid = ? AND v.vmInstanceUuid"
                         " IS NULL", (uuid,))
    if volumes and mode != "Enforcing":
        raise operr(msg("host[uuid:{uuid}] still holds {count} detached data volume(s); delete "
                        "or migrate them first, or use deleteMode=Enforcing",
                        uuid=uuid, count=len(volumes)))
    for volume in volumes:
        remove_volume(ctx, volume["uuid"], mode)
    storages = [r[0] for r in store.rows("SELECT primaryStorageUuid FROM LocalStorageHostRefVO "
                                         "WHERE hostUuid = ?", (uuid,))]
    host = store.get("HostVO", uuid)
    from .agent import stop as stop_agent

    stop_agent(ctx, uuid)
    common.delete(ctx, "HostVO", uuid, mode,
                  dependents=((msg("VM"), "VmInstanceVO", "hostUuid", remove_vm),),
                  refs=(("ImageCacheVO", "hostUuid"), ("LocalStorageResourceRefVO", "hostUuid"),
                        ("LocalStorageHostRefVO", "hostUuid")))
    with store.transaction():
        for ps_uuid in storages:
            capacity.refresh_totals(ctx, ps_uuid)
    from .flat import remove_host as remove_flat_servers

    remove_flat_servers(ctx, host)
    hypervisor.forget_host(host, ctx.home)
    return None


def _forget(ctx, uuid):
    """Undo a host that could not be added."""
    with ctx.store.transaction():
        ctx.store.conn.execute("DELETE FROM LocalStorageHostRefVO WHERE hostUuid = ?", (uuid,))
        from .tags import delete_all

        delete_all(ctx.store, uuid)
        ctx.store.delete("HostVO", uuid)
