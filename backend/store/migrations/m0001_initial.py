"""The first schema: zones, clusters, tags, global config, accounts, sessions."""

TEXT = str

COMMON = {"uuid": TEXT, "name": TEXT, "description": TEXT, "createDate": TEXT, "lastOpDate": TEXT}


def _tags(db, table):
    db[table].create({"uuid": TEXT, "resourceUuid": TEXT, "resourceType": TEXT, "tag": TEXT,
                      "type": TEXT, "inherent": int, "createDate": TEXT, "lastOpDate": TEXT},
                     pk="uuid", not_null={"resourceUuid", "resourceType", "tag"})
    db[table].create_index(["resourceUuid"])
    db[table].create_index(["tag"])
    db[table].create_index(["resourceType"])
    db[table].create_index(["createDate"])


def up(db):
    db["StoreMeta"].create({"key": TEXT, "value": TEXT}, pk="key")

    db["ZoneVO"].create({**COMMON, "state": TEXT, "type": TEXT}, pk="uuid", not_null={"name"})
    db["ClusterVO"].create({**COMMON, "state": TEXT, "hypervisorType": TEXT, "type": TEXT,
                            "zoneUuid": TEXT}, pk="uuid", not_null={"name", "zoneUuid"},
                           foreign_keys=[("zoneUuid", "ZoneVO", "uuid")])
    for table in ("ZoneVO", "ClusterVO"):
        db[table].create_index(["name"])
        db[table].create_index(["state"])
        db[table].create_index(["createDate"])
    db["ClusterVO"].create_index(["zoneUuid"])

    _tags(db, "SystemTagVO")
    _tags(db, "UserTagVO")

    db["GlobalConfigVO"].create({"category": TEXT, "name": TEXT, "description": TEXT,
                                 "defaultValue": TEXT, "value": TEXT, "createDate": TEXT,
                                 "lastOpDate": TEXT}, pk=("category", "name"))

    db["AccountVO"].create({**COMMON, "type": TEXT, "password": TEXT}, pk="uuid",
                           not_null={"name", "password"})
    db["AccountVO"].create_index(["name"], unique=True)
    db["AccountVO"].create_index(["createDate"])
    db["SessionVO"].create({"uuid": TEXT, "accountUuid": TEXT, "userUuid": TEXT,
                            "expiredDate": TEXT, "createDate": TEXT}, pk="uuid",
                           foreign_keys=[("accountUuid", "AccountVO", "uuid")])
    db["SessionVO"].create_index(["accountUuid"])
    db["SessionVO"].create_index(["createDate"])
