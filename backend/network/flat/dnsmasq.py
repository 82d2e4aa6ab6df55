"""dnsmasq in static mode inside a DHCP namespace: its config, its per-NIC host
files, and its process.

State directory layout::

    dnsmasq.conf   dnsmasq.pid   dnsmasq.log   leases   tagged.pid
    hosts/<mac>.<hash>[.nd]       one dhcp-host line per NIC

A host file's name carries the MAC, a hash of its line and ``.nd`` when the NIC
is not on its VM's default L3 (its line then carries ``set:zsnodef``), so the
current state is read from one directory listing.

What reaches dnsmasq 2.90, and how (checked on this machine):

- ``dhcp-hostsdir`` is watched with inotify: a NEW file is read at once (no
  signal). A deleted file is NOT forgotten, and a rewritten file only ADDS its
  new line while the old one stays, until SIGHUP or a restart; a change is
  therefore written as a new file (new hash) plus the old file's removal,
  followed by a reload.
- A lease outlives its host line: while the removed MAC's infinite lease is
  held, the address is refused to the next MAC that is given it ("not using
  configured address ... because it is leased to ..."). So on every reload the
  leases of removed or changed (MAC, IP) pairs go: a DHCPRELEASE is sent for
  them before a SIGHUP, and the lease file is pruned before every start.
- SIGHUP crash: serving a host whose line has ``set:`` links that line's tag
  nodes into the request's tag chain (rfc2131.c, ``list->list->next =
  netid``); a SIGHUP frees the lines, and with them the chain they now point
  into. Seen here: with this config, death at the SIGHUP itself (32 of 32
  rounds of serve-then-SIGHUP); with another (log-dhcp, 30 more lines), alive
  after the SIGHUP but dead at the tagged host's next DHCP packet (6 of 12).
  Never with untagged lines only (0 of 40). A pid check after a SIGHUP cannot
  catch the second kind, so a dnsmasq that may hold a tagged line
  (``tagged.pid`` names it) is restarted instead of reloaded; the others get
  SIGHUP and a liveness check.
"""

import ctypes
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import struct
import threading
import time

from . import netns, proc
from ...i18n import msg
from .errors import FlatNetworkError

NODEF_TAG = "zsnodef"
LOG_MAX = 8 * 1024 * 1024
CLONE_NEWNET = 0x40000000


def paths(state_dir):
    j = os.path.join
    return {"conf": j(state_dir, "dnsmasq.conf"), "pid": j(state_dir, "dnsmasq.pid"),
            "log": j(state_dir, "dnsmasq.log"), "leases": j(state_dir, "leases"),
            "hosts": j(state_dir, "hosts"), "tagged": j(state_dir, "tagged.pid")}


# ------------------------------------------------------------------ config
def render_conf(ep, ifname, network):
    p = paths(ep["state_dir"])
    gateway, dns, domain = ep.get("gateway"), list(ep.get("dns") or []), ep.get("dns_domain")
    nodef, isdef = f"tag:{NODEF_TAG}", f"tag:!{NODEF_TAG}"
    lines = [
        f"# zstack-cli Flat DHCP: L3 {ep['l3']} on host {ep['host']} (generated; do not edit)",
        f"interface={ifname}", "except-interface=lo", "bind-interfaces",
        "port=0", "no-resolv", "no-hosts", "user=root",
        f"pid-file={p['pid']}", f"log-facility={p['log']}", f"dhcp-leasefile={p['leases']}",
        f"dhcp-hostsdir={p['hosts']}",
        f"dhcp-range={network.network_address},static,{network.netmask},infinite",
        f"dhcp-lease-max={max(1024, min(network.num_addresses, 1 << 20))}",
    ]
    # dnsmasq offers itself as the router unless told otherwise: say it for everyone.
    if gateway:
        lines += [f"dhcp-option={isdef},option:router,{gateway}",
                  f"dhcp-option={nodef},option:router"]
    else:
        lines.append("dhcp-option=option:router")
    if dns:
        lines.append(f"dhcp-option={isdef},option:dns-server,{','.join(dns)}")
    if domain:
        lines.append(f"dhcp-option=option:domain-name,{domain}")
    metadata = f"169.254.169.254/32,{ep['server_ip']}"
    if gateway:
        route = "option:classless-static-route"
        lines.append(f"dhcp-option={isdef},{route},{metadata},0.0.0.0/0,{gateway}")
        lines.append(f"dhcp-option={nodef},{route},{metadata}")
    else:
        lines.append(f"dhcp-option=option:classless-static-route,{metadata}")
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# -------------------------------------------------------------- host files
def host_line(entry):
    tag = "" if entry["default"] else f"set:{NODEF_TAG},"
    return f"{entry['mac']},{tag}{entry['ip']},{entry['hostname']},infinite\n"


