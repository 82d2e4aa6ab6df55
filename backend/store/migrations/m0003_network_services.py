"""Network service providers (Flat, VirtualRouter) and the services of L3 networks."""

import os
from datetime import datetime, timezone

PROVIDERS = (
    ("Flat", "Flat Network Service Provider", ("DHCP", "Userdata", "DNS", "Eip")),
    ("VirtualRouter", "VirtualRouter", ("DHCP", "DNS", "SNAT", "PortForwarding", "Eip")),
)


def up(db):
    db["NetworkServiceProviderVO"].create(
        {"uuid": str, "name": str, "description": str, "type": str, "createDate": str,
         "lastOpDate": str}, pk="uuid")
    db["NetworkServiceProviderVO"].create_index(["type"], unique=True)
    db["NetworkServiceTypeVO"].create(
        {"networkServiceProviderUuid": str, "type": str},
        pk=("networkServiceProviderUuid", "type"),
        foreign_keys=[("networkServiceProviderUuid", "NetworkServiceProviderVO", "uuid")])
    db["NetworkServiceL3NetworkRefVO"].create(
        {"l3NetworkUuid": str, "networkServiceProviderUuid": str, "networkServiceType": str,
         "createDate": str}, pk=("l3NetworkUuid", "networkServiceType"),
        foreign_keys=[("l3NetworkUuid", "L3NetworkVO", "uuid"),
                      ("networkServiceProviderUuid", "NetworkServiceProviderVO", "uuid")])
    db["NetworkServiceL3NetworkRefVO"].create_index(["networkServiceProviderUuid"])
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    for kind, name, types in PROVIDERS:
        uuid = os.urandom(16).hex()
        db["NetworkServiceProviderVO"].insert({"uuid": uuid, "name": name, "description": name,
                                               "type": kind, "createDate": stamp,
                                               "lastOpDate": stamp})
        for t in types:
            db["NetworkServiceTypeVO"].insert({"networkServiceProviderUuid": uuid, "type": t})
