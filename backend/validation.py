"""Check and coerce an API's parameters against its catalogue declaration.

The shell sends what the user typed (strings, lists already split); other
callers may send typed values. Either way the handler receives typed values,
defaults filled in, and choices spelled as declared.
"""

import re

from .errors import argerr, not_found

UUID_RE = re.compile(r"^[0-9a-f]{32}$")
_INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)    # what SQLite stores as an INTEGER
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def message_class(api):
    return f"API{api.name}Msg"


def validate(api, params, store, resources):
    """Returns the typed params; raises ApiError (SYS.1007 / SYS.1003)."""
    unknown = [k for k in params if k not in api.params and not (api.query and k == "conditions")]
    if unknown:
        raise argerr(f"unknown parameter[{unknown[0]}] of message[{message_class(api)}]; valid "
                     f"parameters are [{', '.join(api.params)}]")
    out = {}
    for name, param in api.params.items():
        value = params.get(name)
        if value is None or (value == "" and param.type != "str"):
            if param.required:
                raise argerr(f"field[{name}] of message[{message_class(api)}] is mandatory, "
                             f"can not be null")
            if param.default is not None:
                out[name] = param.default
            continue
        out[name] = _coerce(api, param, value, store, resources)
    if api.query:
        out["conditions"] = params.get("conditions") or []
    return out


def _coerce(api, param, value, store, resources):
    kind = param.type
    if kind == "str":
        value = _text(api, param, str(value))
        if param.max_length and len(value) > param.max_length:
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] exceeds the max "
                         f"length of string. expected was <= {param.max_length}, actual was "
                         f"{len(value)}")
        if param.required and value == "":
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] is mandatory, "
                         f"can not be null")
        if param.min_length and len(value) < param.min_length:
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] less than the min "
                         f"length of string. expected was >= {param.min_length}, actual was "
                         f"{len(value)}")
        return _choice(api, param, value)
    if kind in ("int", "float"):
        try:
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] must be "
                         f"{'an integer' if kind == 'int' else 'a number'}, but {value} found") \
                from None
        if kind == "int" and not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] is out of "
                         f"range: {value}")
        return number
    if kind == "size":
        return _size(api, param, value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        low = str(value).lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise argerr(f"field[{param.name}] of message[{message_class(api)}] must be true or "
                     f"false, but {value} found")
    if kind == "uuid":
        return _uuid(api, param, str(value), store, resources)
    if kind == "list":
        items = value if isinstance(value, (list, tuple)) else [value]
        items = [_text(api, param, str(i)) for i in items]
        if param.items == "uuid":
            items = [_uuid(api, param, i, store, resources) for i in items]
        return items
    if kind == "map":
        if not isinstance(value, dict):
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] must be a map")
        return value
    raise AssertionError(kind)


def _text(api, param, value):
    """Text that SQLite can store: lone surrogates (undecodable bytes on a command line)
    are an invalid argument, not an internal error."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argerr(f"field[{param.name}] of message[{message_class(api)}] is not valid "
                     f"UTF-8 text") from None
    return value


def _choice(api, param, value):
    if not param.choices:
        return value
    for choice in param.choices:
        if choice.lower() == value.lower():
            return choice
    raise argerr(f"valid value for field[{param.name}] of message[{message_class(api)}] are "
                 f"[{', '.join(param.choices)}], but {value} found")


def _uuid(api, param, value, store, resources):
    if not UUID_RE.match(value):
        raise argerr(f"field[{param.name}] of message[{message_class(api)}] is not a valid uuid: "
                     f"{_clip(value)} (32 lowercase hexadecimal characters expected)")
    if param.resource and param.must_exist and param.resource in resources:
        if not store.exists(param.resource, value):
            raise not_found(param.name, value, param.resource)
    return value


def _clip(text, most=64):
    """A bad value quoted back in an error, cut short (it may be a whole file)."""
    return text if len(text) <= most else text[:most] + "..."


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)


def _size(api, param, value):
    """Bytes, as ZStack takes them, or with a unit as people write them (64M, 1G, 20GiB)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise argerr(f"field[{param.name}] of message[{message_class(api)}] must be a size "
                         f"in bytes or with a unit (K, M, G, T), but {_clip(str(value))} found")
        number = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if not 0 <= number <= _INT_RANGE[1]:
        raise argerr(f"field[{param.name}] of message[{message_class(api)}] is out of range: "
                     f"{_clip(str(value))}")
    return number
