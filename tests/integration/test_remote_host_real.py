"""A REMOTE KVM host (qemu+ssh://), through the zstack-cli command: its image
cache, volumes, snapshots and bridge are made on that host by the agent the
command copies there over ssh, its domains run on its own libvirtd, and its
volumes move to this machine's host and back.

The remote host is remotehost.py's: sshd and a private libvirtd in a mount
namespace of their own, where the primary storage's directory is another
directory, reached only as root@127.0.0.2 over ssh (with its own key and known
hosts file, never root's). Host 1 is this machine's libvirtd (realcloud.py).
"""

import os
import signal
import subprocess

import pytest

from tests.integration.realcloud import RealCloud, netns_names, remove_netns
from tests.integration.realhost import domstate
from tests.integration.remotehost import RemoteHost
from tests.waiting import wait_for

# Every test here needs the stand-in remote host's sshd.
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.path.exists("/usr/sbin/sshd"),
                                 reason="sshd is not installed (scripts/bootstrap.sh installs "
                                        "openssh-server)")]


@pytest.fixture
def cloud(libvirtd, cli):
    with RealCloud(cli, net="10.251.0", tag="rem", iso="blank") as c:
        yield c


@pytest.fixture
def remote(cloud):
    with RemoteHost(cloud.ps, address="127.0.0.2") as host:
        yield host


def test_a_remote_host_keeps_its_vms_files_on_itself(cloud, remote):
    zs, ids = cloud.zs, cloud.ids
    cloud.build(second_uri=remote.uri)
    host1, host2 = ids["host"], ids["host2"]
    assert cloud.replies["host2"]["status"] == "Connected"

    def there(path):
        """Where a path of the remote host is, seen from here (for the checks only)."""
        return os.path.join(remote.ps_real, os.path.relpath(path, cloud.ps))

    # Its storage root was prepared by the agent, copied there on first use.
    agent = remote.ssh("ls", ".zstack-cli").stdout.split()
    assert agent == os.listdir(os.path.join(remote.home_real, ".zstack-cli"))
    assert not os.path.exists(os.path.expanduser("~root/.zstack-cli"))
    assert len(agent) == 1 and agent[0].startswith("agent-") and agent[0].endswith(".pyz")
    ref = zs("QueryLocalStorageResourceRef", f"hostUuid={host2}")
    capacity = zs("GetLocalStorageHostDiskCapacity", f"primaryStorageUuid={ids['ps']}",
                  f"hostUuid={host2}")["inventories"][0]
    assert capacity["totalCapacity"] > 0 and ref["inventories"] == []

    vm = cloud.domain()
    created = zs("CreateVmInstance", f"name=rem-{vm[:6]}", f"instanceOfferingUuid={ids['offering']}",
                 f"imageUuid={ids['image']}", f"l3NetworkUuids={ids['l3']}",
                 f"hostUuid={host2}", f"resourceUuid={vm}")
    assert (created["state"], created["hostUuid"]) == ("Running", host2)
    assert remote.virsh("domstate", vm).stdout.strip() == "running" and domstate(vm) is None
    root = created["rootVolumeUuid"]
    path = zs("QueryVolume", f"uuid={root}")["inventories"][0]["installPath"]
    assert os.path.exists(there(path)) and not os.path.exists(path)
    assert os.listdir(os.path.join(remote.ps_real, "imagecache", "template"))
    assert path in remote.virsh("domblklist", vm).stdout

    # A data volume, made there and hot-plugged into the running domain; then gone.
    data = zs("CreateDataVolume", "name=rem-data", f"diskOfferingUuid={ids['disk']}")["uuid"]
    zs("AttachDataVolumeToVm", f"volumeUuid={data}", f"vmInstanceUuid={vm}")
    data_path = zs("QueryVolume", f"uuid={data}")["inventories"][0]["installPath"]
    assert os.path.exists(there(data_path)) and data_path in remote.virsh("domblklist", vm).stdout
    zs("DetachDataVolumeFromVm", f"uuid={data}")
    zs("DeleteDataVolume", f"uuid={data}")
    assert not os.path.exists(there(data_path))

    # An ISO in the live domain's CD-ROM comes from a cache on that host too.
    zs("AttachIsoToVmInstance", f"vmInstanceUuid={vm}", f"isoUuid={ids['iso']}")
    assert any(name.endswith(".iso") for _, _, names in
               os.walk(os.path.join(remote.ps_real, "imagecache")) for name in names)
    zs("DetachIsoFromVmInstance", f"vmInstanceUuid={vm}")

    # Snapshots of the stopped VM's root volume: taken and merged there.
    zs("StopVmInstance", f"uuid={vm}", "type=cold")
    snap = zs("CreateVolumeSnapshot", f"volumeUuid={root}", "name=on-remote")
    snap_path = zs("QueryVolumeSnapshot", f"uuid={snap['uuid']}")["inventories"][0][
        "primaryStorageInstallPath"]
    assert os.path.exists(there(snap_path)) and not os.path.exists(snap_path)
    zs("DeleteVolumeSnapshot", f"uuid={snap['uuid']}")
    assert not os.path.exists(there(snap_path))

    # The volume comes to this machine's host (pulled), runs there, and goes back (pushed).
    moved = zs("LocalStorageMigrateVolume", f"volumeUuid={root}", f"destHostUuid={host1}")
    assert moved["hostUuid"] == host1
    assert os.path.exists(path) and not os.path.exists(there(path))
    assert remote.virsh("list", "--all", "--name").stdout.split() == []
    started = zs("StartVmInstance", f"uuid={vm}")
    assert (started["state"], started["hostUuid"]) == ("Running", host1) \
        and domstate(vm) == "running"
    zs("StopVmInstance", f"uuid={vm}", "type=cold")
    zs("LocalStorageMigrateVolume", f"volumeUuid={root}", f"destHostUuid={host2}")
    assert os.path.exists(there(path)) and not os.path.exists(path) and domstate(vm) is None
    started = zs("StartVmInstance", f"uuid={vm}")
    assert started["hostUuid"] == host2 and remote.virsh("domstate", vm).stdout.strip() == "running"

    zs("DestroyVmInstance", f"uuid={vm}")
    zs("ExpungeVmInstance", f"uuid={vm}")
    assert not os.path.exists(there(path))
    assert vm not in remote.virsh("list", "--all", "--name").stdout


