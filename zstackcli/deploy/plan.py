"""Compare the file with the cloud, asking only Query* APIs: what to create, what
exists, what to update, and what differs in a way that can not be updated.

A resource is matched by name within the entry it is nested in (a cluster by
name in its zone). A name the file refers to but does not describe is looked
up in the cloud. Nothing is changed here: when any problem is found, the
deployer creates nothing.
"""

from backend.catalogue import APIS, RESOURCES

from ..binder import suggest
from . import schema
from .checks import same
from .text import label, say
from .validate import Entry


class ApiFailure(Exception):
    def __init__(self, api, error, path):
        super().__init__(api)
        self.api = api
        self.error = error
        self.path = path


class Step:
    """One thing to make sure of, in order: an entry, an attachment, a DNS, services."""

    def __init__(self, what, entry, path, state, **info):
        self.what = what          # "entry" | "attach" | "dns" | "services"
        self.entry = entry
        self.path = path
        self.state = state        # "create" | "exists" | "update"
        self.info = info


def eq(name, value):
    return {"name": name, "op": "=", "value": value}


def param_naming(api_name, resource):
    """The parameter of an API that takes a uuid of ``resource``."""
    return next(p.name for p in APIS[api_name].params.values() if p.resource == resource)


class Planner:
    def __init__(self, client, source):
        self.client = client
        self.source = source
        self.problems = []
        self.named = {}           # (kind key, name) -> Entry, for everything the file names
        self.providers = None

    def problem(self, path, message):
        self.problems.append(f"{self.source}: {path}: {message}")

    def query(self, api, conditions, path):
        reply = self.client.call(api, {"conditions": conditions})
        if not reply.get("success"):
            raise ApiFailure(api, reply.get("error") or {}, path)
        return reply["inventories"]

    # -- references ---------------------------------------------------------------------
    def target(self, kind_key, name, path):
        """The entry a name refers to: the file's, else the cloud's (an Entry in state
        "exists" with no path), else None and a problem."""
        found = self.named.get((kind_key, name))
        if found is not None:
            return found
        kind = schema.KINDS[kind_key]
        found = self.query(kind.query_api(), [eq("name", name), *kind.match], path)
        if len(found) != 1:
            if found:
                self.problem(path, say("ambiguous", count=len(found), label=label(kind),
                                       name=name))
            else:
                message = say("ref_missing", label=label(kind), name=name)
                hints = suggest(name, [n for k, n in self.named if k == kind_key])
                if hints:
                    message += say("did_you_mean", hint=" or ".join(hints))
                self.problem(path, message)
            self.named[(kind_key, name)] = None
            return None
        entry = Entry(kind, None, None, None)
        entry.name, entry.state = name, "exists"
        entry.uuid, entry.inventory = found[0]["uuid"], found[0]
        self.named[(kind_key, name)] = entry
        return entry

    def resolve(self, entry):
        entry.targets = {}
        for param, (kind_key, names, key) in entry.refs.items():
            where = f"{entry.path}.{key}"
            if isinstance(names, list):
                entry.targets[param] = [self.target(kind_key, n, f"{where}[{i}]")
                                        for i, n in enumerate(names)]
            else:
                entry.targets[param] = self.target(kind_key, names, where)
        entry.tag_targets = [self.target(kind_key, name, path)
                             for _, kind_key, name, _, path in entry.tag_refs]

    # -- matching -----------------------------------------------------------------------
    def match(self, entry):
        parent = entry.parent
        if parent is not None and parent.state in ("create", "conflict"):
            entry.state = parent.state
            return
        kind = entry.kind
        conditions = [eq("name", entry.name), *kind.match]
        if parent is not None:
            conditions.append(eq(kind.parent[1], parent.uuid))
        found = self.query(kind.query_api(), conditions, entry.path)
        if not found:
            entry.state = "create"
        elif len(found) > 1:
            entry.state = "conflict"
            self.problem(entry.path, say("ambiguous", count=len(found), label=label(kind),
                                         name=entry.name))
        else:
            entry.state = "exists"
            entry.uuid, entry.inventory = found[0]["uuid"], found[0]
            self.compare(entry)

    def compare(self, entry):
        kind, have = entry.kind, entry.inventory
        fields = RESOURCES[kind.resource].fields
        update = kind.update_api()
        updatable = set(update.params) - {"uuid", "name"} if update else set()
        for param, key in entry.given.items():
            field = "uuid" if param == "resourceUuid" else param
            if param == "name" or param in kind.nocompare or field not in fields:
                continue
            want = entry.params[param]
            if same(field, have.get(field), want):
                continue
            if param in updatable:
                entry.changes[param] = want
            else:
                self.differs(entry, field, have.get(field), f"{key}: {want}")
        for param, target in entry.targets.items():
            if param in kind.nocompare or param not in fields or isinstance(target, list) \
                    or target is None:
                continue
            key = entry.refs[param][2]
            current = have.get(param)
            if param == "hostUuid" and not current:    # a stopped VM: where it last ran
                current = have.get("lastHostUuid")
            if target.state == "create":
                self.differs(entry, param, current,
                             f"{key}: " + say("to_be_created", name=target.name))
            elif target.uuid != current:
                self.differs(entry, param, current, f"{key}: {target.name} "
                                                    f"({target.uuid})")
        self.compare_lists(entry)
        self.compare_tags(entry)
        variant = schema.variant_of(kind, entry.api)
        if variant and have.get("type") != variant:
            self.differs(entry, "type", have.get("type"), f"type: {variant}")
        if entry.changes:
            entry.state = "update"

    def compare_lists(self, entry):
        """References to several resources (a VM's l3Networks, an image's backupStorage)
        against what the inventory holds."""
        have = entry.inventory
        for param, targets in entry.targets.items():
            read = LIST_FIELDS.get(param)
            if not isinstance(targets, list) or read is None or read[0] not in have \
                    or None in targets:
                continue
            key = entry.refs[param][2]
            current = read[1](have)
            new = [t.name for t in targets if t.state == "create"]
            if new:
                self.differs(entry, param, current, f"{key}: " + say(
                    "to_be_created", name=", ".join(new)))
            elif sorted(t.uuid for t in targets) != current:
                names = ", ".join(t.name for t in targets)
                self.differs(entry, param, current, f"{key}: [{names}]")

    def compare_tags(self, entry):
        """Tag keys (hostname, userdata, staticIp...) against the resource's system tags."""
        if not entry.tags and not entry.tag_refs:
            return
        rows = self.query("QuerySystemTag", [eq("resourceUuid", entry.uuid)], entry.path)
        stored = [row["tag"] for row in rows]

        def values(prefix):
            found = [t[len(prefix):] for t in stored if t.startswith(prefix)]
            return ", ".join(found) if found else None

        for tag in entry.tags:
            if _normal(tag) in stored:
                continue
            prefix, value = tag.split("::", 1)
            self.differs(entry, prefix, values(prefix + "::"), f"{prefix}: {value}")
        for (prefix, _, name, value, _), target in zip(entry.tag_refs, entry.tag_targets):
            if target is None:
                continue
            if target.state == "create":
                self.differs(entry, prefix, None, f"{prefix}: {{{name}: {value}}} ("
                             + say("to_be_created", name=name) + ")")
            elif _normal(f"{prefix}::{target.uuid}::{value}") not in stored:
                self.differs(entry, f"{prefix}[{name}]",
                             values(f"{prefix}::{target.uuid}::"),
                             f"{prefix}: {{{name}: {value}}}")

    def differs(self, entry, field, have, want):
        self.problem(entry.path, say("differs", label=label(entry.kind), name=entry.name,
                                     field=field, have="null" if have is None else have,
                                     want=want))

    # -- attachments, DNS, services ---------------------------------------------------------
    def attachments(self, owner, attach, names, where):
        owner_param = param_naming(attach.api, owner.kind.resource)
        target_param = param_naming(attach.api, schema.KINDS[attach.target].resource)
        relation = next(r for r in RESOURCES[schema.KINDS[attach.target].resource]
                        .relations.values() if r.pluck == owner_param)
        for i, name in enumerate(names):
            target = self.target(attach.target, name, f"{where}[{i}]")
            if target is None or "conflict" in (owner.state, target.state):
                continue
            state = "create"
            if owner.state != "create" and target.state != "create" and \
                    owner.uuid in (target.inventory.get(relation.name) or ()):
                state = "exists"
            yield Step("attach", owner, f"{where}[{i}]", state, target=target,
                       api=attach.api, params=(owner_param, target_param))

    def dns(self, l3):
        have = (l3.inventory or {}).get("dns") or ()
        for i, address in enumerate(l3.extras.get("dns", ())):
            state = "exists" if l3.state != "create" and address in have else "create"
            yield Step("dns", l3, f"{l3.path}.dns[{i}]", state, dns=address)

    def services(self, l3):
        wanted = l3.extras.get("networkServices")
        if not wanted or l3.state == "conflict":
            return
        where = f"{l3.path}.networkServices"
        if self.providers is None:
            self.providers = self.query("QueryNetworkServiceProvider", [], where)
        attached = {ref["networkServiceType"]: ref["networkServiceProviderUuid"]
                    for ref in (l3.inventory or {}).get("networkServices") or ()}
        missing, shown = {}, []
        for name, types in wanted.items():
            provider = next((p for p in self.providers if name in (p["uuid"], p["name"])
                             or name.lower() == str(p["type"]).lower()), None)
            if provider is None:
                self.problem(f"{where}.{name}", say(
                    "no_provider", name=name, choices=", ".join(p["type"] for p in self.providers)))
                continue
            offered = provider.get("networkServiceTypes") or []
            for service in types:
                if service not in offered:
                    self.problem(f"{where}.{name}", say(
                        "provider_lacks", provider=provider["type"], service=service,
                        choices=", ".join(offered)))
                elif attached.get(service) not in (None, provider["uuid"]):
                    other = next((p["type"] for p in self.providers
                                  if p["uuid"] == attached[service]), attached[service])
                    self.problem(where, say("service_taken", name=l3.name, service=service,
                                            other=other))
                elif service not in attached or l3.state == "create":
                    missing.setdefault(provider["uuid"], []).append(service)
            shown.append(f"{provider['type']}: {', '.join(types)}")
        yield Step("services", l3, where, "create" if missing else "exists",
                   services=missing, shown="; ".join(shown))


