"""One DHCP server: a namespace per (host, L3), reached from the L2 bridge by
a veth, running dnsmasq and, optionally, a supervised metadata server.

Plain dicts in, no database: see the package docstring for the shapes.
"""

import contextlib
import fcntl
import os
import re
import shutil
import socket
import struct

from .. import bridge
from . import dnsmasq, names, netns, proc, supervisor
from ...i18n import msg
from .errors import FlatNetworkError

METADATA_IP = "169.254.169.254"
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


# ---------------------------------------------------------------- checking
def _check(ep):
    for key in ("host", "l3", "l2", "server_ip", "netmask", "state_dir"):
        if not ep.get(key):
            raise FlatNetworkError(msg("the DHCP server description lacks {key!r}", key=key))
    if not os.path.isabs(ep["state_dir"]):
        raise FlatNetworkError(msg("state_dir must be an absolute path: {state_dir!r}",
                                   state_dir=ep['state_dir']))
    network = dnsmasq.network_of(ep)
    if ep.get("gateway"):
        _ip_int(ep["gateway"], msg("gateway"))
    for server in ep.get("dns") or []:
        _ip_int(server, msg("DNS server"))
    domain = ep.get("dns_domain")
    if domain and not _HOSTNAME.match(domain):
        raise FlatNetworkError(msg("invalid DNS domain: {domain!r}", domain=domain))
    cmd = ep.get("metadata_cmd")
    if cmd is not None and (not isinstance(cmd, (list, tuple)) or not cmd
                            or not all(isinstance(a, str) and a for a in cmd)):
        raise FlatNetworkError(msg("metadata_cmd must be a non-empty list of strings"))
    return network


def _ip_int(text, what):
    try:
        return struct.unpack("!I", socket.inet_pton(socket.AF_INET, text))[0]
    except (OSError, TypeError):
        raise FlatNetworkError(msg("invalid {what} address: {text!r}",
                                   what=what, text=text)) from None


_MEMO = {}          # (network, server ip) -> {(mac, ip, hostname, default): checked NIC}
_MEMO_MAX = 200_000


def _nic(ep, network, memo, e):
    """(mac key, entry, line, file name, address as int) for one entry; one-line errors."""
    key = (e.get("mac"), e.get("ip"), e.get("hostname"), bool(e.get("default")))
    nic = memo.get(key)
    if nic is not None:
        return nic
    mac = str(e.get("mac", "")).lower()
    if not _MAC.match(mac):
        raise FlatNetworkError(msg("invalid MAC address: {mac!r}", mac=e.get('mac')))
    ip = e.get("ip")
    n = _ip_int(ip, msg("NIC {mac}", mac=mac))
    if (n & int(network.netmask) != int(network.network_address)
            or n in (int(network.network_address), int(network.broadcast_address),
                     _ip_int(ep["server_ip"], msg("server")))):
        raise FlatNetworkError(msg("the address {ip} of NIC {mac} cannot be served on {network}",
                                   ip=ip, mac=mac, network=network))
    hostname = e.get("hostname") or ip.replace(".", "-")
    if len(hostname) > 253 or not _HOSTNAME.match(hostname):
        raise FlatNetworkError(msg("invalid hostname for NIC {mac}: {hostname!r}",
                                   mac=mac, hostname=hostname))
    entry = {"mac": mac, "ip": ip, "hostname": hostname, "default": bool(e.get("default"))}
    line = dnsmasq.host_line(entry)
    nic = (mac.replace(":", ""), entry, line, dnsmasq.host_file(entry, line), n)
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = nic
    return nic


_LAST = {}          # state_dir -> (scope, copies of the entries, wanted, MACs, addresses)


def _wanted(ep, network, entries):
    """{file name: checked NIC} for the entries; one-line errors on bad input.

    The list a server was last given is kept (copied): when the next list
    starts with it, as when NICs are appended, only the new tail is checked."""
    sd, scope = ep["state_dir"], (str(network), ep["server_ip"])
    if scope not in _MEMO and len(_MEMO) >= 64:
        _MEMO.clear()
    memo = _MEMO.setdefault(scope, {})
    last = _LAST.pop(sd, None)
    if last and last[0] == scope and len(entries) >= len(last[1]) \
            and entries[:len(last[1])] == last[1]:
        _, seen, wanted, macs, ips = last
        tail = entries[len(seen):]
    else:
        seen, wanted, macs, ips, tail = [], {}, set(), set(), entries
    for e in tail:
        nic = _nic(ep, network, memo, e)
        if nic[0] in macs:
            raise FlatNetworkError(msg("the MAC address {mac} is given twice", mac=nic[1]['mac']))
        if nic[4] in ips:
            raise FlatNetworkError(msg("the address {ip} is given twice", ip=nic[1]['ip']))
        macs.add(nic[0])
        ips.add(nic[4])
        wanted[nic[3]] = nic
    if len(_LAST) >= 256:
        _LAST.clear()
    _LAST[sd] = (scope, seen + [dict(e) for e in tail], wanted, macs, ips)
    return wanted


