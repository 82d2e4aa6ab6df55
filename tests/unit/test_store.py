"""The SQLite store: migrations, file modes, newer stores, and several processes at once
(SPEC §1: several processes may use one $ZSTACK_HOME at the same time; §6: files mode 0600)."""
import multiprocessing
import os
import sqlite3
import stat
import sys
import time
import types

import pytest

from tests.replies import err, ok

from backend.store import migrate, migrations


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def user_version(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def columns(path, table):
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    finally:
        conn.close()


def open_backend(home):
    from backend.api import Backend

    return Backend(str(home))


# ---------------------------------------------------------------------------------------------
# a fresh store
# ---------------------------------------------------------------------------------------------

def test_fresh_store_reaches_latest(backend, home):
    ok(backend.call("QueryZone", {}))
    db = home / "zstack.db"
    assert db.exists()
    assert backend.store.value("PRAGMA user_version") == migrations.LATEST
    assert user_version(db) == migrations.LATEST
    assert migrations.LATEST == len(migrations.STEPS) >= 1
    # the first run seeds the admin account and the global configs
    assert backend.store.value("SELECT COUNT(*) FROM AccountVO WHERE name = 'admin'") == 1
    assert backend.store.value("SELECT COUNT(*) FROM GlobalConfigVO") >= 4
    # no backup is made of a store that held nothing
    assert not [p for p in os.listdir(home) if p.endswith(".bak")]


def test_file_modes(backend, home):
    ok(backend.call("CreateZone", {"name": "z"}))
    assert mode(home) == 0o700
    assert mode(home / "zstack.db") == 0o600
    for name in os.listdir(home):
        path = home / name
        if path.is_file():
            assert mode(path) & 0o077 == 0, (name, oct(mode(path)))
        else:
            assert mode(path) & 0o077 == 0, (name, oct(mode(path)))


def test_file_modes_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        home = tmp_path / "h"
        b = open_backend(home)
        ok(b.call("CreateZone", {"name": "z"}))
        try:
            assert mode(home) == 0o700
            assert mode(home / "zstack.db") == 0o600
            for name in os.listdir(home):
                assert mode(home / name) & 0o077 == 0, (name, oct(mode(home / name)))
        finally:
            b.close()
    finally:
        os.umask(old)


def test_reopen_is_a_no_op(home, monkeypatch):
    b = open_backend(home)
    uuid = ok(b.call("CreateZone", {"name": "keep"}))["inventory"]["uuid"]
    b.close()
    before = sorted(os.listdir(home))

    def boom(*args, **kwargs):
        raise AssertionError("a current store must not be migrated again")

    monkeypatch.setattr(migrate, "_migrate", boom)
    monkeypatch.setattr(migrate, "_sync_configs", boom)
    b = open_backend(home)
    try:
        [z] = ok(b.call("QueryZone", {}))["inventories"]
        assert z["uuid"] == uuid
        assert b.store.value("PRAGMA user_version") == migrations.LATEST
        assert b.store.value("SELECT COUNT(*) FROM AccountVO") == 1   # seeded once only
    finally:
        b.close()
    assert not [p for p in os.listdir(home) if p.endswith(".bak")]
    assert [p for p in sorted(os.listdir(home)) if not p.startswith("zstack.db-")] == \
        [p for p in before if not p.startswith("zstack.db-")]


# ---------------------------------------------------------------------------------------------
# upgrades
# ---------------------------------------------------------------------------------------------

def _extra_step(name, up):
    module = types.ModuleType(f"backend.store.migrations.{name}")
    module.up = up
    return module


def _add_column(db):
    db["ZoneVO"].add_column("extra", str)
    db.execute("UPDATE ZoneVO SET extra = 'filled'")


def _fail_half_way(db):
    db["ZoneVO"].add_column("extra", str)
    db.execute("DELETE FROM ZoneVO")              # damage first, then fail
    raise RuntimeError("migration step exploded")


def _install_step(monkeypatch, name, up):
    """Pretend this version of the product has one more migration than the store."""
    steps = tuple(migrations.STEPS) + (name,)
    monkeypatch.setitem(sys.modules, f"backend.store.migrations.{name}", _extra_step(name, up))
    for module in (migrations, migrate):
        monkeypatch.setattr(module, "STEPS", steps)
        monkeypatch.setattr(module, "LATEST", len(steps))
    return len(steps)


def _old_store_with_data(home):
    b = open_backend(home)
    z = ok(b.call("CreateZone", {"name": "old-zone", "description": "from v1"}))["inventory"]
    ok(b.call("CreateUserTag", {"resourceType": "ZoneVO", "resourceUuid": z["uuid"],
                                "tag": "keep-me"}))
    b.close()
    old = migrations.LATEST
    assert user_version(home / "zstack.db") == old
    return z, old


def test_upgrade_keeps_data_and_makes_a_backup(home, monkeypatch):
    zone, old = _old_store_with_data(home)
    new = _install_step(monkeypatch, "m9999_test_add_column", _add_column)
    b = open_backend(home)
    try:
        [z] = ok(b.call("QueryZone", {}))["inventories"]
        assert z["uuid"] == zone["uuid"] and z["description"] == "from v1"
        assert b.store.value("PRAGMA user_version") == new
        assert b.store.value("SELECT extra FROM ZoneVO WHERE uuid = ?", (zone["uuid"],)) == \
            "filled"
        [tag] = ok(b.call("QueryUserTag", {}))["inventories"]
        assert tag["tag"] == "keep-me"
        # the store still works after the upgrade
        ok(b.call("CreateZone", {"name": "after-upgrade"}))
    finally:
        b.close()
    backup = home / f"zstack.db.v{old}.bak"
    assert backup.exists()
    assert mode(backup) == 0o600
    assert user_version(backup) == old
    assert "extra" not in columns(backup, "ZoneVO")
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("SELECT name FROM ZoneVO").fetchall() == [("old-zone",)]
    finally:
        conn.close()


def test_failed_upgrade_restores_the_backup(home, monkeypatch):
    zone, old = _old_store_with_data(home)
    _install_step(monkeypatch, "m9998_test_fails", _fail_half_way)
    b = open_backend(home)
    try:
        reply = b.call("QueryZone", {})
        e = err(reply, "SYS.1000")
        assert "Traceback" not in str(reply)
        assert "migration step exploded" in e["details"]
    finally:
        b.close()
    db = home / "zstack.db"
    assert user_version(db) == old
    assert "extra" not in columns(db, "ZoneVO")
    assert (home / f"zstack.db.v{old}.bak").exists()
    # the user's data is intact: the old product opens it as before
    monkeypatch.undo()
    b = open_backend(home)
    try:
        [z] = ok(b.call("QueryZone", {}))["inventories"]
        assert (z["uuid"], z["name"], z["description"]) == (zone["uuid"], "old-zone", "from v1")
        assert [t["tag"] for t in ok(b.call("QueryUserTag", {}))["inventories"]] == ["keep-me"]
    finally:
        b.close()


def test_store_from_a_newer_version(home):
    b = open_backend(home)
    ok(b.call("CreateZone", {"name": "z"}))
    b.close()
    conn = sqlite3.connect(home / "zstack.db")
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 5}")
    conn.close()
    b = open_backend(home)
    try:
        for api, params in (("QueryZone", {}), ("CreateZone", {"name": "y"}),
                            ("LogInByAccount", {"accountName": "admin", "password": "password"})):
            reply = b.call(api, params)
            e = err(reply, "SYS.1000")
            assert "newer version" in e["details"]
            assert str(migrations.LATEST + 5) in e["details"]
    finally:
        b.close()
    # and nothing was changed
    assert user_version(home / "zstack.db") == migrations.LATEST + 5


