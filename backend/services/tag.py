"""The tag APIs (SPEC §8)."""

from .. import catalogue
from ..i18n import msg
from ..errors import argerr, operr
from ..store.query import to_inventory
from . import tags, vm_tags
from ..clock import now


def _check_resource(ctx, resource_type, resource_uuid):
    resource = catalogue.RESOURCES.get(resource_type)
    if resource is None or not resource.tags:
        raise argerr(msg("no resource type[{resource_type}] found in tag system",
                         resource_type=resource_type))
    if not ctx.store.exists(resource_type, resource_uuid):
        raise argerr(msg("no resource[uuid:{resource_uuid}, type:{resource_type}] found; the "
                         "uuid does not name a {resource_type}",
                         resource_uuid=resource_uuid, resource_type=resource_type))


def _create(ctx, p, table):
    resource_type, resource_uuid = p["resourceType"], p["resourceUuid"]
    _check_resource(ctx, resource_type, resource_uuid)
    tag = tags.normalize(p["tag"])
    if table == "SystemTagVO":
        tags.check_system_tag(resource_type, tag)
    store = ctx.store
    with store.transaction():
        if table == "SystemTagVO" and resource_type == "VmInstanceVO":
            vm_tags.check_on_vm(ctx, resource_uuid, tag)
        if store.row(f'SELECT 1 FROM "{table}" WHERE resourceUuid = ? AND tag = ?',
                     (resource_uuid, tag)):
            return None      # the same tag again: success, no new inventory
        uuid = tags.insert(store, table, resource_type, resource_uuid, tag)
    _shown_changed(ctx, resource_type, resource_uuid, tag)
    return to_inventory(catalogue.RESOURCES[table], store.get(table, uuid))


def create_system_tag(ctx, p):
    return _create(ctx, p, "SystemTagVO")


def create_user_tag(ctx, p):
    return _create(ctx, p, "UserTagVO")


def update_system_tag(ctx, p):
    store = ctx.store
    row = store.get("SystemTagVO", p["uuid"])
    if row["inherent"]:
        raise operr(msg("tag[uuid:{uuid}] is an inherent system tag, can not be updated",
                        uuid=p['uuid']))
    tag = tags.normalize(p["tag"])
    tags.check_system_tag(row["resourceType"], tag)
    with store.transaction():
        if row["resourceType"] == "VmInstanceVO":
            vm_tags.check_on_vm(ctx, row["resourceUuid"], tag, replacing=p["uuid"])
        if store.row("SELECT 1 FROM SystemTagVO WHERE resourceUuid = ? AND tag = ? AND "
                     "uuid != ?", (row["resourceUuid"], tag, p["uuid"])):
            raise argerr(msg("the resource[uuid:{uuid}] already has the tag[{tag}]",
                             uuid=row["resourceUuid"], tag=tag))
        store.update("SystemTagVO", p["uuid"], {"tag": tag, "lastOpDate": now()})
    _shown_changed(ctx, row["resourceType"], row["resourceUuid"], row["tag"], tag)
    return to_inventory(catalogue.RESOURCES["SystemTagVO"], store.get("SystemTagVO", p["uuid"]))


def delete_tag(ctx, p):
    store = ctx.store
    with store.transaction():
        row = store.get("SystemTagVO", p["uuid"])
        if row is not None:
            if row["inherent"]:
                raise operr(msg("tag[uuid:{uuid}] is an inherent system tag, can not be removed",
                                uuid=p['uuid']))
            store.delete("SystemTagVO", p["uuid"])
        else:
            store.delete("UserTagVO", p["uuid"])
    if row is not None:
        _shown_changed(ctx, row["resourceType"], row["resourceUuid"], row["tag"])
    return None


def _shown_changed(ctx, resource_type, resource_uuid, *changed):
    """A VM's tag that its metadata shows changed: a remote host's copy of it too."""
    from .flat_documents import SHOWN_TAGS

    if resource_type == "VmInstanceVO" and any(t.startswith(SHOWN_TAGS) for t in changed):
        from .flat import refresh_vm

        refresh_vm(ctx, resource_uuid)
