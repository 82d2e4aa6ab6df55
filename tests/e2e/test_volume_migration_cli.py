"""The seed's cold migration of a VM through the zstack-cli command (SPEC §11, seed §3):
stop it, LocalStorageMigrateVolume its root volume to the other host, start it there;
the rules' errors with their exit status; a data volume moved and attached on the
other host; the progress bar on a terminal; a batch file doing the whole thing."""

import json
import os
import subprocess

import pytest

from tests.clouds import DATA, HOST1, HOST2, VM1, environment

pexpect = pytest.importorskip("pexpect")


@pytest.fixture
def cloud(tmp_path, cli):
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    (tmp_path / "env.zs").write_text(environment(tmp_path, image))
    env = dict(os.environ, ZSTACK_HOME=str(tmp_path / "home"))

    def run(*words, expect=0):
        out = subprocess.run([cli, *words], env=env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == expect, (words, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        if expect != 0 or words[0].startswith("-"):
            return out.stderr
        return json.loads(out.stdout)
    run("-f", str(tmp_path / "env.zs"))
    run.env, run.cli, run.tmp = env, cli, tmp_path
    return run


def root_of(cloud, vm):
    return cloud("QueryVmInstance", f"uuid={vm}")["inventories"][0]["rootVolumeUuid"]


def test_the_seeds_cold_migration(cloud):
    root = root_of(cloud, VM1)
    err = cloud("LocalStorageMigrateVolume", f"volumeUuid={root}", f"destHostUuid={HOST2}",
                expect=3)
    assert "SYS.1006" in err and "Currently the vm is in state of Running, please stop it " \
                                 "before migration" in err
    cloud("StopVmInstance", f"uuid={VM1}")
    err = cloud("LocalStorageMigrateVolume", f"volumeUuid={root}", f"destHostUuid={HOST2}",
                expect=3)
    assert "Currently the vm still has 1 data volumes attached, please detach them before " \
           "migration" in err
    cloud("DetachDataVolumeFromVm", f"uuid={DATA}")

    # The seed's line, verbatim apart from the uuids.
    ref = cloud("LocalStorageMigrateVolume", f"volumeUuid={root}",
                f"destHostUuid={HOST2}")["inventory"]
    assert (ref["resourceUuid"], ref["hostUuid"], ref["resourceType"]) == \
        (root, HOST2, "VolumeVO")
    vm = cloud("StartVmInstance", f"uuid={VM1}")["inventory"]
    assert (vm["state"], vm["hostUuid"], vm["lastHostUuid"]) == ("Running", HOST2, HOST1)
    assert cloud("QueryLocalStorageResourceRef", f"resourceUuid={root}",
                 "fields=hostUuid")["inventories"] == [{"hostUuid": HOST2}]

    # The data volume follows, and attaches on its new host.
    err = cloud("AttachDataVolumeToVm", f"vmInstanceUuid={VM1}", f"volumeUuid={DATA}",
                expect=3)
    assert "move it with LocalStorageMigrateVolume first" in err
    cloud("LocalStorageMigrateVolume", f"volumeUuid={DATA}", f"destHostUuid={HOST2}")
    attached = cloud("AttachDataVolumeToVm", f"vmInstanceUuid={VM1}",
                     f"volumeUuid={DATA}")["inventory"]
    assert attached["vmInstanceUuid"] == VM1

    # Live migration is refused at the API, naming the cold way.
    err = cloud("MigrateVm", f"vmInstanceUuid={VM1}", f"hostUuid={HOST1}", expect=3)
    assert "live migration with storage is disabled" in err


def test_a_batch_migrates_and_the_terminal_shows_progress(cloud):
    root = root_of(cloud, VM1)
    batch = cloud.tmp / "migrate.zs"
    batch.write_text(f"StopVmInstance uuid={VM1}\n"
                     f"DetachDataVolumeFromVm uuid={DATA}\n"
                     f"LocalStorageMigrateVolume volumeUuid={root} destHostUuid={HOST2}\n"
                     f"StartVmInstance uuid={VM1}\n")
    out = subprocess.run([cloud.cli, "-f", str(batch)], env=cloud.env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "copy" not in out.stderr                      # no terminal: no progress bar
    assert cloud("QueryVmInstance", f"uuid={VM1}")["inventories"][0]["hostUuid"] == HOST2

    # On a terminal, the copy and its check from the disk draw their bars on stderr.
    child = pexpect.spawn(cloud.cli, ["LocalStorageMigrateVolume", f"volumeUuid={DATA}",
                                      f"destHostUuid={HOST2}"], env=cloud.env,
                          encoding="utf-8", timeout=60)
    child.expect(r"copy 1/1 \[#+\] 100%")
    child.expect(r"check 1/1 \[#+\] 100%")         # read back from the disk, then done
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert cloud("QueryLocalStorageResourceRef", f"resourceUuid={DATA}",
                 "fields=hostUuid")["inventories"] == [{"hostUuid": HOST2}]


def test_the_cold_migration_typed_in_the_interactive_shell(cloud):
    """In the interactive shell the reply comes once the copy is checked and
    switched; its landing (flush, check from the disk, the source deleted) runs
    behind it. The next command waits for it, and so does the shell's exit."""
    from pathlib import Path

    from tests.e2e.test_repl_pty import Shell

    root = root_of(cloud, VM1)
    sh = Shell(cloud.cli, Path(cloud.env["ZSTACK_HOME"]))
    try:
        sh.prompt()
        sh.run(f"StopVmInstance uuid={VM1}", '"state": "Stopped"')
        sh.run(f"DetachDataVolumeFromVm uuid={DATA}", '"vmInstanceUuid": null')
        sh.run(f"LocalStorageMigrateVolume volumeUuid={root} destHostUuid={HOST2}",
               f'"hostUuid": "{HOST2}"')
        sh.run(f"StartVmInstance uuid={VM1}", '"state": "Running"')
        assert f'"hostUuid": "{HOST2}"' in sh.screen[sh.pos - 3000:]
        # The data volume moves too; Ctrl-D right after waits for its landing.
        sh.run(f"LocalStorageMigrateVolume volumeUuid={DATA} destHostUuid={HOST2}",
               f'"hostUuid": "{HOST2}"')
        assert sh.quit() == 0
    finally:
        sh.kill()
    volume = cloud("QueryVolume", f"uuid={DATA}")["inventories"][0]
    assert volume["status"] == "Ready"
    assert cloud("QueryLocalStorageResourceRef", f"resourceUuid={DATA}",
                 "fields=hostUuid")["inventories"] == [{"hostUuid": HOST2}]
    home = Path(cloud.env["ZSTACK_HOME"])
    left = [p for p in home.rglob("*") if p.is_file() and DATA in p.name]
    assert [p for p in left if HOST1 in str(p)] == [], left
