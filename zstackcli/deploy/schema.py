"""What a deployment file may say: its kinds of resources, read from the API catalogue.

A kind is one YAML list (``zones``, ``hosts``, ``vms``...). It names the API
that creates its resources; the keys an entry may have are that API's
parameters, with three rewrites that make the file writable by hand:

- a parameter naming a resource by uuid is written as a *name*: ``imageUuid``
  becomes ``image: tiny`` and ``l3NetworkUuids`` becomes ``l3Networks: [l3]``
  (``...StorageUuids`` stays uncounted: ``backupStorage: [bs1]``);
- the parameter linking an entry to the one it is nested in (a cluster's
  ``zoneUuid``) is implied by the nesting and can not be written;
- a system tag registered for the resource type with one value (``userdata::``,
  ``hostname::``) may be written as a key (``userdata: |``); ``staticIp`` is a
  map from L3 network name to address.

Everything else (types, required, choices, defaults, lengths) comes from the
catalogue's parameter declarations, so a new API parameter is a new key here.
"""

from backend.catalogue import APIS, RESOURCES, TAG_PATTERNS, Text

# Tag placeholders that hold the uuid of a resource of another kind.
PLACEHOLDER_KINDS = {"l3Uuid": "l3Networks"}


class Attach:
    """A list of names on an entry that attaches resources of another kind to it."""

    def __init__(self, key, target, api):
        self.key = key            # YAML key on the entry: clusters' ``primaryStorage``
        self.target = target      # the kind whose names it lists
        self.api = api            # the attaching API


class Kind:
    def __init__(self, key, id, label, api, parent=None, children=(), attach=(),
                 variants=None, aliases=None, nocompare=(), match=(), local_url=False,
                 unique_in_parent=False, extras=()):
        self.key = key                # the YAML list: "clusters"
        self.id = id                  # one of them, in summaries: "cluster"
        self.label = label            # for people, in both languages
        self.api = api                # the creating API, or None when ``variants`` choose
        self.parent = parent          # (kind key, parameter) of the enclosing entry
        self.children = children      # nested kinds
        self.attach = attach
        self.variants = variants      # type -> creating API
        self.aliases = aliases or {}  # short type names
        self.nocompare = set(nocompare)   # placement hints, not properties
        self.match = match            # extra query conditions when matching by name
        self.local_url = local_url    # ``url`` is a path of this machine
        self.unique_in_parent = unique_in_parent   # names need only differ per parent
        self.extras = extras          # deploy-only keys, handled by the deployer

    @property
    def resource(self):
        return APIS[self.api or next(iter(self.variants.values()))].resource

    def apis(self):
        return [self.api] if self.api else list(dict.fromkeys(self.variants.values()))

    def query_api(self):
        from backend.catalogue import QUERY_OF

        return QUERY_OF[self.resource]

    def update_api(self):
        """The catalogue's Update* API of the resource, if there is one."""
        for api in APIS.values():
            if (api.resource == self.resource and api.name.startswith("Update")
                    and "uuid" in api.params):
                return api
        return None


def _t(en, zh):
    return Text(en, zh)


KINDS = {k.key: k for k in (
    Kind("zones", "zone", _t("zone", "区域"), "CreateZone",
         children=("clusters", "primaryStorage", "l2Networks"),
         attach=(Attach("backupStorage", "backupStorage", "AttachBackupStorageToZone"),)),
    Kind("clusters", "cluster", _t("cluster", "集群"), "CreateCluster",
         parent=("zones", "zoneUuid"), children=("hosts",),
         attach=(Attach("primaryStorage", "primaryStorage", "AttachPrimaryStorageToCluster"),
                 Attach("l2Networks", "l2Networks", "AttachL2NetworkToCluster"))),
    Kind("hosts", "host", _t("host", "物理机"), "AddKVMHost", parent=("clusters", "clusterUuid")),
    Kind("primaryStorage", "primaryStorage", _t("primary storage", "主存储"), None,
         parent=("zones", "zoneUuid"), variants={"LocalStorage": "AddLocalPrimaryStorage"}),
    Kind("backupStorage", "backupStorage", _t("backup storage", "镜像服务器"), None,
         variants={"SftpBackupStorage": "AddSftpBackupStorage"},
         aliases={"Sftp": "SftpBackupStorage"}, local_url=True),
    Kind("images", "image", _t("image", "镜像"), "AddImage", local_url=True, extras=("create",)),
    Kind("instanceOfferings", "instanceOffering", _t("instance offering", "计算规格"),
         "CreateInstanceOffering"),
    Kind("diskOfferings", "diskOffering", _t("disk offering", "云盘规格"), "CreateDiskOffering"),
    Kind("l2Networks", "l2Network", _t("L2 network", "二层网络"), None,
         parent=("zones", "zoneUuid"), children=("l3Networks",),
         variants={"L2NoVlanNetwork": "CreateL2NoVlanNetwork",
                   "L2VlanNetwork": "CreateL2VlanNetwork"},
         aliases={"NoVlan": "L2NoVlanNetwork", "Vlan": "L2VlanNetwork"}),
    Kind("l3Networks", "l3Network", _t("L3 network", "三层网络"), "CreateL3Network",
         parent=("l2Networks", "l2NetworkUuid"), children=("ipRanges",),
         extras=("dns", "networkServices")),
    Kind("ipRanges", "ipRange", _t("IP range", "IP段"), None,
         parent=("l3Networks", "l3NetworkUuid"), unique_in_parent=True,
         variants={"range": "AddIpRange", "cidr": "AddIpRangeByNetworkCidr"}),
    Kind("vms", "vm", _t("VM", "云主机"), "CreateVmInstance",
         match=({"name": "state", "op": "!=", "value": "Destroyed"},)),
)}

