"""A simulated host's directory D: where its files are, the host lock,
the console ports and domain ids it hands out, and laying it out at its
first use.

An old single-file host (D/node.xml holding every domain) is split into
domain files at its first use, under the exclusive lock.
"""

import contextlib
import fcntl
import hashlib
import os
import urllib.parse
import xml.etree.ElementTree as ET

import libvirt

from ..driver import describe
from ...i18n import Message, msg
from ..errors import HostUnreachable
from . import files
from .connections import _Node
from .record import ZS_NS, _Record

FIRST_PORT = 5900


class _HostDirectory:
    """The host directory's part of SimulatedHostDriver (a mixin): its
    __init__ names the paths used here (directory, state_file, _lock_path,
    _old_node, _domains, _uuids, _ports, _domid), its capacity() sizes
    host.xml, and _migrate opens and stores through the session's _open and
    _store (session.py)."""

    # ------------------------------------------------------------ lock

    @contextlib.contextmanager
    def _locked(self, what, write):
        """The host lock (exclusive to change, shared to read), with the
        directory laid out (and an old node.xml split) first."""
        try:
            try:
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:       # no directory yet (the only time it is made)
                os.makedirs(self.directory, exist_ok=True)
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise HostUnreachable(msg("cannot {what}: {error}", what=what, error=e)) from None
        try:
            ready = os.path.exists(self.state_file) and not os.path.exists(self._old_node)
            fcntl.flock(lock_fd, fcntl.LOCK_EX if write or not ready else fcntl.LOCK_SH)
            if not ready:
                self._lay_out(what)
            yield
        finally:
            os.close(lock_fd)           # closing drops the flock

    # ------------------------------------------------------------ domain files

    def _unusable(self, what, error):
        if not isinstance(error, Message):      # an exception; a message says what is wrong
            error = describe(error)
        return HostUnreachable(msg("cannot {what}: simulated host {directory} is unusable: {error}",
                                   what=what, directory=self.directory, error=error))

    def _record(self, path, what):
        """The domain file at ``path`` (None if there is none)."""
        try:
            return _Record.read(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise self._unusable(what, msg("{path}: {error}",
                                           path=path, error=describe(e))) from None

    def _domain_files(self, what):
        try:
            return sorted(e.path for e in os.scandir(self._domains)
                          if e.name.endswith(".xml") and not e.name.startswith("."))
        except OSError as e:
            raise self._unusable(what, e) from None

    def _file(self, name):
        """The file of domain ``name`` (which need not exist)."""
        quoted = urllib.parse.quote(name, safe="")
        if quoted.startswith("."):
            quoted = "%2E" + quoted[1:]
        if len(quoted) > 200:           # a file name has at most 255 bytes
            quoted = "%%" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self._domains, quoted + ".xml")

    # ------------------------------------------------------------ ports and ids

    def _take_port(self):
        """The smallest free console port of the host, now taken."""
        try:
            fd = os.open(self._ports, os.O_RDWR)
        except FileNotFoundError:
            self._rebuild_ports()
            fd = os.open(self._ports, os.O_RDWR)
        try:
            used = files._read_all(fd)
            i = used.find(b"0")
            if i < 0:
                i = len(used)
            os.pwrite(fd, b"1", i)
            if files.DURABLE:
                os.fsync(fd)
        finally:
            os.close(fd)
        return FIRST_PORT + i

    def _free_port(self, port):
        i = port - FIRST_PORT
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(self._ports, os.O_RDWR)
            try:
                if 0 <= i < os.fstat(fd).st_size:
                    os.pwrite(fd, b"0", i)
            finally:
                os.close(fd)

    def _rebuild_ports(self, ports=None):
        """Write the port map from ``ports`` or from the domain files."""
        if ports is None:
            ports = []
            for path in self._domain_files(msg("rebuild the console ports")):
                record = self._record(path, msg("rebuild the console ports"))
                if record is not None and record.port is not None:
                    ports.append(record.port)
        used = bytearray(b"0" * (max(ports, default=FIRST_PORT - 1) - FIRST_PORT + 1))
        for p in ports:
            if p >= FIRST_PORT:
                used[p - FIRST_PORT] = ord("1")
        files._write_file(self._ports, bytes(used))

    def _next_domid(self, node):
        """A new domain id, unique on the host (real hosts count up too)."""
        fd = os.open(self._domid, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            text = files._read_all(fd).strip()
            domid = (int(text) if text.isdigit() else 0) + 1
            os.pwrite(fd, b"%20d\n" % domid, 0)
        finally:
            os.close(fd)
        return domid

    # ------------------------------------------------------------ layout

    def _lay_out(self, what):
        """Under the exclusive lock: the directories, host.xml, and the
        split of an old single node file."""
        try:
            os.makedirs(self._domains, exist_ok=True)
            os.makedirs(self._uuids, exist_ok=True)
            if os.path.exists(self._old_node):
                self._migrate(what)
            if not os.path.exists(self.state_file):
                files._write_file(self.state_file, _render_host(self.capacity()))
        except OSError as e:
            raise self._unusable(what, e) from None

    def _migrate(self, what):
        """Split D/node.xml (every domain in one node file, console ports in
        <zs:port>, pending definitions in <zs:definition>) into domain files."""
        try:
            extras = ET.parse(self._old_node).getroot()
        except ET.ParseError as e:
            raise self._unusable(what, e) from None
        conn = self._open(what, self._old_node)
        node = _Node(self, conn, {})
        try:
            for el in extras.findall(f"{{{ZS_NS}}}definition"):
                conn.defineXML(el.text)
            names = {d.name() for d in conn.listAllDomains()}
            for el in extras.findall(f"{{{ZS_NS}}}port"):
                if el.get("domain") in names:
                    node.ports[el.get("domain")] = int(el.get("port"))
            # A half-done earlier split is done again from the start.
            for d in (self._domains, self._uuids):
                for entry in os.scandir(d):
                    os.unlink(entry.path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._domid)
            self._store(node)
        except libvirt.libvirtError as e:
            raise self._unusable(what, e) from None
        finally:
            node.close()
        self._rebuild_ports(list(node.ports.values()))
        if not os.path.exists(self.state_file):
            files._write_file(self.state_file, _render_host(self.capacity()))
        node.sync_dirs()
        os.unlink(self._old_node)


def _render_host(capacity):
    cpus = int(capacity["cpuNum"])
    kib = int(capacity["memoryBytes"]) // 1024
    return (f"<node xmlns:zs='{ZS_NS}'>\n"
            f"  <cpu><nodes>1</nodes><sockets>1</sockets><cores>{cpus}</cores>"
            f"<threads>1</threads><active>{cpus}</active><mhz>2400</mhz>"
            f"<model>x86_64</model></cpu>\n"
            f"  <memory>{kib}</memory>\n"
            f"</node>\n")
