"""A remote host's operations, run there by its agent over ssh (see the
package's docstring): ``RemoteHostOps(target).create_empty_volume(path, size)``
is ``ssh host python3 -I -S .zstack-cli/agent-<digest>.pyz create_empty_volume ARGS``
(isolated, no site packages: the agent needs the standard library only, and
starts faster).

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
        """Run ``op`` there: in this process's session with the host's agent (one
        round trip on the shared ssh connection), or as a command of its own when
        it reads ``stdin`` or the session can not be had (whose error then says
        why, e.g. ssh's own)."""
        if stdin is None:
            reply = self._in_session(op, args)
            if reply is not None:
                return self._unpack(reply)
        name, _ = bundle.build()
        encoded = json.dumps(list(args)).encode()
        if stdin is None:
            # The arguments on stdin ('-'): one argument of a command line holds 128 KiB
            # at most, and a DHCP server's entries for a big L3 are more.
            line, stdin = f"{_agent_line(name)} {shlex.quote(op)} -", encoded
        else:
            line = f"{_agent_line(name)} {shlex.quote(op)} {base64.b64encode(encoded).decode()}"
        status, out, err = self.target.run(line, stdin=stdin)
        if status == MISSING:
            self.deploy()
            if not isinstance(stdin, bytes):
                stdin.seek(0)
            status, out, err = self.target.run(line, stdin=stdin)
        return self._reply(op, status, out, err)

    def _in_session(self, op, args):
        """The reply of ``op`` from the session, or None when there is none."""
        key = (self.target.program, self.target.login, self.target.port, self.target.keyfile)
        for attempt in (1, 2):
            session = _SESSIONS.get(key)
            if session is None:
                session = _SESSIONS[key] = _Session(self.target)
            try:
                return session.request(op, args)
            except _SessionGone as gone:
                _SESSIONS.pop(key, None)
                if gone.status != MISSING or attempt == 2:
                    return None
                self.deploy()
        return None

    def deploy(self):
        """Copy the agent to the host: written under a temporary name, renamed
        into place, so a half-copied agent is never run."""
        import tempfile

        import hashlib

        name, data = bundle.build()
        # A name of this copy's own ($$: two processes may install at once), and only
        # a copy whose bytes check out is renamed into place: a cut connection ends
        # cat's input early, and a truncated agent must never be the one that runs.
        tmp_name = f"{AGENT_DIR}/.{name}.$$.part"
        digest = hashlib.sha256(data).hexdigest()
        # Once the agent is in place: other versions' agents (and copies cut off
        # mid-way) go when more than a week old and no process runs from them (a
        # metadata server or its supervisor, another version's session: their command
        # lines name the file; without pgrep nothing is removed). Each version lives
        # in a file of its own, and another version managing this host redeploys its
        # own at most once a week. The loop's shell names no old file itself.
        cleanup = (f"command -v pgrep >/dev/null && for f in {AGENT_DIR}/agent-*.pyz "
                   f"{AGENT_DIR}/.agent-*.part; do [ -f \"$f\" ] && "
                   f"[ \"$f\" != {AGENT_DIR}/{name} ] && [ -n \"$(find \"$f\" -mtime +7)\" ] && "
                   f"! pgrep -f -- \"$(basename -- \"$f\")\" >/dev/null && rm -f -- \"$f\"; "
                   f"done; true")
        line = (f"umask 077 && mkdir -p {AGENT_DIR} && cat > {tmp_name} && "
                f"if echo '{digest}  '{tmp_name} | sha256sum -c --status; then "
                f"mv -f {tmp_name} {AGENT_DIR}/{name}; else rm -f {tmp_name}; "
                f"echo 'the copy arrived damaged' >&2; exit 1; fi && {{ {cleanup}; }}")
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
        return self._unpack(reply)

    def _unpack(self, reply):
        if "error" in reply:
            error = reply["error"] or {}
            raise _error_class(error.get("kind"))(load_text(error.get("text")))
        return reply.get("ok")


def _agent_line(name):
    """The command line starting the agent there (its arguments follow): exit
    status 97 when this version of it is not there yet. Isolated and without site
    packages: it needs the standard library only, and starts faster."""
    agent = f"{AGENT_DIR}/{name}"
    return f"test -f {agent} || exit {MISSING}; exec python3 -I -S {agent}"


class _SessionGone(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


# One session per host and process, ended when the process ends (its agent sees
# the end of its input, also when this process is killed).
_SESSIONS = {}


class _Session:
    """``python3 agent.pyz serve`` on the host, over the shared ssh connection."""

    def __init__(self, target):
        import threading

        name, _ = bundle.build()
        self.lock = threading.Lock()
        self.proc = target.start(f"{_agent_line(name)} serve")
        if len(_SESSIONS) == 0:
            import atexit

            atexit.register(_end_sessions)

    def request(self, op, args):
        with self.lock:
            try:
                self.proc.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
                self.proc.stdin.flush()
                line = self.proc.stdout.readline()
            except (BrokenPipeError, OSError, ValueError):
                line = ""
            if not line:
                self.end()
                raise _SessionGone(self.proc.returncode)
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.end()
            raise _SessionGone(None)
        return reply

    def end(self):
        import subprocess

        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _end_sessions():
    while _SESSIONS:
        _, session = _SESSIONS.popitem()
        session.end()


def _last_line(err, status):
    lines = [line for line in (err or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else msg("exit status {code}", code=status)
