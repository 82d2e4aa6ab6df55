"""Messages of the storage layer (backend/storage, and the StorageErrors of
services/volume_migration.py): the texts of StorageError, and the names of
the operations they report (``what``: "read {path}"), which read after
"qemu-img failed to" or "cannot" in English and as a verb phrase in Chinese."""

ZH = {
    "storage operation failed": "存储操作失败",
    "exit status {code}": "退出码 {code}",
    # files.py, templates.py
    "invalid name for a storage path: {name!r}": "存储路径的名字无效：{name!r}",
    "cannot create a temporary file next to {final_path}": "无法在 {final_path} 旁创建临时文件",
    "cannot create a file in {directory}: {error}": "无法在 {directory} 中创建文件：{error}",
    "cannot create directory {directory}: {error}": "无法创建目录 {directory}：{error}",
    "cannot create the lock file {path}: {error}": "无法创建锁文件 {path}：{error}",
    "cannot create {path}: {error}": "无法创建 {path}：{error}",
    "cannot create {path}: the file already exists": "无法创建 {path}：文件已存在",
    "cannot write {path}: {error}": "无法写入 {path}：{error}",
    "cannot read {path}: {error}": "无法读取 {path}：{error}",
    "cannot read {path}": "无法读取 {path}",
    "cannot read {path}: it shrank while being read": "无法读取 {path}：文件在读取过程中变小了",
    "cannot read {source}: it shrank while being copied": "无法读取 {source}：文件在复制过程中变小了",
    "cannot delete {path}: {error}": "无法删除 {path}：{error}",
    "file not found: {path}": "找不到文件：{path}",
    "image not found: {path}": "找不到镜像：{path}",
    "directory not found: {directory}": "找不到目录：{directory}",
    "{path} is a directory, not a file": "{path} 是目录，不是文件",
    "cannot read the capacity of {directory}: {error}": "无法读取 {directory} 的容量：{error}",
    "{path} is not a template of {cache_path}": "{path} 不是 {cache_path} 的模板",
    # image_store.py
    "unsupported image format {fmt} (qcow2, raw or iso)": "不支持的镜像格式 {fmt}（支持 qcow2、raw 或 iso）",
    "unsupported url {url}: {error}": "不支持的 url {url}：{error}",
    "unsupported url {url}: a file:// url must name a local file (file:///path)":
        "不支持的 url {url}：file:// url 必须指向本机文件（file:///path）",
    "unsupported url {url}: use an absolute path, file:// or http(s)://":
        "不支持的 url {url}：请使用绝对路径、file:// 或 http(s)://",
    "failed to download {shown}: no answer within {timeout} seconds":
        "下载 {shown} 失败：{timeout} 秒内没有应答",
    "the server's certificate": "服务器证书",
    "the TLS handshake": "TLS 握手",
    "failed to download {shown}: {why} failed": "下载 {shown} 失败：{why}失败",
    "failed to download {shown}: cannot connect to {server}{cause}":
        "下载 {shown} 失败：无法连接到 {server}{cause}",
    "failed to download {shown}: too many redirects": "下载 {shown} 失败：重定向次数过多",
    "failed to download {shown}: {error}": "下载 {shown} 失败：{error}",
    "failed to download {shown}: HTTP {status} {reason}": "下载 {shown} 失败：HTTP {status} {reason}",
    "no data for {timeout} seconds": "{timeout} 秒内没有收到数据",
    "the connection broke": "连接中断",
    "failed to download {shown}: {why} after {done} bytes":
        "下载 {shown} 失败：已下载 {done} 字节后{why}",
    "failed to download {shown}: {why} after {done} bytes of {total}":
        "下载 {shown} 失败：已下载 {done}/{total} 字节后{why}",
    "failed to download {shown}: got {done} of {total} bytes":
        "下载 {shown} 失败：只收到 {total} 字节中的 {done} 字节",
    "{shown} is not an ISO 9660 image (no CD001 signature at offset 0x8001)":
        "{shown} 不是 ISO 9660 镜像（偏移 0x8001 处没有 CD001 签名）",
    "{shown} is empty": "{shown} 是空的",
    "{shown} is not a qcow2 image (qemu-img cannot read it)":
        "{shown} 不是 qcow2 镜像（qemu-img 无法读取）",
    "{shown} is not a qcow2 image (qemu-img reads it as {format}); add it with format=raw if "
    "it is a raw disk":
        "{shown} 不是 qcow2 镜像（qemu-img 识别为 {format}）；如果是 raw 磁盘，请用 format=raw 添加",
    "{shown} is a qcow2 image with a backing file; only standalone images can be added":
        "{shown} 是带有 backing file 的 qcow2 镜像；只能添加独立的镜像",
    "{shown} is a qcow2 image with an external data file; only standalone images can be added":
        "{shown} 是带有外部数据文件的 qcow2 镜像；只能添加独立的镜像",
    # local.py
    "the copy of {source_path} is damaged: md5 {found}, expected {md5sum}":
        "{source_path} 的副本已损坏：md5 为 {found}，应为 {md5sum}",
    "{cache_path} is not a disk image (qcow2 or raw): a volume can not be created from it":
        "{cache_path} 不是磁盘镜像（qcow2 或 raw）：无法用它创建云盘",
    "snapshot {volume_path}": "为 {volume_path} 创建快照",
    "cannot snapshot {volume_path}: {snapshot_path} already exists":
        "无法为 {volume_path} 创建快照：{snapshot_path} 已存在",
    "cannot snapshot {volume_path} to {snapshot_path}: {error}":
        "无法为 {volume_path} 创建快照 {snapshot_path}：{error}",
    "cannot delete {snapshot_path}: it is the volume itself": "无法删除 {snapshot_path}：它就是云盘本身",
    "cannot delete {snapshot_path}: it is not a snapshot of {volume_path}":
        "无法删除 {snapshot_path}：它不是 {volume_path} 的快照",
    "cannot delete {snapshot_path}: it is not in the chain of {volume_path} and {user} is "
    "backed by it":
        "无法删除 {snapshot_path}：它不在 {volume_path} 的链上，且 {user} 以它为 backing file",
    # qemu_img.py
    "qemu-img is not installed (it comes with the qemu-utils package)":
        "未安装 qemu-img（它包含在 qemu-utils 软件包中）",
    "qemu-img failed to {what}: timed out after {timeout} seconds":
        "qemu-img {what}失败：{timeout} 秒后超时",
    "qemu-img failed to {what}: {error}": "qemu-img {what}失败：{error}",
    "qemu-img failed to {what}: {reason}": "qemu-img {what}失败：{reason}",
    "qemu-img failed to read {path}: unexpected output": "qemu-img 读取 {path} 失败：输出不符合预期",
    "qemu-img failed to compare {a} and {b}: timed out": "qemu-img 比较 {a} 和 {b} 失败：超时",
    "qemu-img failed to compare {a} and {b}: {reason}": "qemu-img 比较 {a} 和 {b} 失败：{reason}",
    "unsupported image format {fmt} (qcow2 or raw)": "不支持的镜像格式 {fmt}（支持 qcow2 或 raw）",
    "cannot create {path}: only a qcow2 image can have a backing file":
        "无法创建 {path}：只有 qcow2 镜像可以有 backing file",
    "cannot create {path}: no size given": "无法创建 {path}：没有给出大小",
    "cannot create {path}: the size must be positive, not {size_bytes}":
        "无法创建 {path}：大小必须为正数，而不是 {size_bytes}",
    "cannot convert {src} to {dst}: the file already exists": "无法将 {src} 转换为 {dst}：文件已存在",
    "read {path}": "读取 {path}",
    "create {path}": "创建 {path}",
    "rebase {path}": "变基 {path}",
    "convert {src} to {dst}": "将 {src} 转换为 {dst}",
    # transfer.py
    "{what}: {error}": "{what}：{error}",
    "cannot copy {source} to {target}: {error}": "无法将 {source} 复制到 {target}：{error}",
    "the copy of {source} does not read back as written (at byte {offset})":
        "{source} 的副本读回的内容与写入的不一致（在第 {offset} 字节处）",
    "{command} is not installed on this machine": "本机未安装 {command}",
    "{command} did not finish within {timeout} s": "{command} 未能在 {timeout} 秒内完成",
    "cannot {what} on {address}: {reason}": "无法在 {address} 上{what}：{reason}",
    "qemu-img on {address} gave no JSON for {logical}": "{address} 上的 qemu-img 没有给出 {logical} 的 JSON",
    "checksum {logical}": "计算 {logical} 的校验和",
    "write {final}": "写入 {final}",
    "delete {logical}": "删除 {logical}",
    "copy {logical} to {address}": "将 {logical} 复制到 {address}",
    # services/volume_migration.py
    "the backing chain of {path} does not hold exactly the volume and its snapshots":
        "{path} 的 backing 链与该云盘及其快照不完全一致",
    "the volume rests on {base}, which is not the cache of an image this cloud still has: it "
    "can not be made on the destination":
        "该云盘基于 {base}，而它不是本云中现存镜像的缓存：无法在目标物理机上重建",
    "the VM's ISO[uuid:{iso}] is no longer in the cloud: detach it (DetachIsoFromVmInstance) "
    "to migrate the VM":
        "云主机的 ISO[uuid:{iso}]已不在云中：请先卸载它（DetachIsoFromVmInstance）再迁移云主机",
    "the image cache on the destination is {made}, not {base}": "目标物理机上的镜像缓存是 {made}，而不是 {base}",
    "the copy of {logical} does not match the source (checksum {found} instead of {digest})":
        "{logical} 的副本与源文件不一致（校验和为 {found}，而不是 {digest}）",
    "{path} is missing on the destination": "目标物理机上缺少 {path}",
    "copy {logical} from {address}": "从 {address} 复制 {logical}",
    "cannot {what}: {reason}": "无法{what}：{reason}",
    # remote hosts (backend.hostops, storage/ssh.py)
    "cannot install the host agent on {address}: {reason}":
        "无法在 {address} 上安装物理机代理：{reason}",
    "the host agent on {address} failed to {op}: {reason}":
        "{address} 上的物理机代理执行 {op} 失败：{reason}",
    "the host agent has no operation {op}": "物理机代理没有操作 {op}",
    "the host agent failed: {error}": "物理机代理出错：{error}",
    "the host agent needs Python {needed} or newer; this host has {found}":
        "物理机代理需要 Python {needed} 或更新版本；该物理机上是 {found}",
    "the host agent got no arguments for {op}": "物理机代理没有收到 {op} 的参数",
    "{uri} names a user or host starting with '-'": "{uri} 中的用户名或主机名以“-”开头",
    "cannot run {command}: {error}": "无法运行 {command}：{error}",
    "cannot make an ssh key in {path}: {error}": "无法在 {path} 生成 SSH 密钥：{error}",
    "cannot log in to {uri}: {reason}": "无法登录 {uri}：{reason}",
    "cannot log in to {uri} with the key put there: {reason}":
        "无法用已放到该处的密钥登录 {uri}：{reason}",
    "cannot log in to {address} as {user} with its password: {reason}":
        "无法用密码以 {user} 身份登录 {address}：{reason}",
    "qemu-img is not installed on the host (Debian: apt-get install qemu-utils)":
        "该物理机上没有安装 qemu-img（Debian：apt-get install qemu-utils）",
    "{uri} names no host to log in to": "{uri} 没有指明要登录的主机",
    "the port of {uri} is not a number": "{uri} 中的端口不是数字",
}
