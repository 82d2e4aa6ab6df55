"""The simulated host: libvirt's test driver, persistent, private, serialised."""

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("libvirt")

from backend.hypervisor import (  # noqa: E402
    HostUnreachable, HypervisorError, default_uri, driver_for)
from backend.hypervisor.domain import cdrom_xml, disk_xml, domain_xml  # noqa: E402
from backend.hypervisor.driver import HostDriver  # noqa: E402
from backend.hypervisor.simulator import SimulatedHostDriver  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SIM_HOST = {"uuid": "1" * 32, "name": "sim1", "managementIp": "192.0.2.10",
            "libvirtUri": "test:///default"}


def vm_uuid(n):
    return f"{n:032x}"


def spec(n, **over):
    s = {"uuid": vm_uuid(n), "name": f"vm-{n}", "cpuNum": 1, "memorySize": 256 * 1024 ** 2,
         "domainType": "kvm", "console": "vnc", "cdrom": {"path": None},
         "volumes": [{"uuid": "a" * 32, "path": f"/zstack/ps/root-{n}.qcow2",
                      "format": "qcow2", "deviceId": 0, "type": "Root"}],
         "nics": [{"mac": f"fa:00:00:00:00:{n % 256:02x}", "bridge": "br_eth1",
                   "deviceId": 0}],
         "bootOrder": ["HardDisk"]}
    s.update(over)
    return s


@pytest.fixture
def host(tmp_path):
    return driver_for(SIM_HOST, str(tmp_path))


