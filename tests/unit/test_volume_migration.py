"""LocalStorageMigrateVolume through the API door on simulated hosts (SPEC §11):
every rule and its text, the chain (snapshots, image cache) readable after the
move, capacity, and a fault at each step leaving the volume usable where it was."""

import multiprocessing
import os
import signal

import pytest

from backend.errors import operr
from backend.services.volume_migration import copying, landing, recovery, rules
from backend.services.volume_migration import intent as intents
from backend.storage import StorageError, local_copy, remote_files, transfer
from backend.storage.ssh import SshTarget
from tests.unit.test_compute_services import MiB, Cloud, qemu_img, qemu_info, qemu_io


def two_host_cloud(backend, tmp_path):
    c = Cloud(backend, tmp_path)
    c.host2 = c.add_host("host2", "127.0.0.2")
    return c


@pytest.fixture
def cloud(backend, tmp_path):
    return two_host_cloud(backend, tmp_path)


def files_on(cloud, host):
    """Every regular file under a simulated host's storage root, relative."""
    root = cloud.local("/", host)
    found = []
    for directory, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    return sorted(found)


def volume_files(cloud, host):
    """The host's files of volumes and snapshots, and copies under way (not its
    image caches)."""
    return [f for f in files_on(cloud, host)
            if "/rootVolumes/" in f or "/snapshots/" in f or f.endswith(".migrating")]


def stopped_vm_with_snapshots(cloud, snapshots=2):
    """A stopped VM on host1 whose root volume has data written between snapshots."""
    vm = cloud.vm("vm1", hostUuid=cloud.host)
    cloud.ok("StopVmInstance", uuid=vm["uuid"])
    root = cloud.get("VolumeVO", vm["rootVolumeUuid"])
    path = cloud.local(root["installPath"])
    for n in range(snapshots):
        qemu_io(path, f"write -P {n + 1} {n}M 1M")
        cloud.ok("CreateVolumeSnapshot", volumeUuid=root["uuid"], name=f"s{n}")
    qemu_io(path, "write -P 9 3M 512k")
    return vm, root


def migrate(cloud, volume, host, **kw):
    return cloud.call("LocalStorageMigrateVolume", volumeUuid=volume, destHostUuid=host, **kw)


# ---------------------------------------------------------------- the rules and their texts

class TestRules:
    def test_running_vm_is_refused(self, cloud):
        vm = cloud.vm("vm1", hostUuid=cloud.host)
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1006",
                           volumeUuid=vm["rootVolumeUuid"], destHostUuid=cloud.host2)
        assert error["details"] == (
            f"the volume[uuid:{vm['rootVolumeUuid']}] is the root volume of the vm"
            f"[uuid:{vm['uuid']}]. Currently the vm is in state of Running, please stop it "
            f"before migration")

    def test_root_volume_with_data_volumes_attached(self, cloud):
        vm = cloud.vm("vm1", hostUuid=cloud.host, dataDiskOfferingUuids=[cloud.disk])
        cloud.ok("StopVmInstance", uuid=vm["uuid"])
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1006",
                           volumeUuid=vm["rootVolumeUuid"], destHostUuid=cloud.host2)
        assert error["details"].endswith(
            "Currently the vm still has 1 data volumes attached, please detach them before "
            "migration")

    def test_attached_data_volume(self, cloud):
        vm = cloud.vm("vm1", hostUuid=cloud.host)
        data = cloud.ok("CreateDataVolume", name="d1", diskOfferingUuid=cloud.disk)
        cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm["uuid"], volumeUuid=data["uuid"])
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1007",
                           volumeUuid=data["uuid"], destHostUuid=cloud.host2)
        assert error["details"] == (
            f"the data volume[uuid:{data['uuid']}, name: d1] is still attached to the VM"
            f"[uuid:{vm['uuid']}]. Please detach it before migration")

    def test_not_on_local_storage_and_already_there(self, cloud):
        data = cloud.ok("CreateDataVolume", name="d1", diskOfferingUuid=cloud.disk)
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1007",
                           volumeUuid=data["uuid"], destHostUuid=cloud.host2)
        assert error["details"] == f"the volume[uuid:{data['uuid']}] is not on any local " \
                                   f"primary storage"
        vm = cloud.vm("vm1", hostUuid=cloud.host, strategy="CreateStopped")
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1007",
                           volumeUuid=vm["rootVolumeUuid"], destHostUuid=cloud.host)
        assert error["details"] == (f"the volume[uuid:{vm['rootVolumeUuid']}] is already on "
                                    f"the host[uuid:{cloud.host}]")

    def test_destination_must_belong_to_the_storage(self, cloud):
        other = cloud.add_cluster("cluster2", storage=False)
        stranger = cloud.add_host("host3", "127.0.0.3", cluster=other)
        vm = cloud.vm("vm1", hostUuid=cloud.host, strategy="CreateStopped")
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1007",
                           volumeUuid=vm["rootVolumeUuid"], destHostUuid=stranger)
        assert "does not belong to the local primary storage" in error["details"]

    def test_missing_uuids_and_a_disconnected_destination(self, cloud):
        vm = cloud.vm("vm1", hostUuid=cloud.host, strategy="CreateStopped")
        cloud.fail("LocalStorageMigrateVolume", code="SYS.1003", volumeUuid="f" * 32,
                   destHostUuid=cloud.host2)
        cloud.fail("LocalStorageMigrateVolume", code="SYS.1003",
                   volumeUuid=vm["rootVolumeUuid"], destHostUuid="f" * 32)
        with cloud.backend.store.transaction():
            cloud.backend.store.update("HostVO", cloud.host2, {"status": "Disconnected"})
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1006",
                           volumeUuid=vm["rootVolumeUuid"], destHostUuid=cloud.host2)
        assert "Connected, Enabled host" in error["details"]

    def test_live_migration_is_refused_at_the_api(self, cloud):
        vm = cloud.vm("vm1", hostUuid=cloud.host)
        error = cloud.fail("MigrateVm", code="SYS.1006", vmInstanceUuid=vm["uuid"],
                           hostUuid=cloud.host2)
        assert "live migration with storage is disabled" in error["details"]
        assert f"LocalStorageMigrateVolume volumeUuid={vm['rootVolumeUuid']}" in error["details"]

    def test_destination_capacity(self, cloud):
        vm = cloud.vm("vm1", hostUuid=cloud.host, strategy="CreateStopped")
        with cloud.backend.store.transaction():
            cloud.backend.store.conn.execute(
                "UPDATE LocalStorageHostRefVO SET totalCapacity = 1, availableCapacity = 1 "
                "WHERE hostUuid = ?", (cloud.host2,))
        error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1006",
                           volumeUuid=vm["rootVolumeUuid"], destHostUuid=cloud.host2)
        assert "bytes of local storage free" in error["details"]


