"""The prompt_toolkit side of completion: the engine (completion.py) behind a
Completer, and a values provider that can never hold the keyboard.

prompt_toolkit runs the Completer in a thread (complete_in_thread), so typing
goes on while it works. What can still be slow is a store lookup on a large
database: those run one at a time on a worker thread of their own, on their
own SQLite connection, and the completer waits for them at most ``timeout``
seconds; a late answer is dropped (the next keystroke asks again).
"""

import concurrent.futures

from prompt_toolkit.completion import Completer, Completion

from .completion import MAX_VALUES, complete

LOOKUP_TIMEOUT = 0.5


class ZStackCompleter(Completer):
    def __init__(self, values=None):
        self.values = values

    def get_completions(self, document, complete_event):
        for s in complete(document.text_before_cursor, self.values):
            # A uuid's display already carries its name: no need to say it twice.
            meta = "" if s.meta and f"({s.meta})" in s.display else s.meta
            yield Completion(s.text, start_position=-s.replace, display=s.display,
                             display_meta=meta)


class _LookupClient:
    """What ClientValues needs (``call``) over a backend of the lookup thread.

    Deliberately not a second Client: it must never write or drop the stored
    session (the shell's Client owns that); it only borrows the current
    session to ask.
    """

    def __init__(self, client):
        self.client = client
        self._backend = None

    def call(self, name, params):
        from backend.api import Backend

        if self._backend is None:        # created on, and used only by, the worker thread
            self._backend = Backend(self.client.home)
        session = self.client.session
        return self._backend.call(name, params, session and session.get("uuid"))

    def close(self):
        if self._backend is not None:
            self._backend.close()
            self._backend = None


class TimedValues:
    """A values provider that answers within ``timeout`` or with nothing."""

    def __init__(self, values, timeout=LOOKUP_TIMEOUT):
        self.values = values
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="zstack-completion")

    def uuids(self, resource, prefix, limit=MAX_VALUES):
        try:
            future = self._pool.submit(self.values.uuids, resource, prefix, limit)
        except RuntimeError:        # shut down: the shell is leaving
            return []
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()         # still queued: never run it
            return []
        except Exception:           # a lookup must never break typing
            return []

    def close(self):
        closer = getattr(getattr(self.values, "client", None), "close", None)
        if closer is not None:
            # The connection belongs to the worker thread: close it there.
            self._pool.submit(closer)
        self._pool.shutdown(wait=True)


def live_values(client, timeout=LOOKUP_TIMEOUT):
    """The shell's provider: uuids and names from the store, capped in time."""
    from .lookup import ClientValues

    return TimedValues(ClientValues(_LookupClient(client)), timeout)