def run_python(code, home):
    """Run a snippet in a separate process, with ``host`` bound to SIM_HOST's driver."""
    prelude = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from backend.hypervisor import driver_for
        from backend.hypervisor.domain import domain_xml
        host = driver_for({SIM_HOST!r}, {str(home)!r})
    """)
    out = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def disks(xml):
    return {d.find("target").get("dev"): d for d in ET.fromstring(xml).findall("devices/disk")}


def test_driver_for_chooses_the_simulator(tmp_path):
    d = driver_for(SIM_HOST, str(tmp_path))
    assert isinstance(d, SimulatedHostDriver)
    assert d.directory == str(tmp_path / "hosts" / SIM_HOST["uuid"])
    assert d.local_path("/zstack/ps/x.qcow2") == str(tmp_path / "hosts" / SIM_HOST["uuid"]
                                                     / "fs" / "zstack" / "ps" / "x.qcow2")
    assert d.local_path("/a/../../etc/passwd").startswith(d.fs_root + "/")
    real = driver_for({"uuid": "2" * 32, "managementIp": "127.0.0.1"}, str(tmp_path))
    assert type(real) is HostDriver and real.uri == "qemu:///system"
    assert real.local_path("/x/y") == "/x/y"
    remote = driver_for({"uuid": "3" * 32, "managementIp": "192.0.2.7",
                         "libvirtUri": None}, str(tmp_path))
    assert remote.uri == "qemu+ssh://root@192.0.2.7/system"


def test_default_uri():
    assert default_uri("127.0.0.1") == "qemu:///system"
    assert default_uri("127.1.2.3") == "qemu:///system"
    assert default_uri("localhost") == "qemu:///system"
    assert default_uri("::1") == "qemu:///system"
    assert default_uri("192.0.2.1") == "qemu+ssh://root@192.0.2.1/system"
    assert default_uri("2001:db8::1") == "qemu+ssh://root@[2001:db8::1]/system"


def test_unreachable_hosts_fail_fast(tmp_path):
    import time

    t = time.monotonic()
    with pytest.raises(HostUnreachable) as e:
        HostDriver(f"test://{tmp_path}/missing/node.xml").check()
    assert "\n" not in e.value.message
    with pytest.raises(HostUnreachable):            # nothing listens on port 1
        HostDriver("qemu+ssh://root@127.0.0.1:1/system").states()
    assert time.monotonic() - t < 5


@pytest.mark.parametrize("euid, user, mode, gid, expected", [
    (0, "root", 0o600, 0, "kvm"),                   # qemu.conf user = "root"
    (0, "qemu-user", 0o600, 0, "qemu"),             # root-only device, no udev
    (0, "qemu-user", 0o660, 4242, "kvm"),           # root:kvm 0660, user in kvm
    (0, "qemu-user", 0o660, 0, "qemu"),             # group it is not in
    (0, "qemu-user", 0o666, 0, "kvm"),
    (1000, "qemu-user", 0o600, 0, "kvm"),           # we opened it ourselves
])
def test_domain_type(monkeypatch, euid, user, mode, gid, expected):
    import pwd

    import backend.hypervisor as hv

    fake_user = pwd.struct_passwd(("qemu-user", "x", 994, 994, "", "/", "/bin/false"))
    monkeypatch.setattr(hv.os, "open", lambda *a: 99)
    monkeypatch.setattr(hv.os, "close", lambda fd: None)
    monkeypatch.setattr(hv.os, "fstat", lambda fd: os.stat_result(
        (0o20000 | mode, 0, 0, 1, 0, gid, 0, 0, 0, 0)))
    monkeypatch.setattr(hv.os, "geteuid", lambda: euid)
    monkeypatch.setattr(hv, "_qemu_user", lambda: "root" if user == "root" else fake_user)
    monkeypatch.setattr(hv, "_groups", lambda u: {994, 4242})
    assert hv.domain_type() == expected


def test_domain_type_without_kvm_device(monkeypatch):
    import backend.hypervisor as hv

    def refuse(*a):
        raise FileNotFoundError("/dev/kvm")

    monkeypatch.setattr(hv.os, "open", refuse)
    assert hv.domain_type() == "qemu"


def test_check_capacity(host):
    info = host.check()
    assert info["cpuNum"] == 32 and info["memoryBytes"] == 64 * 1024 ** 3
    assert info["hostname"] and info["libvirtVersion"].count(".") == 2
    Path(host.directory, "capacity.json").write_text(
        json.dumps({"cpuNum": 4, "memoryBytes": 8 * 1024 ** 3, "hostname": "rack1-h1"}))
    assert host.check() == dict(info, cpuNum=4, memoryBytes=8 * 1024 ** 3, hostname="rack1-h1")


def test_lifecycle(host):
    u = vm_uuid(1)
    assert host.state(u) is None
    assert host.define(domain_xml(spec(1))) == u
    assert host.state(u) == "Stopped"
    host.start(u)
    host.start(u)                                   # already running: nothing to do
    assert host.state(u) == "Running"
    host.reboot(u)
    assert host.state(u) == "Running"
    assert host.stop(u) is True
    assert host.state(u) == "Stopped"
    host.stop(u)                                    # already stopped: nothing to do
    host.start(u)
    host.stop(u, force=True)
    assert host.state(u) == "Stopped"
    host.start(u)
    host.destroy(u)
    host.destroy(u)                                 # not running: no error
    assert host.states() == {u: "Stopped"}
    host.undefine(u)
    host.undefine(u)                                # absent: no error
    host.destroy(u)
    assert host.state(u) is None and host.states() == {}


def test_errors_are_one_line(host):
    with pytest.raises(HypervisorError) as e:
        host.start(vm_uuid(9))
    assert "\n" not in e.value.message and vm_uuid(9) in e.value.message
    host.define(domain_xml(spec(2)))
    with pytest.raises(HypervisorError) as e:
        host.reboot(vm_uuid(2))                     # not running
    assert "\n" not in e.value.message
    with pytest.raises(HypervisorError):
        host.define("<domain type='kvm'><name>broken")


def test_paused_state_persists(host, tmp_path):
    u = vm_uuid(3)
    host.define(domain_xml(spec(3)))
    host.start(u)
    with host._session("suspend") as conn:          # no pause API yet: go under it
        conn.lookupByName(u).suspend()
    assert host.state(u) == "Paused"
    assert json.loads(run_python(f"print(json.dumps(host.state({u!r})))", tmp_path)) == "Paused"
    host.stop(u)                                    # paused: straight to destroy
    assert host.state(u) == "Stopped"


def test_state_survives_processes(host, tmp_path):
    a, b = vm_uuid(10), vm_uuid(11)
    run_python(f"""
        for n in (10, 11):
            host.define(domain_xml({{**{spec(0)!r}, "uuid": "%032x" % n, "name": "vm-%d" % n}}))
        host.start({a!r})
    """, tmp_path)
    assert host.states() == {a: "Running", b: "Stopped"}
    host.start(b)
    host.stop(a)
    out = run_python("print(json.dumps(host.states()))", tmp_path)
    assert json.loads(out) == {a: "Stopped", b: "Running"}
    # this process keeps its last connection; another's change must still show
    assert host.state(a) == "Stopped"
    run_python(f"host.start({a!r})", tmp_path)
    assert host.state(a) == "Running"
    # the domain's identity is kept too, not regenerated at each load
    assert ET.fromstring(host.xml(b)).findtext("uuid") == \
        "00000000-0000-0000-0000-00000000000b"


def test_hosts_are_private(tmp_path):
    h1 = driver_for(SIM_HOST, str(tmp_path))
    h2 = driver_for(dict(SIM_HOST, uuid="2" * 32), str(tmp_path))
    h1.define(domain_xml(spec(20)))
    h1.start(vm_uuid(20))
    assert h2.states() == {}
    h2.define(domain_xml(spec(21)))
    assert h1.states() == {vm_uuid(20): "Running"}
    assert h2.states() == {vm_uuid(21): "Stopped"}


def test_concurrent_processes_lose_nothing(host, tmp_path):
    host.check()
    procs = []
    for worker in range(4):
        code = f"""
            import sys
            sys.path.insert(0, {str(ROOT)!r})
            from backend.hypervisor import driver_for
            from backend.hypervisor.domain import domain_xml
            host = driver_for({SIM_HOST!r}, {str(tmp_path)!r})
            base = {spec(0)!r}
            for i in range(10):
                u = "%032x" % (1000 + {worker} * 100 + i)
                host.define(domain_xml(dict(base, uuid=u, name=u)))
                host.start(u)
                if i % 3 == 0:
                    host.stop(u)
        """
        procs.append(subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    states = host.states()
    assert len(states) == 40
    expected = {"%032x" % (1000 + w * 100 + i): ("Stopped" if i % 3 == 0 else "Running")
                for w in range(4) for i in range(10)}
    assert states == expected


def test_threads_serialise_too(host):
    import threading

    errors = []

    def work(t):
        try:
            for i in range(5):
                u = vm_uuid(5000 + t * 10 + i)
                host.define(domain_xml(spec(5000 + t * 10 + i, uuid=u)))
                host.start(u)
        except Exception as e:                      # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(host.states()) == 20


def test_attach_detach_disk_live(host, tmp_path):
    u = vm_uuid(30)
    host.define(domain_xml(spec(30)))
    host.start(u)
    data = {"uuid": "d" * 32, "path": "/zstack/ps/data-1.qcow2", "format": "qcow2",
            "deviceId": 1, "type": "Data"}
    host.attach_disk(u, disk_xml(data), live=True)
    for xml in (host.xml(u), host.xml(u, inactive=True)):
        assert disks(xml)["vdb"].find("source").get("file") == "/zstack/ps/data-1.qcow2"
    with pytest.raises(HypervisorError, match="vdb"):
        host.attach_disk(u, disk_xml(data), live=True)
    # another process sees the live disk
    out = run_python(f"print('vdb' in host.xml({u!r}))", tmp_path)
    assert out.strip() == "True"
    host.detach_disk(u, disk_xml(data), live=True)
    assert "vdb" not in disks(host.xml(u)) and "vdb" not in disks(host.xml(u, inactive=True))
    with pytest.raises(HypervisorError, match="vdb"):
        host.detach_disk(u, disk_xml(data), live=True)
    assert host.state(u) == "Running"


def test_attach_config_only_applies_at_next_start(host):
    u = vm_uuid(31)
    host.define(domain_xml(spec(31)))
    host.start(u)
    data = {"uuid": "e" * 32, "path": "/zstack/ps/data-2.raw", "format": "raw",
            "deviceId": 2, "type": "Data"}
    host.attach_disk(u, disk_xml(data), live=False)
    assert "vdc" not in disks(host.xml(u))
    assert "vdc" in disks(host.xml(u, inactive=True))
    host.stop(u)
    host.start(u)
    assert "vdc" in disks(host.xml(u))


def test_attach_to_stopped_domain(host):
    u = vm_uuid(32)
    host.define(domain_xml(spec(32)))
    data = {"uuid": "f" * 32, "path": "/zstack/ps/d.qcow2", "deviceId": 1}
    host.attach_disk(u, disk_xml(data), live=True)  # live is moot when stopped
    host.start(u)
    assert "vdb" in disks(host.xml(u))


def test_redefine_while_running_applies_at_next_start(host, tmp_path):
    u = vm_uuid(33)
    host.define(domain_xml(spec(33)))
    host.start(u)
    host.define(domain_xml(spec(33, bootOrder=["CdRom", "HardDisk"])))
    assert disks(host.xml(u))["hdc"].find("boot") is None       # live: unchanged
    assert disks(host.xml(u, inactive=True))["hdc"].find("boot").get("order") == "1"
    run_python(f"host.reboot({u!r})", tmp_path)                  # a reset keeps the live XML
    assert disks(host.xml(u))["hdc"].find("boot") is None
    run_python(f"host.stop({u!r}); host.start({u!r})", tmp_path)
    assert disks(host.xml(u))["hdc"].find("boot").get("order") == "1"


def test_change_media(host):
    u = vm_uuid(40)
    host.define(domain_xml(spec(40, bootOrder=["CdRom", "HardDisk"])))
    host.change_media(u, cdrom_xml("/zstack/bs/a.iso"))         # stopped: definition
    cd = disks(host.xml(u))["hdc"]
    assert cd.find("source").get("file") == "/zstack/bs/a.iso"
    assert cd.find("boot").get("order") == "1"                   # the rest is kept
    host.start(u)
    host.change_media(u, cdrom_xml("/zstack/bs/b.iso"))         # running: live + config
    for xml in (host.xml(u), host.xml(u, inactive=True)):
        assert disks(xml)["hdc"].find("source").get("file") == "/zstack/bs/b.iso"
    host.change_media(u, cdrom_xml(None))                        # eject
    for xml in (host.xml(u), host.xml(u, inactive=True)):
        assert disks(xml)["hdc"].find("source") is None
        assert disks(xml)["hdc"].get("device") == "cdrom"
    assert host.state(u) == "Running"


def test_graphics_port_stable(host, tmp_path):
    a, b = vm_uuid(50), vm_uuid(51)
    host.define(domain_xml(spec(50)))
    host.define(domain_xml(spec(51, console="spice")))
    with pytest.raises(HypervisorError):
        host.graphics(a)                                          # not running
    host.start(a)
    host.start(b)
    pa, pb = host.graphics(a), host.graphics(b)
    assert pa[0] == "vnc" and pb[0] == "spice"
    assert pa[1] >= 5900 and pb[1] >= 5900 and pa[1] != pb[1]
    assert host.graphics(a) == pa
    out = run_python(f"print(json.dumps(host.graphics({a!r})))", tmp_path)
    assert tuple(json.loads(out)) == pa
    g = ET.fromstring(host.xml(a)).find("devices/graphics")
    assert int(g.get("port")) == pa[1]                           # the live XML shows it
    host.stop(a)
    host.start(a)
    assert host.graphics(a) == pa
    # a domain started under our feet (not through start()) still gets a port
    c = vm_uuid(53)
    host.define(domain_xml(spec(53)))
    with host._session("start behind the driver's back") as conn:
        conn.lookupByName(c).create()
    pc = host.graphics(c)
    assert pc[1] not in (pa[1], pb[1]) and host.graphics(c) == pc
    # another simulated host numbers its own consoles
    other = driver_for(dict(SIM_HOST, uuid="4" * 32), str(tmp_path))
    other.define(domain_xml(spec(52)))
    other.start(vm_uuid(52))
    assert other.graphics(vm_uuid(52))[1] == 5900


def test_unusable_host_is_unreachable(host):
    u, v = vm_uuid(61), vm_uuid(62)
    host.define(domain_xml(spec(61)))
    host.define(domain_xml(spec(62)))
    host.check()
    Path(host.state_file).write_text("<node><domain>broken")      # host.xml
    with pytest.raises(HostUnreachable):
        host.check()
    with pytest.raises(HostUnreachable):
        host.define(domain_xml(spec(63)))           # a new domain is defined on host.xml
    host.start(u)                                   # the domains' own files are intact
    Path(host._file(u)).write_text("<node><domain>broken")
    for call in (host.states, lambda: host.state(u), lambda: host.xml(u),
                 lambda: host.start(u), lambda: host.define(domain_xml(spec(61)))):
        with pytest.raises(HostUnreachable) as e:
            call()
        assert "\n" not in e.value.message
    assert host.state(v) == "Stopped"               # one broken domain file spoils no other


def test_node_files_are_test_driver_nodes(host):
    """host.xml and every domain file alone (without our code) load in libvirt's test driver."""
    import urllib.parse

    import libvirt

    u = vm_uuid(60)
    host.define(domain_xml(spec(60)))
    host.start(u)
    for uri, count in ((host.uri, 0), ("test://" + urllib.parse.quote(host._file(u)), 1)):
        conn = libvirt.open(uri)
        try:
            doms = conn.listAllDomains()
            assert len(doms) == count
            if count:
                assert doms[0].name() == u and doms[0].state()[0] == libvirt.VIR_DOMAIN_RUNNING
            else:
                assert conn.getInfo()[2] == 32
        finally:
            conn.close()
    for _, _, files in os.walk(host.directory):
        assert not [f for f in files if f.endswith(".tmp")]


