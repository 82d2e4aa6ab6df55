"""``zstack-cli -d env.yaml`` through the installed command: the shipped example
deploys a whole simulated cloud, a second run creates nothing, and a broken file
is refused with its YAML path before anything exists (issue #7 item 4)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simulated-two-hosts.yaml"


@pytest.fixture
def zs(tmp_path, cli):
    env = dict(os.environ, ZSTACK_HOME=str(tmp_path / "home"), ZSTACK_HOST_AGENT="off")
    env.pop("ZSTACK_LANG", None)

    def run(*args, stdin=None, expect=0, cwd=tmp_path):
        result = subprocess.run([cli, *args], env=env, capture_output=True, text=True,
                                input=stdin, timeout=120, cwd=cwd)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result
    run.home = tmp_path / "home"
    yield run
    # Flat DHCP and metadata servers outlive the command (SPEC §9): take them down with
    # the hosts, so that no test leaves servers or namespaces behind.
    for zone in query(run, "QueryZone", "fields=uuid"):
        run("DeleteZone", f"uuid={zone['uuid']}", "deleteMode=Enforcing")


def query(zs, *words):
    return json.loads(zs(*words).stdout)["inventories"]


def test_example_deploys_then_a_second_run_creates_nothing(zs):
    first = zs("-d", str(EXAMPLE))
    assert "created zone zone1" in first.stderr
    assert "created attachment of primary storage ps1 to cluster cluster1" in first.stderr
    assert first.stderr.splitlines()[-1] == f"{EXAMPLE}: 19 created, 0 updated, 0 unchanged"
    summary = json.loads(first.stdout)
    assert summary["success"] is True and summary["unchanged"] == []
    created = {(i["kind"], i["name"]): i["uuid"] for i in summary["created"]}

    # everything the file describes is there, with the uuids the summary gave
    [zone] = query(zs, "QueryZone", "name=zone1")
    assert created[("zone", "zone1")] == zone["uuid"]
    hosts = query(zs, "QueryHost", "cluster.name=cluster1")
    assert sorted(h["name"] for h in hosts) == ["host1", "host2"]
    assert {h["status"] for h in hosts} == {"Connected"}
    assert {h["libvirtUri"] for h in hosts} == {"test:///default"}
    [ps] = query(zs, "QueryPrimaryStorage", "name=ps1")
    [cluster] = query(zs, "QueryCluster", "name=cluster1")
    assert ps["attachedClusterUuids"] == [cluster["uuid"]]
    [bs] = query(zs, "QueryBackupStorage", "name=bs1")
    assert bs["attachedZoneUuids"] == [zone["uuid"]] and bs["url"] == str(zs.home / "bs")
    [image] = query(zs, "QueryImage", "name=tiny")
    assert image["status"] == "Ready" and (zs.home / "images" / "tiny.qcow2").exists()
    [l3] = query(zs, "QueryL3Network", "name=l3-flat")
    assert l3["dns"] == ["10.0.0.2"]
    assert sorted(s["networkServiceType"] for s in l3["networkServices"]) == ["DHCP", "Userdata"]
    assert [r["name"] for r in l3["ipRanges"]] == ["range1"]
    [l2] = query(zs, "QueryL2Network", "name=l2-flat")
    assert l2["attachedClusterUuids"] == [cluster["uuid"]] and l2["type"] == "L2NoVlanNetwork"
    vms = {v["name"]: v for v in query(zs, "QueryVmInstance")}
    assert sorted(vms) == ["db1", "web1"]
    assert {v["state"] for v in vms.values()} == {"Running"}
    assert vms["web1"]["hostUuid"] == created[("host", "host1")]
    assert vms["db1"]["vmNics"][0]["ip"] == "10.0.0.50"
    assert [v["type"] for v in vms["db1"]["allVolumes"]] == ["Root", "Data"]
    tags = [t["tag"] for t in query(zs, "QuerySystemTag", f"resourceUuid={vms['web1']['uuid']}")]
    assert "hostname::web1" in tags
    assert "userdata::#cloud-config\\npackages: [nginx]\\n" in "".join(tags)

    # again, from stdin: nothing new, the same uuids
    second = zs("-d", "-", stdin=EXAMPLE.read_text())
    assert "created" not in second.stderr.replace("0 created", "")
    assert "exists  zone zone1" in second.stderr
    assert second.stderr.splitlines()[-1] == "<stdin>: 0 created, 0 updated, 19 unchanged"
    again = json.loads(second.stdout)
    assert again["created"] == [] and again["updated"] == []
    assert {(i["kind"], i["name"]): i["uuid"] for i in again["unchanged"]} == created
    assert len(query(zs, "QueryVmInstance")) == 2 and len(query(zs, "QueryHost")) == 2


BROKEN_HOST = """\
zones:
  - name: zone1
    clusters:
      - name: cluster1
        hosts:
          - {name: host1, managementIp: 127.0.0.1, username: root, password: password,
             libvirtUri: "test:///default"}
          - {name: host2, managmentIp: 127.0.0.2, username: root, password: password}