def test_a_corrupt_store_is_an_error_reply_not_an_exception(home):
    home.mkdir(mode=0o700)
    (home / "zstack.db").write_bytes(b"this is not a database" * 100)
    os.chmod(home / "zstack.db", 0o600)
    try:
        b = open_backend(home)
    except Exception as e:          # refusing to open is acceptable if it says why
        assert "database" in str(e).lower()
        return
    try:
        reply = b.call("QueryZone", {})
        assert reply["success"] is False
        assert reply["error"]["code"] == "SYS.1000"
    finally:
        b.close()


# ---------------------------------------------------------------------------------------------
# several processes at once
# ---------------------------------------------------------------------------------------------

def _tag_worker(home, zone_uuid, worker, count, start, queue):
    """One process: ``count`` CreateUserTag calls; reports every failed reply."""
    os.environ["ZSTACK_HOME"] = home
    from backend.api import Backend

    b = Backend(home)
    failures = []
    start.wait()
    for i in range(count):
        reply = b.call("CreateUserTag", {"resourceType": "ZoneVO", "resourceUuid": zone_uuid,
                                         "tag": f"w{worker}-{i}"})
        if not reply.get("success"):
            failures.append(reply)
    b.close()
    queue.put(failures)


def _same_tags_worker(home, zone_uuid, count, start, queue):
    """Every process creates the same tags: the check-then-insert must not race."""
    from backend.api import Backend

    b = Backend(home)
    failures = []
    start.wait()
    for i in range(count):
        reply = b.call("CreateSystemTag", {"resourceType": "ZoneVO", "resourceUuid": zone_uuid,
                                           "tag": f"host::reservedMemory::{i}M"})
        if not reply.get("success"):
            failures.append(reply)
    b.close()
    queue.put(failures)