# ---------------------------------------------------------------- one file per domain

def test_define_and_start(host, tmp_path):
    u = vm_uuid(70)
    assert host.define_and_start(domain_xml(spec(70))) == u
    assert host.state(u) == "Running"
    protocol, port = host.graphics(u)
    assert protocol == "vnc" and port == 5900
    assert int(ET.fromstring(host.xml(u)).find("devices/graphics").get("port")) == port
    assert json.loads(run_python(f"print(json.dumps(host.state({u!r})))", tmp_path)) == "Running"
    # running: a redefinition waits for the next start, as define() does
    assert host.define_and_start(domain_xml(spec(70, bootOrder=["CdRom", "HardDisk"]))) == u
    assert disks(host.xml(u))["hdc"].find("boot") is None
    assert disks(host.xml(u, inactive=True))["hdc"].find("boot").get("order") == "1"
    host.stop(u)
    assert host.define_and_start(domain_xml(spec(70))) == u     # stopped: started again
    assert host.state(u) == "Running" and host.graphics(u) == (protocol, port)
    with pytest.raises(HypervisorError) as e:
        host.define_and_start("<domain type='kvm'><name>broken")
    assert "\n" not in e.value.message
    assert host.states() == {u: "Running"}
    assert getattr(HostDriver, "define_and_start", None) is None   # the service layer probes


