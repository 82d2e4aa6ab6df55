"""The query compiler (SPEC §3.1), driven through the Query* APIs of the backend door.

Every test talks to ``Backend.call(name, params)`` with ``conditions=[{name, op, value}]``,
exactly what the shell sends after splitting ``f<op>v`` words.
"""
import sqlite3

import pytest

from tests.replies import err, ok


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def cond(name, op, value):
    return {"name": name, "op": op, "value": value}


def query(backend, api, *conditions, **options):
    params = dict(options)
    params["conditions"] = list(conditions)
    return backend.call(api, params)


def names(reply):
    return sorted(inv["name"] for inv in ok(reply)["inventories"])


def zone(backend, name, description=None, **extra):
    params = {"name": name, **extra}
    if description is not None:
        params["description"] = description
    return ok(backend.call("CreateZone", params))["inventory"]


def cluster(backend, zone_uuid, name, **extra):
    return ok(backend.call("CreateCluster", {"zoneUuid": zone_uuid, "name": name,
                                             "hypervisorType": "KVM", **extra}))["inventory"]


def user_tag(backend, resource_type, uuid, tag):
    return backend.call("CreateUserTag", {"resourceType": resource_type, "resourceUuid": uuid,
                                          "tag": tag})


def system_tag(backend, resource_type, uuid, tag):
    return backend.call("CreateSystemTag", {"resourceType": resource_type, "resourceUuid": uuid,
                                            "tag": tag})


@pytest.fixture
def world(backend):
    """Three zones, clusters in two of them, a few tags."""
    z1 = zone(backend, "zone-alpha", "First Zone")
    z2 = zone(backend, "zone-beta", "second zone")
    z3 = zone(backend, "Gamma", None)
    c1 = cluster(backend, z1["uuid"], "cluster-a1")
    c2 = cluster(backend, z1["uuid"], "cluster-a2", description="fast")
    c3 = cluster(backend, z2["uuid"], "cluster-b1")
    ok(user_tag(backend, "ZoneVO", z1["uuid"], "production"))
    ok(user_tag(backend, "ZoneVO", z1["uuid"], "owner:alice"))
    ok(user_tag(backend, "ZoneVO", z2["uuid"], "staging"))
    ok(system_tag(backend, "ZoneVO", z1["uuid"], "host::reservedMemory::1G"))
    ok(system_tag(backend, "ZoneVO", z2["uuid"], "host::reservedCpu::2"))
    ok(system_tag(backend, "ClusterVO", c3["uuid"], "host::reservedMemory::512M"))
    return {"backend": backend, "z1": z1, "z2": z2, "z3": z3, "c1": c1, "c2": c2, "c3": c3}


ALL_ZONES = ["Gamma", "zone-alpha", "zone-beta"]


# ---------------------------------------------------------------------------------------------
# operators
# ---------------------------------------------------------------------------------------------

def test_no_condition_returns_everything(world):
    assert names(query(world["backend"], "QueryZone")) == ALL_ZONES


def test_inventory_shape(world):
    reply = ok(query(world["backend"], "QueryZone", cond("name", "=", "zone-alpha")))
    assert set(reply) == {"inventories", "success"}
    [inv] = reply["inventories"]
    assert set(inv) == {"uuid", "name", "description", "state", "type", "createDate",
                        "lastOpDate"}
    assert inv["uuid"] == world["z1"]["uuid"]
    assert inv["state"] == "Enabled"


def test_equal(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "=", "zone-beta"))) == ["zone-beta"]
    assert names(query(b, "QueryZone", cond("uuid", "=", world["z3"]["uuid"]))) == ["Gamma"]
    # '=' is exact and case-sensitive: not a like
    assert names(query(b, "QueryZone", cond("name", "=", "zone"))) == []
    assert names(query(b, "QueryZone", cond("name", "=", "gamma"))) == []


def test_not_equal(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "!=", "zone-beta"))) == ["Gamma",
                                                                            "zone-alpha"]


