"""``zstack-cli -d``: the order of creation, matching what exists, and what differs
(issue #7 item 4), against an in-process backend on simulated hosts."""

import io
import json
from pathlib import Path

import pytest

from backend.catalogue import APIS
from zstackcli.deploy import run, schema
from zstackcli.deploy.apply import Deployer
from zstackcli.deploy.loader import load, read
from zstackcli.deploy.plan import make_plan
from zstackcli.deploy.validate import validate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simulated-two-hosts.yaml"


class Recorder:
    """The backend as the deployer's client, remembering which APIs were called."""

    def __init__(self, backend):
        self.backend = backend
        self.home = backend.home
        self.calls = []

    def call(self, name, params, progress=None):
        self.calls.append(name)
        return self.backend.call(name, params, None, progress)


@pytest.fixture
def client(backend):
    yield Recorder(backend)
    # Flat DHCP and metadata servers outlive the process (SPEC §9): take them down with
    # the hosts, so that no test leaves servers or namespaces behind.
    for zone in backend.call("QueryZone", {"conditions": []}).get("inventories", ()):
        backend.call("DeleteZone", {"uuid": zone["uuid"], "deleteMode": "Enforcing"})


def plan(client, text=None, path=EXAMPLE):
    if text is None:
        text, source, base = read(str(path))
        # VMs only created, not started: these tests need no DHCP servers (the e2e tests
        # run the example as it is)
        text = text.replace("    instanceOffering: small\n",
                            "    instanceOffering: small\n    strategy: JustCreate\n")
    else:
        source, base = "env.yaml", str(path.parent)
    entries, problems = validate(load(text, source), source, base, client.home)
    assert problems == []
    return make_plan(entries, client, source)


def deploy(client, text=None):
    steps, problems = plan(client, text)
    assert problems == []
    deployer = Deployer(client, "env.yaml", err=io.StringIO())
    assert deployer.run(steps) == (0, None)
    return deployer


def described(steps):
    out = []
    for s in steps:
        if s.what == "entry":
            out.append(f"{s.entry.kind.id} {s.entry.name}")
        elif s.what == "attach":
            out.append(f"attach {s.info['target'].name} to {s.entry.name}")
        else:
            out.append(f"{s.what} {s.entry.name}")
    return out


# -- order ------------------------------------------------------------------------------------

def test_order_puts_what_an_entry_needs_first():
    """Derived from the declarations: an entry's parent, every kind it names (through the
    catalogue's uuid parameters or a tag such as staticIp) and every kind it attaches
    come earlier (attachments are placed after the later of their two ends)."""
    position = {k: i for i, k in enumerate(schema.ORDER)}
    assert sorted(position) == sorted(schema.KINDS)
    for kind in schema.KINDS.values():
        if kind.parent:
            assert position[kind.parent[0]] < position[kind.key], kind.key
        for api in kind.apis():
            for key in schema.keys_for(kind, api).values():
                if key.ref and key.name not in [a.key for a in kind.attach]:
                    assert position[key.ref] < position[kind.key], (kind.key, key.name)


def test_the_example_in_creation_order_asking_only_queries(client):
    steps, problems = plan(client)
    assert problems == []
    assert all(s.state == "create" for s in steps)
    assert described(steps) == [
        "zone zone1", "cluster cluster1", "primaryStorage ps1", "attach ps1 to cluster1",
        "host host1", "host host2", "backupStorage bs1", "attach bs1 to zone1", "image tiny",
        "instanceOffering small", "diskOffering data16M", "l2Network l2-flat",
        "attach l2-flat to cluster1", "l3Network l3-flat", "ipRange range1", "dns l3-flat",
        "services l3-flat", "vm db1", "vm web1"]
    assert {APIS[name].query for name in client.calls} == {True}


