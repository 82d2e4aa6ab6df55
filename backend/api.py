"""The door to the backend: ``call(name, params, session) -> reply dict``.

Everything the shell asks of the cloud goes through here and comes back as a
ZStack reply: ``{"inventory": ..., "success": true}``, ``{"inventories": ...}``
or ``{"success": false, "error": {code, description, details[, cause]}}``.
No exception and no traceback ever leave this module; unexpected failures
are written, with their traceback, to ``$ZSTACK_HOME/logs/backend.log``.
"""

import importlib
import os
import sqlite3

from . import catalogue
from .i18n import msg, render
from .behind import Behind
from .errors import ApiError, INTERNAL, argerr
from .store.db import Store
from .validation import validate

DB_NAME = "zstack.db"


def default_home():
    return os.environ.get("ZSTACK_HOME") or os.path.join(os.path.expanduser("~"), ".zstack")


class Context:
    """What a handler sees: the store, the caller's session and the API."""

    __slots__ = ("backend", "store", "session", "api", "progress", "home")

    def __init__(self, backend, session, api, progress=None):
        self.backend = backend
        self.store = backend.store
        self.home = backend.home
        self.session = session
        self.api = api
        # progress(label, done, total): long operations report here; the shell
        # draws a bar, other callers may ignore it. Never None inside handlers.
        # Handlers pass a message (backend.i18n.msg); callers get its text.
        if progress is None:
            self.progress = lambda label, done, total: None
        else:
            self.progress = lambda label, done, total: progress(render(label), done, total)


class Backend:
    """One embedded backend over one ``$ZSTACK_HOME``."""

    def __init__(self, home=None, require_session=False, write_behind=False):
        self.home = home or default_home()
        self.require_session = require_session
        # The interactive shell lets work that follows a reply run behind it
        # (after_reply, behind.py).
        self.write_behind = write_behind
        self.behind = Behind()
        self._store = None
        self._ready = False

    @property
    def store(self):
        if self._store is None:
            os.makedirs(self.home, mode=0o700, exist_ok=True)
            self._store = Store(os.path.join(self.home, DB_NAME))
        return self._store

    def _ensure_ready(self):
        if not self._ready:
            from .services.identity import seed
            from .store.migrate import ensure_current

            ensure_current(self.store, catalogue.CONFIG_OPTIONS, seed)
            self._ready = True

    def call(self, name, params=None, session=None, progress=None):
        try:
            return self._call(name, dict(params or {}), session, progress)
        except ApiError as e:
            return {"success": False, "error": e.to_reply()}
        except sqlite3.DatabaseError as e:
            self._log_failure(name)
            path = os.path.join(self.home, DB_NAME)
            return {"success": False, "error": ApiError(
                INTERNAL, msg("the database {path} can not be used ({error}); it may be damaged: "
                              "restore a backup (zstack.db.v<N>.bak) or move it away",
                              path=path, error=e)).to_reply()}
        except Exception as e:   # the promise: never a traceback to the user
            self._log_failure(name)
            return {"success": False, "error": ApiError(
                INTERNAL, msg("internal error in {name}: {error_type}: {error}",
                              name=name, error_type=type(e).__name__, error=e)).to_reply()}

    def _call(self, name, params, session_uuid, progress):
        api = catalogue.APIS.get(name)
        if api is None:
            raise argerr(msg("unknown API[{name}]", name=name))
        self._ensure_ready()
        from .services.identity import check_session

        session = check_session(self.store, session_uuid, api.login and self.require_session)
        typed = validate(api, params, self.store, catalogue.RESOURCES)
        module, _, function = api.handler.partition(":")
        handler = getattr(importlib.import_module(f"{__package__}.services.{module}"), function)
        ctx = Context(self, session, api, progress)
        if not api.query:
            self.wait_behind()
        if not api.query and self.store.value(
                "SELECT EXISTS (SELECT 1 FROM LocalStorageMigrationVO WHERE stage != 'recovered')"):
            # A volume migration whose process died left a volume Migrating (and maybe
            # its VM VolumeMigrating): finish or undo it before anything trips over it.
            from .services.volume_migration import recover_all

            recover_all(ctx, typed)
        result = handler(ctx, typed)
        return _wrap(api, result)

    def _log_failure(self, name):
        import traceback

        try:
            logs = os.path.join(self.home, "logs")
            os.makedirs(logs, mode=0o700, exist_ok=True)
            with open(os.path.join(logs, "backend.log"), "a") as f:
                f.write(f"--- {name}\n{traceback.format_exc()}")
        except OSError:
            pass

    def after_reply(self, ctx, work, cleanup=lambda: None, what=""):
        """Run ``work(ctx)``, then ``cleanup()`` in any case: now, or in a shell
        session in a thread of its own with a store connection of its own, the
        reply going out meanwhile (behind.py). What it fails with is raised (now)
        or kept as a warning (behind). ``what`` names it for the wait at exit."""
        if not self.write_behind:
            try:
                work(ctx)
            finally:
                cleanup()
            return

        def run():
            own = None
            try:
                own = Backend(self.home, self.require_session)
                work(Context(own, ctx.session, ctx.api))
            except ApiError as e:
                return e.to_reply()["details"]
            except Exception as e:      # noqa: BLE001 - a thread has nobody else to tell
                self._log_failure(ctx.api.name if ctx.api else "after_reply")
                return render(msg("internal error in {name}: {error_type}: {error}",
                                  name=ctx.api.name if ctx.api else "",
                                  error_type=type(e).__name__, error=e))
            finally:
                if own is not None:
                    own.close()
        self.behind.start(run, cleanup, render(what) if what else "")

    def wait_behind(self):
        """Wait for the work still running after earlier replies (after_reply)."""
        self.behind.wait()

    def take_warnings(self):
        return self.behind.take_warnings()

    def close(self):
        self.wait_behind()
        if self._store is not None:
            self._store.close()


def _wrap(api, result):
    if api.reply == "inventory":
        reply = {"inventory": result} if result is not None else {}
    elif api.reply == "inventories":
        reply = dict(result)
    elif api.reply == "raw":
        reply = dict(result or {})
    else:
        reply = {}
    reply["success"] = True
    return reply
