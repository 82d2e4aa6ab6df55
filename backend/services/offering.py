"""Instance and disk offerings."""

from . import common


def create_instance_offering(ctx, p):
    row = {"name": p["name"], "description": p.get("description"), "cpuNum": p["cpuNum"],
           "cpuSpeed": p["cpuSpeed"], "memorySize": p["memorySize"], "type": "UserVm",
           "allocatorStrategy": p["allocatorStrategy"], "sortKey": p["sortKey"],
           "state": "Enabled"}
    return common.create(ctx, "InstanceOfferingVO", row, p)


def update_instance_offering(ctx, p):
    from .flat import update_shown_name

    return update_shown_name(ctx, "InstanceOfferingVO", "instanceOfferingUuid", p)


def delete_instance_offering(ctx, p):
    return common.delete(ctx, "InstanceOfferingVO", p["uuid"], "Permissive")


def create_disk_offering(ctx, p):
    row = {"name": p["name"], "description": p.get("description"), "diskSize": p["diskSize"],
           "type": "zstack", "allocatorStrategy": "DefaultPrimaryStorageAllocationStrategy",
           "sortKey": p["sortKey"], "state": "Enabled"}
    return common.create(ctx, "DiskOfferingVO", row, p)


def delete_disk_offering(ctx, p):
    return common.delete(ctx, "DiskOfferingVO", p["uuid"], "Permissive")


def update_disk_offering(ctx, p):
    return common.update(ctx, "DiskOfferingVO", p["uuid"],
                         {"name": p.get("name"), "description": p.get("description")})