# ---------------------------------------------------------------- the move

def test_cold_migration_moves_the_chain_and_the_vm(cloud):
    vm, root = stopped_vm_with_snapshots(cloud)
    src_path = cloud.local(root["installPath"])
    reference = str(cloud.tmp / "reference.raw")
    qemu_img("convert", "-U", "-O", "raw", src_path, reference)
    free_before = cloud.disk_capacity(cloud.host2)

    reply = cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"],
                     destHostUuid=cloud.host2)
    assert reply == cloud.query("QueryLocalStorageResourceRef", resourceUuid=root["uuid"])[0]
    assert reply["hostUuid"] == cloud.host2 and reply["resourceType"] == "VolumeVO"
    for snap in cloud.query("QueryVolumeSnapshot", volumeUuid=root["uuid"]):
        ref = cloud.query("QueryLocalStorageResourceRef", resourceUuid=snap["uuid"])[0]
        assert ref["hostUuid"] == cloud.host2
    moved = cloud.get("VmInstanceVO", vm["uuid"])
    assert (moved["hostUuid"], moved["lastHostUuid"], moved["state"]) == \
        (cloud.host2, cloud.host, "Stopped")
    assert cloud.get("VolumeVO", root["uuid"])["status"] == "Ready"

    # The data, every snapshot and the image cache are there; nothing is left behind.
    dst_path = cloud.local(root["installPath"], cloud.host2)
    assert qemu_img("compare", "-f", "qcow2", "-F", "raw", dst_path, reference).startswith(
        "Images are identical")
    chain = qemu_info(dst_path, chain=True)
    assert [os.path.dirname(e["filename"]).startswith(cloud.local("/", cloud.host2))
            for e in chain] == [True] * 4
    assert "imagecache" in chain[-1]["filename"]
    assert not volume_files(cloud, cloud.host)
    assert not [f for f in files_on(cloud, cloud.host2) if ".migrating" in f]
    assert cloud.disk_capacity(cloud.host2) < free_before
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0
    assert cloud.driver().state(vm["uuid"]) is None          # the old host forgot the domain

    # The seed's cold migration ends with a start on the new host.
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"
    assert cloud.driver(cloud.host2).state(vm["uuid"]) == "Running"
    assert cloud.domain_disks(vm["uuid"], cloud.host2) == {"vda": root["installPath"]}
    # A snapshot taken before the move still merges cleanly on the new host.
    cloud.ok("StopVmInstance", uuid=vm["uuid"])
    first = cloud.query("QueryVolumeSnapshot", volumeUuid=root["uuid"], name="s0")[0]
    cloud.ok("DeleteVolumeSnapshot", uuid=first["uuid"])
    assert qemu_img("compare", "-f", "qcow2", "-F", "raw", dst_path, reference).startswith(
        "Images are identical")


