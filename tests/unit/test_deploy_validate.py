"""``zstack-cli -d``: the file is checked against the catalogue before anything is
created, and every problem is one line naming its YAML path (issue #7 item 4)."""

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.catalogue import APIS, RESOURCES
from zstackcli.deploy import schema
from zstackcli.deploy.loader import DeployError, load
from zstackcli.deploy.validate import validate

HOST = "{name: %s, managementIp: 127.0.0.1, username: root, password: password}"


def check(text, base_dir="/base", home="/home/z"):
    data = load(textwrap.dedent(text), "env.yaml")
    return validate(data, "env.yaml", base_dir, home)


def problems(text, **kw):
    return check(text, **kw)[1]


def entries(text, **kw):
    found, trouble = check(text, **kw)
    assert trouble == []
    return found


# -- the file itself ----------------------------------------------------------------------

def test_yaml_syntax_error_names_line_and_column():
    with pytest.raises(DeployError) as e:
        load("zones:\n  - name: a\n   b: 1\n", "env.yaml")
    assert e.value.lines[0].startswith("env.yaml: line 3, column 4: ")


def test_a_key_given_twice_is_refused_not_silently_dropped():
    with pytest.raises(DeployError) as e:
        load("zones:\n  - name: a\n    name: b\n", "env.yaml")
    assert e.value.lines == ["env.yaml: line 3: key 'name' is given twice in one mapping"]


def test_merge_keys_still_work():
    data = load("a: &h {x: 1, y: 2}\nb: {<<: *h, y: 3}\n", "env.yaml")
    assert data["b"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text, message", [
    ("", "env.yaml: the file is empty: nothing to deploy"),
    ("x: !!python/object:os.system a\n", "could not determine a constructor"),
    ("zones: [{name: z, description: 2024-13-45}]\n", "month must be in 1..12"),
])
def test_unloadable_files(text, message):
    with pytest.raises(DeployError) as e:
        load(text, "env.yaml")
    assert message in e.value.lines[0] and e.value.lines[0].startswith("env.yaml: ")


def test_document_shape():
    assert problems("- 1\n") == ["env.yaml: expected a mapping of keys, got a list"]
    assert problems("zonez: []\n") == ["env.yaml: unknown key 'zonez' (did you mean zones?)"]
    assert problems("zones: {name: z}\n") == [
        "env.yaml: zones: expected a list of entries, got a mapping"]
    assert problems("zones: [z]\n") == ["env.yaml: zones[0]: expected a mapping of keys, got 'z'"]


# -- keys and values -------------------------------------------------------------------------

def test_unknown_key_named_by_path_with_a_hint():
    found = problems("""
        zones:
          - name: z
            clusters:
              - name: c0
              - name: c1
                hosts:
                  - {name: h1, managmentIp: 1.2.3.4, username: root, password: pw}
        """)
    assert found == [
        "env.yaml: zones[0].clusters[1].hosts[0]: unknown key 'managmentIp' "
        "(did you mean managementIp?)",
        "env.yaml: zones[0].clusters[1].hosts[0]: missing required key 'managementIp'"]


def test_a_key_with_no_near_miss_lists_the_valid_ones():
    [line] = problems("instanceOfferings: [{name: o, cpuNum: 1, memorySize: 1G, colour: red}]")
    assert line.startswith("env.yaml: instanceOfferings[0]: unknown key 'colour' (valid keys: ")
    assert "cpuNum" in line and "memorySize" in line


def test_wrong_types_are_named_by_the_path_of_the_value():
    found = problems("""
        zones:
          - name: z
            clusters:
              - name: c
                hosts:
                  - {name: h, managementIp: 1.1.1.1, username: root, password: yes,
                     sshPort: abc}
        instanceOfferings: [{name: o, cpuNum: two, memorySize: lots}]
        images: [{name: i, url: /x, format: qcow3, backupStorage: [b], system: maybe}]
        """)
    assert found == [
        "env.yaml: zones[0].clusters[0].hosts[0].password: expected a string, got true "
        "(quote it to make it a string)",
        "env.yaml: zones[0].clusters[0].hosts[0].sshPort: expected an integer, got 'abc'",
        "env.yaml: images[0].format: expected one of [qcow2, raw, iso], got 'qcow3'",
        "env.yaml: images[0].system: expected true or false, got 'maybe'",
        "env.yaml: instanceOfferings[0].cpuNum: expected an integer, got 'two'",
        "env.yaml: instanceOfferings[0].memorySize: expected a size in bytes or with a unit "
        "(64M, 1G), got 'lots'",
    ]


