"""The host agent a remote host runs: this package with the storage and bridge
modules it uses, as one zip application (``python3 agent.pyz OP ARGS``).

Its name carries a digest of its content, so a host runs exactly the code of
the zstack-cli that calls it: a newer zstack-cli finds its own name missing
there and copies itself over (remote.py), and two versions never mix.
"""

import hashlib
import io
import os
import zipfile

# What the agent imports, relative to the backend package: a package stands for
# all its modules. Nothing here touches the database or libvirt.
CONTENT = ("__init__.py", "i18n.py", "storage", "network/__init__.py", "network/bridge.py",
           "network/flat", "agent/__init__.py", "agent/remote_main.py",
           "agent/metadata_server.py", "agent/metadata_sources.py", "hostops")

MAIN = b"from backend.agent.remote_main import main\nmain()\n"

_built = None


def _backend_dir():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _files():
    base = _backend_dir()
    for entry in CONTENT:
        path = os.path.join(base, entry)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith(".py"):
                    yield f"{entry}/{name}", os.path.join(path, name)
        else:
            yield entry, path


def build():
    """(name, bytes) of the agent: built once per process, same bytes for the
    same sources (fixed timestamps), so its digest names the content."""
    global _built
    if _built is None:
        digest = hashlib.sha256()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for relative, path in _files():
                with open(path, "rb") as f:
                    data = f.read()
                digest.update(relative.encode() + b"\0" + data + b"\0")
                z.writestr(zipfile.ZipInfo(f"backend/{relative}", (2020, 1, 1, 0, 0, 0)), data)
            z.writestr(zipfile.ZipInfo("__main__.py", (2020, 1, 1, 0, 0, 0)), MAIN)
        _built = (f"agent-{digest.hexdigest()[:16]}.pyz", buffer.getvalue())
    return _built
