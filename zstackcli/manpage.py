"""The man page, generated from the option parser and the API catalogue.

``python -m zstackcli.manpage > man/zstack-cli.1`` writes the copy that is
installed with the package; a test keeps that copy in step with this code.
"""

from backend.catalogue import APIS, RESOURCES, groups

from . import __version__
from .status import MEANINGS


def _esc(text):
    """Escape text for troff: backslashes, and a leading dot or quote."""
    text = str(text).replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def _options():
    from .options import build_parser

    lines = []
    for action in build_parser()._actions:
        if not action.option_strings or action.help == "==SUPPRESS==":
            continue
        names = ", ".join(f"\\fB{_esc(o)}\\fR" for o in action.option_strings)
        if action.metavar or action.choices and action.nargs != 0:
            names += f" \\fI{_esc(action.metavar or '|'.join(action.choices))}\\fR"
        lines += [".TP", names, _esc(action.help or "")]
    return lines


def render():
    out = [f'.TH ZSTACK-CLI 1 "" "zstack-cli {__version__}" "User Commands"',
           ".SH NAME", "zstack\\-cli \\- an interactive shell for a small KVM cloud, speaking "
           "ZStack's API",
           ".SH SYNOPSIS",
           "\\fBzstack-cli\\fR [\\fIoptions\\fR]", ".br",
           "\\fBzstack-cli\\fR [\\fIoptions\\fR] \\fIVerb\\fR [\\fIkey\\fR=\\fIvalue\\fR ...]",
           ".br", "\\fBzstack-cli\\fR [\\fIoptions\\fR] \\fB-f\\fR \\fIFILE\\fR|\\fB-\\fR",
           ".SH DESCRIPTION",
           "An operator types ZStack command lines (\\fBCreateZone name=zone1\\fR) at the "
           "\\fB>>>\\fR prompt, or passes one as arguments, or pipes a file of them; an embedded "
           "backend does the work and keeps its state in SQLite under \\fB$ZSTACK_HOME\\fR.",
           ".SH MODES",
           ".TP", "no command, stdin a terminal", "the interactive shell, with completion of "
           "verbs, keys and values, history and help.",
           ".TP", "\\fIVerb key=value ...\\fR", "run one command, print its reply, exit.",
           ".TP", "\\fB-f\\fR \\fIFILE\\fR, \\fB-f -\\fR, or stdin from a pipe",
           "run the commands one per line; stop at the first failure unless "
           "\\fB--keep-going\\fR.",
           ".SH OPTIONS", *_options(),
           ".SH EXIT STATUS"]
    for code, meaning in MEANINGS:
        out += [".TP", f"\\fB{code}\\fR", _esc(meaning)]
    out += [".SH COMMAND LINE",
            "A line is \\fIVerb key=value ...\\fR split on white space with shell-like quoting "
            "('...' literal, \"...\" with \\e\" and \\e\\e). A word splits on its first '='. "
            "Lists split on ',' (\\e, is a comma); in systemTags a comma starts a new tag only "
            "before a tag name (word::). \\fIkey\\fR=@\\fIfile\\fR and tag=\\fIname\\fR::@\\fIfile"
            "\\fR read the value from a file. A line ending in \\e continues; a quote left open "
            "continues on the next line and keeps the newline. Lines starting with # are "
            "comments.",
            ".SH QUERIES",
            "Query APIs take conditions, ANDed: \\fBf=v\\fR (\\fBf=null\\fR), \\fBf!=v\\fR, "
            "\\fBf>v\\fR, \\fBf<v\\fR, \\fBf>=v\\fR, \\fBf<=v\\fR, \\fBf?=a,b\\fR (in), "
            "\\fBf!?=a,b\\fR (not in), \\fBf~=v\\fR (like, case-insensitive; %v% without "
            "wildcards), \\fBf!~=v\\fR; nested fields follow relations (\\fBcluster.name=c1\\fR); "
            "\\fB__systemTag__\\fR and \\fB__userTag__\\fR filter on tags. Reserved keys: "
            "\\fBfields= limit= start= sortBy= sortDirection= count=true replyWithCount=true\\fR.",
            ".SH APIS"]
    for group, names in groups().items():
        out += [".SS " + _esc(group)]
        for name in names:
            api = APIS[name]
            params = " ".join((f"\\fB{p.name}\\fR" if p.required else f"[{p.name}]")
                              for p in api.params.values())
            out += [".TP", f"\\fB{name}\\fR {params}", _esc(api.doc.en if api.doc else "")]
            if api.query:
                fields = ", ".join(RESOURCES[api.resource].fields)
                out += [".br", f"fields: {_esc(fields)}"]
    out += [".SH FILES",
            ".TP", "$ZSTACK_HOME/zstack.db", "the state (SQLite, WAL); copied to "
            "zstack.db.v\\fIN\\fR.bak before a schema upgrade.",
            ".TP", "$ZSTACK_HOME/cli/history", "the shell's history, passwords masked.",
            ".TP", "$ZSTACK_HOME/cli/session", "the session of the last LogInByAccount.",
            ".TP", "$ZSTACK_HOME/logs/", "tracebacks of internal errors.",
            ".SH ENVIRONMENT",
            ".TP", "ZSTACK_HOME", "where the state lives (default ~/.zstack).",
            ".TP", "ZSTACK_LANG", "en or zh: the language of messages (else the locale).",
            ".SH EXAMPLES"]
    shown = set()
    for api in APIS.values():      # the first example of each area
        if api.example and api.group not in shown:
            shown.add(api.group)
            out += [".nf", _esc(f"zstack-cli {api.example}"), ".fi"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
