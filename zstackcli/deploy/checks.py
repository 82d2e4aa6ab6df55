"""One value of a deployment file against its catalogue parameter, statically.

Each check returns the value to send to the API (typed: a size is bytes, a
choice is spelled as declared) or raises Invalid with the reason.
"""

import datetime
import ipaddress
import os
import re

from backend.catalogue import TAG_PATTERNS

from .text import say, shown

UUID_RE = re.compile(r"^[0-9a-f]{32}$")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_INT_MAX = 2 ** 63 - 1
URL_VARIABLES = ("ZSTACK_HOME", "HOME")


class Invalid(Exception):
    """Why a value is wrong (one line); the caller adds where."""


def scalar_text(value, what="want_str"):
    """A string, or a number or date written without quotes (``password: 123456``)."""
    if isinstance(value, str):
        return str(value)                # a Plain number keeps the text as written
    if isinstance(value, bool):
        raise Invalid(say(what, got=shown(value)) + say("bool_hint"))
    if isinstance(value, (int, float, datetime.date)):
        return str(value)
    raise Invalid(say(what, got=shown(value)))


def _typed(value):
    """YAML's reading of a plain number scalar (loader.Plain), else the value itself."""
    typed = getattr(value, "typed", None)
    return value if typed is None or isinstance(typed, str) else typed


def size(value):
    value = _typed(value)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        m = _SIZE_RE.match(value) if isinstance(value, str) else None
        if not m:
            raise Invalid(say("want_size", got=shown(value)))
        number = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if not 0 <= number <= _INT_MAX:
        raise Invalid(say("want_size", got=shown(value)))
    return number


def check(param, value):
    """The API value for ``param`` (a catalogue Param) written as ``value``."""
    kind = param.type
    if kind == "str":
        text = scalar_text(value)
        if param.choices:
            for choice in param.choices:
                if choice.lower() == text.lower():
                    return choice
            raise Invalid(say("want_choice", choices=", ".join(param.choices), got=shown(value)))
        if param.max_length and len(text) > param.max_length:
            raise Invalid(say("too_long", most=param.max_length))
        if (param.min_length or param.required) and not text:
            raise Invalid(say("too_short"))
        return text
    if kind == "int":
        value = _typed(value)
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,19}\s*", value):
            number = int(value)
        else:
            number = None
        if number is None or abs(number) > _INT_MAX:
            raise Invalid(say("want_int", got=shown(value)))
        return _bounded(param, number, value)
    if kind == "float":
        value = _typed(value)
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        except (TypeError, ValueError):
            raise Invalid(say("want_number", got=shown(value))) from None
    if kind == "size":
        return _bounded(param, size(value), value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise Invalid(say("want_bool", got=shown(value)))
    if kind == "uuid":
        text = scalar_text(value)
        if not UUID_RE.match(text):
            raise Invalid(say("want_uuid", got=shown(value)))
        return text
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [scalar_text(item) for item in items]
    if kind == "map":
        if not isinstance(value, dict):
            raise Invalid(say("want_map", got=shown(value)))
        return value
    raise AssertionError(kind)


def _bounded(param, number, written):
    """The catalogue's bounds of the value (the API checks the same ones)."""
    if param.within(number):
        return number
    least = param.bound_text(param.least)
    if param.most is not None:
        raise Invalid(say("out_of_bounds", least=least, most=param.bound_text(param.most),
                          got=shown(written)))
    raise Invalid(say("too_small", least=least, got=shown(written)))


def name_list(value, single=False):
    """A reference: one name, or a list of them."""
    if single:
        return scalar_text(value, "want_str")
    items = value if isinstance(value, list) else [value]
    names = [scalar_text(item) for item in items]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise Invalid(say("listed_twice", name=twice))
    return names


# -- system tags -------------------------------------------------------------------------

def _matches(pattern, tag):
    parts = pattern.format.split("::")
    pieces = tag.split("::", len(parts) - 1)
    if len(pieces) != len(parts):
        return None
    tokens = {}
    for part, piece in zip(parts, pieces):
        if part.startswith("{") and part.endswith("}"):
            if not piece:
                return None
            tokens[part[1:-1]] = piece
        elif part != piece:
            return None
    return tokens


def system_tag(tag, resource):
    """Refuse a system tag that no registered pattern of ``resource`` matches, or that
    its pattern's own check refuses (as the backend would, before anything exists)."""
    for pattern in TAG_PATTERNS:
        if pattern.resource != resource or pattern.inherent:
            continue
        tokens = _matches(pattern, tag)
        if tokens is None:
            continue
        problem = pattern.check(tokens) if pattern.check else None
        if problem and "Uuid" not in "".join(tokens):    # uuids are filled in later
            raise Invalid(problem)
        return
    raise Invalid(say("no_tag", tag=tag if len(tag) < 60 else tag[:57] + "...",
                      resource=resource))


# -- urls --------------------------------------------------------------------------------

def expand_url(url, home, base_dir, local):
    """``${ZSTACK_HOME}`` (the cloud's home), ``${HOME}`` and ``~``;
    for a url of this machine (``local``), a relative path is relative to ``base_dir``
    and the result is a normalised absolute path (``file://`` kept when written)."""
    def variable(m):
        name = m.group(1)
        if name == "ZSTACK_HOME":
            return home
        if name not in URL_VARIABLES:       # no secret of the environment in a request
            raise Invalid(say("var_not_allowed", name=name))
        if name not in os.environ:
            raise Invalid(say("unknown_var", name=name))
        return os.environ[name]

    url = _VAR_RE.sub(variable, url)
    if not local or (re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url)
                     and not url.startswith("file://")):
        return url
    scheme = "file://" if url.startswith("file://") else ""
    path = os.path.expanduser(url[len(scheme):])
    if not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    return scheme + os.path.normpath(path)


def local_path(url):
    """The file a url names on this machine, or None (http...)."""
    if url.startswith("file://"):
        return url[len("file://"):]
    return url if url.startswith("/") else None


def same(field, have, want):
    """Is an inventory value what the file asks for?"""
    if have is None and want in ("", None):
        return True
    if isinstance(want, bool):
        return bool(have) == want
    if isinstance(want, (int, float)) and not isinstance(have, str):
        return have == want
    if field == "url" and isinstance(have, str) and isinstance(want, str):
        return (os.path.normpath(local_path(have) or have)
                == os.path.normpath(local_path(want) or want))
    if field.lower().endswith("cidr") and isinstance(have, str) and isinstance(want, str):
        try:                       # 10.1.0.5/24 is the network 10.1.0.0/24 the cloud keeps
            return (ipaddress.ip_network(have.strip(), strict=False)
                    == ipaddress.ip_network(want.strip(), strict=False))
        except ValueError:
            pass
    return str(have) == str(want)
