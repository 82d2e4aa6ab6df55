"""Libvirt domain XML as a pure function of a VM's records (no I/O, no libvirt).

``domain_xml(spec)`` builds the whole domain; ``disk_xml`` and ``cdrom_xml``
build the single devices used for live attach and media change. All three go
through the same element builders, so a disk attached live is byte-for-byte
the disk a fresh definition would carry (minus its boot order).

Choices that matter (DESIGN.md, "Facts verified"):
- boot order is per device (``<boot order='N'/>``), never ``<os><boot>``:
  libvirt rejects the mix, and per-device order lets the root disk win over
  an ISO that stays attached;
- every VM has one IDE CD-ROM drive, empty when no ISO is attached: a drive
  cannot be hot-added on IDE/SATA, but its media can be changed live;
- ``<features><acpi/><apic/>`` makes ``shutdown()`` and a guest poweroff work.

Text goes through ElementTree, which escapes it; characters XML 1.0 cannot
carry at all are dropped from the title instead of producing a broken file.
"""

import re
import xml.etree.ElementTree as ET

from .xmltext import to_text

CDROM_TARGET = "hdc"          # secondary IDE master, where ZStack puts its drive
BOOT_DEVICES = ("CdRom", "HardDisk")
DEFAULT_BOOT_ORDER = ("HardDisk",)
TAP_PREFIX = "vnic"
IFNAMSIZ = 15                 # longest Linux interface name

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
# Characters XML 1.0 allows (tab, newline, CR and the printable planes).
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def libvirt_uuid(uuid):
    """ZStack's 32-hex uuid in libvirt's 8-4-4-4-12 form."""
    u = _hex32(uuid)
    return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"


def disk_target(device_id):
    """vda, vdb, ... vdz, vdaa, ...: the virtio target for a volume's deviceId."""
    n = int(device_id)
    if n < 0:
        raise ValueError(f"invalid deviceId[{device_id}]")
    letters = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "vd" + letters


def nic_device_name(vm_uuid, device_id):
    """The tap device of a VM's NIC: 'vnic' + uuid prefix + '.' + deviceId.

    As long a uuid prefix as fits in IFNAMSIZ (8 hex digits for deviceIds
    below 100) so two VMs on one host practically never share a tap name.
    """
    suffix = "." + str(int(device_id))
    room = IFNAMSIZ - len(TAP_PREFIX) - len(suffix)
    return TAP_PREFIX + _hex32(vm_uuid)[:min(8, room)] + suffix


def domain_xml(spec):
    """The libvirt domain XML (a str) of one VM; see the package docs for spec."""
    uuid = _hex32(spec["uuid"])
    dom_type = spec.get("domainType") or "kvm"
    if dom_type not in ("kvm", "qemu"):
        raise ValueError(f"invalid domainType[{dom_type}]")
    memory_kib = _kib(spec["memorySize"])
    cpus = int(spec["cpuNum"])
    if cpus < 1:
        raise ValueError(f"invalid cpuNum[{spec['cpuNum']}]")

    root = ET.Element("domain", type=dom_type)
    _text(root, "name", uuid)
    _text(root, "uuid", libvirt_uuid(uuid))
    title = _title(spec.get("name"))
    if title:
        _text(root, "title", title)
    _text(root, "memory", str(memory_kib), unit="KiB")
    _text(root, "currentMemory", str(memory_kib), unit="KiB")
    _text(root, "vcpu", str(cpus), placement="static")
    os_el = ET.SubElement(root, "os")
    _text(os_el, "type", "hvm", arch="x86_64", machine="pc")
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    ET.SubElement(root, "clock", offset="utc")
    _text(root, "on_poweroff", "destroy")
    _text(root, "on_reboot", "restart")
    _text(root, "on_crash", "destroy")

    devices = ET.SubElement(root, "devices")
    if spec.get("emulator"):
        _text(devices, "emulator", spec["emulator"])

    volumes = sorted(spec.get("volumes") or [], key=lambda v: int(v["deviceId"]))
    _unique([v["deviceId"] for v in volumes], "volume deviceId")
    order = _boot_order(spec.get("bootOrder"))
    root_volume = _root_volume(volumes)
    for v in volumes:
        boot = order.get("HardDisk") if v is root_volume else None
        devices.append(_disk_element(v, boot))
    cdrom = spec.get("cdrom") or {}
    devices.append(_cdrom_element(cdrom.get("path"), order.get("CdRom")))

    nics = sorted(spec.get("nics") or [], key=lambda n: int(n["deviceId"]))
    _unique([n["deviceId"] for n in nics], "nic deviceId")
    for nic in nics:
        devices.append(_nic_element(uuid, nic))

    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    # A tablet gives VNC/SPICE an absolute pointer, so the mouse follows the cursor.
    ET.SubElement(devices, "input", type="tablet", bus="usb")
    _graphics(devices, spec.get("console") or "vnc", spec.get("consoleListen") or "0.0.0.0")
    return _tostring(root)


def disk_xml(volume):
    """One virtio disk, for attachDeviceFlags/detachDeviceFlags."""
    return _tostring(_disk_element(volume, None))


