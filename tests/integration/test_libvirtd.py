"""HostDriver against the machine's real libvirtd and QEMU (TCG, no guest OS)."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid as uuidlib
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def host(libvirtd):
    from backend.hypervisor.driver import HostDriver

    return HostDriver(libvirtd)


@pytest.fixture
def workdir():
    """Disk images where QEMU (running as libvirt-qemu) can reach them:
    pytest's tmp_path is 0700 and would hide them."""
    path = tempfile.mkdtemp(prefix="zstack-it-", dir="/var/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def domains(host):
    """Names of domains a test creates; destroyed and undefined afterwards."""
    names = []
    yield names
    from backend.hypervisor import HypervisorError

    for name in names:
        for op in (host.destroy, host.undefine):
            with contextlib.suppress(HypervisorError):
                op(name)


def qcow2(workdir, name, size="64M"):
    path = os.path.join(workdir, name)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, size], check=True)
    os.chmod(path, 0o644)
    return path


def iso(workdir, name):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.truncate(1024 * 1024)
    os.chmod(path, 0o644)
    return path


def vm_spec(u, root, console):
    return {"uuid": u, "name": "it <vm> & co", "cpuNum": 1, "memorySize": 64 * 1024 ** 2,
            "domainType": "qemu", "console": console, "consoleListen": "127.0.0.1",
            "volumes": [{"uuid": u, "path": root, "format": "qcow2", "deviceId": 0,
                         "type": "Root"}],
            "cdrom": {"path": None}, "bootOrder": ["CdRom", "HardDisk"],
            "nics": [{"mac": "fa:de:ad:be:ef:01", "bridge": "br_none", "deviceId": 0}]}


def bridgeless(xml):
    """No bridges exist here: make the NIC a plain tap (type='ethernet') that
    keeps the generated MAC and tap name, so libvirt still creates the tap."""
    root = ET.fromstring(xml)
    for iface in root.findall("devices/interface"):
        iface.set("type", "ethernet")
        iface.remove(iface.find("source"))
    return ET.tostring(root, encoding="unicode")


def disks(xml):
    return {d.find("target").get("dev"): d for d in ET.fromstring(xml).findall("devices/disk")}


def banner(port, size=4):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        if size:
            return s.recv(size)
        return b""


def test_check(host):
    from backend.hypervisor import domain_type

    info = host.check()
    assert info["cpuNum"] >= 1 and info["memoryBytes"] > 64 * 1024 ** 2
    assert info["hostname"] and info["libvirtVersion"][0].isdigit()
    assert domain_type() in ("kvm", "qemu")


def test_unknown_domain(host):
    from backend.hypervisor import HypervisorError

    name = uuidlib.uuid4().hex
    assert host.state(name) is None
    host.destroy(name)
    host.undefine(name)
    with pytest.raises(HypervisorError) as e:
        host.start(name)
    assert "\n" not in e.value.message


def test_vm_on_real_qemu(host, workdir, domains):
    from backend.hypervisor.domain import (
        cdrom_xml, disk_xml, domain_xml, media_path, nic_device_name)

    u = uuidlib.uuid4().hex
    domains.append(u)
    root = qcow2(workdir, "root.qcow2")
    data = qcow2(workdir, "data.qcow2", "16M")
    media = iso(workdir, "install.iso")

    assert host.define(bridgeless(domain_xml(vm_spec(u, root, "vnc")))) == u
    assert host.state(u) == "Stopped"
    host.start(u)
    assert host.state(u) == "Running"
    assert host.states()[u] == "Running"
    live = ET.fromstring(host.xml(u))
    assert live.findtext("title") == "it <vm> & co"
    assert live.find("devices/interface/target").get("dev") == nic_device_name(u, 0)

    protocol, port = host.graphics(u)
    assert protocol == "vnc" and port >= 5900
    assert banner(port).startswith(b"RFB")           # a real VNC server answers

    # live data disk
    volume = {"uuid": uuidlib.uuid4().hex, "path": data, "format": "qcow2", "deviceId": 1}
    host.attach_disk(u, disk_xml(volume), live=True)
    assert disks(host.xml(u))["vdb"].find("source").get("file") == data
    assert "vdb" in disks(host.xml(u, inactive=True))

    # ISO in, then out, on the live domain; the drive keeps its boot order. The vCPU is
    # paused meanwhile: SeaBIOS, looking for something to boot, would otherwise read the
    # new disc and lock the tray, and QEMU then waits for a guest that never unlocks it.
    subprocess.run(["virsh", "-c", "qemu:///system", "suspend", u], check=True,
                   capture_output=True, timeout=30)
    host.change_media(u, cdrom_xml(media))
    for xml in (host.xml(u), host.xml(u, inactive=True)):
        cd = disks(xml)["hdc"]
        assert cd.find("source").get("file") == media
        assert cd.find("boot").get("order") == "1"
    host.change_media(u, cdrom_xml(None))
    # an emptied running drive keeps a file-less <source index='N'/> in the live XML
    for xml in (host.xml(u), host.xml(u, inactive=True)):
        assert media_path(disks(xml)["hdc"]) is None
        assert disks(xml)["hdc"].find("boot").get("order") == "1"
    subprocess.run(["virsh", "-c", "qemu:///system", "resume", u], check=True,
                   capture_output=True, timeout=30)

    host.reboot(u)
    assert host.state(u) == "Running"

    # no guest OS answers ACPI: the stop falls back to destroy after the timeout
    assert host.stop(u, timeout=1) is False
    assert host.state(u) == "Stopped"
    host.destroy(u)                                  # not running: no error

    # same VM, SPICE console this time
    host.define(bridgeless(domain_xml(vm_spec(u, root, "spice"))))
    host.start(u)
    protocol, port = host.graphics(u)
    assert protocol == "spice" and port >= 5900
    banner(port, 0)                                  # something listens there
    assert ET.fromstring(host.xml(u)).find("devices/video/model").get("type") == "qxl"
    host.stop(u, force=True)
    assert host.state(u) == "Stopped"

    host.undefine(u)
    assert host.state(u) is None
    assert u not in host.states()
