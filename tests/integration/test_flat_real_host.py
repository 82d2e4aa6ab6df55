"""The Flat provider on a REAL host, through the installed zstack-cli command (SPEC §9).

The machine's own libvirtd (conftest.py's session fixture) is the host, as in
test_real_host_cli.py: AddKVMHost managementIp=127.0.0.1 (qemu:///system), storage in a
directory QEMU can traverse, an L2 network on a zs-prefixed link made here. With Flat DHCP
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
import tempfile
import time

import pytest

from tests.integration.realhost import command, SYSTEM_URI, uid, virsh

pytestmark = pytest.mark.integration

if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "dnsmasq", "busybox", "virsh")):
    pytest.skip("needs root, ip, dnsmasq, busybox and virsh", allow_module_level=True)

NET = "10.252.0"
SCRIPT = '#!/bin/sh\n[ "$1" = bound ] && env > "$ZS_OUT"\nexit 0\n'
FETCH = ("import sys, urllib.request\n"
         "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end='')\n")


def sh(*args, check=True, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)


def netns_names():
    return sh("ip", "netns", "list").stdout.split()


def netns_pids(ns):
    out = sh("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in out.stdout.split()] if out.returncode == 0 else []


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def on_bridge(bridge):
    """{name: link} of the interfaces enslaved to ``bridge`` (root namespace)."""
    out = sh("ip", "-j", "link", "show", "master", bridge)
    return {link["ifname"]: link for link in json.loads(out.stdout or "[]")}


def remove_netns(ns):
    """Stop what still runs in a namespace of ours (by pid), then delete it."""
    for pid in netns_pids(ns):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    sh("ip", "netns", "del", ns, check=False)


@pytest.fixture
def cloud(libvirtd, cli):
    """A real-host cloud's fixed pieces, and the clean-up of everything it can leave."""
    work = tempfile.mkdtemp(prefix="zs-it-flat-", dir="/var/tmp")
    os.chmod(work, 0o755)       # QEMU (libvirt-qemu) reaches the disks through it
    link = "zsit" + secrets.token_hex(3)
    if sh("ip", "link", "add", link, "type", "dummy", check=False).returncode != 0:
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", link + "p")
    env = dict(os.environ, ZSTACK_HOME=os.path.join(work, "home"), ZSTACK_LANG="en")
    ids = {k: uid() for k in ("zone", "cluster", "ps", "host", "bs", "image", "offering",
                              "l2", "l3", "vm", "vm2")}
    run = command(cli, os.path.join(work, "home"))

    def batch(*lines):
        """Several commands in one process (``zstack-cli -f``): after its first change
        to a server, that process hands it one VM's entries at a time."""
        path = os.path.join(work, "batch.zs")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        out = subprocess.run([cli, "-f", path], env=env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0 and "Traceback" not in out.stderr, (lines, out.stderr)

    run.batch = batch
    run.work, run.link, run.ids, run.made = work, link, ids, []
    try:
        yield run
    finally:
        for ns in run.made:
            remove_netns(ns)
        subprocess.run([cli, "DeleteHost", f"uuid={ids['host']}", "deleteMode=Enforcing"],
                       env=env, capture_output=True, timeout=120)
        for vm in (ids["vm"], ids["vm2"]):
            virsh("destroy", vm, check=False)
            virsh("undefine", vm, check=False)
        for ns in netns_names():
            if ns.startswith(f"zsd-{ids['host'][:8]}-"):
                remove_netns(ns)
        from backend.network.flat.names import veth_names

        for dev in (veth_names(ids["host"], ids["l3"])[0], f"br_{link}", link):
            sh("ip", "link", "del", dev, check=False)
        shutil.rmtree(work, ignore_errors=True)


def build(zs):
    """Zone, cluster, local storage, the real host, image, offering, L2/L3 with a range."""
    i, work = zs.ids, zs.work
    zs("CreateZone", "name=it-zone", f"resourceUuid={i['zone']}")
    zs("CreateCluster", "name=it-cluster", f"zoneUuid={i['zone']}", "hypervisorType=KVM",
       f"resourceUuid={i['cluster']}")
    zs("AddLocalPrimaryStorage", "name=it-ps", f"url={work}/ps", f"zoneUuid={i['zone']}",
       f"resourceUuid={i['ps']}")
    zs("AttachPrimaryStorageToCluster", f"primaryStorageUuid={i['ps']}",
       f"clusterUuid={i['cluster']}")
    added = zs("AddKVMHost", "name=it-host", f"clusterUuid={i['cluster']}",
               "managementIp=127.0.0.1", "username=root", "password=password",
               f"resourceUuid={i['host']}")
    assert added["libvirtUri"] == SYSTEM_URI and added["status"] == "Connected"
    zs("AddSftpBackupStorage", "name=it-bs", f"url={work}/bs", "hostname=127.0.0.1",
       "username=root", "password=password", f"resourceUuid={i['bs']}")
    zs("AttachBackupStorageToZone", f"backupStorageUuid={i['bs']}", f"zoneUuid={i['zone']}")
    template = os.path.join(work, "tiny.qcow2")
    sh("qemu-img", "create", "-q", "-f", "qcow2", template, "64M")
    zs("AddImage", "name=it-image", "format=qcow2", f"url={template}",
       f"backupStorageUuids={i['bs']}", f"resourceUuid={i['image']}")
    zs("CreateInstanceOffering", "name=it-small", "cpuNum=1", "memorySize=64M",
       f"resourceUuid={i['offering']}")
    zs("CreateL2NoVlanNetwork", "name=it-l2", f"zoneUuid={i['zone']}",
       f"physicalInterface={zs.link}", f"resourceUuid={i['l2']}")
    zs("AttachL2NetworkToCluster", f"l2NetworkUuid={i['l2']}", f"clusterUuid={i['cluster']}")
    zs("CreateL3Network", "name=it-l3", f"l2NetworkUuid={i['l2']}", f"resourceUuid={i['l3']}")
    zs("AddIpRange", f"l3NetworkUuid={i['l3']}", "name=it-range", f"startIp={NET}.10",
       f"endIp={NET}.20", "netmask=255.255.255.0", f"gateway={NET}.1")
    zs("AddDnsToL3Network", f"l3NetworkUuid={i['l3']}", f"dns={NET}.53")


def plug(zs, bridge, mac):
    """A namespace standing for the guest: a veth carrying the VM's MAC, its peer on the
    bridge in the root namespace."""
    tag = secrets.token_hex(3)
    ns, inside, outside = f"zsv-{tag}", f"zsvi{tag}", f"zsvo{tag}"
    sh("ip", "netns", "add", ns)
    zs.made.append(ns)          # the veth pair goes with the namespace
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
    build(zs)
    zs("AttachNetworkServiceToL3Network", f"l3NetworkUuid={i['l3']}",
       "networkServices={'Flat':['DHCP','Userdata']}")
    created = zs("CreateVmInstance", "name=it-vm", f"instanceOfferingUuid={i['offering']}",
                 f"imageUuid={i['image']}", f"l3NetworkUuids={i['l3']}",
                 f"resourceUuid={i['vm']}", "systemTags=hostname::it-flat-vm")
    assert created["state"] == "Running" and created["hostUuid"] == i["host"]
    nic = created["vmNics"][0]
    # the server's address: taken from the range with the first server, recorded on the L3
    tag = zs("QuerySystemTag", f"resourceUuid={i['l3']}", "tag~=flatNetwork::DhcpServer%")
    server_ip = tag["inventories"][0]["tag"].split("::")[2]
    assert server_ip.startswith(f"{NET}.") and server_ip != nic["ip"]

    # the domain's tap and the DHCP namespace's veth: both on br_<link>, in the root namespace
    bridge = f"br_{zs.link}"
    rows = [line.split() for line in virsh("domiflist", i["vm"]).stdout.splitlines()[2:]]
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
    assert iid == i["vm"]
    assert fetch(ns, f"http://{server_ip}/latest/meta-data/local-hostname") == "it-flat-vm"
    sh("ip", "-n", ns, "addr", "flush", "dev", ifname)

    # a stopped VM has no lease, while the server stays for another VM of the host
    # (one process: the second VM reaches the server with all entries, the stop alone)
    zs.batch(f"CreateVmInstance name=it-vm2 instanceOfferingUuid={i['offering']} "
             f"imageUuid={i['image']} l3NetworkUuids={i['l3']} resourceUuid={i['vm2']}",
             f"StopVmInstance uuid={i['vm']} type=cold")
    assert zs("QueryVmInstance", f"uuid={i['vm']}")["inventories"][0]["state"] == "Stopped"
    nic2 = zs("QueryVmNic", f"vmInstanceUuid={i['vm2']}")["inventories"][0]
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
