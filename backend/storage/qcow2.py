"""What a qcow2 header says of the image's backing file, read without running
qemu-img: a migration walks a volume's chain before copying it, and starting
``qemu-img info`` for each file cost more (6.5 ms) than the rest of the checks
together. The layout is qemu's docs/interop/qcow2.txt, versions 2 and 3:

    0   magic "QFI\\xfb"          4   version (2 or 3)
    8   backing_file_offset (u64) 16  backing_file_size (u32)
    20  cluster_bits (u32)        72  incompatible_features (u64, version 3)
    100 header_length (u32, version 3; version 2 headers are 72 bytes)

then header extensions (type u32, length u32, data padded to 8 bytes, type 0
ends them), among which 0xE2792ACA holds the backing file's format. Anything
qemu would read otherwise, or refuse, returns None (the caller asks qemu-img
then): a name outside the first cluster, incompatible features qemu 7 does not
know, a format name of 16 bytes or more, a version 3 header shorter than 104.
"""

import struct

MAGIC = b"QFI\xfb"
BACKING_FORMAT = 0xE2792ACA
KNOWN_INCOMPATIBLE = 0x1f      # dirty, corrupt, external data, compression type, extended L2


def backing(path):
    """(name, format) of the image's backing file as its header stores them
    (the name relative or absolute; the format None when not recorded),
    (None, None) when it has none, or None when ``path`` is not a qcow2 image
    this reader understands."""
    try:
        with open(path, "rb") as f:
            head = f.read(104)
            if len(head) < 72 or head[:4] != MAGIC:
                return None
            version, offset, size, cluster_bits = struct.unpack(">IQII", head[4:24])
            if version not in (2, 3) or not 9 <= cluster_bits <= 21:
                return None
            if version == 3:
                if len(head) < 104:
                    return None
                incompatible, length = struct.unpack(">Q", head[72:80])[0], \
                    struct.unpack(">I", head[100:104])[0]
                if length < 104 or incompatible & ~KNOWN_INCOMPATIBLE:
                    return None
            else:
                length = 72
            if offset == 0 or size == 0:
                return None, None
            if offset + size > 1 << cluster_bits or length > offset:
                return None
            f.seek(0)
            header = f.read(offset + size)
    except OSError:
        return None
    if len(header) < offset + size:
        return None
    try:
        # qemu reads the name up to its first NUL.
        name = header[offset:offset + size].split(b"\0", 1)[0].decode()
        fmt = _backing_format(header, length, offset)
    except (UnicodeDecodeError, ValueError):
        return None
    return (name or None, fmt if name else None)


def _backing_format(header, at, end):
    while at + 8 <= end:
        kind, size = struct.unpack(">II", header[at:at + 8])
        if kind == 0:
            return None
        if kind == BACKING_FORMAT:
            if size >= 16:              # qemu refuses such an image
                raise ValueError(size)
            return header[at + 8:at + 8 + size].decode() or None
        at += 8 + (size + 7) // 8 * 8
    return None
