"""Messages of VMs, their devices and states, volumes, snapshots, images and
offerings."""

ZH = {
    # vm.py
    "duplicate L3 network uuid[{duplicates}] in l3NetworkUuids":
        "l3NetworkUuids 中有重复的三层网络 UUID[{duplicates}]",
    "there are more than one L3 network specified in l3NetworkUuids, but "
    "defaultL3NetworkUuid is null":
        "l3NetworkUuids 指定了多个三层网络，但 defaultL3NetworkUuid 为空",
    "the default L3 network[uuid:{default}] is not in l3NetworkUuids [{l3s}]":
        "默认三层网络[uuid:{default}]不在 l3NetworkUuids [{l3s}] 中",
    "the L3 network[uuid:{l3Uuid}] of the tag[{tag}] is not in l3NetworkUuids":
        "标签[{tag}]中的三层网络[uuid:{l3Uuid}]不在 l3NetworkUuids 中",
    "the hostname[{hostname}] is already used by the VM[uuid:{clash}] on the L3 "
    "network[uuid:{l3}]":
        "主机名[{hostname}]已被三层网络[uuid:{l3}]上的云主机[uuid:{clash}]使用",
    "a VM has one hostname, not both [{one}] and [{other}]":
        "一个云主机只有一个主机名，不能同时为[{one}]和[{other}]",
    # vm_tags.py
    "the VM[uuid:{vm}] already has the hostname[{hostname}]; update that tag instead":
        "云主机[uuid:{vm}]已有主机名[{hostname}]；请更新该标签",
    "the L3 network[uuid:{l3Uuid}] of the tag[{tag}] is not one of the VM's networks":
        "标签[{tag}]中的三层网络[uuid:{l3Uuid}]不是该云主机的网络",
    # tag.py
    "the resource[uuid:{uuid}] already has the tag[{tag}]":
        "资源[uuid:{uuid}]已有标签[{tag}]",
    "a VM named [{name}] already exists (vm/uniqueVmName is true)":
        "名为 [{name}] 的云主机已存在（vm/uniqueVmName 为 true）",
    "the image[uuid:{image}] is a {mediaType}; a VM needs an image of mediaType "
    "RootVolumeTemplate or ISO":
        "镜像[uuid:{image}]的类型是 {mediaType}；云主机需要 mediaType 为 RootVolumeTemplate "
        "或 ISO 的镜像",
    "the image[uuid:{image}] is {status}, not Ready":
        "镜像[uuid:{image}]的状态是 {status}，不是 Ready",
    "rootDiskOfferingUuid is required when the image is an ISO: it sizes the disk the ISO "
    "installs to":
        "镜像为 ISO 时必须指定 rootDiskOfferingUuid：它决定 ISO 安装到的云盘大小",
    "failed to create the VM[name:{name}]: {error}": "创建云主机[name:{name}]失败：{error}",
    "resource[uuid:{vm_uuid}, type:VmInstanceVO] already exists":
        "资源[uuid:{vm_uuid}, type:VmInstanceVO]已存在",
    "host[uuid:{host}] has not enough free CPU or memory for the VM[uuid:{uuid}] (local "
    "storage ties the VM to this host)":
        "物理机[uuid:{host}]没有足够的空闲 CPU 或内存运行云主机[uuid:{uuid}]"
        "（本地存储将该云主机绑定在这台物理机上）",
    "the image[uuid:{imageUuid}] of the VM was deleted before its disks were made":
        "云主机的镜像[uuid:{imageUuid}]在其云盘创建之前已被删除",
    # vm_state.py: {verb} is one of the four below
    "current vm instance state[{state}] doesn't allow to proceed message[API{operation}Msg], "
    "allowed states are [{allowed}]":
        "云主机当前状态[{state}]不允许执行消息[API{operation}Msg]，允许的状态为 [{allowed}]",
    "the VM[uuid:{uuid}] is {state}: {details}": "云主机[uuid:{uuid}]处于 {state} 状态：{details}",
    "failed to {verb} the VM[uuid:{uuid}]: {error}": "{verb}云主机[uuid:{uuid}]失败：{error}",
    "start": "启动",
    "stop": "停止",
    "reboot": "重启",
    "destroy": "删除",
    # vm_spec.py
    "no host has enough capacity for the VM: it needs {cpu} CPU(s), {memory} bytes of memory "
    "and {disk} bytes of local storage; {count} host(s) qualify otherwise":
        "没有物理机有足够的容量运行该云主机：它需要 {cpu} 个 CPU、{memory} 字节内存和 {disk} "
        "字节本地存储；另有 {count} 台物理机满足其他条件",
    "no host found for the VM: there is no Connected and Enabled host; add one with AddKVMHost":
        "找不到可运行该云主机的物理机：没有处于 Connected 且 Enabled 状态的物理机；"
        "请用 AddKVMHost 添加",
    "no host found for the VM: no primary storage is attached to any cluster; use "
    "AddLocalPrimaryStorage and AttachPrimaryStorageToCluster":
        "找不到可运行该云主机的物理机：没有任何集群挂载了主存储；请使用 AddLocalPrimaryStorage "
        "和 AttachPrimaryStorageToCluster",
    "no host found for the VM in {scope}: a host must be Connected and Enabled, in a cluster "
    "attached to the L2 networks of every L3 network [{l3s}] (AttachL2NetworkToCluster) and "
    "to local primary storage":
        "在 {scope} 中找不到可运行该云主机的物理机：物理机必须处于 Connected 且 Enabled 状态，"
        "所在集群须挂载每个三层网络 [{l3s}] 的二层网络（AttachL2NetworkToCluster）以及本地主存储",
    "any zone": "任意区域",
    # vm_devices.py, catalogue/vm.py
    "the image[uuid:{iso_uuid}] is a {mediaType}, not an ISO":
        "镜像[uuid:{iso_uuid}]的类型是 {mediaType}，不是 ISO",
    "VM[uuid:{vm_uuid}] already has an ISO[uuid:{current}] attached":
        "云主机[uuid:{vm_uuid}]已挂载 ISO[uuid:{current}]",
    "failed to change the CD-ROM of the VM[uuid:{vm_uuid}]: {error}":
        "更换云主机[uuid:{vm_uuid}]的光驱失败：{error}",
    "invalid boot device[{device}] in boot order[{order}]":
        "启动顺序[{order}]中的启动设备[{device}]无效",
    "boot device[{device}] is twice in boot order[{order}]":
        "启动设备[{device}]在启动顺序[{order}]中出现了两次",
    "cannot read the console of the VM[uuid:{uuid}]: {error}":
        "无法读取云主机[uuid:{uuid}]的控制台：{error}",
    "invalid hostname[{name}]: a hostname is a DNS label of letters, digits and '-', at most 63 "
    "characters, not starting or ending with '-'":
        "主机名[{name}]无效：主机名是由字母、数字和 '-' 组成的 DNS 标签，最多 63 个字符，"
        "不能以 '-' 开头或结尾",
    "invalid L3 network uuid[{uuid}] in staticIp tag": "staticIp 标签中的三层网络 UUID[{uuid}]无效",
    "invalid IP address[{ip}] in staticIp tag": "staticIp 标签中的 IP 地址[{ip}]无效",
    # volume.py
    "the volume[uuid:{volume}] is a {type} volume; only data volumes can be attached":
        "云盘[uuid:{volume}]是 {type} 类型的云盘；只有数据云盘可以挂载",
    "the data volume[uuid:{volume}] is already attached to the VM[uuid:{vmInstanceUuid}]":
        "数据云盘[uuid:{volume}]已挂载到云主机[uuid:{vmInstanceUuid}]",
    "the data volume[uuid:{volume}] is {status}; it can be attached once Ready":
        "数据云盘[uuid:{volume}]的状态是 {status}；变为 Ready 后才能挂载",
    "the data volume[uuid:{volume}] is on host[uuid:{src_host}] but the VM[uuid:{vm_uuid}] is "
    "on host[uuid:{host}]; move it with LocalStorageMigrateVolume first":
        "数据云盘[uuid:{volume}]位于物理机[uuid:{src_host}]，而云主机[uuid:{vm_uuid}]位于"
        "物理机[uuid:{host}]；请先用 LocalStorageMigrateVolume 迁移该云盘",
    "failed to attach the volume[uuid:{volume}]: {error}": "挂载云盘[uuid:{volume}]失败：{error}",
    "failed to create the data volume[uuid:{volume}]: {error}":
        "创建数据云盘[uuid:{volume}]失败：{error}",
    "the volume[uuid:{volume}] is a {type} volume; only data volumes can be detached":
        "云盘[uuid:{volume}]是 {type} 类型的云盘；只有数据云盘可以卸载",
    "the data volume[uuid:{volume}] is attached to the VM[uuid:{vm_uuid}], not to the "
    "VM[uuid:{vmUuid}]":
        "数据云盘[uuid:{volume}]挂载在云主机[uuid:{vm_uuid}]上，而不是云主机[uuid:{vmUuid}]上",
    "failed to detach the volume[uuid:{volume}]: {error}": "卸载云盘[uuid:{volume}]失败：{error}",
    "the volume[uuid:{volume}] is a {type} volume; a root volume goes with its VM "
    "(ExpungeVmInstance)":
        "云盘[uuid:{volume}]是 {type} 类型的云盘；根云盘随其云主机一起删除（ExpungeVmInstance）",
    "the data volume[uuid:{volume}] is being migrated to another host; delete it once that is "
    "done":
        "数据云盘[uuid:{volume}]正在迁移到另一台物理机；请在迁移完成后再删除",
    "the volume[uuid:{volume}] is {status}; only a Ready volume can be snapshotted":
        "云盘[uuid:{volume}]的状态是 {status}；只有 Ready 状态的云盘可以创建快照",
    "the VM[uuid:{vm}] is {state}: stop it to snapshot its volume (live snapshots are not "
    "supported yet)":
        "云主机[uuid:{vm}]处于 {state} 状态：请先停止它再为其云盘创建快照（暂不支持在线快照）",
    "failed to snapshot the volume[uuid:{volume}]: {error}":
        "为云盘[uuid:{volume}]创建快照失败：{error}",
    "the VM[uuid:{vm}] is {state}: stop it to delete a snapshot of its volume":
        "云主机[uuid:{vm}]处于 {state} 状态：请先停止它再删除其云盘的快照",
    "failed to delete the snapshot[uuid:{uuid}]: {error}": "删除快照[uuid:{uuid}]失败：{error}",
    # image.py
    "an image of mediaType[{media}] must be in format [{formats}], but {fmt} found":
        "mediaType 为 [{media}] 的镜像格式必须是 [{formats}] 之一，实际为 {fmt}",
    "failed to add image[{name}] from {url}: {error}": "从 {url} 添加镜像[{name}]失败：{error}",
    "image[uuid:{image_uuid}] has no ready copy on any backup storage":
        "镜像[uuid:{image_uuid}]在所有镜像服务器上都没有可用的副本",
    "AddImage {name}": "添加镜像 {name}",
}
