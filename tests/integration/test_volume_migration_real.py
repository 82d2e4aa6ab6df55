"""The seed's cold migration between two REAL hosts, through the zstack-cli command
(SPEC §11; seed §3.3): stop the VM, migrate its root volume (with a snapshot and
its image cache), start it on the other host, where it is a real QEMU domain.

Two hosts on one machine: the machine's libvirtd (conftest's session fixture) is
host 1; host 2 is a second, private libvirtd started here in a mount namespace
of its own, where the primary storage's directory is another directory (so the
two hosts have separate storage roots, as two machines would), with its own run,
state, config and log directories, reached as qemu:///system?socket=<its socket>.
The cloud is realcloud.py's, with that second host. Everything is removed
afterwards: its domains, the daemon and its virtlogd (by pid), then the
cloud's (see realcloud.py): the directories, the dummy interface and the bridge.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.integration.realcloud import RealCloud
from tests.integration.realhost import domstate, virsh

pytestmark = pytest.mark.integration


def private_virsh(uri, *args, check=True):
    out = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True,
                         timeout=60)
    if check:
        assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out


@pytest.fixture
def cloud(libvirtd, cli):
    """realcloud.py's cloud, built by the test once its second host is up."""
    with RealCloud(cli, net="10.252.0", tag="mig") as c:
        yield c


@pytest.fixture
def second_host(cloud):
    """(uri, directory that stands for its storage root, domain names to clean up)."""
    base = tempfile.mkdtemp(prefix="zs-it-h2-", dir="/var/tmp")
    os.chmod(base, 0o755)
    dirs = {name: os.path.join(base, name) for name in ("run", "lib", "cache", "log", "etc", "ps")}
    for path in dirs.values():
        os.makedirs(path)
        os.chmod(path, 0o755)
    ps_mount = cloud.ps
    os.makedirs(ps_mount, exist_ok=True)
    mounts = [(dirs["run"], "/run/libvirt"), (dirs["lib"], "/var/lib/libvirt"),
              (dirs["cache"], "/var/cache/libvirt"), (dirs["log"], "/var/log/libvirt"),
              (dirs["etc"], "/etc/libvirt/qemu"), (dirs["ps"], ps_mount)]
    script = " && ".join([f"mount --bind {a} {b}" for a, b in mounts] +
                         ["virtlogd -d -p /run/libvirt/virtlogd.pid",
                          "exec libvirtd -p /run/libvirt/libvirtd.pid"])
    log = open(os.path.join(base, "libvirtd.log"), "w")
    daemon = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                              stdout=log, stderr=subprocess.STDOUT)
    uri = f"qemu:///system?socket={dirs['run']}/libvirt-sock"
    names = []
    try:
        deadline = time.monotonic() + 30
        while private_virsh(uri, "list", check=False).returncode != 0:
            assert daemon.poll() is None, open(os.path.join(base, "libvirtd.log")).read()
            assert time.monotonic() < deadline, "the private libvirtd did not come up"
            time.sleep(0.2)
        yield uri, dirs["ps"], names
    finally:
        for name in names:
            private_virsh(uri, "destroy", name, check=False)
            private_virsh(uri, "undefine", name, check=False)
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        try:
            os.kill(int(open(os.path.join(dirs["run"], "virtlogd.pid")).read()), 15)
        except (OSError, ValueError):
            pass
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def qemu_io(path, command_text):
    share = ["-U", "-r"] if command_text.startswith("read") else []
    out = subprocess.run(["qemu-io", *share, "-f", "qcow2", "-c", command_text, path],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "failed" not in out.stdout, out.stdout + out.stderr
    return out.stdout


def test_cold_migration_between_two_real_hosts(cloud, second_host):
    uri2, root2, names = second_host
    zs = cloud.zs
    host1, host2 = cloud.ids["host"], cloud.ids["host2"]
    cloud.build(second_uri=uri2)
    assert cloud.replies["host2"]["status"] == "Connected"

    vm = cloud.domain()
    names.append(vm)
    created = cloud.create_vm(f"hostUuid={host1}", vm=vm)
    assert created["hostUuid"] == host1 and domstate(vm) == "running"
    root = created["rootVolumeUuid"]
    path = zs("QueryVolume", f"uuid={root}")["inventories"][0]["installPath"]

    # Stopped, the VM gets data, a snapshot, more data: all of it must arrive.
    zs("StopVmInstance", f"uuid={vm}")
    qemu_io(path, "write -P 0x11 0 1M")
    zs("CreateVolumeSnapshot", f"volumeUuid={root}", "name=before-move")
    qemu_io(path, "write -P 0x22 1M 1M")
    ref = zs("LocalStorageMigrateVolume", f"volumeUuid={root}", f"destHostUuid={host2}")
    assert ref["hostUuid"] == host2

    # Host 1 forgot the domain and the files; host 2's root holds the chain.
    assert domstate(vm) is None
    assert not os.path.exists(path)
    moved = os.path.join(root2, os.path.relpath(path, cloud.ps))
    assert os.path.exists(moved)
    assert [n for n in os.listdir(os.path.join(root2, "snapshots")) if n.startswith(root)]
    assert os.listdir(os.path.join(root2, "imagecache", "template"))

    # The seed's last step: the VM starts on host 2, a real QEMU domain there, on the
    # same path (host 2 sees its own directory under it).
    started = zs("StartVmInstance", f"uuid={vm}")
    assert (started["state"], started["hostUuid"]) == ("Running", host2)
    assert private_virsh(uri2, "domstate", vm).stdout.strip() == "running"
    blk = private_virsh(uri2, "domblklist", vm).stdout
    assert path in blk
    pid = int(open(os.path.join(os.path.dirname(uri2.split("socket=")[1]),
                                "libvirtd.pid")).read())
    seen = f"/proc/{pid}/root{path}"
    assert "read 1048576/1048576" in qemu_io(seen, "read -P 0x11 0 1M")
    assert "read 1048576/1048576" in qemu_io(seen, "read -P 0x22 1M 1M")

    zs("StopVmInstance", f"uuid={vm}")
    zs("DestroyVmInstance", f"uuid={vm}")
    zs("ExpungeVmInstance", f"uuid={vm}")
    assert not os.path.exists(moved)
    assert vm not in virsh("list", "--all", "--name").stdout
