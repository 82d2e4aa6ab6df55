"""Messages of the network layer (backend/network: bridges, and the Flat
network's DHCP servers, namespaces and metadata supervisor): the texts of
BridgeError and FlatNetworkError. Commands and their output stay as they are."""

ZH = {
    "`{command}` failed: {first}": "`{command}` 执行失败：{first}",
    "`{command}` timed out after {timeout} s": "`{command}` 在 {timeout} 秒后超时",
    "`{command}` could not run: {error}": "`{command}` 无法运行：{error}",
    # bridge.py
    "the interface {uplink} has an IPv4 address: zstack-cli will not move it into the bridge "
    "{name} (that could cut this machine off); use an interface without an address, or bridge "
    "it yourself":
        "网卡 {uplink} 有 IPv4 地址：zstack-cli 不会把它移入网桥 {name}（这可能使本机断网）；"
        "请使用没有地址的网卡，或自行配置网桥",
    "the interface {uplink} is already in {master}": "网卡 {uplink} 已在 {master} 中",
    # dnsmasq.py
    "dnsmasq is not installed (Debian: apt-get install dnsmasq-base)":
        "未安装 dnsmasq（Debian：apt-get install dnsmasq-base）",
    "dnsmasq did not stay up in {dhcp_ns} (see {log})": "dnsmasq 未能在 {dhcp_ns} 中持续运行（见 {log}）",
    "dnsmasq (pid {pid}) does not stop": "dnsmasq（pid {pid}）无法停止",
    "cannot release leases in {dhcp_ns}: {error}": "无法释放 {dhcp_ns} 中的租约：{error}",
    "invalid server address or netmask: {error}": "服务器地址或子网掩码无效：{error}",
    # names.py
    "invalid {what} uuid: {value!r}": "无效的 {what} uuid：{value!r}",
    # server.py
    "the DHCP server description lacks {key!r}": "DHCP 服务器的描述缺少 {key!r}",
    "state_dir must be an absolute path: {state_dir!r}": "state_dir 必须是绝对路径：{state_dir!r}",
    "invalid DNS domain: {domain!r}": "DNS 域名无效：{domain!r}",
    "metadata_cmd must be a non-empty list of strings": "metadata_cmd 必须是非空的字符串列表",
    "invalid {what} address: {text!r}": "无效的{what}地址：{text!r}",
    "gateway": "网关",
    "DNS server": "DNS 服务器",
    "server": "服务器",
    "NIC {mac}": "网卡 {mac} 的",
    "invalid MAC address: {mac!r}": "MAC 地址无效：{mac!r}",
    "the address {ip} of NIC {mac} cannot be served on {network}":
        "网卡 {mac} 的地址 {ip} 无法在 {network} 上提供",
    "invalid hostname for NIC {mac}: {hostname!r}": "网卡 {mac} 的主机名无效：{hostname!r}",
    "the MAC address {mac} is given twice": "MAC 地址 {mac} 重复出现",
    "the address {ip} is given twice": "地址 {ip} 重复出现",
    "the MAC address {mac} is not among the MACs to set": "MAC 地址 {mac} 不在要设置的 MAC 之中",
    "the host namespace {host_ns} does not exist": "主机网络命名空间 {host_ns} 不存在",
    # supervisor.py
    "the metadata supervisor did not start within 30 s": "元数据守护进程未能在 30 秒内启动",
    "the metadata supervisor did not start (see {log})": "元数据守护进程未能启动（见 {log}）",
    "the metadata supervisor (pid {pid}) does not stop": "元数据守护进程（pid {pid}）无法停止",
}
