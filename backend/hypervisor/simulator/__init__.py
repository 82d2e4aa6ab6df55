"""A simulated host: libvirt's ``test`` driver, made persistent and private.

``test:///default`` keeps its domains in the memory of one process. A
simulated host instead lives in a directory D, one file per domain, so that
an operation costs the same on a host with 1 domain or with 10,000:

    D/host.xml          a test-driver <node> without domains: the host's cpu
                        and memory (check() opens it; so does defining a new
                        domain). It is the driver's ``state_file``.
    D/domains/<name>.xml   one domain (file name: the name %-quoted), itself a
                        test-driver <node> holding only that domain, with its
                        run state (<test:runstate>: 1 running, 3 paused, 5 shut
                        off, 6 crashed) and, for a running domain, its pending
                        definition; it starts with our own header (namespace
                        ZS_NS, ignored by libvirt): a random generation, then
                        <zs:domain name uuid runstate [transient] [port] [id]/>
                        so that state() and states() read it without libvirt.
    D/ports             console ports in use: byte i is '1' when port 5900+i
                        is taken (the smallest free one is a memchr away, and
                        taking or freeing one writes one byte in place)
    D/domid             the last domain id given (ids grow at each start, and
                        stay while the domain runs, as on a real host)
    D/uuids/<uuid>      symlink to the file of the domain with that uuid, for
                        a domain not named by its uuid (the backend's are), so
                        that libvirt's "already defined with uuid" check still
                        sees the other domains
    D/node.lock         flock'ed around every operation
    D/fs/               the host's filesystem as seen from here (local_path)
    D/capacity.json     optional {"cpuNum", "memoryBytes", "hostname"}

An operation on domain X takes the host lock (shared to read, exclusive to
change), opens ``test:///D/domains/X.xml`` (X alone: a fresh private state),
acts, writes back X's file only if it changed (tmp + rename, atomic) and
closes. A domain's definition and start happen on a connection opened on
host.xml, so a new domain never loads the others either. A process keeps the
connection of its recent operations (_CACHE, one per domain file, bounded)
and reuses it while the file still carries the random generation that
connection wrote or read; any other writer changes it and forces a fresh
load. ``_session()`` without a domain (the base class's hook, used by tests to
go under the driver) loads every domain into one connection and writes back
the domains it changed.

The package, one concern a module:

    driver.py       SimulatedHostDriver: the HostDriver operations, and what
                    the test driver lacks, emulated
    session.py      an operation's session: lock, load its scope, act, write
                    back what changed (and the D/uuids links)
    layout.py       the host directory: its lock, its domain files, console
                    ports and domain ids, and the split of an old node.xml
    record.py       a domain file: our header, then the domain
    connections.py  _Node (one opened scope) and the per-process cache of
                    connections (CACHE_SIZE)
    files.py        writing a file atomically; DURABLE (fsync or not)
"""

from .connections import forget_connections
from .driver import DEFAULT_CAPACITY, SimulatedHostDriver
from .layout import FIRST_PORT
from .record import TEST_NS, ZS_NS

# DURABLE (files.py) and CACHE_SIZE (connections.py) are switches read at
# each use: set them there, where they live (a copy here would switch nothing).
__all__ = ["DEFAULT_CAPACITY", "FIRST_PORT", "TEST_NS", "ZS_NS", "SimulatedHostDriver",
           "forget_connections"]
