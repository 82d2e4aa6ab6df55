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
    assert data["b"] == {"x": "1", "y": "3"}      # numbers keep their text (Plain)
    assert data["b"]["y"].typed == 3


@pytest.mark.parametrize("text, message", [
    ("", "env.yaml: the file is empty: nothing to deploy"),
    ("x: !!python/object:os.system a\n", "could not determine a constructor"),
    ("zones: [{name: z, cpu: !!int abc}]\n", "invalid literal for int()"),
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
    monkeypatch.setenv("HOME", "/srv/images")
    bs, a, b, c = entries("""
        backupStorage: [{name: bs, url: '${ZSTACK_HOME}/bs/', hostname: 127.0.0.1}]
        images:
          - {name: a, url: '${HOME}/a.qcow2', format: qcow2, backupStorage: [bs]}
          - {name: b, url: 'file://sub/../b.qcow2', format: qcow2, backupStorage: [bs]}
          - {name: c, url: 'http://x/${HOME}/c.qcow2', format: qcow2, backupStorage: [bs]}
        """, base_dir="/work")
    assert bs.params["url"] == "/home/z/bs"
    assert a.params["url"] == "/srv/images/a.qcow2"
    assert b.params["url"] == "file:///work/b.qcow2"
    assert c.params["url"] == "http://x//srv/images/c.qcow2"
    monkeypatch.delenv("HOME")
    assert problems("images: [{name: a, url: '${HOME}/a', format: raw, backupStorage: b}]") == [
        "env.yaml: images[0].url: unknown environment variable ${HOME}"]


def test_only_the_homes_are_expanded_in_urls(monkeypatch):
    """Any other variable could send a secret of the environment to a server."""
    monkeypatch.setenv("SECRET_TOKEN", "s3cr3t")
    found = problems("images: [{name: a, url: 'http://127.0.0.1:9/x?k=${SECRET_TOKEN}', "
                     "format: raw, backupStorage: b}]")
    assert found == ["env.yaml: images[0].url: ${SECRET_TOKEN} can not be used in a url: "
                     "only ${ZSTACK_HOME} and ${HOME} are expanded"]
    assert "s3cr3t" not in found[0]


def test_tag_files_are_read_only_inside_the_files_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cloud.yaml").write_text("#cloud-config\n")
    (tmp_path / "link").symlink_to("/etc/hostname")
    base = str(tmp_path)
    [vm] = entries(VM % "userdata: '@sub/cloud.yaml'", base_dir=base)
    assert vm.tags == ["userdata::#cloud-config\n"]
    [vm] = entries(VM % "userdata: '@@/etc/hostname'", base_dir=base)
    assert vm.tags == ["userdata::@/etc/hostname"]
    for path in ("/etc/hostname", "../../etc/hostname", "link", "~/x"):
        assert problems(VM % f"userdata: '@{path}'", base_dir=base) == [
            f"env.yaml: vms[0].userdata: cannot read file[{path}]: only files inside {base} "
            "may be read"]
    assert problems(VM % "hostname: '@../../etc/hostname'", base_dir=base) == [
        f"env.yaml: vms[0].hostname: cannot read file[../../etc/hostname]: only files "
        f"inside {base} may be read"]
    assert problems(VM % "systemTags: ['userdata::@/etc/hostname']", base_dir=base)[0] \
        .endswith("only files inside %s may be read" % base)


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


def test_plain_scalars_that_look_like_numbers_keep_their_text():
    """YAML 1.1 reads 0777 as 511, 1:30 as 90: a string parameter gets what was typed."""
    [zone] = entries("zones: [{name: 0777, description: 1:30}]")
    assert zone.params == {"name": "0777", "description": "1:30"}
    for written in ("1_000", "0x1F", "0123456", "2024-01-01 10:00:00", "1.50", "2024-13-45",
                    ".inf"):
        [zone] = entries(f"zones: [{{name: z, description: {written}}}]")
        assert zone.params["description"] == written
    host = entries("zones: [{name: z, clusters: [{name: c, hosts: [{name: h, managementIp: "
                   "1.1.1.1, username: root, password: 0123456, sshPort: 0x16}]}]}]")[2]
    assert host.params["password"] == "0123456" and host.params["sshPort"] == 22
    [offering] = entries("instanceOfferings: [{name: o, cpuNum: 1_0, memorySize: 0x4000000}]")
    assert offering.params == {"name": "o", "cpuNum": 10, "memorySize": 64 << 20}
    assert problems("instanceOfferings: [{name: o, cpuNum: 1.5, memorySize: 2024-01-01}]") == [
        "env.yaml: instanceOfferings[0].cpuNum: expected an integer, got 1.5",
        "env.yaml: instanceOfferings[0].memorySize: expected a size in bytes or with a unit "
        "(64M, 1G), got 2024-01-01"]


def test_aliases_can_not_blow_a_small_file_up():
    import time

    level = ["a: &a [" + ", ".join(["x"] * 60) + "]"]
    for name, prev in (("b", "a"), ("c", "b")):
        level.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 60) + "]")
    text = "\n".join(level) + "\nd: [" + ", ".join(["*c"] * 200) + "]\n"
    start = time.monotonic()
    with pytest.raises(DeployError) as e:
        load(text, "env.yaml")
    assert time.monotonic() - start < 2
    assert e.value.lines == ["env.yaml: more than 1000000 values (counting every use of an "
                             "alias): refused"]