def test_domain_ids_are_unique_while_running(host):
    ids = {}
    for n in (80, 81, 82):
        host.define_and_start(domain_xml(spec(n)))
        ids[n] = ET.fromstring(host.xml(vm_uuid(n))).get("id")
    assert len(set(ids.values())) == 3 and all(int(i) > 0 for i in ids.values())
    host.reboot(vm_uuid(80))
    assert ET.fromstring(host.xml(vm_uuid(80))).get("id") == ids[80]    # a reset keeps it
    host.stop(vm_uuid(80))
    assert ET.fromstring(host.xml(vm_uuid(80))).get("id") in (None, "-1")
    host.start(vm_uuid(80))
    assert ET.fromstring(host.xml(vm_uuid(80))).get("id") not in ids.values()


def test_uuid_of_another_domain_is_refused(host):
    """libvirt's check sees every domain, though an operation loads only one."""
    host.define(domain_xml(spec(90)))
    twin = domain_xml(spec(90)).replace(f"<name>{vm_uuid(90)}</name>", "<name>twin</name>")
    for call in (host.define, host.define_and_start):
        with pytest.raises(HypervisorError, match="already defined with uuid"):
            call(twin)
    assert host.states() == {vm_uuid(90): "Stopped"}
    host.undefine(vm_uuid(90))
    assert host.define(twin) == "twin"              # the uuid is free again