def host_file(entry, line):
    digest = hashlib.blake2s(line.encode(), digest_size=6).hexdigest()
    return f"{entry['mac'].replace(':', '')}.{digest}{'' if entry['default'] else '.nd'}"


def listing(hosts_dir):
    """The names of the host files present (each starts with the 12 hex digits of a MAC)."""
    return {n for n in os.listdir(hosts_dir) if n[0] != "."}


def read_pair(path):
    """(mac, ip) of a host file, or None."""
    try:
        with open(path) as f:
            fields = [x for x in f.read().strip().split(",") if not x.startswith("set:")]
        return fields[0].lower(), fields[1]
    except (OSError, IndexError):
        return None


def current_pairs(hosts_dir):
    pairs = set()
    for name in listing(hosts_dir):
        pair = read_pair(os.path.join(hosts_dir, name))
        if pair:
            pairs.add(pair)
    return pairs


def prune_leases(state_dir, keep):
    """Drop the leases whose (MAC, IP) is not in ``keep`` (dnsmasq must be stopped)."""
    path = paths(state_dir)["leases"]
    try:
        with open(path) as f:
            lines = f.readlines()
    except FileNotFoundError:
        return 0
    kept = [line for line in lines
            if len(f := line.split()) >= 3 and (f[1].lower(), f[2]) in keep]
    if len(kept) != len(lines):
        write_atomic(path, "".join(kept))
    return len(lines) - len(kept)


# ----------------------------------------------------------------- process
def _marker(state_dir):
    return f"--conf-file={paths(state_dir)['conf']}"


def running(state_dir):
    p = paths(state_dir)
    return proc.alive(p["pid"], _marker(state_dir))


def tainted(state_dir, pid):
    """True when dnsmasq ``pid`` may hold a line with a set: tag (no SIGHUP then)."""
    return proc.read_pid(paths(state_dir)["tagged"]) == pid


def taint(state_dir, pid):
    proc.write_pid(paths(state_dir)["tagged"], pid)


def rotate_log(state_dir, pid=None):
    log = paths(state_dir)["log"]
    try:
        if os.path.getsize(log) <= LOG_MAX:
            return
    except OSError:
        return
    os.replace(log, log + ".1")
    if pid:
        os.kill(pid, signal.SIGUSR2)        # dnsmasq reopens its log file


def start(state_dir, dhcp_ns):
    """Start dnsmasq (its leases pruned to the current host files); its pid."""
    if shutil.which("dnsmasq") is None:
        raise FlatNetworkError(msg("dnsmasq is not installed (Debian: apt-get install "
                                   "dnsmasq-base)"))
    p = paths(state_dir)
    names = listing(p["hosts"])
    prune_leases(state_dir, current_pairs(p["hosts"]))
    rotate_log(state_dir)
    try:
        os.unlink(p["pid"])
    except FileNotFoundError:
        pass
    netns.run(["dnsmasq", f"--conf-file={p['conf']}"], netns=dhcp_ns)
    deadline = time.monotonic() + 5
    while (pid := running(state_dir)) is None:
        if time.monotonic() > deadline:
            raise FlatNetworkError(msg("dnsmasq did not stay up in {dhcp_ns} (see {log})",
                                       dhcp_ns=dhcp_ns, log=p['log']))
        time.sleep(0.02)
    if any(n.endswith(".nd") for n in names):
        taint(state_dir, pid)
    return pid


