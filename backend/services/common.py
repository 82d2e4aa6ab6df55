"""Create, update and delete helpers shared by every resource's service."""

from .. import catalogue
from ..i18n import msg
from ..errors import argerr, operr
from ..store.query import inventories
from . import tags
from ..clock import new_uuid, now


def inventory(ctx, resource_name, uuid):
    resource = catalogue.RESOURCES[resource_name]
    row = ctx.store.get(resource_name, uuid)
    if row is None:
        return None
    return inventories(ctx.store, catalogue.RESOURCES, resource, [row])[0]


def create(ctx, resource_name, row, params):
    """Insert a new resource with the Create* API's common extras:
    ``resourceUuid``, ``systemTags`` and ``userTags``, all in one transaction."""
    store = ctx.store
    uuid = params.get("resourceUuid") or new_uuid()
    stamp = now()
    row = {"uuid": uuid, **row, "createDate": stamp, "lastOpDate": stamp}
    system_tags = [tags.normalize(t) for t in params.get("systemTags") or ()]
    for tag in system_tags:
        tags.check_system_tag(resource_name, tag)
    with store.transaction():
        if store.exists(resource_name, uuid):
            raise argerr(msg("resource[uuid:{uuid}, type:{resource_name}] already exists",
                             uuid=uuid, resource_name=resource_name))
        store.insert(resource_name, row)
        for tag in system_tags:
            tags.insert(store, "SystemTagVO", resource_name, uuid, tag)
        for tag in params.get("userTags") or ():
            tags.insert(store, "UserTagVO", resource_name, uuid, tags.normalize(tag))
    return inventory(ctx, resource_name, uuid)


def update(ctx, resource_name, uuid, values):
    """Set the given non-None values and return the fresh inventory."""
    values = {k: v for k, v in values.items() if v is not None}
    with ctx.store.transaction():
        if values:
            values["lastOpDate"] = now()
            ctx.store.update(resource_name, uuid, values)
    return inventory(ctx, resource_name, uuid)


def delete(ctx, resource_name, uuid, mode, dependents=(), refs=()):
    """Delete a resource and its tags.

    ``dependents`` lists ``(label, table, column, delete_one)`` for what still
    uses the resource: refused in Permissive mode, deleted first (each through
    its own service) in Enforcing mode. ``refs`` lists ``(table, column)`` of
    attachment rows that go with it (a network's attached clusters).
    """
    store = ctx.store
    row = store.get(resource_name, uuid)
    if row is None:
        return None          # ZStack: deleting what is gone succeeds
    for label, table, column, delete_one in dependents:
        users = store.rows(f'SELECT uuid, name FROM "{table}" WHERE "{column}" = ? '
                           f'ORDER BY rowid', (uuid,))
        if not users:
            continue
        if mode != "Enforcing":
            names = ", ".join(r["name"] for r in users[:5]) + (", ..." if len(users) > 5 else "")
            raise operr(msg("{short}[uuid:{uuid}, name:{name}] is still used by {count} "
                            "{label}(s) [{names}]; delete them first, or use "
                            "deleteMode=Enforcing to delete them too",
                            short=_short(resource_name), uuid=uuid, name=row.get('name'),
                            count=len(users), label=label, names=names))
        for user in users:
            delete_one(ctx, user["uuid"], mode)
    with store.transaction():
        tags.delete_all(store, uuid)
        for table, column in refs:
            store.conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (uuid,))
        store.delete(resource_name, uuid)
    return None


def _short(resource_name):
    name = resource_name[:-2] if resource_name.endswith("VO") else resource_name
    return name[:1].lower() + name[1:]          # ZoneVO -> zone, L2NetworkVO -> l2Network
