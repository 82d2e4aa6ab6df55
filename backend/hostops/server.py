"""The host agent's entry point on a remote host: ``python3 agent.pyz OP ARGS``.

ARGS is the operation's argument list as base64 JSON (no shell quoting to get
wrong); the reply is one JSON line on stdout: ``{"ok": result}`` or
``{"error": {"kind": ..., "text": ...}}``, the text as i18n.dump_text keeps a
message (template and values), so the caller shows it in its own language.
Standard input is the operation's data (an image for ensure_image_cache).
"""

import base64
import json
import sys


def handle(op, payload):
    from ..i18n import Error, dump_text, msg
    from .ops import OPERATIONS, HostOps

    try:
        if op not in OPERATIONS:
            raise Error(msg("the host agent has no operation {op}", op=op))
        args = json.loads(base64.b64decode(payload))
        return {"ok": getattr(HostOps(), op)(*args)}
    except Error as e:
        return {"error": {"kind": type(e).__name__, "text": dump_text(e.text)}}
    except Exception as e:   # a fault of the agent: still one line back, not a traceback
        return {"error": {"kind": "internal",
                          "text": dump_text(msg("the host agent failed: {error}",
                                                error=f"{type(e).__name__}: {e}"))}}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: agent.pyz OPERATION BASE64-JSON-ARGS\n")
        sys.exit(2)
    sys.stdout.write(json.dumps(handle(*argv)) + "\n")
