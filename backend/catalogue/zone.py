"""Zones and clusters."""

from .common import (CREATE_DATE, CREATE_EXTRAS, DELETE_MODE, DESCRIPTION, LAST_OP_DATE, NAME,
                     STATE_EVENT, UUID, description_param, name_param, uuid_param)
from .model import Api, Field, Param, Relation, Resource, Text, query_api

RESOURCES = (
    Resource("ZoneVO", (UUID, NAME, DESCRIPTION, Field("state"), Field("type"),
                        CREATE_DATE, LAST_OP_DATE),
             relations=(Relation("cluster", "ClusterVO", "uuid", "zoneUuid"),),
             columns=("uuid", "name", "state", "type", "description", "createDate")),
    Resource("ClusterVO", (UUID, NAME, DESCRIPTION, Field("state"), Field("hypervisorType"),
                           Field("type"), Field("zoneUuid"), CREATE_DATE, LAST_OP_DATE),
             relations=(Relation("zone", "ZoneVO", "zoneUuid", "uuid", many=False),),
             columns=("uuid", "name", "state", "hypervisorType", "zoneUuid", "createDate")),
)

APIS = (
    Api("CreateZone", "zone", "zone:create_zone",
        (name_param(), description_param()) + CREATE_EXTRAS,
        doc=Text("Create a zone", "创建区域"), resource="ZoneVO",
        example="CreateZone name=zone1 description=first"),
    Api("UpdateZone", "zone", "zone:update_zone",
        (uuid_param(resource="ZoneVO"), name_param(False), description_param()),
        doc=Text("Update a zone's name or description", "更新区域的名称或描述"), resource="ZoneVO",
        example="UpdateZone uuid=<zoneUuid> name=zone2"),
    Api("ChangeZoneState", "zone", "zone:change_zone_state",
        (uuid_param(resource="ZoneVO"), STATE_EVENT),
        doc=Text("Enable or disable a zone", "启用或禁用区域"), resource="ZoneVO",
        example="ChangeZoneState uuid=<zoneUuid> stateEvent=disable"),
    Api("DeleteZone", "zone", "zone:delete_zone",
        (uuid_param(resource="ZoneVO", must_exist=False), DELETE_MODE),
        doc=Text("Delete a zone", "删除区域"), reply="empty", resource="ZoneVO",
        example="DeleteZone uuid=<zoneUuid>"),
    query_api("QueryZone", "ZoneVO", "zone", Text("Query zones", "查询区域"),
              example="QueryZone name=zone1"),

    Api("CreateCluster", "cluster", "zone:create_cluster",
        (uuid_param("zoneUuid", "ZoneVO", doc=Text("zone of the cluster", "集群所属区域")),
         name_param(), description_param(),
         Param("hypervisorType", required=True, choices=("KVM",),
               doc=Text("hypervisor of the cluster's hosts", "集群中物理机的虚拟化类型")),
         Param("type", choices=("zstack",), default="zstack", doc=Text("cluster type", "集群类型")))
        + CREATE_EXTRAS,
        doc=Text("Create a cluster in a zone", "在区域中创建集群"), resource="ClusterVO",
        example="CreateCluster zoneUuid=<zoneUuid> name=cluster1 hypervisorType=KVM"),
    Api("UpdateCluster", "cluster", "zone:update_cluster",
        (uuid_param(resource="ClusterVO"), name_param(False), description_param()),
        doc=Text("Update a cluster's name or description", "更新集群的名称或描述"),
        resource="ClusterVO", example="UpdateCluster uuid=<clusterUuid> name=c2"),
    Api("ChangeClusterState", "cluster", "zone:change_cluster_state",
        (uuid_param(resource="ClusterVO"), STATE_EVENT),
        doc=Text("Enable or disable a cluster", "启用或禁用集群"), resource="ClusterVO",
        example="ChangeClusterState uuid=<clusterUuid> stateEvent=enable"),
    Api("DeleteCluster", "cluster", "zone:delete_cluster",
        (uuid_param(resource="ClusterVO", must_exist=False), DELETE_MODE),
        doc=Text("Delete a cluster", "删除集群"), reply="empty", resource="ClusterVO",
        example="DeleteCluster uuid=<clusterUuid>"),
    query_api("QueryCluster", "ClusterVO", "cluster", Text("Query clusters", "查询集群"),
              example="QueryCluster zone.name=zone1"),
)
