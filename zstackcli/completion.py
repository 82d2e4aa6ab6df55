"""The completion engine: (text before the cursor) -> what to suggest.

Pure and table-tested: it reads the catalogue, and asks a ``values`` provider
(see completer.py) for what only the store knows, the uuids and names of
resources. Three levels, as in CloudMonkey: the verb, then ``key=`` for that
verb (required ones first), then the value (choices, booleans, uuids with
their names, query fields and dotted paths, ``fields=`` lists, tag patterns).
"""

from backend.catalogue import APIS, CONFIG_OPTIONS, RESOURCES, TAG_PATTERNS

from . import builtins
from .output import FORMATS

_OP_CHARS = "=!<>?~"
_QUERY_OPS = ("!?=", "!~=", ">=", "<=", "!=", "?=", "~=", "=", ">", "<")
TAG_KEYS = ("__systemTag__", "__userTag__")
MAX_VALUES = 50


class Suggestion:
    """Insert ``text`` in place of the ``replace`` characters before the cursor."""

    __slots__ = ("text", "replace", "display", "meta")

    def __init__(self, text, replace, display=None, meta=""):
        self.text = text
        self.replace = replace
        self.display = display or text
        self.meta = meta

    def __repr__(self):
        return f"Suggestion({self.text!r}, {self.replace})"


class NoValues:
    """A provider that knows nothing: completion from the catalogue alone."""

    def uuids(self, resource, prefix, limit=MAX_VALUES):
        return []


def split_partial(text):
    """Split an unfinished line into (finished words, the word under the cursor).

    Follows the parser's quoting: an open quote belongs to the current word.
    Words come back unquoted; the current word also raw, to know its length.
    """
    words, cur, raw, quote, i = [], [], [], None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            raw.append(ch)
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < len(text) and text[i + 1] in '"\\':
                i += 1
                raw.append(text[i])
                cur.append(text[i])
            else:
                cur.append(ch)
        elif ch in "'\"":
            quote = ch
            raw.append(ch)
        elif ch in " \t\n":
            if raw:
                words.append("".join(cur))
            cur, raw = [], []
        else:
            cur.append(ch)
            raw.append(ch)
        i += 1
    return words, "".join(cur), "".join(raw)


def _rank(candidates, typed, key=lambda c: c):
    """Prefix matches first, then substring matches; case-insensitive."""
    low = typed.lower()
    prefix = [c for c in candidates if key(c).lower().startswith(low)]
    inside = [c for c in candidates if low and low in key(c).lower() and c not in prefix]
    return prefix + inside


def complete(text, values=None):
    values = values or NoValues()
    words, current, raw = split_partial(text)
    if not words:
        verbs = list(APIS) + [b for b in builtins.names()]
        return [Suggestion(v, len(raw), meta=_verb_meta(v)) for v in _rank(verbs, current)]
    verb = words[0]
    if verb in builtins.names():
        return _builtin_args(verb, words[1:], current, raw)
    api = APIS.get(verb)
    if api is None:
        return []
    split = _split_key(current, api.query)
    if split is None:
        return _keys(api, words[1:], current, raw)
    key, op, value = split
    if raw != current:      # a quoted value: its raw length differs, leave it alone
        return []
    return _values(api, words[1:], key, op, value, values)


def _verb_meta(verb):
    api = APIS.get(verb)
    return api.doc.en if api is not None and api.doc is not None else ""


def _builtin_args(verb, args, current, raw):
    if verb == "help" and not args:
        return [Suggestion(v, len(raw)) for v in _rank(list(APIS), current)]
    if verb == "set":
        if not args:
            return [Suggestion("output", len(raw))] if "output".startswith(current) else []
        if args == ["output"]:
            return [Suggestion(f, len(raw)) for f in _rank(FORMATS, current)]
    return []


def _split_key(word, query):
    """'key<op>value' -> (key, op, value); None while the key is being typed."""
    for i, ch in enumerate(word):
        if ch in _OP_CHARS:
            if not query:
                return (word[:i], "=", word[i + 1:]) if ch == "=" else None
            for op in _QUERY_OPS:
                if word.startswith(op, i):
                    return word[:i], op, word[i + len(op):]
            return None
    return None


def _used_keys(args):
    used = set()
    for word in args:
        for i, ch in enumerate(word):
            if ch in _OP_CHARS:
                used.add(word[:i])
                break
    return used


def _keys(api, args, current, raw):
    used = _used_keys(args)
    out = []
    if api.query and "." in current:
        return _field_paths(RESOURCES[api.resource], current, raw)
    params = sorted((p for p in api.params.values() if p.name not in used),
                    key=lambda p: not p.required)
    for p in _rank(params, current, key=lambda p: p.name):
        out.append(Suggestion(p.name + "=", len(raw), meta=_param_meta(p)))
    if api.query:
        resource = RESOURCES[api.resource]
        fields = [f for f in resource.fields if f not in api.params]
        for f in _rank(fields, current):
            out.append(Suggestion(f + "=", len(raw), meta="field"))
        for r in _rank(list(resource.relations), current):
            out.append(Suggestion(r + ".", len(raw), meta=resource.relations[r].target))
        if resource.tags:
            for tk in _rank(TAG_KEYS, current):
                out.append(Suggestion(tk + "=", len(raw), meta="tag"))
    return out