def cdrom_xml(path):
    """The CD-ROM drive holding ``path`` (None: empty), for updateDeviceFlags."""
    return _tostring(_cdrom_element(path, None))


def media_path(cdrom):
    """The ISO path a CD-ROM drive (XML str or element) holds, or None."""
    el = ET.fromstring(cdrom) if isinstance(cdrom, str) else cdrom
    source = el.find("source")
    return source.get("file") if source is not None else None


def set_media(drive, path):
    """Put ``path`` (None: nothing) in a CD-ROM drive element, in place,
    keeping everything else (boot order, address) as it is."""
    for old in drive.findall("source"):
        drive.remove(old)
    if path:
        at = next((i + 1 for i, child in enumerate(drive) if child.tag == "driver"), 0)
        drive.insert(at, ET.Element("source", file=path))
    return drive


def find_drive(domain, target):
    """The <disk> element of a domain (XML str or element) with this target dev."""
    root = ET.fromstring(domain) if isinstance(domain, str) else domain
    for disk in root.findall("devices/disk"):
        t = disk.find("target")
        if t is not None and t.get("dev") == target:
            return disk
    return None


# ---------------------------------------------------------------- builders

def _disk_element(volume, boot):
    fmt = volume.get("format") or "qcow2"
    if fmt not in ("qcow2", "raw"):
        raise ValueError(f"invalid volume format[{fmt}]")
    if not volume.get("path"):
        raise ValueError(f"volume[{volume.get('uuid')}] has no path")
    disk = ET.Element("disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type=fmt)
    ET.SubElement(disk, "source", file=volume["path"])
    ET.SubElement(disk, "target", dev=disk_target(volume["deviceId"]), bus="virtio")
    if volume.get("uuid"):
        # The guest sees it in /dev/disk/by-id (first 20 characters), as in ZStack.
        _text(disk, "serial", str(volume["uuid"]))
    if boot:
        ET.SubElement(disk, "boot", order=str(boot))
    return disk


def _cdrom_element(path, boot):
    disk = ET.Element("disk", type="file", device="cdrom")
    ET.SubElement(disk, "driver", name="qemu", type="raw")
    if path:
        ET.SubElement(disk, "source", file=path)
    ET.SubElement(disk, "target", dev=CDROM_TARGET, bus="ide")
    ET.SubElement(disk, "readonly")
    if boot:
        ET.SubElement(disk, "boot", order=str(boot))
    return disk


def _nic_element(vm_uuid, nic):
    if not nic.get("bridge"):
        raise ValueError(f"nic[{nic.get('mac')}] has no bridge")
    iface = ET.Element("interface", type="bridge")
    ET.SubElement(iface, "mac", address=str(nic["mac"]).lower())
    ET.SubElement(iface, "source", bridge=nic["bridge"])
    ET.SubElement(iface, "target", dev=nic_device_name(vm_uuid, nic["deviceId"]))
    ET.SubElement(iface, "model", type="virtio")
    return iface


def _graphics(devices, protocol, listen):
    if protocol not in ("vnc", "spice"):
        raise ValueError(f"invalid console protocol[{protocol}]")
    g = ET.SubElement(devices, "graphics", type=protocol, port="-1", autoport="yes",
                      listen=listen)
    ET.SubElement(g, "listen", type="address", address=listen)
    video = ET.SubElement(devices, "video")
    # SPICE's guest drivers want QXL; plain VGA is the safest for VNC.
    ET.SubElement(video, "model", type="qxl" if protocol == "spice" else "vga")


# ---------------------------------------------------------------- helpers

def _boot_order(order):
    """{"HardDisk": 1, "CdRom": 2} from ["HardDisk", "CdRom"]; first one wins."""
    result = {}
    for dev in order or DEFAULT_BOOT_ORDER:
        if dev not in BOOT_DEVICES:
            raise ValueError(f"invalid boot device[{dev}]")
        result.setdefault(dev, len(result) + 1)
    return result


def _root_volume(volumes):
    for v in volumes:
        if v.get("type") == "Root":
            return v
    for v in volumes:
        if int(v["deviceId"]) == 0:
            return v
    return None


def _hex32(uuid):
    u = str(uuid).replace("-", "").lower()
    if not _HEX32.match(u):
        raise ValueError(f"invalid uuid[{uuid}]")
    return u


def _kib(size_bytes):
    n = int(size_bytes)
    if n <= 0:
        raise ValueError(f"invalid memorySize[{size_bytes}]")
    return -(-n // 1024)


def _title(name):
    # libvirt refuses a title with a newline; XML refuses control characters.
    if name is None:
        return ""
    return _XML_INVALID.sub("", str(name)).replace("\r", " ").replace("\n", " ")


def _unique(values, what):
    seen = set()
    for v in values:
        if int(v) in seen:
            raise ValueError(f"duplicate {what}[{v}]")
        seen.add(int(v))


def _text(parent, tag, text, **attrs):
    el = ET.SubElement(parent, tag, **attrs)
    el.text = text
    return el


def _tostring(el):
    return to_text(el)
