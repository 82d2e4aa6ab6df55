"""Completion for the user's own shell: the hidden ``--complete LINE`` entry
point, the same engine as the REPL with values from the store. The scripts
that call it are in shellscripts.py.

LINE is the command line up to the cursor, as the shell holds it (quotes and
backslashes as typed). Two output forms:

- ``ZSTACK_COMPLETE_SHELL`` unset: one whole word a line, the words that may
  replace the word under the cursor (the first form; kept for old scripts).
- ``ZSTACK_COMPLETE_SHELL=bash|zsh|fish``: LINE is read with that shell's
  quoting, and the first line says what to complete:

  ``words<TAB>HEAD``              candidates follow, one a line. HEAD is the start of
                                  the word under the cursor that bash keeps (it cuts
                                  words at '=' and ':'; inside an open quote it
                                  completes after the quote); zsh and fish replace
                                  the whole word:
                                  ``WORD<TAB>SPACE<TAB>DESCRIPTION`` (bash, zsh),
                                  SPACE ``1`` when a space should follow WORD and
                                  ``0`` when its value or next part follows (``key=``,
                                  ``cluster.``, ``hostname::``);
                                  ``WORD<TAB>DESCRIPTION`` (fish, which decides the
                                  space itself by the same rule)
  ``files<TAB>HEAD<TAB>PARTIAL``  file names (``-f FILE``): HEAD is the part of the
                                  word before the file name (``--file=``), PARTIAL
                                  the file name typed so far, unquoted

Words are unquoted: the shell quotes what it inserts. Nothing is ever written
to stderr, and a store that does not exist yet is not created: only what the
catalogue knows is offered then.
"""

import os

from .completion import MAX_VALUES, NoValues, _rank, complete, split_partial
from .options import OPTIONS_WITH_VALUE, split_argv

SHELLS = ("bash", "zsh", "fish")
LOOKUP_TIMEOUT = 2.0        # seconds a store lookup may take before we answer without it
_NO_SPACE_AFTER = "=.:,"    # key=, cluster., hostname::, a list item then its comma
_DESCRIPTION_MAX = 80


class Candidate:
    __slots__ = ("word", "space", "description")

    def __init__(self, word, space=None, description=""):
        self.word = word
        self.space = (word[-1:] not in _NO_SPACE_AFTER) if space is None else space
        self.description = " ".join(str(description or "").split())
        if len(self.description) > _DESCRIPTION_MAX:
            self.description = self.description[:_DESCRIPTION_MAX - 3].rstrip() + "..."

    def __repr__(self):
        return f"Candidate({self.word!r}, space={self.space}, {self.description!r})"


class Files:
    """Complete file names: ``head`` is kept, ``partial`` is the name typed so far."""

    __slots__ = ("head", "partial")

    def __init__(self, head="", partial=""):
        self.head = head
        self.partial = partial


# -- reading the shell's line -------------------------------------------------------------------

_ANSI_C = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
           "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def split_shell_line(line, shell="bash"):
    """A command line up to the cursor, read with the shell's quoting ->
    (finished words, the word under the cursor), all unquoted. A quote left
    open belongs to the word under the cursor."""
    words, current, _head = _scan(line, shell)
    return words, current


def _scan(line, shell):
    """split_shell_line, and the start of the current word that bash keeps when
    it completes: up to its last unquoted '=' or ':' (bash's COMP_WORDBREAKS),
    or up to a quote still open (readline completes inside it)."""
    words, cur, started = [], [], False
    head = quote_at = 0
    quote = None            # None, "'", '"' or "$'" (ANSI-C, bash and zsh)
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        nxt = line[i + 1] if i + 1 < n else ""
        if quote == "'":
            if ch == "'":
                quote = None
            elif shell == "fish" and ch == "\\" and nxt in "'\\":
                cur.append(nxt)
                i += 1
            else:
                cur.append(ch)
        elif quote == '"':
            escapable = '"$\\\n' if shell == "fish" else '"$\\`\n'
            if ch == '"':
                quote = None
            elif ch == "\\" and nxt and nxt in escapable:
                if nxt != "\n":
                    cur.append(nxt)
                i += 1
            else:
                cur.append(ch)
        elif quote == "$'":
            if ch == "'":
                quote = None
            elif ch == "\\" and nxt:
                cur.append(_ANSI_C.get(nxt, "\\" + nxt))
                i += 1
            else:
                cur.append(ch)
        elif ch in " \t\n":
            if started:
                words.append("".join(cur))
            cur, started, head = [], False, 0
        else:
            started = True
            if ch == "\\":
                if nxt == "\n":
                    started = bool(cur)
                elif nxt:
                    cur.append(nxt)
                i += 1
            elif ch == "'" or ch == '"':
                quote, quote_at = ch, len(cur)
            elif ch == "$" and nxt == "'" and shell != "fish":
                quote, quote_at = "$'", len(cur)
                i += 1
            else:
                cur.append(ch)
                if ch in "=:":
                    head = len(cur)
        i += 1
    current = "".join(cur)
    return words, current, current[:quote_at] if quote else current[:head]


def _engine_quote(word):
    """Write a word so that the REPL's line reader (completion.split_partial)
    reads it back unchanged."""
    if not any(c in word for c in " \t\n'\""):
        return word
    if "'" not in word:
        return f"'{word}'"
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- what to offer ------------------------------------------------------------------------------

