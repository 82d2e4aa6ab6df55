"""Messages of the hypervisor layer (backend/hypervisor, its simulator
included): the texts of HypervisorError and HostUnreachable, and the names of
the operations they report (``what``: "start domain[{name}]"), which read
after "cannot" in English and as a verb phrase in Chinese. libvirt's own
words (``{error}``) stay as libvirt says them."""

ZH = {
    # operations
    "connect": "连接",
    "read capabilities": "读取主机能力",
    "define domain": "定义 domain",
    "start domain[{name}]": "启动 domain[{name}]",
    "stop domain[{name}]": "停止 domain[{name}]",
    "reboot domain[{name}]": "重启 domain[{name}]",
    "destroy domain[{name}]": "强制关闭 domain[{name}]",
    "undefine domain[{name}]": "取消定义 domain[{name}]",
    "read state of domain[{name}]": "读取 domain[{name}] 的状态",
    "list domains": "列出 domain",
    "read domain[{name}]": "读取 domain[{name}]",
    "read console of domain[{name}]": "读取 domain[{name}] 的控制台",
    "attach disk to domain[{name}]": "为 domain[{name}] 挂载磁盘",
    "detach disk from domain[{name}]": "从 domain[{name}] 卸载磁盘",
    "change cdrom media of domain[{name}]": "更换 domain[{name}] 的光驱介质",
    "rebuild the console ports": "重建控制台端口",
    # driver.py
    "cannot {what}: {error}": "无法{what}：{error}",
    "cannot {what}: lost the connection to {uri}: {error}": "无法{what}：与 {uri} 的连接已断开：{error}",
    "cannot connect to {uri}: {error}": "无法连接到 {uri}：{error}",
    "cannot connect to {host}:{port} (ssh): {error}": "无法连接到 {host}:{port}（ssh）：{error}",
    "cannot reach the libvirtd of {uri}: {error}": "无法访问 {uri} 的 libvirtd：{error}",
    "no domain[{name}] on host {uri}": "物理机 {uri} 上没有 domain[{name}]",
    "the files of the remote host {uri} can not be reached from this machine yet (needs the "
    "host agent on that host)":
        "本机暂时无法访问远程物理机 {uri} 上的文件（需要该物理机上的主机代理）",
    "domain[{name}] is not running or has no console": "domain[{name}] 未运行或没有控制台",
    "domain[{name}] has no console port yet": "domain[{name}] 还没有控制台端口",
    "cannot change cdrom media of domain[{name}]: no cdrom drive {target}":
        "无法更换 domain[{name}] 的光驱介质：没有光驱 {target}",
    # simulator
    "cannot start domain[{name}]: {error}": "无法启动 domain[{name}]：{error}",
    "cannot attach disk to domain[{name}]: target {target} already exists":
        "无法为 domain[{name}] 挂载磁盘：目标 {target} 已存在",
    "cannot detach disk from domain[{name}]: disk {target} not found":
        "无法从 domain[{name}] 卸载磁盘：找不到磁盘 {target}",
    "invalid device XML: {error}": "设备 XML 无效：{error}",
    "invalid device XML: expected <{tag}>, got <{found}>": "设备 XML 无效：应为 <{tag}>，实际为 <{found}>",
    "invalid disk XML: no <target dev=...>": "磁盘 XML 无效：没有 <target dev=...>",
    "cannot {what}: simulated host {directory} is unusable: {error}":
        "无法{what}：模拟物理机 {directory} 不可用：{error}",
    "cannot {what}: cannot save the simulated host {directory}: {error}":
        "无法{what}：无法保存模拟物理机 {directory}：{error}",
    "{path}: {error}": "{path}：{error}",
    "{path}: not a simulated domain file": "{path}：不是模拟的 domain 文件",
    "{state_file} is not a node file": "{state_file} 不是节点文件",
}