def test_second_plan_finds_everything(client):
    first = deploy(client)
    assert len(first.summary["created"]) == 19
    client.calls.clear()
    steps, problems = plan(client)
    assert problems == [] and {s.state for s in steps} == {"exists"}
    assert {APIS[name].query for name in client.calls} == {True}
    second = Deployer(client, "env.yaml", err=io.StringIO())
    assert second.run(steps) == (0, None)
    assert second.summary["created"] == [] and len(second.summary["unchanged"]) == 19
    assert [i["uuid"] for i in second.summary["unchanged"]] == \
        [i["uuid"] for i in first.summary["created"]]


def test_children_of_a_new_parent_are_not_looked_up(client):
    steps, _ = plan(client, "zones: [{name: z, clusters: [{name: c, hosts: [{name: h, "
                            "managementIp: 1.1.1.1, username: u, password: p}]}]}]")
    assert [s.state for s in steps] == ["create"] * 3
    assert client.calls == ["QueryZone"]


# -- what exists ------------------------------------------------------------------------------

ZONE = """
zones:
  - name: z
    description: %s
    clusters: [{name: c}]
instanceOfferings: [{name: o, cpuNum: %d, memorySize: 64M}]
"""


def test_updatable_fields_are_updated_others_reported(client):
    deploy(client, ZONE % ("first", 1))
    steps, problems = plan(client, ZONE % ("second", 1))
    assert problems == []
    assert [s.state for s in steps] == ["update", "exists", "exists"]
    deployer = deploy(client, ZONE % ("second", 1))
    assert deployer.summary["updated"][0]["changed"] == ["description"]
    assert client.backend.call("QueryZone", {"conditions": []})["inventories"][0][
        "description"] == "second"
    steps, problems = plan(client, ZONE % ("second", 2))
    assert problems == [
        "env.yaml: instanceOfferings[0]: instance offering 'o' exists with cpuNum=1, but the "
        "file says cpuNum: 2; cpuNum can not be updated (change the file, or delete the "
        "instance offering first)"]


def test_a_reference_to_another_resource_is_a_difference(client):
    vms = """
images:
  - {name: %s, url: %s, format: raw, backupStorage: [bs], create: {size: 1M}}
backupStorage: [{name: bs, url: '${ZSTACK_HOME}/bs', hostname: 127.0.0.1}]
instanceOfferings: [{name: o, cpuNum: 1, memorySize: 64M}]
zones:
  - name: z
    clusters: [{name: c, primaryStorage: [ps], l2Networks: [l2],
                hosts: [{name: h, managementIp: 127.0.0.1, username: root, password: p,
                         libvirtUri: 'test:///default'}]}]
    primaryStorage: [{name: ps, url: /ps}]
    backupStorage: [bs]
    l2Networks:
      - {name: l2, physicalInterface: eth1,
         l3Networks: [{name: l3, ipRanges: [{name: r, networkCidr: 10.9.0.0/24}]}]}
vms: [{name: v, image: %s, instanceOffering: o, l3Networks: [l3], strategy: JustCreate}]
"""
    home = client.home
    deploy(client, vms % ("a", f"{home}/a.raw", "a"))
    steps, problems = plan(client, vms % ("b", f"{home}/b.raw", "b"))
    assert problems == [
        "env.yaml: vms[0]: VM 'v' exists with imageUuid=%s, but the file says image: b (not "
        "created yet); imageUuid can not be updated (change the file, or delete the VM first)"
        % steps[-1].entry.inventory["imageUuid"]]


def test_names_the_file_does_not_describe_are_looked_up_in_the_cloud(client):
    client.backend.call("CreateInstanceOffering", {"name": "big", "cpuNum": 4,
                                                   "memorySize": "1G"})
    text = "vms: [{name: v, image: tiny, instanceOffering: big, l3Networks: [l3]}]\n" \
           "images: [{name: tinny, url: /x, format: raw, backupStorage: [bs]}]"
    entries, problems = validate(load(text, "env.yaml"), "env.yaml", "/", client.home)
    steps, problems = make_plan(entries, client, "env.yaml")
    assert problems == [
        "env.yaml: images[0].backupStorage[0]: backup storage 'bs' is neither in the file nor "
        "in the cloud",
        "env.yaml: vms[0].image: image 'tiny' is neither in the file nor in the cloud "
        "(did you mean tinny?)",
        "env.yaml: vms[0].l3Networks[0]: L3 network 'l3' is neither in the file nor in the cloud"]
    vm = steps[-1].entry
    assert vm.targets["instanceOfferingUuid"].inventory["cpuNum"] == 4


