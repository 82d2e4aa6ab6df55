"""Guests that act by themselves, for the tests of what the host agent sees.

The VMs of the real-host tests have no OS, so nothing inside them ever
reboots or powers off. These few bytes of real-mode code, booted by SeaBIOS,
wait for a key (BIOS int 16h) and then do what an installed guest does:

- POWEROFF: an ACPI soft-off (SLP_EN with SLP_TYP 0 written to PM1a_CNT, the
  PM base SeaBIOS programs, 0xb000, plus 0x600 and 0x4000 used by other
  firmware), what `poweroff` ends with; libvirt reports "Shutdown Finished
  after guest request" and then "Stopped Shutdown". (QEMU's monitor ``quit``
  is no stand-in: libvirt calls that a crash; ``system_powerdown`` asks the
  guest through ACPI, and nothing here listens.)
- RESET: a reset through the keyboard controller (0xFE to port 0x64), what
  `reboot` ends with; QEMU resets the machine in place and libvirt emits a
  REBOOT event, as it does for ``virsh reset``. (``virsh reboot`` asks the
  guest through ACPI: no OS, no event.)

``press(dom)`` is the key: ``virsh send-key``, again and again until the
caller sees the effect (a key sent before SeaBIOS set up the keyboard is lost).

The code goes either into the first sector of a disk image (a template the
VM's root volume is cloned from) or into an El Torito (no emulation) ISO, so a
VM created from that ISO boots it from its CD-ROM drive.
"""

import os
import struct
import subprocess
import time

from tests.integration.realhost import virsh

_WAIT_KEY = bytes([0xFB,                # sti
                   0x31, 0xC0,          # xor ax, ax
                   0xCD, 0x16])         # int 16h: wait for a keystroke
_HANG = bytes([0xF4, 0xEB, 0xFD])       # hlt; jmp back to hlt


def _out_word(port, value):
    return bytes([0xB8]) + struct.pack("<H", value) + bytes([0xBA]) + struct.pack("<H", port) \
        + bytes([0xEF])                 # mov ax, value; mov dx, port; out dx, ax


POWEROFF = _WAIT_KEY + b"".join(_out_word(base + 4, 0x2000)
                                for base in (0xB000, 0x600, 0x4000)) + _HANG
RESET = _WAIT_KEY + bytes([0xB0, 0xFE, 0xE6, 0x64]) + _HANG    # mov al, 0xfe; out 0x64, al

SECTOR = 512
CD_SECTOR = 2048


def boot_disk(path, code, size_mib=16):
    """A qcow2 image whose first sector boots ``code``."""
    raw = str(path) + ".raw"
    with open(raw, "wb") as f:
        f.write(code + bytes(SECTOR - 2 - len(code)) + b"\x55\xaa")
        f.truncate(size_mib * 1024 * 1024)
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, str(path)],
                   check=True)
    os.remove(raw)


def boot_iso(path, code, label="ZSTESTBOOT"):
    """An ISO 9660 image with an El Torito no-emulation boot entry running ``code``.

    Sectors (2,048 bytes): 16 the primary volume descriptor, 17 the boot record
    (it names the catalogue), 18 the set terminator, 19 the boot catalogue, 20
    the boot image (loaded at 0000:7C00), 21 the root directory.
    """
    image = bytearray(CD_SECTOR * 32)

    def put(lba, offset, data):
        start = lba * CD_SECTOR + offset
        image[start:start + len(data)] = data

    def both32(n):
        return struct.pack("<I", n) + struct.pack(">I", n)

    def both16(n):
        return struct.pack("<H", n) + struct.pack(">H", n)

    def dir_record(lba, name):
        body = both32(lba) + both32(CD_SECTOR) + bytes(7) + bytes([2, 0, 0]) + both16(1) \
            + bytes([len(name)]) + name
        record = bytes([33 + len(name), 0]) + body
        return record + bytes(len(record) % 2)

    pvd = bytearray(CD_SECTOR)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[40:72] = label.encode().ljust(32)
    pvd[80:88] = both32(len(image) // CD_SECTOR)
    pvd[120:124], pvd[124:128], pvd[128:132] = both16(1), both16(1), both16(CD_SECTOR)
    pvd[156:190] = dir_record(21, b"\x00")
    pvd[881] = 1
    put(16, 0, pvd)
    put(17, 0, b"\x00CD001\x01" + b"EL TORITO SPECIFICATION".ljust(32, b"\x00"))
    put(17, 71, struct.pack("<I", 19))
    put(18, 0, b"\xffCD001\x01")

    validation = bytearray(32)
    validation[0], validation[30:32] = 1, b"\x55\xaa"       # header, x86, key bytes
    checksum = -sum(struct.unpack("<16H", bytes(validation))) & 0xFFFF
    validation[28:30] = struct.pack("<H", checksum)         # all 16 words sum to 0
    # bootable, no emulation, segment 0 (0x7C0), 4 virtual sectors from sector 20
    default = bytes([0x88, 0]) + struct.pack("<HBBHI", 0, 0, 0, 4, 20)
    put(19, 0, bytes(validation) + default)
    put(20, 0, code)
    put(21, 0, dir_record(21, b"\x00") + dir_record(21, b"\x01"))
    with open(path, "wb") as f:
        f.write(image)


def press(dom, until, timeout=30.0, every=0.5):
    """Press a key in ``dom`` until ``until()`` is true; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        virsh("send-key", dom, "KEY_ENTER", check=False)
        stop = time.monotonic() + every
        while time.monotonic() < stop:
            value = until()
            if value:
                return value
            time.sleep(0.05)
    raise AssertionError(f"the guest of {dom} did not act within {timeout} s of key presses")
