"""Zones and clusters."""

from ..i18n import msg
from . import common

_STATE = {"enable": "Enabled", "disable": "Disabled"}


def create_zone(ctx, p):
    row = {"name": p["name"], "description": p.get("description"), "state": "Enabled",
           "type": "zstack"}
    return common.create(ctx, "ZoneVO", row, p)


def update_zone(ctx, p):
    from .flat import update_shown_name

    return update_shown_name(ctx, "ZoneVO", "zoneUuid", p)


def change_zone_state(ctx, p):
    return common.update(ctx, "ZoneVO", p["uuid"], {"state": _STATE[p["stateEvent"]]})


def delete_zone(ctx, p):
    return _delete_zone(ctx, p["uuid"], p["deleteMode"])


def _delete_zone(ctx, uuid, mode):
    from .network import remove_l2
    from .storage import remove_primary_storage

    return common.delete(ctx, "ZoneVO", uuid, mode,
                         dependents=((msg("cluster"), "ClusterVO", "zoneUuid", _delete_cluster),
                                     (msg("L2 network"), "L2NetworkVO", "zoneUuid", remove_l2),
                                     (msg("primary storage"), "PrimaryStorageVO", "zoneUuid",
                                      remove_primary_storage)),
                         refs=(("BackupStorageZoneRefVO", "zoneUuid"),))


def create_cluster(ctx, p):
    row = {"name": p["name"], "description": p.get("description"), "state": "Enabled",
           "hypervisorType": p["hypervisorType"], "type": p["type"], "zoneUuid": p["zoneUuid"]}
    return common.create(ctx, "ClusterVO", row, p)


def update_cluster(ctx, p):
    return common.update(ctx, "ClusterVO", p["uuid"],
                         {"name": p.get("name"), "description": p.get("description")})


def change_cluster_state(ctx, p):
    return common.update(ctx, "ClusterVO", p["uuid"], {"state": _STATE[p["stateEvent"]]})


def delete_cluster(ctx, p):
    return _delete_cluster(ctx, p["uuid"], p["deleteMode"])


def _delete_cluster(ctx, uuid, mode):
    from .host import remove_host

    return common.delete(ctx, "ClusterVO", uuid, mode,
                         dependents=((msg("host"), "HostVO", "clusterUuid", remove_host),),
                         refs=(("PrimaryStorageClusterRefVO", "clusterUuid"),
                               ("L2NetworkClusterRefVO", "clusterUuid")))