def test_values_are_typed_as_the_api_takes_them():
    [offering] = entries("instanceOfferings: [{name: o, cpuNum: '2', memorySize: 64M}]")
    assert offering.params == {"name": "o", "cpuNum": 2, "memorySize": 64 << 20}
    [image] = entries("images: [{name: i, url: /x, format: QCOW2, backupStorage: bs1}]")
    assert image.params["format"] == "qcow2"
    assert image.refs == {"backupStorageUuids": ("backupStorage", ["bs1"], "backupStorage")}
    [host] = entries("zones: [{name: z, clusters: [{name: c, hosts: [%s]}]}]" % (HOST % "h"))[2:]
    assert host.params["password"] == "password" and "clusterUuid" not in host.params


def test_a_required_parameter_with_one_choice_is_implied():
    zone, cluster = entries("zones: [{name: z, clusters: [{name: c}]}]")
    assert cluster.params["hypervisorType"] == "KVM" and cluster.parent is zone


def test_references_are_names_and_parents_are_implied():
    found = problems("zones: [{name: z, clusters: [{name: c, zone: z}]}]")
    assert found == ["env.yaml: zones[0].clusters[0]: unknown key 'zone' (valid keys: "
                     + ", ".join(schema.keys_for(schema.KINDS["clusters"], "CreateCluster"))
                     + ")"]
    assert problems("vms: [{name: v, imageUuid: x, instanceOffering: o, l3Networks: [l]}]") == [
        "env.yaml: vms[0]: unknown key 'imageUuid' (did you mean image?)",
        "env.yaml: vms[0]: missing required key 'image'"]
    assert problems("vms: [{name: v, image: [a, b], instanceOffering: o, l3Networks: [l, l]}]") \
        == ["env.yaml: vms[0].image: expected a string, got a list",
            "env.yaml: vms[0].l3Networks: 'l' is listed twice"]


def test_every_api_parameter_is_a_key():
    """The keys come from the catalogue: a new parameter is a new key, nothing to add here."""
    for kind in schema.KINDS.values():
        for api in kind.apis():
            keys = schema.keys_for(kind, api)
            params = {k.param.name for k in keys.values() if k.param is not None}
            implied = {kind.parent[1]} if kind.parent else set()
            assert params | implied == set(APIS[api].params), (kind.key, api)


def test_duplicate_names():
    found = problems("""
        zones:
          - name: z
            l2Networks:
              - name: l2
                physicalInterface: eth1
                l3Networks:
                  - name: a
                    ipRanges: [{name: r, networkCidr: 10.0.0.0/24}]
                  - name: b
                    ipRanges: [{name: r, networkCidr: 10.0.1.0/24},
                               {name: r, networkCidr: 10.0.2.0/24}]
          - name: z
        """)
    assert found == [
        "env.yaml: zones[0].l2Networks[0].l3Networks[1].ipRanges[1]: duplicate IP range name "
        "'r' (also at zones[0].l2Networks[0].l3Networks[1].ipRanges[0])",
        "env.yaml: zones[1]: duplicate zone name 'z' (also at zones[0])"]


def test_types_choose_the_api():
    zone, novlan, vlan, short = entries("""
        zones:
          - name: z
            l2Networks:
              - {name: a, physicalInterface: eth1}
              - {name: b, physicalInterface: eth1, vlan: 10}
              - {name: c, physicalInterface: eth1, type: vlan, vlan: 11}
        """)
    assert (novlan.api, vlan.api, short.api) == (
        "CreateL2NoVlanNetwork", "CreateL2VlanNetwork", "CreateL2VlanNetwork")
    assert problems("zones: [{name: z, l2Networks: [{name: a, physicalInterface: eth1, "
                    "type: NoVlan, vlan: 3}, {name: b, physicalInterface: e, type: Foo}]}]") == [
        "env.yaml: zones[0].l2Networks[0]: key 'vlan' does not apply to L2NoVlanNetwork",
        "env.yaml: zones[0].l2Networks[1].type: unknown type 'Foo'; valid types are "
        "[L2NoVlanNetwork, L2VlanNetwork, NoVlan, Vlan]"]


# -- system tags -------------------------------------------------------------------------------

VM = "vms: [{name: v, image: i, instanceOffering: o, l3Networks: [l3], %s}]"


def test_tag_keys_become_system_tags(tmp_path):
    (tmp_path / "cloud.yaml").write_text("#cloud-config\nruncmd: [ls]\n")
    [vm] = entries(VM % "hostname: web1, userdata: '@cloud.yaml', staticIp: {l3: 10.0.0.5}, "
                        "bootOrder: [CdRom, HardDisk], systemTags: ['sshkey::ssh-rsa AAA']",
                   base_dir=str(tmp_path))
    assert vm.params["systemTags"] == ["sshkey::ssh-rsa AAA"]
    assert vm.tags == ["hostname::web1", "userdata::#cloud-config\nruncmd: [ls]\n",
                       "bootOrder::CdRom,HardDisk"]
    assert vm.tag_refs == [("staticIp", "l3Networks", "l3", "10.0.0.5", "vms[0].staticIp.l3")]


