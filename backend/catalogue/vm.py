"""VM instances, volumes and volume snapshots (SPEC §7, §7.1, §7.2, §8, §10)."""

import re

from .common import (CREATE_DATE, CREATE_EXTRAS, DESCRIPTION, LAST_OP_DATE, NAME, STATES,
                     UUID, description_param, name_param, uuid_param)
from ..i18n import msg
from .model import Api, Field, Param, Relation, Resource, TagPattern, Text, query_api

VM_STATES = ("Created", "Starting", "Running", "Stopping", "Stopped", "Rebooting", "Destroying",
             "Destroyed", "Migrating", "VolumeMigrating", "Paused", "Unknown", "Crashed",
             "Error")

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
BOOT_DEVICES = ("HardDisk", "CdRom")


def _hostname(tokens):
    name = tokens["name"]
    if not _LABEL.match(name):
        return msg("invalid hostname[{name}]: a hostname is a DNS label of letters, digits and "
                   "'-', at most 63 characters, not starting or ending with '-'", name=name)
    return None


def _static_ip(tokens):
    if not re.match(r"^[0-9a-f]{32}$", tokens["l3Uuid"]):
        return msg("invalid L3 network uuid[{uuid}] in staticIp tag", uuid=tokens["l3Uuid"])
    if not _IPV4.match(tokens["ip"]):
        return msg("invalid IP address[{ip}] in staticIp tag", ip=tokens["ip"])
    return None


def _boot_order(tokens):
    devices = [d.strip() for d in tokens["list"].split(",")]
    for i, d in enumerate(devices):
        if d not in BOOT_DEVICES:
            return msg("invalid boot device[{device}] in boot order[{order}]",
                       device=d, order=", ".join(devices))
        if d in devices[:i]:
            return msg("boot device[{device}] is twice in boot order[{order}]",
                       device=d, order=", ".join(devices))
    return None


TAG_PATTERNS = (
    TagPattern("hostname::{name}", "VmInstanceVO", _hostname),
    TagPattern("staticIp::{l3Uuid}::{ip}", "VmInstanceVO", _static_ip),
    TagPattern("userdata::{content}", "VmInstanceVO"),
    TagPattern("sshkey::{key}", "VmInstanceVO"),
    TagPattern("rootPassword::{password}", "VmInstanceVO", secret=True),
    TagPattern("bootOrder::{list}", "VmInstanceVO", _boot_order),
    # The ISO in the VM's CD-ROM drive; written by the system (AttachIsoToVmInstance).
    TagPattern("iso::{uuid}", "VmInstanceVO", inherent=True),
)

RESOURCES = (
    Resource("VmInstanceVO", (UUID, NAME, DESCRIPTION, Field("zoneUuid"), Field("clusterUuid"),
                              Field("hostUuid"), Field("lastHostUuid"), Field("imageUuid"),
                              Field("instanceOfferingUuid"), Field("rootVolumeUuid"),
                              Field("defaultL3NetworkUuid"), Field("type"),
                              Field("hypervisorType"), Field("cpuNum", "int"),
                              Field("cpuSpeed", "int"), Field("memorySize", "int"),
                              Field("platform"), Field("allocatorStrategy"),
                              Field("state", choices=VM_STATES),
                              CREATE_DATE, LAST_OP_DATE),
             relations=(Relation("vmNics", "VmNicVO", "uuid", "vmInstanceUuid", expand=True,
                                 order="deviceId"),
                        Relation("allVolumes", "VolumeVO", "uuid", "vmInstanceUuid",
                                 expand=True, order="deviceId"),
                        Relation("zone", "ZoneVO", "zoneUuid", "uuid", many=False),
                        Relation("cluster", "ClusterVO", "clusterUuid", "uuid", many=False),
                        Relation("host", "HostVO", "hostUuid", "uuid", many=False),
                        Relation("image", "ImageVO", "imageUuid", "uuid", many=False),
                        Relation("instanceOffering", "InstanceOfferingVO",
                                 "instanceOfferingUuid", "uuid", many=False)),
             columns=("uuid", "name", "state", "hostUuid", "cpuNum", "memorySize",
                      "defaultL3NetworkUuid", "createDate")),
    Resource("VolumeVO", (UUID, NAME, DESCRIPTION, Field("primaryStorageUuid"),
                          Field("vmInstanceUuid"), Field("diskOfferingUuid"),
                          Field("rootImageUuid"), Field("installPath"),
                          Field("type", choices=("Root", "Data")),
                          Field("format"), Field("size", "int"), Field("actualSize", "int"),
                          Field("deviceId", "int"), Field("state", choices=STATES),
                          Field("status", choices=("NotInstantiated", "Creating", "Ready",
                                                   "Migrating")),
                          Field("isShareable", "bool"), CREATE_DATE, LAST_OP_DATE),
             relations=(Relation("vmInstance", "VmInstanceVO", "vmInstanceUuid", "uuid",
                                 many=False),
                        Relation("primaryStorage", "PrimaryStorageVO", "primaryStorageUuid",
                                 "uuid", many=False),
                        Relation("snapshot", "VolumeSnapshotVO", "uuid", "volumeUuid"),
                        Relation("localStorageRef", "LocalStorageResourceRefVO", "uuid",
                                 "resourceUuid", many=False)),
             columns=("uuid", "name", "type", "status", "size", "vmInstanceUuid", "deviceId",
                      "installPath")),
    Resource("VolumeSnapshotVO", (UUID, NAME, DESCRIPTION, Field("type"), Field("volumeUuid"),
                                  Field("parentUuid"), Field("primaryStorageUuid"),
                                  Field("primaryStorageInstallPath"), Field("volumeType"),
                                  Field("format"), Field("latest", "bool"), Field("size", "int"),
                                  Field("state"), Field("status"), CREATE_DATE, LAST_OP_DATE),
             relations=(Relation("volume", "VolumeVO", "volumeUuid", "uuid", many=False),),
             columns=("uuid", "name", "volumeUuid", "status", "size", "latest", "createDate")),
)

