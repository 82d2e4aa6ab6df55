"""Compute services through the API door, on simulated hosts (SPEC §7, §7.1, §7.2, §8).

Every test builds a small cloud from nothing with ``Backend.call`` (simulated
hosts: ``libvirtUri=test:///default``) and checks what an operator sees: the
replies, the records, the files on the host's storage root
(``$ZSTACK_HOME/hosts/<uuid>/fs/<ps url>/...``) and the simulated domains.
"""

import contextlib
import functools
import hashlib
import http.server
import json
import multiprocessing
import os
import subprocess
import threading
import xml.etree.ElementTree as ET

import pytest

PS_URL = "/zstack_ps"
MiB = 1024 * 1024
GiB = 1024 * MiB

NO_DEFAULT_L3 = ("there are more than one L3 network specified in l3NetworkUuids, but "
                 "defaultL3NetworkUuid is null")


# ---------------------------------------------------------------- helpers

def qemu_img(*args):
    out = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=True)
    return out.stdout


def qemu_info(path, chain=False):
    args = ["info", "--output=json", "-U"] + (["--backing-chain"] if chain else []) + [path]
    return json.loads(qemu_img(*args))


def qemu_io(path, command, fmt="qcow2"):
    out = subprocess.run(["qemu-io", "-f", fmt, "-c", command, path], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "fail" not in out.stdout.lower(), (command, out.stdout,
                                                                        out.stderr)
    return out.stdout


def make_qcow2(path, size="32M"):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    return str(path)


def make_iso(path):
    """Enough of an ISO 9660 image for the content check: 'CD001' at 0x8001."""
    with open(path, "wb") as f:
        f.truncate(64 * 1024)
        f.seek(0x8001)
        f.write(b"CD001")
    return str(path)


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


class Cloud:
    """A cloud built from nothing: zone, cluster, local primary storage, a
    simulated host, backup storage with a qcow2 image, offerings, L2 and L3."""

    def __init__(self, backend, tmp):
        self.backend = backend
        self.home = backend.home
        self.tmp = tmp
        self.zone = self.ok("CreateZone", name="zone1")["uuid"]
        self.cluster = self.ok("CreateCluster", name="cluster1", zoneUuid=self.zone,
                               hypervisorType="KVM")["uuid"]
        self.ps = self.ok("AddLocalPrimaryStorage", name="ps1", url=PS_URL,
                          zoneUuid=self.zone)["uuid"]
        self.ok("AttachPrimaryStorageToCluster", primaryStorageUuid=self.ps,
                clusterUuid=self.cluster)
        self.host = self.add_host("host1", "127.0.0.1")
        self.bs = self.ok("AddSftpBackupStorage", name="bs1", url=str(tmp / "bs"),
                          hostname="127.0.0.1", username="root", password="password")["uuid"]
        self.ok("AttachBackupStorageToZone", backupStorageUuid=self.bs, zoneUuid=self.zone)
        self.image_file = make_qcow2(tmp / "tiny.qcow2")
        self.image = self.ok("AddImage", name="tiny", format="qcow2", url=self.image_file,
                             backupStorageUuids=[self.bs])["uuid"]
        self.offering = self.ok("CreateInstanceOffering", name="small", cpuNum=1,
                                memorySize=64 * MiB)["uuid"]
        self.disk = self.ok("CreateDiskOffering", name="d16", diskSize=16 * MiB)["uuid"]
        self.l2 = self.ok("CreateL2NoVlanNetwork", name="l2", zoneUuid=self.zone,
                          physicalInterface="eth1")["uuid"]
        self.ok("AttachL2NetworkToCluster", l2NetworkUuid=self.l2, clusterUuid=self.cluster)
        self.l3 = self.add_l3("l3", "10.0.0.10", "10.0.0.20", "10.0.0.1")

    # -- calls
    def call(self, api, progress=None, **params):
        reply = self.backend.call(api, params, progress=progress)
        assert isinstance(reply, dict) and "success" in reply, reply
        return reply

    def ok(self, api, **params):
        reply = self.call(api, **params)
        assert reply["success"], (api, params, reply)
        return reply.get("inventory", reply)

    def fail(self, api, code=None, **params):
        reply = self.call(api, **params)
        assert not reply["success"], (api, params, reply)
        error = reply["error"]
        if code:
            assert error["code"] == code, error
        return error

    def query(self, api, **conditions):
        return self.ok(api, conditions=[{"name": k, "op": "=", "value": v}
                                        for k, v in conditions.items()])["inventories"]

    def get(self, resource, uuid):
        api = {"VmInstanceVO": "QueryVmInstance", "HostVO": "QueryHost",
               "VolumeVO": "QueryVolume", "ImageVO": "QueryImage",
               "PrimaryStorageVO": "QueryPrimaryStorage",
               "VolumeSnapshotVO": "QueryVolumeSnapshot"}[resource]
        found = self.query(api, uuid=uuid)
        return found[0] if found else None

    # -- building
    def add_host(self, name, ip, cluster=None, uri="test:///default"):
        return self.ok("AddKVMHost", name=name, clusterUuid=cluster or self.cluster,
                       managementIp=ip, username="root", password="password",
                       libvirtUri=uri)["uuid"]

    def add_cluster(self, name, storage=True, l2=True):
        cluster = self.ok("CreateCluster", name=name, zoneUuid=self.zone,
                          hypervisorType="KVM")["uuid"]
        if storage:
            self.ok("AttachPrimaryStorageToCluster", primaryStorageUuid=self.ps,
                    clusterUuid=cluster)
        if l2:
            self.ok("AttachL2NetworkToCluster", l2NetworkUuid=self.l2, clusterUuid=cluster)
        return cluster

    def add_l3(self, name, start, end, gateway, netmask="255.255.255.0"):
        l3 = self.ok("CreateL3Network", name=name, l2NetworkUuid=self.l2)["uuid"]
        self.ok("AddIpRange", l3NetworkUuid=l3, name=f"{name}-range", startIp=start, endIp=end,
                netmask=netmask, gateway=gateway)
        return l3

    def vm(self, name="vm", **params):
        params.setdefault("instanceOfferingUuid", self.offering)
        params.setdefault("imageUuid", self.image)
        params.setdefault("l3NetworkUuids", [self.l3])
        return self.ok("CreateVmInstance", name=name, **params)

    def create_error(self, code=None, **params):
        params.setdefault("name", "bad")
        params.setdefault("instanceOfferingUuid", self.offering)
        params.setdefault("imageUuid", self.image)
        params.setdefault("l3NetworkUuids", [self.l3])
        return self.fail("CreateVmInstance", code=code, **params)

    # -- looking at hosts
    def host_row(self, uuid=None):
        return self.backend.store.get("HostVO", uuid or self.host)

    def driver(self, host=None):
        from backend.hypervisor import driver_for

        return driver_for(self.host_row(host), self.home)

    def local(self, path, host=None):
        """Where a path of a simulated host's filesystem is on this machine."""
        return os.path.join(self.home, "hosts", host or self.host, "fs", path.lstrip("/"))

    def disk_capacity(self, host=None):
        found = self.ok("GetLocalStorageHostDiskCapacity", primaryStorageUuid=self.ps,
                        hostUuid=host or self.host)["inventories"]
        assert len(found) == 1, found
        return found[0]["availableCapacity"]

    def domain_disks(self, vm_uuid, host=None, inactive=False):
        """{target dev: source file} of the domain's disks (not the CD-ROM)."""
        root = ET.fromstring(self.driver(host).xml(vm_uuid, inactive=inactive))
        return {d.find("target").get("dev"): d.find("source").get("file")
                for d in root.findall("devices/disk") if d.get("device") == "disk"}

    def set_uri(self, host, uri):
        with self.backend.store.transaction():
            self.backend.store.update("HostVO", host, {"libvirtUri": uri})


@pytest.fixture
def cloud(backend, tmp_path):
    return Cloud(backend, tmp_path)


def state_cause(error, state, operation, allowed):
    """A SYS.1006 caused by VM.1010 with ZStack's text."""
    assert error["code"] == "SYS.1006", error
    cause = error.get("cause")
    assert cause and cause["code"] == "VM.1010", error
    expected = (f"current vm instance state[{state}] doesn't allow to proceed message"
                f"[API{operation}Msg], allowed states are [{', '.join(allowed)}]")
    assert cause["details"] == expected, cause
    assert expected in error["details"]


# ================================================================ §7.1 creation rules

class TestCreateRules:
    def test_a_data_volume_template_can_not_boot_a_vm(self, cloud):
        template = cloud.ok("AddImage", name="data", format="qcow2", url=cloud.image_file,
                            mediaType="DataVolumeTemplate",
                            backupStorageUuids=[cloud.bs])["uuid"]
        error = cloud.create_error("SYS.1007", imageUuid=template)
        assert "RootVolumeTemplate or ISO" in error["details"]
        assert cloud.query("QueryVmInstance") == []

    def test_an_iso_needs_a_root_disk_offering(self, cloud):
        iso = cloud.ok("AddImage", name="iso", format="iso", mediaType="ISO",
                       url=make_iso(cloud.tmp / "x.iso"), backupStorageUuids=[cloud.bs])["uuid"]
        error = cloud.create_error("SYS.1007", imageUuid=iso)
        assert "rootDiskOfferingUuid" in error["details"]

    def test_duplicate_l3_networks(self, cloud):
        error = cloud.create_error("SYS.1006", l3NetworkUuids=[cloud.l3, cloud.l3])
        assert cloud.l3 in error["details"] and "duplicate" in error["details"]

    def test_several_l3_networks_need_a_default(self, cloud):
        other = cloud.add_l3("l3b", "10.1.0.10", "10.1.0.20", "10.1.0.1")
        error = cloud.create_error("SYS.1007", l3NetworkUuids=[cloud.l3, other])
        assert error["details"] == NO_DEFAULT_L3
        error = cloud.create_error("SYS.1007", l3NetworkUuids=[cloud.l3],
                                   defaultL3NetworkUuid=other)
        assert other in error["details"]
        vm = cloud.vm(l3NetworkUuids=[cloud.l3, other], defaultL3NetworkUuid=other)
        assert vm["defaultL3NetworkUuid"] == other
        assert [(n["l3NetworkUuid"], n["deviceId"]) for n in vm["vmNics"]] == \
            [(cloud.l3, 0), (other, 1)]
        assert vm["vmNics"][1]["ip"].startswith("10.1.0.")

    def test_one_l3_network_is_the_default(self, cloud):
        vm = cloud.vm()
        assert vm["defaultL3NetworkUuid"] == cloud.l3
        nic, = vm["vmNics"]
        assert nic["mac"].startswith("fa:") and len(nic["mac"]) == 17
        assert nic["gateway"] == "10.0.0.1" and nic["netmask"] == "255.255.255.0"
        assert 10 <= int(nic["ip"].rsplit(".", 1)[1]) <= 20
        assert nic["ip"] != "10.0.0.1"
        assert cloud.query("QueryVmNic", vmInstanceUuid=vm["uuid"])[0]["ip"] == nic["ip"]

    def test_static_ip_wins_and_must_be_usable(self, cloud):
        vm = cloud.vm(systemTags=[f"staticIp::{cloud.l3}::10.0.0.15"])
        assert vm["vmNics"][0]["ip"] == "10.0.0.15"
        tags = [t["tag"] for t in cloud.query("QuerySystemTag", resourceUuid=vm["uuid"])]
        assert f"staticIp::{cloud.l3}::10.0.0.15" in tags
        # taken already
        error = cloud.create_error("SYS.1006", systemTags=[f"staticIp::{cloud.l3}::10.0.0.15"])
        assert "10.0.0.15" in error["details"]
        # outside every range
        error = cloud.create_error("SYS.1007", systemTags=[f"staticIp::{cloud.l3}::10.0.0.50"])
        assert "10.0.0.50" in error["details"] and "range" in error["details"]
        # not an address
        cloud.create_error("SYS.1007", systemTags=[f"staticIp::{cloud.l3}::10.0.0.256"])
        # a network the VM is not on
        other = cloud.add_l3("l3b", "10.1.0.1", "10.1.0.20", "10.1.0.1")
        error = cloud.create_error("SYS.1007", systemTags=[f"staticIp::{other}::10.1.0.5"])
        assert other in error["details"]
        # the gateway, even inside the range
        error = cloud.create_error("SYS.1007", l3NetworkUuids=[other],
                                   systemTags=[f"staticIp::{other}::10.1.0.1"])
        assert "gateway" in error["details"]
        assert cloud.vm("gw", l3NetworkUuids=[other],
                        systemTags=[f"staticIp::{other}::10.1.0.2"])["vmNics"][0]["ip"] == \
            "10.1.0.2"
        # a failed create leaves no address behind
        assert sorted(n["ip"] for n in cloud.query("QueryVmNic")) == ["10.0.0.15", "10.1.0.2"]

    def test_hostname_is_a_label_unique_per_l3(self, cloud):
        for bad in ("-web", "web-", "we_b", "a" * 64, "web.example"):
            error = cloud.create_error("SYS.1007", systemTags=[f"hostname::{bad}"])
            assert "hostname" in error["details"], bad
        vm = cloud.vm("web1", systemTags=["hostname::web1"])
        error = cloud.create_error("SYS.1007", systemTags=["hostname::web1"])
        assert "hostname[web1] is already used" in error["details"]
        assert vm["uuid"] in error["details"]
        other = cloud.add_l3("l3b", "10.1.0.10", "10.1.0.20", "10.1.0.1")
        cloud.vm("web1-again", l3NetworkUuids=[other], systemTags=["hostname::web1"])
        cloud.create_error("SYS.1007", l3NetworkUuids=[cloud.l3, other],
                           defaultL3NetworkUuid=other, systemTags=["hostname::web1"])
        error = cloud.create_error("SYS.1007", systemTags=["hostname::one", "hostname::two"])
        assert "one hostname, not both [one] and [two]" in error["details"]

    def test_tags_set_on_an_existing_vm_follow_the_same_rules(self, cloud):
        """CreateSystemTag and UpdateSystemTag on a VM: one hostname per VM, unique on
        each of its L3s; a static IP on one of its L3s, in a range, not another's."""
        web1 = cloud.vm("web1", systemTags=["hostname::web1"])["uuid"]
        web2 = cloud.vm("web2")
        vm2, ip2 = web2["uuid"], web2["vmNics"][0]["ip"]

        def tag(vm, text, code=None):
            params = dict(resourceType="VmInstanceVO", resourceUuid=vm, tag=text)
            if code:
                return cloud.fail("CreateSystemTag", code, **params)["details"]
            return cloud.ok("CreateSystemTag", **params)

        assert "hostname[web1] is already used" in tag(vm2, "hostname::web1", "SYS.1007")
        mine = tag(vm2, "hostname::web2")
        assert tag(vm2, "hostname::web2") == {"success": True}        # the same again
        assert "already has the hostname[web2]" in tag(vm2, "hostname::other", "SYS.1007")
        error = cloud.fail("UpdateSystemTag", "SYS.1007", uuid=mine["uuid"], tag="hostname::web1")
        assert "hostname[web1] is already used" in error["details"]
        assert cloud.ok("UpdateSystemTag", uuid=mine["uuid"],
                        tag="hostname::renamed")["tag"] == "hostname::renamed"
        # a tag updated into another of the same VM: refused, never two alike
        user = cloud.ok("CreateSystemTag", resourceType="VmInstanceVO", resourceUuid=web1,
                        tag="bootOrder::HardDisk")
        error = cloud.fail("UpdateSystemTag", "SYS.1007", uuid=user["uuid"],
                           tag="hostname::web1")
        assert "already has the tag[hostname::web1]" in error["details"]

        other_l3 = cloud.add_l3("l3b", "10.1.0.10", "10.1.0.20", "10.1.0.1")
        assert "not one of the VM's networks" in \
            tag(vm2, f"staticIp::{other_l3}::10.1.0.12", "SYS.1007")
        assert "not in any IP range" in tag(vm2, f"staticIp::{cloud.l3}::10.0.0.99", "SYS.1007")
        ip1 = cloud.get("VmInstanceVO", web1)["vmNics"][0]["ip"]
        assert "already used" in tag(vm2, f"staticIp::{cloud.l3}::{ip1}", "SYS.1006")
        assert tag(vm2, f"staticIp::{cloud.l3}::{ip2}")["tag"].endswith(ip2)   # its own

    def test_offerings_are_renamed_in_place(self, cloud):
        vm = cloud.vm()["uuid"]
        offering = cloud.ok("UpdateInstanceOffering", uuid=cloud.offering, name="medium",
                            description="two of them")
        assert (offering["name"], offering["description"]) == ("medium", "two of them")
        assert cloud.get("VmInstanceVO", vm)["instanceOfferingUuid"] == cloud.offering
        disk = cloud.ok("UpdateDiskOffering", uuid=cloud.disk, name="bigger")
        assert disk["name"] == "bigger" and disk["diskSize"] > 0
        cloud.fail("UpdateInstanceOffering", "SYS.1007", uuid=cloud.offering, name="")

    def test_unknown_tag(self, cloud):
        error = cloud.create_error("SYS.1007", systemTags=["foo::bar"])
        assert error["details"] == "no system tag matches[foo::bar] for resourceType[VmInstanceVO]"
        error = cloud.create_error("SYS.1007", systemTags=["bootOrder::Floppy,HardDisk"])
        assert "invalid boot device[Floppy] in boot order[Floppy, HardDisk]" in error["details"]
        assert cloud.query("QueryVmInstance") == [] and cloud.query("QueryVmNic") == []

    def test_unique_vm_name(self, cloud):
        cloud.vm("same")
        cloud.vm("same", strategy="JustCreate")          # allowed by default
        cloud.ok("UpdateGlobalConfig", category="vm", name="uniqueVmName", value="true")
        error = cloud.create_error("SYS.1007", name="same")
        assert "same" in error["details"]
        cloud.vm("different")

    @pytest.mark.parametrize("strategy, state, domain", [
        ("InstantStart", "Running", "Running"),
        ("CreateStopped", "Stopped", "Stopped"),
        ("JustCreate", "Created", None)])
    def test_strategies(self, cloud, strategy, state, domain):
        vm = cloud.vm(strategy=strategy)
        assert vm["state"] == state
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == state
        assert cloud.driver().state(vm["uuid"]) == domain

    def test_just_create_then_start_builds_the_disks(self, cloud):
        vm = cloud.vm(strategy="JustCreate", dataDiskOfferingUuids=[cloud.disk])
        root, data = vm["allVolumes"]
        assert (root["type"], data["type"]) == ("Root", "Data")
        for volume in (root, data):
            assert volume["status"] == "Creating"
            assert not os.path.exists(cloud.local(volume["installPath"]))
        assert root["installPath"].startswith(f"{PS_URL}/rootVolumes/{vm['uuid']}-")

        started = cloud.ok("StartVmInstance", uuid=vm["uuid"])
        assert started["state"] == "Running"
        assert cloud.driver().state(vm["uuid"]) == "Running"
        for volume in started["allVolumes"]:
            assert volume["status"] == "Ready"
            path = cloud.local(volume["installPath"])
            assert path.startswith(os.path.join(cloud.home, "hosts", cloud.host, "fs",
                                                PS_URL.lstrip("/")) + "/")
            assert qemu_info(path)["format"] == "qcow2"
        root_info = qemu_info(cloud.local(started["allVolumes"][0]["installPath"]))
        cache = cloud.local(f"{PS_URL}/imagecache/template/{cloud.image}/{cloud.image}.qcow2")
        assert os.path.exists(cache)
        assert root_info["backing-filename"] == f"../imagecache/template/{cloud.image}/{cloud.image}.qcow2"
        assert os.path.normpath(root_info["full-backing-filename"]) == cache
        assert root_info["virtual-size"] == 32 * MiB
        assert qemu_info(cloud.local(started["allVolumes"][1]["installPath"]))[
            "virtual-size"] == 16 * MiB
        assert set(cloud.domain_disks(vm["uuid"])) == {"vda", "vdb"}


# ================================================================ placement and capacity

class TestPlacement:
    def test_narrowest_of_zone_cluster_host_wins(self, cloud):
        host2 = cloud.add_host("host2", "127.0.0.2")
        cluster2 = cloud.add_cluster("cluster2")
        host3 = cloud.add_host("host3", "127.0.0.3", cluster=cluster2)
        assert cloud.vm("a", hostUuid=host2, clusterUuid=cluster2,
                        zoneUuid=cloud.zone)["hostUuid"] == host2
        vm = cloud.vm("b", clusterUuid=cluster2, zoneUuid=cloud.zone)
        assert (vm["hostUuid"], vm["clusterUuid"]) == (host3, cluster2)
        assert cloud.vm("c", hostUuid=cloud.host, clusterUuid=cluster2)["hostUuid"] == cloud.host
        assert cloud.driver(host3).state(vm["uuid"]) == "Running"

    def test_disabled_host_is_not_used(self, cloud):
        cloud.ok("ChangeHostState", uuid=cloud.host, stateEvent="disable")
        assert cloud.get("HostVO", cloud.host)["state"] == "Disabled"
        error = cloud.create_error("SYS.1006")
        assert "Enabled" in error["details"]
        host2 = cloud.add_host("host2", "127.0.0.2")
        error = cloud.create_error("SYS.1006", hostUuid=cloud.host)
        assert cloud.host in error["details"] and "Enabled" in error["details"]
        assert cloud.vm()["hostUuid"] == host2
        cloud.ok("ChangeHostState", uuid=cloud.host, stateEvent="enable")
        assert cloud.vm("again", hostUuid=cloud.host)["hostUuid"] == cloud.host

    def test_cluster_without_the_l2_network(self, cloud):
        cluster2 = cloud.add_cluster("no-l2", l2=False)
        cloud.add_host("host2", "127.0.0.2", cluster=cluster2)
        error = cloud.create_error("SYS.1006", clusterUuid=cluster2)
        assert "AttachL2NetworkToCluster" in error["details"]
        assert cluster2 in error["details"]

    def test_cluster_without_primary_storage(self, cloud):
        cluster2 = cloud.add_cluster("no-ps", storage=False)
        cloud.add_host("host2", "127.0.0.2", cluster=cluster2)
        error = cloud.create_error("SYS.1006", clusterUuid=cluster2)
        assert "primary storage" in error["details"]

    def test_not_enough_memory(self, cloud):
        big = cloud.ok("CreateInstanceOffering", name="huge", cpuNum=1,
                       memorySize=128 * GiB)["uuid"]
        error = cloud.create_error("SYS.1006", instanceOfferingUuid=big)
        assert "enough" in error["details"] and "memory" in error["details"]
        many = cloud.ok("CreateInstanceOffering", name="many", cpuNum=64,
                        memorySize=64 * MiB)["uuid"]
        cloud.create_error("SYS.1006", instanceOfferingUuid=many)
        # a stopped VM holds nothing; it can not start where it does not fit
        vm = cloud.vm(instanceOfferingUuid=big, strategy="CreateStopped")
        error = cloud.fail("StartVmInstance", "SYS.1006", uuid=vm["uuid"])
        assert "memory" in error["details"]
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "Stopped"

    def test_host_capacity_follows_running_vms(self, cloud):
        def free():
            host = cloud.get("HostVO", cloud.host)
            return host["availableCpuCapacity"], host["availableMemoryCapacity"]

        host = cloud.get("HostVO", cloud.host)
        assert (host["totalCpuCapacity"], host["totalMemoryCapacity"]) == (32, 64 * GiB)
        full = free()
        assert full == (32, 64 * GiB)
        vm = cloud.vm()
        assert free() == (31, 64 * GiB - 64 * MiB)
        cloud.vm("stopped", strategy="CreateStopped")
        cloud.vm("created", strategy="JustCreate")
        assert free() == (31, 64 * GiB - 64 * MiB)
        cloud.ok("StopVmInstance", uuid=vm["uuid"])
        assert free() == full
        cloud.ok("StartVmInstance", uuid=vm["uuid"])
        assert free() == (31, 64 * GiB - 64 * MiB)
        cloud.ok("RebootVmInstance", uuid=vm["uuid"])
        assert free() == (31, 64 * GiB - 64 * MiB)
        cloud.ok("DestroyVmInstance", uuid=vm["uuid"])
        assert free() == full

    def test_local_storage_capacity_follows_volumes_and_caches(self, cloud):
        total = cloud.disk_capacity()
        ps = cloud.get("PrimaryStorageVO", cloud.ps)
        assert ps["availableCapacity"] == total
        image = cloud.get("ImageVO", cloud.image)
        vm = cloud.vm()
        root = vm["allVolumes"][0]
        assert root["size"] == 32 * MiB
        after_one = total - root["size"] - image["actualSize"]
        assert cloud.disk_capacity() == after_one
        assert cloud.get("PrimaryStorageVO", cloud.ps)["availableCapacity"] == after_one
        vm2 = cloud.vm("two", dataDiskOfferingUuids=[cloud.disk])
        assert cloud.disk_capacity() == after_one - 32 * MiB - 16 * MiB     # cache shared

        refs = cloud.ok("QueryLocalStorageResourceRef")["inventories"]
        by_volume = {r["resourceUuid"]: r for r in refs}
        volumes = [v["uuid"] for v in vm["allVolumes"] + vm2["allVolumes"]]
        assert sorted(by_volume) == sorted(volumes)
        for ref in refs:
            assert (ref["hostUuid"], ref["primaryStorageUuid"], ref["resourceType"]) == \
                (cloud.host, cloud.ps, "VolumeVO")
        assert by_volume[vm2["allVolumes"][1]["uuid"]]["size"] == 16 * MiB

        cloud.ok("DestroyVmInstance", uuid=vm["uuid"])
        cloud.ok("ExpungeVmInstance", uuid=vm["uuid"])
        assert cloud.disk_capacity() == after_one - 16 * MiB
        assert cloud.get("PrimaryStorageVO", cloud.ps)["availableCapacity"] == \
            after_one - 16 * MiB


# ================================================================ §7.2 states

def _killed_in(home, where, api, params):
    """A process calling ``api`` and killed (SIGKILL) when it reaches ``where``:
    "build" (a new VM's disks made, its domain about to start), "ready" (its
    domain started, its disks about to be marked Ready), or a driver call
    ("stop", "define")."""
    import signal

    from backend.api import Backend
    from backend.services import flat, hosts

    def die(*a, **kw):
        os.kill(os.getpid(), signal.SIGKILL)
    if where == "build":
        flat.sync_vm = die
    elif where == "ready":
        from backend.services import vm

        vm._mark_ready = die
    else:
        real = hosts.driver

        class Dying:
            def __init__(self, drv):
                self.drv = drv

            def __getattr__(self, name):
                return die if name == where else getattr(self.drv, name)
        hosts.driver = lambda ctx, host: Dying(real(ctx, host))
    Backend(home).call(api, params)


def killed_in(cloud, where, api, **params):
    import signal

    child = multiprocessing.get_context("fork").Process(
        target=_killed_in, args=(cloud.backend.home, where, api, params))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL


class TestStates:
    STOP_ALLOWED = ("Running", "Paused", "Unknown", "Crashed", "Stopping", "Starting")

    def test_a_vm_left_starting_by_a_killed_process_is_taken_back(self, cloud):
        """kill -9 while a VM is created (Starting, its volumes Creating): the next
        operation on it finds its owner gone, gives it the state its domain shows
        (none yet: Stopped) and goes on; the start makes what was missing."""
        killed_in(cloud, "build", "CreateVmInstance", name="k1",
                  instanceOfferingUuid=cloud.offering, imageUuid=cloud.image,
                  l3NetworkUuids=[cloud.l3])
        [vm] = cloud.query("QueryVmInstance", name="k1")
        assert vm["state"] == "Starting"
        assert {v["status"] for v in vm["allVolumes"]} == {"Creating"}
        cloud.ok("QueryVmInstance")                       # a query changes nothing
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"
        assert cloud.driver().state(vm["uuid"]) == "Running"
        assert {v["status"] for v in cloud.get("VmInstanceVO", vm["uuid"])["allVolumes"]} == \
            {"Ready"}
        assert cloud.backend.store.value("SELECT COUNT(*) FROM VmTransitionVO") == 0

    def test_a_vm_killed_after_its_domain_started_keeps_its_disks(self, cloud):
        """kill -9 once the new VM's domain runs, before its disks were marked Ready:
        its disks are whole and the guest writes to them; they are never made again."""
        killed_in(cloud, "ready", "CreateVmInstance", name="k4",
                  instanceOfferingUuid=cloud.offering, imageUuid=cloud.image,
                  l3NetworkUuids=[cloud.l3])
        [vm] = cloud.query("QueryVmInstance", name="k4")
        assert vm["state"] == "Starting" and cloud.driver().state(vm["uuid"]) == "Running"
        root = cloud.local(vm["allVolumes"][0]["installPath"])
        with open(root, "ab") as f:
            f.write(b"guest data")                      # what the guest wrote since
        assert cloud.ok("StopVmInstance", uuid=vm["uuid"])["state"] == "Stopped"
        assert {v["status"] for v in cloud.get("VmInstanceVO", vm["uuid"])["allVolumes"]} == \
            {"Ready"}
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"
        with open(root, "rb") as f:
            assert f.read().endswith(b"guest data")

    def test_a_vm_left_stopping_by_a_killed_process_is_taken_back(self, cloud):
        vm = cloud.vm("k2")["uuid"]
        killed_in(cloud, "stop", "StopVmInstance", uuid=vm)
        assert cloud.get("VmInstanceVO", vm)["state"] == "Stopping"
        # its domain still runs: Running again, then stopped for real
        assert cloud.ok("RebootVmInstance", uuid=vm)["state"] == "Running"
        assert cloud.ok("StopVmInstance", uuid=vm)["state"] == "Stopped"

    def test_reconnect_takes_back_a_killed_create_and_the_start_remakes_its_disks(self, cloud):
        killed_in(cloud, "build", "CreateVmInstance", name="k5",
                  instanceOfferingUuid=cloud.offering, imageUuid=cloud.image,
                  l3NetworkUuids=[cloud.l3])
        [vm] = cloud.query("QueryVmInstance", name="k5")
        root = cloud.local(vm["allVolumes"][0]["installPath"])
        assert os.path.exists(root)                    # made, still Creating
        cloud.ok("ReconnectHost", uuid=cloud.host)
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "Stopped"
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"
        assert {v["status"] for v in cloud.get("VmInstanceVO", vm["uuid"])["allVolumes"]} == \
            {"Ready"}

    def test_a_create_stopped_killed_before_its_domain_starts_later(self, cloud):
        killed_in(cloud, "define", "CreateVmInstance", name="k6", strategy="CreateStopped",
                  instanceOfferingUuid=cloud.offering, imageUuid=cloud.image,
                  l3NetworkUuids=[cloud.l3])
        [vm] = cloud.query("QueryVmInstance", name="k6")
        assert vm["state"] == "Stopped"
        assert {v["status"] for v in vm["allVolumes"]} == {"Creating"}
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"

    def test_a_failed_stop_gives_the_vm_back_to_the_process_starting_it(self, cloud):
        """Another live process starts the VM; a Stop from here fails: the VM is that
        process's again, so nothing takes its start back once this one is gone."""
        from backend.services import vm_state

        vm = cloud.vm("k7", strategy="JustCreate")["uuid"]
        store = cloud.backend.store
        other = subprocess.Popen(["sleep", "60"])
        try:
            with store.transaction():
                store.update("VmInstanceVO", vm, {"state": "Starting"})
                vm_state.own(store, vm, (other.pid, vm_state._started(other.pid), "x"))
            cloud.fail("StopVmInstance", uuid=vm)       # no domain yet: the stop fails
            assert store.value("SELECT pid FROM VmTransitionVO") == other.pid
            error = cloud.fail("StartVmInstance", uuid=vm)
            state_cause(error, "Starting", "StartVmInstance", ("Created", "Stopped"))
        finally:
            other.kill()
            other.wait()
        # that process died: now the VM is taken back at the next operation
        assert cloud.ok("StartVmInstance", uuid=vm)["state"] == "Running"

    def test_a_transition_whose_owner_lives_is_left_alone(self, cloud):
        from backend.services import vm_state

        vm = cloud.vm("k3", strategy="CreateStopped")["uuid"]
        store = cloud.backend.store
        with store.transaction():
            store.update("VmInstanceVO", vm, {"state": "Starting"})
            vm_state.own(store, vm)                     # this process: alive
        error = cloud.fail("StartVmInstance", uuid=vm)
        state_cause(error, "Starting", "StartVmInstance", ("Created", "Stopped"))
        done = subprocess.run(["true"])                 # a pid that has ended
        assert done.returncode == 0
        with store.transaction():
            store.conn.execute("UPDATE VmTransitionVO SET pid = ?", (99999999,))
        assert cloud.ok("StartVmInstance", uuid=vm)["state"] == "Running"

    def test_operations_from_disallowed_states(self, cloud):
        running = cloud.vm("running")["uuid"]
        stopped = cloud.vm("stopped", strategy="CreateStopped")["uuid"]
        created = cloud.vm("created", strategy="JustCreate")["uuid"]
        destroyed = cloud.vm("destroyed")["uuid"]
        cloud.ok("DestroyVmInstance", uuid=destroyed)
        volume = cloud.ok("CreateDataVolume", name="d", diskOfferingUuid=cloud.disk)["uuid"]

        cases = [
            ("StartVmInstance", {"uuid": running}, "Running", ("Created", "Stopped")),
            ("StartVmInstance", {"uuid": destroyed}, "Destroyed", ("Created", "Stopped")),
            ("StopVmInstance", {"uuid": stopped}, "Stopped", self.STOP_ALLOWED),
            ("StopVmInstance", {"uuid": created}, "Created", self.STOP_ALLOWED),
            ("RebootVmInstance", {"uuid": stopped}, "Stopped", ("Running",)),
            ("RebootVmInstance", {"uuid": created}, "Created", ("Running",)),
            ("RecoverVmInstance", {"uuid": running}, "Running", ("Destroyed",)),
            ("ExpungeVmInstance", {"uuid": stopped}, "Stopped", ("Destroyed",)),
            ("AttachDataVolumeToVm", {"vmInstanceUuid": destroyed, "volumeUuid": volume},
             "Destroyed", ("Running", "Stopped", "Created")),
        ]
        for api, params, state, allowed in cases:
            before = cloud.get("VmInstanceVO", params.get("uuid") or params["vmInstanceUuid"])
            state_cause(cloud.fail(api, **params), state, api, allowed)
            after = cloud.get("VmInstanceVO", before["uuid"])
            assert after["state"] == before["state"], api
        assert cloud.get("VolumeVO", volume)["status"] == "NotInstantiated"

    def test_destroy_recover_expunge(self, cloud):
        vm = cloud.vm(dataDiskOfferingUuids=[cloud.disk],
                      systemTags=[f"staticIp::{cloud.l3}::10.0.0.12", "hostname::box"])
        uuid = vm["uuid"]
        root, data = vm["allVolumes"]
        root_file = cloud.local(root["installPath"])
        assert os.path.exists(root_file)

        cloud.ok("DestroyVmInstance", uuid=uuid)
        assert cloud.get("VmInstanceVO", uuid)["state"] == "Destroyed"
        assert cloud.driver().state(uuid) is None
        assert os.path.exists(root_file)                     # recoverable
        assert cloud.get("VolumeVO", data["uuid"])["vmInstanceUuid"] is None
        cloud.ok("DestroyVmInstance", uuid=uuid)             # again: nothing to do

        recovered = cloud.ok("RecoverVmInstance", uuid=uuid)
        assert recovered["state"] == "Stopped"
        assert recovered["vmNics"][0]["ip"] == "10.0.0.12"
        assert cloud.ok("StartVmInstance", uuid=uuid)["state"] == "Running"
        assert cloud.driver().state(uuid) == "Running"

        cloud.ok("DestroyVmInstance", uuid=uuid)
        cloud.ok("ExpungeVmInstance", uuid=uuid)
        assert cloud.get("VmInstanceVO", uuid) is None
        assert not os.path.exists(root_file)
        assert cloud.get("VolumeVO", root["uuid"]) is None
        assert cloud.query("QueryVmNic", vmInstanceUuid=uuid) == []
        assert cloud.query("QuerySystemTag", resourceUuid=uuid) == []
        assert cloud.backend.store.value("SELECT COUNT(*) FROM UsedIpVO") == 0
        # the data volume stays, detached; the address and the hostname are free again
        assert cloud.get("VolumeVO", data["uuid"])["status"] == "Ready"
        again = cloud.vm("again", systemTags=[f"staticIp::{cloud.l3}::10.0.0.12",
                                              "hostname::box"])
        assert again["vmNics"][0]["ip"] == "10.0.0.12"
        cloud.fail("ExpungeVmInstance", "SYS.1003", uuid=uuid)

    def test_expunge_takes_the_root_volume_snapshots(self, cloud):
        free = cloud.disk_capacity()
        vm = cloud.vm(strategy="CreateStopped")
        root = vm["allVolumes"][0]
        snaps = [cloud.ok("CreateVolumeSnapshot", volumeUuid=root["uuid"], name=f"s{i}")
                 for i in range(2)]
        cloud.ok("DestroyVmInstance", uuid=vm["uuid"])
        cloud.ok("ExpungeVmInstance", uuid=vm["uuid"])
        assert cloud.query("QueryVolumeSnapshot") == []
        assert cloud.ok("QueryLocalStorageResourceRef")["inventories"] == []
        for snap in snaps:
            assert not os.path.exists(cloud.local(snap["primaryStorageInstallPath"]))
        image = cloud.get("ImageVO", cloud.image)
        assert cloud.disk_capacity() == free - image["actualSize"]     # only the cache stays

    def test_a_failed_create_leaves_nothing_behind(self, cloud):
        free, host = cloud.disk_capacity(), cloud.get("HostVO", cloud.host)
        ref, = cloud.get("ImageVO", cloud.image)["backupStorageRefs"]
        os.unlink(ref["installPath"])                    # the image can not be copied
        error = cloud.create_error("SYS.1006", dataDiskOfferingUuids=[cloud.disk],
                                   systemTags=["hostname::lost"])
        assert ref["installPath"] in error["details"]
        for api in ("QueryVmInstance", "QueryVmNic", "QueryVolume",
                    "QueryLocalStorageResourceRef", "QuerySystemTag"):
            assert cloud.query(api) == [], api
        assert cloud.backend.store.value("SELECT COUNT(*) FROM UsedIpVO") == 0
        assert cloud.disk_capacity() == free
        assert cloud.get("HostVO", cloud.host)["availableMemoryCapacity"] == \
            host["availableMemoryCapacity"]
        assert cloud.driver().states() == {}

    def test_destroying_a_vm_that_never_ran(self, cloud):
        vm = cloud.vm(strategy="JustCreate", dataDiskOfferingUuids=[cloud.disk])
        data = vm["allVolumes"][1]["uuid"]
        free = cloud.disk_capacity()
        cloud.ok("DestroyVmInstance", uuid=vm["uuid"])
        # its data volume was never made: it waits for an attach like a new one
        volume = cloud.get("VolumeVO", data)
        assert (volume["vmInstanceUuid"], volume["status"]) == (None, "NotInstantiated")
        other = cloud.vm("other")["uuid"]
        volume = cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=other, volumeUuid=data)
        assert volume["status"] == "Ready"
        assert os.path.exists(cloud.local(volume["installPath"]))
        assert "vdb" in cloud.domain_disks(other)
        cloud.ok("RecoverVmInstance", uuid=vm["uuid"])
        started = cloud.ok("StartVmInstance", uuid=vm["uuid"])
        assert [v["type"] for v in started["allVolumes"]] == ["Root"]
        assert started["allVolumes"][0]["status"] == "Ready"
        assert free > cloud.disk_capacity()

    def test_missing_vm(self, cloud):
        gone = "0123456789abcdef" * 2
        cloud.ok("DestroyVmInstance", uuid=gone)
        for api in ("StartVmInstance", "StopVmInstance", "RebootVmInstance",
                    "RecoverVmInstance", "ExpungeVmInstance"):
            error = cloud.fail(api, "SYS.1003", uuid=gone)
            assert error["details"] == \
                f"invalid field[uuid], resource[uuid:{gone}, type:VmInstanceVO] not found"

    def test_stop_grace_and_cold(self, cloud):
        vm = cloud.vm()["uuid"]
        assert cloud.ok("StopVmInstance", uuid=vm, type="cold")["state"] == "Stopped"
        assert cloud.driver().state(vm) == "Stopped"
        cloud.ok("StartVmInstance", uuid=vm)
        assert cloud.ok("StopVmInstance", uuid=vm)["state"] == "Stopped"
        assert cloud.driver().state(vm) == "Stopped"


