"""One opened scope of a simulated host (_Node), and the connections a
process keeps for reuse (_CACHE, _checkout/_checkin, forget_connections).
"""

import collections
import contextlib
import os
import threading
import xml.etree.ElementTree as ET

import libvirt

from . import files
from .record import _DOMAIN_ID, _tostring

CACHE_SIZE = 64                 # connections a process keeps (~25 KiB each)


class _Node:
    """One opened scope of a simulated host: the connection, the domain files
    it was loaded from (and has written since), and our own bookkeeping."""

    def __init__(self, driver, conn, records):
        self.driver = driver
        self.conn = conn
        self.records = records      # domain name -> _Record, as on disk
        self.ports = {n: r.port for n, r in records.items() if r.port is not None}
        self.live = {}              # domain name -> live XML edited in this session
        self.broken = False         # a write failed: the files may not match
        self.dirty = set()          # directories to fsync (files.DURABLE)

    def key(self):
        """The cache key of a connection holding exactly one domain file's state."""
        if len(self.records) != 1:
            return None
        (record,) = self.records.values()
        return record.path if record.generation else None

    def close(self):
        with contextlib.suppress(libvirt.libvirtError):
            self.conn.close()

    def sync_dirs(self):
        dirty, self.dirty = self.dirty, set()
        if files.DURABLE:
            for d in dirty:
                fd = os.open(d, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def live_xml(self, dom):
        return self.live.get(dom.name()) or dom.XMLDesc(0)

    def port(self, name):
        """The domain's console port, given at its first start and kept."""
        if name not in self.ports:
            self.ports[name] = self.driver._take_port()
        return self.ports[name]

    def shown(self, name, xml):
        """The live XML as a real host shows it: its console port and the
        domain's host-wide id."""
        record = self.records.get(name)
        if record is not None and record.domid is not None:
            xml = _DOMAIN_ID.sub(rf"\g<1> id='{record.domid}'", xml, count=1)
        if name not in self.ports:
            return xml
        root = ET.fromstring(xml)
        for g in root.findall("devices/graphics"):
            g.set("port", str(self.ports[name]))
        return _tostring(root)


# Reusing a connection: opening the test driver on a domain file parses and
# starts that domain (about 0.4 ms). A process keeps the connections of its
# recent operations, one per domain file, and reuses one when its file still
# carries the generation that connection wrote or read.
_CACHE = collections.OrderedDict()  # domain file -> (pid, _Node)
_CACHE_LOCK = threading.Lock()


def _checkout(path, generation):
    """The cached state of ``path`` if it is this process's and still current."""
    with _CACHE_LOCK:
        pid, node = _CACHE.pop(path, (None, None))
    if node is None:
        return None
    if pid == os.getpid() and node.records and \
            next(iter(node.records.values())).generation == generation:
        return node
    if pid == os.getpid():
        node.close()
    return None


def _checkin(path, node):
    evicted = []
    with _CACHE_LOCK:
        old = _CACHE.pop(path, None)
        if old is not None:
            evicted.append(old)
        _CACHE[path] = (os.getpid(), node)
        while len(_CACHE) > CACHE_SIZE:
            evicted.append(_CACHE.popitem(last=False)[1])
    for pid, stale in evicted:
        if pid == os.getpid() and stale is not node:
            stale.close()


def forget_connections():
    """Close this process's cached connections (tests)."""
    with _CACHE_LOCK:
        entries = list(_CACHE.values())
        _CACHE.clear()
    for pid, node in entries:
        if pid == os.getpid():
            node.close()
