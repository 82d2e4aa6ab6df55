"""Bring a store's schema and seed data up to this version of the product.

Runs only when something is behind, so a one-shot command pays one PRAGMA
and one small SELECT. Migrating holds an exclusive file lock (two processes
opening an old store at once migrate it once) and first copies a store that
holds data to ``zstack.db.v<N>.bak``: if a step fails, the copy is put back,
so an upgrade never loses what the user stored.
"""

import fcntl
import importlib
import os

from .migrations import LATEST, STEPS

CONFIG_SIGNATURE_KEY = "globalConfigSignature"


def config_signature(options):
    return "|".join(f"{o.category}/{o.name}={o.default}" for o in options)


def ensure_current(store, options, seed):
    """Migrate ``store`` if needed; ``options`` are the declared global configs
    (inserted when new) and ``seed(store)`` creates first-run data."""
    signature = config_signature(options)
    if _is_current(store, signature):
        return
    lock_path = store.path + ".lock"
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _is_current(store, signature):   # another process did it while we waited
            return
        version = store.value("PRAGMA user_version")
        if version > LATEST:
            from ..errors import ApiError, INTERNAL
            from ..i18n import msg
            raise ApiError(INTERNAL, msg("the database {path} was written by a newer version "
                                         "(schema {version}, this version knows {latest}); "
                                         "upgrade zstack-cli",
                                         path=store.path, version=version, latest=LATEST))
        if version < LATEST:
            _migrate(store, version)
        _sync_configs(store, options, signature)
        seed(store)
    finally:
        os.close(fd)


def _is_current(store, signature):
    if store.value("PRAGMA user_version") != LATEST:
        return False
    return store.value("SELECT value FROM StoreMeta WHERE key = ?", (CONFIG_SIGNATURE_KEY,)) \
        == signature


def _migrate(store, version):
    import sqlite_utils

    backup = None
    if version > 0:
        backup = f"{store.path}.v{version}.bak"
        _copy(store.conn, backup)
    db = sqlite_utils.Database(store.conn)
    try:
        for number in range(version, LATEST):
            step = importlib.import_module(f"{__package__}.migrations.{STEPS[number]}")
            step.up(db)
            store.conn.execute(f"PRAGMA user_version = {number + 1}")
    except BaseException:
        if backup:
            _restore(store.conn, backup)
        raise


def _copy(conn, path):
    import sqlite3

    target = sqlite3.connect(path)
    try:
        conn.backup(target)
    finally:
        target.close()
    os.chmod(path, 0o600)


def _restore(conn, path):
    import sqlite3

    source = sqlite3.connect(path)
    try:
        source.backup(conn)
    finally:
        source.close()


def _sync_configs(store, options, signature):
    from ..clock import now

    stamp = now()
    with store.transaction():
        for o in options:
            store.conn.execute(
                "INSERT INTO GlobalConfigVO (category, name, description, defaultValue, value,"
                " createDate, lastOpDate) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (category, name) DO UPDATE SET defaultValue = excluded.defaultValue,"
                " description = excluded.description",
                (o.category, o.name, o.doc.en, o.default, o.default, stamp, stamp))
        store.conn.execute("INSERT OR REPLACE INTO StoreMeta (key, value) VALUES (?, ?)",
                           (CONFIG_SIGNATURE_KEY, signature))