def test_a_remote_host_out_of_reach_is_a_one_line_error(cloud, remote):
    zs, ids = cloud.zs, cloud.ids
    cloud.build(second_uri=remote.uri)
    vm = cloud.domain()
    assert cloud.create_vm(f"hostUuid={ids['host2']}", vm=vm)["state"] == "Running"
    os.kill(remote.pids()["sshd"][0], signal.SIGTERM)       # ssh to it is refused now
    err = zs("CreateVmInstance", "name=rem-unreachable", f"instanceOfferingUuid={ids['offering']}",
             f"imageUuid={ids['image']}", f"l3NetworkUuids={ids['l3']}",
             f"hostUuid={ids['host2']}", expect=3)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.2" in lines[0], err
    assert zs("QueryVmInstance", "name=rem-unreachable")["inventories"] == []
    # ReconnectHost finds it out of reach: Disconnected, and its VM Unknown.
    err = zs("ReconnectHost", f"uuid={ids['host2']}", expect=3)
    assert len(err.strip().splitlines()) == 1 and ids["host2"] in err, err
    assert zs("QueryHost", f"uuid={ids['host2']}")["inventories"][0]["status"] == "Disconnected"
    assert zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"] == "Unknown"


@pytest.fixture
def agent_cloud(libvirtd, cli):
    with RealCloud(cli, net="10.250.0", tag="rema", agent=True) as c:
        yield c


def test_the_host_agent_follows_a_remote_hosts_domains(agent_cloud, cli):
    """The host agent listens to the remote libvirtd's events over ssh: a domain
    destroyed or started behind the cloud's back there shows in the database."""
    cloud = agent_cloud
    zs, ids = cloud.zs, cloud.ids
    with RemoteHost(cloud.ps, address="127.0.0.2") as remote:
        cloud.build(second_uri=remote.uri)
        try:
            vm = cloud.domain()
            created = cloud.create_vm(f"hostUuid={ids['host2']}", vm=vm)
            assert created["state"] == "Running"

            def state():
                return zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"]
            remote.virsh("destroy", vm)
            wait_for(lambda: state() == "Stopped", 10, "the VM Stopped after a destroy there")
            remote.virsh("start", vm)
            wait_for(lambda: state() == "Running", 10, "the VM Running after a start there")
            zs("DestroyVmInstance", f"uuid={vm}")
        finally:
            zs("DeleteHost", f"uuid={ids['host2']}", "deleteMode=Enforcing")


