"""The one handler behind every Query* API."""

from .. import catalogue
from ..i18n import msg
from ..errors import argerr
from ..store import query

_OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "?=", "!?=", "~=", "!~=")


def _condition(c):
    if isinstance(c, dict):
        name, op, value = c.get("name"), c.get("op"), c.get("value")
    else:
        name, op, value = c
    if not name or op not in _OPERATORS or value is None:
        raise argerr(msg("invalid query condition[{c}]: expected name, op (one of {operators}) "
                         "and value", c=c, operators=' '.join(_OPERATORS)))
    name, value = str(name), str(value)
    try:
        (name + value).encode("utf-8")
    except UnicodeEncodeError:
        raise argerr(msg("invalid query condition[{name}]: not valid UTF-8 text",
                         name=repr(name))) from None
    return query.Condition(name, op, value)


def run(ctx, p):
    conditions = [_condition(c) for c in p.get("conditions") or ()]
    return query.run(ctx.store, catalogue.RESOURCES, ctx.api.resource, ctx.api.name,
                     conditions, p)
