"""domain_xml and its device helpers: parsed back, and accepted by libvirt."""

import xml.etree.ElementTree as ET

import pytest

from backend.hypervisor.domain import (
    cdrom_xml, disk_target, disk_xml, domain_xml, libvirt_uuid, nic_device_name)

VM = "0123456789abcdef0123456789abcdef"
ROOT = {"uuid": "a" * 32, "path": "/ps/root.qcow2", "format": "qcow2", "deviceId": 0,
        "type": "Root"}
DATA = {"uuid": "b" * 32, "path": "/ps/data.raw", "format": "raw", "deviceId": 1,
        "type": "Data"}


def spec(**over):
    s = {"uuid": VM, "name": "vm1", "cpuNum": 2, "memorySize": 512 * 1024 ** 2,
         "domainType": "qemu", "volumes": [ROOT], "cdrom": {"path": None},
         "nics": [{"mac": "fa:11:22:33:44:55", "bridge": "br_eth1", "deviceId": 0}],
         "bootOrder": ["HardDisk"], "console": "vnc"}
    s.update(over)
    return s


def parse(xml):
    return ET.fromstring(xml)


def canon(el):
    """An element's XML without the indentation around it."""
    el = ET.fromstring(ET.tostring(el))
    for e in el.iter():
        e.tail = None
        if e.text is not None and not e.text.strip():
            e.text = None
    return ET.tostring(el)


def disks(root):
    return {d.find("target").get("dev"): d for d in root.findall("devices/disk")}


def boot_orders(root):
    return {dev: (d.find("boot").get("order") if d.find("boot") is not None else None)
            for dev, d in disks(root).items()}


VARIANTS = {
    "hd": spec(),
    "cd-hd": spec(bootOrder=["CdRom", "HardDisk"], cdrom={"path": "/bs/install.iso"}),
    "hd-cd": spec(bootOrder=["HardDisk", "CdRom"], volumes=[ROOT, DATA]),
    "spice": spec(console="spice", consoleListen="127.0.0.1", domainType="kvm"),
    "no-nics": spec(nics=[], emulator="/usr/bin/qemu-system-x86_64"),
    "escaped": spec(name="a <b> & 'c' \"d\"\x01\nnext",
                    volumes=[dict(ROOT, path="/ps/we<ird> & 'name'.qcow2")]),
}


def test_identity_and_size():
    root = parse(domain_xml(spec()))
    assert root.tag == "domain" and root.get("type") == "qemu"
    assert root.findtext("name") == VM
    assert root.findtext("uuid") == "01234567-89ab-cdef-0123-456789abcdef"
    assert root.findtext("title") == "vm1"
    assert root.find("memory").get("unit") == "KiB"
    assert root.findtext("memory") == str(512 * 1024) == root.findtext("currentMemory")
    assert root.findtext("vcpu") == "2"
    assert root.find("os/type").get("machine") == "pc"
    assert root.find("os/boot") is None          # never mixed with per-device order
    assert root.find("features/acpi") is not None and root.find("features/apic") is not None
    assert root.findtext("on_poweroff") == "destroy"
    assert root.findtext("on_reboot") == "restart"
    assert root.find("devices/serial").get("type") == "pty"
    assert root.find("devices/console/target").get("type") == "serial"


def test_memory_rounds_up_to_kib():
    assert parse(domain_xml(spec(memorySize=1025))).findtext("memory") == "2"


@pytest.mark.parametrize("order, expected", [
    (["HardDisk"], {"vda": "1", "hdc": None}),
    (["CdRom", "HardDisk"], {"vda": "2", "hdc": "1"}),
    (["HardDisk", "CdRom"], {"vda": "1", "hdc": "2"}),
    (None, {"vda": "1", "hdc": None}),
])
def test_boot_order_per_device(order, expected):
    root = parse(domain_xml(spec(bootOrder=order, volumes=[ROOT, DATA])))
    orders = boot_orders(root)
    assert orders["vdb"] is None                # data disks never boot
    assert {k: orders[k] for k in expected} == expected


def test_root_volume_found_by_type_not_position():
    root_last = dict(ROOT, deviceId=0)
    data_first = dict(DATA, deviceId=1)
    orders = boot_orders(parse(domain_xml(spec(volumes=[data_first, root_last]))))
    assert orders == {"vda": "1", "vdb": None, "hdc": None}


def test_invalid_boot_device():
    with pytest.raises(ValueError, match="Floppy"):
        domain_xml(spec(bootOrder=["Floppy", "HardDisk"]))