def _normal(tag):
    """A tag as the cloud stores it (a newline is kept as the two characters \\n)."""
    return tag.replace("\r\n", "\n").replace("\n", "\\n")


# list parameter -> (inventory field, its current uuids, sorted)
LIST_FIELDS = {
    "l3NetworkUuids": ("vmNics", lambda inv: sorted(
        {n["l3NetworkUuid"] for n in inv.get("vmNics") or ()})),
    "dataDiskOfferingUuids": ("allVolumes", lambda inv: sorted(
        v.get("diskOfferingUuid") or "" for v in inv.get("allVolumes") or ()
        if v.get("type") == "Data")),
    "backupStorageUuids": ("backupStorageRefs", lambda inv: sorted(
        {r["backupStorageUuid"] for r in inv.get("backupStorageRefs") or ()})),
}


def make_plan(entries, client, source):
    """(steps in order, problems). Raises ApiFailure when a query fails."""
    planner = Planner(client, source)
    for entry in entries:
        if not entry.kind.unique_in_parent and isinstance(entry.name, str):
            planner.named.setdefault((entry.kind.key, entry.name), entry)
    position = {k: i for i, k in enumerate(schema.ORDER)}
    steps = []
    for kind_key in schema.ORDER:
        for entry in (e for e in entries if e.kind.key == kind_key):
            planner.resolve(entry)
            planner.match(entry)
            steps.append(Step("entry", entry, entry.path, entry.state))
        # attachments come once both of their ends exist
        for owner in entries:
            for attach, names, where in owner.attach:
                later = max(position[owner.kind.key], position[attach.target])
                if schema.ORDER[later] == kind_key:
                    steps.extend(planner.attachments(owner, attach, names, where))
        if kind_key == "ipRanges":       # DNS and services once the ranges are there
            for l3 in (e for e in entries if e.kind.key == "l3Networks"):
                steps.extend(planner.dns(l3))
                steps.extend(planner.services(l3))
    return steps, planner.problems