def test_tags_are_checked_against_the_registered_patterns():
    assert problems(VM % "hostname: -bad-, systemTags: ['hostnme::x']") == [
        "env.yaml: vms[0].hostname: invalid hostname[-bad-]: a hostname is a DNS label of "
        "letters, digits and '-', at most 63 characters, not starting or ending with '-'",
        "env.yaml: vms[0].systemTags: no system tag matches[hostnme::x] for "
        "resourceType[VmInstanceVO]"]
    assert problems(VM % "userdata: '@missing.yaml'")[0].startswith(
        "env.yaml: vms[0].userdata: cannot read file[missing.yaml]")


# -- urls and blank images ------------------------------------------------------------------------

def test_urls_expand_variables_and_relative_paths(monkeypatch):
    monkeypatch.setenv("IMAGES", "/srv/images")
    bs, a, b, c = entries("""
        backupStorage: [{name: bs, url: '${ZSTACK_HOME}/bs/', hostname: 127.0.0.1}]
        images:
          - {name: a, url: '${IMAGES}/a.qcow2', format: qcow2, backupStorage: [bs]}
          - {name: b, url: 'file://sub/../b.qcow2', format: qcow2, backupStorage: [bs]}
          - {name: c, url: 'http://x/${IMAGES}/c.qcow2', format: qcow2, backupStorage: [bs]}
        """, base_dir="/work")
    assert bs.params["url"] == "/home/z/bs"
    assert a.params["url"] == "/srv/images/a.qcow2"
    assert b.params["url"] == "file:///work/b.qcow2"
    assert c.params["url"] == "http://x//srv/images/c.qcow2"
    monkeypatch.delenv("IMAGES")
    assert problems("images: [{name: a, url: '${IMAGES}/a', format: raw, backupStorage: b}]") == [
        "env.yaml: images[0].url: unknown environment variable ${IMAGES}"]


def test_create_needs_a_local_file_and_a_disk_format():
    assert problems("""
        images:
          - {name: a, url: 'http://x/a', format: qcow2, backupStorage: [b], create: {size: 1M}}
          - {name: b, url: /a.iso, format: iso, mediaType: ISO, backupStorage: [b],
             create: {size: 1M}}
          - {name: c, url: /c, format: raw, backupStorage: [b], create: {size: 1M, sparse: no}}
        """) == [
        "env.yaml: images[0].create: 'create' needs a url that is a file of this machine, "
        "got http://x/a",
        "env.yaml: images[1].create: 'create' makes qcow2 or raw images, not iso",
        "env.yaml: images[2].create: unknown key 'sparse' (valid keys: size)"]


def test_no_traceback_for_odd_values():
    for text in ("zones: [{name: [1]}]", "zones: [{name: null}]", "zones: [{1: 2}]",
                 "vms: [{name: v, staticIp: 3}]", "images: [{create: 5}]",
                 "zones: [{name: z, l2Networks: [{name: l, type: [x]}]}]"):
        assert problems(text), text


def test_compared_fields_exist():
    for kind in schema.KINDS.values():
        assert set(kind.nocompare) <= set(RESOURCES[kind.resource].fields)


# -- any document: problems, never a traceback ------------------------------------------------

KNOWN_KEYS = sorted({k for kind in schema.KINDS.values() for k in schema.all_keys(kind)}
                    | set(schema.TOP_LEVEL) | {"size", "Flat", "l3"})
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["64M", "KVM", "/x", "@f", "a::b",
                                                           "${HOME}", "${NOPE_X}"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(KNOWN_KEYS), inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(schema.TOP_LEVEL) + ["zonez"]),
                       st.lists(st.dictionaries(st.sampled_from(KNOWN_KEYS), VALUES,
                                                max_size=6), max_size=3), max_size=4))
def test_any_document_gets_problems_or_entries_never_an_exception(data):
    found, trouble = validate(data, "env.yaml", "/nonexistent", "/home/z")
    assert all(line.startswith("env.yaml: ") for line in trouble)
    assert trouble or all(e.name for e in found)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(list(":-[]{}&*!|>'\"%@`#, \n\t?<=") +
                                          ["- ", ": ", "<<: ", "!!", "\n  "]),
                          st.text(max_size=4)), max_size=30).map("".join))
def test_any_text_loads_or_names_its_problem(text):
    try:
        load(text, "env.yaml")
    except DeployError as e:
        assert e.lines[0].startswith("env.yaml: ")
