"""The Flat provider's userdata/metadata server (SPEC §9 "Userdata").

A small cloud is built through the API door on a simulated host, with an L3
range on loopback (127.0.0.50-99): a client bound to a VM's address then
reaches the server from that very address, so the real source-IP path is
covered here too. Where a test needs to ask "as" an address loopback can not
give, it replaces ``MetadataService.source_ip`` (a test-only header).
"""

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from backend.agent import metadata_server
from backend.agent.metadata_server import MetadataService, start
from backend.services import metadata
from backend.services.tags import normalize

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024

# The seed's one-liner (section 2), exactly as an operator pastes it...
SEED_ESCAPED = (
    "groups:\\n  - ubuntu: [foo,bar]\\n  - cloud-users\\n\\n# Add users to the system. Users are "
    "added after groups are added.\\nusers:\\n  - default\\n  - name: foobar\\n    gecos: Foo B. "
    "Bar\\n    primary-group: foobar\\n    groups: users\\n    selinux-user: staff_u\\n    "
    "expiredate: 2012-09-01\\n    ssh-import-id: foobar\\n    lock-passwd: false\\n  - name: "
    "barfoo\\n    gecos: Bar B. Foo\\n    sudo: ALL=(ALL) NOPASSWD:ALL\\n    groups: users, "
    "admin\\n    ssh-import-id: None\\n    lock-passwd: true\\n    ssh-authorized-keys:\\n      - "
    "<ssh pub key 1>\\n      - <ssh pub key 2>\\n  - name: cloudy\\n    gecos: Magic Cloud App "
    "Daemon User\\n    inactive: true\\n    system: true")

# ...and the YAML file it was made from with `sed ':a;N;$!ba;s/\n/\\n/g'`.
SEED_YAML = """\
groups:
  - ubuntu: [foo,bar]
  - cloud-users

# Add users to the system. Users are added after groups are added.
users:
  - default
  - name: foobar
    gecos: Foo B. Bar
    primary-group: foobar
    groups: users
    selinux-user: staff_u
    expiredate: 2012-09-01
    ssh-import-id: foobar
    lock-passwd: false
  - name: barfoo
    gecos: Bar B. Foo
    sudo: ALL=(ALL) NOPASSWD:ALL
    groups: users, admin
    ssh-import-id: None
    lock-passwd: true
    ssh-authorized-keys:
      - <ssh pub key 1>
      - <ssh pub key 2>
  - name: cloudy
    gecos: Magic Cloud App Daemon User
    inactive: true
    system: true"""

# A YAML given with real newlines: a trailing newline, blank lines, non-ASCII,
# quotes, a lone backslash, and shell continuations (a line ending in "\").
REAL_YAML = """\
#cloud-config
hostname: vm-from-yaml

write_files:
  - path: /etc/motd
    content: |
      Grüße aus der Wolke — 云 'quoted' "double" C:\\temp
runcmd:
  - [ sh, -c, "echo ok > /tmp/ok" ]
  - |
    apt-get install -y \\
        curl \\
        jq
"""

KEY1 = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC5x3AoWuiZawxXoBxEcOhhdVAST4kJA/cQ2zGnh3yZ"
        " root@yyy")
KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


