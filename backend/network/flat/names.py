"""Names of what the Flat DHCP runtime creates. Everything starts with ``zs``,
is derived from host and L3 uuids, and is removed by name.

Interface names are limited to 15 characters, so veths take a hash of
host+L3; namespace names have no such limit but stay short and readable.
"""

import hashlib
import re

from ...i18n import msg
from .errors import FlatNetworkError

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MIN_UUID = 8


def _uuid(value, what):
    if not isinstance(value, str) or len(value) < MIN_UUID or not _SAFE.match(value):
        raise FlatNetworkError(msg("invalid {what} uuid: {value!r}", what=what, value=value))
    return value


def host_namespace(host_uuid):
    """The namespace standing for a simulated host's root network namespace."""
    return "zsh-" + _uuid(host_uuid, "host")[:12]


def dhcp_namespace(host_uuid, l3_uuid):
    """The namespace of the DHCP server of one L3 on one host."""
    return f"zsd-{_uuid(host_uuid, 'host')[:8]}-{_uuid(l3_uuid, 'L3')[:8]}"


def dhcp_namespace_prefix(host_uuid):
    return f"zsd-{_uuid(host_uuid, 'host')[:8]}-"


def veth_names(host_uuid, l3_uuid):
    """(end in the host namespace, end in the DHCP namespace), 14 characters each."""
    digest = hashlib.sha1(f"{_uuid(host_uuid, 'host')}/{_uuid(l3_uuid, 'L3')}".encode())
    tail = digest.hexdigest()[:10]
    return "zsdo" + tail, "zsdi" + tail
