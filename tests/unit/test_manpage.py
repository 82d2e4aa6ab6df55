"""The man page is generated from the option parser and the catalogue."""

import shutil
import subprocess
from pathlib import Path

import pytest

from backend.catalogue import APIS
from zstackcli.manpage import render

ROOT = Path(__file__).resolve().parents[2]


def test_committed_copy_is_current():
    assert (ROOT / "man" / "zstack-cli.1").read_text() == render(), \
        "regenerate: python -m zstackcli.manpage > man/zstack-cli.1"


@pytest.mark.skipif(not shutil.which("man"), reason="man is not installed")
def test_man_renders_it_and_names_every_api():
    out = subprocess.run(["man", "-l", str(ROOT / "man" / "zstack-cli.1")], capture_output=True,
                         text=True, timeout=30, env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    for name in APIS:
        assert name in out.stdout
    for section in ("SYNOPSIS", "OPTIONS", "EXIT STATUS", "QUERIES", "FILES", "ENVIRONMENT"):
        assert section in out.stdout
