"""The host agent's entry point on a remote host, in its zip (backend.hostops.bundle):
``python3 agent.pyz OP ARGS`` for one operation, ``python3 agent.pyz serve`` for
a session of them; ``metadata ...`` and ``supervise ...`` run that host's Flat
metadata server and the daemon keeping it up.

ARGS is the operation's argument list as base64 JSON (no shell quoting to get
wrong), or '-' for the same list as JSON on standard input; the reply is one JSON line on stdout: ``{"ok": result}`` or
``{"error": {"kind": ..., "text": ...}}``, the text as i18n.dump_text keeps a
message (template and values), so the caller shows it in its own language.
Otherwise standard input is the operation's data (an image for ensure_image_cache).
"""

import base64
import json
import sys


def handle(op, payload):
    """One operation: its reply (a dict). ``payload`` '-': the arguments are the
    standard input (as JSON)."""
    try:
        args = json.loads(sys.stdin.read() if payload == "-" else base64.b64decode(payload))
    except ValueError:
        args = None
    return run(op, args)


def run(op, args):
    from ..i18n import Error, dump_text, msg
    from ..hostops.ops import OPERATIONS, HostOps

    try:
        if op not in OPERATIONS:
            raise Error(msg("the host agent has no operation {op}", op=op))
        if not isinstance(args, list):
            raise Error(msg("the host agent got no arguments for {op}", op=op))
        return {"ok": getattr(HostOps(), op)(*args)}
    except Error as e:
        return {"error": {"kind": type(e).__name__, "text": dump_text(e.text)}}
    except Exception as e:   # a fault of the agent: still one line back, not a traceback
        return {"error": {"kind": "internal",
                          "text": dump_text(msg("the host agent failed: {error}",
                                                error=f"{type(e).__name__}: {e}"))}}


def serve(lines=None, out=None):
    """A session: one request per line ({"op": ..., "args": [...]}), one reply line
    each, until the caller closes its end (or goes away)."""
    lines = sys.stdin if lines is None else lines
    out = sys.stdout if out is None else out
    for line in lines:
        try:
            request = json.loads(line)
            op, args = request["op"], request["args"]
        except (ValueError, KeyError, TypeError):
            op, args = "?", None
        out.write(json.dumps(run(op, args)) + "\n")
        out.flush()


OLDEST_PYTHON = (3, 8)


def _too_old():
    """A reply for every request when the host's python3 can not run the agent."""
    from ..i18n import dump_text, msg

    text = msg("the host agent needs Python {needed} or newer; this host has {found}",
               needed=".".join(map(str, OLDEST_PYTHON)),
               found=".".join(map(str, sys.version_info[:3])))
    return {"error": {"kind": "StorageError", "text": dump_text(text)}}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if sys.version_info < OLDEST_PYTHON:
        sys.stdout.write(json.dumps(_too_old()) + "\n")
        return
    if argv == ["serve"]:
        serve()
        return
    if argv[:1] == ["metadata"]:          # a remote host's metadata server (services.flat)
        from .metadata_server import main as metadata_main

        sys.exit(metadata_main(argv[1:]))
    if argv[:1] == ["supervise"]:         # and the daemon that keeps it running
        from ..network.flat.supervisor import main as supervise

        sys.exit(supervise(argv[1:]))
    if len(argv) != 2:
        sys.stderr.write("usage: agent.pyz OPERATION BASE64-JSON-ARGS | agent.pyz serve\n")
        sys.exit(2)
    sys.stdout.write(json.dumps(handle(*argv)) + "\n")
