"""An independent witness of one domain's libvirt events, with their times.

``with Watcher(name) as w: ...; kind, words, at = w.next("reboot")``

A process of its own (the test process runs no libvirt event loop) opens
qemu:///system, registers for the domain's lifecycle and reboot events, says
"ready" and then prints one line per event with CLOCK_MONOTONIC, which is the
same clock in every process of the machine: a test compares it with its own
``time.monotonic()`` to time what the host agent did after the event.
"""

import queue
import subprocess
import sys
import threading
import time

from tests.integration.realhost import SYSTEM_URI

_SCRIPT = r"""
import sys, time, libvirt
libvirt.registerErrorHandler(lambda _c, _e: None, None)
libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
EVENTS = {getattr(libvirt, n): n[len("VIR_DOMAIN_EVENT_"):] for n in dir(libvirt)
          if n.startswith("VIR_DOMAIN_EVENT_") and n.count("_") == 3
          and isinstance(getattr(libvirt, n), int)}
def say(*words):
    print(*words, time.monotonic(), flush=True)
conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                            lambda c, d, event, detail, o: say("lifecycle", EVENTS.get(event, event),
                                                              detail), None)
conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                            lambda c, d, o: say("reboot"), None)
print("ready", flush=True)
while True:
    libvirt.virEventRunDefaultImpl()
"""


class Watcher:
    def __init__(self, domain, uri=SYSTEM_URI):
        self.proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, uri, domain],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        first = self._line(15)
        if first != "ready":
            self.close()
            raise AssertionError(f"the event watcher did not start: {first!r} "
                                 f"{self.proc.stderr.read() if self.proc.stderr else ''}")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _line(self, timeout):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def next(self, kind, first_word=None, timeout=30.0):
        """The next event of ``kind`` ("reboot", "lifecycle"), whose first word is
        ``first_word`` if given: (words, monotonic time). Other events are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._match(self._line(max(0.0, deadline - time.monotonic())), kind,
                                first_word)
            if found is False:
                raise AssertionError(f"no {kind} {first_word or ''} event within {timeout} s")
            if found:
                return found

    def poll(self, kind, first_word=None):
        """Like ``next`` without waiting: None when no such event came yet."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return None
            found = self._match(line, kind, first_word)
            if found is False:
                return None
            if found:
                return found

    @staticmethod
    def _match(line, kind, first_word):
        if line is None:                    # the watcher is gone, or nothing in time
            return False
        words = line.split()
        if words[0] == kind and (first_word is None or words[1] == first_word):
            return words[1:-1], float(words[-1])
        return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)                 # it ends at the pipe's EOF
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
