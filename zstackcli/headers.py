"""Table headers (``-o table``) in the chosen language (SPEC §4, §13).

In English a header is the field name itself, as a query condition spells it.
In Chinese it is the field's Chinese label; a key no resource declares (a
raw reply's) keeps its name. tests/unit/test_i18n_catalogue.py checks that
every field of every resource has a label here and that no label is unused.
"""

from .i18n import lang

LABELS_ZH = {
    # identity and bookkeeping
    "uuid": "UUID",
    "name": "名称",
    "description": "描述",
    "type": "类型",
    "state": "状态",
    "status": "就绪状态",
    "createDate": "创建时间",
    "lastOpDate": "最后操作时间",
    "accountUuid": "账户 UUID",
    "userUuid": "用户 UUID",
    "expiredDate": "过期时间",
    "resourceUuid": "资源 UUID",
    "resourceType": "资源类型",
    "tag": "标签",
    "inherent": "固有",
    # zones, clusters, hosts
    "zoneUuid": "区域 UUID",
    "clusterUuid": "集群 UUID",
    "hostUuid": "物理机 UUID",
    "lastHostUuid": "上次所在物理机 UUID",
    "hypervisorType": "虚拟化类型",
    "managementIp": "管理 IP",
    "libvirtUri": "libvirt URI",
    "username": "用户名",
    "sshPort": "SSH 端口",
    "totalCpuCapacity": "CPU 总量",
    "availableCpuCapacity": "可用 CPU",
    "totalMemoryCapacity": "内存总量",
    "availableMemoryCapacity": "可用内存",
    # storage and images
    "url": "URL",
    "hostname": "主机名",
    "mountPath": "挂载路径",
    "totalCapacity": "总容量",
    "availableCapacity": "可用容量",
    "totalPhysicalCapacity": "物理总容量",
    "availablePhysicalCapacity": "物理可用容量",
    "primaryStorageUuid": "主存储 UUID",
    "backupStorageUuid": "镜像服务器 UUID",
    "installPath": "安装路径",
    "primaryStorageInstallPath": "主存储安装路径",
    "size": "大小",
    "actualSize": "实际大小",
    "mediaType": "镜像类型",
    "format": "格式",
    "platform": "平台",
    "guestOsType": "客户机操作系统",
    "system": "系统镜像",
    "md5Sum": "MD5 校验和",
    "imageUuid": "镜像 UUID",
    # offerings, VMs, volumes, snapshots
    "cpuNum": "CPU 数",
    "cpuSpeed": "CPU 频率",
    "memorySize": "内存大小",
    "diskSize": "磁盘大小",
    "allocatorStrategy": "分配策略",
    "sortKey": "排序键",
    "instanceOfferingUuid": "计算规格 UUID",
    "diskOfferingUuid": "云盘规格 UUID",
    "rootImageUuid": "根镜像 UUID",
    "rootVolumeUuid": "根云盘 UUID",
    "defaultL3NetworkUuid": "默认三层网络 UUID",
    "vmInstanceUuid": "云主机 UUID",
    "volumeUuid": "云盘 UUID",
    "volumeType": "云盘类型",
    "deviceId": "设备号",
    "isShareable": "可共享",
    "parentUuid": "父快照 UUID",
    "latest": "最新",
    # networks
    "physicalInterface": "物理网卡",
    "vlan": "VLAN",
    "l2NetworkUuid": "二层网络 UUID",
    "l3NetworkUuid": "三层网络 UUID",
    "dns": "DNS",
    "dnsDomain": "DNS 域",
    "networkCidr": "网络 CIDR",
    "startIp": "起始 IP",
    "endIp": "结束 IP",
    "netmask": "子网掩码",
    "gateway": "网关",
    "ipRangeUuid": "IP 地址段 UUID",
    "ip": "IP 地址",
    "ipInLong": "IP（整数）",
    "usedFor": "用途",
    "usedIpUuid": "已用 IP UUID",
    "vmNicUuid": "网卡 UUID",
    "mac": "MAC 地址",
    "metaData": "元数据",
    "networkServiceTypes": "网络服务类型",
    "networkServiceType": "网络服务类型",
    "networkServiceProviderUuid": "网络服务提供者 UUID",
    # what an inventory embeds
    "attachedClusterUuids": "已挂载集群 UUID",
    "attachedZoneUuids": "已挂载区域 UUID",
    "backupStorageRefs": "镜像服务器引用",
    "networkServices": "网络服务",
    "vmNics": "网卡",
    "ipRanges": "IP 地址段",
    "allVolumes": "所有云盘",
    # global configs
    "category": "类别",
    "value": "值",
    "defaultValue": "默认值",
}


def header(field):
    """The header of a field's column in the chosen language."""
    if lang() == "zh":
        return LABELS_ZH.get(field, field)
    return field