def test_a_detached_data_volume_moves_and_attaches_there(cloud):
    vm1 = cloud.vm("vm1", hostUuid=cloud.host)
    vm2 = cloud.vm("vm2", hostUuid=cloud.host2)
    data = cloud.ok("CreateDataVolume", name="d1", diskOfferingUuid=cloud.disk)
    cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm1["uuid"], volumeUuid=data["uuid"])
    cloud.ok("DetachDataVolumeFromVm", uuid=data["uuid"])
    path = cloud.local(cloud.get("VolumeVO", data["uuid"])["installPath"])
    qemu_io(path, "write -P 7 0 1M")
    error = cloud.fail("AttachDataVolumeToVm", vmInstanceUuid=vm2["uuid"],
                       volumeUuid=data["uuid"])
    assert "LocalStorageMigrateVolume" in error["details"]

    cloud.ok("LocalStorageMigrateVolume", volumeUuid=data["uuid"], destHostUuid=cloud.host2)
    moved = cloud.local(cloud.get("VolumeVO", data["uuid"])["installPath"], cloud.host2)
    assert not os.path.exists(path)
    assert "Pattern verification failed" not in qemu_io(moved, "read -P 7 0 1M")
    cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm2["uuid"], volumeUuid=data["uuid"])


def test_progress_is_reported(cloud):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=1)
    seen = []
    reply = cloud.call("LocalStorageMigrateVolume", volumeUuid=root["uuid"],
                       destHostUuid=cloud.host2,
                       progress=lambda label, done, total: seen.append((label, done, total)))
    assert reply["success"], reply
    assert {label for label, _, _ in seen} == {"copy 1/2", "copy 2/2", "check 1/2",
                                               "check 2/2"}
    assert all(done <= total for _, done, total in seen)


def test_sparse_files_stay_sparse(tmp_path):
    src_root, dst_root = tmp_path / "a", tmp_path / "b"
    (src_root / "v").mkdir(parents=True)
    path = src_root / "v" / "big.raw"
    with open(path, "wb") as f:
        f.truncate(256 * MiB)
        f.seek(100 * MiB)
        f.write(os.urandom(MiB))
    src, dst = transfer.LocalFiles(str(src_root)), transfer.LocalFiles(str(dst_root))
    assert transfer.copy(src, "/v/big.raw", dst, "/v/.big.raw.migrating") is None
    copied = dst_root / "v" / ".big.raw.migrating"
    digest = src.digest("/v/big.raw")
    assert dst.durable_digest("/v/.big.raw.migrating") == digest
    assert os.path.getsize(copied) == 256 * MiB
    assert os.stat(copied).st_blocks * 512 <= 2 * MiB
    with open(copied, "r+b") as f:                  # one flipped byte is caught
        f.seek(100 * MiB + 5)
        f.write(b"\xff")
    assert dst.digest("/v/.big.raw.migrating") != digest


@pytest.mark.parametrize("size", [0, 1, local_copy.CHUNK - 1, 3 * local_copy.CHUNK + 17])
def test_the_verified_copy_of_odd_sizes(tmp_path, size):
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    local_copy.copy_verified(str(tmp_path / "f"), str(tmp_path / "out" / "g"))
    assert (tmp_path / "out" / "g").read_bytes() == data


def test_a_chunk_that_reads_back_otherwise_is_caught(tmp_path, monkeypatch):
    (tmp_path / "f").write_bytes(os.urandom(3 * local_copy.CHUNK))
    real = os.pread
    monkeypatch.setattr(local_copy.os, "pread", lambda fd, n, at: (
        b"\0" + real(fd, n, at)[1:]) if at == local_copy.CHUNK else real(fd, n, at))
    with pytest.raises(StorageError, match=f"does not read back as written \\(at byte "
                                           f"{local_copy.CHUNK}\\)"):
        local_copy.copy_verified(str(tmp_path / "f"), str(tmp_path / "g"))


# ---------------------------------------------------------------- faults

def _assert_usable_where_it_was(cloud, vm, root, reference):
    src_path = cloud.local(root["installPath"])
    assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "Stopped"
    assert cloud.get("VmInstanceVO", vm["uuid"])["hostUuid"] == cloud.host
    assert cloud.get("VolumeVO", root["uuid"])["status"] == "Ready"
    assert cloud.query("QueryLocalStorageResourceRef",
                       resourceUuid=root["uuid"])[0]["hostUuid"] == cloud.host
    assert qemu_img("compare", "-U", "-f", "qcow2", "-F", "raw", src_path, reference).startswith(
        "Images are identical")
    assert not volume_files(cloud, cloud.host2)
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0


