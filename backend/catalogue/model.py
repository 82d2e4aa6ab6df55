"""The vocabulary of the API catalogue: resources, their fields and relations,
APIs and their parameters.

Declarations are plain data so that the catalogue imports in a few
milliseconds: validation, help, completion, the man page and the shell
completion scripts all read these objects, and a one-shot command must not
pay for more than it uses. (Plain classes, not dataclasses: importing
``dataclasses`` pulls in ``inspect`` and costs more than the whole catalogue.)
"""

PARAM_TYPES = ("str", "int", "float", "bool", "uuid", "list", "map", "size")
FIELD_TYPES = ("str", "int", "float", "bool", "date")


class Text:
    """A user-visible sentence in both languages (SPEC §13)."""

    __slots__ = ("en", "zh")

    def __init__(self, en, zh):
        self.en = en
        self.zh = zh

    def get(self, lang):
        return self.zh if lang == "zh" and self.zh else self.en


class Field:
    """One column of a resource's inventory (and of its table)."""

    __slots__ = ("name", "type", "choices")

    def __init__(self, name, type="str", choices=()):
        assert type in FIELD_TYPES, type
        self.name = name
        self.type = type
        self.choices = tuple(choices)     # the values it takes: completion offers them


class Relation:
    """A way from one resource to rows of another, for nested query fields
    (``cluster.name=x``) and, when ``expand`` is set, for inventories that
    embed their children (a VM's ``vmNics``). With ``pluck`` the inventory
    embeds one column of the children (``attachedClusterUuids``), and a
    query may test it directly (``attachedClusterUuids=<uuid>``)."""

    __slots__ = ("name", "target", "local", "remote", "many", "expand", "pluck", "order")

    def __init__(self, name, target, local, remote, many=True, expand=False, pluck=None,
                 order=None):
        self.name = name
        self.target = target
        self.local = local
        self.remote = remote
        self.many = many
        self.expand = expand or pluck is not None
        self.pluck = pluck
        self.order = order        # column ordering embedded children (e.g. deviceId)


class Resource:
    """A resource type, named as ZStack names its VO (``ZoneVO``); the table
    that stores it has the same name and one column per field."""

    __slots__ = ("name", "fields", "relations", "label", "columns", "key", "tags", "expands")

    def __init__(self, name, fields, relations=(), label="name", columns=(), key="uuid", tags=True):
        self.name = name
        self.fields = {f.name: f for f in fields}
        self.relations = {r.name: r for r in relations}
        self.label = label          # shown beside the uuid in completion
        self.columns = tuple(columns) or tuple(self.fields)  # table output, useful first
        self.key = key
        self.tags = tags            # may carry system/user tags
        self.expands = {r.name: r for r in relations if r.expand}

    def inventory_keys(self):
        return list(self.fields) + list(self.expands)


class TagPattern:
    """A registered system tag shape such as ``staticIp::{l3Uuid}::{ip}``.

    ``check`` optionally validates the captured tokens and returns an error
    text (or None); ``inherent`` patterns are written by the system only.
    """

    __slots__ = ("format", "resource", "check", "inherent", "secret")

    def __init__(self, format, resource, check=None, inherent=False, secret=False):
        self.format = format
        self.resource = resource
        self.check = check
        self.inherent = inherent
        self.secret = secret      # its value is masked in history (rootPassword::)


