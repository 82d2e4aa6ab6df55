"""Attaching network services of providers to L3 networks (SPEC §9)."""

from ..i18n import msg
from ..errors import argerr, operr
from . import common
from ..clock import now


def _provider(store, key):
    """A provider named by its uuid or its type (Flat, VirtualRouter)."""
    row = store.row("SELECT * FROM NetworkServiceProviderVO WHERE uuid = ? OR type = ?",
                    (key, key))
    if row is None:
        names = ", ".join(r[0] for r in store.rows("SELECT type FROM NetworkServiceProviderVO"))
        raise argerr(msg("no network service provider[{key}] found; providers are [{names}] (by "
                         "type or uuid)", key=key, names=names))
    return row


def _requests(store, services):
    """{provider: [types]} -> [(provider row, type)], each type checked."""
    out = []
    for key, types in services.items():
        if isinstance(types, str):
            types = [types]
        if not isinstance(types, (list, tuple)) or not all(isinstance(t, str) for t in types):
            raise argerr(msg("networkServices[{key}] must be a list of service types", key=key))
        provider = _provider(store, str(key))
        offered = {r[0] for r in store.rows("SELECT type FROM NetworkServiceTypeVO WHERE "
                                            "networkServiceProviderUuid = ?",
                                            (provider["uuid"],))}
        for kind in types:
            if kind not in offered:
                raise argerr(msg("the network service provider[{type}] does not provide the "
                                 "service[{kind}]; it provides [{offered}]",
                                 type=provider['type'], kind=kind,
                                 offered=', '.join(sorted(offered))))
            out.append((provider, kind))
    return out


def attach(ctx, p):
    store = ctx.store
    l3 = p["l3NetworkUuid"]
    wanted = _requests(store, p["networkServices"])
    with store.transaction():
        for provider, kind in wanted:
            if store.row("SELECT 1 FROM NetworkServiceL3NetworkRefVO WHERE l3NetworkUuid = ? AND "
                         "networkServiceType = ?", (l3, kind)):
                raise operr(msg("there has been a network service[{kind}] attached to L3 "
                                "network[uuid:{l3}]", kind=kind, l3=l3))
            store.insert("NetworkServiceL3NetworkRefVO", {
                "l3NetworkUuid": l3, "networkServiceProviderUuid": provider["uuid"],
                "networkServiceType": kind, "createDate": now()})
    _services_changed(ctx, l3)
    return common.inventory(ctx, "L3NetworkVO", l3)


def detach(ctx, p):
    store = ctx.store
    l3 = p["l3NetworkUuid"]
    with store.transaction():
        for provider, kind in _requests(store, p["networkServices"]):
            store.conn.execute("DELETE FROM NetworkServiceL3NetworkRefVO WHERE l3NetworkUuid = ? "
                               "AND networkServiceProviderUuid = ? AND networkServiceType = ?",
                               (l3, provider["uuid"], kind))
    _services_changed(ctx, l3)
    return common.inventory(ctx, "L3NetworkVO", l3)


def _services_changed(ctx, l3_uuid):
    """The Flat DHCP and userdata servers of the L3 follow its services."""
    from .flat import sync_l3

    sync_l3(ctx, l3_uuid)