def test_equal_null_is_is_null(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("description", "=", "null"))) == ["Gamma"]


def test_not_equal_null_is_is_not_null(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("description", "!=", "null"))) == ["zone-alpha",
                                                                              "zone-beta"]


def test_not_equal_value_on_a_null_column(world):
    # SQL's three-valued logic: description != 'x' does not hold for NULL (as in ZStack)
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("description", "!=", "fast"))) == ["zone-alpha",
                                                                              "zone-beta"]


def test_comparisons_on_strings(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", ">", "zone-alpha"))) == ["zone-beta"]
    assert names(query(b, "QueryZone", cond("name", ">=", "zone-alpha"))) == ["zone-alpha",
                                                                             "zone-beta"]
    assert names(query(b, "QueryZone", cond("name", "<", "zone-alpha"))) == ["Gamma"]
    assert names(query(b, "QueryZone", cond("name", "<=", "zone-alpha"))) == ["Gamma",
                                                                             "zone-alpha"]


def test_comparisons_on_dates(world):
    b = world["backend"]
    stamps = {"zone-alpha": "2024-01-01T00:00:00.000+00:00",
              "zone-beta": "2024-06-01T12:00:00.000+00:00",
              "Gamma": "2025-01-01T00:00:00.000+00:00"}
    with b.store.transaction():
        for name, stamp in stamps.items():
            b.store.conn.execute("UPDATE ZoneVO SET createDate = ? WHERE name = ?", (stamp, name))
    assert names(query(b, "QueryZone", cond("createDate", ">=", stamps["zone-beta"]))) == \
        ["Gamma", "zone-beta"]
    assert names(query(b, "QueryZone", cond("createDate", ">", stamps["zone-beta"]))) == \
        ["Gamma"]
    assert names(query(b, "QueryZone", cond("createDate", "<", "2024-06-01"))) == ["zone-alpha"]
    assert names(query(b, "QueryZone", cond("createDate", "<", "2000-01-01"))) == []
    assert names(query(b, "QueryZone", cond("createDate", ">", "2000-01-01"))) == ALL_ZONES
    # real createDates are ISO 8601
    from datetime import datetime
    assert datetime.fromisoformat(world["z1"]["createDate"]).tzinfo is not None


def test_in(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "?=", "zone-alpha,Gamma,nothing"))) == \
        ["Gamma", "zone-alpha"]
    assert names(query(b, "QueryZone", cond("name", "?=", "zone-beta"))) == ["zone-beta"]


def test_not_in(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "!?=", "zone-alpha,Gamma"))) == \
        ["zone-beta"]


def test_in_with_escaped_comma(backend):
    zone(backend, "a,b")
    zone(backend, "a")
    zone(backend, "b")
    assert names(query(backend, "QueryZone", cond("name", "?=", r"a\,b"))) == ["a,b"]
    assert names(query(backend, "QueryZone", cond("name", "?=", r"a\,b,b"))) == ["a,b", "b"]


def test_like_wraps_without_wildcards(world):
    b = world["backend"]
    # no % or _: %v%
    assert names(query(b, "QueryZone", cond("name", "~=", "one-"))) == ["zone-alpha",
                                                                       "zone-beta"]
    assert names(query(b, "QueryZone", cond("name", "~=", "amm"))) == ["Gamma"]


def test_like_with_percent_is_not_wrapped(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "~=", "zone%"))) == ["zone-alpha",
                                                                        "zone-beta"]
    # anchored at the start: 'one%' does not match 'zone-...'
    assert names(query(b, "QueryZone", cond("name", "~=", "one%"))) == []
    assert names(query(b, "QueryZone", cond("name", "~=", "%beta"))) == ["zone-beta"]


