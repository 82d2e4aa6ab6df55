"""Instance and disk offerings (SPEC §7)."""

from .common import (CREATE_DATE, CREATE_EXTRAS, DESCRIPTION, LAST_OP_DATE, NAME, UUID,
                     description_param, name_param, uuid_param)
from .model import Api, Field, Param, Resource, Text, query_api

RESOURCES = (
    Resource("InstanceOfferingVO", (UUID, NAME, DESCRIPTION, Field("cpuNum", "int"),
                                    Field("cpuSpeed", "int"), Field("memorySize", "int"),
                                    Field("type"), Field("allocatorStrategy"),
                                    Field("sortKey", "int"), Field("state"), CREATE_DATE,
                                    LAST_OP_DATE),
             columns=("uuid", "name", "cpuNum", "memorySize", "state")),
    Resource("DiskOfferingVO", (UUID, NAME, DESCRIPTION, Field("diskSize", "int"),
                                Field("type"), Field("allocatorStrategy"), Field("sortKey", "int"),
                                Field("state"), CREATE_DATE, LAST_OP_DATE),
             columns=("uuid", "name", "diskSize", "state")),
)

APIS = (
    Api("CreateInstanceOffering", "offering", "offering:create_instance_offering",
        (name_param(), description_param(),
         Param("cpuNum", "int", required=True, least=1, doc=Text("virtual CPUs", "CPU 核数")),
         Param("memorySize", "size", required=True, least=16 << 20,
               doc=Text("memory in bytes (or 512M, 2G)", "内存，字节（或 512M、2G）")),
         Param("cpuSpeed", "int", default=0, doc=Text("CPU speed (MHz), informative",
                                                     "CPU 主频（MHz），仅供参考")),
         Param("allocatorStrategy", choices=("DefaultHostAllocatorStrategy",
                                             "LeastVmPreferredHostAllocatorStrategy"),
               default="DefaultHostAllocatorStrategy",
               doc=Text("how a host is chosen", "物理机分配策略")),
         Param("sortKey", "int", default=0, doc=Text("display order", "排序键")))
        + CREATE_EXTRAS,
        doc=Text("Create an instance offering: CPUs and memory of a VM",
                 "创建计算规格：云主机的CPU和内存"), resource="InstanceOfferingVO",
        example="CreateInstanceOffering name=small cpuNum=1 memorySize=64M"),
    Api("DeleteInstanceOffering", "offering", "offering:delete_instance_offering",
        (uuid_param(resource="InstanceOfferingVO", must_exist=False),),
        doc=Text("Delete an instance offering", "删除计算规格"), reply="empty",
        resource="InstanceOfferingVO", example="DeleteInstanceOffering uuid=<offeringUuid>"),
    Api("UpdateInstanceOffering", "offering", "offering:update_instance_offering",
        (uuid_param(resource="InstanceOfferingVO"), name_param(False), description_param()),
        doc=Text("Rename an instance offering or change its description",
                 "修改计算规格的名称或描述"),
        resource="InstanceOfferingVO", example="UpdateInstanceOffering uuid=<offeringUuid> "
                                               "name=medium"),
    query_api("QueryInstanceOffering", "InstanceOfferingVO", "offering",
              Text("Query instance offerings", "查询计算规格"), example="QueryInstanceOffering"),
    Api("CreateDiskOffering", "offering", "offering:create_disk_offering",
        (name_param(), description_param(),
         Param("diskSize", "size", required=True, least=1 << 20,
               doc=Text("disk size in bytes (or 1G)", "磁盘大小，字节（或 1G）")),
         Param("sortKey", "int", default=0, doc=Text("display order", "排序键")))
        + CREATE_EXTRAS,
        doc=Text("Create a disk offering: the size of a volume", "创建云盘规格：卷的大小"),
        resource="DiskOfferingVO", example="CreateDiskOffering name=disk1G diskSize=1G"),
    Api("DeleteDiskOffering", "offering", "offering:delete_disk_offering",
        (uuid_param(resource="DiskOfferingVO", must_exist=False),),
        doc=Text("Delete a disk offering", "删除云盘规格"), reply="empty",
        resource="DiskOfferingVO", example="DeleteDiskOffering uuid=<offeringUuid>"),
    Api("UpdateDiskOffering", "offering", "offering:update_disk_offering",
        (uuid_param(resource="DiskOfferingVO"), name_param(False), description_param()),
        doc=Text("Rename a disk offering or change its description", "修改云盘规格的名称或描述"),
        resource="DiskOfferingVO", example="UpdateDiskOffering uuid=<offeringUuid> name=disk2G"),
    query_api("QueryDiskOffering", "DiskOfferingVO", "offering",
              Text("Query disk offerings", "查询云盘规格"), example="QueryDiskOffering"),
)
