"""The interactive shell: a prompt_toolkit session around the Runner.

Thin on purpose: each piece is built by its own module (lexer, style,
completer, history, keys, toolbar); this one wires them and runs the loop.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading

from . import __version__, status
from .i18n import t
from .output import write_error
from .runner import ExitShell, Runner

PROMPT = ">>> "
CONTINUATION = "... "


def run_repl(client, output):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.shortcuts import CompleteStyle

    from .completer import ZStackCompleter, live_values
    from .keys import build_key_bindings
    from .lexer import ZStackLexer
    from .style import build_style
    from .toolbar import build_toolbar

    runner = Runner(client, output, colour=True)
    runner.pager = page
    values = live_values(client)
    session = PromptSession(
        message=lambda: prompt_message(client),
        multiline=True,                    # Enter itself decides: see keys.py
        # A long line wrapped by the screen is not a continuation: no "... " in the
        # middle of a uuid to be copied off the screen.
        prompt_continuation=lambda width, line, soft: (
            "" if soft else [("class:continuation", CONTINUATION)]),
        key_bindings=build_key_bindings(),
        lexer=PygmentsLexer(ZStackLexer),
        style=build_style(),
        include_default_pygments_style=False,
        completer=ZStackCompleter(values),
        complete_in_thread=True,
        complete_while_typing=True,
        complete_style=CompleteStyle.COLUMN,
        history=_history(client.home),
        auto_suggest=AutoSuggestFromHistory(),
        search_ignore_case=True,
        bottom_toolbar=build_toolbar(runner, client),
    )
    # A landing behind a reply ends while the prompt waits: the toolbar says so.
    client.on_behind_change = session.app.invalidate
    print(t("banner", version=__version__, home=client.home))
    threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
    try:
        while True:
            try:
                text = session.prompt()
            except KeyboardInterrupt:      # Ctrl-C: drop the line, keep the shell
                continue
            except EOFError:               # Ctrl-D on an empty line
                break
            try:
                # A paste may bring several statements: each runs, as in any shell.
                runner.run_buffer(text, keep_going=True)
            except ExitShell:
                break
            except KeyboardInterrupt:      # Ctrl-C while a command runs
                write_error(t("interrupted"), colour=True)
            except Exception as e:         # a bug of ours must not end the session
                from .crash import report

                report(e, colour=True)
    finally:
        values.close()
    pending = client.pending()
    if pending:                 # a migrated volume still landing: say what the wait is for
        write_error(t("finishing", what="; ".join(pending)), colour=False)
        client.wait_behind()
        for warning in client.take_warnings():
            write_error(warning, colour=True)
    print(t("bye"))
    return status.OK


# What the first command needs whatever it is: the backend's door, the store's
# schema check, the hosts' drivers, the reply's colouring and tables.
WARM_UP = ("backend.validation", "backend.store.migrate", "backend.services.identity",
           "backend.services.common", "backend.hypervisor", "backend.hypervisor.simulator",
           "zstackcli.prettyjson", "pygments.formatters", "pygments.lexers.data", "tabulate")


def _warm_up():
    """Import in the background, while the operator types, what the first command
    would otherwise import before its reply (about 0.2 s). Imports only: the store
    and the hosts are opened by the command itself, on the main thread."""
    import importlib

    for name in WARM_UP:
        try:
            importlib.import_module(name)
        except Exception:           # noqa: BLE001 - the command will say what is wrong
            pass


def _history(home):
    from prompt_toolkit.history import InMemoryHistory

    from .history import open_history

    try:
        return open_history(home)
    except OSError as e:      # a read-only home: a shell without saved history still works
        write_error(t("history_unavailable", reason=e.strerror or e), colour=True)
        return InMemoryHistory()


def prompt_message(client):
    account = client.account
    head = [("class:prompt.account", f"{account} ")] if account else []
    return head + [("class:prompt", PROMPT)]


# -- the pager -------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def page(text):
    """Show a reply longer than the screen through a pager; True if it did.

    ``$PAGER`` wins, as in git or psql; else ``less -R -F -X`` (colours kept,
    quits by itself when the text fits, leaves the text on the screen).
    """
    if not sys.stdout.isatty() or os.environ.get("TERM") == "dumb":
        return False
    size = shutil.get_terminal_size()
    if _screen_lines(text, size.columns) < size.lines - 1:
        return False
    command = _pager_command()
    if command is None:
        return False
    env = dict(os.environ)
    env.setdefault("LESS", "-R -F -X")
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, env=env)
    except OSError:
        return False
    # Ctrl-C reaches the pager too (less uses it to stop a search): the pager
    # decides when it is done, we only wait for it.
    try:
        proc.stdin.write(text.encode("utf-8", "replace"))
    except (OSError, KeyboardInterrupt):    # the pager quit before reading it all
        pass
    try:
        proc.stdin.close()
    except OSError:
        pass
    while True:
        try:
            proc.wait()
            break
        except KeyboardInterrupt:
            continue
    return True


def _pager_command():
    pager = os.environ.get("PAGER", "").strip()
    if pager:
        try:
            return shlex.split(pager)
        except ValueError:
            return None
    less = shutil.which("less")
    return [less, "-R", "-F", "-X"] if less else None


def _screen_lines(text, columns):
    columns = max(columns, 1)
    total = 0
    for line in _ANSI.sub("", text).split("\n"):
        total += max(1, -(-len(line) // columns))
    return total
