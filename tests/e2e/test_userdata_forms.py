"""The seed's userdata command lines work verbatim, and the three ways of giving
the same YAML (the seed's escaped one-liner, the YAML pasted between quotes over
several lines, and tag=userdata::@file) store the same tag (SPEC §3, §9; seed §2)."""

import json
import os
import subprocess

import pytest

from tests.clouds import IMAGE, L2, L3, OFFERING, environment

# The seed's cloud-init YAML, minified the seed's way (sed: newline -> \n).
SEED_USERDATA = (
    "groups:\\n  - ubuntu: [foo,bar]\\n  - cloud-users\\n\\n# Add users to the system. Users are "
    "added after groups are added.\\nusers:\\n  - default\\n  - name: foobar\\n    gecos: Foo B. "
    "Bar\\n    primary-group: foobar\\n    groups: users\\n    selinux-user: staff_u\\n    "
    "expiredate: 2012-09-01\\n    ssh-import-id: foobar\\n    lock-passwd: false\\n  - name: "
    "barfoo\\n    gecos: Bar B. Foo\\n    sudo: ALL=(ALL) NOPASSWD:ALL\\n    groups: users, "
    "admin\\n    ssh-import-id: None\\n    lock-passwd: true\\n    ssh-authorized-keys:\\n      "
    "- <ssh pub key 1>\\n      - <ssh pub key 2>\\n  - name: cloudy\\n    gecos: Magic Cloud App "
    "Daemon User\\n    inactive: true\\n    system: true")
YAML = SEED_USERDATA.replace("\\n", "\n")
SSH_KEY = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC5x3AoWuiZawxXoBxEcOhhdVAST4kJA/cQ2zGnh3yZ/KBU+"
           "VILQHTkbNWAaRw3q0UtfpLfVj root@yyy")
VM = "d9" * 16
L3B = "c3" * 16


@pytest.fixture
def shell(tmp_path, cli):
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    (tmp_path / "env.zs").write_text(environment(tmp_path, image) + f"""\
CreateL3Network name=l3b l2NetworkUuid={L2} resourceUuid={L3B}
AddIpRange l3NetworkUuid={L3B} name=r2 startIp=10.0.1.10 endIp=10.0.1.20 \\
    netmask=255.255.255.0 gateway=10.0.1.1
""")
    env = dict(os.environ, ZSTACK_HOME=str(tmp_path / "home"))

    def run(*args, stdin=None, expect=0):
        result = subprocess.run([cli, *args], env=env, capture_output=True, text=True,
                                input=stdin, timeout=60, cwd=tmp_path)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout
    run("-f", str(tmp_path / "env.zs"))
    run.tmp_path = tmp_path
    return run


def stored_userdata(shell):
    out = json.loads(shell("QuerySystemTag", f"resourceUuid={VM}", "tag~=userdata%"))
    return [t["tag"] for t in out["inventories"]]


def test_seed_create_vm_with_userdata_verbatim(shell):
    # The seed's line, with this cloud's uuids: two L3s, the second the default.
    line = (f"CreateVmInstance name=vm imageUuid={IMAGE} instanceOfferingUuid={OFFERING} "
            f"l3NetworkUuids={L3},{L3B} defaultL3NetworkUuid={L3B} "
            f"resourceUuid={VM} systemTags='userdata::{SEED_USERDATA}'\n")
    shell(stdin=line)
    assert stored_userdata(shell) == [f"userdata::{SEED_USERDATA}"]


def test_pasted_yaml_and_file_store_the_same_tag(shell):
    shell("CreateVmInstance", "name=vm", f"imageUuid={IMAGE}",
          f"instanceOfferingUuid={OFFERING}", f"l3NetworkUuids={L3}", f"resourceUuid={VM}")
    # pasted between quotes over several lines, as at the >>> prompt or in a batch file
    shell(stdin=f"CreateSystemTag resourceUuid={VM} resourceType=VmInstanceVO "
                f"tag='userdata::{YAML}'\n")
    pasted = stored_userdata(shell)
    assert pasted == [f"userdata::{SEED_USERDATA}"]
    uuid = json.loads(shell("QuerySystemTag", f"resourceUuid={VM}",
                            "tag~=userdata%"))["inventories"][0]["uuid"]
    shell("DeleteTag", f"uuid={uuid}")
    assert stored_userdata(shell) == []
    (shell.tmp_path / "cloud.yaml").write_text(YAML)
    shell("CreateSystemTag", f"resourceUuid={VM}", "resourceType=VmInstanceVO",
          "tag=userdata::@cloud.yaml")
    assert stored_userdata(shell) == pasted
    # the seed's UpdateSystemTag and sshkey lines
    uuid = json.loads(shell("QuerySystemTag", f"resourceUuid={VM}",
                            "tag~=userdata%"))["inventories"][0]["uuid"]
    shell(stdin=f"UpdateSystemTag uuid={uuid} tag='userdata::{SEED_USERDATA}'\n")
    assert stored_userdata(shell) == pasted
    shell(stdin=f'CreateSystemTag resourceType=VmInstanceVO resourceUuid={VM} '
                f'tag="sshkey::{SSH_KEY}"\n')
    keys = json.loads(shell("QuerySystemTag", f"resourceUuid={VM}", "tag~=sshkey%"))
    assert [t["tag"] for t in keys["inventories"]] == [f"sshkey::{SSH_KEY}"]
