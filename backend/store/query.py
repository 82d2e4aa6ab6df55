"""The query compiler: Query* conditions -> one parameterised SQL statement.

A plain field is a WHERE term on the resource's table; a dotted field follows
the declared relations as nested IN sub-queries (at any depth: a row
matches when a related row matches); ``__systemTag__``/``__userTag__`` test
the tag tables. Values are always bound, never spliced into the SQL.
"""

from ..i18n import msg
from ..errors import argerr

TAG_TABLES = {"__systemTag__": "SystemTagVO", "__userTag__": "UserTagVO"}
NEGATIVE = {"!=": "=", "!?=": "?=", "!~=": "~="}
_SQL_OPS = {"=": "=", "!=": "!=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}


class Condition:
    __slots__ = ("name", "op", "value")

    def __init__(self, name, op, value):
        self.name = name
        self.op = op
        self.value = value


def split_values(text):
    """``a,b\\,c`` -> ['a', 'b,c'] for the in / not-in operators."""
    items, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == ",":
            cur.append(",")
            i += 2
            continue
        if ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    return [s for s in items if s != ""]


_INT_MAX = 2 ** 63 - 1


def _coerce(field, raw):
    if field.type in ("int", "float"):
        try:
            number = int(raw) if field.type == "int" else float(raw)
            # beyond SQLite's INTEGER: compare as a (still numeric) REAL
            return number if field.type != "int" or abs(number) <= _INT_MAX else float(raw)
        except ValueError:
            try:
                return float(raw)
            except ValueError:
                raise argerr(msg("the value[{raw}] of field[{name}] is not a number",
                                 raw=raw, name=field.name)) from None
    if field.type == "bool":
        low = raw.lower()
        if low not in ("true", "false"):
            raise argerr(msg("the value[{raw}] of field[{name}] is not a boolean (true|false)",
                             raw=raw, name=field.name))
        return 1 if low == "true" else 0
    return raw


def _like_pattern(raw):
    return raw if ("%" in raw or "_" in raw) else f"%{raw}%"


class Compiler:
    def __init__(self, resources, api_name):
        self.resources = resources
        self.api_name = api_name
        self.args = []
        self._alias = 0

    def _next_alias(self):
        self._alias += 1
        return f"t{self._alias}"

    def unknown(self, resource, name, path=""):
        """``path``: the relations walked to ``resource`` (``vmNics.``), named in the text."""
        valid = sorted(resource.fields) + sorted(f"{r}." for r in resource.relations)
        return argerr(msg("unknown field[{name}] for {api_name}; valid fields are [{valid}]",
                          name=path + name, api_name=self.api_name,
                          valid=', '.join(path + v for v in valid)))

    def term(self, resource, alias, name, op, raw, path=""):
        """SQL for one condition on ``resource`` (table aliased ``alias``, reached
        through the relations ``path``)."""
        if name in TAG_TABLES and resource.tags:
            return self._tag_term(alias, TAG_TABLES[name], op, raw)
        rel = resource.relations.get(name)
        if rel is not None and rel.pluck:
            # attachedClusterUuids=<uuid>: a related row whose plucked column matches
            target = self.resources[rel.target]
            sub = self._next_alias()
            inner = self._field_term(f'{sub}."{rel.pluck}"', target.fields[rel.pluck], op, raw)
            return _related(alias, rel, target, sub, inner)
        if "." in name:
            head, rest = name.split(".", 1)
            rel = resource.relations.get(head)
            if rel is None:
                raise self.unknown(resource, name, path)
            target = self.resources[rel.target]
            sub = self._next_alias()
            inner = self.term(target, sub, rest, op, raw, f"{path}{head}.")
            return _related(alias, rel, target, sub, inner)
        field = resource.fields.get(name)
        if field is None:
            raise self.unknown(resource, name, path)
        return self._field_term(f'{alias}."{name}"', field, op, raw)

    def _field_term(self, column, field, op, raw):
        if op in ("=", "!=") and raw == "null":
            return f"{column} IS {'NOT ' if op == '!=' else ''}NULL"
        if op in ("?=", "!?="):
            values = [_coerce(field, v) for v in split_values(raw)]
            if not values:
                return "0" if op == "?=" else "1"
            self.args.extend(values)
            marks = ", ".join("?" for _ in values)
            return f"{column} {'NOT ' if op == '!?=' else ''}IN ({marks})"
        if op in ("~=", "!~="):
            self.args.append(_like_pattern(raw))
            return f"{column} {'NOT ' if op == '!~=' else ''}LIKE ? ESCAPE '\\'"
        if raw == "" and op not in ("=", "!="):
            raise argerr(msg("the query condition[{name}{op}] has no value",
                             name=field.name, op=op))
        self.args.append(_coerce(field, raw))
        return f"{column} {_SQL_OPS[op]} ?"

    def _tag_term(self, alias, table, op, raw):
        from ..catalogue.model import Field

        negative = op in NEGATIVE
        positive = NEGATIVE.get(op, op)
        if positive == "=" and raw == "null":
            # "has no tag at all" / "has some tag"
            negative = not negative
            inner = "1"
        else:
            inner = self._field_term("tag", Field("tag"), positive, raw)
        return (f"{alias}.uuid {'NOT ' if negative else ''}IN "
                f"(SELECT resourceUuid FROM \"{table}\" WHERE {inner})")


def _related(alias, rel, target, sub, inner):
    """Rows whose related rows match: ``local IN (SELECT remote ... WHERE inner)``.

    Not a correlated EXISTS: SQLite would test every row of the outer table
    (100k VMs) against the index; the IN list is found through the index on
    the inner condition first, then the outer rows by their key.
    """
    return (f'{alias}."{rel.local}" IN (SELECT {sub}."{rel.remote}" FROM "{target.name}" {sub} '
            f'WHERE {inner})')


def run(store, resources, resource_name, api_name, conditions, options):
    """Execute a query and build the reply body (without ``success``)."""
    resource = resources[resource_name]
    compiler = Compiler(resources, api_name)
    seen = set()
    terms = []
    for c in conditions:
        key = (c.name, c.op, c.value)
        if key in seen:     # duplicates collapse
            continue
        seen.add(key)
        terms.append(compiler.term(resource, "t0", c.name, c.op, c.value))
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    table = f'"{resource.name}" t0'

    total = None
    if options.get("count") or options.get("replyWithCount"):
        total = store.value(f"SELECT COUNT(*) FROM {table}{where}", compiler.args)
        if options.get("count"):
            return {"total": total}

    keys = options.get("fields") or resource.inventory_keys()
    for name in keys:
        if name not in resource.fields and name not in resource.expands:
            raise compiler.unknown(resource, name)
    # Columns to read: the plain keys asked for, and what joins the embedded children.
    fields = [k for k in keys if k in resource.fields]
    needed = fields + [r.local for k, r in resource.expands.items()
                       if k in keys and r.local not in fields]
    order = "t0.rowid"
    if options.get("sortBy"):
        sort_by = options["sortBy"]
        if sort_by not in resource.fields:
            raise compiler.unknown(resource, sort_by)
        direction = "DESC" if options.get("sortDirection") == "desc" else "ASC"
        # The tie-breaker runs the same way so an index on the column serves the order.
        order = f't0."{sort_by}" {direction}, t0.rowid {direction}'
    columns = ", ".join(f't0."{f}"' for f in dict.fromkeys(needed))
    limit = options.get("limit", 1000)
    start = options.get("start", 0)
    if limit < 0 or start < 0:
        raise argerr(msg("limit and start must not be negative"))
    sql = f"SELECT {columns} FROM {table}{where} ORDER BY {order} LIMIT ? OFFSET ?"
    rows = store.rows(sql, (*compiler.args, limit, start))
    reply = {"inventories": inventories(store, resources, resource, rows, keys)}
    if total is not None:
        reply["total"] = total
    return reply


def inventories(store, resources, resource, rows, keys=None):
    """Rows -> inventories, with the embedded children of expanded relations
    fetched in one query per relation (never one per row)."""
    keys = keys or resource.inventory_keys()
    fields = [k for k in keys if k in resource.fields]
    out = [to_inventory(resource, row, fields) for row in rows]
    for name, rel in resource.expands.items():
        if name not in keys:
            continue
        owners = [row[rel.local] for row in rows]
        children = _children(store, resources[rel.target], rel, owners)
        for inv, owner in zip(out, owners):
            inv[name] = children.get(owner, [])
    return out


def _children(store, target, rel, owners):
    wanted = [o for o in dict.fromkeys(owners) if o is not None]
    found = {}
    order = f'"{rel.order}", rowid' if rel.order else "rowid"
    for i in range(0, len(wanted), 500):       # SQLite's bound-parameter limit
        chunk = wanted[i:i + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = store.rows(f'SELECT * FROM "{target.name}" WHERE "{rel.remote}" IN ({marks}) '
                          f'ORDER BY {order}', chunk)
        for row in rows:
            value = row[rel.pluck] if rel.pluck else to_inventory(target, row)
            found.setdefault(row[rel.remote], []).append(value)
    return found


def to_inventory(resource, row, fields=None):
    """A table row -> the inventory dict users see (typed, no private columns)."""
    inv = {}
    # (fields=[]: only embedded children were asked for, no plain field)
    for name in resource.fields if fields is None else fields:
        value = row[name]
        if value is not None and resource.fields[name].type == "bool":
            value = bool(value)
        inv[name] = value
    return inv
