"""The Flat provider on a REAL host, through the installed zstack-cli command (SPEC §9).

The machine's own libvirtd (conftest.py's session fixture) is the host of realcloud.py's
cloud: AddKVMHost managementIp=127.0.0.1 (qemu:///system), storage in a directory QEMU
can traverse, an L2 network on a zs-prefixed link made there. With Flat DHCP
and Userdata on the L3, CreateVmInstance makes a real QEMU domain (TCG, no guest OS) whose
tap is on the bridge br_<link> in the ROOT namespace, next to the host end of the DHCP
namespace's veth. A throwaway namespace standing for the guest (a veth with the VM's MAC,
plugged into that bridge) gets the VM's lease from busybox udhcpc and reads its meta-data
from the DHCP server address; stopping the VM takes the lease away; deleting the host
(Enforcing) removes the DHCP namespace and its processes.

Everything made is named zs*, and removed by name afterwards even when the test fails:
the domain, the plugged namespace, the DHCP namespace (with its processes, by pid), the
veth, the link and the bridge the product made on it.
"""

import json
import os
import secrets
import shutil
import subprocess
import time

import pytest

from tests.integration.realcloud import RealCloud, netns_names, netns_pids, remove_netns
from tests.integration.realhost import SYSTEM_URI, virsh
from tests.waiting import alive

pytestmark = pytest.mark.integration

if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "dnsmasq", "busybox", "virsh")):
    pytest.skip("needs root, ip, dnsmasq, busybox and virsh", allow_module_level=True)

NET = "10.252.0"
SCRIPT = '#!/bin/sh\n[ "$1" = bound ] && env > "$ZS_OUT"\nexit 0\n'
FETCH = ("import sys, urllib.request\n"
         "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end='')\n")


