"""Instance and disk offerings."""

from ..errors import argerr
from . import common


def create_instance_offering(ctx, p):
    if p["cpuNum"] < 1:
        raise argerr(f"cpuNum must be at least 1, but {p['cpuNum']} found")
    if p["memorySize"] < 16 << 20:
        raise argerr(f"memorySize must be at least 16M, but {p['memorySize']} bytes found")
    row = {"name": p["name"], "description": p.get("description"), "cpuNum": p["cpuNum"],
           "cpuSpeed": p["cpuSpeed"], "memorySize": p["memorySize"], "type": "UserVm",
           "allocatorStrategy": p["allocatorStrategy"], "sortKey": p["sortKey"],
           "state": "Enabled"}
    return common.create(ctx, "InstanceOfferingVO", row, p)


def delete_instance_offering(ctx, p):
    return common.delete(ctx, "InstanceOfferingVO", p["uuid"], "Permissive")


def create_disk_offering(ctx, p):
    if p["diskSize"] < 1 << 20:
        raise argerr(f"diskSize must be at least 1M, but {p['diskSize']} bytes found")
    row = {"name": p["name"], "description": p.get("description"), "diskSize": p["diskSize"],
           "type": "zstack", "allocatorStrategy": "DefaultPrimaryStorageAllocationStrategy",
           "sortKey": p["sortKey"], "state": "Enabled"}
    return common.create(ctx, "DiskOfferingVO", row, p)


def delete_disk_offering(ctx, p):
    return common.delete(ctx, "DiskOfferingVO", p["uuid"], "Permissive")
