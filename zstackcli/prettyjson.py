"""``json.dumps(value, sort_keys=True, indent=4, ensure_ascii=False)``, faster.

With an indent, the standard library drops its C encoder for a pure-Python one
that costs about 0.2 ms per VM inventory: a fifth of a millisecond per line of a
thousand-line batch. Replies are plain data (dicts with string keys, lists,
strings, numbers, booleans, None); this writes those, with the C string escaper,
and hands anything else to ``json.dumps`` so the text is always the same.
"""

import json
from json.encoder import encode_basestring

_INDENT = "    "


class _Unusual(Exception):
    pass


def dumps(value):
    try:
        out = []
        _write(value, 0, out)
        return "".join(out)
    except _Unusual:
        return json.dumps(value, sort_keys=True, indent=4, ensure_ascii=False)


def _write(value, level, out):
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        if any(type(k) is not str for k in value):
            raise _Unusual          # json turns such keys into strings first
        inner = "\n" + _INDENT * (level + 1)
        out.append("{")
        first = True
        for key in sorted(value):
            out.append(inner if first else "," + inner)
            first = False
            out.append(encode_basestring(key) + ": ")
            _write(value[key], level + 1, out)
        out.append("\n" + _INDENT * level + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = "\n" + _INDENT * (level + 1)
        out.append("[")
        first = True
        for item in value:
            out.append(inner if first else "," + inner)
            first = False
            _write(item, level + 1, out)
        out.append("\n" + _INDENT * level + "]")
    else:
        raise _Unusual              # floats (nan, inf), subclasses, anything else