def _fail_at(monkeypatch, step):
    """Make one step raise (copy: the second file; readback: a chunk that reads back
    otherwise than written; chain: the final chain check; switch: the records'
    transaction; landing: a checksum mismatch from the disk, after the switch)."""
    if step == "copy":
        real = transfer.copy
        calls = []

        def broken(*a, **kw):
            calls.append(1)
            if len(calls) == 2:
                raise StorageError("No space left on device")
            return real(*a, **kw)
        monkeypatch.setattr(transfer, "copy", broken)
    elif step == "readback":
        real = os.pread

        def flipped(fd, n, position):
            data = real(fd, n, position)
            return data[:-1] + bytes([data[-1] ^ 1]) if position >= MiB else data
        monkeypatch.setattr(local_copy.os, "pread", flipped)
    elif step == "landing":
        monkeypatch.setattr(transfer.LocalFiles, "durable_digest",
                            lambda self, p, kind="crc", progress=None: "0" * 64)
    elif step == "chain":
        def broken(dst, chain, base):
            raise StorageError("backing file missing")
        monkeypatch.setattr(copying, "_verify_chain", broken)
    elif step == "switch":
        def broken(*a):
            raise RuntimeError("power cut")
        monkeypatch.setattr(intents, "_switch", broken)


@pytest.mark.parametrize("step", ["copy", "readback", "chain", "switch", "landing"])
def test_a_failure_leaves_the_volume_where_it_was(cloud, monkeypatch, step):
    vm, root = stopped_vm_with_snapshots(cloud)
    reference = str(cloud.tmp / "reference.raw")
    qemu_img("convert", "-U", "-O", "raw", cloud.local(root["installPath"]), reference)
    free = cloud.disk_capacity(cloud.host2)
    with monkeypatch.context() as m:
        _fail_at(m, step)
        reply = migrate(cloud, root["uuid"], cloud.host2)
    assert not reply["success"]
    if step != "switch":
        assert "it stays on the host" in reply["error"]["details"]
    _assert_usable_where_it_was(cloud, vm, root, reference)
    cache = cloud.backend.store.value("SELECT COALESCE(SUM(size), 0) FROM ImageCacheVO WHERE "
                                      "hostUuid = ?", (cloud.host2,))
    assert cloud.disk_capacity(cloud.host2) == free - cache     # the image cache may stay
    # The VM starts where it was, and a rerun completes.
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"
    cloud.ok("StopVmInstance", uuid=vm["uuid"])
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    assert cloud.get("VmInstanceVO", vm["uuid"])["hostUuid"] == cloud.host2


def test_a_failed_source_deletion_is_finished_later(cloud, monkeypatch):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=1)
    src_path = cloud.local(root["installPath"])
    with monkeypatch.context() as m:
        m.setattr(intents, "_finish", lambda ctx, intent, files, **kw: None)
        cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    assert os.path.exists(src_path)                       # the delete step "died"
    assert cloud.backend.store.value("SELECT stage FROM LocalStorageMigrationVO") == "switched"
    cloud.ok("StartVmInstance", uuid=vm["uuid"])          # any write API finishes it first
    assert not os.path.exists(src_path)
    assert cloud.driver(cloud.host2).state(vm["uuid"]) == "Running"
    # Rerunning the command that "died" reports it done (a note was kept for that) ...
    assert cloud.backend.store.value("SELECT stage FROM LocalStorageMigrationVO") == "recovered"
    cloud.ok("StopVmInstance", uuid=vm["uuid"])
    assert migrate(cloud, root["uuid"], cloud.host2)["success"]
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0
    # ... once: after that the rule holds again.
    error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1007", volumeUuid=root["uuid"],
                       destHostUuid=cloud.host2)
    assert "is already on the host" in error["details"]


def _killed_child(home, volume, host, step):
    """A process that migrates and is killed (SIGKILL) inside ``step``."""
    from backend.api import Backend

    def die(*a, **kw):
        os.kill(os.getpid(), signal.SIGKILL)
    target = {"copy": (local_copy, "copy_verified"), "switch": (intents, "_switch"),
              "landing": (landing, "_check_on_disk"),
              "delete": (intents, "_leave_source_host")}[step]
    setattr(*target, die)
    Backend(home).call("LocalStorageMigrateVolume", {"volumeUuid": volume,
                                                     "destHostUuid": host})


