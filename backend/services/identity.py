"""Accounts, passwords and sessions (SPEC §6)."""

import os

from .. import catalogue
from ..i18n import msg
from ..errors import ApiError, AUTH_FAILED, INVALID_SESSION
from ..store.query import to_inventory
from . import common
from ..clock import new_uuid, now

ADMIN = "admin"
DEFAULT_PASSWORD = "password"       # ZStack's default, changeable with UpdateAccount
_ITERATIONS = 200_000               # slow on purpose: a stolen store resists guessing


def hash_password(password, salt=None, iterations=_ITERATIONS):
    import hashlib   # here, not at the top: most commands never hash a password

    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password, stored):
    import hmac

    try:
        scheme, iterations, salt, digest = stored.split("$")
    except (AttributeError, ValueError):
        return False
    if scheme != "pbkdf2_sha256":
        return False
    fresh = hash_password(password, bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(fresh.split("$")[3], digest)


def seed(store):
    """First run: the admin account."""
    if store.row("SELECT 1 FROM AccountVO WHERE name = ?", (ADMIN,)):
        return
    stamp = now()
    with store.transaction():
        store.conn.execute(
            "INSERT OR IGNORE INTO AccountVO (uuid, name, description, type, password, createDate,"
            " lastOpDate) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new_uuid(), ADMIN, "the administrator", "SystemAdmin",
             hash_password(DEFAULT_PASSWORD), stamp, stamp))


def log_in(ctx, p):
    from .config import value

    store = ctx.store
    account = store.row("SELECT uuid, password FROM AccountVO WHERE name = ?", (p["accountName"],))
    if account is None or not verify_password(p["password"], account["password"]):
        raise ApiError(AUTH_FAILED, msg("wrong account name or password"))
    timeout = value(store, "identity", "session.timeout")
    most = value(store, "identity", "session.maxConcurrent")
    uuid = new_uuid()
    with store.transaction():
        store.conn.execute("DELETE FROM SessionVO WHERE expiredDate < ?", (now(),))
        store.insert("SessionVO", {"uuid": uuid, "accountUuid": account["uuid"],
                                   "userUuid": account["uuid"], "expiredDate": now(timeout),
                                   "createDate": now()})
        # Past the limit, the oldest sessions of the account are closed.
        store.conn.execute(
            "DELETE FROM SessionVO WHERE accountUuid = ? AND uuid NOT IN (SELECT uuid FROM "
            "SessionVO WHERE accountUuid = ? ORDER BY createDate DESC, rowid DESC LIMIT ?)",
            (account["uuid"], account["uuid"], most))
    return to_inventory(catalogue.RESOURCES["SessionVO"], store.get("SessionVO", uuid))


def log_out(ctx, p):
    uuid = p.get("sessionUuid") or (ctx.session or {}).get("uuid")
    if uuid:
        with ctx.store.transaction():
            ctx.store.delete("SessionVO", uuid)
    return None


def update_account(ctx, p):
    values = {"name": p.get("name"), "description": p.get("description")}
    if p.get("password"):
        values["password"] = hash_password(p["password"])
    return common.update(ctx, "AccountVO", p["uuid"], values)


def check_session(store, uuid, required):
    """The caller's session, or None for the local owner of $ZSTACK_HOME."""
    if not uuid:
        if required:
            raise ApiError(INVALID_SESSION, msg("a session is required: log in with "
                                                "LogInByAccount"))
        return None
    row = store.get("SessionVO", uuid)
    if row is None or row["expiredDate"] < now():
        raise ApiError(INVALID_SESSION, msg("Session expired or not found: {uuid}; log in again "
                                            "with LogInByAccount", uuid=uuid))
    return row
