"""A remote host's operations, run there by its agent over ssh (see the
package's docstring): ``RemoteHostOps(target).create_empty_volume(path, size)``
is ``ssh host python3 .zstack-cli/agent-<digest>.pyz create_empty_volume ARGS``.

The agent is copied to the host the first time a call finds it missing (exit
status 97, which the command line below returns before python runs), then the
call is made again. Its errors come back as messages and are raised here as
the same kind of error (StorageError, BridgeError); a host ssh can not reach,
or an agent that can not run, is a StorageError naming the host.
"""

import base64
import json
import shlex

from ..i18n import load_text, msg
from ..storage import StorageError
from . import bundle
from .ops import OPERATIONS

AGENT_DIR = ".zstack-cli"          # under the login's home directory on the host
MISSING = 97


def _error_class(kind):
    """The error class the agent's error is raised as here (kinds callers catch)."""
    if kind == "BridgeError":
        from ..network.bridge import BridgeError

        return BridgeError
    if kind == "FlatNetworkError":
        from ..network.flat.errors import FlatNetworkError

        return FlatNetworkError
    return StorageError


class RemoteHostOps:
    remote = True

    def __init__(self, target):
        self.target = target

    def __getattr__(self, name):
        if name not in OPERATIONS:
            raise AttributeError(name)
        return lambda *args: self.call(name, args)

    def ensure_image_cache(self, root, image_uuid, fmt, source_path, md5sum=None):
        """The backup storage file streams through ssh into the agent, which
        checks its md5 as it writes the copy (nothing is staged here)."""
        try:
            source = open(source_path, "rb")
        except OSError as e:
            raise StorageError(msg("cannot read {path}: {error}", path=source_path,
                                   error=e.strerror)) from None
        with source:
            return self.call("ensure_image_cache",
                             (root, image_uuid, fmt, "/dev/stdin", md5sum), stdin=source)

    def call(self, op, args, stdin=None):
        name, _ = bundle.build()
        payload = base64.b64encode(json.dumps(list(args)).encode()).decode()
        agent = f"{AGENT_DIR}/{name}"
        line = (f"test -f {agent} || exit {MISSING}; "
                f"exec python3 {agent} {shlex.quote(op)} {payload}")
        status, out, err = self.target.run(line, stdin=stdin)
        if status == MISSING:
            self.deploy()
            if stdin is not None:
                stdin.seek(0)
            status, out, err = self.target.run(line, stdin=stdin)
        return self._reply(op, status, out, err)

    def deploy(self):
        """Copy the agent to the host: written under a temporary name, renamed
        into place, so a half-copied agent is never run."""
        import tempfile

        name, data = bundle.build()
        tmp_name = f"{AGENT_DIR}/.{name}.part"
        line = (f"umask 077 && mkdir -p {AGENT_DIR} && cat > {tmp_name} && "
                f"mv -f {tmp_name} {AGENT_DIR}/{name}")
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.seek(0)
            status, _, err = self.target.run(line, stdin=f)
        if status != 0:
            raise StorageError(msg("cannot install the host agent on {address}: {reason}",
                                   address=self.target.address,
                                   reason=_last_line(err, status)))

    def _reply(self, op, status, out, err):
        reply = None
        if status == 0:
            try:
                reply = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                reply = None
        if not isinstance(reply, dict):
            raise StorageError(msg("the host agent on {address} failed to {op}: {reason}",
                                   address=self.target.address, op=op,
                                   reason=_last_line(err, status)))
        if "error" in reply:
            error = reply["error"] or {}
            raise _error_class(error.get("kind"))(load_text(error.get("text")))
        return reply.get("ok")


def _last_line(err, status):
    lines = [line for line in (err or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else msg("exit status {code}", code=status)