# ================================================================ hosts

class TestHosts:
    UNREACHABLE = "qemu+tcp://127.0.0.1:1/system"

    def test_unreachable_host_then_back(self, cloud):
        running = cloud.vm("running")["uuid"]
        stopped = cloud.vm("stopped", strategy="CreateStopped")["uuid"]
        created = cloud.vm("created", strategy="JustCreate")["uuid"]
        cloud.set_uri(cloud.host, self.UNREACHABLE)
        error = cloud.fail("ReconnectHost", "SYS.1006", uuid=cloud.host)
        assert self.UNREACHABLE in error["details"]
        assert cloud.get("HostVO", cloud.host)["status"] == "Disconnected"
        states = {u: cloud.get("VmInstanceVO", u)["state"] for u in (running, stopped, created)}
        assert states == {running: "Unknown", stopped: "Unknown", created: "Created"}
        # nothing goes to a disconnected host
        cloud.create_error("SYS.1006")
        error = cloud.fail("StartVmInstance", "SYS.1006", uuid=created)
        assert "Disconnected" in error["details"]

        cloud.set_uri(cloud.host, "test:///default")
        host = cloud.ok("ReconnectHost", uuid=cloud.host)
        assert host["status"] == "Connected"
        states = {u: cloud.get("VmInstanceVO", u)["state"] for u in (running, stopped, created)}
        assert states == {running: "Running", stopped: "Stopped", created: "Created"}
        assert host["availableMemoryCapacity"] == 64 * GiB - 64 * MiB

    def test_domain_stopped_behind_our_back(self, cloud):
        vm = cloud.vm()["uuid"]
        cloud.driver().stop(vm, force=True)
        assert cloud.get("VmInstanceVO", vm)["state"] == "Running"     # nobody told us
        cloud.ok("ReconnectHost", uuid=cloud.host)
        assert cloud.get("VmInstanceVO", vm)["state"] == "Stopped"
        assert cloud.get("HostVO", cloud.host)["availableMemoryCapacity"] == 64 * GiB
        assert cloud.ok("StartVmInstance", uuid=vm)["state"] == "Running"

    def test_a_dead_host_can_still_be_deleted(self, cloud):
        vm = cloud.vm(dataDiskOfferingUuids=[cloud.disk])
        cloud.set_uri(cloud.host, self.UNREACHABLE)
        cloud.fail("ReconnectHost", "SYS.1006", uuid=cloud.host)
        cloud.fail("StopVmInstance", "SYS.1006", uuid=vm["uuid"])
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "Unknown"
        cloud.ok("DeleteHost", uuid=cloud.host, deleteMode="Enforcing")
        assert cloud.query("QueryHost") == []
        assert cloud.query("QueryVmInstance") == [] and cloud.query("QueryVolume") == []
        assert cloud.query("QueryVmNic") == []
        assert cloud.ok("QueryLocalStorageResourceRef")["inventories"] == []

    def test_domain_undefined_behind_our_back(self, cloud):
        vm = cloud.vm()["uuid"]
        cloud.driver().destroy(vm)
        cloud.driver().undefine(vm)
        cloud.ok("ReconnectHost", uuid=cloud.host)
        assert cloud.get("VmInstanceVO", vm)["state"] == "Stopped"
        assert cloud.ok("StartVmInstance", uuid=vm)["state"] == "Running"
        assert cloud.driver().state(vm) == "Running"

    def test_add_unreachable_host(self, cloud):
        before = cloud.query("QueryHost")
        error = cloud.fail("AddKVMHost", "SYS.1006", clusterUuid=cloud.cluster, name="dead",
                           managementIp="127.0.0.9", username="root", password="password",
                           libvirtUri=self.UNREACHABLE)
        assert self.UNREACHABLE in error["details"]
        assert cloud.query("QueryHost") == before
        assert cloud.query("QueryHost", name="dead") == []
        assert cloud.backend.store.value(
            "SELECT COUNT(*) FROM LocalStorageHostRefVO") == len(before)

    def test_two_simulated_hosts_keep_their_domains_apart(self, cloud):
        host2 = cloud.add_host("host2", "127.0.0.2")
        vm1 = cloud.vm("one", hostUuid=cloud.host)["uuid"]
        vm2 = cloud.vm("two", hostUuid=host2)["uuid"]
        assert cloud.driver(cloud.host).states() == {vm1: "Running"}
        assert cloud.driver(host2).states() == {vm2: "Running"}
        cloud.ok("StopVmInstance", uuid=vm1)
        assert cloud.driver(cloud.host).states() == {vm1: "Stopped"}
        assert cloud.driver(host2).states() == {vm2: "Running"}
        # each host has its own storage root
        root2 = cloud.get("VmInstanceVO", vm2)["allVolumes"][0]["installPath"]
        assert os.path.exists(cloud.local(root2, host2))
        assert not os.path.exists(cloud.local(root2, cloud.host))
        cloud.ok("ReconnectHost", uuid=host2)
        assert cloud.get("VmInstanceVO", vm1)["state"] == "Stopped"
        assert cloud.get("VmInstanceVO", vm2)["state"] == "Running"

    def test_update_kvm_host_records_the_login_for_the_next_reconnect(self, cloud):
        host = cloud.ok("UpdateKVMHost", uuid=cloud.host, name="renamed", username="admin",
                        password="new secret", sshPort=2222)
        assert (host["name"], host["username"], host["sshPort"]) == ("renamed", "admin", 2222)
        assert host["libvirtUri"] == "test:///default"          # not an ssh URI: kept
        assert "password" not in host
        assert cloud.backend.store.get("HostVO", cloud.host)["password"] == "new secret"
        for port in (0, 65536):
            error = cloud.fail("UpdateKVMHost", "SYS.1007", uuid=cloud.host, sshPort=port)
            assert "sshPort must be between 1 and 65535" in error["details"]
        cloud.fail("AddKVMHost", "SYS.1007", clusterUuid=cloud.cluster, name="bad port",
                   managementIp="127.0.0.9", username="root", password="password",
                   sshPort=0, libvirtUri="test:///default")
        assert cloud.get("HostVO", cloud.host)["sshPort"] == 2222

    def test_update_kvm_host_rewrites_an_ssh_uri_login_only(self, cloud):
        uri = "qemu+ssh://root@[fd00::5]:2200/system?keyfile=/k%20y&command=/w"
        cloud.set_uri(cloud.host, uri)
        host = cloud.ok("UpdateKVMHost", uuid=cloud.host, sshPort=22)
        assert host["libvirtUri"] == "qemu+ssh://root@[fd00::5]/system?keyfile=/k%20y&command=/w"
        host = cloud.ok("UpdateKVMHost", uuid=cloud.host, username="ops user", sshPort=2022)
        assert host["libvirtUri"] == \
            "qemu+ssh://ops%20user@[fd00::5]:2022/system?keyfile=/k%20y&command=/w"
        assert cloud.ok("UpdateKVMHost", uuid=cloud.host, password="p")["libvirtUri"] == \
            host["libvirtUri"]

    def test_reconnect_puts_the_key_back_with_the_recorded_password(self, cloud, monkeypatch):
        """A host whose authorized_keys lost this store's key (reinstalled, cleaned):
        ReconnectHost logs in with the recorded password once to put it back, as
        ZStack's reconnect does. (The real ssh round trip: the integration tier.)"""
        from backend.hostops import login
        from backend.services import host as host_service

        uri = "qemu+ssh://root@192.0.2.7/system?keyfile=/k&command=/w"
        cloud.set_uri(cloud.host, uri)
        cloud.ok("UpdateKVMHost", uuid=cloud.host, password="recorded")
        keys, connects, failure = [], [], ["ssh: Permission denied"]
        real_connect = host_service._connect

        def connect(ctx, uuid):
            connects.append(uuid)
            if failure[0]:
                raise host_service.operr(failure[0])
            cloud.set_uri(uuid, "test:///default")      # the simulated host stands in
            return real_connect(ctx, uuid)

        def put_key_back(home, u, password):
            keys.append(password)
            failure[0] = None
            return u

        monkeypatch.setattr(host_service, "_connect", connect)
        monkeypatch.setattr(login, "key_refused", lambda u: failure[0] is not None)
        monkeypatch.setattr(login, "ensure_key_login", put_key_back)
        assert cloud.ok("ReconnectHost", uuid=cloud.host)["status"] == "Connected"
        assert keys == ["recorded"] and len(connects) == 2

        # ssh logs in (or the host is out of reach): no password sent, the error stands
        cloud.set_uri(cloud.host, uri)
        failure[0] = "libvirtd is not running"
        monkeypatch.setattr(login, "key_refused", lambda u: False)
        error = cloud.fail("ReconnectHost", "SYS.1006", uuid=cloud.host)
        assert "libvirtd is not running" in error["details"] and keys == ["recorded"]

    def test_a_remote_hosts_files_left_while_out_of_reach_go_when_it_answers(
            self, cloud, monkeypatch):
        """DeleteHost of a remote host out of reach: its VM's file is noted
        (HostLeftoverVO) and deleted through the next host reached at that address;
        a failure there keeps what is left for the time after."""
        from backend.services import hosts
        from backend.services.host import drain_leftovers
        from backend.storage import StorageError

        vm = cloud.vm(dataDiskOfferingUuids=[cloud.disk])
        paths = sorted(v["installPath"] for v in vm["allVolumes"])
        uri = "qemu+ssh://root@127.0.0.1:1/system?keyfile=/k"      # refused at once
        cloud.set_uri(cloud.host, uri)
        deleted, reachable, used = [], [False], []

        class Ops:
            def __init__(self, host):
                self.host = host

            def delete_volume(self, path):
                if not reachable[0]:
                    raise StorageError("ssh: connect to host 192.0.2.9 port 22: No route")
                used.append((self.host["uuid"], self.host["libvirtUri"]))
                deleted.append(path)

        monkeypatch.setattr(hosts, "ops", lambda ctx, host, drv=None: Ops(host))
        gone = cloud.host
        cloud.ok("DeleteHost", uuid=gone, deleteMode="Enforcing")
        store = cloud.backend.store

        def left():
            return sorted(r["target"] for r in store.rows("SELECT target FROM HostLeftoverVO"))
        assert left() == paths and deleted == []
        cloud.backend.call("DeleteHost", {"uuid": gone})            # nothing noted twice
        assert left() == paths

        new_host = {"uuid": "f" * 32, "managementIp": "127.0.0.1", "username": "root",
                    "libvirtUri": "qemu+ssh://root@192.0.2.9:2222/system?keyfile=/new"}
        other = dict(new_host, managementIp="192.0.2.10")
        ctx = _ctx(cloud)
        assert drain_leftovers(ctx, other) == 0                      # another machine
        def in_turn():
            return [r["target"] for r in store.rows("SELECT target FROM HostLeftoverVO "
                                                    "ORDER BY attempts, id")]
        first, second = in_turn()
        assert drain_leftovers(ctx, new_host) == 0 and left() == paths   # still cut off
        assert in_turn() == [second, first]          # the one that failed goes behind
        reachable[0] = True
        assert drain_leftovers(ctx, new_host) == len(paths)
        assert sorted(deleted) == paths and left() == []
        # reached through the new host's login, named as the host that left them
        assert set(used) == {(gone, new_host["libvirtUri"])}

    def test_a_leftover_path_that_names_a_volume_again_is_forgotten(self, cloud, monkeypatch):
        """(a uuid given back with resourceUuid makes the same path): never deleted"""
        from backend.services import hosts, leftovers
        from backend.services.host import drain_leftovers

        root = cloud.vm()["allVolumes"][0]["installPath"]
        host = dict(cloud.backend.store.get("HostVO", cloud.host),
                    libvirtUri="qemu+ssh://root@127.0.0.1:1/system")
        ctx = _ctx(cloud)
        leftovers.defer(ctx, host, leftovers.FILE, root)
        monkeypatch.setattr(hosts, "ops", lambda *a, **k: pytest.fail("nothing to delete"))
        assert drain_leftovers(ctx, host) == 0
        assert cloud.backend.store.value("SELECT COUNT(*) FROM HostLeftoverVO") == 0
        assert os.path.exists(cloud.local(root))

    def test_a_flat_server_left_on_a_remote_host_is_stopped_unless_served_again(
            self, cloud, monkeypatch):
        from backend.services import flat, leftovers
        from backend.services.host import drain_leftovers

        store = cloud.backend.store
        ctx = _ctx(cloud)
        host = dict(store.get("HostVO", cloud.host),
                    libvirtUri="qemu+ssh://root@192.0.2.9/system")
        leftovers.defer(ctx, host, leftovers.FLAT, "a" * 32)
        leftovers.defer(ctx, host, leftovers.FLAT, "b" * 32)
        leftovers.defer(ctx, dict(host, libvirtUri="test:///default"), leftovers.FLAT, "c" * 32)
        stopped = []

        class Ops:
            def flat_remove(self, ep):
                stopped.append((ep["host"], ep["l3"], ep["state_dir"]))

        monkeypatch.setattr(flat.host_access, "ops", lambda ctx, h, drv=None: Ops())
        # "b" is served there again meanwhile (its mark here): not stopped, just forgotten
        os.makedirs(flat._state_dir(ctx, cloud.host, "b" * 32))
        assert drain_leftovers(ctx, host) == 2
        assert stopped == [(cloud.host, "a" * 32,
                            f"~/.zstack-cli/flat/{cloud.host}/{'a' * 32}")]
        assert store.value("SELECT COUNT(*) FROM HostLeftoverVO") == 0