def _option_actions():
    from .options import build_parser

    return [a for a in build_parser()._actions
            if a.option_strings and a.help != "==SUPPRESS=="]


def _takes_value(option):
    return option in OPTIONS_WITH_VALUE


def _option_value(option, head, typed):
    """The value of an option, e.g. ``-o ta`` or ``--output=ta``."""
    for action in _option_actions():
        if option in action.option_strings:
            if action.choices:
                return [Candidate(head + c) for c in _rank(list(action.choices), typed)]
            if action.nargs != 0:
                return Files(head, typed)
    return []        # --complete, or an option we do not know


def _options(used, typed):
    out = []
    for action in _option_actions():
        if any(o in used for o in action.option_strings):
            continue
        for o in _rank(list(action.option_strings), typed):
            out.append(Candidate(o, True, action.help))
    return out


def candidates(line, values=None, shell="bash"):
    """The command line up to the cursor -> a list of Candidates, or Files."""
    words, current = split_shell_line(line, shell)
    options, command = split_argv(words[1:])    # the program's name, then our options
    if not command:
        expecting = None
        for word in options:
            expecting = None if expecting else (word if _takes_value(word) else None)
        if expecting:
            return _option_value(expecting, "", current)
        if current.startswith("-"):
            option, eq, typed = current.partition("=")
            if eq:
                return _option_value(option, option + "=", typed) if _takes_value(option) else []
            return _options(options, current)
    text = " ".join(_engine_quote(w) for w in command + [current])
    _words, _current, raw = split_partial(text)
    return [Candidate(raw[:len(raw) - s.replace] + s.text, description=s.meta)
            for s in complete(text, values)]


def complete_line(line, values=None, shell="bash"):
    """``zstack-cli Verb key=va`` (the line up to the cursor) -> the full
    words that may replace the word under the cursor."""
    found = candidates(line, values, shell)
    return [] if isinstance(found, Files) else [c.word for c in found]


def render(found, shell, typed="", head=""):
    """The output of the entry point for a shell (see the module's docstring)."""
    if isinstance(found, Files):
        return f"files\t{_clean(found.head)}\t{_clean(found.partial)}\n"
    lines = [f"words\t{_clean(head)}"]
    for c in found:
        word = _clean(c.word)
        if shell == "fish":
            description = c.description
            if typed and description and typed.lower() not in word.lower():
                # A uuid offered for the start of its name (zoneUuid=web -> zoneUuid=<uuid>):
                # fish keeps a candidate only when the typed word matches it or its
                # description, so the description carries the typed form.
                description = _head_of(typed) + description
            lines.append(f"{word}\t{description}")
        else:
            lines.append(f"{word}\t{1 if c.space else 0}\t{c.description}")
    return "\n".join(lines) + "\n"


def _clean(text):
    return text.replace("\t", " ").replace("\n", " ")


def _head_of(typed):
    """``zoneUuid=we`` -> ``zoneUuid=``; ``l3NetworkUuids=a,we`` -> ``l3NetworkUuids=a,``."""
    cut = max(typed.rfind(c) for c in "=,")
    return typed[:cut + 1]


# -- values from the store ----------------------------------------------------------------------

class _Bounded:
    """Store lookups on one worker thread, each answered within ``timeout`` or not at all:
    a busy or huge store never holds the user's shell."""

    def __init__(self, make_values, timeout=LOOKUP_TIMEOUT):
        import queue
        import threading

        self._make = make_values
        self._values = None
        self._jobs = queue.Queue()
        self.timeout = timeout
        threading.Thread(target=self._work, daemon=True, name="zstack-complete").start()

    def _work(self):
        while True:
            job, answer = self._jobs.get()
            try:
                if self._values is None:
                    self._values = self._make()
                answer.put(job(self._values))
            except Exception:
                answer.put([])

    def uuids(self, resource, prefix, limit=MAX_VALUES):
        import queue

        answer = queue.Queue()
        self._jobs.put((lambda v: v.uuids(resource, prefix, limit), answer))
        try:
            return answer.get(timeout=self.timeout)
        except queue.Empty:
            return []

    def close(self):
        import queue

        if self._values is None:        # never asked: nothing was opened
            return
        answer = queue.Queue()
        self._jobs.put((lambda v: v.client.close(), answer))   # its connection, its thread
        try:
            answer.get(timeout=min(self.timeout, 0.5))
        except queue.Empty:
            pass


def _store_values():
    """Values from the store, or none when there is no store yet (never create one)."""
    from backend.api import DB_NAME, default_home

    home = default_home()
    if not os.path.isfile(os.path.join(home, DB_NAME)):
        return None

    def make():
        from .client import Client
        from .lookup import ClientValues

        return ClientValues(Client(home))

    return _Bounded(make)


def run(line):
    """The hidden entry point: print the candidates; always status 0, never stderr."""
    import sys

    shell = os.environ.get("ZSTACK_COMPLETE_SHELL", "")
    values = None
    try:
        values = _store_values()
        if shell in SHELLS:
            _words, typed, head = _scan(line, shell)
            out = render(candidates(line, values or NoValues(), shell), shell, typed, head)
        else:
            out = "".join(w + "\n" for w in complete_line(line, values or NoValues()))
        sys.stdout.write(out)
        sys.stdout.flush()
    except Exception:        # completing must never print a traceback into the user's shell
        pass
    finally:
        if values is not None:
            values.close()
    return 0
