"""cloud-init's own CloudStack datasource against the metadata server, across
network namespaces (SPEC §9 "Userdata"; DESIGN.md, Network).

    zsm-<rand>  stands for the host's DHCP namespace: 10.97.0.2/24 and
                169.254.169.254/32 on a veth; the metadata server runs here
    zsv-<rand>  stands for the VMs: the first VM's, the second VM's and an
                unknown address on the veth's other end, a route to
                169.254.169.254 via 10.97.0.2

cloud-init is not on PyPI: the Debian package is downloaded and unpacked once
per session (skipped when that fails), and its Python needs (jinja2,
configobj, jsonschema, jsonpatch, with requests and PyYAML the project already
has) are pip-installed into the venv when missing. cloud-init finds the server
from the ``dhcp-server-identifier`` of an ISC dhclient lease file: each run in
the VM namespace gets its own /var/lib (a tmpfs holding only that lease) in
the private mount namespace ``ip netns exec`` gives it; nothing leaks out.
"""

import base64
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from tests.unit.test_metadata import KEY1, KEY2, SEED_ESCAPED, SEED_YAML, build_cloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVER_IP, PREFIX = "10.97.0.2", 24
LINK_LOCAL = "169.254.169.254"
UNKNOWN_IP = "10.97.0.99"
PASSWORD = "Zs-pw 1:#x"
NEEDS = {"requests": "requests", "yaml": "pyyaml", "jinja2": "jinja2",
         "configobj": "configobj", "jsonschema": "jsonschema", "jsonpatch": "jsonpatch"}

INSTALLED = []      # what the session had to pip-install (printed in the summary)