def test_awkward_names(host):
    names = ["all", "host", ".hidden", "..", "a b&c'd<e>", "x" * 300, "é-ü"]
    base = domain_xml(spec(95))
    for i, name in enumerate(names):
        xml = base.replace(f"<name>{vm_uuid(95)}</name>", f"<name>{escape_text(name)}</name>")
        xml = xml.replace(f"<uuid>00000000-0000-0000-0000-{95:012x}</uuid>",
                          f"<uuid>00000000-0000-0000-0000-{9500 + i:012x}</uuid>")
        assert host.define_and_start(xml) == name
    assert host.states() == {n: "Running" for n in sorted(names)}
    for name in names:
        host.destroy(name)
        assert host.state(name) == "Stopped"
    assert sorted(os.listdir(os.path.join(host.directory, "domains"))) == \
        sorted(os.path.basename(host._file(n)) for n in names)
    for name in names:
        host.undefine(name)
    assert host.states() == {} and not os.listdir(os.path.join(host.directory, "domains"))


def escape_text(text):
    from xml.sax.saxutils import escape
    return escape(text)


def test_states_and_state_need_no_libvirt(host, monkeypatch):
    import libvirt

    for n in range(100, 105):
        host.define_and_start(domain_xml(spec(n)))
    host.stop(vm_uuid(100))
    with host._session("suspend") as conn:
        conn.lookupByName(vm_uuid(101)).suspend()

    def refuse(*a):
        raise AssertionError("libvirt opened")

    monkeypatch.setattr(libvirt, "open", refuse)
    expected = {vm_uuid(n): "Running" for n in range(102, 105)}
    expected.update({vm_uuid(100): "Stopped", vm_uuid(101): "Paused"})
    assert host.states() == dict(sorted(expected.items()))
    assert host.state(vm_uuid(101)) == "Paused" and host.state(vm_uuid(999)) is None