def _ctx(cloud):
    from backend.api import Context

    return Context(cloud.backend, None, None)


# ================================================================ IP and MAC

def _create_many(home, names, offering, image, l3, strategy="JustCreate"):
    """A worker process: its own Backend on the shared $ZSTACK_HOME."""
    from backend.api import Backend

    backend = Backend(home)
    failures = []
    for name in names:
        reply = backend.call("CreateVmInstance", {
            "name": name, "instanceOfferingUuid": offering, "imageUuid": image,
            "l3NetworkUuids": [l3], "strategy": strategy})
        if not reply["success"]:
            failures.append(reply["error"])
    backend.close()
    return failures


class TestAddresses:
    def test_concurrent_creates_never_share_an_ip_or_mac(self, cloud):
        # a small range with the gateway inside it: 60 VMs take 60 of its 69 addresses
        l3 = cloud.add_l3("busy", "10.9.0.1", "10.9.0.70", "10.9.0.1")
        ctx = multiprocessing.get_context("spawn")
        jobs = [[f"p{p}-vm{i}" for i in range(15)] for p in range(4)]
        with ctx.Pool(4) as pool:
            results = pool.starmap(_create_many, [(cloud.home, names, cloud.offering,
                                                   cloud.image, l3) for names in jobs])
        assert results == [[], [], [], []]
        nics = cloud.query("QueryVmNic", l3NetworkUuid=l3)
        assert len(nics) == 60
        ips = [n["ip"] for n in nics]
        macs = [n["mac"] for n in nics]
        assert len(set(ips)) == 60 and len(set(macs)) == 60
        assert "10.9.0.1" not in ips
        used = cloud.backend.store.rows("SELECT ip, vmNicUuid FROM UsedIpVO WHERE "
                                        "l3NetworkUuid = ?", (l3,))
        assert sorted(r["ip"] for r in used) == sorted(ips)
        assert {r["vmNicUuid"] for r in used} == {n["uuid"] for n in nics}

        for i in range(9):
            cloud.vm(f"fill{i}", l3NetworkUuids=[l3], strategy="JustCreate")
        error = cloud.create_error("SYS.1006", l3NetworkUuids=[l3], strategy="JustCreate")
        assert "no available IP" in error["details"]
        ips = [n["ip"] for n in cloud.query("QueryVmNic", l3NetworkUuid=l3)]
        assert sorted(ips) == sorted(f"10.9.0.{i}" for i in range(2, 71))

    def test_concurrent_starts_on_one_simulated_host(self, cloud):
        # the image cache is made once, every domain lands in the host's one state file
        ctx = multiprocessing.get_context("spawn")
        jobs = [[f"p{p}-vm{i}" for i in range(2)] for p in range(4)]
        with ctx.Pool(4) as pool:
            results = pool.starmap(_create_many, [(cloud.home, names, cloud.offering,
                                                   cloud.image, cloud.l3, "InstantStart")
                                                  for names in jobs])
        assert results == [[], [], [], []]
        vms = cloud.query("QueryVmInstance")
        assert len(vms) == 8 and {v["state"] for v in vms} == {"Running"}
        assert cloud.driver().states() == {v["uuid"]: "Running" for v in vms}
        assert cloud.get("HostVO", cloud.host)["availableMemoryCapacity"] == 64 * GiB - 8 * 64 * MiB
        image = cloud.get("ImageVO", cloud.image)
        assert cloud.backend.store.value("SELECT COUNT(*) FROM ImageCacheVO") == 1
        assert cloud.disk_capacity() == cloud.ok("GetLocalStorageHostDiskCapacity",
                                                  primaryStorageUuid=cloud.ps)["inventories"][0][
            "totalCapacity"] - 8 * 32 * MiB - image["actualSize"]

    def test_first_available_strategy(self, cloud):
        cloud.ok("UpdateGlobalConfig", category="l3Network", name="ipAllocateStrategy",
                 value="FirstAvailableIpAllocatorStrategy")
        l3 = cloud.add_l3("first", "10.2.0.1", "10.2.0.9", "10.2.0.1")
        vms = [cloud.vm(f"v{i}", l3NetworkUuids=[l3], strategy="JustCreate") for i in range(3)]
        assert [v["vmNics"][0]["ip"] for v in vms] == ["10.2.0.2", "10.2.0.3", "10.2.0.4"]
        cloud.ok("DestroyVmInstance", uuid=vms[0]["uuid"])
        cloud.ok("ExpungeVmInstance", uuid=vms[0]["uuid"])
        assert cloud.vm("v3", l3NetworkUuids=[l3])["vmNics"][0]["ip"] == "10.2.0.2"
        assert cloud.vm("v4", l3NetworkUuids=[l3])["vmNics"][0]["ip"] == "10.2.0.5"

    def test_two_ranges_of_one_network(self, cloud):
        cloud.ok("UpdateGlobalConfig", category="l3Network", name="ipAllocateStrategy",
                 value="FirstAvailableIpAllocatorStrategy")
        l3 = cloud.add_l3("two-ranges", "10.3.0.2", "10.3.0.3", "10.3.0.1")
        cloud.ok("AddIpRange", l3NetworkUuid=l3, name="more", startIp="10.3.0.100",
                 endIp="10.3.0.100", netmask="255.255.255.0", gateway="10.3.0.1")
        ips = [cloud.vm(f"v{i}", l3NetworkUuids=[l3], strategy="JustCreate")["vmNics"][0]["ip"]
               for i in range(3)]
        assert ips == ["10.3.0.2", "10.3.0.3", "10.3.0.100"]
        cloud.create_error("SYS.1006", l3NetworkUuids=[l3], strategy="JustCreate")