def kill_during(cloud, volume, step):
    """Migrate ``volume`` to host2 in a child process killed (SIGKILL) inside ``step``."""
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_killed_child, args=(cloud.home, volume, cloud.host2, step))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.parametrize("step", ["copy", "switch", "landing", "delete"])
def test_kill_9_at_each_step_then_a_rerun_completes(cloud, step):
    vm, root = stopped_vm_with_snapshots(cloud)
    reference = str(cloud.tmp / "reference.raw")
    qemu_img("convert", "-U", "-O", "raw", cloud.local(root["installPath"]), reference)
    kill_during(cloud, root["uuid"], step)
    stage = cloud.backend.store.value("SELECT stage FROM LocalStorageMigrationVO")
    assert stage == {"landing": "landing", "delete": "switched"}.get(step, "copying")
    if step not in ("landing", "delete"):
        # The next operation puts everything back: the VM starts on its old host.
        cloud.ok("QueryVmInstance")                       # a query changes nothing
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "VolumeMigrating"
        assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"
        assert cloud.get("VmInstanceVO", vm["uuid"])["hostUuid"] == cloud.host
        cloud.ok("StopVmInstance", uuid=vm["uuid"])
        _assert_usable_where_it_was(cloud, vm, root, reference)
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    assert cloud.get("VmInstanceVO", vm["uuid"])["hostUuid"] == cloud.host2
    assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "Stopped"
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0
    assert not volume_files(cloud, cloud.host)
    dst_path = cloud.local(root["installPath"], cloud.host2)
    assert qemu_img("compare", "-f", "qcow2", "-F", "raw", dst_path, reference).startswith(
        "Images are identical")


def test_a_copy_lost_in_a_crash_before_its_landing_puts_the_volume_back(cloud):
    """The machine went down after the switch, before the copy reached the disk:
    the copy found there is not the source's, so the records go back to the
    source, whose files were never touched."""
    vm, root = stopped_vm_with_snapshots(cloud)
    reference = str(cloud.tmp / "reference.raw")
    qemu_img("convert", "-U", "-O", "raw", cloud.local(root["installPath"]), reference)
    kill_during(cloud, root["uuid"], "landing")
    assert cloud.backend.store.value("SELECT stage FROM LocalStorageMigrationVO") == "landing"
    assert cloud.get("VmInstanceVO", vm["uuid"])["hostUuid"] == cloud.host2
    dst_path = cloud.local(root["installPath"], cloud.host2)
    with open(dst_path, "r+b") as f:             # its last writes never reached the disk
        f.truncate(os.path.getsize(dst_path) // 2)
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["hostUuid"] == cloud.host
    cloud.ok("StopVmInstance", uuid=vm["uuid"])
    _assert_usable_where_it_was(cloud, vm, root, reference)
    assert cloud.get("VmInstanceVO", vm["uuid"])["lastHostUuid"] == cloud.host


def test_a_migration_in_progress_is_not_taken_for_a_dead_one(cloud):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=0)
    ctx = cloud.backend
    from backend.api import Context

    with recovery._operation_lock(Context(ctx, None, None), root["uuid"]):
        with ctx.store.transaction():
            ctx.store.insert("LocalStorageMigrationVO", {
                "volumeUuid": root["uuid"], "primaryStorageUuid": cloud.ps,
                "srcHostUuid": cloud.host, "dstHostUuid": cloud.host2, "vmInstanceUuid": vm["uuid"],
                "vmState": "Stopped", "volumeStatus": "Ready", "files": "[]", "size": 0,
                "stage": "copying", "createDate": "x", "lastOpDate": "x"})
            ctx.store.update("VmInstanceVO", vm["uuid"], {"state": "VolumeMigrating"})
        error = cloud.fail("StartVmInstance", code="SYS.1006", uuid=vm["uuid"])
        assert "VolumeMigrating" in error["details"] or "VM.1010" in str(error)
        assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 1
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["state"] == "Running"


# ---------------------------------------------------------------- the remote transport

