"""Polling until something holds, for tests that wait on other processes."""

import time

import pytest


def wait_for(predicate, timeout, what, step=0.02):
    """The predicate's first truthy value, or the test fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