class Cloud:
    """Zone, cluster, local storage, two simulated hosts, an image, an offering,
    an L2 and two L3s; L3 ``lo`` hands out loopback addresses."""

    def __init__(self, backend, tmp):
        self.backend = backend
        self.home = backend.home
        self.zone = self.ok("CreateZone", name="zone-md")["uuid"]
        self.cluster = self.ok("CreateCluster", name="cluster1", zoneUuid=self.zone,
                               hypervisorType="KVM")["uuid"]
        ps = self.ok("AddLocalPrimaryStorage", name="ps1", url="/zstack_ps",
                     zoneUuid=self.zone)["uuid"]
        self.ok("AttachPrimaryStorageToCluster", primaryStorageUuid=ps, clusterUuid=self.cluster)
        self.host = self.add_host("host1", "127.0.0.1")
        self.host2 = self.add_host("host2", "127.0.0.2")
        bs = self.ok("AddSftpBackupStorage", name="bs1", url=str(tmp / "bs"),
                     hostname="127.0.0.1", username="root", password="password")["uuid"]
        self.ok("AttachBackupStorageToZone", backupStorageUuid=bs, zoneUuid=self.zone)
        image = tmp / "tiny.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "32M"],
                       check=True)
        self.image = self.ok("AddImage", name="tiny", format="qcow2", url=str(image),
                             backupStorageUuids=[bs])["uuid"]
        self.offering = self.ok("CreateInstanceOffering", name="small-offering", cpuNum=1,
                                memorySize=64 * MiB)["uuid"]
        self.l2 = l2 = self.ok("CreateL2NoVlanNetwork", name="l2", zoneUuid=self.zone,
                               physicalInterface="eth1")["uuid"]
        self.ok("AttachL2NetworkToCluster", l2NetworkUuid=l2, clusterUuid=self.cluster)
        self.l3 = self.add_l3(l2, "lo", "127.0.0.50", "127.0.0.99", "127.0.0.1", "255.0.0.0")
        self.l3b = self.add_l3(l2, "other", "10.98.0.10", "10.98.0.99", "10.98.0.1")

    def ok(self, api, **params):
        reply = self.backend.call(api, params)
        assert reply["success"], (api, params, reply)
        return reply.get("inventory", reply)

    def add_host(self, name, ip):
        return self.ok("AddKVMHost", name=name, clusterUuid=self.cluster, managementIp=ip,
                       username="root", password="password", libvirtUri="test:///default")["uuid"]

    def add_l3(self, l2, name, start_ip, end_ip, gateway, netmask="255.255.255.0"):
        l3 = self.ok("CreateL3Network", name=name, l2NetworkUuid=l2)["uuid"]
        self.ok("AddIpRange", l3NetworkUuid=l3, name=f"{name}-range", startIp=start_ip,
                endIp=end_ip, netmask=netmask, gateway=gateway)
        return l3

    def vm(self, name, tags=(), host=None, l3s=None, **params):
        l3s = l3s or [self.l3]
        if len(l3s) > 1:
            params.setdefault("defaultL3NetworkUuid", l3s[0])
        vm = self.ok("CreateVmInstance", name=name, instanceOfferingUuid=self.offering,
                     imageUuid=self.image, l3NetworkUuids=l3s, hostUuid=host or self.host,
                     systemTags=list(tags), **params)
        return vm

    @staticmethod
    def ip(vm, l3=None):
        return next(n["ip"] for n in vm["vmNics"] if l3 is None or n["l3NetworkUuid"] == l3)

    def tag(self, vm_uuid, tag):
        return self.ok("CreateSystemTag", resourceType="VmInstanceVO", resourceUuid=vm_uuid,
                       tag=tag)

    def tag_uuid(self, vm_uuid, prefix):
        rows = self.backend.store.rows("SELECT uuid FROM SystemTagVO WHERE resourceUuid = ? "
                                       "AND tag LIKE ?", (vm_uuid, prefix + "%"))
        assert len(rows) == 1, rows
        return rows[0][0]

    def lookup(self, vm, l3=None, host=None):
        return metadata.lookup(self.backend.store, host or self.host, l3 or self.l3,
                               self.ip(vm, l3))


def build_cloud(home, tmp):
    from backend.api import Backend

    return Cloud(Backend(str(home)), tmp)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metadata")
    c = build_cloud(tmp / "home", tmp)
    yield c
    c.backend.close()


# ------------------------------------------------------------------ HTTP helpers