def local_ssh(argv):
    """Run what would run over ssh here: drop 'ssh <options> user@host --', and
    rsync's 'user@host:' and '-e ssh...', so the real commands act on local files."""
    import shlex
    import subprocess

    if argv[0] == "rsync":          # run here: both ends may name a host
        command = list(argv)
    else:
        assert argv[0] == "ssh" and "--" in argv, argv
        command = shlex.split(argv[argv.index("--") + 1])
    if command[0] == "rsync":
        i = command.index("-e")
        del command[i:i + 2]
        command[-2:] = [part.split(":", 1)[-1] for part in command[-2:]]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def test_the_ssh_transport_moves_a_chain(tmp_path):
    """Two 'remote' hosts (their commands run here) carry a qcow2 chain: rsync,
    sha256sum, qemu-img rebase, publish, remove, with the paths the records use."""
    base = tmp_path / "src" / "imagecache" / "img.qcow2"
    base.parent.mkdir(parents=True)
    qemu_img("create", "-q", "-f", "qcow2", str(base), "16M")
    snap = tmp_path / "src" / "snapshots" / "v" / "s.qcow2"
    snap.parent.mkdir(parents=True)
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(snap))
    qemu_io(str(snap), "write -P 5 0 1M")
    vol = tmp_path / "src" / "rootVolumes" / "vm-v.qcow2"
    vol.parent.mkdir(parents=True)
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(snap), "-F", "qcow2", str(vol))
    qemu_io(str(vol), "write -P 6 1M 1M")

    calls = []

    def runner(argv):
        calls.append(argv)
        return local_ssh(argv)
    src = remote_files.SshFiles(SshTarget("10.0.0.1"), runner=runner)
    dst = remote_files.SshFiles(SshTarget("10.0.0.2"), runner=runner)
    # Both 'hosts' see one filesystem here: the destination is another directory.
    moved = {str(snap): str(tmp_path / "dst" / "snapshots" / "v" / "s.qcow2"),
             str(vol): str(tmp_path / "dst" / "rootVolumes" / "vm-v.qcow2")}
    for logical in (str(snap), str(vol)):
        tmp = transfer.temp_name(moved[logical])
        transfer.copy(src, logical, dst, tmp)
        assert dst.durable_digest(tmp) == dst.digest(tmp) == src.digest(logical)
        backing, fmt, portable = src.backing(logical)
        assert not portable                 # named by absolute paths: rewritten there
        dst.rebase(tmp, moved.get(backing, backing), fmt)
        dst.publish(tmp, moved[logical])
    assert dst.exists(moved[str(vol)]) and not dst.exists(transfer.temp_name(moved[str(vol)]))
    chain = qemu_info(moved[str(vol)], chain=True)
    assert [os.path.normpath(e["filename"]) for e in chain] == [moved[str(vol)], moved[str(snap)], str(base)]
    assert "Pattern verification failed" not in qemu_io(moved[str(vol)], "read -P 5 0 1M")
    assert "Pattern verification failed" not in qemu_io(moved[str(vol)], "read -P 6 1M 1M")
    src.remove(str(vol))
    assert not vol.exists() and vol.parent.exists()          # a shared directory stays
    rsync = next(a for a in calls if "rsync" in a[-1])
    assert rsync[:2] == ["ssh", "-o"] and "root@10.0.0.1" in rsync
    assert "root@10.0.0.2:" in rsync[-1] and "--sparse" in rsync[-1]


def test_the_ssh_transport_reports_failures(tmp_path):
    host = remote_files.SshFiles(SshTarget("10.0.0.9"), runner=lambda argv: (255, "", "ssh: connect to host "
                                                               "10.0.0.9 port 22: No route"))
    with pytest.raises(StorageError, match="cannot checksum /x on 10.0.0.9: ssh: connect"):
        host.digest("/x")
    assert not host.exists("/x")
    (tmp_path / "x").write_bytes(b"x")
    with pytest.raises(StorageError, match="cannot copy /x to 10.0.0.9: ssh: connect"):
        transfer.copy(transfer.LocalFiles(str(tmp_path)), "/x", host, "/y")


def test_files_move_between_this_machine_and_a_remote_host(tmp_path):
    """rsync run here pushes to and pulls from a remote host (its commands run here),
    both checked with sha256 (the only checksum a remote host makes)."""
    here = transfer.LocalFiles(str(tmp_path / "here"))
    (tmp_path / "here" / "dataVolumes").mkdir(parents=True)
    qemu_img("create", "-q", "-f", "qcow2", str(tmp_path / "here" / "dataVolumes" / "d.qcow2"),
             "64M")
    qemu_io(str(tmp_path / "here" / "dataVolumes" / "d.qcow2"), "write -P 9 0 2M")
    calls = []

    def runner(argv):
        calls.append(argv)
        return local_ssh(argv)
    there = remote_files.SshFiles(SshTarget.from_uri(
        "qemu+ssh://root@10.0.0.3:2222/system?keyfile=/k/id&no_verify=1"), runner=runner)
    far = str(tmp_path / "there" / "dataVolumes" / "d.qcow2")
    transfer.copy(here, "/dataVolumes/d.qcow2", there, transfer.temp_name(far))
    digest = here.digest("/dataVolumes/d.qcow2", transfer.digest_kind(here, there))
    assert digest.startswith("sha256:") and digest == there.durable_digest(transfer.temp_name(far))
    there.publish(transfer.temp_name(far), far)
    rsync = next(a for a in calls if a[0] == "rsync")
    assert rsync[-1] == f"root@10.0.0.3:{transfer.temp_name(far)}" and "--sparse" in rsync
    assert "-p 2222 -i /k/id" in rsync[rsync.index("-e") + 1]
    back = "/dataVolumes/.back.qcow2"
    transfer.copy(there, far, here, back)
    assert there.digest(far) == digest == here.durable_digest(back, "sha256") != \
        here.durable_digest(back)
    assert "Pattern verification failed" not in qemu_io(here.path(back), "read -P 9 0 2M")


# ---------------------------------------------------------------- what others do meanwhile

