"""A migrated volume's landing (SPEC §11): the copy flushed and checked from the
disk before the source goes, behind the reply in the interactive shell
(Backend.after_reply, backend/behind.py); what waits for it and what does not;
what a review of that design found (a lock that must never leak, a Ctrl-C in
the wait, the source's capacity meanwhile)."""

import os
import threading
import time

import pytest

from backend import api
from backend.behind import Behind
from backend.services.volume_migration import landing
from backend.storage import transfer
from tests.unit.test_compute_services import qemu_img
from tests.unit.test_volume_migration import (
    _assert_usable_where_it_was, stopped_vm_with_snapshots, two_host_cloud)


@pytest.fixture
def cloud(backend, tmp_path):
    return two_host_cloud(backend, tmp_path)


def _slow_landing(monkeypatch):
    """The landing waits for the returned event before checking the copy."""
    gate = threading.Event()
    real = landing._check_on_disk

    def slow(*a):
        assert gate.wait(20)
        return real(*a)
    monkeypatch.setattr(landing, "_check_on_disk", slow)
    return gate


def test_in_a_shell_session_the_landing_runs_behind_the_reply(cloud, monkeypatch):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=1)
    src_path = cloud.local(root["installPath"])
    cloud.backend.write_behind = True
    gate = _slow_landing(monkeypatch)
    reply = cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"],
                     destHostUuid=cloud.host2)
    assert reply["hostUuid"] == cloud.host2
    # Behind the reply: the source is kept and the VM can not be used yet;
    # queries answer at once.
    assert os.path.exists(src_path)
    assert cloud.query("QueryVmInstance", uuid=vm["uuid"])[0]["state"] == "VolumeMigrating"
    gate.set()
    # The next command that changes anything waits for the landing.
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["hostUuid"] == cloud.host2
    assert not os.path.exists(src_path)
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0
    assert cloud.backend.take_warnings() == []


def test_a_landing_that_fails_behind_the_reply_is_reported_and_undone(cloud, monkeypatch):
    vm, root = stopped_vm_with_snapshots(cloud)
    reference = str(cloud.tmp / "reference.raw")
    qemu_img("convert", "-U", "-O", "raw", cloud.local(root["installPath"]), reference)
    cloud.backend.write_behind = True
    monkeypatch.setattr(transfer.LocalFiles, "durable_digest",
                        lambda self, p, kind="crc", progress=None: "0" * 64)
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    cloud.backend.wait_behind()
    warnings = cloud.backend.take_warnings()
    assert len(warnings) == 1 and "failed its check from the disk" in warnings[0], warnings
    assert f"it stays on the host[uuid:{cloud.host}]" in warnings[0]
    _assert_usable_where_it_was(cloud, vm, root, reference)


def test_a_writer_waits_for_a_landing_in_another_process(cloud, monkeypatch):
    """Another shell's landing holds the volume's lock: a write here waits for it
    (bounded), then goes on with the migration done."""
    from backend.api import Backend

    vm, root = stopped_vm_with_snapshots(cloud, snapshots=0)
    other = Backend(cloud.home, write_behind=True)
    gate = _slow_landing(monkeypatch)
    assert other.call("LocalStorageMigrateVolume", {"volumeUuid": root["uuid"],
                                                    "destHostUuid": cloud.host2})["success"]
    threading.Timer(0.3, gate.set).start()
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["hostUuid"] == cloud.host2
    assert gate.is_set()
    other.close()
    assert other.take_warnings() == []
    assert cloud.backend.store.value("SELECT COUNT(*) FROM LocalStorageMigrationVO") == 0


def test_a_writer_elsewhere_that_names_nothing_of_it_does_not_wait(cloud, monkeypatch):
    from backend.api import Backend

    vm, root = stopped_vm_with_snapshots(cloud, snapshots=0)
    other = Backend(cloud.home, write_behind=True)
    gate = _slow_landing(monkeypatch)
    try:
        assert other.call("LocalStorageMigrateVolume", {"volumeUuid": root["uuid"],
                                                        "destHostUuid": cloud.host2})["success"]
        started = time.monotonic()
        cloud.ok("CreateZone", name="elsewhere")
        assert time.monotonic() - started < 5 and not gate.is_set()
        assert cloud.get("VmInstanceVO", vm["uuid"])["state"] == "VolumeMigrating"
    finally:
        gate.set()
        other.close()
    assert other.take_warnings() == []


def test_the_source_keeps_its_bytes_counted_until_the_landing_ends(cloud, monkeypatch):
    vm, root = stopped_vm_with_snapshots(cloud)

    def free():      # as the records say (GetLocalStorageHostDiskCapacity would wait)
        return cloud.backend.store.value("SELECT availableCapacity FROM LocalStorageHostRefVO "
                                         "WHERE hostUuid = ?", (cloud.host,))
    before = free()
    cloud.backend.write_behind = True
    gate = _slow_landing(monkeypatch)
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    assert free() == before                 # its files are still there
    gate.set()
    cloud.backend.wait_behind()
    assert free() > before


def test_the_lock_is_released_when_the_thread_can_not_even_open_the_store(cloud, monkeypatch):
    vm, root = stopped_vm_with_snapshots(cloud, snapshots=0)
    cloud.backend.write_behind = True

    class Unopenable(api.Backend):
        def __init__(self, *a, **kw):
            raise OSError(24, "Too many open files")
    monkeypatch.setattr(api, "Backend", Unopenable)
    cloud.ok("LocalStorageMigrateVolume", volumeUuid=root["uuid"], destHostUuid=cloud.host2)
    cloud.backend.wait_behind()
    warnings = cloud.backend.take_warnings()
    assert len(warnings) == 1 and "Too many open files" in warnings[0]
    monkeypatch.undo()
    # Nobody holds the lock: the next command finishes the landing at once.
    started = time.monotonic()
    assert cloud.ok("StartVmInstance", uuid=vm["uuid"])["hostUuid"] == cloud.host2
    assert time.monotonic() - started < 10


def test_a_ctrl_c_in_the_wait_leaves_the_work_waited_for():
    behind, gate, cleaned = Behind(), threading.Event(), []
    behind.start(lambda: gate.wait(20) and None, lambda: cleaned.append(1), "the work")
    real = threading.Event.wait
    calls = []

    def interrupted(self, timeout=None):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(self, timeout)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(threading.Event, "wait", interrupted)
        with pytest.raises(KeyboardInterrupt):
            behind.wait()
    assert behind.pending() == ["the work"] and not cleaned
    gate.set()
    behind.wait()
    assert behind.pending() == [] and cleaned == [1]


def test_cleanup_runs_when_the_work_fails_and_its_error_is_a_warning():
    behind, cleaned = Behind(), []
    behind.start(lambda: "it failed", lambda: cleaned.append(1), "w")

    def boom():
        raise RuntimeError("bug")
    behind.start(boom, lambda: cleaned.append(2), "w")
    behind.wait()
    assert cleaned == [1, 2] and behind.take_warnings() == ["it failed", "RuntimeError: bug"]