def test_a_crash_residue_is_no_domain(host):
    """Files are not fsync'ed: after a power loss a new domain file may be
    empty. That domain is absent (the backend's reconcile sees it gone)."""
    u = vm_uuid(110)
    host.define_and_start(domain_xml(spec(110)))
    Path(host._file(u)).write_bytes(b"")
    assert host.state(u) is None and host.states() == {}
    assert host.define_and_start(domain_xml(spec(110))) == u
    assert host.state(u) == "Running"


def test_durable_mode_fsyncs(host, monkeypatch):
    from backend.hypervisor.simulator import files

    host.check()
    synced = []
    real = os.fsync
    monkeypatch.setattr(files, "DURABLE", True)
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    host.define_and_start(domain_xml(spec(120)))
    assert synced and host.state(vm_uuid(120)) == "Running"


def count_work(monkeypatch):
    """Count what operations cost: libvirt connections opened, domains they
    held, XMLDesc calls, files read and written."""
    import collections

    import libvirt

    from backend.hypervisor.simulator import files, record

    counts = collections.Counter()

    def counted(key, fn):
        def wrapper(*a, **kw):
            counts[key] += 1
            return fn(*a, **kw)
        return wrapper

    real_list = libvirt.virConnect.listAllDomains

    def list_all(self, *a):
        doms = real_list(self, *a)
        counts["domains listed"] += len(doms)
        return doms

    monkeypatch.setattr(libvirt, "open", counted("open", libvirt.open))
    monkeypatch.setattr(libvirt.virDomain, "XMLDesc", counted("XMLDesc", libvirt.virDomain.XMLDesc))
    monkeypatch.setattr(libvirt.virConnect, "listAllDomains", list_all)
    monkeypatch.setattr(files, "_write_file", counted("write", files._write_file))
    monkeypatch.setattr(record._Record, "read",
                        classmethod(counted("read", record._Record.read.__func__)))
    monkeypatch.setattr(SimulatedHostDriver, "_header",
                        counted("header read", SimulatedHostDriver._header))
    return counts


