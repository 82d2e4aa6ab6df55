"""The SQLite store: one file under $ZSTACK_HOME shared by every process.

Shells, batch runs and host agents may write at the same time. Writers take
the database lock up front (BEGIN IMMEDIATE) so that a read-modify-write can
never be lost to another process, and they wait for each other (busy
timeout plus a retry) instead of showing "database is locked" to anyone.
The hot path uses the sqlite3 module directly; sqlite-utils is loaded only
to migrate the schema (see migrate.py).
"""

import os
import sqlite3
import time

from ..i18n import msg
from ..errors import ApiError, INTERNAL, TIMEOUT

BUSY_TIMEOUT_MS = 30_000
_RETRY_SECONDS = 120


class Store:
    def __init__(self, path):
        self.path = path
        new = not os.path.exists(path)
        if new:
            # Create the file 0600 before SQLite does, so no other user ever reads it.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                    check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Switching to WAL needs a moment alone with the file: when several processes open a
        # new store at once, SQLite may answer "locked" without waiting, so we wait ourselves.
        _retry_locked(lambda: self.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                      or self.conn.execute("PRAGMA journal_mode = WAL"))
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self._depth = 0

    def close(self):
        self.conn.close()

    # -- reading -------------------------------------------------------------
    def rows(self, sql, args=()):
        return self.conn.execute(sql, args).fetchall()

    def row(self, sql, args=()):
        return self.conn.execute(sql, args).fetchone()

    def value(self, sql, args=()):
        row = self.conn.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def get(self, table, uuid, key="uuid"):
        row = self.conn.execute(f'SELECT * FROM "{table}" WHERE "{key}" = ?', (uuid,)).fetchone()
        return None if row is None else dict(row)

    def exists(self, table, uuid):
        return self.conn.execute(f'SELECT 1 FROM "{table}" WHERE uuid = ?', (uuid,)).fetchone() \
            is not None

    # -- writing -------------------------------------------------------------
    def transaction(self):
        return _Transaction(self)

    def insert(self, table, row):
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', tuple(row.values()))

    def update(self, table, key_value, values, key="uuid"):
        sets = ", ".join(f'"{c}" = ?' for c in values)
        cur = self.conn.execute(f'UPDATE "{table}" SET {sets} WHERE "{key}" = ?',
                                (*values.values(), key_value))
        return cur.rowcount

    def delete(self, table, key_value, key="uuid"):
        return self.conn.execute(f'DELETE FROM "{table}" WHERE "{key}" = ?', (key_value,)).rowcount


class _Transaction:
    """``with store.transaction():`` — an IMMEDIATE transaction, nestable.

    Nested uses join the outer transaction, so a service can call another
    service's write helper without splitting one change in two.
    """

    def __init__(self, store):
        self.store = store

    def __enter__(self):
        store = self.store
        if store._depth == 0:
            _begin_immediate(store.conn)
        store._depth += 1
        return store

    def __exit__(self, exc_type, exc, tb):
        store = self.store
        store._depth -= 1
        if store._depth:
            return False
        if exc_type is None:
            store.conn.execute("COMMIT")
        else:
            store.conn.execute("ROLLBACK")
        return False


def _begin_immediate(conn):
    """Take the write lock; the busy timeout waits, and a writer that still
    finds the lock taken (checkpoints, a long migration) tries again."""
    _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))


def _retry_locked(action):
    deadline = time.monotonic() + _RETRY_SECONDS
    delay = 0.01
    while True:
        try:
            return action()
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise ApiError(INTERNAL, msg("database error: {error}", error=e))
            if time.monotonic() > deadline:
                raise ApiError(TIMEOUT, msg("timeout waiting for the database lock held by "
                                            "another process"))
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
