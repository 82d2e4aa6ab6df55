"""An operation's session on a simulated host: take the host lock, load
what the operation needs (one domain, host.xml alone, or every domain) as a
_Node, let the operation act, write back the domain files that changed.
"""

import contextlib
import os
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import libvirt

from ..driver import describe, strip_domain_id
from ...i18n import msg
from ..errors import HypervisorError
from . import files
from .connections import _Node, _checkin, _checkout
from .record import _INACTIVE, _RUNNING, _RUNSTATES, _SHUTOFF, _Record, _strip_id


class _Scope:
    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


_HOST = _Scope("host.xml alone, no domain")    # what an operation loads, besides
_ALL = _Scope("every domain of the host")       # a domain name (or (name, uuid))


class _Sessions:
    """The sessions' part of SimulatedHostDriver (a mixin): it overrides the
    base class's _session, and uses the host directory's methods
    (layout._HostDirectory) for the lock, the domain files, the console
    ports and the domain ids."""

    # ------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _scoped(self, scope):
        """Make the base class's _session() open only ``scope``."""
        outer = getattr(self._tls, "scope", _ALL)
        self._tls.scope = scope
        try:
            yield
        finally:
            self._tls.scope = outer

    @contextlib.contextmanager
    def _session(self, what, write=True):
        with self._sim(what, write, getattr(self._tls, "scope", _ALL)) as sim:
            yield sim.conn

    @contextlib.contextmanager
    def _sim(self, what, write=True, scope=_ALL):
        """Lock, load ``scope`` (a domain name, _HOST or _ALL), yield a _Node,
        write back what changed (even after a failure: the files must hold
        whatever state the test driver reached)."""
        with self._locked(what, write):
            node = self._load(what, scope)
            reusable = False
            try:
                yield node
            except libvirt.libvirtError as e:
                self._save(node, what, write, quiet=True)
                raise HypervisorError(msg("cannot {what}: {error}",
                                          what=what, error=describe(e))) from None
            except BaseException:
                self._save(node, what, write, quiet=True)
                raise
            else:
                self._save(node, what, write)
                # Live edits exist only in the file, not in this connection.
                reusable = not node.live and not node.broken
            finally:
                key = node.key() if reusable else None
                if key:
                    _checkin(key, node)
                else:
                    node.close()

    def _save(self, node, what, write, quiet=False):
        """Write back after a changing operation. After a failed one too
        (``quiet``: the operation's own error is the one to report)."""
        if not write:
            return
        try:
            self._store(node)
        except (libvirt.libvirtError, OSError) as e:
            node.broken = True          # the files may not match the connection
            if not quiet:
                raise HypervisorError(msg("cannot {what}: cannot save the simulated host "
                                          "{directory}: {error}",
                                          what=what, directory=self.directory,
                                          error=describe(e))) from None
        finally:
            node.sync_dirs()

    # ------------------------------------------------------------ loading

    def _load(self, what, scope):
        if scope is _HOST:
            return _Node(self, self._open(what, self.state_file), {})
        if scope is _ALL:
            return self._load_all(what)
        name, wanted_uuid = scope if isinstance(scope, tuple) else (scope, None)
        path = self._file(name)
        record = self._record(path, what)
        if record is None:
            # A new domain: on host.xml, unless its uuid is another domain's,
            # whose file then lets libvirt refuse it as a real host would.
            other = self._uuid_owner(wanted_uuid, path, what) if wanted_uuid else None
            if other is None:
                return _Node(self, self._open(what, self.state_file), {})
            record, path = other, other.path
        node = _checkout(path, record.generation)
        if node is not None:
            return node
        conn = self._open(what, path)
        try:
            if record.pending is not None:
                conn.defineXML(record.pending)
        except libvirt.libvirtError as e:
            conn.close()
            raise self._unusable(what, e) from None
        return _Node(self, conn, {record.name: record})

    def _load_all(self, what):
        """Every domain in one connection (one node file made for it)."""
        records = {}
        for path in self._domain_files(what):
            record = self._record(path, what)
            if record is not None:
                records[record.name] = record
        try:
            with open(self.state_file, encoding="utf-8") as f:
                host = f.read()
        except OSError as e:
            raise self._unusable(what, e) from None
        head, sep, _ = host.rpartition("</node>")
        if not sep:
            raise self._unusable(what, msg("{state_file} is not a node file",
                                           state_file=self.state_file))
        text = head + "".join(r.domain_xml() + "\n" for r in records.values()) + "</node>\n"
        tmp = os.path.join(self.directory, f".all.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            files._write_file(tmp, text)
            conn = self._open(what, tmp)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        try:
            for r in records.values():
                if r.pending is not None:
                    conn.defineXML(r.pending)
        except libvirt.libvirtError as e:
            conn.close()
            raise self._unusable(what, e) from None
        return _Node(self, conn, records)

    def _open(self, what, path):
        try:
            return libvirt.open("test://" + urllib.parse.quote(path))
        except libvirt.libvirtError as e:
            raise self._unusable(what, e) from None

    def _definition_scope(self, xml):
        """What defining ``xml`` must load: the domain of that name (and the
        owner of its uuid), or nothing when libvirt will refuse it anyway."""
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            return _HOST
        name = root.findtext("name")
        if root.tag != "domain" or not name:
            return _HOST
        return name, _uuid_key(root.findtext("uuid"))

    def _uuid_owner(self, key, path, what):
        """The record of another domain with uuid ``key``, if there is one:
        the domain named after that uuid (as the backend names them all), or
        the one D/uuids/<key> points to (any other domain has a link there)."""
        candidates = [self._file(key)]
        with contextlib.suppress(OSError):
            candidates.append(os.path.join(self._domains,
                                           os.readlink(os.path.join(self._uuids, key))))
        for other in candidates:
            if other != path:
                record = self._record(other, what)
                if record is not None and _uuid_key(record.uuid) == key:
                    return record
        return None

    # ------------------------------------------------------------ storing

    def _store(self, node):
        """Write every domain of the connection whose file would change, and
        remove the files of the loaded domains that are gone."""
        present = set()
        for dom in node.conn.listAllDomains():
            name = dom.name()
            present.add(name)
            old = node.records.get(name)
            if dom.isActive():
                current = dom.XMLDesc(0)
                xml = _strip_id(node.live.get(name) or current)   # ids: ours, in the header
                persistent = dom.isPersistent()
                pending = dom.XMLDesc(_INACTIVE) if persistent else None
                if pending is not None and name not in node.live \
                        and pending == strip_domain_id(current):
                    pending = None      # nothing pending: the definition is the live XML
                runstate = _RUNSTATES.get(dom.state()[0], _RUNNING)
                domid = old.domid if old is not None and old.active and old.domid \
                    else self._next_domid(node)
                transient = not persistent
            else:
                xml, runstate, pending, domid, transient = \
                    dom.XMLDesc(0), _SHUTOFF, None, None, False
            record = _Record(self._file(name), name, dom.UUIDString(), runstate, transient,
                             node.ports.get(name), domid, xml, pending)
            if old is not None and old.body == record.body:
                continue
            record.generation = uuid.uuid4().hex
            files._write_file(record.path, record.text(), node)
            node.records[name] = record
            if old is None:
                self._link_uuid(record, node)
        for name in [n for n in node.records if n not in present]:
            gone = node.records.pop(name)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(gone.path)
                node.dirty.add(self._domains)
            self._unlink_uuid(gone, node)
            port = node.ports.pop(name, None)
            if port is not None:
                self._free_port(port)

    def _link_uuid(self, record, node):
        if _uuid_key(record.uuid) == record.name:
            return                      # found by its name (a symlink costs ~0.3 ms)
        link = os.path.join(self._uuids, _uuid_key(record.uuid))
        tmp = os.path.join(self._uuids, f".{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(os.path.basename(record.path), tmp)
        os.replace(tmp, link)
        node.dirty.add(self._uuids)

    def _unlink_uuid(self, record, node):
        if _uuid_key(record.uuid) == record.name:
            return
        link = os.path.join(self._uuids, _uuid_key(record.uuid))
        with contextlib.suppress(OSError):
            if os.readlink(link) == os.path.basename(record.path):
                os.unlink(link)
                node.dirty.add(self._uuids)


def _uuid_key(text):
    """A uuid as 32 lower-case hex digits, or None when it is not one."""
    key = (text or "").strip().replace("-", "").lower()
    return key if re.fullmatch(r"[0-9a-f]{32}", key) else None
