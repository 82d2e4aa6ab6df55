"""A progress bar on stderr for long operations (image download, volume migration).

Drawn only when stderr is a terminal; at most ten redraws a second.
"""

import sys
import time


class ProgressBar:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, label, done, total):
        if not self.enabled:
            return
        now = time.monotonic()
        finished = total is not None and done >= total
        if not finished and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        if total:
            filled = int(width * min(done, total) / total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"\r{label} [{bar}] {100 * min(done, total) // total:3d}% {_size(done)}"
        else:
            text = f"\r{label} {_size(done)}"
        self._write(text + "\x1b[K")
        self._drawn = True

    def close(self):
        if self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def _write(self, text):
        # The bar is called from inside the operation it draws: a terminal that went
        # away (EIO, EPIPE) must not fail a copy, let alone read as a disk error.
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
