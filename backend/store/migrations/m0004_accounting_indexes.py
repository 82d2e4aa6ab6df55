"""Indexes that keep the capacity recounts and a VM's volume lookups flat as VMs grow.

Capacity is recounted from the records on every change (backend.services.capacity);
covering indexes let SQLite sum a host's VMs and volumes without reading their rows.
Stores get no ANALYZE, so without the (vmInstanceUuid, status) pair the planner
picks the few-valued status index and reads every Ready volume of the cloud.
"""


def up(db):
    db["VmInstanceVO"].create_index(["hostUuid", "state", "cpuNum", "memorySize"],
                                    index_name="idx_VmInstanceVO_host_capacity")
    db["LocalStorageResourceRefVO"].create_index(
        ["primaryStorageUuid", "hostUuid", "size"], index_name="idx_LocalStorageResourceRefVO_used")
    db["ImageCacheVO"].create_index(["primaryStorageUuid", "hostUuid", "size"],
                                    index_name="idx_ImageCacheVO_used")
    db["VolumeVO"].create_index(["vmInstanceUuid", "status", "deviceId"],
                                index_name="idx_VolumeVO_vm_status")