class Served:
    """The server, in-process, on 127.0.0.1 with ephemeral ports."""

    def __init__(self, service, address="127.0.0.1"):
        self.service = service
        self.running = start(service, [address], port=0, password_port=0)
        (_, self.port), = self.running.bound(metadata_server.MetadataHandler)
        (_, self.pw_port), = self.running.bound(metadata_server.PasswordHandler)
        self.address = address

    def get(self, path, source=None, port=None, headers=None, method="GET"):
        """(status, body bytes); ``source`` binds the client's address."""
        conn = http.client.HTTPConnection(self.address, port or self.port, timeout=10,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def password(self, request, source):
        return self.get("/", source=source, port=self.pw_port,
                        headers={"DomU_Request": request})


class Log:
    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def write(self, text):
        with self.lock:
            self.lines += [line for line in text.splitlines() if line]

    def flush(self):
        pass


@pytest.fixture
def served(cloud, tmp_path):
    log = Log()
    service = MetadataService(cloud.home, cloud.host, cloud.l3,
                              state_path=str(tmp_path / "acks.json"), log=log)
    s = Served(service)
    s.log = log
    yield s
    s.running.stop()


# ------------------------------------------------------------------ the \n rule

class TestDecoding:
    def test_the_seed_one_liner_is_the_yaml_file_put_through_sed(self):
        assert normalize(SEED_YAML) == SEED_ESCAPED
        assert metadata.decode(SEED_ESCAPED) == SEED_YAML

    def test_real_newlines_round_trip_byte_for_byte(self):
        stored = normalize(REAL_YAML)
        assert "\n" not in stored
        assert metadata.decode(stored) == REAL_YAML
        # a line ending in a backslash (a shell continuation) comes back too
        assert metadata.decode(normalize("a \\\nb\\\\\nc\\")) == "a \\\nb\\\\\nc\\"

    def test_a_literal_backslash_n_becomes_a_newline(self):
        # documented: the store can not tell it from a newline
        assert metadata.decode(normalize('printf "a\\nb"')) == 'printf "a\nb"'
        # other escapes are left alone
        assert metadata.decode("a\\tb\\\\x\\") == "a\\tb\\\\x\\"

    def test_crlf_arrives_as_lf(self):
        assert metadata.decode(normalize("a: 1\r\nb: 2\r\n")) == "a: 1\nb: 2\n"


# ------------------------------------------------------------------ lookup

class TestLookup:
    def test_seed_userdata_given_at_create(self, cloud):
        vm = cloud.vm("seed", ["userdata::" + SEED_ESCAPED, "hostname::seed-vm"])
        meta = cloud.lookup(vm)
        assert meta["user_data"] == SEED_YAML.encode()
        assert meta["instance_id"] == meta["vm_id"] == vm["uuid"]
        assert meta["local_hostname"] == "seed-vm"
        assert meta["service_offering"] == "small-offering"
        assert meta["availability_zone"] == "zone-md"
        assert meta["public_keys"] == [] and meta["root_password"] is None
        assert metadata.user_data_or_generated(meta) == SEED_YAML.encode()

    def test_yaml_with_real_newlines_by_create_system_tag(self, cloud):
        vm = cloud.vm("real")
        cloud.tag(vm["uuid"], "userdata::" + REAL_YAML)
        assert cloud.lookup(vm)["user_data"] == REAL_YAML.encode("utf-8")

    def test_yaml_with_real_newlines_at_create(self, cloud):
        vm = cloud.vm("real-at-create", ["userdata::" + REAL_YAML])
        assert cloud.lookup(vm)["user_data"] == REAL_YAML.encode("utf-8")

    def test_keys_password_and_default_hostname(self, cloud):
        vm = cloud.vm("keys", ["sshkey::" + KEY1, "rootPassword::s3cret:#x"])
        cloud.tag(vm["uuid"], "sshkey::" + KEY2)
        meta = cloud.lookup(vm)
        assert meta["public_keys"] == [KEY1, KEY2]
        assert meta["root_password"] == "s3cret:#x"
        assert meta["local_hostname"] == cloud.ip(vm).replace(".", "-")
        assert meta["user_data"] is None

    def test_only_that_vm_on_that_host_and_l3(self, cloud):
        vm = cloud.vm("two-nics", ["userdata::x: 1"], l3s=[cloud.l3, cloud.l3b])
        ip_b = cloud.ip(vm, cloud.l3b)
        assert metadata.lookup(cloud.backend.store, cloud.host, cloud.l3b, ip_b)["vm_id"] == \
            vm["uuid"]
        # the address of the other L3 asked on this L3, the wrong host, unknown addresses
        assert metadata.lookup(cloud.backend.store, cloud.host, cloud.l3, ip_b) is None
        assert cloud.lookup(vm, host=cloud.host2) is None
        assert metadata.lookup(cloud.backend.store, cloud.host, cloud.l3, "127.0.0.1") is None
        assert metadata.lookup(cloud.backend.store, cloud.host, cloud.l3, "") is None

    def test_a_vm_on_another_host_is_not_ours(self, cloud):
        vm = cloud.vm("elsewhere", ["userdata::x: 2"], host=cloud.host2)
        assert cloud.lookup(vm) is None
        assert cloud.lookup(vm, host=cloud.host2)["vm_id"] == vm["uuid"]

    def test_destroyed_vm_is_gone(self, cloud):
        vm = cloud.vm("doomed", ["userdata::x: 3"])
        assert cloud.lookup(vm) is not None
        cloud.ok("DestroyVmInstance", uuid=vm["uuid"])
        assert cloud.lookup(vm) is None

    def test_last_changed_tag_wins(self, cloud):
        vm = cloud.vm("changes", ["userdata::first: 1"])
        cloud.ok("UpdateSystemTag", uuid=cloud.tag_uuid(vm["uuid"], "userdata::"),
                 tag="userdata::second: 2")
        assert cloud.lookup(vm)["user_data"] == b"second: 2"


class TestGenerated:
    def test_keys_and_password(self, cloud):
        vm = cloud.vm("gen", ["sshkey::" + KEY1, "sshkey::" + KEY2,
                              "rootPassword::pa:ss 'w\"#rd"])
        data = metadata.user_data_or_generated(cloud.lookup(vm))
        assert data.startswith(b"#cloud-config\n")
        config = yaml.safe_load(data)
        assert config["ssh_authorized_keys"] == [KEY1, KEY2]
        assert config["chpasswd"] == {"expire": False, "list": "root:pa:ss 'w\"#rd"}
        assert config["disable_root"] is False and config["ssh_pwauth"] is True

    def test_keys_only(self, cloud):
        vm = cloud.vm("gen-keys", ["sshkey::" + KEY1])
        config = yaml.safe_load(metadata.user_data_or_generated(cloud.lookup(vm)))
        assert config["ssh_authorized_keys"] == [KEY1] and "chpasswd" not in config

    def test_password_only(self, cloud):
        vm = cloud.vm("gen-pw", ["rootPassword::pw"])
        config = yaml.safe_load(metadata.user_data_or_generated(cloud.lookup(vm)))
        assert config["chpasswd"]["list"] == "root:pw" and "ssh_authorized_keys" not in config

    def test_userdata_wins_and_nothing_is_none(self, cloud):
        vm = cloud.vm("gen-ud", ["sshkey::" + KEY1, "userdata::#!/bin/sh\\necho hi"])
        assert metadata.user_data_or_generated(cloud.lookup(vm)) == b"#!/bin/sh\necho hi"
        plain = cloud.vm("gen-none")
        assert metadata.user_data_or_generated(cloud.lookup(plain)) is None
        assert metadata.user_data_or_generated(None) is None


# ------------------------------------------------------------------ the HTTP server

class TestMetadataHttp:
    def test_cloudstack_layout_from_the_vms_own_address(self, cloud, served):
        vm = cloud.vm("http", ["userdata::" + SEED_ESCAPED, "hostname::web-http",
                               "sshkey::" + KEY1, "sshkey::" + KEY2])
        ip = cloud.ip(vm)
        assert served.get("/latest/user-data", ip) == (200, SEED_YAML.encode())
        assert served.get("/latest/meta-data/instance-id", ip) == (200, vm["uuid"].encode())
        status, index = served.get("/latest/meta-data/", ip)
        keys = index.decode().splitlines()
        assert status == 200
        for key in ("instance-id", "vm-id", "local-hostname", "hostname", "public-keys",
                    "service-offering", "availability-zone", "local-ipv4"):
            assert key in keys
        expected = {"instance-id": vm["uuid"], "vm-id": vm["uuid"],
                    "local-hostname": "web-http", "hostname": "web-http",
                    "service-offering": "small-offering", "availability-zone": "zone-md",
                    "local-ipv4": ip, "public-keys": f"{KEY1}\n{KEY2}"}
        for key, value in expected.items():
            assert served.get(f"/latest/meta-data/{key}", ip) == (200, value.encode()), key
        # a version segment of any kind, and no trailing slash on meta-data
        assert served.get("/2009-04-04/meta-data/instance-id", ip)[1] == vm["uuid"].encode()
        assert served.get("/1.0/meta-data", ip) == (200, index)
        assert served.get("/2009-04-04/user-data", ip) == (200, SEED_YAML.encode())
        assert served.get("/latest/", ip) == (200, b"meta-data\nuser-data")
        assert served.get("/", ip)[1].split() == [b"1.0", b"2009-04-04", b"latest"]

    def test_ec2_public_keys_tree_and_placement(self, cloud, served):
        vm = cloud.vm("ec2", ["sshkey::" + KEY1, "sshkey::" + KEY2])
        ip = cloud.ip(vm)
        assert served.get("/latest/meta-data/public-keys/", ip) == (200, b"0=root@yyy\n1=key-1")
        assert served.get("/latest/meta-data/public-keys/1/", ip) == (200, b"openssh-key")
        assert served.get("/latest/meta-data/public-keys/0/openssh-key", ip) == \
            (200, KEY1.encode())
        assert served.get("/latest/meta-data/public-keys/1/openssh-key", ip) == \
            (200, KEY2.encode())
        assert served.get("/latest/meta-data/public-keys/2/openssh-key", ip)[0] == 404
        assert served.get("/latest/meta-data/placement/", ip) == (200, b"availability-zone")
        assert served.get("/latest/meta-data/placement/availability-zone", ip) == \
            (200, b"zone-md")
        # the generated cloud-config carries the keys
        status, data = served.get("/latest/user-data", ip)
        assert status == 200 and yaml.safe_load(data)["ssh_authorized_keys"] == [KEY1, KEY2]

    def test_no_userdata_is_404_and_unknown_paths_too(self, cloud, served):
        vm = cloud.vm("bare")
        ip = cloud.ip(vm)
        assert served.get("/latest/user-data", ip)[0] == 404
        assert served.get("/latest/meta-data/public-keys", ip)[0] == 404
        assert b"public-keys" not in served.get("/latest/meta-data/", ip)[1]
        assert served.get("/latest/", ip) == (200, b"meta-data")
        for path in ("/latest/meta-data/nope", "/latest/secrets", "/latest/meta-data/instance-id/x"):
            assert served.get(path, ip)[0] == 404, path
        assert served.get("/latest/meta-data/instance-id", ip, method="HEAD") == (200, b"")

    def test_unknown_source_gets_404_for_everything_and_headers_are_ignored(self, cloud, served):
        vm = cloud.vm("private", ["userdata::secret: 1"])
        for path in ("/", "/latest/", "/latest/user-data", "/latest/meta-data/",
                     "/latest/meta-data/instance-id"):
            assert served.get(path, "127.0.0.1")[0] == 404, path
            assert served.get(path, "127.0.0.1",
                              headers={"X-Forwarded-For": cloud.ip(vm),
                                       "X-Real-IP": cloud.ip(vm)})[0] == 404, path
        # another VM's address sees only its own data
        other = cloud.vm("neighbour")
        assert served.get("/latest/user-data", cloud.ip(other))[0] == 404
        assert served.get("/latest/meta-data/instance-id", cloud.ip(other))[1] == \
            other["uuid"].encode()

    def test_tag_changes_show_on_the_next_request(self, cloud, served):
        vm = cloud.vm("live", ["userdata::v: 1"])
        ip = cloud.ip(vm)
        assert served.get("/latest/user-data", ip) == (200, b"v: 1")
        tag = cloud.tag_uuid(vm["uuid"], "userdata::")
        cloud.ok("UpdateSystemTag", uuid=tag, tag="userdata::" + REAL_YAML)
        assert served.get("/latest/user-data", ip) == (200, REAL_YAML.encode())
        cloud.ok("DeleteTag", uuid=tag)
        assert served.get("/latest/user-data", ip)[0] == 404
        cloud.tag(vm["uuid"], "hostname::renamed")
        assert served.get("/latest/meta-data/local-hostname", ip) == (200, b"renamed")
        cloud.ok("DestroyVmInstance", uuid=vm["uuid"])
        assert served.get("/latest/meta-data/instance-id", ip)[0] == 404

    def test_source_override_and_other_hosts(self, cloud, served):
        """The override stands for addresses loopback can not carry."""
        served.service.source_ip = lambda handler: handler.headers.get("X-Test-Source")
        here = cloud.vm("ten", ["userdata::here: 1"], l3s=[cloud.l3b, cloud.l3])
        there = cloud.vm("ten-there", ["userdata::there: 1"], host=cloud.host2)
        assert served.get("/latest/user-data",
                          headers={"X-Test-Source": cloud.ip(here, cloud.l3)}) == \
            (200, b"here: 1")
        # the L3 of the server only, and only this host's VMs
        assert served.get("/latest/user-data",
                          headers={"X-Test-Source": cloud.ip(here, cloud.l3b)})[0] == 404
        assert served.get("/latest/user-data",
                          headers={"X-Test-Source": cloud.ip(there)})[0] == 404

    def test_no_traceback_reaches_a_client(self, cloud, served):
        def broken(ip):
            raise RuntimeError("boom /secret/path")
        served.service.meta_for = broken
        status, body = served.get("/latest/user-data", "127.0.0.1")
        assert status == 500 and body == b"internal error\n"
        status, body = served.password("send_my_password", "127.0.0.1")
        assert status == 500 and b"Traceback" not in body and b"boom" not in body
        assert len(served.log.lines) == 2, served.log.lines       # one line per request
        assert all(" 500 " in line and "error=RuntimeError: boom" in line
                   for line in served.log.lines)
        assert not any("Traceback" in line for line in served.log.lines)

    def test_one_log_line_per_request(self, cloud, served):
        vm = cloud.vm("logged", ["userdata::x: 1"])
        before = len(served.log.lines)
        served.get("/latest/user-data", cloud.ip(vm))
        served.get("/latest/meta-data/", "127.0.0.1")
        lines = served.log.lines[before:]
        assert len(lines) == 2, lines
        assert cloud.ip(vm) in lines[0] and "/latest/user-data" in lines[0] and " 200 " in \
            lines[0] and vm["uuid"] in lines[0]
        assert "127.0.0.1" in lines[1] and " 404 " in lines[1] and "vm=-" in lines[1]

    def test_concurrent_requests(self, cloud, served):
        vms = [cloud.vm(f"many{i}", [f"userdata::n: {i}"]) for i in range(4)]
        results = {}

        def ask(i, vm):
            results[i] = [served.get("/latest/user-data", cloud.ip(vm)) for _ in range(10)]
        threads = [threading.Thread(target=ask, args=(i, vm)) for i, vm in enumerate(vms)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(4):
            assert results[i] == [(200, f"n: {i}".encode())] * 10


class TestPasswordServer:
    def test_cloudstack_password_protocol(self, cloud, served, tmp_path):
        vm = cloud.vm("pw", ["rootPassword::Pa55 word"])
        ip = cloud.ip(vm)
        assert served.password("send_my_password", ip) == (200, b"Pa55 word")
        assert served.password("send_my_password", ip) == (200, b"Pa55 word")   # no ack yet
        assert served.password("saved_password", ip) == (200, b"saved_password")
        assert served.password("send_my_password", ip) == (200, b"saved_password")
        # the acknowledgement is kept without the password, and survives a restart
        state = (tmp_path / "acks.json").read_text()
        assert "Pa55" not in state and vm["uuid"] in state
        again = MetadataService(cloud.home, cloud.host, cloud.l3,
                                state_path=str(tmp_path / "acks.json"), log=Log())
        fresh = Served(again)
        try:
            assert fresh.password("send_my_password", ip) == (200, b"saved_password")
        finally:
            fresh.running.stop()
        # a new password is served again, until acknowledged
        cloud.ok("UpdateSystemTag", uuid=cloud.tag_uuid(vm["uuid"], "rootPassword::"),
                 tag="rootPassword::n3w")
        assert served.password("send_my_password", ip) == (200, b"n3w")
        served.password("saved_password", ip)
        assert served.password("send_my_password", ip) == (200, b"saved_password")

    def test_no_password_bad_request_unknown_source(self, cloud, served):
        vm = cloud.vm("nopw")
        ip = cloud.ip(vm)
        assert served.password("send_my_password", ip) == (200, b"saved_password")
        assert served.password("saved_password", ip) == (200, b"saved_password")
        assert served.password("give_me_everything", ip) == (400, b"bad_request")
        assert served.get("/", ip, port=served.pw_port) == (400, b"bad_request")
        assert served.password("send_my_password", "127.0.0.1")[0] == 404


# ------------------------------------------------------------------ the process

def _run(args, **kw):
    return subprocess.run([sys.executable, "-m", "backend.agent.metadata_server", *args],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=30,
                          **kw)


class TestProcess:
    def test_db_name_is_the_backends(self):
        from backend.api import DB_NAME

        assert metadata_server.DB_NAME == DB_NAME

    def test_bind_failure_is_one_line_and_nonzero(self, cloud):
        out = _run(["--home", cloud.home, "--host", cloud.host, "--l3", cloud.l3,
                    "--address", "127.0.0.1", "--address", "192.0.2.123", "--port", "0",
                    "--password-port", "0"])
        assert out.returncode != 0
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "192.0.2.123" in out.stderr and "Traceback" not in out.stderr

    def test_port_in_use(self, cloud):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            out = _run(["--home", cloud.home, "--host", cloud.host, "--l3", cloud.l3,
                        "--address", "127.0.0.1", "--port", str(port), "--password-port", "0"])
        assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert f"127.0.0.1:{port}" in out.stderr

    def test_missing_store(self, tmp_path):
        out = _run(["--home", str(tmp_path / "nothing"), "--host", "h", "--l3", "l",
                    "--address", "127.0.0.1", "--port", "0", "--password-port", "0"])
        assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1, out.stderr

    def test_serves_and_stops_on_sigterm(self, cloud, tmp_path):
        vm = cloud.vm("proc", ["userdata::" + SEED_ESCAPED, "rootPassword::x"])
        ip = cloud.ip(vm)
        proc = subprocess.Popen([sys.executable, "-m", "backend.agent.metadata_server",
                                 "--home", cloud.home, "--host", cloud.host, "--l3", cloud.l3,
                                 "--address", "127.0.0.1", "--port", "0",
                                 "--password-port", "0", "--state", str(tmp_path / "s.json")],
                                cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stderr.readline()
            found = re.search(r"listening on 127\.0\.0\.1:(\d+) 127\.0\.0\.1:\d+ ", first)
            assert found, first
            port = int(found.group(1))
            client = Served.__new__(Served)
            client.address, client.port = "127.0.0.1", port
            assert client.get("/latest/user-data", ip) == (200, SEED_YAML.encode())
            assert client.get("/latest/user-data", "127.0.0.1")[0] == 404
            proc.send_signal(signal.SIGHUP)          # ignored
            time.sleep(0.2)
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            rest = proc.stderr.read()
            assert rest.count("\n") == 3 and "Traceback" not in rest, rest   # 2 requests + stop
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()


# ------------------------------------------------------------------ a remote host's documents

class TestDocuments:
    """A remote host has no store: its server answers from documents the cloud
    writes there (services.flat_documents, HostOps.metadata_documents). Served
    from documents, a VM reads exactly what the store-backed server gives it."""

    PATHS = ("/latest/user-data", "/latest/meta-data/", "/latest/meta-data/instance-id",
             "/latest/meta-data/local-hostname", "/latest/meta-data/public-keys",
             "/latest/meta-data/public-keys/0/openssh-key", "/latest/",
             "/latest/meta-data/placement/availability-zone", "/latest/meta-data/nothing")

    def _documents(self, cloud, directory, vms, drop=None):
        from backend.network.flat.documents import document
        from backend.hostops.ops import HostOps

        docs = {}
        for vm in vms:
            meta = cloud.lookup(vm)
            docs[cloud.ip(vm)] = document(meta, metadata.user_data_or_generated(meta))
        HostOps().metadata_documents(str(directory), docs, drop)

    def test_documents_serve_what_the_store_serves(self, cloud, served, tmp_path):
        full = cloud.vm("doc-full", ["userdata::" + SEED_ESCAPED, "hostname::doc-full",
                                     "sshkey::" + KEY1])
        keys = cloud.vm("doc-keys", ["sshkey::" + KEY1, "sshkey::" + KEY2,
                                     "rootPassword::pw-1"])
        bare = cloud.vm("doc-bare")
        directory = tmp_path / "documents"
        self._documents(cloud, directory, [full, keys, bare])
        assert {p.name for p in directory.iterdir()} == \
            {f"{cloud.ip(v)}.json" for v in (full, keys, bare)}
        assert all(p.stat().st_mode & 0o077 == 0 for p in directory.iterdir())
        remote = Served(MetadataService(None, cloud.host, cloud.l3, documents=str(directory),
                                        state_path=str(tmp_path / "acks.json"), log=Log()))
        try:
            for vm in (full, keys, bare):
                for path in self.PATHS:
                    assert remote.get(path, cloud.ip(vm)) == served.get(path, cloud.ip(vm)), \
                        (vm["name"], path)
            assert remote.password("send_my_password", cloud.ip(keys)) == (200, b"pw-1")
            # a VM whose document is dropped is nobody's any more
            self._documents(cloud, directory, [], drop=[cloud.ip(bare)])
            assert remote.get("/latest/meta-data/instance-id", cloud.ip(bare))[0] == 404
            assert remote.get("/latest/meta-data/instance-id", cloud.ip(full))[0] == 200
            self._documents(cloud, directory, [keys])            # all others go
            assert remote.get("/latest/meta-data/instance-id", cloud.ip(full))[0] == 404
            assert remote.get("/latest/meta-data/instance-id", cloud.ip(keys))[0] == 200
        finally:
            remote.running.stop()

    def test_the_agent_runs_the_documents_server(self, cloud, tmp_path):
        """The remote host runs it from the agent's zip: no store, no site packages."""
        from backend.hostops import bundle

        name, data = bundle.build()
        agent = tmp_path / name
        agent.write_bytes(data)
        vm = cloud.vm("doc-agent", ["userdata::" + SEED_ESCAPED])
        directory = tmp_path / "documents"
        self._documents(cloud, directory, [vm])
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(agent), "metadata",
                                 "--documents", str(directory), "--host", cloud.host,
                                 "--l3", cloud.l3, "--address", "127.0.0.1", "--port", str(port),
                                 "--password-port", str(_free_port())],
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                                      source_address=(cloud.ip(vm), 0))
                    conn.request("GET", "/latest/user-data")
                    response = conn.getresponse()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, \
                        proc.stderr.read()
                    time.sleep(0.05)
            assert (response.status, response.read()) == (200, SEED_YAML.encode())
        finally:
            proc.terminate()
            proc.wait(10)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
