"""Messages of hosts, primary and backup storage, and local storage volume
migration."""

ZH = {
    # host.py, hosts.py
    "a host with managementIp[{managementIp}] and libvirtUri[{uri}] already exists":
        "managementIp 为 [{managementIp}]、libvirtUri 为 [{uri}] 的物理机已存在",
    "failed to connect to host[uuid:{uuid}, managementIp:{managementIp}] through "
    "{libvirtUri}: {error}":
        "通过 {libvirtUri} 连接物理机[uuid:{uuid}, managementIp:{managementIp}]失败：{error}",
    "failed to connect to host[managementIp:{managementIp}] through {libvirtUri}: {error}":
        "通过 {libvirtUri} 连接物理机[managementIp:{managementIp}]失败：{error}",
    "host[uuid:{uuid}] still holds {count} detached data volume(s); delete or migrate them "
    "first, or use deleteMode=Enforcing":
        "物理机[uuid:{uuid}]上仍有 {count} 个未挂载的数据云盘；请先删除或迁移它们，"
        "或使用 deleteMode=Enforcing",
    "host[uuid:{host_uuid}] is {status}; reconnect it with ReconnectHost":
        "物理机[uuid:{host_uuid}]处于 {status} 状态；请用 ReconnectHost 重新连接",
    "cannot prepare the network of L2[uuid:{l2}] on host[uuid:{host}]: {error}":
        "无法在物理机[uuid:{host}]上准备二层网络[uuid:{l2}]：{error}",
    # storage.py
    "url[{url}] must be an absolute path": "url[{url}]必须是绝对路径",
    "cannot use {url} on host[uuid:{host}]: {error}": "无法在物理机[uuid:{host}]上使用 {url}：{error}",
    "primary storage[uuid:{ps}] and cluster[uuid:{cluster}] are in different zones":
        "主存储[uuid:{ps}]与集群[uuid:{cluster}]不在同一区域",
    "primary storage[uuid:{primaryStorageUuid}] still holds {used} volume(s) or snapshot(s) "
    "on hosts of cluster[uuid:{clusterUuid}]":
        "主存储[uuid:{primaryStorageUuid}]在集群[uuid:{clusterUuid}]的物理机上仍有 {used} "
        "个云盘或快照",
    "backup storage on a remote host[{hostname}] is not supported yet; use a directory of this "
    "machine (hostname=127.0.0.1)":
        "暂不支持位于远程主机[{hostname}]上的镜像服务器；请使用本机的目录（hostname=127.0.0.1）",
    "cannot use the directory {url}: {error}": "无法使用目录 {url}：{error}",
    "backup storage[uuid:{uuid}] still keeps {count} image(s); delete them first, or use "
    "deleteMode=Enforcing to delete them too":
        "镜像服务器[uuid:{uuid}]上仍有 {count} 个镜像；请先删除它们，"
        "或使用 deleteMode=Enforcing 一并删除",
    # volume_migration/
    "host[uuid:{uuid}] is an end of the migration of the volume[uuid:{volume}]; delete it once "
    "that is done":
        "物理机[uuid:{uuid}]是云盘[uuid:{volume}]迁移的源端或目的端；请在迁移完成后再删除",
    "the volume[uuid:{volume}] or its destination host changed while it was being copied; the "
    "migration is undone":
        "云盘[uuid:{volume}]或其目的物理机在复制过程中发生了变化；迁移已撤销",
    "failed to migrate the volume[uuid:{volume_uuid}] to the host[uuid:{dst_uuid}]: {error}; "
    "it stays on the host[uuid:{src_host}]":
        "将云盘[uuid:{volume_uuid}]迁移到物理机[uuid:{dst_uuid}]失败：{error}；"
        "云盘仍留在物理机[uuid:{src_host}]上",
    "the VM[uuid:{vm}] uses local primary storage: live migration with storage is disabled (it "
    "can corrupt the disk under load). Migrate it cold: StopVmInstance, LocalStorageMigrateVolume "
    "volumeUuid={rootVolumeUuid} destHostUuid={hostUuid}, StartVmInstance":
        "云主机[uuid:{vm}]使用本地主存储：已禁用带存储的热迁移（负载下可能损坏磁盘）。"
        "请冷迁移：StopVmInstance、LocalStorageMigrateVolume volumeUuid={rootVolumeUuid} "
        "destHostUuid={hostUuid}、StartVmInstance",
    "the volume[uuid:{volume_uuid}] is not on any local primary storage":
        "云盘[uuid:{volume_uuid}]不在任何本地主存储上",
    "the volume[uuid:{volume_uuid}] is already on the host[uuid:{dst_uuid}]":
        "云盘[uuid:{volume_uuid}]已在物理机[uuid:{dst_uuid}]上",
    "the host[uuid:{dst_uuid}] does not belong to the local primary storage[uuid:{ps}] of the "
    "volume[uuid:{volume_uuid}]":
        "物理机[uuid:{dst_uuid}]不属于云盘[uuid:{volume_uuid}]所在的本地主存储[uuid:{ps}]",
    "the volume[uuid:{volume_uuid}] is {status}; only a Ready volume can be migrated":
        "云盘[uuid:{volume_uuid}]的状态是 {status}；只有 Ready 状态的云盘可以迁移",
    "the volume[uuid:{volume}] is {status}; only a Ready volume can be migrated":
        "云盘[uuid:{volume}]的状态是 {status}；只有 Ready 状态的云盘可以迁移",
    "the data volume[uuid:{volume_uuid}, name: {name}] is still attached to the VM[uuid:{vm}]. "
    "Please detach it before migration":
        "数据云盘[uuid:{volume_uuid}, name: {name}]仍挂载在云主机[uuid:{vm}]上。请在迁移前卸载",
    "the host[uuid:{dst_uuid}] is {status} and {state}; a volume can only move to a Connected, "
    "Enabled host":
        "物理机[uuid:{dst_uuid}]处于 {status}、{state} 状态；云盘只能迁移到 Connected 且 "
        "Enabled 的物理机",
    "the hosts[uuid:{src_host}, uuid:{dst_uuid}] share one storage directory: there is nothing "
    "to move":
        "物理机[uuid:{src_host}, uuid:{dst_uuid}]共用同一个存储目录：无需迁移",
    "the volume[uuid:{volume}] is the root volume of the vm[uuid:{vm}]. Currently the vm is in "
    "state of {state}, please stop it before migration":
        "云盘[uuid:{volume}]是云主机[uuid:{vm}]的根云盘。该云主机当前处于 {state} 状态，"
        "请在迁移前停止它",
    "the volume[uuid:{volume}] is the root volume of the vm[uuid:{vm}]. Currently the vm still "
    "has {attached} data volumes attached, please detach them before migration":
        "云盘[uuid:{volume}]是云主机[uuid:{vm}]的根云盘。该云主机当前仍挂载着 {attached} "
        "个数据云盘，请在迁移前卸载它们",
    "cannot reach the files of the host[uuid:{host}]: {error}":
        "无法访问物理机[uuid:{host}]上的文件：{error}",
    "the host[uuid:{dst}] has {free} bytes of local storage free; the volume[uuid:{volume}] and "
    "its snapshots need {size}":
        "物理机[uuid:{dst}]的本地存储只剩 {free} 字节；云盘[uuid:{volume}]及其快照需要 {size}",
    "the volume[uuid:{volume_uuid}] is being migrated by another process":
        "云盘[uuid:{volume_uuid}]正在被另一个进程迁移",
    "copy {n}/{total}": "复制 {n}/{total}",
    "check {n}/{total}": "校验 {n}/{total}",
    "copy the image cache": "复制镜像缓存",
    "the copy of the volume[uuid:{volume}] on the host[uuid:{dst}] failed its check from the "
    "disk: {error}; it stays on the host[uuid:{src}]":
        "云盘[uuid:{volume}]在物理机[uuid:{dst}]上的副本未通过从磁盘读回的校验：{error}；"
        "云盘仍留在物理机[uuid:{src}]上",
    "the host is no longer in the cloud": "该物理机已不在云中",
    "the landing of the volume[uuid:{volume_uuid}] on the host[uuid:{dst_uuid}]":
        "云盘[uuid:{volume_uuid}]在物理机[uuid:{dst_uuid}]上的落盘",
}