# ================================================================ volumes and snapshots

class TestVolumes:
    def test_attach_instantiates_on_the_vms_host(self, cloud):
        vm = cloud.vm()["uuid"]
        free = cloud.disk_capacity()
        volume = cloud.ok("CreateDataVolume", name="data", diskOfferingUuid=cloud.disk)
        assert (volume["status"], volume["installPath"]) == ("NotInstantiated", None)
        assert cloud.disk_capacity() == free

        attached = cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm, volumeUuid=volume["uuid"])
        assert attached["status"] == "Ready" and attached["vmInstanceUuid"] == vm
        assert attached["deviceId"] == 1 and attached["primaryStorageUuid"] == cloud.ps
        path = cloud.local(attached["installPath"])
        assert os.path.exists(path)
        assert qemu_info(path)["virtual-size"] == 16 * MiB
        ref, = cloud.query("QueryLocalStorageResourceRef", resourceUuid=volume["uuid"])
        assert ref["hostUuid"] == cloud.host
        assert cloud.disk_capacity() == free - 16 * MiB
        for inactive in (False, True):
            disks = cloud.domain_disks(vm, inactive=inactive)
            assert disks["vdb"] == attached["installPath"], inactive
        error = cloud.fail("AttachDataVolumeToVm", "SYS.1006", vmInstanceUuid=vm,
                           volumeUuid=volume["uuid"])
        assert "already attached" in error["details"]

        detached = cloud.ok("DetachDataVolumeFromVm", uuid=volume["uuid"])
        assert (detached["vmInstanceUuid"], detached["status"]) == (None, "Ready")
        for inactive in (False, True):
            assert "vdb" not in cloud.domain_disks(vm, inactive=inactive)
        assert os.path.exists(path)
        cloud.ok("DetachDataVolumeFromVm", uuid=volume["uuid"])        # no-op

        cloud.ok("DeleteDataVolume", uuid=volume["uuid"])
        assert not os.path.exists(path)
        assert cloud.get("VolumeVO", volume["uuid"]) is None
        assert cloud.query("QueryLocalStorageResourceRef", resourceUuid=volume["uuid"]) == []
        assert cloud.disk_capacity() == free
        cloud.ok("DeleteDataVolume", uuid=volume["uuid"])              # gone: succeeds

    def test_attach_to_a_stopped_vm_then_start(self, cloud):
        vm = cloud.vm(strategy="CreateStopped")["uuid"]
        volume = cloud.ok("CreateDataVolume", name="data", diskOfferingUuid=cloud.disk)["uuid"]
        cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm, volumeUuid=volume)
        cloud.ok("StartVmInstance", uuid=vm)
        assert set(cloud.domain_disks(vm)) == {"vda", "vdb"}

    def test_a_volume_on_another_host_must_be_migrated(self, cloud):
        host2 = cloud.add_host("host2", "127.0.0.2")
        vm1 = cloud.vm("one", hostUuid=cloud.host)["uuid"]
        vm2 = cloud.vm("two", hostUuid=host2)["uuid"]
        volume = cloud.ok("CreateDataVolume", name="data", diskOfferingUuid=cloud.disk)["uuid"]
        cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm1, volumeUuid=volume)
        cloud.ok("DetachDataVolumeFromVm", uuid=volume)
        error = cloud.fail("AttachDataVolumeToVm", "SYS.1006", vmInstanceUuid=vm2,
                           volumeUuid=volume)
        assert "LocalStorageMigrateVolume" in error["details"]
        assert cloud.host in error["details"] and host2 in error["details"]
        assert "vdb" not in cloud.domain_disks(vm2, host=host2)
        assert cloud.get("VolumeVO", volume)["vmInstanceUuid"] is None

    def test_snapshot_chain_survives_deleting_the_older_snapshot(self, cloud):
        vm = cloud.vm(strategy="CreateStopped")
        root = vm["allVolumes"][0]
        path = cloud.local(root["installPath"])
        qemu_io(path, "write -P 0x11 0 64k")
        s1 = cloud.ok("CreateVolumeSnapshot", volumeUuid=root["uuid"], name="s1")
        assert (s1["latest"], s1["parentUuid"], s1["status"]) == (True, None, "Ready")
        qemu_io(path, "write -P 0x22 64k 64k")
        s2 = cloud.ok("CreateVolumeSnapshot", volumeUuid=root["uuid"], name="s2")
        assert (s2["latest"], s2["parentUuid"]) == (True, s1["uuid"])
        assert cloud.get("VolumeSnapshotVO", s1["uuid"])["latest"] is False
        qemu_io(path, "write -P 0x33 128k 64k")
        cache = cloud.local(f"{PS_URL}/imagecache/template/{cloud.image}/{cloud.image}.qcow2")
        chain = [os.path.normpath(i["filename"]) for i in qemu_info(path, chain=True)]
        assert chain == [path, cloud.local(s2["primaryStorageInstallPath"]),
                         cloud.local(s1["primaryStorageInstallPath"]), cache]
        refs = {r["resourceUuid"]: r for r in cloud.ok("QueryLocalStorageResourceRef")[
            "inventories"]}
        assert refs[s1["uuid"]]["resourceType"] == "VolumeSnapshotVO"

        cloud.ok("DeleteVolumeSnapshot", uuid=s1["uuid"])
        assert cloud.get("VolumeSnapshotVO", s1["uuid"]) is None
        assert not os.path.exists(cloud.local(s1["primaryStorageInstallPath"]))
        s2 = cloud.get("VolumeSnapshotVO", s2["uuid"])
        assert (s2["latest"], s2["parentUuid"]) == (True, None)
        chain = [os.path.normpath(i["filename"]) for i in qemu_info(path, chain=True)]
        assert chain == [path, cloud.local(s2["primaryStorageInstallPath"]), cache]
        qemu_img("check", path)
        for offset, pattern in (("0", "0x11"), ("64k", "0x22"), ("128k", "0x33")):
            qemu_io(path, f"read -P {pattern} {offset} 64k")
        assert s1["uuid"] not in {r["resourceUuid"] for r in cloud.ok(
            "QueryLocalStorageResourceRef")["inventories"]}
        cloud.ok("DeleteVolumeSnapshot", uuid=s1["uuid"])               # gone: succeeds
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"

    def test_snapshots_go_with_their_data_volume(self, cloud):
        vm = cloud.vm()["uuid"]
        free = cloud.disk_capacity()
        volume = cloud.ok("CreateDataVolume", name="data", diskOfferingUuid=cloud.disk)["uuid"]
        cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm, volumeUuid=volume)
        cloud.ok("DetachDataVolumeFromVm", uuid=volume)
        snaps = [cloud.ok("CreateVolumeSnapshot", volumeUuid=volume, name=f"s{i}")
                 for i in range(2)]
        cloud.ok("DeleteDataVolume", uuid=volume)
        assert cloud.query("QueryVolumeSnapshot", volumeUuid=volume) == []
        for snap in snaps:
            assert not os.path.exists(cloud.local(snap["primaryStorageInstallPath"]))
        assert cloud.disk_capacity() == free


