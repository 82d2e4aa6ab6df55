"""KVM hosts: libvirt connections (SPEC §7)."""

from .common import (CREATE_DATE, CREATE_EXTRAS, DELETE_MODE, DESCRIPTION, LAST_OP_DATE, NAME, STATE_EVENT,
                     UUID, description_param, name_param, uuid_param)
from .model import Api, Field, Param, Relation, Resource, Text, query_api

RESOURCES = (
    Resource("HostVO", (UUID, NAME, DESCRIPTION, Field("zoneUuid"), Field("clusterUuid"),
                        Field("managementIp"), Field("hypervisorType"), Field("state"),
                        Field("status"), Field("libvirtUri"), Field("username"),
                        Field("sshPort", "int"), Field("cpuNum", "int"),
                        Field("totalCpuCapacity", "int"), Field("availableCpuCapacity", "int"),
                        Field("totalMemoryCapacity", "int"),
                        Field("availableMemoryCapacity", "int"), CREATE_DATE, LAST_OP_DATE),
             relations=(Relation("zone", "ZoneVO", "zoneUuid", "uuid", many=False),
                        Relation("cluster", "ClusterVO", "clusterUuid", "uuid", many=False),
                        Relation("vmInstance", "VmInstanceVO", "uuid", "hostUuid")),
             columns=("uuid", "name", "managementIp", "status", "state", "libvirtUri",
                      "clusterUuid", "availableCpuCapacity", "availableMemoryCapacity")),
)

APIS = (
    Api("AddKVMHost", "host", "host:add_kvm_host",
        (uuid_param("clusterUuid", "ClusterVO", doc=Text("cluster of the host", "物理机所属集群")),
         name_param(), description_param(),
         Param("managementIp", required=True, max_length=255,
               doc=Text("address the host is managed at", "物理机的管理IP")),
         Param("username", required=True, doc=Text("SSH user of the host", "物理机SSH用户名")),
         Param("password", required=True, secret=True,
               doc=Text("SSH password of the host", "物理机SSH密码")),
         Param("sshPort", "int", default=22, doc=Text("SSH port", "SSH端口")),
         Param("libvirtUri", max_length=1024,
               doc=Text("libvirt URI; test:///default adds a simulated host",
                        "libvirt 连接URI；test:///default 添加模拟物理机")))
        + CREATE_EXTRAS,
        doc=Text("Add a KVM host (a libvirt connection) to a cluster",
                 "向集群添加KVM物理机（一个 libvirt 连接）"), resource="HostVO",
        example="AddKVMHost clusterUuid=<clusterUuid> name=host1 managementIp=127.0.0.1 "
                "username=root password=password libvirtUri=test:///default"),
    Api("UpdateHost", "host", "host:update_host",
        (uuid_param(resource="HostVO"), name_param(False), description_param()),
        doc=Text("Update a host's name or description", "更新物理机的名称或描述"),
        resource="HostVO", example="UpdateHost uuid=<hostUuid> name=host2"),
    Api("ChangeHostState", "host", "host:change_host_state",
        (uuid_param(resource="HostVO"), STATE_EVENT),
        doc=Text("Enable or disable a host for new VMs", "启用或禁用物理机（用于新建云主机）"),
        resource="HostVO", example="ChangeHostState uuid=<hostUuid> stateEvent=disable"),
    Api("ReconnectHost", "host", "host:reconnect_host", (uuid_param(resource="HostVO"),),
        doc=Text("Reconnect a host and reconcile its VMs' states",
                 "重新连接物理机并同步其云主机状态"),
        resource="HostVO", example="ReconnectHost uuid=<hostUuid>"),
    Api("DeleteHost", "host", "host:delete_host",
        (uuid_param(resource="HostVO", must_exist=False), DELETE_MODE),
        doc=Text("Remove a host; Enforcing also destroys its VMs",
                 "删除物理机；Enforcing 模式会一并销毁其上的云主机"),
        reply="empty", resource="HostVO", example="DeleteHost uuid=<hostUuid>"),
    query_api("QueryHost", "HostVO", "host", Text("Query hosts", "查询物理机"),
              example="QueryHost status=Connected"),
)
