"""Reply dict -> text: json (default), table, yaml or text (SPEC §4).

Colour only on a terminal, and Pygments is imported only then, so a script
piping our output never pays for it.
"""

import json
import sys

from .headers import header
from .i18n import t

FORMATS = ("json", "table", "yaml", "text")


def render(reply, fmt="json", colour=False, resource=None):
    if fmt == "table":
        return _table(reply, resource)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(reply, allow_unicode=True, sort_keys=True, default_flow_style=False)
    if fmt == "text":
        return _text(reply)
    from .prettyjson import dumps

    text = dumps(reply) + "\n"
    if colour:
        text = _colour(text, "json")
    return text


def _colour(text, kind):
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import JsonLexer
    except ImportError:
        return text
    return highlight(text, JsonLexer(), TerminalFormatter())


def _cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""
    return value


def _columns(rows, resource):
    """The resource's useful columns first, then whatever else the rows hold."""
    present = []
    for row in rows:
        for key in row:
            if key not in present:
                present.append(key)
    preferred = [c for c in (resource.columns if resource else ()) if c in present]
    return preferred or present


def _table(reply, resource):
    from tabulate import tabulate

    if "inventories" in reply:
        rows = reply["inventories"]
        cols = _columns(rows, resource)
        body = tabulate([[_cell(r.get(c)) for c in cols] for r in rows],
                        headers=[header(c) for c in cols],
                        tablefmt="simple", disable_numparse=True)
        tail = "\n" + t("table_total", total=reply["total"]) if "total" in reply else ""
        return (body + tail + "\n") if rows else f"{t('table_no_rows')}{tail}\n"
    item = reply.get("inventory", {k: v for k, v in reply.items() if k != "success"})
    if not item:
        return t("table_success") + "\n" if reply.get("success") else ""
    return tabulate([[header(k), _cell(v)] for k, v in item.items()], tablefmt="plain",
                    disable_numparse=True) + "\n"


def _text(reply):
    def block(item):
        return "".join(f"{k}: {_cell(v)}\n" for k, v in item.items())

    if "inventories" in reply:
        out = "\n".join(block(i) for i in reply["inventories"])
        if "total" in reply:
            out += f"total: {reply['total']}\n"
        return out
    item = reply.get("inventory", {k: v for k, v in reply.items() if k != "success"})
    return block(item) if item else "success\n"


def format_api_error(verb, error):
    """ZStack's one-line error: API call[X] failed because [code: ..., ...]."""
    return f"API call[{verb}] failed because {_error_body(error)}"


def _error_body(error):
    text = (f"[code: {error.get('code')}, description: {error.get('description')}, "
            f"details: {error.get('details')}")
    if error.get("cause"):
        text += f", cause: {_error_body(error['cause'])}"
    return (text + "]").replace("\n", "\\n")


def write_error(message, colour=None):
    """One line on stderr, red on a terminal."""
    # What the user typed may hold control characters (ESC...): show them, never obey them.
    message = "".join(ch if ch >= " " or ch == "\t" else f"\\x{ord(ch):02x}" for ch in message)
    if colour is None:
        colour = sys.stderr.isatty()
    if colour:
        message = f"\x1b[31m{message}\x1b[0m"
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