class Param:
    __slots__ = ("name", "type", "required", "choices", "default", "resource",
                 "items", "split", "max_length", "min_length", "secret", "must_exist", "values", "doc",
                 "least", "most")

    def __init__(self, name, type="str", required=False, choices=(), default=None,
                 resource=None, items="str", split="comma", max_length=None,
                 min_length=None, secret=False, must_exist=True, values=None, doc=None,
                 least=None, most=None):
        assert type in PARAM_TYPES, type
        assert values is None or values[0] in VALUE_SOURCES, values
        self.name = name
        self.type = type
        self.required = required
        self.choices = tuple(choices)
        self.default = default
        self.resource = resource      # uuid (or list of uuids) must name this type
        self.items = items            # list item type: str | uuid
        # comma | tags: how a list splits (SPEC §3); on a str, 'tags' marks one tag,
        # whose 'name::@file' form reads the file
        self.split = split
        self.max_length = max_length
        self.min_length = min_length
        self.secret = secret          # masked in history and logs
        self.must_exist = must_exist  # False for Delete*: a gone uuid succeeds
        # Where completion finds values that neither choices nor a resource type give:
        # (source, *names of the other params on the line it depends on); see VALUE_SOURCES.
        self.values = values
        self.doc = doc
        # Bounds of an int or size value (both ends included): the API and a deploy
        # file's up-front check refuse alike what is outside.
        self.least = least
        self.most = most

    def within(self, number):
        """Whether ``number`` is inside the declared bounds (least, most)."""
        return (self.least is None or number >= self.least) and \
            (self.most is None or number <= self.most)

    def bound_text(self, number):
        """A bound as people write it: 16M for a size of exact units, else the number."""
        if self.type == "size":
            for unit, size in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
                if number and number % size == 0:
                    return str(number // size) + unit      # a value, not a sentence
        return str(number)

    @property
    def is_list(self):
        return self.type == "list"

    def names_resource(self):
        """The resource type whose uuids this parameter takes, if any."""
        if self.type == "uuid" or (self.type == "list" and self.items == "uuid"):
            return self.resource
        return None


# The value sources a Param may name (completion implements each one).
VALUE_SOURCES = (
    "fields",           # a comma list of the queried resource's fields
    "field",            # one field of the queried resource
    "resourceTypes",    # resource types that carry tags
    "uuidOf",           # uuids of the resource type given by another param
    "tagPatternsOf",    # system tag patterns of the resource type given by another param
    "configCategory",   # global config categories
    "configName",       # names within the category given by another param
    "configValue",      # valid values of the config given by two other params
)

# Reserved keys of every Query* API (SPEC §3.1).
QUERY_PARAMS = (
    Param("fields", "list", values=("fields",), doc=Text("only these keys in each inventory", "每个清单只返回这些字段")),
    Param("limit", "int", default=1000, doc=Text("at most this many inventories", "最多返回的条数")),
    Param("start", "int", default=0, doc=Text("skip this many inventories", "跳过的条数")),
    Param("sortBy", "str", values=("field",), doc=Text("field to sort by", "排序字段")),
    Param("sortDirection", "str", choices=("asc", "desc"), default="asc",
          doc=Text("sort direction", "排序方向")),
    Param("count", "bool", default=False, doc=Text("reply with the total only", "只返回总数")),
    Param("replyWithCount", "bool", default=False,
          doc=Text("reply with inventories and the total", "返回清单和总数")),
)


class Api:
    """One API: its parameters, its reply shape and the handler that does it.

    ``handler`` is ``"module:function"`` under ``backend.services`` and is
    imported only when the API is called.
    """

    __slots__ = ("name", "group", "handler", "params", "doc", "reply", "resource",
                 "query", "example", "login", "vm_states")

    def __init__(self, name, group, handler, params=(), doc=None, reply="inventory",
                 resource=None, query=False, example="", login=True):
        assert reply in ("inventory", "inventories", "empty", "raw"), reply
        self.name = name
        self.group = group
        self.handler = handler
        self.params = {p.name: p for p in params}
        self.doc = doc
        self.reply = reply
        self.resource = resource
        self.query = query
        self.example = example
        self.login = login
        self.vm_states = ()      # the VM states the API may act in (VM APIs; see vm.py)

    def required(self):
        return [p for p in self.params.values() if p.required]


def query_api(name, resource, group, doc, example=""):
    """A Query* API: conditions on ``resource`` plus the reserved keys."""
    return Api(name, group, "query:run", QUERY_PARAMS, doc=doc, reply="inventories",
               resource=resource, query=True, example=example)
