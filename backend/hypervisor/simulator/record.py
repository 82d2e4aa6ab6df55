"""A simulated host's domain file: our header, then the domain as the test
driver reads it (the format is described in the package's doc).
"""

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, unescape

import libvirt

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
ZS_NS = "http://zstack.org/simulator/1.0"

_RUNNING, _PAUSED, _SHUTOFF = 1, 3, 5
_ACTIVE = (_RUNNING, _PAUSED, libvirt.VIR_DOMAIN_CRASHED)
_INACTIVE = libvirt.VIR_DOMAIN_XML_INACTIVE
# An active domain's libvirt state -> the <test:runstate> that brings it back.
_RUNSTATES = {libvirt.VIR_DOMAIN_PAUSED: _PAUSED,
              libvirt.VIR_DOMAIN_PMSUSPENDED: _PAUSED,
              libvirt.VIR_DOMAIN_CRASHED: libvirt.VIR_DOMAIN_CRASHED}


class _Record:
    """One domain file: our header, then the domain as the test driver reads it."""

    __slots__ = ("body", "domid", "generation", "name", "path", "pending", "port",
                 "runstate", "transient", "uuid", "xml")

    def __init__(self, path, name, uuid_, runstate, transient, port, domid, xml, pending,
                 generation=None, body=None):
        self.path, self.name, self.uuid = path, name, uuid_
        self.runstate, self.transient, self.port, self.domid = runstate, transient, port, domid
        self.xml, self.pending, self.generation = xml, pending, generation
        self.body = body if body is not None else self._render_body()

    @property
    def active(self):
        return self.runstate in _ACTIVE

    def _render_body(self):
        attrs = [("name", self.name), ("uuid", self.uuid), ("runstate", self.runstate)]
        if self.transient:
            attrs.append(("transient", "yes"))
        if self.port is not None:
            attrs.append(("port", self.port))
        if self.domid is not None:
            attrs.append(("id", self.domid))
        header = " ".join(f"{k}='{_attr(v)}'" for k, v in attrs)
        out = [f"  <zs:domain {header}/>", self.domain_xml()]
        if self.pending is not None:
            out.append(f"  <zs:definition>{escape(self.pending)}</zs:definition>")
        out.append("</node>")
        return "\n".join(out) + "\n"

    def domain_xml(self):
        """The domain element as the test driver loads it (run state marked)."""
        marks = f"<test:runstate xmlns:test='{TEST_NS}'>{self.runstate}</test:runstate>"
        if self.transient:
            marks += f"<test:transient xmlns:test='{TEST_NS}'/>"
        head, sep, _ = self.xml.rstrip().rpartition("</domain>")
        if not sep:
            raise ValueError("no <domain> element")
        return head + marks + "</domain>"

    def text(self):
        return f"{_PREFIX}{self.generation}{_MIDDLE}{self.body}"

    @classmethod
    def read(cls, path):
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise FileNotFoundError(path)   # an unsynced new file a crash left empty
        text = data.decode("utf-8")
        m = _HEADER.match(text)
        if not m:
            raise ValueError("not a simulated domain file")
        attrs = {k: unescape(v, _UNESCAPE) for k, v in _ATTR.findall(m.group(2))}
        start = text.find("<domain", m.end())
        end = text.rfind("</domain>")
        if start < 0 or end < start:
            raise ValueError("no <domain> element")
        marks = text.rfind("<test:runstate", start, end)
        pending = _PENDING.search(text, end)
        try:
            return cls(path, attrs["name"], attrs["uuid"], int(attrs["runstate"]),
                       attrs.get("transient") == "yes",
                       int(attrs["port"]) if "port" in attrs else None,
                       int(attrs["id"]) if "id" in attrs else None,
                       text[start:marks if marks >= 0 else end] + "</domain>",
                       unescape(pending.group(1)) if pending else None,
                       generation=m.group(1), body=text[m.end(1) + len(_MIDDLE):])
        except KeyError as e:
            raise ValueError(f"no {e.args[0]} in the header") from None


_HEAD_BYTES = 2048             # holds the header line of any domain with a name of usual length
_PREFIX = f"<node xmlns:zs='{ZS_NS}'>\n  <zs:generation>"
_MIDDLE = "</zs:generation>\n"
_HEADER = re.compile(r"<node xmlns:zs='[^']*'>\n  <zs:generation>([0-9a-f]{32})"
                     r"</zs:generation>\n  <zs:domain ([^>]*)/>\n")
_ATTR = re.compile(r"(\w+)='([^']*)'")
_PENDING = re.compile(r"<zs:definition>(.*?)</zs:definition>", re.DOTALL)
_DOMAIN_ID = re.compile(r"^(<domain\b[^>]*?)\s+id=(['\"])-?\d+\2")
_ESCAPE = {"'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_UNESCAPE = {v: k for k, v in _ESCAPE.items()}


def _attr(value):
    return escape(str(value), _ESCAPE)


def _strip_id(xml):
    """A domain's XML without its runtime id (libvirt's or an edited copy's)."""
    return _DOMAIN_ID.sub(r"\1", xml, count=1)


def _tostring(el):
    return ET.tostring(el, encoding="unicode")