def _migration_running(cloud, root, vm=None):
    """A migration in progress in another process: its lock held, its intent written."""
    from backend.api import Context

    lock = recovery._operation_lock(Context(cloud.backend, None, None), root)
    lock.__enter__()
    with cloud.backend.store.transaction():
        cloud.backend.store.insert("LocalStorageMigrationVO", {
            "volumeUuid": root, "primaryStorageUuid": cloud.ps, "srcHostUuid": cloud.host,
            "dstHostUuid": cloud.host2, "vmInstanceUuid": vm, "vmState": "Stopped" if vm else None,
            "volumeStatus": "Ready", "files": "[]", "size": 0, "stage": "copying",
            "createDate": "x", "lastOpDate": "x"})
    return lock


def test_snapshots_attach_and_delete_wait_for_a_running_migration(cloud):
    vm1 = cloud.vm("vm1", hostUuid=cloud.host)
    data = cloud.ok("CreateDataVolume", name="d1", diskOfferingUuid=cloud.disk)
    cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm1["uuid"], volumeUuid=data["uuid"])
    snap = cloud.ok("CreateVolumeSnapshot", volumeUuid=data["uuid"], name="s0")
    cloud.ok("DetachDataVolumeFromVm", uuid=data["uuid"])
    lock = _migration_running(cloud, data["uuid"])
    try:
        for api, params in (("CreateVolumeSnapshot", {"volumeUuid": data["uuid"], "name": "s1"}),
                            ("DeleteVolumeSnapshot", {"uuid": snap["uuid"]}),
                            ("AttachDataVolumeToVm", {"vmInstanceUuid": vm1["uuid"],
                                                      "volumeUuid": data["uuid"]}),
                            ("DeleteDataVolume", {"uuid": data["uuid"]}),
                            ("DeleteHost", {"uuid": cloud.host2, "deleteMode": "Enforcing"})):
            error = cloud.fail(api, **params)
            assert "migrat" in error["details"], (api, error)
    finally:
        lock.__exit__(None, None, None)
    assert len(cloud.query("QueryVolumeSnapshot", volumeUuid=data["uuid"])) == 1
    assert cloud.get("HostVO", cloud.host2) is not None


def test_a_volume_attached_after_the_check_is_not_moved(cloud, monkeypatch):
    vm1 = cloud.vm("vm1", hostUuid=cloud.host)
    data = cloud.ok("CreateDataVolume", name="d1", diskOfferingUuid=cloud.disk)
    cloud.ok("AttachDataVolumeToVm", vmInstanceUuid=vm1["uuid"], volumeUuid=data["uuid"])
    cloud.ok("DetachDataVolumeFromVm", uuid=data["uuid"])
    real = rules._check

    def then_attached(ctx, volume_uuid, dst_uuid):
        plan = real(ctx, volume_uuid, dst_uuid)
        with ctx.store.transaction():           # another shell, between check and begin
            ctx.store.update("VolumeVO", volume_uuid, {"vmInstanceUuid": vm1["uuid"],
                                                       "deviceId": 1})
        return plan
    monkeypatch.setattr(rules, "_check", then_attached)
    error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1007", volumeUuid=data["uuid"],
                       destHostUuid=cloud.host2)
    assert "is still attached to the VM" in error["details"]
    assert cloud.query("QueryLocalStorageResourceRef",
                       resourceUuid=data["uuid"])[0]["hostUuid"] == cloud.host
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0


def test_a_volume_deleted_during_the_copy_is_not_switched(cloud, monkeypatch):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=1)

    def snapshot_gone(dst, chain, base):        # another process dropped a snapshot row
        with cloud.backend.store.transaction():
            cloud.backend.store.conn.execute("DELETE FROM VolumeSnapshotVO WHERE volumeUuid = ?",
                                             (root["uuid"],))
    monkeypatch.setattr(copying, "_verify_chain", snapshot_gone)
    error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1006", volumeUuid=root["uuid"],
                       destHostUuid=cloud.host2)
    assert "changed while it was being copied" in error["details"]
    assert cloud.get("VmInstanceVO", vm["uuid"])["hostUuid"] == cloud.host
    assert not volume_files(cloud, cloud.host2)


@pytest.mark.parametrize("step", ["switch", "landing"])
def test_an_unreachable_destination_does_not_keep_the_vm_from_starting(cloud, monkeypatch, step):
    """Killed in the copy or in the landing, with the destination out of reach
    since: a landing can not be checked, so it counts as failed; either way the
    volume is back on its source, untouched, and the VM starts there."""
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=1)
    kill_during(cloud, root["uuid"], step)
    real = rules.files_of

    def unreachable(ctx, host):
        if host["uuid"] == cloud.host2:
            raise operr("cannot reach the files of the host: down")
        return real(ctx, host)
    with monkeypatch.context() as m:
        m.setattr(rules, "files_of", unreachable)
        started = cloud.ok("StartVmInstance", uuid=vm["uuid"])
        assert (started["state"], started["hostUuid"]) == ("Running", cloud.host)
        assert cloud.backend.store.value("SELECT stage FROM LocalStorageMigrationVO") == \
            "cleanup-dst"
    assert volume_files(cloud, cloud.host2)
    # Reachable again: the next operation on the volume clears what was left there.
    cloud.ok("StopVmInstance", uuid=vm["uuid"])
    cloud.ok("CreateVolumeSnapshot", volumeUuid=root["uuid"], name="later")
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0
    assert not volume_files(cloud, cloud.host2)


