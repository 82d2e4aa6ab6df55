import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Hundreds of throwaway clouds must not each leave a host agent running; the
# tests of the agent turn it on for themselves.
os.environ.setdefault("ZSTACK_HOST_AGENT", "off")
# English unless a test asks for another language, whatever this machine's locale.
os.environ.setdefault("ZSTACK_LANG", "en")


@pytest.fixture(scope="session", autouse=True)
def _ssh_control_dir_removed():
    """The shared-connection directory the remote-host tests make in /tmp
    (backend/storage/ssh.py) goes with them: made during this run, whatever master
    still waits there (ControlPersist) is ours, asked to exit, then it goes."""
    import subprocess
    import tempfile

    path = Path(tempfile.gettempdir()) / f"zstack-cli-ssh-{os.getuid()}"
    existed = path.exists()
    yield
    if existed or not path.is_dir():
        return
    for socket in path.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "master"],
                       capture_output=True, timeout=30)
    try:
        path.rmdir()
    except OSError:
        pass        # a master that did not go: left to its own ControlPersist


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private $ZSTACK_HOME for one test."""
    path = tmp_path / "zstack-home"
    monkeypatch.setenv("ZSTACK_HOME", str(path))
    return path


@pytest.fixture
def backend(home):
    from backend.api import Backend

    b = Backend(str(home))
    yield b
    b.close()


def cli_path():
    """The installed zstack-cli command (the e2e tests run it as a user would)."""
    candidate = Path(sys.executable).parent / "zstack-cli"
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("zstack-cli")
    if not found:
        pytest.skip("zstack-cli is not installed")
    return found


@pytest.fixture
def cli():
    return cli_path()
