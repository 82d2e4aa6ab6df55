"""Which provider gives an L3 network a service (read by the Flat provider and
the service APIs alike)."""


def provider_of(store, l3_uuid, kind):
    """The type of the provider giving ``kind`` (DHCP, Userdata...) on an L3, or None."""
    row = store.row("SELECT p.type FROM NetworkServiceL3NetworkRefVO r JOIN "
                    "NetworkServiceProviderVO p ON p.uuid = r.networkServiceProviderUuid WHERE "
                    "r.l3NetworkUuid = ? AND r.networkServiceType = ?", (l3_uuid, kind))
    return row[0] if row else None