def test_cost_does_not_depend_on_the_number_of_domains(tmp_path, monkeypatch):
    from backend.hypervisor import simulator

    data = {"uuid": "d" * 32, "path": "/zstack/ps/data.qcow2", "deviceId": 1}
    per_op = {}
    for size in (1, 200):
        host = driver_for(dict(SIM_HOST, uuid=f"{size:032x}"), str(tmp_path))
        for n in range(size):
            host.define_and_start(domain_xml(spec(n)))
            if n % 3 == 0:
                host.stop(vm_uuid(n))
        new, old = vm_uuid(9999), vm_uuid(0)
        ops = [("define_and_start", host.define_and_start, domain_xml(spec(9999))),
               ("xml", host.xml, new),
               ("graphics", host.graphics, new),
               ("state", host.state, new),
               ("attach_disk", lambda u, h=host: h.attach_disk(u, disk_xml(data)), new),
               ("stop", host.stop, new),
               ("start", host.start, new),
               ("reboot", host.reboot, new),
               ("destroy", host.destroy, new),
               ("undefine", host.undefine, new),
               ("define", host.define, domain_xml(spec(9999))),
               ("start another", host.start, old),
               ("xml of another", lambda u, h=host: h.xml(u, inactive=True), old),
               ("stop another", host.stop, old),
               ("check", lambda _, h=host: h.check(), None)]
        simulator.forget_connections()
        with monkeypatch.context() as m:
            counts = count_work(m)
            per_op[size] = {}
            for label, op, arg in ops:
                before = dict(counts)
                op(arg)
                per_op[size][label] = {k: v - before.get(k, 0) for k, v in counts.items()
                                       if v - before.get(k, 0)}
        assert len(host.states()) == size + 1
    assert per_op[1] == per_op[200]
    cost = per_op[200]
    assert cost["define_and_start"]["write"] == 1 and cost["define_and_start"]["XMLDesc"] <= 2
    assert cost["define_and_start"]["domains listed"] == 1
    assert "open" not in cost["xml"]                # reuses define_and_start's connection
    assert cost["state"] == {"read": 1}


def test_states_reads_each_domain_once(host, monkeypatch):
    for n in range(30):
        host.define(domain_xml(spec(n)))
    with monkeypatch.context() as m:
        counts = count_work(m)
        assert len(host.states()) == 30
    assert dict(counts) == {"header read": 30}      # the head of each file, nothing else


def test_states_take_no_lock_and_read_long_names(host, monkeypatch):
    import fcntl

    long_name = "n" * 150 + "'&<中"
    xml = domain_xml(spec(1)).replace(f"<name>{vm_uuid(1)}</name>",
                                      f"<name>{long_name.replace('&', '&amp;').replace('<', '&lt;')}</name>")
    host.define(xml)
    host.define_and_start(domain_xml(spec(2)))
    monkeypatch.setattr(fcntl, "flock", lambda *a: (_ for _ in ()).throw(AssertionError("lock")))
    assert host.states() == {long_name: "Stopped", vm_uuid(2): "Running"}


