"""The fast serializer writes what ET.indent + ET.tostring write."""

import copy
import xml.etree.ElementTree as ET

from hypothesis import given, settings, strategies as st

from backend.hypervisor.domain import cdrom_xml, disk_xml, domain_xml
from backend.hypervisor.xmltext import to_text


def reference(el):
    el = copy.deepcopy(el)
    ET.indent(el)
    return ET.tostring(el, encoding="unicode")


SPEC = {"uuid": "d1" * 16, "name": "d1" * 16, "title": 'a <b> & "c"\ttab',
        "cpuNum": 2, "memorySize": 64 << 20, "domainType": "qemu",
        "volumes": [{"uuid": "e1" * 16, "path": "/ps/rootVolumes/x.qcow2", "format": "qcow2",
                     "deviceId": 0, "type": "Root"},
                    {"uuid": "e2" * 16, "path": "/ps/dataVolumes/y&z.qcow2", "format": "qcow2",
                     "deviceId": 1, "type": "Data"}],
        "nics": [{"mac": "fa:16:3e:00:00:01", "deviceId": 0, "bridge": "br_eth1"}],
        "cdrom": {"path": "/ps/imagecache/iso.iso"}, "bootOrder": ["CdRom", "HardDisk"],
        "console": "spice", "consoleListen": "0.0.0.0"}


def test_domain_xml_is_what_elementtree_writes():
    text = domain_xml(SPEC)
    assert text == reference(ET.fromstring(text))
    for piece in (disk_xml(SPEC["volumes"][1]), cdrom_xml(None), cdrom_xml("/x.iso")):
        assert piece == reference(ET.fromstring(piece))


names = st.sampled_from(["a", "disk", "source", "x-y", "b_c"])
texts = st.one_of(st.none(), st.text(alphabet=st.characters(
    blacklist_categories=("Cs", "Cc"), whitelist_characters="\n\t\r &<>\"'"), max_size=8))


@st.composite
def trees(draw, depth=0):
    el = ET.Element(draw(names), {k: draw(st.text(max_size=6, alphabet="ab &<>\"'\n\t\r"))
                                  for k in draw(st.lists(names, max_size=3, unique=True))})
    el.text = draw(texts)
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            child = draw(trees(depth + 1))
            child.tail = draw(texts)
            el.append(child)
    return el


@settings(max_examples=300, deadline=None)
@given(trees())
def test_any_plain_tree_is_written_as_elementtree_writes_it(tree):
    assert to_text(tree) == reference(tree)
