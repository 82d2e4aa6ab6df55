"""Messages of L2 and L3 networks, IP ranges and addresses, network services
and the Flat DHCP servers."""

ZH = {
    # network.py
    "vlan[{vlan}] must be between 1 and 4094": "vlan[{vlan}]必须在 1 到 4094 之间",
    "{what}[uuid:{uuid}] and cluster[uuid:{cluster_uuid}] are in different zones":
        "{what}[uuid:{uuid}]与集群[uuid:{cluster_uuid}]不在同一区域",
    "{what} is still used by {count} VM NIC(s) of VM(s) [{vms}{more}]; delete the VMs first, "
    "or use deleteMode=Enforcing to remove those NICs":
        "{what}仍被云主机 [{vms}{more}] 的 {count} 个网卡使用；请先删除这些云主机，"
        "或使用 deleteMode=Enforcing 移除这些网卡",
    "L3 network[uuid:{uuid}]": "三层网络[uuid:{uuid}]",
    "IP range[uuid:{uuid}]": "IP 地址段[uuid:{uuid}]",
    "the IP range [{start_ip}, {end_ip}] overlaps the IP range[uuid:{clash}, name:{name}] of "
    "the L3 network":
        "IP 地址段 [{start_ip}, {end_ip}] 与该三层网络的 IP 地址段[uuid:{clash}, name:{name}]重叠",
    "all IP ranges of an L3 network share one gateway and netmask; this one has "
    "{gateway}/{netmask}":
        "同一三层网络的所有 IP 地址段共用一个网关和子网掩码；该网络的是 {gateway}/{netmask}",
    "networkCidr[{networkCidr}] is not a valid IPv4 CIDR":
        "networkCidr[{networkCidr}]不是有效的 IPv4 CIDR",
    "networkCidr[{networkCidr}] is too small: it needs room for a gateway and addresses":
        "networkCidr[{networkCidr}]太小：需要容纳网关和可分配地址",
    # ipam.py
    "{what}[{value}] is not a valid IPv4 address": "{what}[{value}]不是有效的 IPv4 地址",
    "netmask[{netmask}] is not a valid netmask": "netmask[{netmask}]不是有效的子网掩码",
    "startIp[{start}] is greater than endIp[{end}]": "startIp[{start}]大于 endIp[{end}]",
    "{what}[{ip}] is not in the network {network} of startIp[{start}]":
        "{what}[{ip}]不在 startIp[{start}] 所在的网络 {network} 中",
    "L3 network[uuid:{l3_uuid}] has no IP range; add one with AddIpRange":
        "三层网络[uuid:{l3_uuid}]没有 IP 地址段；请用 AddIpRange 添加",
    "the static IP[{static_ip}] is not in any IP range of the L3 network[uuid:{l3_uuid}]":
        "静态 IP[{static_ip}]不在三层网络[uuid:{l3_uuid}]的任何 IP 地址段中",
    "the static IP[{static_ip}] is the gateway of the L3 network[uuid:{l3_uuid}]":
        "静态 IP[{static_ip}]是三层网络[uuid:{l3_uuid}]的网关",
    "the static IP[{static_ip}] is already used in the L3 network[uuid:{l3_uuid}]":
        "静态 IP[{static_ip}]在三层网络[uuid:{l3_uuid}]中已被使用",
    "no available IP address left in the L3 network[uuid:{l3_uuid}]":
        "三层网络[uuid:{l3_uuid}]中已没有可用的 IP 地址",
    "could not find a free MAC address": "找不到空闲的 MAC 地址",
    # netservice.py
    "no network service provider[{key}] found; providers are [{names}] (by type or uuid)":
        "找不到网络服务提供者[{key}]；现有提供者为 [{names}]（按类型或 UUID 指定）",
    "networkServices[{key}] must be a list of service types":
        "networkServices[{key}]必须是服务类型列表",
    "the network service provider[{type}] does not provide the service[{kind}]; it provides "
    "[{offered}]":
        "网络服务提供者[{type}]不提供服务[{kind}]；它提供 [{offered}]",
    "there has been a network service[{kind}] attached to L3 network[uuid:{l3}]":
        "三层网络[uuid:{l3}]已挂载网络服务[{kind}]",
    # flat.py
    "the Flat DHCP server of L3 network[uuid:{l3_uuid}] on host[uuid:{host_uuid}] failed: "
    "{error}":
        "物理机[uuid:{host_uuid}]上三层网络[uuid:{l3_uuid}]的扁平网络 DHCP 服务出错：{error}",
}