def _same_uuid_worker(home, uuids, start, queue):
    """Every process creates zones with the same resourceUuids: each uuid is won once."""
    from backend.api import Backend

    b = Backend(home)
    won, errors = 0, []
    start.wait()
    for uuid in uuids:
        reply = b.call("CreateZone", {"name": f"z-{uuid[:6]}", "resourceUuid": uuid})
        if reply.get("success"):
            won += 1
        else:
            errors.append(reply["error"])
    b.close()
    queue.put((won, errors))


def _fresh_home_worker(home, worker, start, queue):
    """Processes that all open a home nobody has opened yet."""
    from backend.api import Backend

    start.wait()
    failures = []
    try:
        b = Backend(home)
    except Exception as e:     # noqa: BLE001  (report, do not hang the parent)
        queue.put([f"Backend() raised {type(e).__name__}: {e}"])
        return
    for i in range(10):
        reply = b.call("CreateZone", {"name": f"fresh-{worker}-{i}"})
        if not reply.get("success"):
            failures.append(reply)
    b.close()
    queue.put(failures)


def _run(target, args_per_process, timeout=60):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start, queue)) for args in args_per_process]
    for p in procs:
        p.start()
    time.sleep(0.3)           # let them all import and open the store, then go at once
    start.set()
    results = []
    try:
        deadline = time.monotonic() + timeout
        for _ in procs:
            results.append(queue.get(timeout=max(1, deadline - time.monotonic())))
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return results


@pytest.fixture
def zone_home(home):
    b = open_backend(home)
    z = ok(b.call("CreateZone", {"name": "busy"}))["inventory"]
    b.close()
    return str(home), z["uuid"]


def test_concurrent_writers_lose_nothing(zone_home):
    home, zone_uuid = zone_home
    results = _run(_tag_worker, [(home, zone_uuid, w, 200) for w in range(4)])
    failures = [f for r in results for f in r]
    assert failures == [], failures[:3]
    b = open_backend(home)
    try:
        assert b.store.value("SELECT COUNT(*) FROM UserTagVO") == 800
        assert b.store.value("SELECT COUNT(DISTINCT tag) FROM UserTagVO") == 800
        assert b.store.value("SELECT COUNT(DISTINCT uuid) FROM UserTagVO") == 800
        assert ok(b.call("QueryUserTag", {"count": True}))["total"] == 800
    finally:
        b.close()


def test_concurrent_identical_tags_are_created_once(zone_home):
    home, zone_uuid = zone_home
    results = _run(_same_tags_worker, [(home, zone_uuid, 60) for _ in range(4)])
    failures = [f for r in results for f in r]
    assert failures == [], failures[:3]
    b = open_backend(home)
    try:
        # a read-modify-write (is it there? insert) done by 4 processes: no duplicates
        assert b.store.value("SELECT COUNT(*) FROM SystemTagVO") == 60
        assert b.store.value("SELECT COUNT(DISTINCT tag) FROM SystemTagVO") == 60
    finally:
        b.close()


def test_concurrent_creates_with_the_same_resource_uuid(zone_home):
    home, _ = zone_home
    uuids = [f"{i:032x}" for i in range(1, 41)]
    results = _run(_same_uuid_worker, [(home, uuids) for _ in range(4)])
    assert sum(won for won, _ in results) == len(uuids)
    for _, errors in results:
        for e in errors:
            assert e["code"] == "SYS.1007", e
            assert "already exists" in e["details"]
            assert "locked" not in e["details"]
    b = open_backend(home)
    try:
        assert b.store.value("SELECT COUNT(*) FROM ZoneVO") == len(uuids) + 1
    finally:
        b.close()


def test_concurrent_first_open_of_a_fresh_home(tmp_path):
    home = str(tmp_path / "fresh")
    results = _run(_fresh_home_worker, [(home, w) for w in range(4)])
    failures = [f for r in results for f in r]
    assert failures == [], failures[:3]
    b = open_backend(home)
    try:
        assert b.store.value("SELECT COUNT(*) FROM ZoneVO") == 40
        assert b.store.value("SELECT COUNT(*) FROM AccountVO") == 1      # seeded once
        assert b.store.value("PRAGMA user_version") == migrations.LATEST
        n_configs = len(__import__("backend.catalogue", fromlist=["x"]).CONFIG_OPTIONS)
        assert b.store.value("SELECT COUNT(*) FROM GlobalConfigVO") == n_configs
    finally:
        b.close()
