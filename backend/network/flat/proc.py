"""Processes known by pid file, checked by command line before any signal.

Only a process whose /proc/<pid>/cmdline holds an expected argument (the
config or pid file path that identifies it) is ever signalled; a zombie or a
recycled pid counts as dead. Standard library only: supervisor.py runs this
module outside the package.
"""

import os
import signal
import time


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid(path, pid):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def matches(pid, marker):
    """The process exists, is not a zombie, and has ``marker`` in one argument
    (or, when ``marker`` is callable, ``marker(argv)`` is true)."""
    if not pid:
        return False
    argv = cmdline(pid)
    if callable(marker):
        return bool(argv) and bool(marker(argv))
    return any(marker in arg for arg in argv)


def alive(pidfile, marker):
    """The pid in ``pidfile`` when that process is alive and is ours, else None."""
    pid = read_pid(pidfile)
    return pid if pid and matches(pid, marker) else None


def stop(pid, marker, timeout=5.0):
    """SIGTERM, then SIGKILL after ``timeout``, a process that is ours; True once gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        if not matches(pid, marker):
            return True
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not matches(pid, marker):
                return True
            time.sleep(0.02)
    return not matches(pid, marker)
