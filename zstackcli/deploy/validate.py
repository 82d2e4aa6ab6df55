"""The whole file against the catalogue, before anything is asked of the cloud.

``validate(data, source, base_dir, home)`` returns (entries, problems): the
entries in creation order, and one line per problem, each naming the YAML
path of what is wrong (``env.yaml: zones[0].clusters[1].hosts[0]: unknown key
'managmentIp' (did you mean managementIp?)``).
"""

import ipaddress
import os
import re
import shutil

from ..binder import suggest
from ..values import ValueSyntaxError, expand_tag_file
from . import checks, schema
from .checks import Invalid
from .text import label, say, shown


_TAG_FILE = re.compile(r"[A-Za-z_][\w.-]*::@(?!@)([\s\S]+)\Z", re.ASCII)


class Entry:
    """One resource the file describes, and (later) what the cloud has of it."""

    def __init__(self, kind, path, parent, api):
        self.kind = kind
        self.path = path
        self.parent = parent
        self.api = api
        self.name = None
        self.params = {}      # API parameter -> value to send (typed)
        self.given = {}       # API parameter -> the YAML key that gave it
        self.refs = {}        # API parameter -> (kind key, name or [names], YAML key)
        self.tags = []        # system tags to create it with
        self.tag_refs = []    # (tag name, kind key, resource name, value, path): staticIp
        self.attach = []      # (schema.Attach, [names], path)
        self.extras = {}      # deploy-only keys: dns, networkServices, create
        # filled by the plan
        self.state = None     # "create" | "exists" | "update"
        self.uuid = None
        self.inventory = None
        self.changes = {}

    def __repr__(self):
        return f"<{self.kind.id} {self.name} at {self.path}>"


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


