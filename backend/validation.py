"""Check and coerce an API's parameters against its catalogue declaration.

The shell sends what the user typed (strings, lists already split); other
callers may send typed values. Either way the handler receives typed values,
defaults filled in, and choices spelled as declared.
"""

import re

from .i18n import msg
from .catalogue.common import NEW_RESOURCE_UUID
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
        raise argerr(msg("unknown parameter[{unknown}] of message[{message}]; valid parameters "
                         "are [{params}]",
                         unknown=unknown[0], message=message_class(api),
                         params=', '.join(api.params)))
    out = {}
    for name, param in api.params.items():
        value = params.get(name)
        if _missing(param, value):
            if param.required:
                raise argerr(msg("field[{name}] of message[{message}] is mandatory, can not be "
                                 "null", name=name, message=message_class(api)))
            if param.default is not None:
                out[name] = param.default
            continue
        out[name] = _coerce(api, param, value, store, resources)
    if out.get("resourceUuid") and api.params["resourceUuid"] is NEW_RESOURCE_UUID:
        _unique_uuid(out["resourceUuid"], store, resources)
    if api.query:
        out["conditions"] = params.get("conditions") or []
    return out


def _unique_uuid(uuid, store, resources):
    """A uuid given to a new resource names nothing else, of any type: ZStack's
    uuids are global (a tag or a query by uuid must not find two things)."""
    for resource in resources.values():
        if resource.key == "uuid" and "uuid" in resource.fields and store.exists(resource.name,
                                                                                 uuid):
            raise argerr(msg("resource[uuid:{uuid}, type:{resource_name}] already exists",
                             uuid=uuid, resource_name=resource.name))


def _missing(param, value):
    """Not given: absent, empty for a non-string, or a list of nothing
    (``l3NetworkUuids=`` or ``l3NetworkUuids=,`` on a command line)."""
    if value is None or (value == "" and param.type != "str"):
        return True
    return param.type == "list" and isinstance(value, (list, tuple)) and \
        not any(str(item) for item in value)


def _coerce(api, param, value, store, resources):
    kind = param.type
    if kind == "str":
        value = _text(api, param, str(value))
        if param.max_length and len(value) > param.max_length:
            raise argerr(msg("field[{name}] of message[{message}] exceeds the max length of "
                             "string. expected was <= {max_length}, actual was {count}",
                             name=param.name, message=message_class(api),
                             max_length=param.max_length, count=len(value)))
        if param.required and value == "":
            raise argerr(msg("field[{name}] of message[{message}] is mandatory, can not be null",
                             name=param.name, message=message_class(api)))
        if param.min_length and len(value) < param.min_length:
            raise argerr(msg("field[{name}] of message[{message}] less than the min length of "
                             "string. expected was >= {min_length}, actual was {count}",
                             name=param.name, message=message_class(api),
                             min_length=param.min_length, count=len(value)))
        return _choice(api, param, value)
    if kind in ("int", "float"):
        try:
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            raise argerr(msg("field[{name}] of message[{message}] must be {expected}, but "
                             "{value} found",
                             name=param.name, message=message_class(api),
                             expected=msg("an integer") if kind == "int" else msg("a number"),
                             value=value)) \
                from None
        if kind == "int" and not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
            raise argerr(msg("field[{name}] of message[{message}] is out of range: {value}",
                             name=param.name, message=message_class(api), value=value))
        return _bounded(param, number)
    if kind == "size":
        return _bounded(param, _size(api, param, value))
    if kind == "bool":
        if isinstance(value, bool):
            return value
        low = str(value).lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise argerr(msg("field[{name}] of message[{message}] must be true or false, but {value} "
                         "found", name=param.name, message=message_class(api), value=value))
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
            raise argerr(msg("field[{name}] of message[{message}] must be a map",
                             name=param.name, message=message_class(api)))
        return value
    raise AssertionError(kind)


def _text(api, param, value):
    """Text that SQLite can store: lone surrogates (undecodable bytes on a command line)
    are an invalid argument, not an internal error."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argerr(msg("field[{name}] of message[{message}] is not valid UTF-8 text",
                         name=param.name, message=message_class(api))) from None
    return value


def _choice(api, param, value):
    if not param.choices:
        return value
    for choice in param.choices:
        if choice.lower() == value.lower():
            return choice
    raise argerr(msg("valid value for field[{name}] of message[{message}] are [{choices}], but "
                     "{value} found",
                     name=param.name, message=message_class(api), choices=', '.join(param.choices),
                     value=value))


def _uuid(api, param, value, store, resources):
    if not UUID_RE.match(value):
        raise argerr(msg("field[{name}] of message[{message}] is not a valid uuid: {value} (32 "
                         "lowercase hexadecimal characters expected)",
                         name=param.name, message=message_class(api), value=_clip(value)))
    if param.resource and param.must_exist and param.resource in resources:
        if not store.exists(param.resource, value):
            raise not_found(param.name, value, param.resource)
    return value


def _clip(text, most=64):
    """A bad value quoted back in an error, cut short (it may be a whole file)."""
    return text if len(text) <= most else text[:most] + "..."


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)


def _bounded(param, number):
    if param.within(number):
        return number
    least, most = param.bound_text(param.least), param.bound_text(param.most or 0)
    if param.most is not None:
        raise argerr(msg("{name} must be between {least} and {most}, not {value}",
                         name=param.name, least=least, most=most, value=number))
    if param.type == "size":
        raise argerr(msg("{name} must be at least {least}, but {value} bytes found",
                         name=param.name, least=least, value=number))
    raise argerr(msg("{name} must be at least {least}, but {value} found",
                     name=param.name, least=least, value=number))


def _size(api, param, value):
    """Bytes, as ZStack takes them, or with a unit as people write them (64M, 1G, 20GiB)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise argerr(msg("field[{name}] of message[{message}] must be a size in bytes or "
                             "with a unit (K, M, G, T), but {value} found",
                             name=param.name, message=message_class(api), value=_clip(str(value))))
        number = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if not 0 <= number <= _INT_RANGE[1]:
        raise argerr(msg("field[{name}] of message[{message}] is out of range: {value}",
                         name=param.name, message=message_class(api), value=_clip(str(value))))
    return number