# ================================================================ images

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def http_server(directory):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class TestImages:
    def test_add_image_from_path_file_and_http(self, cloud):
        served = cloud.tmp / "served"
        served.mkdir()
        source = make_qcow2(served / "disk.qcow2", "48M")
        with http_server(served) as base:
            for name, url in (("path", source), ("file", f"file://{source}"),
                              ("http", f"{base}/disk.qcow2")):
                seen = []
                reply = cloud.call("AddImage", progress=lambda *a: seen.append(a), name=name,
                                   format="qcow2", url=url, backupStorageUuids=[cloud.bs])
                assert reply["success"], reply
                image = reply["inventory"]
                assert (image["status"], image["size"]) == ("Ready", 48 * MiB), name
                assert image["md5Sum"] == md5(source), name
                assert seen, name
                label, done, total = seen[-1]
                assert name in label and done == os.path.getsize(source), seen
                ref, = image["backupStorageRefs"]
                assert ref["installPath"].startswith(str(cloud.tmp / "bs") + "/")
                assert md5(ref["installPath"]) == md5(source)
            error = cloud.fail("AddImage", "SYS.1006", name="missing", format="qcow2",
                               url=f"{base}/nothing.qcow2", backupStorageUuids=[cloud.bs])
            assert "404" in error["details"]
        assert cloud.query("QueryImage", name="missing") == []

    def test_format_mismatch_leaves_nothing(self, cloud):
        raw = cloud.tmp / "disk.raw"
        raw.write_bytes(b"\0" * MiB)
        before = sorted(os.listdir(cloud.tmp / "bs" / "images"))
        error = cloud.fail("AddImage", name="liar", format="qcow2", url=str(raw),
                           backupStorageUuids=[cloud.bs])
        assert error["code"] in ("SYS.1006", "SYS.1007") and "qcow2" in error["details"]
        cloud.fail("AddImage", "SYS.1007", name="liar", format="qcow2", mediaType="ISO",
                   url=str(raw), backupStorageUuids=[cloud.bs])
        error = cloud.fail("AddImage", name="liar", format="iso", mediaType="ISO",
                           url=str(raw), backupStorageUuids=[cloud.bs])
        assert "ISO" in error["details"]
        assert cloud.query("QueryImage", name="liar") == []
        assert sorted(os.listdir(cloud.tmp / "bs" / "images")) == before
        # a raw image declared raw is fine
        assert cloud.ok("AddImage", name="raw", format="raw", url=str(raw),
                        backupStorageUuids=[cloud.bs])["size"] == MiB

    def test_vm_from_an_iso(self, cloud):
        iso = cloud.ok("AddImage", name="iso", format="iso", mediaType="ISO",
                       url=make_iso(cloud.tmp / "x.iso"), backupStorageUuids=[cloud.bs])
        assert iso["mediaType"] == "ISO" and iso["status"] == "Ready"
        big = cloud.ok("CreateDiskOffering", name="d64", diskSize=64 * MiB)["uuid"]
        vm = cloud.vm(imageUuid=iso["uuid"], rootDiskOfferingUuid=big)
        assert vm["state"] == "Running"
        tags = [t["tag"] for t in cloud.query("QuerySystemTag", resourceUuid=vm["uuid"])]
        assert "bootOrder::CdRom,HardDisk" in tags
        root = vm["allVolumes"][0]
        info = qemu_info(cloud.local(root["installPath"]))
        assert info["virtual-size"] == 64 * MiB and "backing-filename" not in info
        cache = f"{PS_URL}/imagecache/template/{iso['uuid']}/{iso['uuid']}.iso"
        assert os.path.exists(cloud.local(cache))
        dom = ET.fromstring(cloud.driver().xml(vm["uuid"]))
        cdrom, = [d for d in dom.findall("devices/disk") if d.get("device") == "cdrom"]
        assert cdrom.find("source").get("file") == cache
        assert cdrom.find("boot").get("order") == "1"
        vda, = [d for d in dom.findall("devices/disk") if d.get("device") == "disk"]
        assert vda.find("boot").get("order") == "2"


