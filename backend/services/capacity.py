"""Capacity accounting: what hosts and local primary storage have left.

Recomputed from the records (never adjusted by deltas), inside the caller's
transaction, so a crash or a concurrent writer can not make it drift.
"""

from ..clock import now


def host_used(ctx, host_uuid):
    row = ctx.store.row("SELECT COALESCE(SUM(cpuNum), 0), COALESCE(SUM(memorySize), 0) FROM "
                        "VmInstanceVO WHERE hostUuid = ? AND state IN ('Starting', 'Running', "
                        "'Rebooting', 'Paused', 'Stopping', 'Unknown')", (host_uuid,))
    return row[0], row[1]


def recount_host(ctx, host_uuid):
    """Available capacity = total minus what the host's running VMs hold
    (call inside a transaction, after a VM changed state)."""
    used_cpu, used_memory = host_used(ctx, host_uuid)
    ctx.store.conn.execute("UPDATE HostVO SET availableCpuCapacity = totalCpuCapacity - ?, "
                           "availableMemoryCapacity = totalMemoryCapacity - ? WHERE uuid = ?",
                           (used_cpu, used_memory, host_uuid))


def used_on(ctx, ps_uuid, host_uuid):
    """Bytes taken on a host: its volumes and snapshots, its image caches, and what
    migrating volumes have reserved: on their destination while they are copied,
    on their source while they land (their files stay there until the copy is
    checked from the disk, and may yet be the volume again)."""
    return ctx.store.value(
        "SELECT (SELECT COALESCE(SUM(size), 0) FROM LocalStorageResourceRefVO WHERE "
        "primaryStorageUuid = ?1 AND hostUuid = ?2) + (SELECT COALESCE(SUM(size), 0) FROM "
        "ImageCacheVO WHERE primaryStorageUuid = ?1 AND hostUuid = ?2) + (SELECT "
        "COALESCE(SUM(size), 0) FROM LocalStorageMigrationVO WHERE primaryStorageUuid = ?1 "
        "AND CASE stage WHEN 'landing' THEN srcHostUuid ELSE dstHostUuid END = ?2)",
        (ps_uuid, host_uuid))


def refresh_totals(ctx, ps_uuid):
    """The storage's capacity is the sum over its hosts (call inside a transaction)."""
    ctx.store.conn.execute(
        "UPDATE PrimaryStorageVO SET (totalCapacity, availableCapacity, totalPhysicalCapacity,"
        " availablePhysicalCapacity) = (SELECT COALESCE(SUM(totalCapacity), 0),"
        " COALESCE(SUM(availableCapacity), 0), COALESCE(SUM(totalPhysicalCapacity), 0),"
        " COALESCE(SUM(availablePhysicalCapacity), 0) FROM LocalStorageHostRefVO"
        " WHERE primaryStorageUuid = ?) WHERE uuid = ?", (ps_uuid, ps_uuid))


def reserve(ctx, ps_uuid, host_uuid, resource_uuid, resource_type, size):
    """Account ``size`` bytes of ``resource_uuid`` on a host (inside a transaction)."""
    store = ctx.store
    store.conn.execute("INSERT OR REPLACE INTO LocalStorageResourceRefVO (resourceUuid,"
                       " resourceType, primaryStorageUuid, hostUuid, size, createDate,"
                       " lastOpDate) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (resource_uuid, resource_type, ps_uuid, host_uuid, size, now(), now()))
    recount_host_storage(ctx, ps_uuid, host_uuid)


def release(ctx, resource_uuid):
    store = ctx.store
    ref = store.get("LocalStorageResourceRefVO", resource_uuid, key="resourceUuid")
    if ref is None:
        return
    store.delete("LocalStorageResourceRefVO", resource_uuid, key="resourceUuid")
    recount_host_storage(ctx, ref["primaryStorageUuid"], ref["hostUuid"])


def recount_host_storage(ctx, ps_uuid, host_uuid):
    """Free bytes on one host = its total minus what is used there (inside a transaction)."""
    ctx.store.conn.execute(
        "UPDATE LocalStorageHostRefVO SET availableCapacity = totalCapacity - ?, lastOpDate = ?"
        " WHERE primaryStorageUuid = ? AND hostUuid = ?",
        (used_on(ctx, ps_uuid, host_uuid), now(), ps_uuid, host_uuid))
    refresh_totals(ctx, ps_uuid)
