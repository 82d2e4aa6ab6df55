"""The shell's one door to the backend, with the login session kept on disk.

The backend is embedded (same process) and opened on first use, so that
``help`` and completion of verbs never touch the store.
"""

import json
import os

SESSION_FILE = ("cli", "session")


class Client:
    def __init__(self, home=None):
        from backend.api import default_home

        self.home = home or default_home()
        # The interactive shell lets a command's last steps (a migrated volume's
        # landing) run behind its reply: the next prompt comes sooner.
        self.write_behind = False
        self.warned = False             # some work behind a reply has failed
        self.on_behind_change = lambda: None    # the shell redraws its toolbar then
        self._backend = None
        self._session = None
        self._session_loaded = False
        self.session_dropped = False   # the last call found the stored session invalid

    @property
    def backend(self):
        if self._backend is None:
            from backend.api import Backend

            self._backend = Backend(self.home, write_behind=self.write_behind)
            self._backend.behind.on_change = lambda: self.on_behind_change()
        return self._backend

    # -- the stored session ----------------------------------------------------
    def _session_path(self):
        return os.path.join(self.home, *SESSION_FILE)

    @property
    def session(self):
        if not self._session_loaded:
            self._session_loaded = True
            try:
                with open(self._session_path()) as f:
                    self._session = json.load(f)
            except (OSError, ValueError):
                self._session = None
        return self._session

    def _save_session(self, session):
        self._session = session
        self._session_loaded = True
        path = self._session_path()
        if session is None:
            try:
                os.remove(path)
            except OSError:
                pass
            return
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path + ".tmp", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(session, f)
        os.replace(path + ".tmp", path)

    @property
    def account(self):
        return (self.session or {}).get("accountName")

    # -- calling ------------------------------------------------------------
    def call(self, name, params, progress=None):
        session = self.session
        self.session_dropped = False
        reply = self.backend.call(name, params, session and session.get("uuid"), progress)
        if reply.get("success"):
            if name == "LogInByAccount":
                inv = reply["inventory"]
                self._save_session({"uuid": inv["uuid"], "accountName": params["accountName"]})
            elif name == "LogOut" and (not params.get("sessionUuid") or
                                       params.get("sessionUuid") == (session or {}).get("uuid")):
                self._save_session(None)
        elif reply.get("error", {}).get("code") == "ID.1001" and session:
            self._save_session(None)
            self.session_dropped = True
        return reply

    def take_warnings(self):
        """What work behind earlier replies reported (Backend.after_reply)."""
        found = self._backend.take_warnings() if self._backend is not None else []
        self.warned = self.warned or bool(found)
        return found

    def pending(self):
        """What still runs behind earlier replies (texts naming it)."""
        return self._backend.behind.pending() if self._backend is not None else []

    def wait_behind(self):
        if self._backend is not None:
            self._backend.wait_behind()

    def close(self):
        """Close the backend (waiting for work behind replies); its warnings."""
        backend, self._backend = self._backend, None
        if backend is None:
            return []
        backend.close()
        return backend.take_warnings()