_VM = uuid_param(resource="VmInstanceVO", doc=Text("uuid of the VM", "云主机UUID"))

APIS = (
    Api("CreateVmInstance", "vmInstance", "vm:create_vm",
        (name_param(), description_param(),
         uuid_param("instanceOfferingUuid", "InstanceOfferingVO",
                    doc=Text("CPUs and memory", "计算规格")),
         uuid_param("imageUuid", "ImageVO", doc=Text("template or ISO to boot", "模板或ISO镜像")),
         Param("l3NetworkUuids", "list", items="uuid", resource="L3NetworkVO", required=True,
               doc=Text("networks, one NIC each", "三层网络，每个一块网卡")),
         uuid_param("defaultL3NetworkUuid", "L3NetworkVO", required=False,
                    doc=Text("network of the default route", "默认路由所在网络")),
         uuid_param("rootDiskOfferingUuid", "DiskOfferingVO", required=False,
                    doc=Text("root disk size (required for an ISO)", "根盘规格（ISO 必填）")),
         Param("dataDiskOfferingUuids", "list", items="uuid", resource="DiskOfferingVO",
               doc=Text("a data volume for each", "为每个规格创建数据盘")),
         uuid_param("zoneUuid", "ZoneVO", required=False, doc=Text("place in this zone",
                                                                  "指定区域")),
         uuid_param("clusterUuid", "ClusterVO", required=False, doc=Text("place in this cluster",
                                                                        "指定集群")),
         uuid_param("hostUuid", "HostVO", required=False, doc=Text("place on this host",
                                                                  "指定物理机")),
         Param("strategy", choices=("InstantStart", "JustCreate", "CreateStopped"),
               default="InstantStart", doc=Text("start it, or only create it",
                                                "创建后立即启动或仅创建"))) + CREATE_EXTRAS,
        doc=Text("Create a VM (and start it)", "创建云主机（并启动）"), resource="VmInstanceVO",
        example="CreateVmInstance name=vm1 instanceOfferingUuid=<offeringUuid> "
                "imageUuid=<imageUuid> l3NetworkUuids=<l3Uuid>"),
    Api("StartVmInstance", "vmInstance", "vm:start_vm", (_VM,),
        doc=Text("Start a VM", "启动云主机"), resource="VmInstanceVO",
        example="StartVmInstance uuid=<vmUuid>"),
    Api("StopVmInstance", "vmInstance", "vm:stop_vm",
        (_VM, Param("type", choices=("grace", "cold"), default="grace",
                    doc=Text("grace: ACPI shutdown first; cold: power off",
                             "grace：先尝试正常关机；cold：直接断电"))),
        doc=Text("Stop a VM", "停止云主机"), resource="VmInstanceVO",
        example="StopVmInstance uuid=<vmUuid>"),
    Api("RebootVmInstance", "vmInstance", "vm:reboot_vm", (_VM,),
        doc=Text("Reboot a VM", "重启云主机"), resource="VmInstanceVO",
        example="RebootVmInstance uuid=<vmUuid>"),
    Api("DestroyVmInstance", "vmInstance", "vm:destroy_vm",
        (uuid_param(resource="VmInstanceVO", must_exist=False),),
        doc=Text("Destroy a VM (recoverable until expunged)", "删除云主机（彻底删除前可恢复）"),
        reply="empty", resource="VmInstanceVO", example="DestroyVmInstance uuid=<vmUuid>"),
    Api("RecoverVmInstance", "vmInstance", "vm:recover_vm", (_VM,),
        doc=Text("Bring a destroyed VM back, stopped", "恢复已删除的云主机（停止状态）"),
        resource="VmInstanceVO", example="RecoverVmInstance uuid=<vmUuid>"),
    Api("ExpungeVmInstance", "vmInstance", "vm:expunge_vm", (_VM,),
        doc=Text("Remove a destroyed VM for good, with its root volume",
                 "彻底删除已删除的云主机及其根盘"), reply="empty", resource="VmInstanceVO",
        example="ExpungeVmInstance uuid=<vmUuid>"),
    Api("AttachIsoToVmInstance", "vmInstance", "vm_devices:attach_iso",
        (uuid_param("vmInstanceUuid", "VmInstanceVO"), uuid_param("isoUuid", "ImageVO")),
        doc=Text("Put an ISO in a VM's CD-ROM drive (live when it runs)",
                 "为云主机加载ISO（运行中则热加载）"), resource="VmInstanceVO",
        example="AttachIsoToVmInstance vmInstanceUuid=<vmUuid> isoUuid=<isoUuid>"),
    Api("DetachIsoFromVmInstance", "vmInstance", "vm_devices:detach_iso",
        (uuid_param("vmInstanceUuid", "VmInstanceVO"),),
        doc=Text("Eject the ISO from a VM's CD-ROM drive", "卸载云主机的ISO"),
        resource="VmInstanceVO", example="DetachIsoFromVmInstance vmInstanceUuid=<vmUuid>"),
    Api("SetVmBootOrder", "vmInstance", "vm_devices:set_boot_order",
        (_VM, Param("bootOrder", "list", doc=Text(
            "devices in boot order: HardDisk, CdRom (none: back to the default)",
            "启动设备顺序：HardDisk、CdRom（不填则恢复默认）"))),
        doc=Text("Set a VM's boot order (applies at the next start or reboot)",
                 "设置云主机启动顺序（下次启动或重启生效）"), resource="VmInstanceVO",
        example="SetVmBootOrder uuid=<vmUuid> bootOrder=CdRom,HardDisk"),
    Api("GetVmBootOrder", "vmInstance", "vm_devices:get_boot_order", (_VM,),
        doc=Text("A VM's boot order", "获取云主机启动顺序"), reply="raw",
        resource="VmInstanceVO", example="GetVmBootOrder uuid=<vmUuid>"),
    Api("GetVmConsoleAddress", "vmInstance", "vm_devices:console_address", (_VM,),
        doc=Text("Where to connect a VNC or SPICE client to a running VM",
                 "获取运行中云主机的 VNC/SPICE 控制台地址"), reply="raw",
        resource="VmInstanceVO", example="GetVmConsoleAddress uuid=<vmUuid>"),
    Api("MigrateVm", "vmInstance", "volume_migration:migrate_vm",
        (uuid_param("vmInstanceUuid", "VmInstanceVO"),
         uuid_param("hostUuid", "HostVO", doc=Text("the destination host", "目标物理机"))),
        doc=Text("Live-migrate a VM (refused on local primary storage: migrate it cold with "
                 "LocalStorageMigrateVolume)",
                 "热迁移云主机（本地主存储上不允许：请用 LocalStorageMigrateVolume 冷迁移）"),
        resource="VmInstanceVO", example="MigrateVm vmInstanceUuid=<vmUuid> hostUuid=<hostUuid>"),
    query_api("QueryVmInstance", "VmInstanceVO", "vmInstance", Text("Query VMs", "查询云主机"),
              example="QueryVmInstance state=Running vmNics.ip=10.0.0.12"),

    Api("CreateDataVolume", "volume", "volume:create_data_volume",
        (name_param(), description_param(), uuid_param("diskOfferingUuid", "DiskOfferingVO"),
         uuid_param("primaryStorageUuid", "PrimaryStorageVO", required=False,
                    doc=Text("where it will live (default: the VM's when attached)",
                             "所在主存储（默认：挂载时云主机所在）"))) + CREATE_EXTRAS,
        doc=Text("Create a data volume; its file is made when first attached",
                 "创建数据盘；首次挂载时创建文件"), resource="VolumeVO",
        example="CreateDataVolume name=data1 diskOfferingUuid=<diskOfferingUuid>"),
    Api("AttachDataVolumeToVm", "volume", "volume:attach_data_volume",
        (uuid_param("vmInstanceUuid", "VmInstanceVO"), uuid_param("volumeUuid", "VolumeVO")),
        doc=Text("Attach a data volume to a VM (live when it runs)",
                 "将数据盘挂载到云主机（运行中则热挂载）"), resource="VolumeVO",
        example="AttachDataVolumeToVm vmInstanceUuid=<vmUuid> volumeUuid=<volumeUuid>"),
    Api("DetachDataVolumeFromVm", "volume", "volume:detach_data_volume",
        (uuid_param(resource="VolumeVO"),
         uuid_param("vmUuid", "VmInstanceVO", required=False)),
        doc=Text("Detach a data volume from its VM", "从云主机卸载数据盘"), resource="VolumeVO",
        example="DetachDataVolumeFromVm uuid=<volumeUuid>"),
    Api("DeleteDataVolume", "volume", "volume:delete_data_volume",
        (uuid_param(resource="VolumeVO", must_exist=False),),
        doc=Text("Delete a detached data volume and its file", "删除未挂载的数据盘及其文件"),
        reply="empty", resource="VolumeVO", example="DeleteDataVolume uuid=<volumeUuid>"),
    query_api("QueryVolume", "VolumeVO", "volume", Text("Query volumes", "查询云盘"),
              example="QueryVolume type=Data vmInstanceUuid=null"),
    Api("CreateVolumeSnapshot", "volume", "volume:create_snapshot",
        (uuid_param("volumeUuid", "VolumeVO"), name_param(), description_param())
        + CREATE_EXTRAS,
        doc=Text("Take a snapshot of a volume", "为云盘创建快照"), resource="VolumeSnapshotVO",
        example="CreateVolumeSnapshot volumeUuid=<volumeUuid> name=before-upgrade"),
    Api("DeleteVolumeSnapshot", "volume", "volume:delete_snapshot",
        (uuid_param(resource="VolumeSnapshotVO", must_exist=False),),
        doc=Text("Delete a snapshot, merging it into the chain", "删除快照（合并到快照链）"),
        reply="empty", resource="VolumeSnapshotVO", example="DeleteVolumeSnapshot uuid=<uuid>"),
    Api("LocalStorageMigrateVolume", "volume", "volume_migration:migrate_volume",
        (uuid_param("volumeUuid", "VolumeVO",
                    doc=Text("the volume to move (a root volume's VM Stopped, a data volume "
                             "detached)", "要迁移的云盘（根盘的云主机须已停止，数据盘须已卸载）")),
         uuid_param("destHostUuid", "HostVO",
                    doc=Text("a host of the same local primary storage",
                             "同一本地主存储的物理机"))),
        doc=Text("Move a volume with its snapshots to another host of its local primary "
                 "storage (cold migration of a VM: stop it, move its root volume, start it)",
                 "将云盘连同快照迁移到同一本地主存储的另一台物理机（冷迁移云主机：停止、迁移根盘、启动）"),
        resource="LocalStorageResourceRefVO",
        example="LocalStorageMigrateVolume volumeUuid=<volumeUuid> destHostUuid=<hostUuid>"),
    query_api("QueryVolumeSnapshot", "VolumeSnapshotVO", "volume",
              Text("Query volume snapshots", "查询云盘快照"),
              example="QueryVolumeSnapshot volumeUuid=<volumeUuid>"),
)


# The VM states each API may act in (SPEC §7.2); anything else is VM.1010.
VM_STATES_ALLOWED = {
    "StartVmInstance": ("Created", "Stopped"),
    "StopVmInstance": ("Running", "Paused", "Unknown", "Crashed", "Stopping", "Starting"),
    "RebootVmInstance": ("Running",),
    "DestroyVmInstance": ("Created", "Starting", "Running", "Stopping", "Stopped", "Rebooting",
                          "Paused", "Unknown", "Crashed", "Error", "Migrating"),
    "RecoverVmInstance": ("Destroyed",),
    "ExpungeVmInstance": ("Destroyed",),
    "AttachDataVolumeToVm": ("Running", "Stopped", "Created"),
    "DetachDataVolumeFromVm": ("Running", "Stopped", "Created"),
    "CreateVolumeSnapshot": ("Running", "Stopped", "Created", "Paused"),
    "AttachIsoToVmInstance": ("Running", "Stopped", "Paused"),
    "DetachIsoFromVmInstance": ("Running", "Stopped", "Paused", "Created"),
    "GetVmConsoleAddress": ("Running",),
    "MigrateVm": ("Running",),
}

for _api in APIS:
    _api.vm_states = VM_STATES_ALLOWED.get(_api.name, ())