def test_like_with_underscore_is_not_wrapped(world):
    b = world["backend"]
    # '_' is one character, and the pattern is anchored on both ends
    assert names(query(b, "QueryZone", cond("name", "~=", "Gamm_"))) == ["Gamma"]
    assert names(query(b, "QueryZone", cond("name", "~=", "Gam_"))) == []
    assert names(query(b, "QueryZone", cond("name", "~=", "zone_beta"))) == ["zone-beta"]


def test_like_is_case_insensitive(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "~=", "GAMMA"))) == ["Gamma"]
    assert names(query(b, "QueryZone", cond("name", "~=", "ZONE-%"))) == ["zone-alpha",
                                                                         "zone-beta"]
    assert names(query(b, "QueryZone", cond("description", "~=", "first zone"))) == \
        ["zone-alpha"]


def test_not_like(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "!~=", "alpha"))) == ["Gamma", "zone-beta"]
    assert names(query(b, "QueryZone", cond("name", "!~=", "ZONE%"))) == ["Gamma"]


def test_conditions_are_anded(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "~=", "zone"),
                       cond("description", "~=", "second"))) == ["zone-beta"]
    assert names(query(b, "QueryZone", cond("name", "~=", "zone"),
                       cond("name", "~=", "gamma"))) == []


def test_duplicates_collapse(world):
    b = world["backend"]
    c = cond("name", "?=", "zone-alpha,zone-beta")
    reply = ok(query(b, "QueryZone", c, dict(c), dict(c), replyWithCount=True))
    assert sorted(i["name"] for i in reply["inventories"]) == ["zone-alpha", "zone-beta"]
    assert reply["total"] == 2
    # and the same conditions give the same answer as one
    assert names(query(b, "QueryZone", c)) == names(query(b, "QueryZone", c, dict(c)))


def test_bool_field(world):
    b = world["backend"]
    tags = ok(query(b, "QuerySystemTag", cond("inherent", "=", "false")))["inventories"]
    assert len(tags) == 3
    assert all(t["inherent"] is False for t in tags)
    assert ok(query(b, "QuerySystemTag", cond("inherent", "=", "TRUE")))["inventories"] == []


def test_bool_field_rejects_non_boolean(world):
    e = err(query(world["backend"], "QuerySystemTag", cond("inherent", "=", "maybe")),
            "SYS.1007")
    assert "maybe" in e["details"]


def test_invalid_condition_shape(world):
    b = world["backend"]
    err(query(b, "QueryZone", cond("name", "=~", "x")), "SYS.1007")
    err(query(b, "QueryZone", {"name": "name", "op": "="}), "SYS.1007")
    err(query(b, "QueryZone", {"op": "=", "value": "x"}), "SYS.1007")


# ---------------------------------------------------------------------------------------------
# nested fields
# ---------------------------------------------------------------------------------------------

def test_nested_zone_by_cluster_name(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("cluster.name", "=", "cluster-b1"))) == ["zone-beta"]
    assert names(query(b, "QueryZone", cond("cluster.name", "~=", "cluster-%"))) == \
        ["zone-alpha", "zone-beta"]
    # a zone with several clusters appears once
    reply = ok(query(b, "QueryZone", cond("cluster.name", "~=", "cluster-a"),
                     replyWithCount=True))
    assert [i["name"] for i in reply["inventories"]] == ["zone-alpha"]
    assert reply["total"] == 1
    assert names(query(b, "QueryZone", cond("cluster.description", "=", "fast"))) == \
        ["zone-alpha"]
    assert names(query(b, "QueryZone", cond("cluster.name", "=", "nothing"))) == []


def test_nested_cluster_by_zone_name(world):
    b = world["backend"]
    assert names(query(b, "QueryCluster", cond("zone.name", "=", "zone-alpha"))) == \
        ["cluster-a1", "cluster-a2"]
    assert names(query(b, "QueryCluster", cond("zone.name", "!=", "zone-alpha"))) == \
        ["cluster-b1"]
    assert names(query(b, "QueryCluster", cond("zone.description", "~=", "SECOND"))) == \
        ["cluster-b1"]
    assert names(query(b, "QueryCluster", cond("zone.uuid", "?=",
                                               world["z2"]["uuid"]))) == ["cluster-b1"]