@contextlib.contextmanager
def _locked(state_dir):
    """One change at a time per server, across processes. The lock file also
    holds a generation, changed whenever the host files change (see _listing)."""
    os.makedirs(os.path.join(state_dir, "hosts"), mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


_LISTED = {}        # state_dir -> ((generation, mtime, inode) of the hosts dir, file names)


def _listing(state_dir, hosts, lock):
    """The host file names, from memory when neither this process nor another
    (generation) nor anything else (mtime) changed the directory since: a
    listing of a 10,000-file directory costs milliseconds."""
    st = os.stat(hosts)
    signature = (os.pread(lock, 64, 0), st.st_mtime_ns, st.st_ino)
    cached = _LISTED.pop(state_dir, None)
    if cached and cached[0] == signature:
        return cached[1]
    return dnsmasq.listing(hosts)


def _listed(state_dir, hosts, lock, names, changed):
    if changed:
        generation = os.urandom(8).hex().encode()
        os.pwrite(lock, generation, 0)
        os.ftruncate(lock, len(generation))
    st = os.stat(hosts)
    if len(_LISTED) >= 256:
        _LISTED.clear()
    _LISTED[state_dir] = ((os.pread(lock, 64, 0), st.st_mtime_ns, st.st_ino), names)


# ----------------------------------------------------------------- the server
def _ensure_veth(ep, dhcp_ns, bridge_name, network):
    host_ns = ep.get("host_netns")
    outer, inner = names.veth_names(ep["host"], ep["l3"])
    o, i = netns.link(outer, host_ns), netns.link(inner, dhcp_ns)
    if o is None or i is None or o.get("link_netnsid") is None:
        for name, ns, info in ((outer, host_ns, o), (inner, dhcp_ns, i)):
            if info is not None:
                netns.ip("link", "del", name, netns=ns)
        netns.ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", dhcp_ns,
                 netns=host_ns)
        o, i = netns.link(outer, host_ns), netns.link(inner, dhcp_ns)
    if o.get("master") != bridge_name:
        netns.ip("link", "set", outer, "master", bridge_name, netns=host_ns)
    if "UP" not in o.get("flags", []):
        netns.ip("link", "set", outer, "up", netns=host_ns)
    want = {f"{ep['server_ip']}/{network.prefixlen}", f"{METADATA_IP}/32"}
    have = {f"{a['local']}/{a['prefixlen']}" for a in i.get("addr_info", [])
            if a.get("family") == "inet"}
    for cidr in sorted(have - want):
        netns.ip("addr", "del", cidr, "dev", inner, netns=dhcp_ns)
    for cidr in sorted(want - have):
        netns.ip("addr", "add", cidr, "dev", inner, netns=dhcp_ns)
    if "UP" not in i.get("flags", []):
        netns.ip("link", "set", inner, "up", netns=dhcp_ns)
    return inner


_READY = {}         # state_dir -> (the ep it was set up for, _footing() then)
_READY_KEYS = ("host", "l3", "host_netns", "l2", "server_ip", "netmask", "gateway", "dns",
               "dns_domain", "metadata_cmd")


def _footing(ep):
    """What a set-up server stands on, read without a subprocess: the inodes of
    its namespaces, the pids of dnsmasq and of the metadata supervisor, and (in
    the root namespace) the bridge its veth is on. None when something is gone."""
    sd, host_ns = ep["state_dir"], ep.get("host_netns")
    try:
        inodes = tuple(os.stat(os.path.join(netns.NETNS_DIR, n)).st_ino
                       for n in (names.dhcp_namespace(ep["host"], ep["l3"]), host_ns) if n)
        master = None if host_ns else os.path.basename(os.readlink(
            f"/sys/class/net/{names.veth_names(ep['host'], ep['l3'])[0]}/master"))
    except OSError:
        return None
    pid = dnsmasq.running(sd)
    sup = supervisor.running(sd)[0] if ep.get("metadata_cmd") else None
    if pid is None or (ep.get("metadata_cmd") and sup is None):
        return None
    return inodes, master, pid, sup