def _param_meta(p):
    from .builtins import describe_param

    return describe_param(p)


def _field_paths(resource, current, raw):
    """Complete ``cluster.zone.na`` along the declared relations."""
    *path, last = current.split(".")
    for step in path:
        rel = resource.relations.get(step)
        if rel is None:
            return []
        resource = RESOURCES[rel.target]
    head = ".".join(path) + "."
    out = [Suggestion(head + f + "=", len(raw), meta="field")
           for f in _rank(list(resource.fields), last)]
    out += [Suggestion(head + r + ".", len(raw), meta=resource.relations[r].target)
            for r in _rank(list(resource.relations), last)]
    return out


def _resource_of_field(resource, path):
    """The resource and field a (dotted) query field names, or (None, None)."""
    *steps, last = path.split(".")
    for step in steps:
        rel = resource.relations.get(step)
        if rel is None:
            return None, None
        resource = RESOURCES[rel.target]
    return resource, last


def _values(api, args, key, op, value, values):
    param = api.params.get(key) if op == "=" else None
    if param is None and api.query:
        return _condition_values(api, key, op, value, values)
    if param is None:
        return []
    if param.values:
        return _from_source(api, param.values, _context(args), value, values)
    if param.choices:
        return _choices(param.choices, value)
    if param.type == "bool":
        return _choices(("true", "false"), value)
    resource = param.names_resource()
    if resource:
        last = value.rpartition(",")[2] if param.type == "list" else value
        return _uuid_suggestions(values, resource, last)
    if param.split == "tags" and param.type == "list":
        return _tag_patterns(api.resource, value)
    return []


def _context(args):
    """The key=value pairs already on the line (for values that depend on others)."""
    out = {}
    for word in args:
        key, sep, value = word.partition("=")
        if sep:
            out[key] = value
    return out


def _from_source(api, source, context, value, values):
    """Values from a source the catalogue names on the parameter (model.VALUE_SOURCES)."""
    kind, *depends = source
    given = [context.get(name) for name in depends]
    if kind in ("fields", "field"):
        fields = list(RESOURCES[api.resource].fields)
        return _list_items(fields, value) if kind == "fields" else _choices(fields, value)
    if kind == "resourceTypes":
        return _choices([r.name for r in RESOURCES.values() if r.tags], value)
    if kind == "uuidOf":
        return _uuid_suggestions(values, given[0], value) if given[0] in RESOURCES else []
    if kind == "tagPatternsOf":
        return _tag_patterns(given[0], value) if given[0] else []
    options = CONFIG_OPTIONS
    if kind == "configCategory":
        return _choices(sorted({o.category for o in options}), value)
    if kind == "configName":
        return _choices([o.name for o in options if given[0] in (None, o.category)], value)
    if kind == "configValue":
        for o in options:
            if (o.category, o.name) == tuple(given):
                return _choices(o.choices, value)
    return []


def _condition_values(api, key, op, value, values):
    resource = RESOURCES[api.resource]
    if key in TAG_KEYS:
        return []
    target, field = _resource_of_field(resource, key)
    if target is None or field not in target.fields:
        return []
    last = value.rpartition(",")[2] if op in ("?=", "!?=") else value
    if field == "uuid":
        return _uuid_suggestions(values, target.name, last)
    for rel in target.relations.values():
        if rel.local == field and not rel.many:
            return _uuid_suggestions(values, rel.target, last)
    if target.fields[field].type == "bool":
        return _choices(("true", "false"), last)
    return _choices(target.fields[field].choices, last)


def _choices(choices, value):
    return [Suggestion(c, len(value)) for c in _rank(list(choices), value)]


def _list_items(items, value):
    done, _, last = value.rpartition(",")
    taken = set(done.split(",")) if done else set()
    return [Suggestion(i, len(last)) for i in _rank([i for i in items if i not in taken], last)]


def _uuid_suggestions(values, resource, prefix):
    rows = values.uuids(resource, prefix) if resource in RESOURCES else []
    return [Suggestion(uuid, len(prefix), display=f"{uuid} ({label})" if label else uuid,
                       meta=label or "")
            for uuid, label in rows]


def _tag_patterns(resource, value):
    last = value.rpartition(",")[2]
    formats = [p.format for p in TAG_PATTERNS if p.resource == resource and not p.inherent]
    out = []
    for fmt in formats:
        head = fmt.split("{", 1)[0]
        if head.lower().startswith(last.lower()) or last.lower().startswith(head.lower()):
            if len(last) < len(head):
                out.append(Suggestion(head, len(last), display=fmt))
    return out