def test_nested_at_depth(world):
    b = world["backend"]
    # zone -> cluster -> zone -> cluster: at any depth a row matches when a related row does
    assert names(query(b, "QueryCluster",
                       cond("zone.cluster.name", "=", "cluster-a2"))) == ["cluster-a1",
                                                                         "cluster-a2"]
    assert names(query(b, "QueryZone", cond("cluster.zone.name", "=", "zone-beta"))) == \
        ["zone-beta"]


def test_nested_tag_of_related_resource(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("cluster.__systemTag__", "~=",
                                            "reservedMemory"))) == ["zone-beta"]
    assert names(query(b, "QueryCluster", cond("zone.__userTag__", "=", "production"))) == \
        ["cluster-a1", "cluster-a2"]


def test_nested_unknown_field(world):
    e = err(query(world["backend"], "QueryZone", cond("cluster.nope", "=", "x")), "SYS.1007")
    assert "unknown field[cluster.nope] for QueryZone" in e["details"]
    # the cluster's fields are the valid ones, named by the path to them
    assert "cluster.hypervisorType" in e["details"] and "cluster.zone." in e["details"]
    e = err(query(world["backend"], "QueryZone", cond("nothing.name", "=", "x")), "SYS.1007")
    assert "cluster." in e["details"]


# ---------------------------------------------------------------------------------------------
# __systemTag__ / __userTag__
# ---------------------------------------------------------------------------------------------

def test_user_tag_positive_operators(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("__userTag__", "=", "production"))) == ["zone-alpha"]
    assert names(query(b, "QueryZone", cond("__userTag__", "~=", "owner:%"))) == ["zone-alpha"]
    assert names(query(b, "QueryZone", cond("__userTag__", "~=", "STAG"))) == ["zone-beta"]
    assert names(query(b, "QueryZone", cond("__userTag__", "?=", "staging,production"))) == \
        ["zone-alpha", "zone-beta"]
    assert names(query(b, "QueryZone", cond("__userTag__", "=", "nothing"))) == []


def test_user_tag_negative_operators_mean_has_no_matching_tag(world):
    b = world["backend"]
    # zone-alpha has 'owner:alice' too, but it has 'production': excluded
    assert names(query(b, "QueryZone", cond("__userTag__", "!=", "production"))) == \
        ["Gamma", "zone-beta"]
    assert names(query(b, "QueryZone", cond("__userTag__", "!~=", "I"))) == ["Gamma"]
    assert names(query(b, "QueryZone", cond("__userTag__", "!?=", "staging,production"))) == \
        ["Gamma"]


def test_tag_null(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("__userTag__", "=", "null"))) == ["Gamma"]
    assert names(query(b, "QueryZone", cond("__userTag__", "!=", "null"))) == ["zone-alpha",
                                                                              "zone-beta"]


def test_system_tag_operators(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("__systemTag__", "=",
                                            "host::reservedMemory::1G"))) == ["zone-alpha"]
    assert names(query(b, "QueryZone", cond("__systemTag__", "~=", "host::%"))) == \
        ["zone-alpha", "zone-beta"]
    assert names(query(b, "QueryZone", cond("__systemTag__", "!~=", "reservedCpu"))) == \
        ["Gamma", "zone-alpha"]
    assert names(query(b, "QueryZone", cond("__systemTag__", "!=", "null"))) == ["zone-alpha",
                                                                                "zone-beta"]
    # a system tag is not a user tag and vice versa
    assert names(query(b, "QueryZone", cond("__systemTag__", "=", "production"))) == []
    assert names(query(b, "QueryZone", cond("__userTag__", "~=", "reserved"))) == []