def sh(*args, check=True, **kw):
    out = subprocess.run(list(args), check=False, capture_output=True, text=True, timeout=60, **kw)
    if check and out.returncode:
        raise AssertionError(f"{args}: {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out


# ------------------------------------------------------------------ session: cloud-init

@pytest.fixture(scope="session")
def cloudinit(tmp_path_factory):
    """The unpacked cloud-init Python tree (its dist-packages directory)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    for tool in ("ip", "apt-get", "dpkg-deb", "wget", "mount"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    missing = [pkg for module, pkg in NEEDS.items() if importlib.util.find_spec(module) is None]
    if missing:
        out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing],
                             check=False, capture_output=True, text=True, timeout=300)
        if out.returncode:
            pytest.skip(f"pip install {' '.join(missing)} failed: {out.stderr[-500:]}")
        importlib.invalidate_caches()
        INSTALLED.extend(missing)
        warnings.warn(f"pip-installed into the venv for cloud-init: {' '.join(missing)}")
    work = tmp_path_factory.mktemp("cloud-init")
    out = subprocess.run(["apt-get", "download", "cloud-init"], cwd=work, check=False,
                         capture_output=True, text=True, timeout=300)
    debs = list(work.glob("cloud-init_*.deb"))
    if out.returncode or not debs:
        pytest.skip(f"apt-get download cloud-init failed: {out.stderr.strip()[-300:]}")
    sh("dpkg-deb", "-x", str(debs[0]), str(work / "tree"))
    found = list((work / "tree").glob("usr/lib/python3*/dist-packages/cloudinit/sources/"
                                      "DataSourceCloudStack.py"))
    assert found, "no DataSourceCloudStack.py in the cloud-init package"
    return str(found[0].parents[2])


# ------------------------------------------------------------------ the network and server

class Net:
    def __init__(self, tmp):
        rand = secrets.token_hex(3)
        self.tmp = tmp
        self.srv, self.vmns = f"zsm-{rand}", f"zsv-{rand}"
        self.srv_if, self.vm_if = f"zsa{rand}", f"zsb{rand}"
        self.made = []
        self.server = None

    def up(self, vm_ips):
        for ns in (self.srv, self.vmns):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
        sh("ip", "link", "add", self.srv_if, "type", "veth", "peer", "name", self.vm_if)
        sh("ip", "link", "set", self.srv_if, "netns", self.srv)
        sh("ip", "link", "set", self.vm_if, "netns", self.vmns)
        self.run_in(self.srv, "ip", "link", "set", "lo", "up")
        self.run_in(self.srv, "ip", "addr", "add", f"{SERVER_IP}/{PREFIX}", "dev", self.srv_if)
        self.run_in(self.srv, "ip", "addr", "add", f"{LINK_LOCAL}/32", "dev", self.srv_if)
        self.run_in(self.srv, "ip", "link", "set", self.srv_if, "up")
        self.run_in(self.vmns, "ip", "link", "set", "lo", "up")
        for ip in vm_ips:                   # the first is the primary (the default source)
            self.run_in(self.vmns, "ip", "addr", "add", f"{ip}/{PREFIX}", "dev", self.vm_if)
        self.run_in(self.vmns, "ip", "link", "set", self.vm_if, "up")
        self.run_in(self.vmns, "ip", "route", "add", LINK_LOCAL, "via", SERVER_IP)

    def run_in(self, ns, *args, check=True, timeout=60):
        out = subprocess.run(["ip", "netns", "exec", ns, *args], check=False,
                             capture_output=True, text=True, timeout=timeout)
        if check and out.returncode:
            raise AssertionError(f"{ns}: {args}: {out.returncode}\n{out.stdout}\n{out.stderr}")
        return out

    def start_server(self, home, host, l3):
        self.log_path = self.tmp / "server.log"
        # `ip netns exec` execs the command: the pid is the server's
        with open(self.log_path, "w") as log:
            self.server = subprocess.Popen(
                ["ip", "netns", "exec", self.srv, sys.executable, "-m",
                 "backend.agent.metadata_server", "--home", home, "--host", host, "--l3", l3,
                 "--address", SERVER_IP, "--address", LINK_LOCAL,
                 "--state", str(self.tmp / "acks.json")],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "listening on" in self.log_path.read_text():
                return
            if self.server.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"metadata server did not start: {self.log_path.read_text()}")

    def in_vm(self, script, *args, timeout=120):
        """Run a Python script in the VM namespace, with its own /var/lib holding
        only a dhclient lease naming the server, and no DNS; its JSON output."""
        lease = self.tmp / "dhclient.leases"
        lease.write_text(f'lease {{\n  interface "{self.vm_if}";\n'
                         f"  option dhcp-server-identifier {SERVER_IP};\n}}\n")
        resolv = self.tmp / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")
        path = self.tmp / f"script{secrets.token_hex(2)}.py"
        path.write_text(script)
        setup = ("set -e; mount -t tmpfs zs-varlib /var/lib; mkdir /var/lib/dhcp; "
                 f"cp {lease} /var/lib/dhcp/dhclient.{self.vm_if}.leases; "
                 f"mount --bind {resolv} /etc/resolv.conf; "
                 "if [ -d /run/systemd/netif ]; then mount -t tmpfs zs-netif /run/systemd/netif; fi; "
                 'exec "$@"')
        out = self.run_in(self.vmns, "sh", "-c", setup, "sh", sys.executable, str(path), *args,
                          check=False, timeout=timeout)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    def down(self):
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        for ns in self.made:                # anything still running in our namespaces
            pids = subprocess.run(["ip", "netns", "pids", ns], check=False, capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        with contextlib.suppress(Exception):   # the veth goes with its namespace; just in case
            subprocess.run(["ip", "link", "del", self.srv_if], check=False,
                           capture_output=True)


@pytest.fixture(scope="module")
def world(cloudinit, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metadata-net")
    cloud = build_cloud(tmp / "home", tmp)
    l3 = cloud.add_l3(cloud.l2, "dhcp", "10.97.0.10", "10.97.0.20", "10.97.0.1")
    vm1 = cloud.vm("guest1", ["userdata::" + SEED_ESCAPED, "hostname::guest-one",
                              "sshkey::" + KEY1, "sshkey::" + KEY2,
                              f"rootPassword::{PASSWORD}"], l3s=[l3])
    vm2 = cloud.vm("guest2", [], l3s=[l3])
    ip1, ip2 = cloud.ip(vm1), cloud.ip(vm2)
    net = Net(tmp)
    try:
        net.up([ip1, ip2, UNKNOWN_IP])
        net.start_server(cloud.home, cloud.host, l3)
        yield {"cloud": cloud, "net": net, "l3": l3, "vm1": vm1, "vm2": vm2, "ip1": ip1,
               "ip2": ip2, "cloudinit": cloudinit}
    finally:
        net.down()
        cloud.backend.close()
        leftovers = subprocess.run(["ip", "netns", "list"], check=False, capture_output=True,
                                   text=True).stdout
        assert net.srv not in leftovers and net.vmns not in leftovers


# ------------------------------------------------------------------ scripts run in the VM

DATASOURCE = textwrap.dedent("""\
    import base64, json, logging, sys, tempfile
    sys.path.insert(0, sys.argv[1])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from cloudinit import distros, helpers
    from cloudinit.sources import DataSourceCloudStack as cs

    tmp = tempfile.mkdtemp()
    paths = helpers.Paths({"cloud_dir": tmp + "/cloud", "run_dir": tmp + "/run",
                           "templates_dir": tmp + "/templates"})
    distro = distros.fetch("debian")("debian", {}, paths)
    sys_cfg = {"datasource": {"CloudStack": {"max_wait": 20, "timeout": 5}}}
    ds = cs.DataSourceCloudStack(sys_cfg, distro, paths)
    ok = ds.get_data()
    again = cs.CloudStackPasswordServerClient(ds.vr_addr).get_password()
    print(json.dumps({
        "ok": ok, "vr": ds.vr_addr,
        "userdata": base64.b64encode(ds.get_userdata_raw()).decode(),
        "instance_id": ds.get_instance_id(), "metadata": ds.metadata,
        "keys": ds.get_public_ssh_keys(), "zone": ds.availability_zone,
        "hostname": ds.get_hostname().hostname, "cfg": ds.get_config_obj(),
        "password_again": again,
    }))
""")

EC2 = textwrap.dedent("""\
    import base64, json, sys, urllib.request
    sys.path.insert(0, sys.argv[1])
    from cloudinit.sources.helpers import ec2

    def get(url):
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()
    base = "http://169.254.169.254"
    md = ec2.get_instance_metadata("2009-04-04", base, retries=0)
    print(json.dumps({
        "instance_id": get(base + "/2009-04-04/meta-data/instance-id"),
        "userdata": base64.b64encode(ec2.get_instance_userdata("latest", base)).decode(),
        "userdata_plain": base64.b64encode(urllib.request.urlopen(
            base + "/latest/user-data", timeout=10).read()).decode(),
        "key0": get(base + "/latest/meta-data/public-keys/0/openssh-key"),
        "keys_index": get(base + "/latest/meta-data/public-keys/"),
        "metadata": md,
    }))
""")

PROBE = textwrap.dedent("""\
    import http.client, json, sys

    def get(server, port, path, source, headers=None):
        conn = http.client.HTTPConnection(server, port, timeout=10, source_address=(source, 0))
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return [r.status, r.read().decode()]
        finally:
            conn.close()
    out = {}
    for source in sys.argv[1:]:
        out[source] = {
            f"{server}{path}": get(server, 80, path, source)
            for server in ("10.97.0.2", "169.254.169.254")
            for path in ("/latest/user-data", "/latest/meta-data/instance-id",
                         "/2009-04-04/meta-data/", "/latest/meta-data/public-keys")}
        out[source]["password"] = get("10.97.0.2", 8080, "/", source,
                                      {"DomU_Request": "send_my_password"})
    print(json.dumps(out))
""")


# ------------------------------------------------------------------ tests

def test_cloudstack_datasource_unmodified(world):
    got = world["net"].in_vm(DATASOURCE, world["cloudinit"])
    vm1 = world["vm1"]
    assert got["ok"] is True and got["vr"] == SERVER_IP
    assert base64.b64decode(got["userdata"]) == SEED_YAML.encode()
    assert got["instance_id"] == vm1["uuid"]
    assert got["metadata"]["vm-id"] == vm1["uuid"]
    assert sorted(got["keys"]) == sorted([KEY1, KEY2])
    assert got["zone"] == "zone-md"
    assert got["metadata"]["service-offering"] == "small-offering"
    assert got["metadata"]["local-hostname"] == "guest-one" == got["hostname"]
    # the password server, through cloud-init's own wget client: served, then acknowledged
    assert got["cfg"] == {"ssh_pwauth": True, "password": PASSWORD,
                          "chpasswd": {"expire": False}}
    assert got["password_again"] is None
    log = world["net"].log_path.read_text()
    ip1 = world["ip1"]
    assert f"password {ip1} " in log and "DomU_Request=send_my_password" in log
    assert "DomU_Request=saved_password" in log
    assert PASSWORD not in log and "Traceback" not in log


def test_ec2_layout_on_the_link_local_address(world):
    got = world["net"].in_vm(EC2, world["cloudinit"])
    assert got["instance_id"] == world["vm1"]["uuid"]
    assert base64.b64decode(got["userdata"]) == SEED_YAML.encode()
    assert base64.b64decode(got["userdata_plain"]) == SEED_YAML.encode()
    assert got["key0"] == KEY1
    assert got["keys_index"] == "0=root@yyy\n1=key-1"
    md = got["metadata"]
    assert md["instance-id"] == world["vm1"]["uuid"]
    assert md["placement"] == {"availability-zone": "zone-md"}
    assert sorted(md["public-keys"]) == sorted([KEY1, KEY2])


def test_each_address_sees_only_its_own(world):
    ip1, ip2 = world["ip1"], world["ip2"]
    got = world["net"].in_vm(PROBE, ip1, ip2, UNKNOWN_IP)
    for server in (SERVER_IP, LINK_LOCAL):
        assert got[ip1][f"{server}/latest/user-data"] == [200, SEED_YAML]
        assert got[ip1][f"{server}/latest/meta-data/instance-id"] == [200, world["vm1"]["uuid"]]
        # the second VM: its own instance id, none of the first VM's data
        assert got[ip2][f"{server}/latest/user-data"][0] == 404
        assert got[ip2][f"{server}/latest/meta-data/public-keys"][0] == 404
        assert got[ip2][f"{server}/latest/meta-data/instance-id"] == [200, world["vm2"]["uuid"]]
        assert "public-keys" not in got[ip2][f"{server}/2009-04-04/meta-data/"][1]
        for path in ("/latest/user-data", "/latest/meta-data/instance-id",
                     "/2009-04-04/meta-data/", "/latest/meta-data/public-keys"):
            assert got[UNKNOWN_IP][f"{server}{path}"][0] == 404
    assert got[ip2]["password"] == [200, "saved_password"]
    assert got[UNKNOWN_IP]["password"][0] == 404


def test_a_tag_change_reaches_the_running_server(world):
    cloud, vm2 = world["cloud"], world["vm2"]
    text = "#cloud-config\nruncmd:\n  - [ sh, -c, 'echo \\\\ done' ]\n"
    cloud.tag(vm2["uuid"], "userdata::" + text)
    got = world["net"].in_vm(PROBE, world["ip2"])
    assert got[world["ip2"]][f"{LINK_LOCAL}/latest/user-data"] == [200, text]
    assert world["net"].server.poll() is None