"""


def test_a_broken_file_names_the_path_and_creates_nothing(zs, tmp_path):
    env = tmp_path / "env.yaml"
    env.write_text(EXAMPLE.read_text().replace("managementIp: 127.0.0.2", "managmentIp: x"))
    err = zs("-d", "env.yaml", expect=1).stderr.splitlines()
    assert err == [
        "env.yaml: zones[0].clusters[0].hosts[1]: unknown key 'managmentIp' "
        "(did you mean managementIp?)",
        "env.yaml: nothing was created"]
    for api in ("QueryZone", "QueryHost", "QueryImage", "QueryVmInstance"):
        assert json.loads(zs(api, "count=true").stdout)["total"] == 0, api

    result = zs("-d", "-", stdin=BROKEN_HOST, expect=1)
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "<stdin>: zones[0].clusters[0].hosts[1]: unknown key 'managmentIp' "
        "(did you mean managementIp?)")
    assert json.loads(zs("QueryZone", "count=true").stdout)["total"] == 0


def test_yaml_syntax_and_unreadable_files(zs, tmp_path):
    err = zs("-d", "-", stdin="zones:\n  - name: a\n   b: 1\n", expect=1).stderr
    assert err.startswith("<stdin>: line 3, column 4: ")
    err = zs("-d", str(tmp_path / "nope.yaml"), expect=1).stderr
    assert err.strip() == f"cannot read {tmp_path / 'nope.yaml'}: No such file or directory"
    err = zs("-d", "x.yaml", "QueryZone", expect=1).stderr
    assert err.strip() == "-d deploys a file: it takes no command and no -f"


def test_an_api_failure_stops_with_the_path_and_exit_3(zs, tmp_path):
    (tmp_path / "env.yaml").write_text(f"""\
zones: [{{name: z1}}]
backupStorage: [{{name: bs, url: '{tmp_path}/bs', hostname: 127.0.0.1}}]
images: [{{name: gone, url: gone.qcow2, format: qcow2, backupStorage: [bs]}}]
""")
    result = zs("-d", "env.yaml", expect=3)
    err = result.stderr.splitlines()
    assert err[:2] == ["created zone z1", "created backup storage bs"]
    assert err[2].startswith("env.yaml: images[0]: API call[AddImage] failed because "
                             "[code: SYS.1006")
    assert f"{tmp_path}/gone.qcow2" in err[2]       # relative to the file's directory
    assert err[3] == "env.yaml: deployment stopped; created before it: zone z1, backup storage bs"
    assert json.loads(result.stdout)["success"] is False
    # fixed, it goes on from where it stopped
    (tmp_path / "env.yaml").write_text((tmp_path / "env.yaml").read_text().replace(
        "backupStorage: [bs]}", "backupStorage: [bs], create: {size: 1M}}"))
    done = zs("-d", "env.yaml", "-o", "table")
    assert done.stderr.splitlines()[-1] == "env.yaml: 1 created, 0 updated, 2 unchanged"
    assert done.stdout.splitlines()[0].split() == ["result", "kind", "name", "uuid", "path"]


def test_a_difference_that_can_not_be_updated_is_reported(zs, tmp_path):
    env = tmp_path / "env.yaml"
    env.write_text("instanceOfferings: [{name: small, cpuNum: 1, memorySize: 64M}]\n")
    zs("-d", "env.yaml")
    env.write_text("instanceOfferings: [{name: small, cpuNum: 2, memorySize: 64M}]\n"
                   "diskOfferings: [{name: d, diskSize: 1G}]\n")
    err = zs("-d", "env.yaml", expect=1).stderr.splitlines()
    assert err == [
        "env.yaml: instanceOfferings[0]: instance offering 'small' exists with cpuNum=1, but "
        "the file says cpuNum: 2; cpuNum can not be updated (change the file, or delete the "
        "instance offering first)",
        "env.yaml: nothing was created"]
    assert json.loads(zs("QueryDiskOffering", "count=true").stdout)["total"] == 0


def test_chinese_messages(zs, tmp_path):
    err = zs("--lang", "zh", "-d", "-", stdin=BROKEN_HOST, expect=1).stderr.splitlines()
    assert err[0] == ("<stdin>: zones[0].clusters[0].hosts[1]: 未知的键 'managmentIp'"
                      "（您是否想写 managementIp？）")
    assert err[-1] == "<stdin>：未创建任何资源"


def test_deploys_of_one_file_at_once_make_everything_once(zs, tmp_path, cli):
    """Several `-d` of one file started together on one store: one deploys, the
    others wait for it, then find everything there (SPEC §1: processes share a home)."""
    plan = tmp_path / "small.yaml"
    plan.write_text("zones:\n  - name: zone1\n    clusters:\n      - name: c1\n"
                    "instanceOfferings:\n" +
                    "".join(f"  - {{name: o{i}, cpuNum: 1, memorySize: 64M}}\n" for i in range(8)))
    env = dict(os.environ, ZSTACK_HOME=str(zs.home), ZSTACK_HOST_AGENT="off", ZSTACK_LANG="en")
    runs = [subprocess.Popen([cli, "-d", str(plan)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in runs]
    assert all(code == 0 for code, _, _ in results), results
    lasts = sorted(err.splitlines()[-1] for _, _, err in results)
    assert lasts == sorted([f"{plan}: 10 created, 0 updated, 0 unchanged"] +
                           [f"{plan}: 0 created, 0 updated, 10 unchanged"] * 2), lasts
    assert len(query(zs, "QueryZone")) == 1 and len(query(zs, "QueryInstanceOffering")) == 8