def test_tags_of_other_resource_types_do_not_leak(world):
    b = world["backend"]
    # cluster-b1 carries reservedMemory::512M; no zone does
    assert names(query(b, "QueryZone", cond("__systemTag__", "~=", "512M"))) == []
    assert names(query(b, "QueryCluster", cond("__systemTag__", "~=", "512M"))) == ["cluster-b1"]


def test_tag_and_field_conditions_combine(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("__userTag__", "!=", "null"),
                       cond("name", "~=", "beta"))) == ["zone-beta"]


# ---------------------------------------------------------------------------------------------
# reserved keys
# ---------------------------------------------------------------------------------------------

def test_fields(world):
    b = world["backend"]
    reply = ok(query(b, "QueryZone", cond("name", "=", "zone-alpha"), fields=["name", "uuid"]))
    assert reply["inventories"] == [{"name": "zone-alpha", "uuid": world["z1"]["uuid"]}]


def test_fields_naming_only_embedded_children(world):
    b = world["backend"]
    l2 = ok(b.call("CreateL2NoVlanNetwork", {"name": "l2", "zoneUuid": world["z1"]["uuid"],
                                              "physicalInterface": "eth0"}))["inventory"]
    l3 = ok(b.call("CreateL3Network", {"name": "l3", "l2NetworkUuid": l2["uuid"]}))["inventory"]
    ok(b.call("AddDnsToL3Network", {"l3NetworkUuid": l3["uuid"], "dns": "10.0.0.53"}))
    reply = ok(query(b, "QueryL3Network", fields=["dns"]))
    assert reply["inventories"] == [{"dns": ["10.0.0.53"]}]
    reply = ok(query(b, "QueryL3Network", fields=["ipRanges", "dns"]))
    assert reply["inventories"] == [{"ipRanges": [], "dns": ["10.0.0.53"]}]


def test_fields_unknown(world):
    e = err(query(world["backend"], "QueryZone", fields=["name", "nope"]), "SYS.1007")
    assert "nope" in e["details"]


def test_limit_and_start(world):
    b = world["backend"]
    first = ok(query(b, "QueryZone", sortBy="name", limit=2))["inventories"]
    assert [i["name"] for i in first] == ["Gamma", "zone-alpha"]
    rest = ok(query(b, "QueryZone", sortBy="name", limit=2, start=2))["inventories"]
    assert [i["name"] for i in rest] == ["zone-beta"]
    assert ok(query(b, "QueryZone", start=10))["inventories"] == []
    assert ok(query(b, "QueryZone", limit=0))["inventories"] == []
    # strings, as the shell sends them, are accepted too
    assert len(ok(query(b, "QueryZone", limit="1", start="1"))["inventories"]) == 1


def test_limit_defaults_to_1000(backend):
    ok(query(backend, "QueryZone"))      # opens (creates) the store
    with backend.store.transaction():
        backend.store.conn.executemany(
            "INSERT INTO ZoneVO (uuid, name, state, type, createDate, lastOpDate) "
            "VALUES (?, ?, 'Enabled', 'zstack', '2020-01-01', '2020-01-01')",
            [(f"{i:032x}", f"z{i}") for i in range(1005)])
    reply = ok(query(backend, "QueryZone", replyWithCount=True))
    assert len(reply["inventories"]) == 1000
    assert reply["total"] == 1005


def test_limit_invalid(world):
    b = world["backend"]
    err(query(b, "QueryZone", limit="abc"), "SYS.1007")
    err(query(b, "QueryZone", limit=-1), "SYS.1007")
    err(query(b, "QueryZone", start=-5), "SYS.1007")


def test_sort(world):
    b = world["backend"]
    asc = ok(query(b, "QueryZone", sortBy="name"))["inventories"]
    assert [i["name"] for i in asc] == ["Gamma", "zone-alpha", "zone-beta"]
    desc = ok(query(b, "QueryZone", sortBy="name", sortDirection="desc"))["inventories"]
    assert [i["name"] for i in desc] == ["zone-beta", "zone-alpha", "Gamma"]
    by_date = ok(query(b, "QueryZone", sortBy="createDate", sortDirection="desc"))
    dates = [i["createDate"] for i in by_date["inventories"]]
    assert dates == sorted(dates, reverse=True)