def test_empty_cdrom_is_always_there():
    root = parse(domain_xml(spec()))
    cd = disks(root)["hdc"]
    assert cd.get("device") == "cdrom"
    assert cd.find("target").get("bus") == "ide"
    assert cd.find("source") is None
    assert cd.find("readonly") is not None


def test_cdrom_with_media():
    cd = disks(parse(domain_xml(spec(cdrom={"path": "/bs/x.iso"}))))["hdc"]
    assert cd.find("source").get("file") == "/bs/x.iso"


def test_disks_by_device_id():
    d = disks(parse(domain_xml(spec(volumes=[DATA, ROOT]))))
    assert d["vda"].find("source").get("file") == "/ps/root.qcow2"
    assert d["vda"].find("driver").get("type") == "qcow2"
    assert d["vdb"].find("driver").get("type") == "raw"
    assert d["vdb"].find("target").get("bus") == "virtio"
    assert d["vdb"].findtext("serial") == "b" * 32
    assert [disk_target(i) for i in (0, 1, 25, 26, 27)] == ["vda", "vdb", "vdz", "vdaa", "vdab"]


def test_graphics_vnc_and_spice():
    vnc = parse(domain_xml(spec()))
    g = vnc.find("devices/graphics")
    assert (g.get("type"), g.get("autoport"), g.get("listen")) == ("vnc", "yes", "0.0.0.0")
    assert vnc.find("devices/video/model").get("type") in ("vga", "cirrus")
    spice = parse(domain_xml(spec(console="spice", consoleListen="127.0.0.1")))
    g = spice.find("devices/graphics")
    assert (g.get("type"), g.get("listen")) == ("spice", "127.0.0.1")
    assert spice.find("devices/video/model").get("type") == "qxl"


def test_nics():
    nics = [{"mac": "FA:00:00:00:00:02", "bridge": "br_eth1_10", "deviceId": 1},
            {"mac": "fa:00:00:00:00:01", "bridge": "br_eth1", "deviceId": 0}]
    ifaces = parse(domain_xml(spec(nics=nics))).findall("devices/interface")
    assert [i.get("type") for i in ifaces] == ["bridge", "bridge"]
    assert [i.find("mac").get("address") for i in ifaces] == \
        ["fa:00:00:00:00:01", "fa:00:00:00:00:02"]
    assert [i.find("source").get("bridge") for i in ifaces] == ["br_eth1", "br_eth1_10"]
    assert [i.find("model").get("type") for i in ifaces] == ["virtio", "virtio"]
    names = [i.find("target").get("dev") for i in ifaces]
    assert names == ["vnic01234567.0", "vnic01234567.1"]


def test_nic_device_names_fit_ifnamsiz():
    for device_id in (0, 9, 10, 99, 100, 12345):
        name = nic_device_name(VM, device_id)
        assert len(name) <= 15 and name.startswith("vnic0123") and \
            name.endswith("." + str(device_id))


def test_escaping():
    xml = domain_xml(VARIANTS["escaped"])
    root = parse(xml)                               # well-formed
    assert root.findtext("title") == "a <b> & 'c' \"d\" next"   # \x01 dropped, \n flattened
    assert disks(root)["vda"].find("source").get("file") == "/ps/we<ird> & 'name'.qcow2"
    assert "<b>" not in xml


def test_uuid_forms():
    assert libvirt_uuid(VM.upper()) == "01234567-89ab-cdef-0123-456789abcdef"
    assert parse(domain_xml(spec(uuid=libvirt_uuid(VM)))).findtext("name") == VM
    with pytest.raises(ValueError):
        domain_xml(spec(uuid="not-a-uuid"))


def test_device_helpers_match_domain_devices():
    full = disks(parse(domain_xml(spec(volumes=[ROOT, DATA]))))
    assert canon(parse(disk_xml(DATA))) == canon(full["vdb"])
    assert parse(cdrom_xml(None)).find("source") is None
    cd = parse(cdrom_xml("/bs/a&b.iso"))
    assert cd.get("device") == "cdrom" and cd.find("source").get("file") == "/bs/a&b.iso"
    assert cd.find("target").get("dev") == "hdc" and cd.find("boot") is None


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_libvirt_test_driver_accepts(variant):
    libvirt = pytest.importorskip("libvirt")
    import backend.hypervisor.driver  # noqa: F401  (silences libvirt's stderr handler)

    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(domain_xml(VARIANTS[variant]))
        try:
            dom.create()
            back = parse(dom.XMLDesc(0))
            assert back.findtext("name") == VM
            assert back.findtext("uuid") == libvirt_uuid(VM)
            assert boot_orders(back) == boot_orders(parse(domain_xml(VARIANTS[variant])))
            dom.destroy()
        finally:
            dom.undefine()
    finally:
        conn.close()
