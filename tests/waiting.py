"""Polling until something holds, for tests that wait on other processes.

pytest is imported only when a wait fails: the helpers that run outside pytest
(tests/integration/system_libvirtd.py, the benchmarks) use ``alive`` too.
"""

import time


def alive(pid):
    """The process is alive and not a zombie (its parent may be slow to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout, what, step=0.02):
    """The predicate's first truthy value, or the test fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    import pytest

    pytest.fail(f"timed out after {timeout} s waiting for {what}")
