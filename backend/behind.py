"""Work that runs behind a reply (Backend.after_reply): in the interactive shell, a
migrated volume's landing (its copy flushed and checked from the disk, its source
deleted) goes on in a thread while the next prompt is already there.

Each piece of work runs once, with a cleanup that runs whatever happens (the
volume's lock is released there); the next call that changes anything, and the
backend's close(), wait for all of it. What a piece of work fails with becomes a
warning for the shell to print. "Done" is an event the thread sets last, not
Thread.join() or is_alive(): a Ctrl-C inside join() leaves a running thread
looking finished on the Pythons we support (CPython gh-90882).
"""

import threading


class Behind:
    def __init__(self):
        self._pending = []          # (thread, done event, what), oldest first
        self._warnings = []
        self.on_change = None       # called (from any thread) when work starts or ends

    def start(self, work, cleanup, what):
        """Run ``work()`` in a thread, then ``cleanup()`` in any case. ``work``
        returns a warning (or None); ``what`` is a text naming the work, for the
        wait at exit."""
        done = threading.Event()

        def run():
            try:
                error = work()
            except Exception as e:      # noqa: BLE001 - a thread's traceback would reach the user
                error = f"{type(e).__name__}: {e}"
            try:
                if error:
                    self._warnings.append(error)
            finally:
                try:
                    cleanup()
                finally:
                    done.set()
                    self._changed()
        thread = threading.Thread(target=run, name="after-reply")
        try:
            thread.start()
        except BaseException:
            cleanup()
            raise
        self._pending.append((thread, done, what))
        self._changed()

    def _changed(self):
        try:
            if self.on_change is not None:
                self.on_change()
        except Exception:           # noqa: BLE001 - a display hint must never break work
            pass

    def pending(self):
        """What still runs (its texts), oldest first."""
        return [what for _, done, what in self._pending if not done.is_set()]

    def wait(self):
        while self._pending:
            self._pending[0][1].wait()       # a Ctrl-C here leaves it pending
            self._pending.pop(0)

    def take_warnings(self):
        found = []
        while self._warnings:               # pop, not swap: a thread may append meanwhile
            found.append(self._warnings.pop(0))
        return found
