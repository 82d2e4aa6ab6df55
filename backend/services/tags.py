"""System tag patterns and tag rows, used by the tag APIs and every Create*."""

import re

from .. import catalogue
from ..i18n import msg
from ..errors import argerr
from ..clock import new_uuid, now

_compiled = {}


def normalize(tag):
    """A real newline in a tag is stored as the two characters ``\\n`` (SPEC §3),
    so the pasted, the @file and the seed's escaped userdata all store alike."""
    return tag.replace("\r\n", "\n").replace("\n", "\\n")


def _regex(fmt):
    rx = _compiled.get(fmt)
    if rx is None:
        parts = re.split(r"\{(\w+)\}", fmt)
        pattern = ""
        for i, part in enumerate(parts):
            if i % 2 == 0:
                pattern += re.escape(part)
            else:
                last = i == len(parts) - 2
                pattern += f"(?P<{part}>.+)" if last else f"(?P<{part}>.+?)"
        rx = _compiled[fmt] = re.compile(pattern + r"\Z", re.DOTALL)
    return rx


def match(resource_type, tag):
    """The registered pattern a system tag matches, with its tokens."""
    for pattern in catalogue.TAG_PATTERNS:
        if pattern.resource != resource_type:
            continue
        m = _regex(pattern.format).match(tag)
        if m:
            return pattern, m.groupdict()
    return None, None


def check_system_tag(resource_type, tag, by_user=True):
    pattern, tokens = match(resource_type, tag)
    if pattern is None:
        raise argerr(msg("no system tag matches[{tag}] for resourceType[{resource_type}]",
                         tag=tag, resource_type=resource_type))
    if by_user and pattern.inherent:
        raise argerr(msg("tag[{tag}] is an inherent system tag, only the system can create it",
                         tag=tag))
    if pattern.check:
        problem = pattern.check(tokens)
        if problem:
            raise argerr(problem)
    return pattern, tokens


def insert(store, table, resource_type, resource_uuid, tag, inherent=False):
    stamp = now()
    uuid = new_uuid()
    store.insert(table, {"uuid": uuid, "resourceUuid": resource_uuid,
                         "resourceType": resource_type, "tag": tag,
                         "type": "System" if table == "SystemTagVO" else "User",
                         "inherent": 1 if inherent else 0, "createDate": stamp,
                         "lastOpDate": stamp})
    return uuid


def delete_all(store, resource_uuid):
    for table in ("SystemTagVO", "UserTagVO"):
        store.conn.execute(f'DELETE FROM "{table}" WHERE resourceUuid = ?', (resource_uuid,))


def values_of(store, resource_uuid, fmt):
    """Tokens of each system tag of ``resource_uuid`` that matches ``fmt``."""
    prefix = fmt.split("{", 1)[0]
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = store.rows("SELECT tag FROM SystemTagVO WHERE resourceUuid = ? AND tag LIKE ? ESCAPE '\\'",
                      (resource_uuid, escaped + "%"))
    out = []
    for row in rows:
        m = _regex(fmt).match(row["tag"])
        if m:
            out.append(m.groupdict())
    return out