def _ensure(ep, network):
    """Set the server up; a no-op (no subprocess) when this process set it up for
    the same ep and nothing it stands on changed since (see _footing)."""
    key = repr([ep.get(k) for k in _READY_KEYS])
    ready = _READY.get(ep["state_dir"])
    if ready and ready[0] == key and ready[1] is not None and ready[1] == _footing(ep):
        return
    _ensure_all(ep, network)
    if len(_READY) >= 256:
        _READY.clear()
    _READY[ep["state_dir"]] = (key, _footing(ep))


def _ensure_all(ep, network):
    host_ns, sd = ep.get("host_netns"), ep["state_dir"]
    if host_ns and not netns.exists(host_ns):
        raise FlatNetworkError(msg("the host namespace {host_ns} does not exist", host_ns=host_ns))
    for attempt in (1, 2):                 # a second try after a race with another server
        try:
            bridge_name = bridge.ensure(ep["l2"], netns=host_ns)
            break
        except bridge.BridgeError as e:
            if attempt == 2:
                raise FlatNetworkError(e.text) from None
    dhcp_ns = netns.ensure(names.dhcp_namespace(ep["host"], ep["l3"]))
    inner = _ensure_veth(ep, dhcp_ns, bridge_name, network)

    conf = dnsmasq.render_conf(ep, inner, network)
    conf_path = dnsmasq.paths(sd)["conf"]
    try:
        with open(conf_path) as f:
            conf_changed = f.read() != conf
    except FileNotFoundError:
        conf_changed = True
    if conf_changed:
        dnsmasq.write_atomic(conf_path, conf)
    pid = dnsmasq.running(sd)
    if pid is None:
        dnsmasq.start(sd, dhcp_ns)
    elif conf_changed:                      # SIGHUP does not re-read the config file
        dnsmasq.restart(sd, dhcp_ns)

    command = ep.get("metadata_cmd")
    sup, _child = supervisor.running(sd)
    if command:
        full = ["ip", "netns", "exec", dhcp_ns, *command]
        if sup and supervisor.command_of(sup) != full:
            supervisor.stop(sd, orphan_command=supervisor.command_of(sup)[4:])
            sup = None
        if not sup:
            supervisor.stop(sd, orphan_command=command)     # an orphaned child, stale files
            supervisor.start(sd, full, cwd=sd)
    elif sup:
        supervisor.stop(sd)


def ensure_server(ep):
    network = _check(ep)
    with _locked(ep["state_dir"]):
        _ensure(ep, network)


def _subset(ep, network, entries, macs):
    """{file name: checked NIC} for the entries of some MACs (see set_entries)."""
    memo = _MEMO.get((str(network), ep["server_ip"]), {})
    wanted, seen, ips = {}, set(), set()
    for e in entries:
        nic = _nic(ep, network, memo, e)
        if nic[0] not in macs:
            raise FlatNetworkError(msg("the MAC address {mac} is not among the MACs to set",
                                       mac=nic[1]['mac']))
        if nic[0] in seen:
            raise FlatNetworkError(msg("the MAC address {mac} is given twice", mac=nic[1]['mac']))
        if nic[4] in ips:
            raise FlatNetworkError(msg("the address {ip} is given twice", ip=nic[1]['ip']))
        seen.add(nic[0])
        ips.add(nic[4])
        wanted[nic[3]] = nic
    return wanted


