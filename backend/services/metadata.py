"""What the Flat userdata/metadata server tells a VM (SPEC §9 "Userdata").

Pure look-ups on the store, no HTTP: ``backend/agent/metadata_server.py``
calls these for every request, so a tag created, updated or deleted shows on
the very next request.

``store`` is anything with ``rows(sql, args)`` — the backend's ``Store`` or the
metadata server's read-only connection. Nothing here writes, and nothing here
imports the catalogue (the server process starts fast and small).

The ``\\n`` rule
-----------------
Tags keep a real newline as the two characters backslash + ``n``
(``services.tags.normalize``), and the seed's way to pass a YAML on one line
is ``sed 's/\\n/\\\\n/g'``: neither escapes a backslash. So the store can not
tell a newline from a literal backslash-n of the original, and the decoding is
simply: **every backslash followed by ``n`` becomes a newline; nothing else
changes** (no other escape exists, a lone backslash stays). A YAML with only
real newlines (and CRLF turned into LF) comes back byte for byte, including
lines that end in a backslash (shell continuations: ``\\`` + newline is stored
``\\\\n`` and decoded back to ``\\`` + newline). A literal ``\\n`` of the
original, e.g. in a double-quoted YAML string ``"a\\nb"`` or ``printf 'a\\n'``,
reaches the guest as a newline: write ``"a\\x0ab"`` (YAML) or ``\\012``
(printf) instead, or use a block scalar. The same rule applies to
``sshkey::`` (several keys in one tag, one a line); ``rootPassword::`` and
``hostname::`` are served as stored.
"""

import yaml

VM_TYPE = "VmInstanceVO"
USERDATA, SSHKEY, ROOT_PASSWORD, HOSTNAME = "userdata::", "sshkey::", "rootPassword::", "hostname::"


def decode(text):
    """A stored tag value back to what the user wrote (see the module doc)."""
    return text.replace("\\n", "\n")


def _vm_by_nic(store, host_uuid, l3_uuid, ip):
    return store.rows(
        'SELECT v.uuid AS uuid, v.zoneUuid AS zoneUuid, v.instanceOfferingUuid AS offering, '
        'v.state AS state, n.ip AS ip '
        'FROM VmNicVO n JOIN VmInstanceVO v ON v.uuid = n.vmInstanceUuid '
        'WHERE n.l3NetworkUuid = ? AND n.ip = ? AND v.hostUuid = ? '
        "AND v.state != 'Destroyed' ORDER BY v.createDate, v.uuid",
        (l3_uuid, ip, host_uuid))


def _name(store, table, uuid):
    if not uuid:
        return None
    rows = store.rows(f'SELECT name FROM "{table}" WHERE uuid = ?', (uuid,))
    return rows[0][0] if rows else None


def _tags(store, vm_uuid):
    """The VM's system tags, oldest change first (so the last one wins)."""
    rows = store.rows("SELECT tag FROM SystemTagVO WHERE resourceUuid = ? AND resourceType = ? "
                      "ORDER BY lastOpDate, createDate, rowid", (vm_uuid, VM_TYPE))
    return [row[0] for row in rows]


def _values(tags, prefix):
    return [t[len(prefix):] for t in tags if t.startswith(prefix) and len(t) > len(prefix)]


def lookup(store, host_uuid, l3_uuid, ip):
    """The metadata of the VM whose NIC on ``l3_uuid`` has ``ip`` and which runs
    on ``host_uuid`` (not Destroyed); None when there is no such VM."""
    if not ip:
        return None
    found = _vm_by_nic(store, host_uuid, l3_uuid, ip)
    if not found:
        return None
    vm = found[0]
    tags = _tags(store, vm["uuid"])
    hostnames = _values(tags, HOSTNAME)
    userdata = _values(tags, USERDATA)
    passwords = _values(tags, ROOT_PASSWORD)
    keys = []
    for value in _values(tags, SSHKEY):
        keys += [k.strip() for k in decode(value).splitlines() if k.strip()]
    return {
        "instance_id": vm["uuid"],
        "vm_id": vm["uuid"],
        "ip": vm["ip"],
        "local_hostname": hostnames[-1] if hostnames else ip.replace(".", "-"),
        "service_offering": _name(store, "InstanceOfferingVO", vm["offering"]),
        "availability_zone": _name(store, "ZoneVO", vm["zoneUuid"]),
        "public_keys": keys,
        "user_data": decode(userdata[-1]).encode("utf-8") if userdata else None,
        "root_password": passwords[-1] if passwords else None,
    }


def user_data_or_generated(meta):
    """The user's userdata; else, when the VM has ssh keys or a root password,
    a generated ``#cloud-config``; else None."""
    if meta is None:
        return None
    if meta.get("user_data") is not None:
        return meta["user_data"]
    keys, password = meta.get("public_keys") or [], meta.get("root_password")
    if not keys and password is None:
        return None
    config = {}
    if keys:
        # ZStack puts sshkey:: keys on root: keep root's login open for them.
        config["disable_root"] = False
        config["ssh_authorized_keys"] = list(keys)
    if password is not None:
        config["chpasswd"] = {"expire": False, "list": f"root:{password}"}
        config["ssh_pwauth"] = True
    body = yaml.safe_dump(config, default_flow_style=False, sort_keys=False, width=1 << 16,
                          allow_unicode=True)
    return ("#cloud-config\n" + body).encode("utf-8")