def test_a_big_plain_file_loads():
    text = "instanceOfferings:\n" + "".join(
        f"  - name: o{i}\n    cpuNum: 1\n    memorySize: 64M\n" for i in range(5000))
    assert len(load(text, "env.yaml")["instanceOfferings"]) == 5000


def test_at_most_50_problems_are_printed(tmp_path, capsys):
    from zstackcli.deploy import run

    env = tmp_path / "env.yaml"
    env.write_text("zones: [" + ", ".join(["{nam: z}"] * 80) + "]\n")
    class NoCloud:
        home = "/home/z"

    assert run(NoCloud(), str(env)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 52
    assert lines[-2] == "... and 110 more" and lines[-1] == f"{env}: nothing was created"


def test_a_nul_byte_in_a_url_is_refused():
    found = problems('images: [{name: i, url: "/tmp/x\\0y.raw", format: raw, '
                     'backupStorage: [b], create: {size: 1M}}]')
    assert found == ["env.yaml: images[0].url: a url or path can not contain a NUL byte (\\0)"]


def test_a_file_that_is_not_utf8_is_named_once(tmp_path):
    from zstackcli.deploy.loader import read

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"zones: [\xff]\n")
    with pytest.raises(DeployError) as e:
        read(str(bad))
    assert e.value.lines == [f"cannot read {bad}: not UTF-8 text (byte 8)"]


def test_a_closed_stdin_is_a_deploy_error(monkeypatch):
    import sys

    from zstackcli.deploy.loader import read

    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(DeployError) as e:
        read("-")
    assert e.value.lines == ["cannot read stdin: it is closed"]


def test_dns_addresses_are_checked_before_anything_is_created():
    text = ("zones: [{name: z, l2Networks: [{name: l2, physicalInterface: eth1, l3Networks: ["
            '{name: l3, dns: [" 10.1.0.1", "010.1.0.2", "fe80::1", 10.1.0.3, yes, ""]}, '
            "{name: l4, dns: 10.1.0.4}]}]}]")
    assert problems(text) == [
        "env.yaml: zones[0].l2Networks[0].l3Networks[0].dns[0]: expected an IPv4 address "
        "such as 10.0.0.2, got ' 10.1.0.1'",
        "env.yaml: zones[0].l2Networks[0].l3Networks[0].dns[1]: expected an IPv4 address "
        "such as 10.0.0.2, got '010.1.0.2'",
        "env.yaml: zones[0].l2Networks[0].l3Networks[0].dns[2]: expected an IPv4 address "
        "such as 10.0.0.2, got 'fe80::1'",
        "env.yaml: zones[0].l2Networks[0].l3Networks[0].dns[4]: expected a string, got true "
        "(quote it to make it a string)",
        "env.yaml: zones[0].l2Networks[0].l3Networks[0].dns[5]: must not be empty"]
    l3, l4 = [e for e in entries(text.replace('" 10.1.0.1", "010.1.0.2", "fe80::1", ', "")
                                 .replace(', yes, ""', "")) if e.kind.key == "l3Networks"]
    assert l3.extras["dns"] == ["10.1.0.3"] and l4.extras["dns"] == ["10.1.0.4"]


def test_create_refuses_a_dangling_symlink(tmp_path):
    (tmp_path / "i.raw").symlink_to(tmp_path / "elsewhere.raw")
    assert problems("images: [{name: i, url: i.raw, format: raw, backupStorage: [b], "
                    "create: {size: 1M}}]", base_dir=str(tmp_path)) == [
        f"env.yaml: images[0].create: 'create' will not make {tmp_path}/i.raw: it is a "
        "symlink to nothing"]


def test_values_outside_the_catalogues_bounds_are_refused_before_anything_is_made():
    assert problems("instanceOfferings: [{name: s, cpuNum: 0, memorySize: 1M}]\n"
                    "diskOfferings: [{name: d, diskSize: 1K}]") == [
        "env.yaml: instanceOfferings[0].cpuNum: must be at least 1, got 0",
        "env.yaml: instanceOfferings[0].memorySize: must be at least 16M, got '1M'",
        "env.yaml: diskOfferings[0].diskSize: must be at least 1M, got '1K'"]
