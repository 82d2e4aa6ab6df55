"""Tags and global config (SPEC §8), zones and clusters (§7), identity (§6), through the
backend door ``Backend.call``."""
import re
from datetime import datetime, timedelta, timezone


from tests.replies import err, ok

UUID_RE = re.compile(r"^[0-9a-f]{32}$")
MISSING = "0123456789abcdef0123456789abcdef"



def zone(backend, name="zone1", **extra):
    return ok(backend.call("CreateZone", {"name": name, **extra}))["inventory"]


def cluster(backend, zone_uuid, name="cluster1", **extra):
    return ok(backend.call("CreateCluster", {"zoneUuid": zone_uuid, "name": name,
                                             "hypervisorType": "KVM", **extra}))["inventory"]


def sys_tag(backend, resource_type, uuid, tag):
    return backend.call("CreateSystemTag", {"resourceType": resource_type,
                                            "resourceUuid": uuid, "tag": tag})


def user_tag(backend, resource_type, uuid, tag):
    return backend.call("CreateUserTag", {"resourceType": resource_type,
                                          "resourceUuid": uuid, "tag": tag})


def tags_of(backend, api, uuid):
    reply = ok(backend.call(api, {"conditions": [{"name": "resourceUuid", "op": "=",
                                                  "value": uuid}]}))
    return sorted(t["tag"] for t in reply["inventories"])


# =============================================================================================
# tags (SPEC §8)
# =============================================================================================

def test_create_system_tag_inventory(backend):
    z = zone(backend)
    inv = ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G"))["inventory"]
    assert set(inv) == {"uuid", "resourceUuid", "resourceType", "tag", "type", "inherent",
                        "createDate", "lastOpDate"}
    assert UUID_RE.match(inv["uuid"])
    assert inv["resourceUuid"] == z["uuid"]
    assert inv["resourceType"] == "ZoneVO"
    assert inv["tag"] == "host::reservedMemory::1G"
    assert inv["type"] == "System"
    assert inv["inherent"] is False
    datetime.fromisoformat(inv["createDate"])


def test_create_user_tag_inventory(backend):
    z = zone(backend)
    inv = ok(user_tag(backend, "ZoneVO", z["uuid"], "anything at all: 中文"))["inventory"]
    assert inv["type"] == "User"
    assert inv["inherent"] is False
    assert inv["tag"] == "anything at all: 中文"
    assert tags_of(backend, "QueryUserTag", z["uuid"]) == ["anything at all: 中文"]
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == []


def test_unknown_system_tag(backend):
    z = zone(backend)
    err(sys_tag(backend, "ZoneVO", z["uuid"], "hostname::web1"), "SYS.1007",
        "no system tag matches[hostname::web1] for resourceType[ZoneVO]")
    c = cluster(backend, z["uuid"])
    err(sys_tag(backend, "ClusterVO", c["uuid"], "nope"), "SYS.1007",
        "no system tag matches[nope] for resourceType[ClusterVO]")
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == []


def test_system_tag_token_is_checked(backend):
    z = zone(backend)
    e = err(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::lots"), "SYS.1007")
    assert "lots" in e["details"]
    ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedCpu::4"))


def test_unknown_resource_type(backend):
    z = zone(backend)
    err(sys_tag(backend, "FooVO", z["uuid"], "host::reservedMemory::1G"), "SYS.1007",
        "no resource type[FooVO] found in tag system")
    err(user_tag(backend, "FooVO", z["uuid"], "x"), "SYS.1007",
        "no resource type[FooVO] found in tag system")


def test_uuid_of_another_type(backend):
    z = zone(backend)
    c = cluster(backend, z["uuid"])
    e = err(sys_tag(backend, "ZoneVO", c["uuid"], "host::reservedMemory::1G"), "SYS.1007")
    assert c["uuid"] in e["details"] and "ZoneVO" in e["details"]
    err(user_tag(backend, "ClusterVO", z["uuid"], "x"), "SYS.1007")
    err(user_tag(backend, "ZoneVO", MISSING, "x"), "SYS.1007")
    assert backend.store.value("SELECT COUNT(*) FROM UserTagVO") == 0


def test_identical_tag_again_succeeds_without_inventory(backend):
    z = zone(backend)
    ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G"))
    again = sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G")
    assert again == {"success": True}
    ok(user_tag(backend, "ZoneVO", z["uuid"], "prod"))
    assert user_tag(backend, "ZoneVO", z["uuid"], "prod") == {"success": True}
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == ["host::reservedMemory::1G"]
    assert tags_of(backend, "QueryUserTag", z["uuid"]) == ["prod"]


def test_delete_tag(backend):
    z = zone(backend)
    s = ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G"))["inventory"]
    u = ok(user_tag(backend, "ZoneVO", z["uuid"], "prod"))["inventory"]
    assert ok(backend.call("DeleteTag", {"uuid": s["uuid"]})) == {"success": True}
    ok(backend.call("DeleteTag", {"uuid": u["uuid"]}))
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == []
    assert tags_of(backend, "QueryUserTag", z["uuid"]) == []
    # gone, and again: still a success
    ok(backend.call("DeleteTag", {"uuid": s["uuid"]}))


def test_delete_unknown_tag_succeeds(backend):
    assert backend.call("DeleteTag", {"uuid": MISSING}) == {"success": True}


def test_delete_tag_requires_a_valid_uuid(backend):
    err(backend.call("DeleteTag", {}), "SYS.1007",
        "field[uuid] of message[APIDeleteTagMsg] is mandatory, can not be null")
    err(backend.call("DeleteTag", {"uuid": "not-a-uuid"}), "SYS.1007")


def _inherent_tag(backend, resource_uuid, tag="host::reservedMemory::8G"):
    from backend.services import tags

    with backend.store.transaction():
        return tags.insert(backend.store, "SystemTagVO", "ZoneVO", resource_uuid, tag,
                           inherent=True)


def test_inherent_tag_can_not_be_removed(backend):
    z = zone(backend)
    uuid = _inherent_tag(backend, z["uuid"])
    err(backend.call("DeleteTag", {"uuid": uuid}), "SYS.1006",
        f"tag[uuid:{uuid}] is an inherent system tag, can not be removed")
    [t] = ok(backend.call("QuerySystemTag", {"conditions": [
        {"name": "uuid", "op": "=", "value": uuid}]}))["inventories"]
    assert t["inherent"] is True
    # nor changed by a user
    err(backend.call("UpdateSystemTag", {"uuid": uuid, "tag": "host::reservedMemory::1G"}),
        "SYS.1006")
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == ["host::reservedMemory::8G"]


def test_inherent_tags_go_with_their_resource(backend):
    z = zone(backend)
    _inherent_tag(backend, z["uuid"])
    ok(backend.call("DeleteZone", {"uuid": z["uuid"]}))
    assert backend.store.value("SELECT COUNT(*) FROM SystemTagVO") == 0


def test_update_system_tag(backend):
    z = zone(backend)
    t = ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G"))["inventory"]
    inv = ok(backend.call("UpdateSystemTag", {"uuid": t["uuid"],
                                              "tag": "host::reservedMemory::2G"}))["inventory"]
    assert inv["uuid"] == t["uuid"]
    assert inv["tag"] == "host::reservedMemory::2G"
    assert inv["resourceType"] == "ZoneVO" and inv["resourceUuid"] == z["uuid"]
    assert inv["lastOpDate"] >= t["lastOpDate"]
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == ["host::reservedMemory::2G"]


def test_update_system_tag_validates_against_the_tags_resource_type(backend):
    z = zone(backend)
    c = cluster(backend, z["uuid"])
    t = ok(sys_tag(backend, "ClusterVO", c["uuid"], "host::reservedCpu::1"))["inventory"]
    err(backend.call("UpdateSystemTag", {"uuid": t["uuid"], "tag": "hostname::x"}), "SYS.1007",
        "no system tag matches[hostname::x] for resourceType[ClusterVO]")
    err(backend.call("UpdateSystemTag", {"uuid": t["uuid"], "tag": "host::reservedCpu::x"}),
        "SYS.1007")
    assert tags_of(backend, "QuerySystemTag", c["uuid"]) == ["host::reservedCpu::1"]


def test_update_system_tag_missing(backend):
    err(backend.call("UpdateSystemTag", {"uuid": MISSING, "tag": "host::reservedCpu::1"}),
        "SYS.1003",
        f"invalid field[uuid], resource[uuid:{MISSING}, type:SystemTagVO] not found")
    # a user tag's uuid does not name a system tag
    z = zone(backend)
    u = ok(user_tag(backend, "ZoneVO", z["uuid"], "prod"))["inventory"]
    err(backend.call("UpdateSystemTag", {"uuid": u["uuid"], "tag": "host::reservedCpu::1"}),
        "SYS.1003")


def test_newline_in_tag_is_stored_as_backslash_n(backend):
    z = zone(backend)
    inv = ok(user_tag(backend, "ZoneVO", z["uuid"], "line one\nline two\r\nthree"))["inventory"]
    assert inv["tag"] == "line one\\nline two\\nthree"
    stored = backend.store.value("SELECT tag FROM UserTagVO WHERE uuid = ?", (inv["uuid"],))
    assert "\n" not in stored and stored == "line one\\nline two\\nthree"
    # the already-escaped form is stored unchanged, so both forms are the same tag
    assert user_tag(backend, "ZoneVO", z["uuid"], "line one\\nline two\\nthree") == \
        {"success": True}
    s = ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G"))["inventory"]
    bad = backend.call("UpdateSystemTag", {"uuid": s["uuid"], "tag": "host::reserved\nCpu::1"})
    assert bad["success"] is False      # no pattern matches the escaped text


def test_tags_are_deleted_with_their_resource(backend):
    z = zone(backend)
    c = cluster(backend, z["uuid"])
    other = zone(backend, "other")
    ok(sys_tag(backend, "ZoneVO", z["uuid"], "host::reservedMemory::1G"))
    ok(user_tag(backend, "ZoneVO", z["uuid"], "prod"))
    ok(sys_tag(backend, "ClusterVO", c["uuid"], "host::reservedCpu::1"))
    ok(user_tag(backend, "ClusterVO", c["uuid"], "fast"))
    ok(user_tag(backend, "ZoneVO", other["uuid"], "keep"))
    ok(backend.call("DeleteCluster", {"uuid": c["uuid"]}))
    assert tags_of(backend, "QuerySystemTag", c["uuid"]) == []
    assert tags_of(backend, "QueryUserTag", c["uuid"]) == []
    assert tags_of(backend, "QueryUserTag", z["uuid"]) == ["prod"]
    ok(backend.call("DeleteZone", {"uuid": z["uuid"]}))
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == []
    assert tags_of(backend, "QueryUserTag", z["uuid"]) == []
    assert tags_of(backend, "QueryUserTag", other["uuid"]) == ["keep"]


def test_tag_required_params(backend):
    z = zone(backend)
    err(backend.call("CreateSystemTag", {"resourceType": "ZoneVO", "resourceUuid": z["uuid"]}),
        "SYS.1007", "field[tag] of message[APICreateSystemTagMsg] is mandatory, can not be null")
    err(backend.call("CreateUserTag", {"resourceUuid": z["uuid"], "tag": "x"}), "SYS.1007",
        "field[resourceType] of message[APICreateUserTagMsg] is mandatory, can not be null")


# =============================================================================================
# zones and clusters (SPEC §7)
# =============================================================================================

def test_create_zone(backend):
    z = zone(backend, "zone1", description="the first")
    assert UUID_RE.match(z["uuid"])
    assert z["name"] == "zone1" and z["description"] == "the first"
    assert z["state"] == "Enabled"
    assert z["type"] == "zstack"
    assert datetime.fromisoformat(z["createDate"]).tzinfo is not None
    assert z["createDate"] == z["lastOpDate"]
    [q] = ok(backend.call("QueryZone", {}))["inventories"]
    assert q == z


def test_an_empty_required_list_is_missing(backend):
    for value in ([], [""], ["", ""]):
        err(backend.call("AddImage", {"name": "i", "url": "/nowhere", "format": "qcow2",
                                      "backupStorageUuids": value}), "SYS.1007",
            "field[backupStorageUuids] of message[APIAddImageMsg] is mandatory, can not be null")


def test_a_given_resource_uuid_names_nothing_else_of_any_type(backend):
    zone = ok(backend.call("CreateZone", {"name": "z"}))["inventory"]["uuid"]
    err(backend.call("CreateCluster", {"name": "c", "zoneUuid": zone, "hypervisorType": "KVM",
                                       "resourceUuid": zone}), "SYS.1007",
        f"resource[uuid:{zone}, type:ZoneVO] already exists")
    assert ok(backend.call("QueryCluster", {}))["inventories"] == []


def test_create_zone_requires_name(backend):
    err(backend.call("CreateZone", {}), "SYS.1007",
        "field[name] of message[APICreateZoneMsg] is mandatory, can not be null")
    err(backend.call("CreateZone", {"name": ""}), "SYS.1007",
        "field[name] of message[APICreateZoneMsg] is mandatory, can not be null")
    err(backend.call("CreateZone", {"name": None}), "SYS.1007",
        "field[name] of message[APICreateZoneMsg] is mandatory, can not be null")


def test_create_zone_unknown_parameter(backend):
    e = err(backend.call("CreateZone", {"name": "z", "colour": "red"}), "SYS.1007")
    assert "colour" in e["details"] and "name" in e["details"]


def test_create_zone_name_too_long(backend):
    e = err(backend.call("CreateZone", {"name": "x" * 256}), "SYS.1007")
    assert "255" in e["details"]
    zone(backend, "x" * 255)


def test_create_with_resource_uuid(backend):
    uuid = "a" * 32
    z = zone(backend, "mine", resourceUuid=uuid)
    assert z["uuid"] == uuid
    e = err(backend.call("CreateZone", {"name": "again", "resourceUuid": uuid}), "SYS.1007")
    assert uuid in e["details"]
    c = cluster(backend, uuid, resourceUuid="b" * 32)
    assert c["uuid"] == "b" * 32 and c["zoneUuid"] == uuid
    err(backend.call("CreateZone", {"name": "bad", "resourceUuid": "ABC"}), "SYS.1007")
    err(backend.call("CreateZone", {"name": "bad", "resourceUuid": "A" * 32}), "SYS.1007")
    assert len(ok(backend.call("QueryZone", {}))["inventories"]) == 1


def test_create_with_tags(backend):
    z = zone(backend, "tagged", systemTags=["host::reservedMemory::1G"],
             userTags=["prod", "team:db"])
    assert tags_of(backend, "QuerySystemTag", z["uuid"]) == ["host::reservedMemory::1G"]
    assert tags_of(backend, "QueryUserTag", z["uuid"]) == ["prod", "team:db"]


def test_create_with_a_bad_system_tag_creates_nothing(backend):
    err(backend.call("CreateZone", {"name": "z", "systemTags": ["nope::x"]}), "SYS.1007",
        "no system tag matches[nope::x] for resourceType[ZoneVO]")
    assert ok(backend.call("QueryZone", {}))["inventories"] == []
    assert backend.store.value("SELECT COUNT(*) FROM UserTagVO") == 0


def test_update_zone(backend):
    z = zone(backend, "zone1", description="d1")
    inv = ok(backend.call("UpdateZone", {"uuid": z["uuid"], "name": "zone2"}))["inventory"]
    assert inv["name"] == "zone2" and inv["description"] == "d1"   # untouched
    assert inv["lastOpDate"] >= z["lastOpDate"]
    assert inv["createDate"] == z["createDate"]
    inv = ok(backend.call("UpdateZone", {"uuid": z["uuid"], "description": "新的描述"}))["inventory"]
    assert inv["name"] == "zone2" and inv["description"] == "新的描述"


def test_update_missing_zone(backend):
    err(backend.call("UpdateZone", {"uuid": MISSING, "name": "x"}), "SYS.1003",
        f"invalid field[uuid], resource[uuid:{MISSING}, type:ZoneVO] not found")
    e = err(backend.call("UpdateZone", {"uuid": MISSING, "name": "x"}), "SYS.1003")
    assert e["description"] == "The resource can not be found"
    err(backend.call("ChangeZoneState", {"uuid": MISSING, "stateEvent": "disable"}), "SYS.1003",
        f"invalid field[uuid], resource[uuid:{MISSING}, type:ZoneVO] not found")
    err(backend.call("UpdateCluster", {"uuid": MISSING, "name": "x"}), "SYS.1003",
        f"invalid field[uuid], resource[uuid:{MISSING}, type:ClusterVO] not found")


def test_update_with_an_invalid_uuid(backend):
    e = err(backend.call("UpdateZone", {"uuid": "zone1", "name": "x"}), "SYS.1007")
    assert "zone1" in e["details"]


def test_change_zone_state(backend):
    z = zone(backend)
    inv = ok(backend.call("ChangeZoneState", {"uuid": z["uuid"],
                                              "stateEvent": "disable"}))["inventory"]
    assert inv["state"] == "Disabled"
    inv = ok(backend.call("ChangeZoneState", {"uuid": z["uuid"],
                                              "stateEvent": "ENABLE"}))["inventory"]
    assert inv["state"] == "Enabled"


def test_choices_text(backend):
    z = zone(backend)
    err(backend.call("ChangeZoneState", {"uuid": z["uuid"], "stateEvent": "sleep"}), "SYS.1007",
        "valid value for field[stateEvent] of message[APIChangeZoneStateMsg] are "
        "[enable, disable], but sleep found")
    err(backend.call("CreateCluster", {"zoneUuid": z["uuid"], "name": "c",
                                       "hypervisorType": "Xen"}), "SYS.1007",
        "valid value for field[hypervisorType] of message[APICreateClusterMsg] are [KVM], "
        "but Xen found")
    err(backend.call("DeleteZone", {"uuid": z["uuid"], "deleteMode": "Force"}), "SYS.1007",
        "valid value for field[deleteMode] of message[APIDeleteZoneMsg] are "
        "[Permissive, Enforcing], but Force found")


def test_create_cluster(backend):
    z = zone(backend)
    c = cluster(backend, z["uuid"], "c1", hypervisorType="kvm")       # case normalised
    assert c["hypervisorType"] == "KVM"
    assert c["zoneUuid"] == z["uuid"]
    assert c["state"] == "Enabled"
    assert c["type"] == "zstack"
    err(backend.call("CreateCluster", {"zoneUuid": MISSING, "name": "c",
                                       "hypervisorType": "KVM"}), "SYS.1003",
        f"invalid field[zoneUuid], resource[uuid:{MISSING}, type:ZoneVO] not found")
    err(backend.call("CreateCluster", {"zoneUuid": z["uuid"], "name": "c"}), "SYS.1007",
        "field[hypervisorType] of message[APICreateClusterMsg] is mandatory, can not be null")


def test_update_and_change_cluster_state(backend):
    z = zone(backend)
    c = cluster(backend, z["uuid"])
    inv = ok(backend.call("UpdateCluster", {"uuid": c["uuid"], "name": "renamed",
                                            "description": "d"}))["inventory"]
    assert (inv["name"], inv["description"]) == ("renamed", "d")
    inv = ok(backend.call("ChangeClusterState", {"uuid": c["uuid"],
                                                 "stateEvent": "disable"}))["inventory"]
    assert inv["state"] == "Disabled"


def test_delete_zone_permissive_refuses_when_used(backend):
    z = zone(backend, "busy-zone")
    cluster(backend, z["uuid"], "c-one")
    cluster(backend, z["uuid"], "c-two")
    for params in ({"uuid": z["uuid"]}, {"uuid": z["uuid"], "deleteMode": "Permissive"}):
        e = err(backend.call("DeleteZone", params), "SYS.1006")
        assert z["uuid"] in e["details"]
        assert "c-one" in e["details"] and "c-two" in e["details"]
        assert "Enforcing" in e["details"]
    assert len(ok(backend.call("QueryZone", {}))["inventories"]) == 1
    assert len(ok(backend.call("QueryCluster", {}))["inventories"]) == 2


def test_delete_zone_enforcing_cascades(backend):
    z = zone(backend)
    keep = zone(backend, "keep")
    c1 = cluster(backend, z["uuid"], "c1")
    cluster(backend, z["uuid"], "c2")
    kept = cluster(backend, keep["uuid"], "kept")
    ok(sys_tag(backend, "ClusterVO", c1["uuid"], "host::reservedCpu::1"))
    ok(user_tag(backend, "ZoneVO", z["uuid"], "doomed"))
    assert ok(backend.call("DeleteZone", {"uuid": z["uuid"],
                                          "deleteMode": "Enforcing"})) == {"success": True}
    assert [i["uuid"] for i in ok(backend.call("QueryZone", {}))["inventories"]] == \
        [keep["uuid"]]
    assert [i["uuid"] for i in ok(backend.call("QueryCluster", {}))["inventories"]] == \
        [kept["uuid"]]
    assert backend.store.value("SELECT COUNT(*) FROM SystemTagVO") == 0
    assert backend.store.value("SELECT COUNT(*) FROM UserTagVO") == 0


def test_delete_gone_uuid_succeeds(backend):
    assert backend.call("DeleteZone", {"uuid": MISSING}) == {"success": True}
    assert backend.call("DeleteCluster", {"uuid": MISSING}) == {"success": True}
    z = zone(backend)
    ok(backend.call("DeleteZone", {"uuid": z["uuid"]}))
    ok(backend.call("DeleteZone", {"uuid": z["uuid"]}))
    assert ok(backend.call("QueryZone", {}))["inventories"] == []


def test_delete_empty_zone(backend):
    z = zone(backend)
    c = cluster(backend, z["uuid"])
    ok(backend.call("DeleteCluster", {"uuid": c["uuid"]}))
    ok(backend.call("DeleteZone", {"uuid": z["uuid"]}))
    assert ok(backend.call("QueryZone", {"count": True}))["total"] == 0


# =============================================================================================
# global config (SPEC §8)
# =============================================================================================

def configs(backend):
    reply = ok(backend.call("QueryGlobalConfig", {}))
    return {(c["category"], c["name"]): c for c in reply["inventories"]}


def test_global_configs_exist_with_defaults(backend):
    c = configs(backend)
    assert c[("kvm", "vm.consoleMode")]["value"] == "vnc"
    assert c[("kvm", "vm.consoleMode")]["defaultValue"] == "vnc"
    assert ("vm", "uniqueVmName") in c
    assert ("l3Network", "ipAllocateStrategy") in c
    assert ("identity", "session.timeout") in c
    for inv in c.values():
        assert set(inv) >= {"category", "name", "description", "defaultValue", "value"}
        assert inv["value"] == inv["defaultValue"]
        assert inv["description"]


def test_update_global_config(backend):
    inv = ok(backend.call("UpdateGlobalConfig", {"category": "kvm", "name": "vm.consoleMode",
                                                 "value": "spice"}))["inventory"]
    assert inv["value"] == "spice" and inv["defaultValue"] == "vnc"
    assert configs(backend)[("kvm", "vm.consoleMode")]["value"] == "spice"


def test_update_global_config_value_case_normalised(backend):
    inv = ok(backend.call("UpdateGlobalConfig", {"category": "kvm", "name": "vm.consoleMode",
                                                 "value": "SPICE"}))["inventory"]
    assert inv["value"] == "spice"
    inv = ok(backend.call("UpdateGlobalConfig", {"category": "vm", "name": "uniqueVmName",
                                                 "value": "True"}))["inventory"]
    assert inv["value"] == "true"


def test_update_unknown_global_config(backend):
    err(backend.call("UpdateGlobalConfig", {"category": "kvm", "name": "foo", "value": "1"}),
        "SYS.1007", "Unable to find GlobalConfig[category: kvm, name: foo]")
    err(backend.call("UpdateGlobalConfig", {"category": "nope", "name": "vm.consoleMode",
                                            "value": "vnc"}),
        "SYS.1007", "Unable to find GlobalConfig[category: nope, name: vm.consoleMode]")


def test_update_global_config_invalid_value(backend):
    err(backend.call("UpdateGlobalConfig", {"category": "kvm", "name": "vm.consoleMode",
                                            "value": "rdp"}),
        "SYS.1007", "rdp is not a valid value. Valid values are [vnc, spice]")
    assert configs(backend)[("kvm", "vm.consoleMode")]["value"] == "vnc"


def test_update_global_config_integer(backend):
    inv = ok(backend.call("UpdateGlobalConfig", {"category": "identity",
                                                 "name": "session.timeout",
                                                 "value": "600"}))["inventory"]
    assert inv["value"] == "600"
    for bad in ("abc", "0", "-5", "1.5"):
        err(backend.call("UpdateGlobalConfig", {"category": "identity",
                                                "name": "session.timeout", "value": bad}),
            "SYS.1007")
    assert configs(backend)[("identity", "session.timeout")]["value"] == "600"


def test_update_global_config_required(backend):
    err(backend.call("UpdateGlobalConfig", {"category": "kvm", "name": "vm.consoleMode"}),
        "SYS.1007",
        "field[value] of message[APIUpdateGlobalConfigMsg] is mandatory, can not be null")


# =============================================================================================
# identity (SPEC §6)
# =============================================================================================

def login(backend, name="admin", password="password"):
    return backend.call("LogInByAccount", {"accountName": name, "password": password})


def admin_uuid(backend):
    [a] = ok(backend.call("QueryAccount", {"conditions": [
        {"name": "name", "op": "=", "value": "admin"}]}))["inventories"]
    return a["uuid"]


def test_admin_logs_in(backend):
    inv = ok(login(backend))["inventory"]
    assert UUID_RE.match(inv["uuid"])
    assert inv["accountUuid"] == admin_uuid(backend)
    assert inv["expiredDate"] > inv["createDate"]
    # the session works
    ok(backend.call("QueryZone", {}, inv["uuid"]))


def test_wrong_password(backend):
    e = err(login(backend, password="wrong"), "ID.1000")
    assert e["description"] == "Authentication failed"
    err(login(backend, name="nobody", password="password"), "ID.1000")
    err(login(backend, password=""), "SYS.1007")  # mandatory


def test_password_stored_hashed(backend):
    login(backend)
    stored = backend.store.value("SELECT password FROM AccountVO WHERE name = 'admin'")
    assert stored and stored != "password"
    assert "password" not in stored
    assert stored.startswith("pbkdf2_")


def test_update_account_changes_password(backend):
    uuid = admin_uuid(backend)
    before = backend.store.value("SELECT password FROM AccountVO WHERE uuid = ?", (uuid,))
    inv = ok(backend.call("UpdateAccount", {"uuid": uuid, "password": "s3cret!"}))["inventory"]
    assert "password" not in inv
    after = backend.store.value("SELECT password FROM AccountVO WHERE uuid = ?", (uuid,))
    assert after != before and "s3cret!" not in after
    err(login(backend), "ID.1000")
    ok(login(backend, password="s3cret!"))
    # salted: the same password again gives another hash
    ok(backend.call("UpdateAccount", {"uuid": uuid, "password": "s3cret!"}))
    assert backend.store.value("SELECT password FROM AccountVO WHERE uuid = ?", (uuid,)) != after
    ok(login(backend, password="s3cret!"))


def test_an_account_never_gets_an_empty_name_or_password(backend):
    uuid = admin_uuid(backend)
    for key in ("name", "password"):
        e = err(backend.call("UpdateAccount", {"uuid": uuid, key: ""}), "SYS.1007")
        assert f"field[{key}] of message[APIUpdateAccountMsg] less than the min length" in \
            e["details"]
    ok(login(backend))                  # still admin / password


def test_update_missing_account(backend):
    err(backend.call("UpdateAccount", {"uuid": MISSING, "password": "x"}), "SYS.1003",
        f"invalid field[uuid], resource[uuid:{MISSING}, type:AccountVO] not found")


def test_log_out_invalidates(backend):
    session = ok(login(backend))["inventory"]["uuid"]
    ok(backend.call("QueryZone", {}, session))
    assert ok(backend.call("LogOut", {}, session)) == {"success": True}
    err(backend.call("QueryZone", {}, session), "ID.1001")


def test_log_out_by_session_uuid(backend):
    s1 = ok(login(backend))["inventory"]["uuid"]
    s2 = ok(login(backend))["inventory"]["uuid"]
    ok(backend.call("LogOut", {"sessionUuid": s1}, s2))
    err(backend.call("QueryZone", {}, s1), "ID.1001")
    ok(backend.call("QueryZone", {}, s2))


def test_invalid_session(backend):
    e = err(backend.call("QueryZone", {}, MISSING), "ID.1001")
    assert MISSING in e["details"]
    err(backend.call("CreateZone", {"name": "z"}, "garbage' OR 1=1 --"), "ID.1001")
    assert ok(backend.call("QueryZone", {}))["inventories"] == []


def test_expired_session_by_date(backend):
    session = ok(login(backend))["inventory"]["uuid"]
    past = (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat(timespec="milliseconds")
    with backend.store.transaction():
        backend.store.update("SessionVO", session, {"expiredDate": past})
    err(backend.call("QueryZone", {}, session), "ID.1001")


def test_session_timeout_config(backend):
    ok(backend.call("UpdateGlobalConfig", {"category": "identity", "name": "session.timeout",
                                           "value": "1"}))
    inv = ok(login(backend))["inventory"]
    created = datetime.fromisoformat(inv["createDate"])
    expires = datetime.fromisoformat(inv["expiredDate"])
    assert timedelta(seconds=0.5) <= expires - created <= timedelta(seconds=2)
    import time

    time.sleep(1.2)
    err(backend.call("QueryZone", {}, inv["uuid"]), "ID.1001")


def test_session_required_mode(home):
    from backend.api import Backend

    b = Backend(str(home), require_session=True)
    try:
        err(b.call("QueryZone", {}), "ID.1001")
        err(b.call("CreateZone", {"name": "z"}), "ID.1001")
        session = ok(login(b))["inventory"]["uuid"]
        ok(b.call("CreateZone", {"name": "z"}, session))
        ok(b.call("LogOut", {}, session))
        err(b.call("QueryZone", {}, session), "ID.1001")
    finally:
        b.close()


def test_session_max_concurrent(backend):
    ok(backend.call("UpdateGlobalConfig", {"category": "identity",
                                           "name": "session.maxConcurrent", "value": "2"}))
    s1, s2, s3 = (ok(login(backend))["inventory"]["uuid"] for _ in range(3))
    err(backend.call("QueryZone", {}, s1), "ID.1001")
    ok(backend.call("QueryZone", {}, s2))
    ok(backend.call("QueryZone", {}, s3))


def test_account_inventory_has_no_password(backend):
    login(backend)
    for inv in ok(backend.call("QueryAccount", {}))["inventories"]:
        assert "password" not in inv


def test_undecodable_text_is_an_invalid_argument(backend):
    # invalid UTF-8 on a command line reaches the backend as lone surrogates
    e = err(backend.call("CreateZone", {"name": "x\udcff"}), "SYS.1007")
    assert "name" in e["details"]
    err(backend.call("CreateZone", {"name": "x", "userTags": ["\udce4\udcb8"]}), "SYS.1007")
    z = zone(backend)
    err(user_tag(backend, "ZoneVO", z["uuid"], "bad\udcff"), "SYS.1007")
    assert backend.store.value("SELECT COUNT(*) FROM ZoneVO") == 1