# ---------------------------------------------------------------- an old single node file

def old_node_file(entries, ports):
    """D/node.xml as the former simulator wrote it: every domain in one
    test-driver node, console ports and pending definitions in ZS_NS."""
    from xml.sax.saxutils import escape

    from backend.hypervisor.simulator import TEST_NS, ZS_NS

    out = [f"<node xmlns:zs='{ZS_NS}'>", "  <zs:generation>" + "0" * 32 + "</zs:generation>",
           ("  <cpu><nodes>1</nodes><sockets>1</sockets><cores>32</cores><threads>1</threads>"
            "<active>32</active><mhz>2400</mhz><model>x86_64</model></cpu>"),
           f"  <memory>{64 * 1024 ** 2}</memory>"]
    for name, port in sorted(ports.items()):
        out.append(f"  <zs:port domain='{name}' port='{port}'/>")
    for xml, runstate, pending in entries:
        head, _, _ = xml.rstrip().rpartition("</domain>")
        out.append(head + f"<test:runstate xmlns:test='{TEST_NS}'>{runstate}"
                          f"</test:runstate></domain>")
        if pending is not None:
            out.append(f"  <zs:definition>{escape(pending)}</zs:definition>")
    out.append("</node>")
    return "\n".join(out) + "\n"


def test_an_old_node_file_is_split_at_first_use(host, tmp_path):
    a, b, c = vm_uuid(130), vm_uuid(131), vm_uuid(132)
    live_a = domain_xml(spec(130)).replace("<domain type='kvm'>", "<domain type='kvm' id='1'>")
    os.makedirs(host.directory)
    Path(host.directory, "node.xml").write_text(old_node_file(
        [(live_a, 1, domain_xml(spec(130, bootOrder=["CdRom", "HardDisk"]))),
         (domain_xml(spec(131)), 5, None),
         (domain_xml(spec(132)), 3, None)],
        {a: 5901, c: 5900}))
    # another process is first to touch the host: it splits the file
    assert json.loads(run_python("print(json.dumps(host.states()))", tmp_path)) == \
        {a: "Running", b: "Stopped", c: "Paused"}
    assert not os.path.exists(os.path.join(host.directory, "node.xml"))
    assert sorted(os.listdir(os.path.join(host.directory, "domains"))) == \
        sorted(f"{u}.xml" for u in (a, b, c))
    assert host.graphics(a) == ("vnc", 5901) and host.graphics(c) == ("vnc", 5900)
    assert disks(host.xml(a))["hdc"].find("boot") is None        # live: as it was
    assert disks(host.xml(a, inactive=True))["hdc"].find("boot").get("order") == "1"
    host.start(b)
    assert host.graphics(b) == ("vnc", 5902)        # the migrated ports stay taken
    host.stop(a)
    host.start(a)
    assert disks(host.xml(a))["hdc"].find("boot").get("order") == "1"   # pending applied
    assert host.graphics(a) == ("vnc", 5901)
    host.undefine(c)                                # running: it stays, transient
    assert host.state(c) == "Paused" and host.graphics(c) == ("vnc", 5900)
    host.destroy(c)                                 # and is gone with its port
    assert host.state(c) is None
    host.define_and_start(domain_xml(spec(133)))
    assert host.graphics(vm_uuid(133)) == ("vnc", 5900)   # smallest free: c's, now freed


def test_a_broken_old_node_file_is_unreachable(host):
    os.makedirs(host.directory)
    Path(host.directory, "node.xml").write_text("<node><domain>broken")
    with pytest.raises(HostUnreachable):
        host.states()
    assert os.path.exists(os.path.join(host.directory, "node.xml"))   # kept, not lost