def test_network_services_are_checked_against_the_providers(client):
    text = """
zones:
  - name: z
    l2Networks:
      - name: l2
        physicalInterface: eth1
        l3Networks:
          - name: l3
            networkServices: {flat: [DHCP, SNAT], Nope: [DHCP]}
"""
    entries, _ = validate(load(text, "env.yaml"), "env.yaml", "/", client.home)
    _, problems = make_plan(entries, client, "env.yaml")
    where = "env.yaml: zones[0].l2Networks[0].l3Networks[0].networkServices"
    assert problems == [
        f"{where}.flat: provider Flat has no service SNAT; it has [DHCP, Userdata, DNS, Eip]",
        f"{where}.Nope: no network service provider 'Nope'; providers are [Flat, VirtualRouter]"]


# -- run: the whole thing, in process ---------------------------------------------------------

def test_an_api_failure_names_the_path_and_what_was_created(client, tmp_path, capsys):
    env = tmp_path / "env.yaml"
    env.write_text("zones: [{name: z}]\nbackupStorage: [{name: bs, url: /tmp/bs-x, "
                   "hostname: 127.0.0.1}]\nimages: [{name: i, url: missing.qcow2, "
                   "format: qcow2, backupStorage: [bs]}]\n")
    assert run(client, str(env)) == 3
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[-3].startswith(f"{env}: images[0]: API call[AddImage] failed because "
                                "[code: SYS.1006")
    assert lines[-2] == f"{env}: deployment stopped; created before it: zone z, backup storage bs"
    reply = json.loads(out)
    assert reply["success"] is False and reply["error"]["code"] == "SYS.1006"
    assert [i["name"] for i in reply["created"]] == ["z", "bs"]


