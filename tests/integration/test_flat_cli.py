"""The Flat provider end to end, through the zstack-cli command (SPEC §9; seed §1, §2):
a cloud on simulated hosts gets Flat DHCP and Userdata on its L3; a namespace
standing for a VM's NIC (its MAC, on its host's bridge) gets the VM's lease from
busybox udhcpc, then reads its user-data from the metadata server; stopping the
VM takes its lease away; deleting the zone leaves no namespace behind."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from tests.clouds import HOST1, HOST2, IMAGE, L3, OFFERING, VM1, ZONE, environment

pytestmark = pytest.mark.integration

if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "dnsmasq", "busybox", "wget")):
    pytest.skip("needs root, ip, dnsmasq, busybox and wget", allow_module_level=True)

SCRIPT = '#!/bin/sh\n[ "$1" = bound ] && env > "$ZS_OUT"\nexit 0\n'
YAML = "#cloud-config\nusers:\n  - name: foobar\n    groups: users, admin\n"


def sh(*args, check=True, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture
def cloud(tmp_path, cli):
    image = tmp_path / "tiny.qcow2"
    sh("qemu-img", "create", "-f", "qcow2", str(image), "32M")
    (tmp_path / "env.zs").write_text(environment(tmp_path, image))
    env = dict(os.environ, ZSTACK_HOME=str(tmp_path / "home"))
    made = []

    def run(*words, expect=0):
        out = subprocess.run([cli, *words], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == expect, (words, out.stdout, out.stderr)
        if expect != 0 or words[0].startswith("-") or not out.stdout.strip():
            return out.stderr
        return json.loads(out.stdout)
    run("-f", str(tmp_path / "env.zs"))
    run.made = made
    run.tmp = tmp_path
    try:
        yield run
    finally:
        for ns in made:
            sh("ip", "netns", "del", ns, check=False)
        subprocess.run([cli, "DeleteZone", f"uuid={ZONE}", "deleteMode=Enforcing"], env=env,
                       capture_output=True, timeout=120)
        for ns in sh("ip", "netns", "list").stdout.split():
            for host in (HOST1, HOST2):
                if ns.startswith((f"zsh-{host[:12]}", f"zsd-{host[:8]}")):
                    sh("ip", "netns", "del", ns, check=False)


def plug(cloud, host_uuid, mac):
    """A namespace standing for a VM NIC: a veth with the NIC's MAC, its peer on
    the host's bridge (in the simulated host's namespace)."""
    tag = uuid.uuid4().hex[:6]
    ns, inside, outside = f"zsv-{tag}", f"zsvi{tag}", f"zsvo{tag}"
    host_ns = f"zsh-{host_uuid[:12]}"
    sh("ip", "netns", "add", ns)
    cloud.made.append(ns)
    sh("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
    sh("ip", "link", "set", inside, "netns", ns)
    sh("ip", "link", "set", outside, "netns", host_ns)
    sh("ip", "-n", ns, "link", "set", inside, "address", mac)
    sh("ip", "-n", ns, "link", "set", inside, "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", host_ns, "link", "set", outside, "master", "br_eth1")
    sh("ip", "-n", host_ns, "link", "set", outside, "up")
    return ns, inside


def lease(cloud, ns, ifname):
    script = cloud.tmp / "udhcpc.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    out = cloud.tmp / f"lease-{ns}"
    out.unlink(missing_ok=True)
    env = dict(os.environ, ZS_OUT=str(out))
    subprocess.run(["ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", ifname, "-f", "-q",
                    "-n", "-t", "4", "-T", "1", "-O", "hostname", "-O", "staticroutes", "-s",
                    str(script)], env=env, capture_output=True, timeout=30)
    if not out.exists():
        return None
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def test_flat_dhcp_and_userdata_through_the_command(cloud):
    cloud("AttachNetworkServiceToL3Network", f"l3NetworkUuid={L3}",
          "networkServices={'Flat':['DHCP','Userdata']}")
    l3 = cloud("QueryL3Network", f"uuid={L3}")["inventories"][0]
    assert {s["networkServiceType"] for s in l3["networkServices"]} == {"DHCP", "Userdata"}
    dhcp_tag = cloud("QuerySystemTag", f"resourceUuid={L3}", "tag~=flatNetwork::DhcpServer%")
    server_ip = dhcp_tag["inventories"][0]["tag"].split("::")[2]
    err = cloud("AttachNetworkServiceToL3Network", f"l3NetworkUuid={L3}",
                "networkServices={'Flat':['DHCP']}", expect=3)
    assert f"there has been a network service[DHCP] attached to L3 network[uuid:{L3}]" in err

    vm = cloud("QueryVmInstance", f"uuid={VM1}")["inventories"][0]
    nic = vm["vmNics"][0]
    ns, ifname = plug(cloud, HOST1, nic["mac"])
    got = lease(cloud, ns, ifname)
    assert got is not None, "the VM's NIC got no lease from its host's DHCP server"
    assert got["ip"] == nic["ip"] and got["serverid"] == server_ip
    assert got["router"] == "10.0.0.1" and got["dns"].split() == ["10.0.0.2"]
    assert got["hostname"] == "web1"
    assert "169.254.169.254/32" in got.get("staticroutes", "")

    # its user-data, from the metadata server next to the DHCP server
    sh("ip", "-n", ns, "addr", "add", f"{nic['ip']}/24", "dev", ifname)
    cloud("CreateSystemTag", "resourceType=VmInstanceVO", f"resourceUuid={VM1}",
          f"tag=userdata::{YAML}")
    fetched = sh("ip", "netns", "exec", ns, "wget", "-q", "-O", "-", "-T", "5",
                 f"http://{server_ip}/latest/user-data")
    assert fetched.stdout == YAML
    iid = sh("ip", "netns", "exec", ns, "wget", "-q", "-O", "-", "-T", "5",
             f"http://{server_ip}/latest/meta-data/instance-id")
    assert iid.stdout == VM1

    # the other host's server does not answer this host's VM
    cloud("CreateVmInstance", "name=elsewhere", f"instanceOfferingUuid={OFFERING}",
          f"imageUuid={IMAGE}", f"l3NetworkUuids={L3}", f"hostUuid={HOST2}")
    other, other_if = plug(cloud, HOST2, nic["mac"])
    assert lease(cloud, other, other_if) is None

    cloud("StopVmInstance", f"uuid={VM1}")
    assert lease(cloud, ns, ifname) is None, "a stopped VM keeps its lease"
    cloud("StartVmInstance", f"uuid={VM1}")
    assert lease(cloud, ns, ifname)["ip"] == nic["ip"]


def test_deleting_the_zone_leaves_no_namespace(cloud):
    cloud("AttachNetworkServiceToL3Network", f"l3NetworkUuid={L3}",
          "networkServices={'Flat':['DHCP']}")
    names = sh("ip", "netns", "list").stdout
    assert f"zsd-{HOST1[:8]}-{L3[:8]}" in names and f"zsh-{HOST1[:12]}" in names
    cloud("DeleteZone", f"uuid={ZONE}", "deleteMode=Enforcing")
    names = sh("ip", "netns", "list").stdout
    assert f"zsd-{HOST1[:8]}" not in names and f"zsh-{HOST1[:12]}" not in names
    assert not sh("pgrep", "-f", str(cloud.tmp / "home"), check=False).stdout.strip()


def test_cold_migration_moves_the_dhcp_entry(cloud):
    """SPEC §11 with §9: after stop, LocalStorageMigrateVolume and start, the VM's
    lease comes from its new host's server, and its old host's server forgets it."""
    from tests.clouds import DATA

    cloud("AttachNetworkServiceToL3Network", f"l3NetworkUuid={L3}",
          "networkServices={'Flat':['DHCP']}")
    vm = cloud("QueryVmInstance", f"uuid={VM1}")["inventories"][0]
    nic = vm["vmNics"][0]
    old_ns, old_if = plug(cloud, HOST1, nic["mac"])
    assert lease(cloud, old_ns, old_if)["ip"] == nic["ip"]

    cloud("StopVmInstance", f"uuid={VM1}")
    cloud("DetachDataVolumeFromVm", f"uuid={DATA}")
    cloud("LocalStorageMigrateVolume", f"volumeUuid={vm['rootVolumeUuid']}",
          f"destHostUuid={HOST2}")
    assert cloud("StartVmInstance", f"uuid={VM1}")["inventory"]["hostUuid"] == HOST2
    new_ns, new_if = plug(cloud, HOST2, nic["mac"])
    got = lease(cloud, new_ns, new_if)
    assert got is not None and got["ip"] == nic["ip"]
    assert lease(cloud, old_ns, old_if) is None, "the old host still answers the moved VM"


def test_a_deleted_home_leaves_no_dhcp_server_running(tmp_path, cli):
    """$ZSTACK_HOME removed by hand, not through DeleteZone or DeleteHost: the host
    agents notice their store is gone and stop their hosts' DHCP and metadata
    servers (and supervisors) and remove their namespaces before they retire."""
    from tests.integration.realcloud import netns_names
    from tests.waiting import wait_for

    image = tmp_path / "tiny.qcow2"
    sh("qemu-img", "create", "-f", "qcow2", str(image), "32M")
    (tmp_path / "env.zs").write_text(environment(tmp_path, image))
    home = tmp_path / "home"
    env = dict(os.environ, ZSTACK_HOME=str(home), ZSTACK_HOST_AGENT="on")
    subprocess.run([cli, "-f", str(tmp_path / "env.zs")], env=env, check=True,
                   capture_output=True, timeout=120)
    subprocess.run([cli, "AttachNetworkServiceToL3Network", f"l3NetworkUuid={L3}",
                    "networkServices={'Flat':['DHCP','Userdata']}"], env=env, check=True,
                   capture_output=True, timeout=120)
    ours = lambda: [n for n in netns_names() if n.startswith((f"zsh-{HOST1[:12]}",  # noqa: E731
                                                              f"zsd-{HOST1[:8]}-"))]
    try:
        wait_for(lambda: len(ours()) == 2, 10, "host1's namespaces")
        dhcp_ns = next(n for n in ours() if n.startswith("zsd-"))
        served = [int(p) for p in sh("ip", "netns", "pids", dhcp_ns).stdout.split()]
        names = {open(f"/proc/{p}/comm").read().strip() for p in served}
        assert "dnsmasq" in names and len(served) >= 2, names
        supervisors = [int(p) for p in os.listdir("/proc") if p.isdigit() and any(
            f"--pidfile={home}/hosts/{HOST1}/flat/".encode() in a
            for a in open(f"/proc/{p}/cmdline", "rb").read().split(b"\0"))]
        assert supervisors

        shutil.rmtree(home)
        wait_for(lambda: not ours(), 15, "host1's namespaces to go")
        wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and
                                 open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0]
                                 != "Z" for p in served + supervisors), 10,
                 "its DHCP server, metadata server and supervisor to stop")
        # and what the simulated hosts' polls may have made again under it goes too
        wait_for(lambda: not home.exists(), 10, "the deleted home to stay deleted")
    finally:
        for ns in ours():
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                subprocess.run(["kill", pid], check=False)
            sh("ip", "netns", "del", ns, check=False)