def test_sort_invalid(world):
    b = world["backend"]
    e = err(query(b, "QueryZone", sortBy="nope"), "SYS.1007")
    assert "nope" in e["details"]
    e = err(query(b, "QueryZone", sortBy="name", sortDirection="sideways"), "SYS.1007")
    assert "sideways" in e["details"]


def test_count(world):
    b = world["backend"]
    reply = ok(query(b, "QueryZone", cond("name", "~=", "zone"), count=True))
    assert reply == {"total": 2, "success": True}
    assert ok(query(b, "QueryZone", count="true"))["total"] == 3
    # count ignores limit/start: it is the number of matches
    assert ok(query(b, "QueryZone", count=True, limit=1))["total"] == 3


def test_reply_with_count(world):
    b = world["backend"]
    reply = ok(query(b, "QueryZone", cond("name", "~=", "zone"), replyWithCount=True, limit=1))
    assert set(reply) == {"inventories", "total", "success"}
    assert reply["total"] == 2
    assert len(reply["inventories"]) == 1


def test_unknown_field_names_valid_fields(world):
    e = err(query(world["backend"], "QueryZone", cond("nope", "=", "x")), "SYS.1007")
    assert e["description"] == "One or more API argument is invalid"
    assert "nope" in e["details"]
    for valid in ("uuid", "name", "description", "state", "createDate", "cluster."):
        assert valid in e["details"]


def test_reserved_key_with_another_operator_is_a_condition(world):
    # 'limit>3' is not the reserved key: it is a condition on an unknown field
    err(query(world["backend"], "QueryZone", cond("limit", ">", "3")), "SYS.1007")


def test_unknown_parameter(world):
    e = err(world["backend"].call("QueryZone", {"bogus": "1"}), "SYS.1007")
    assert "bogus" in e["details"]


# ---------------------------------------------------------------------------------------------
# other Query APIs
# ---------------------------------------------------------------------------------------------

def test_query_system_and_user_tag(world):
    b = world["backend"]
    z1 = world["z1"]["uuid"]
    tags = ok(query(b, "QueryUserTag", cond("resourceUuid", "=", z1)))["inventories"]
    assert sorted(t["tag"] for t in tags) == ["owner:alice", "production"]
    assert all(t["resourceType"] == "ZoneVO" and t["type"] == "User" for t in tags)
    sys_tags = ok(query(b, "QuerySystemTag", cond("tag", "~=", "host::reservedMemory%"),
                        cond("resourceType", "=", "ClusterVO")))["inventories"]
    assert [t["tag"] for t in sys_tags] == ["host::reservedMemory::512M"]
    assert sys_tags[0]["type"] == "System"


def test_query_global_config(backend):
    reply = ok(query(backend, "QueryGlobalConfig", cond("category", "=", "kvm"),
                     cond("name", "=", "vm.consoleMode")))
    [inv] = reply["inventories"]
    assert inv["value"] == "vnc"
    assert inv["defaultValue"] == "vnc"
    ids = ok(query(backend, "QueryGlobalConfig", cond("category", "?=", "identity,vm")))
    assert {(i["category"], i["name"]) for i in ids["inventories"]} >= {
        ("identity", "session.timeout"), ("vm", "uniqueVmName")}
    # global configs carry no tags
    err(query(backend, "QueryGlobalConfig", cond("__systemTag__", "=", "x")), "SYS.1007")


def test_query_account(backend):
    [admin] = ok(query(backend, "QueryAccount", cond("name", "=", "admin")))["inventories"]
    assert "password" not in admin
    assert admin["type"] == "SystemAdmin"
    # the password column is not a queryable field
    e = err(query(backend, "QueryAccount", cond("password", "~=", "pbkdf2")), "SYS.1007")
    assert "password" in e["details"]