@pytest.fixture
def flat_cloud(libvirtd, cli):
    with RealCloud(cli, net="10.249.0", tag="remf", flat=("DHCP", "Userdata"),
                   dns="10.249.0.53") as c:
        c.plugged = []
        try:
            yield c
        finally:
            for ns in c.plugged:
                remove_netns(ns)


def test_flat_dhcp_on_a_remote_host(flat_cloud):
    """The remote host runs its own DHCP server for its VMs (made there by its agent,
    in a namespace of that host); a guest on the bridge gets its VM's lease from it,
    and its metadata from that host's metadata server, which answers from documents
    the cloud keeps up to date there (a changed userdata:: tag shows at once)."""
    from tests.integration.test_flat_real_host import fetch, lease, plug

    cloud = flat_cloud
    zs, ids = cloud.zs, cloud.ids
    with RemoteHost(cloud.ps, address="127.0.0.2") as remote:
        cloud.build(second_uri=remote.uri)
        dhcp_ns = f"zsd-{ids['host2'][:8]}-{ids['l3'][:8]}"
        try:
            vm = cloud.domain()
            created = cloud.create_vm(f"hostUuid={ids['host2']}",
                                      "systemTags=hostname::rem-vm,userdata::hello-remote", vm=vm)
            nic = created["vmNics"][0]
            assert dhcp_ns in remote.ssh("ip", "netns", "list").stdout
            assert dhcp_ns not in netns_names()          # that host's, not this machine's
            assert os.path.isdir(os.path.join(remote.home_real, ".zstack-cli", "flat",
                                              ids["host2"], ids["l3"]))

            ns, ifname = plug(cloud, f"br_{cloud.link}", nic["mac"])
            got = lease(cloud, ns, ifname)
            assert got is not None, "the VM's NIC got no lease from the remote host's server"
            assert (got["ip"], got["router"], got["hostname"]) == \
                (nic["ip"], "10.249.0.1", "rem-vm")
            assert got["dns"].split() == ["10.249.0.53"]

            # Its metadata, from the remote host's server (by the VM's address).
            server_ip = got["serverid"]
            sh_ns = ["ip", "-n", ns]
            subprocess.run([*sh_ns, "addr", "add", f"{nic['ip']}/24", "dev", ifname], check=True)
            base = f"http://{server_ip}/latest"
            assert wait_for(lambda: _try(fetch, ns, f"{base}/meta-data/instance-id"), 10,
                            "the remote host's metadata server") == vm
            assert fetch(ns, f"{base}/user-data") == "hello-remote"
            assert fetch(ns, f"{base}/meta-data/local-hostname") == "rem-vm"
            tag = zs("QuerySystemTag", f"resourceUuid={vm}", "tag~=userdata::%")
            zs("UpdateSystemTag", f"uuid={tag['inventories'][0]['uuid']}",
               "tag=userdata::bye-remote")
            assert fetch(ns, f"{base}/user-data") == "bye-remote"
            # renamed zone and offering: their names in its metadata there at once
            zs("UpdateZone", f"uuid={ids['zone']}", "name=remf-renamed-zone")
            zs("UpdateInstanceOffering", f"uuid={ids['offering']}", "name=remf-bigger")
            assert fetch(ns, f"{base}/meta-data/availability-zone") == "remf-renamed-zone"
            assert fetch(ns, f"{base}/meta-data/service-offering") == "remf-bigger"
            assert os.stat(os.path.join(remote.home_real, ".zstack-cli", "flat", ids["host2"],
                                        ids["l3"], "metadata", f"{nic['ip']}.json")
                           ).st_mode & 0o077 == 0
            subprocess.run([*sh_ns, "addr", "flush", "dev", ifname], check=True)

            zs("StopVmInstance", f"uuid={vm}", "type=cold")
            assert lease(cloud, ns, ifname) is None, "a stopped VM keeps its lease"
            zs("StartVmInstance", f"uuid={vm}")
            assert lease(cloud, ns, ifname)["ip"] == nic["ip"]
        finally:
            zs("DeleteHost", f"uuid={ids['host2']}", "deleteMode=Enforcing")
        assert dhcp_ns not in remote.ssh("ip", "netns", "list").stdout