class Validator:
    def __init__(self, source, base_dir, home):
        self.source = source
        self.base_dir = base_dir
        self.home = home
        self.problems = []
        self.entries = []

    def problem(self, path, message):
        self.problems.append(f"{self.source}: {path}: {message}" if path
                             else f"{self.source}: {message}")

    def unknown(self, path, key, valid):
        message = say("unknown_key", key=key)
        hints = suggest(str(key), valid)
        message += (say("did_you_mean", hint=" or ".join(hints)) if hints
                    else say("valid_keys", keys=", ".join(valid)))
        self.problem(path, message)

    # -- the shape --------------------------------------------------------------------
    def document(self, data):
        if not isinstance(data, dict):
            self.problem("", say("not_mapping", got=shown(data)))
            return
        for key in data:
            if key not in schema.TOP_LEVEL:
                self.unknown("", key, schema.TOP_LEVEL)
        for key in schema.TOP_LEVEL:
            self.entries_of(schema.KINDS[key], data.get(key), key, None)

    def entries_of(self, kind, value, path, parent):
        if value is None:
            return
        if not isinstance(value, list):
            self.problem(path, say("not_list", got=shown(value)))
            return
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.problem(where, say("not_mapping", got=shown(item)))
                continue
            self.entry(kind, item, where, parent)

    def entry(self, kind, raw, path, parent):
        api, choices = schema.choose_api(kind, raw)
        if api is None:
            self.problem(_join(path, "type"), say("bad_type", value=raw.get("type"),
                                                  choices=choices))
            return
        entry = Entry(kind, path, parent, api)
        keys = schema.keys_for(kind, api)
        everything = schema.all_keys(kind)
        for key, value in raw.items():
            where = _join(path, key)
            if key not in keys:
                if key in everything:
                    self.problem(path, say("other_type", key=key,
                                           type=schema.variant_of(kind, api) or api))
                else:
                    self.unknown(path, key, list(keys))
                continue
            try:
                self.value(entry, keys[key], value, where)
            except Invalid as e:
                self.problem(where, str(e))
        self.required(entry, keys, raw)
        self.entries.append(entry)
        for child in kind.children:
            self.entries_of(schema.KINDS[child], raw.get(child), _join(path, child), entry)

    def value(self, entry, key, value, where):
        kind = entry.kind
        if key.param is not None and key.ref:
            single = not key.param.is_list
            names = checks.name_list(value, single=single)
            entry.refs[key.param.name] = (key.ref, names, key.name)
        elif key.param is not None:
            typed = checks.check(key.param, value)
            if key.param.name == "url":
                if "\0" in typed:
                    raise Invalid(say("nul_byte"))
                typed = checks.expand_url(typed, self.home, self.base_dir, kind.local_url)
            elif key.param.name == "systemTags":
                typed = [self.tag(t, kind.resource) for t in typed]
            entry.params[key.param.name] = typed
            entry.given[key.param.name] = key.name
        elif key.tag is not None and key.ref:
            if not isinstance(value, dict):
                raise Invalid(say("want_map", got=shown(value)))
            prefix = key.tag.format.split("::")[0]
            for name, ip in value.items():
                entry.tag_refs.append((prefix, key.ref, checks.scalar_text(name),
                                       checks.scalar_text(ip), _join(where, name)))
        elif key.tag is not None:
            text = ",".join(map(checks.scalar_text, value)) if isinstance(value, list) \
                else checks.scalar_text(value)
            prefix = key.tag.format.split("::")[0]
            entry.tags.append(self.tag(f"{prefix}::{text}", kind.resource))
        elif key.name in kind.children:
            pass                                  # walked after the entry itself
        elif key.ref:                             # an attachment
            attach = next(a for a in kind.attach if a.key == key.name)
            names = checks.name_list(value)
            entry.attach.append((attach, names, where))
        elif key.name == "dns":
            listed = isinstance(value, list)
            items = value if listed else [value]
            found = [self.dns(item, f"{where}[{i}]" if listed else where)
                     for i, item in enumerate(items)]
            entry.extras["dns"] = list(dict.fromkeys(d for d in found if d is not None))
        elif key.name == "networkServices":
            entry.extras["networkServices"] = self.services(value)
        elif key.name == "create":
            if not isinstance(value, dict):
                raise Invalid(say("want_map", got=shown(value)))
            for k in value:
                if k != "size":
                    self.unknown(where, k, ["size"])
            if "size" not in value:
                raise Invalid(say("missing_key", key="size"))
            entry.extras["create"] = checks.size(value["size"])

    def tag(self, tag, resource):
        """A system tag: ``name::@file`` reads the file (as on the command line)."""
        self.confined(tag)
        try:
            tag = expand_tag_file(tag, self.base_dir)
        except ValueSyntaxError as e:
            raise Invalid(str(e)) from None
        checks.system_tag(tag, resource)
        return tag

    def dns(self, item, where):
        """One DNS address as AddDnsToL3Network takes it, and a plain IPv4 address
        (checked now: the L3 network and its ranges would exist before it failed)."""
        from backend.catalogue import APIS

        try:
            text = checks.check(APIS["AddDnsToL3Network"].params["dns"], item)
        except Invalid as e:
            self.problem(where, str(e))
            return None
        try:
            canonical = str(ipaddress.IPv4Address(text)) == text
        except ValueError:
            canonical = False
        if not canonical:
            self.problem(where, say("want_ipv4", got=shown(item)))
            return None
        return text

    def confined(self, tag):
        """``name::@file`` may read only a file inside the deployment file's directory
        (the current one for stdin): a file could otherwise send any file of this
        machine (``@/etc/shadow``) to the cloud."""
        m = _TAG_FILE.match(tag)
        if not m:
            return
        path = m.group(1)
        base = os.path.realpath(self.base_dir)
        full = os.path.realpath(os.path.join(base, os.path.expanduser(path)))
        if os.path.commonpath([full, base]) != base:
            raise Invalid(say("file_outside", path=path, dir=self.base_dir))

    @staticmethod
    def services(value):
        if not isinstance(value, dict):
            raise Invalid(say("want_map", got=shown(value)))
        out = {}
        for provider, types in value.items():
            items = types if isinstance(types, list) else [types]
            out[checks.scalar_text(provider)] = list(dict.fromkeys(
                checks.scalar_text(t) for t in items))
        return out

    def required(self, entry, keys, raw):
        from backend.catalogue import APIS

        implied = entry.kind.parent[1] if entry.kind.parent else None
        for param in APIS[entry.api].params.values():
            if not param.required or param.name in (implied,) or param.name in entry.params \
                    or param.name in entry.refs:
                continue
            if len(param.choices) == 1:            # hypervisorType: KVM, the only one
                entry.params[param.name] = param.choices[0]
                continue
            key = next((k.name for k in keys.values() if k.param is param), param.name)
            if key not in raw:                     # else its value was already refused
                self.problem(entry.path, say("missing_key", key=key))
        entry.name = entry.params.get("name")
        size = entry.extras.get("create")
        if size is not None and "url" in entry.params:
            self.blank_image(entry)

    def blank_image(self, entry):
        url, fmt = entry.params["url"], entry.params.get("format")
        path = checks.local_path(url)
        where = _join(entry.path, "create")
        if path is None:
            self.problem(where, say("create_needs_file", url=url))
        elif os.path.lexists(path) and not os.path.exists(path):
            self.problem(where, say("create_symlink", path=path))
        elif fmt not in ("qcow2", "raw"):
            self.problem(where, say("create_format", fmt=fmt))
        elif fmt == "qcow2" and not os.path.exists(path) and not shutil.which("qemu-img"):
            self.problem(where, say("no_qemu_img", path=path))

    # -- names --------------------------------------------------------------------------
    def names(self):
        seen = {}
        for entry in self.entries:
            if not isinstance(entry.name, str):
                continue
            scope = id(entry.parent) if entry.kind.unique_in_parent else None
            key = (entry.kind.key, scope, entry.name)
            if key in seen:
                self.problem(entry.path, say("dup_name", label=label(entry.kind),
                                             name=entry.name, other=seen[key].path))
            else:
                seen[key] = entry


def validate(data, source, base_dir, home):
    v = Validator(source, base_dir, home)
    v.document(data)
    v.names()
    order = {k: i for i, k in enumerate(schema.ORDER)}
    entries = sorted(v.entries, key=lambda e: order[e.kind.key])    # stable: file order kept
    return entries, v.problems