# ---------------------------------------------------------------------------------------------
# values are bound, never spliced
# ---------------------------------------------------------------------------------------------

INJECTIONS = [
    "x' OR '1'='1",
    "x\" OR \"1\"=\"1",
    "'; DROP TABLE ZoneVO; --",
    "\"; DROP TABLE ZoneVO; --",
    "zone-alpha' --",
    "1) OR (1=1",
    "%' OR 1=1 --",
    "\\",
    "'",
    "\x00",
]


@pytest.mark.parametrize("op", ["=", "!=", "~=", "!~=", "?=", "!?=", ">", "<="])
def test_injection_is_harmless(world, op):
    b = world["backend"]
    for value in INJECTIONS:
        for field in ("name", "cluster.name", "__userTag__"):
            reply = query(b, "QueryZone", cond(field, op, value))
            assert reply["success"] is True, (field, value, reply)
    assert names(query(b, "QueryZone")) == ALL_ZONES
    assert b.store.value("SELECT COUNT(*) FROM ZoneVO") == 3
    assert b.store.value("SELECT COUNT(*) FROM ClusterVO") == 3


def test_injection_matches_only_literally(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("name", "=", "x' OR '1'='1"))) == []
    assert names(query(b, "QueryZone", cond("name", "~=", "x' OR '1'='1"))) == []
    assert names(query(b, "QueryZone", cond("name", "?=", "x') OR ('1'='1"))) == []
    evil = zone(b, "Robert'); DROP TABLE ZoneVO;--")
    assert names(query(b, "QueryZone", cond("name", "=", evil["name"]))) == [evil["name"]]
    assert names(query(b, "QueryZone", cond("__userTag__", "=", "' OR 1=1 --"))) == []


def test_injection_in_field_names_is_refused(world):
    b = world["backend"]
    for name in ('name" = name OR "1', "name; DROP TABLE ZoneVO", 'uuid"--', "cluster.name\" OR 1"):
        err(query(b, "QueryZone", cond(name, "=", "x")), "SYS.1007")
    err(query(b, "QueryZone", fields=['name" FROM ZoneVO --']), "SYS.1007")
    err(query(b, "QueryZone", sortBy='name"; DROP TABLE ZoneVO; --'), "SYS.1007")
    assert names(query(b, "QueryZone")) == ALL_ZONES