# ================================================================ delete rules

class TestDeletes:
    def test_delete_l3_with_nics(self, cloud):
        vm = cloud.vm()["uuid"]
        error = cloud.fail("DeleteL3Network", "SYS.1006", uuid=cloud.l3)
        assert vm in error["details"] and "Enforcing" in error["details"]
        assert cloud.query("QueryL3Network", uuid=cloud.l3)
        cloud.ok("DeleteL3Network", uuid=cloud.l3, deleteMode="Enforcing")
        assert cloud.query("QueryL3Network", uuid=cloud.l3) == []
        assert cloud.query("QueryVmNic") == []
        assert cloud.query("QueryIpRange") == []
        assert cloud.backend.store.value("SELECT COUNT(*) FROM UsedIpVO") == 0
        vm = cloud.get("VmInstanceVO", vm)
        assert vm["vmNics"] == [] and vm["defaultL3NetworkUuid"] is None
        cloud.ok("DeleteL3Network", uuid=cloud.l3)                    # gone: succeeds

    def test_deleting_the_default_l3_network_moves_the_default(self, cloud):
        other = cloud.add_l3("l3b", "10.1.0.10", "10.1.0.20", "10.1.0.1")
        vm = cloud.vm(l3NetworkUuids=[cloud.l3, other], defaultL3NetworkUuid=cloud.l3)["uuid"]
        cloud.ok("DeleteL3Network", uuid=cloud.l3, deleteMode="Enforcing")
        vm = cloud.get("VmInstanceVO", vm)
        assert [n["l3NetworkUuid"] for n in vm["vmNics"]] == [other]
        assert vm["defaultL3NetworkUuid"] == other
        assert cloud.ok("StopVmInstance", uuid=vm["uuid"])["state"] == "Stopped"
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"

    def test_delete_ip_range_with_nics(self, cloud):
        rng, = cloud.query("QueryIpRange", l3NetworkUuid=cloud.l3)
        vm = cloud.vm()["uuid"]
        error = cloud.fail("DeleteIpRange", "SYS.1006", uuid=rng["uuid"])
        assert vm in error["details"]
        cloud.ok("DeleteIpRange", uuid=rng["uuid"], deleteMode="Enforcing")
        assert cloud.query("QueryIpRange") == [] and cloud.query("QueryVmNic") == []
        assert cloud.backend.store.value("SELECT COUNT(*) FROM UsedIpVO") == 0
        cloud.ok("DeleteIpRange", uuid=rng["uuid"])
        error = cloud.create_error("SYS.1006")
        assert "no IP range" in error["details"]

    def test_delete_host_with_vms(self, cloud):
        host2 = cloud.add_host("host2", "127.0.0.2")
        vm = cloud.vm(hostUuid=host2, dataDiskOfferingUuids=[cloud.disk])
        keep = cloud.vm("keep", hostUuid=cloud.host)["uuid"]
        error = cloud.fail("DeleteHost", "SYS.1006", uuid=host2)
        assert "still used by" in error["details"] and "Enforcing" in error["details"]
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "Running"
        cloud.ok("DeleteHost", uuid=host2, deleteMode="Enforcing")
        assert cloud.get("HostVO", host2) is None
        assert cloud.get("VmInstanceVO", vm["uuid"]) is None
        for volume in vm["allVolumes"]:
            assert cloud.get("VolumeVO", volume["uuid"]) is None, volume["type"]
        assert cloud.query("QueryLocalStorageResourceRef", hostUuid=host2) == []
        assert not os.path.exists(os.path.join(cloud.home, "hosts", host2))
        assert [n["vmInstanceUuid"] for n in cloud.query("QueryVmNic")] == [keep]
        assert cloud.get("VmInstanceVO", keep)["state"] == "Running"
        assert cloud.ok("GetLocalStorageHostDiskCapacity",
                        primaryStorageUuid=cloud.ps)["inventories"][0]["hostUuid"] == cloud.host
        cloud.ok("DeleteHost", uuid=host2)                             # gone: succeeds

    def test_delete_zone_enforcing_leaves_nothing(self, cloud):
        cloud.add_host("host2", "127.0.0.2")
        vm = cloud.vm(dataDiskOfferingUuids=[cloud.disk])["uuid"]
        stopped = cloud.vm("stopped", strategy="CreateStopped")
        cloud.ok("CreateVolumeSnapshot", volumeUuid=stopped["rootVolumeUuid"], name="root")
        volume = cloud.ok("CreateDataVolume", name="data", diskOfferingUuid=cloud.disk)["uuid"]
        cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm, volumeUuid=volume)
        cloud.ok("CreateVolumeSnapshot", volumeUuid=volume, name="s")
        error = cloud.fail("DeleteZone", "SYS.1006", uuid=cloud.zone)
        assert "Enforcing" in error["details"]
        cloud.ok("DeleteZone", uuid=cloud.zone, deleteMode="Enforcing")
        for api in ("QueryZone", "QueryCluster", "QueryHost", "QueryPrimaryStorage",
                    "QueryL2Network", "QueryL3Network", "QueryIpRange", "QueryVmInstance",
                    "QueryVmNic", "QueryVolume", "QueryVolumeSnapshot",
                    "QueryLocalStorageResourceRef"):
            assert cloud.query(api) == [], api
        store = cloud.backend.store
        for table in ("UsedIpVO", "LocalStorageHostRefVO", "ImageCacheVO",
                      "PrimaryStorageClusterRefVO", "L2NetworkClusterRefVO",
                      "BackupStorageZoneRefVO", "SystemTagVO"):
            assert store.value(f'SELECT COUNT(*) FROM "{table}"') == 0, table
        hosts_dir = os.path.join(cloud.home, "hosts")
        assert not os.path.isdir(hosts_dir) or os.listdir(hosts_dir) == []
        # images live on backup storage and stay
        assert [i["uuid"] for i in cloud.query("QueryImage")] == [cloud.image]
