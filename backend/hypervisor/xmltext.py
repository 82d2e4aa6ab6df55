"""ElementTree elements to text, indented, as ``ET.indent`` + ``ET.tostring`` write them.

Every VM start writes a domain: ElementTree's own serializer (pure Python, with
namespace and qname handling the domain XML never needs) cost about a quarter of
a millisecond per domain, a tenth of creating a VM on a simulated host. This one
writes the same characters for the trees the hypervisor layer builds: plain tags,
string attributes and text, no comments or namespaces. The tree is not modified
(``ET.indent`` would rewrite its whitespace).
"""

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                            "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"})
_SPACE = "  "


def to_text(element):
    """The element (and its children) indented by two spaces per level."""
    out = []
    _write(element, 0, out)
    if element.tail:
        out.append(element.tail.translate(_TEXT))
    return "".join(out)


def _write(el, level, out):
    out.append("<" + el.tag)
    for name, value in el.items():
        out.append(f' {name}="{value.translate(_ATTRIBUTE)}"')
    text = el.text
    children = list(el)
    if children:
        if not text or not text.strip():
            text = "\n" + _SPACE * (level + 1)     # what ET.indent puts there
        out.append(">" + text.translate(_TEXT))
        last = len(children) - 1
        for i, child in enumerate(children):
            _write(child, level + 1, out)
            tail = child.tail
            if not tail or not tail.strip():
                tail = "\n" + _SPACE * (level + (0 if i == last else 1))
            out.append(tail.translate(_TEXT))
        out.append(f"</{el.tag}>")
    elif text:
        out.append(f">{text.translate(_TEXT)}</{el.tag}>")
    else:
        out.append(" />")