TOP_LEVEL = ("zones", "backupStorage", "images", "instanceOfferings", "diskOfferings", "vms")

# Creation order: what an entry names or sits in always comes earlier (a unit test
# proves it from the declarations above).
ORDER = ("zones", "clusters", "primaryStorage", "hosts", "backupStorage", "images",
         "instanceOfferings", "diskOfferings", "l2Networks", "l3Networks", "ipRanges", "vms")

KIND_OF_RESOURCE = {KINDS[k].resource: k for k in ORDER}


class Key:
    """One key an entry of a kind may have."""

    def __init__(self, name, param=None, ref=None, tag=None):
        self.name = name
        self.param = param        # the catalogue Param it fills (None: deploy-only key)
        self.ref = ref            # kind key whose names it holds
        self.tag = tag            # the TagPattern it writes


def ref_key(param):
    """``imageUuid`` -> ``image``, ``l3NetworkUuids`` -> ``l3Networks``,
    ``backupStorageUuids`` -> ``backupStorage``."""
    if param.name.endswith("Uuids"):
        stem = param.name[:-5]
        return stem if stem.endswith("Storage") else stem + "s"
    return param.name[:-4]


def keys_for(kind, api_name):
    """YAML key -> Key for an entry of ``kind`` created by ``api_name``."""
    api = APIS[api_name]
    keys = {}
    skip = kind.parent[1] if kind.parent else None
    for param in api.params.values():
        if param.name == skip:
            continue
        target = KIND_OF_RESOURCE.get(param.names_resource())
        if target and param.name.endswith(("Uuid", "Uuids")) and param.name != "resourceUuid":
            keys[ref_key(param)] = Key(ref_key(param), param, ref=target)
        else:
            keys[param.name] = Key(param.name, param)
    for pattern in TAG_PATTERNS:
        if pattern.resource != kind.resource or pattern.inherent:
            continue
        parts = pattern.format.split("::")
        name = parts[0]
        if name in keys or not name.isidentifier():
            continue
        if len(parts) == 2 and parts[1].startswith("{"):
            keys[name] = Key(name, tag=pattern)
        elif (len(parts) == 3 and parts[1][1:-1] in PLACEHOLDER_KINDS
              and parts[2].startswith("{")):
            keys[name] = Key(name, tag=pattern, ref=PLACEHOLDER_KINDS[parts[1][1:-1]])
    for child in kind.children:
        keys[child] = Key(child)
    for attach in kind.attach:
        keys[attach.key] = Key(attach.key, ref=attach.target)
    for extra in kind.extras:
        keys[extra] = Key(extra)
    if kind.variants and kind.key != "ipRanges":
        keys["type"] = Key("type")
    return keys


def all_keys(kind):
    """Every key any variant of the kind accepts (for 'did you mean')."""
    out = {}
    for api_name in kind.apis():
        out.update(keys_for(kind, api_name))
    return out


def choose_api(kind, entry):
    """The creating API of an entry, and an error text if its ``type`` is unknown."""
    if kind.api:
        return kind.api, None
    if kind.key == "ipRanges":
        return kind.variants["cidr" if "networkCidr" in entry else "range"], None
    wanted = entry.get("type")
    if wanted is None:
        if kind.key == "l2Networks" and "vlan" in entry:
            wanted = "L2VlanNetwork"
        else:
            wanted = next(iter(kind.variants))
    names = {n.lower(): n for n in list(kind.variants) + list(kind.aliases)}
    found = names.get(str(wanted).lower())
    if found is None:
        return None, ", ".join(list(kind.variants) + list(kind.aliases))
    found = kind.aliases.get(found, found)
    return kind.variants[found], None


def variant_of(kind, api_name):
    """The inventory ``type`` an API makes (for kinds chosen by ``type``)."""
    if not kind.variants or kind.key == "ipRanges":
        return None
    for variant, name in kind.variants.items():
        if name == api_name:
            return variant
    return None


def compared_fields(kind):
    """Inventory fields of the kind's resource."""
    return RESOURCES[kind.resource].fields