def test_what_a_host_kept_while_out_of_reach_goes_once_it_answers(flat_cloud):
    """A remote host deleted while out of reach: its records go at once, its VM's
    volume and its Flat DHCP server stay there; added again at that address, the
    host is rid of them. Likewise a volume deleted while its (existing) host is out
    of reach goes from there at the next ReconnectHost."""
    import sqlite3

    cloud = flat_cloud
    zs, ids = cloud.zs, cloud.ids

    def leftovers():
        with sqlite3.connect(os.path.join(cloud.home, "zstack.db")) as db:
            return db.execute("SELECT kind FROM HostLeftoverVO ORDER BY id").fetchall()

    with RemoteHost(cloud.ps, address="127.0.0.2") as remote:
        cloud.build(second_uri=remote.uri)

        def there(path):
            return os.path.join(remote.ps_real, os.path.relpath(path, cloud.ps))

        dhcp_ns = f"zsd-{ids['host2'][:8]}-{ids['l3'][:8]}"
        state_dir = os.path.join(remote.home_real, ".zstack-cli", "flat", ids["host2"], ids["l3"])
        created = cloud.create_vm(f"hostUuid={ids['host2']}")
        path = zs("QueryVolume", f"uuid={created['rootVolumeUuid']}")["inventories"][0][
            "installPath"]
        assert os.path.exists(there(path)) and os.path.isdir(state_dir)
        assert dhcp_ns in remote.ssh("ip", "netns", "list").stdout

        remote.cut()
        zs("DeleteHost", f"uuid={ids['host2']}", "deleteMode=Enforcing")
        assert zs("QueryVmInstance", f"uuid={created['uuid']}")["inventories"] == []
        assert sorted(leftovers()) == [("file",), ("flat",)]
        assert os.path.exists(there(path)) and os.path.isdir(state_dir)

        remote.restore()
        assert dhcp_ns in remote.ssh("ip", "netns", "list").stdout     # still serving
        again = zs("AddKVMHost", "name=remf-again", f"clusterUuid={ids['cluster']}",
                   "managementIp=127.0.0.2", "username=root", "password=password",
                   f"libvirtUri={remote.uri}")
        assert again["status"] == "Connected" and leftovers() == []
        assert not os.path.exists(there(path)) and not os.path.exists(state_dir)
        assert dhcp_ns not in remote.ssh("ip", "netns", "list").stdout

        # The host stays; a detached data volume of it is deleted while it is cut off.
        data = zs("CreateDataVolume", "name=remf-data",
                  f"diskOfferingUuid={ids['disk']}")["uuid"]
        vm = cloud.create_vm(f"hostUuid={again['uuid']}", "strategy=CreateStopped")["uuid"]
        zs("AttachDataVolumeToVm", f"volumeUuid={data}", f"vmInstanceUuid={vm}")
        zs("DetachDataVolumeFromVm", f"uuid={data}")
        data_path = zs("QueryVolume", f"uuid={data}")["inventories"][0]["installPath"]
        assert os.path.exists(there(data_path))
        remote.cut()
        zs("DeleteDataVolume", f"uuid={data}")
        assert leftovers() == [("file",)] and os.path.exists(there(data_path))
        remote.restore()
        assert zs("ReconnectHost", f"uuid={again['uuid']}")["status"] == "Connected"
        assert leftovers() == [] and not os.path.exists(there(data_path))
        zs("DeleteHost", f"uuid={again['uuid']}", "deleteMode=Enforcing")


def _try(fetch, ns, url):
    """The body at ``url`` from ``ns``, or None while the server is not up yet."""
    try:
        return fetch(ns, url)
    except subprocess.CalledProcessError:
        return None