def test_a_bad_file_creates_nothing(client, tmp_path, capsys):
    env = tmp_path / "env.yaml"
    env.write_text("zones: [{name: z, clusters: [{name: c, hosts: [{name: h}]}]}]\n")
    assert run(client, str(env)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == f"{env}: nothing was created"
    assert client.calls == []


def _example(edit=None):
    """The example, web1's address pinned: the backend picks a free address at random,
    which could be db1's static 10.0.0.50."""
    text, _, _ = read(str(EXAMPLE))
    text = text.replace("    instanceOffering: small\n",
                        "    instanceOffering: small\n    strategy: JustCreate\n").replace(
        "    hostname: web1\n", "    hostname: web1\n    staticIp: {l3-flat: 10.0.0.40}\n")
    if edit is None:
        return text
    old, new = edit
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize("edit, field", [
    (("hostname: web1", "hostname: web9"), "hostname"),
    (("hello from web1", "hello from web7"), "userdata"),
    (("{l3-flat: 10.0.0.50}", "{l3-flat: 10.0.0.51}"), "staticIp[l3-flat]"),
    (("    host: host1\n", "    host: host2\n"), "hostUuid"),
    (("diskOfferings:\n", "diskOfferings:\n  - {name: d2, diskSize: 16M}\n"
                          "  - {name: d3, diskSize: 16M}\n"), None),
])
def test_a_rerun_compares_tags_lists_and_the_host(client, edit, field):
    deploy(client, _example())
    text = _example(edit)
    if field is None:          # an unrelated change: still nothing differs
        steps, problems = plan(client, text, path=EXAMPLE)
        assert problems == []
        return
    steps, problems = plan(client, text, path=EXAMPLE)
    assert len(problems) == 1, problems
    assert f"exists with {field}=" in problems[0] and "can not be updated" in problems[0]


def test_a_rerun_compares_list_references(client):
    deploy(client, _example())
    text = _example(("diskOfferings:\n", "diskOfferings:\n  - {name: d2, diskSize: 16M}\n"))
    deploy(client, text)
    changed = text.replace("    l3Networks: [l3-flat]\n    host: host1",
                           "    l3Networks: [l3-flat, l3-two]\n    host: host1").replace(
        "          - name: l3-flat\n", "          - name: l3-two\n          - name: l3-flat\n")
    _, problems = plan(client, changed, path=EXAMPLE)
    assert any("vms[1]" in p and "to be created" not in p and "l3NetworkUuids=" in p
               for p in problems), problems
    changed = text.replace("dataDiskOfferings: [data16M]", "dataDiskOfferings: [d2]")
    _, problems = plan(client, changed, path=EXAMPLE)
    assert len(problems) == 1 and "dataDiskOfferingUuids=" in problems[0]
    changed = text.replace("    backupStorage: [bs1]\n\ninstance",
                           "    backupStorage: [bs1, bs2]\n\ninstance").replace(
        "backupStorage:\n  - name: bs1", "backupStorage:\n  - {name: bs2, url: /tmp/bs2, "
        "hostname: 127.0.0.1}\n  - name: bs1")
    _, problems = plan(client, changed, path=EXAMPLE)
    assert len(problems) == 1 and "images[0]" in problems[0] and \
        "backupStorageUuids=" in problems[0], problems


def test_a_network_cidr_not_written_canonically_matches_on_a_rerun(client):
    text = """
zones:
  - name: z
    l2Networks:
      - {name: l2, physicalInterface: eth1,
         l3Networks: [{name: l3, ipRanges: [{name: r, networkCidr: 10.1.0.5/24}]}]}
"""
    deploy(client, text)
    steps, problems = plan(client, text)
    assert problems == [] and {s.state for s in steps} == {"exists"}
    _, problems = plan(client, text.replace("10.1.0.5/24", "10.1.0.5/25"))
    assert len(problems) == 1 and "networkCidr=10.1.0.0/24" in problems[0]


def test_a_value_error_while_deploying_names_the_path_and_what_was_created(client, capsys):
    text = f"""
zones: [{{name: z, backupStorage: [bs]}}]
backupStorage: [{{name: bs, url: '{client.home}/bs', hostname: 127.0.0.1}}]
images: [{{name: i, url: '{client.home}/i.raw', format: raw, backupStorage: [bs],
          create: {{size: 1M}}}}]
"""
    steps, problems = plan(client, text)
    assert problems == []
    image = next(s.entry for s in steps if s.what == "entry" and s.entry.kind.id == "image")
    image.params["url"] = f"{client.home}/x\0y.raw"      # what validation now refuses
    deployer = Deployer(client, "env.yaml", err=io.StringIO())
    code, error = deployer.run(steps)
    assert code == 1 and "embedded null byte" in error["details"]
    err = capsys.readouterr().err.splitlines()
    assert err[-2] == "env.yaml: images[0]: embedded null byte"
    assert err[-1] == ("env.yaml: deployment stopped; created before it: zone z, "
                       "backup storage bs, attachment of backup storage bs to zone z")


def test_create_does_not_write_through_a_symlink_made_after_validation(client, tmp_path,
                                                                        capsys):
    text = f"""
backupStorage: [{{name: bs, url: '{client.home}/bs', hostname: 127.0.0.1}}]
images: [{{name: i, url: '{tmp_path}/i.raw', format: raw, backupStorage: [bs],
          create: {{size: 1M}}}}]
"""
    steps, problems = plan(client, text)
    assert problems == []
    (tmp_path / "i.raw").symlink_to(tmp_path / "target.raw")
    code, _ = Deployer(client, "env.yaml", err=io.StringIO()).run(steps)
    assert code == 1 and not (tmp_path / "target.raw").exists()
    assert capsys.readouterr().err.splitlines()[-2] == (
        f"env.yaml: images[0].create: 'create' will not make {tmp_path}/i.raw: it is a "
        "symlink to nothing")
