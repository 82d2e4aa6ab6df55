"""Lets ``pytest tests/perf -q -s`` collect the bench_*.py files (their test_* functions).

The default test run never gets here: setup.cfg's testpaths leave tests/perf out.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