def test_a_remote_host_added_the_zstack_way_with_its_password(libvirtd, cli):
    """AddKVMHost as ZStack's own command line has it: managementIp, username,
    password, sshPort, no libvirtUri of ours. The password logs in once to put
    this store's key on the host; from then on libvirt and the host's agent log
    in with that key, through a wrapper that keeps this store's known hosts."""
    with RealCloud(cli, net="10.247.0", tag="remp") as cloud, \
            RemoteHost(cloud.ps, address="127.0.0.2", password="s3cret pass") as remote:
        cloud.build()
        zs, ids = cloud.zs, cloud.ids
        # 127.0.0.2 is this machine's: give the URI ZStack would make for a remote one.
        plain = f"qemu+ssh://root@127.0.0.2:{remote.port}/system"
        err = zs("AddKVMHost", "name=remp-wrong", f"clusterUuid={ids['cluster']}",
                 "managementIp=127.0.0.2", "username=root", "password=wrong",
                 f"libvirtUri={plain}", expect=3)
        assert "with its password" in err and len(err.strip().splitlines()) == 1, err
        added = zs("AddKVMHost", "name=remp-host2", f"clusterUuid={ids['cluster']}",
                   "managementIp=127.0.0.2", "username=root", "password=s3cret pass",
                   f"libvirtUri={plain}", f"resourceUuid={ids['host2']}")
        assert added["status"] == "Connected"
        uri = added["libvirtUri"]
        key = os.path.join(cloud.home, "ssh", "id_ed25519")
        assert uri.startswith(plain + "?") and f"keyfile={key}" in uri and "command=" in uri
        with open(key + ".pub") as f:
            public = f.read().strip()
        with open(os.path.join(remote.home_real, ".ssh", "authorized_keys")) as f:
            assert f.read().splitlines().count(public) == 1
        with open(os.path.join(cloud.home, "ssh", "known_hosts")) as f:
            assert f.read().strip()                     # its host key, kept here
        assert not os.path.exists(os.path.expanduser("~root/.ssh/known_hosts")) or \
            "127.0.0.2" not in open(os.path.expanduser("~root/.ssh/known_hosts")).read()

        vm = cloud.domain()
        created = cloud.create_vm(f"hostUuid={ids['host2']}", "strategy=CreateStopped", vm=vm)
        assert created["state"] == "Stopped"
        assert vm in remote.virsh("list", "--all", "--name").stdout

        # The host loses this store's key (reinstalled, its keys cleaned): ReconnectHost
        # puts it back with the recorded password, once; with a wrong one recorded it
        # fails in one line, and UpdateKVMHost gives it the right one.
        keys = os.path.join(remote.home_real, ".ssh", "authorized_keys")

        def wipe_keys():
            with open(keys, "w"):
                pass

        wipe_keys()
        assert zs("ReconnectHost", f"uuid={ids['host2']}")["status"] == "Connected"
        with open(keys) as f:
            assert f.read().splitlines() == [public]
        zs("UpdateKVMHost", f"uuid={ids['host2']}", "password=wrong")
        wipe_keys()
        err = zs("ReconnectHost", f"uuid={ids['host2']}", expect=3)
        assert "with its password" in err and len(err.strip().splitlines()) == 1, err
        assert zs("QueryHost", f"uuid={ids['host2']}")["inventories"][0]["status"] == "Disconnected"
        zs("UpdateKVMHost", f"uuid={ids['host2']}", "password=s3cret pass")
        assert zs("ReconnectHost", f"uuid={ids['host2']}")["status"] == "Connected"
        assert zs("QueryHost", f"uuid={ids['host2']}")["inventories"][0]["libvirtUri"] == uri

        # A second host on the same machine adds without the key being put there again.
        zs("DeleteHost", f"uuid={ids['host2']}", "deleteMode=Enforcing")
        zs("AddKVMHost", "name=remp-again", f"clusterUuid={ids['cluster']}",
           "managementIp=127.0.0.2", "username=root", "password=not needed now",
           f"libvirtUri={plain}")
        with open(os.path.join(remote.home_real, ".ssh", "authorized_keys")) as f:
            assert f.read().splitlines().count(public) == 1
