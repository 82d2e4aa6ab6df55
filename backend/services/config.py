"""Global configuration (SPEC §8)."""

from .. import catalogue
from ..i18n import msg
from ..errors import argerr
from ..store.query import to_inventory
from ..clock import now


def option(category, name):
    for o in catalogue.CONFIG_OPTIONS:
        if o.category == category and o.name == name:
            return o
    return None


def value(store, category, name):
    """The current value of a global config, typed by its declaration."""
    o = option(category, name)
    raw = store.value("SELECT value FROM GlobalConfigVO WHERE category = ? AND name = ?",
                      (category, name))
    raw = o.default if raw is None else raw
    return int(raw) if o.type == "int" else raw


def _checked(o, raw):
    if o.choices:
        for choice in o.choices:
            if choice.lower() == raw.lower():
                return choice
        raise argerr(msg("{raw} is not a valid value. Valid values are [{choices}]",
                         raw=raw, choices=', '.join(o.choices)))
    if o.type == "int":
        try:
            number = int(raw)
        except ValueError:
            raise argerr(msg("{raw} is not a valid integer", raw=raw)) from None
        if o.minimum is not None and number < o.minimum:
            raise argerr(msg("{raw} is less than the minimum value {minimum}",
                             raw=raw, minimum=o.minimum))
        return str(number)
    return raw


def update_global_config(ctx, p):
    o = option(p["category"], p["name"])
    if o is None:
        raise argerr(msg("Unable to find GlobalConfig[category: {category}, name: {name}]",
                         category=p['category'], name=p['name']))
    checked = _checked(o, p["value"])
    store = ctx.store
    with store.transaction():
        store.conn.execute("UPDATE GlobalConfigVO SET value = ?, lastOpDate = ? "
                           "WHERE category = ? AND name = ?",
                           (checked, now(), o.category, o.name))
    row = store.row("SELECT * FROM GlobalConfigVO WHERE category = ? AND name = ?",
                    (o.category, o.name))
    return to_inventory(catalogue.RESOURCES["GlobalConfigVO"], row)