def stop(state_dir):
    pid = running(state_dir)
    if pid and not proc.stop(pid, _marker(state_dir)):
        raise FlatNetworkError(msg("dnsmasq (pid {pid}) does not stop", pid=pid))


def restart(state_dir, dhcp_ns):
    stop(state_dir)
    return start(state_dir, dhcp_ns)


def reload(state_dir, dhcp_ns, pid, check_after=0.1, files=None, wait_max=5.0):
    """SIGHUP, then make sure dnsmasq survived it (else start it); its pid.

    With ``files`` (how many host files there are), the check comes once dnsmasq
    has logged reading them all again (``read <hosts>/<file>``, one line each),
    plus ``check_after`` / 10, rather than after a fixed ``check_after``: a
    reload of 1,000 files then costs milliseconds, not 100 ms, and a slow one
    (10,000 files) is waited for, up to ``wait_max``."""
    try:
        start_at = os.path.getsize(paths(state_dir)["log"])
    except OSError:
        files = None
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        pass
    if not files or not _logged_reads(state_dir, start_at, files, wait_max, pid):
        time.sleep(check_after)
    else:
        time.sleep(check_after / 10)
    if running(state_dir) == pid:
        rotate_log(state_dir, pid)
        return pid
    return start(state_dir, dhcp_ns)


def _logged_reads(state_dir, offset, files, wait_max, pid):
    """Whether dnsmasq ``pid`` logged reading ``files`` host files past ``offset``
    of its log within ``wait_max`` seconds (False as soon as it is dead)."""
    p = paths(state_dir)
    marker = f" read {p['hosts']}{os.sep}".encode()
    deadline = time.monotonic() + wait_max
    seen, tail = 0, b""
    try:
        with open(p["log"], "rb") as log:
            log.seek(offset)
            while True:
                chunk = log.read()
                if chunk:
                    lines = (tail + chunk).split(b"\n")
                    tail = lines.pop()
                    seen += sum(1 for line in lines if marker in line)
                    if seen >= files:
                        return True
                elif not proc.matches(pid, _marker(state_dir)) or time.monotonic() > deadline:
                    return False
                else:
                    time.sleep(0.001)
    except OSError:
        return False


# ------------------------------------------------------------ DHCPRELEASE
def _release_packet(mac, ip, server_ip):
    chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\0")
    zero = b"\0\0\0\0"
    xid = int.from_bytes(os.urandom(4), "big")
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", 1, 1, 6, 0, xid, 0, 0,
                       socket.inet_aton(ip), zero, zero, zero, chaddr, b"", b"", 0x63825363)
    return head + bytes([53, 1, 7, 54, 4]) + socket.inet_aton(server_ip) + bytes([255])


def release(dhcp_ns, ifname, server_ip, pairs):
    """Tell dnsmasq the leases of ``pairs`` [(mac, ip)] are released, as the
    ``dhcp_release`` tool does: a DHCPRELEASE sent from inside the namespace,
    bound to the server's interface. Best effort (a restart prunes the lease
    file anyway)."""
    if not pairs:
        return
    errors = []

    def work():
        try:
            fd = os.open(os.path.join(netns.NETNS_DIR, dhcp_ns), os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:   # this thread only
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
                for mac, ip in pairs:
                    s.sendto(_release_packet(mac, ip, server_ip), (server_ip, 67))
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=work, name="zs-dhcp-release", daemon=True)
    t.start()
    t.join(10)
    if errors:
        raise FlatNetworkError(msg("cannot release leases in {dhcp_ns}: {error}",
                                   dhcp_ns=dhcp_ns, error=errors[0]))


def network_of(ep):
    try:
        return ipaddress.IPv4Network(f"{ep['server_ip']}/{ep['netmask']}", strict=False)
    except (KeyError, ValueError) as e:
        raise FlatNetworkError(msg("invalid server address or netmask: {error}",
                                   error=e)) from None