# ---------------------------------------------------------------------------------------------
# numbers compare as numbers; a non-number against a number is SYS.1007
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def numeric():
    """The compiler over a small resource with numeric fields (no such field is in the
    catalogue yet: hosts, offerings and volumes bring them)."""
    from backend.catalogue.model import Field, Resource
    from backend.store.db import Store

    class Memory(Store):
        def __init__(self):          # an in-memory store with the same helpers
            self.path = ":memory:"
            self.conn = sqlite3.connect(":memory:", isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self._depth = 0

    store = Memory()
    store.conn.execute('CREATE TABLE "OfferingVO" (uuid TEXT, name TEXT, cpuNum INTEGER, '
                       'memorySize INTEGER, ratio REAL)')
    rows = [("a", "small", 1, 512, 0.5), ("b", "medium", 2, 2048, 1.5),
            ("c", "large", 10, 16384, 10.0), ("d", "none", None, None, None)]
    store.conn.executemany('INSERT INTO "OfferingVO" VALUES (?, ?, ?, ?, ?)', rows)
    resources = {"OfferingVO": Resource("OfferingVO", (
        Field("uuid"), Field("name"), Field("cpuNum", "int"), Field("memorySize", "int"),
        Field("ratio", "float")))}
    yield store, resources
    store.conn.close()


def _numeric_query(numeric, *conditions, **options):
    from backend.store import query as q

    store, resources = numeric
    options.setdefault("limit", 1000)
    options.setdefault("start", 0)
    conds = [q.Condition(*c) for c in conditions]
    reply = q.run(store, resources, "OfferingVO", "QueryInstanceOffering", conds, options)
    return sorted(i["name"] for i in reply["inventories"])


def test_numbers_compare_as_numbers(numeric):
    # as text '10' < '9'; as numbers it is not
    assert _numeric_query(numeric, ("cpuNum", ">", "9")) == ["large"]
    assert _numeric_query(numeric, ("cpuNum", ">=", "2")) == ["large", "medium"]
    assert _numeric_query(numeric, ("cpuNum", "<", "10")) == ["medium", "small"]
    assert _numeric_query(numeric, ("cpuNum", "<=", "1")) == ["small"]
    assert _numeric_query(numeric, ("memorySize", ">", "1000")) == ["large", "medium"]
    assert _numeric_query(numeric, ("ratio", ">", "1.25")) == ["large", "medium"]
    assert _numeric_query(numeric, ("cpuNum", "=", "2")) == ["medium"]
    assert _numeric_query(numeric, ("cpuNum", "?=", "1,10")) == ["large", "small"]
    assert _numeric_query(numeric, ("cpuNum", "=", "null")) == ["none"]
    assert _numeric_query(numeric, ("cpuNum", ">", "1.5")) == ["large", "medium"]
    sorted_by = _numeric_query(numeric, sortBy="cpuNum", sortDirection="desc")
    assert sorted_by  # sorting works on numeric columns too


@pytest.mark.parametrize("op", [">", "<", ">=", "<=", "=", "!=", "?="])
def test_numeric_comparison_with_non_number(numeric, op):
    from backend.errors import ApiError

    with pytest.raises(ApiError) as info:
        _numeric_query(numeric, ("cpuNum", op, "abc"))
    assert info.value.code == "SYS.1007"
    assert "abc" in info.value.details and "cpuNum" in info.value.details


def test_numeric_comparison_beyond_64_bits(numeric):
    assert _numeric_query(numeric, ("cpuNum", "<", "99999999999999999999999")) == \
        ["large", "medium", "small"]
    assert _numeric_query(numeric, ("cpuNum", ">", "-99999999999999999999999")) == \
        ["large", "medium", "small"]
    assert _numeric_query(numeric, ("cpuNum", ">", "1" * 5000)) == []


# ---------------------------------------------------------------------------------------------
# odd values: always a ZStack error reply, never an internal error
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [">", "<", ">=", "<="])
def test_comparison_without_a_value(world, op):
    b = world["backend"]
    e = err(query(b, "QueryZone", cond("name", op, "")), "SYS.1007")
    assert "name" in e["details"]
    err(query(b, "QueryZone", cond("cluster.name", op, "")), "SYS.1007")
    err(query(b, "QueryZone", cond("__userTag__", op, "")), "SYS.1007")


def test_equal_empty_string_is_a_value(world):
    b = world["backend"]
    assert names(query(b, "QueryZone", cond("description", "=", ""))) == []
    assert names(query(b, "QueryZone", cond("description", "!=", ""))) == ["zone-alpha",
                                                                          "zone-beta"]


def test_limit_beyond_64_bits(world):
    e = err(query(world["backend"], "QueryZone", limit="99999999999999999999999"), "SYS.1007")
    assert "limit" in e["details"]
    err(query(world["backend"], "QueryZone", start=2 ** 64), "SYS.1007")


def test_undecodable_text_in_a_condition(world):
    # what a command line holding invalid UTF-8 becomes (surrogateescape)
    b = world["backend"]
    for c in (cond("name", "=", "x\udcff"), cond("name", "~=", "\udce4\udcb8"),
              cond("na\udcffme", "=", "x"), cond("__userTag__", "=", "\udcff")):
        err(query(b, "QueryZone", c), "SYS.1007")
    err(query(b, "QueryZone", fields=["name\udcff"]), "SYS.1007")