def sh(*args, check=True, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def on_bridge(bridge):
    """{name: link} of the interfaces enslaved to ``bridge`` (root namespace)."""
    out = sh("ip", "-j", "link", "show", "master", bridge)
    return {link["ifname"]: link for link in json.loads(out.stdout or "[]")}


@pytest.fixture
def cloud(libvirtd, cli):
    """The real-host cloud with Flat DHCP and Userdata (and a DNS) on its L3; ``plugged``:
    the namespaces standing for guests, removed first."""
    with RealCloud(cli, net=NET, flat=("DHCP", "Userdata"), dns=f"{NET}.53") as c:
        c.plugged = []
        try:
            yield c.build()
        finally:
            for ns in c.plugged:
                remove_netns(ns)


def batch(cloud, *lines):
    """Several commands in one process (``zstack-cli -f``): after its first change
    to a server, that process hands it one VM's entries at a time."""
    path = os.path.join(cloud.work, "batch.zs")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = subprocess.run([cloud.cli, "-f", path], env=cloud.zs.env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr, (lines, out.stderr)


def plug(zs, bridge, mac):
    """A namespace standing for the guest: a veth carrying the VM's MAC, its peer on the
    bridge in the root namespace."""
    tag = secrets.token_hex(3)
    ns, inside, outside = f"zsv-{tag}", f"zsvi{tag}", f"zsvo{tag}"
    sh("ip", "netns", "add", ns)
    zs.plugged.append(ns)       # the veth pair goes with the namespace
    sh("ip", "link", "add", inside, "netns", ns, "type", "veth", "peer", "name", outside)
    sh("ip", "-n", ns, "link", "set", inside, "address", mac)
    sh("ip", "-n", ns, "link", "set", inside, "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "set", outside, "master", bridge)
    sh("ip", "link", "set", outside, "up")
    return ns, inside


def lease(zs, ns, ifname):
    """The lease busybox udhcpc gets in ``ns`` (its script's environment), or None."""
    script = os.path.join(zs.work, "udhcpc.sh")
    with open(script, "w") as f:
        f.write(SCRIPT)
    os.chmod(script, 0o755)
    out = os.path.join(zs.work, f"lease-{ns}")
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run(["ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", ifname, "-f", "-q",
                    "-n", "-t", "4", "-T", "1", "-O", "hostname", "-s", script],
                   env=dict(os.environ, ZS_OUT=out), capture_output=True, timeout=30)
    if not os.path.exists(out):
        return None
    with open(out) as f:
        return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)


def fetch(ns, url):
    return sh("ip", "netns", "exec", ns, shutil.which("python3") or "python3", "-c", FETCH,
              url, timeout=30).stdout


def test_flat_dhcp_and_userdata_on_a_real_host(cloud):
    zs, i = cloud, cloud.ids
    added = cloud.replies["host"]
    assert added["libvirtUri"] == SYSTEM_URI and added["status"] == "Connected"
    vm, vm2 = zs.domain(), zs.domain()
    created = zs.create_vm("systemTags=hostname::it-flat-vm", vm=vm)
    assert created["state"] == "Running" and created["hostUuid"] == i["host"]
    nic = created["vmNics"][0]
    # the server's address: taken from the range with the first server, recorded on the L3
    tag = zs("QuerySystemTag", f"resourceUuid={i['l3']}", "tag~=flatNetwork::DhcpServer%")
    server_ip = tag["inventories"][0]["tag"].split("::")[2]
    assert server_ip.startswith(f"{NET}.") and server_ip != nic["ip"]

    # the domain's tap and the DHCP namespace's veth: both on br_<link>, in the root namespace
    bridge = f"br_{zs.link}"
    rows = [line.split() for line in virsh("domiflist", vm).stdout.splitlines()[2:]]
    taps = [r for r in rows if len(r) == 5]
    assert len(taps) == 1 and taps[0][1] == "bridge" and taps[0][2] == bridge \
        and taps[0][4] == nic["mac"], rows
    ports = on_bridge(bridge)
    dhcp_ns = f"zsd-{i['host'][:8]}-{i['l3'][:8]}"
    assert dhcp_ns in netns_names()
    outer = [n for n in ports if n.startswith("zsdo")]
    assert taps[0][0] in ports and zs.link in ports and len(outer) == 1, ports
    assert ports[outer[0]].get("link_netnsid") is not None      # its peer is in dhcp_ns
    running = {comm(p) for p in netns_pids(dhcp_ns)}
    assert "dnsmasq" in running and len(running) > 1, running     # and the metadata server

    # the guest's lease: address, router, DNS, hostname, from this host's server
    ns, ifname = plug(zs, bridge, nic["mac"])
    got = lease(zs, ns, ifname)
    assert got is not None, "the VM's NIC got no lease from the host's DHCP server"
    assert got["ip"] == nic["ip"] and got["serverid"] == server_ip
    assert got["router"] == f"{NET}.1" and got["dns"].split() == [f"{NET}.53"]
    assert got["hostname"] == "it-flat-vm" and got["subnet"] == "255.255.255.0"

    # its meta-data, from the server address (the metadata server answers by source IP)
    sh("ip", "-n", ns, "addr", "add", f"{nic['ip']}/24", "dev", ifname)
    deadline = time.monotonic() + 10
    while True:
        try:
            iid = fetch(ns, f"http://{server_ip}/latest/meta-data/instance-id")
            break
        except subprocess.CalledProcessError as e:     # the server may still be binding
            if time.monotonic() > deadline:
                raise AssertionError(e.stderr) from None
            time.sleep(0.2)
    assert iid == vm
    assert fetch(ns, f"http://{server_ip}/latest/meta-data/local-hostname") == "it-flat-vm"
    sh("ip", "-n", ns, "addr", "flush", "dev", ifname)

    # a stopped VM has no lease, while the server stays for another VM of the host
    # (one process: the second VM reaches the server with all entries, the stop alone)
    batch(zs, f"CreateVmInstance name=it-vm2 instanceOfferingUuid={i['offering']} "
          f"imageUuid={i['image']} l3NetworkUuids={i['l3']} resourceUuid={vm2}",
          f"StopVmInstance uuid={vm} type=cold")
    assert zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"] == "Stopped"
    nic2 = zs("QueryVmNic", f"vmInstanceUuid={vm2}")["inventories"][0]
    assert "dnsmasq" in {comm(p) for p in netns_pids(dhcp_ns)}
    assert lease(zs, ns, ifname) is None, "a stopped VM keeps its lease"
    sh("ip", "-n", ns, "link", "set", ifname, "address", nic2["mac"])
    got = lease(zs, ns, ifname)        # the server still answers the host's other VM
    assert got is not None and got["ip"] == nic2["ip"] and got["hostname"] == \
        nic2["ip"].replace(".", "-")

    # deleting the host removes the DHCP namespace, its veth and its processes
    pids = netns_pids(dhcp_ns)
    assert pids
    zs("DeleteHost", f"uuid={i['host']}", "deleteMode=Enforcing")
    assert dhcp_ns not in netns_names()
    assert not [n for n in on_bridge(bridge) if n.startswith("zsdo")]
    assert sh("ip", "link", "show", outer[0], check=False).returncode != 0
    assert not [p for p in pids if alive(p)], "processes left behind"
    home = os.path.join(zs.work, "home")
    assert not sh("pgrep", "-f", home, check=False).stdout.strip()
    zs("DeleteZone", f"uuid={i['zone']}", "deleteMode=Enforcing")
