"""The API catalogue: every API and resource type, declared once.

Importing this package loads declarations only (no services, no SQLite, no
libvirt), so the shell can read it for help and completion at no cost.
"""

from . import config, host, identity, netservice, network, offering, storage, tag, vm, zone
from .model import Api, Param, Resource, Text  # noqa: F401  (the vocabulary, for readers)

_AREAS = (zone, host, storage, offering, network, netservice, vm, tag, config, identity)

APIS = {api.name: api for area in _AREAS for api in area.APIS}
RESOURCES = {res.name: res for area in _AREAS for res in area.RESOURCES}
TAG_PATTERNS = tuple(p for area in _AREAS for p in getattr(area, "TAG_PATTERNS", ()))
CONFIG_OPTIONS = config.OPTIONS

# The Query* API of each resource type, derived: used to complete uuids.
QUERY_OF = {api.resource: api.name for api in APIS.values() if api.query}


def groups():
    """API names by group, in declaration order (for help and the man page)."""
    out = {}
    for api in APIS.values():
        out.setdefault(api.group, []).append(api.name)
    return out