def set_entries(ep, entries, macs=None):
    """Make the server answer exactly ``entries``; or, given ``macs``, make its
    entries for those MACs exactly ``entries`` (each one of ``macs``) and leave
    the others as they are: the work then does not grow with the others.
    Returns what was done: {"added", "changed", "removed": counts, "dnsmasq":
    "none" | "sighup" | "restarted" | "started", "pid": dnsmasq's pid
    afterwards, "total": the entries it now holds}."""
    network = _check(ep)
    sd = ep["state_dir"]
    hosts = dnsmasq.paths(sd)["hosts"]
    with _locked(sd) as lock:
        have_all = have = _listing(sd, hosts, lock)
        if macs is None:
            wanted = _wanted(ep, network, entries)
        else:
            keys = {str(m).lower().replace(":", "") for m in macs}
            wanted = _subset(ep, network, entries, keys)
            have = {f for f in have_all if f[:12] in keys}
        new_files = wanted.keys() - have
        gone_files = have - wanted.keys()
        new_macs, gone_macs = {f[:12] for f in new_files}, {g[:12] for g in gone_files}
        added = [wanted[f] for f in new_files if f[:12] not in gone_macs]
        changed = [wanted[f] for f in new_files if f[:12] in gone_macs]
        removed = [g for g in gone_files if g[:12] not in new_macs]
        keep = {(nic[1]["mac"], nic[1]["ip"]) for nic in changed}
        stale = [pair for g in gone_files
                 if (pair := dnsmasq.read_pair(os.path.join(hosts, g))) and pair not in keep]
        pid = dnsmasq.running(sd)
        if pid and any(not nic[1]["default"] for nic in added + changed) \
                and not dnsmasq.tainted(sd, pid):
            dnsmasq.taint(sd, pid)          # before dnsmasq can read a set: line
        for nic in added + changed:
            dnsmasq.write_atomic(os.path.join(hosts, nic[3]), nic[2])
        for g in gone_files:
            try:
                os.unlink(os.path.join(hosts, g))
            except FileNotFoundError:
                pass
        have_all -= gone_files
        have_all |= new_files
        _listed(sd, hosts, lock, have_all, bool(new_files or gone_files))
        action = "none"
        if pid is None:
            _ensure(ep, network)
            action = "started"
        elif changed or removed:
            if dnsmasq.tainted(sd, pid):
                dnsmasq.restart(sd, names.dhcp_namespace(ep["host"], ep["l3"]))
                action = "restarted"
            else:
                dhcp_ns = names.dhcp_namespace(ep["host"], ep["l3"])
                inner = names.veth_names(ep["host"], ep["l3"])[1]
                try:
                    dnsmasq.release(dhcp_ns, inner, ep["server_ip"], stale)
                except FlatNetworkError:
                    dnsmasq.stop(sd)        # the restart below prunes the leases instead
                new = dnsmasq.reload(sd, dhcp_ns, pid, files=len(have_all)) \
                    if dnsmasq.running(sd) else dnsmasq.start(sd, dhcp_ns)
                action = "sighup" if new == pid else "restarted"
        pid = dnsmasq.running(sd)
        dnsmasq.rotate_log(sd, pid)
        return {"added": len(added), "changed": len(changed), "removed": len(removed),
                "dnsmasq": action, "pid": pid, "total": len(have_all)}


def remove_server(ep):
    sd = ep.get("state_dir")
    _READY.pop(sd, None)
    _LAST.pop(sd, None)
    _LISTED.pop(sd, None)
    dhcp_ns = names.dhcp_namespace(ep["host"], ep["l3"])
    outer, inner = names.veth_names(ep["host"], ep["l3"])
    if sd and os.path.isdir(sd):
        with _locked(sd):
            supervisor.stop(sd, orphan_command=ep.get("metadata_cmd"))
            dnsmasq.stop(sd)
    host_ns = ep.get("host_netns")
    if (not host_ns or netns.exists(host_ns)) and netns.link(outer, host_ns) is not None:
        netns.ip("link", "del", outer, netns=host_ns)
    if netns.exists(dhcp_ns):
        if netns.link(inner, dhcp_ns) is not None:
            netns.ip("link", "del", inner, netns=dhcp_ns)
        _kill_leftovers(dhcp_ns, sd, ep.get("metadata_cmd"))
        netns.remove(dhcp_ns)
    if sd:
        shutil.rmtree(sd, ignore_errors=True)


def _kill_leftovers(ns, sd, command):
    """Processes of ours still inside a DHCP namespace: a dnsmasq of this
    server, or its metadata command (say, one whose pid files were lost)."""
    marker = f"--conf-file={dnsmasq.paths(sd)['conf']}" if sd else None
    for pid in netns.pids(ns):
        argv = proc.cmdline(pid)
        ours = (marker and marker in argv) or (command and argv[-len(command):] == list(command))
        if ours:
            proc.stop(pid, lambda a, argv=argv: a == argv)


def status(ep):
    sd = ep["state_dir"]
    if not os.path.isdir(sd):
        return {"dnsmasq": False, "metadata": False}
    sup, child = supervisor.running(sd)
    return {"dnsmasq": dnsmasq.running(sd) is not None,
            "metadata": bool(ep.get("metadata_cmd")) and sup is not None and child is not None}


# ------------------------------------------------------- simulated hosts
def host_namespace(host_uuid):
    return names.host_namespace(host_uuid)


def ensure_host_namespace(host_uuid):
    name = names.host_namespace(host_uuid)
    return name if netns.exists(name) else netns.ensure(name)


def remove_host_namespace(host_uuid):
    """Remove a simulated host's namespace with its bridges and the host ends
    of its veths (whose DHCP-side peers go with them). Remove the host's
    servers first (remove_server) to stop their processes and namespaces."""
    name = names.host_namespace(host_uuid)
    netns.remove(name)