def test_the_image_cache_to_make_must_fit_too(cloud):
    vm = cloud.vm("vm1", hostUuid=cloud.host, strategy="CreateStopped")
    root = cloud.get("VolumeVO", vm["rootVolumeUuid"])
    with cloud.backend.store.transaction():    # room for the volume, not for the image too
        cloud.backend.store.conn.execute(
            "UPDATE LocalStorageHostRefVO SET totalCapacity = ?, availableCapacity = ? "
            "WHERE hostUuid = ?", (root["size"], root["size"], cloud.host2))
    error = cloud.fail("LocalStorageMigrateVolume", code="SYS.1006", volumeUuid=root["uuid"],
                       destHostUuid=cloud.host2)
    assert "bytes of local storage free" in error["details"]


def test_an_attached_iso_comes_along(cloud, tmp_path):
    from tests.unit.test_compute_services import make_iso

    iso = cloud.ok("AddImage", name="iso", format="iso", mediaType="ISO",
                   url=make_iso(tmp_path / "x.iso"), backupStorageUuids=[cloud.bs])
    vm = cloud.vm("vm1", hostUuid=cloud.host, strategy="CreateStopped")
    cloud.ok("AttachIsoToVmInstance", vmInstanceUuid=vm["uuid"], isoUuid=iso["uuid"])
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=vm["rootVolumeUuid"],
             destHostUuid=cloud.host2)
    assert cloud.backend.store.row("SELECT 1 FROM ImageCacheVO WHERE hostUuid = ? AND "
                                   "imageUuid = ?", (cloud.host2, iso["uuid"]))
    cloud.ok("StartVmInstance", uuid=vm["uuid"])
    xml = cloud.driver(cloud.host2).xml(vm["uuid"])
    assert f"{iso['uuid']}.iso" in xml


def test_a_filesystem_that_can_not_tell_holes_copies_everything(tmp_path, monkeypatch):
    import errno as errnos

    (tmp_path / "a").mkdir()
    data = os.urandom(3 * MiB)
    (tmp_path / "a" / "f").write_bytes(data)
    real = os.lseek

    def no_seek_data(fd, offset, how):
        if how in (os.SEEK_DATA, os.SEEK_HOLE):
            raise OSError(errnos.EINVAL, "Invalid argument")
        return real(fd, offset, how)
    monkeypatch.setattr(os, "lseek", no_seek_data)
    src, dst = transfer.LocalFiles(str(tmp_path / "a")), transfer.LocalFiles(str(tmp_path / "b"))
    transfer.copy(src, "/f", dst, "/.f.migrating")
    assert (tmp_path / "b" / ".f.migrating").read_bytes() == data
    assert src.digest("/f") == dst.digest("/.f.migrating")


def test_a_volume_whose_image_was_deleted_moves_with_a_copy_of_its_cache(cloud):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=1)
    reference = str(cloud.tmp / "reference.raw")
    qemu_img("convert", "-U", "-O", "raw", cloud.local(root["installPath"]), reference)
    cloud.ok("DeleteImage", uuid=cloud.image)
    assert cloud.get("ImageVO", cloud.image) is None
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    dst_path = cloud.local(root["installPath"], cloud.host2)
    assert qemu_img("compare", "-f", "qcow2", "-F", "raw", dst_path, reference).startswith(
        "Images are identical")
    assert cloud.backend.store.row("SELECT 1 FROM ImageCacheVO WHERE hostUuid = ? AND "
                                   "imageUuid = ?", (cloud.host2, cloud.image))
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["hostUuid"] == cloud.host2


def test_a_killed_cache_download_leaves_no_partial_file(tmp_path):
    from backend.storage import layout, local

    src = tmp_path / "image.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", str(src), "4M")
    root = str(tmp_path / "ps")
    target = layout.image_cache_path(root, "img", "qcow2")
    os.makedirs(os.path.dirname(target))
    stale = os.path.join(os.path.dirname(target), ".img.qcow2.99999.0.part")
    open(stale, "wb").write(b"half")
    assert local.ensure_image_cache(root, "img", "qcow2", str(src)) == target
    assert not os.path.exists(stale) and os.path.exists(target)
