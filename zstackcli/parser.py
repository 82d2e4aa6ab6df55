"""The command-line grammar of zstack-cli (SPEC §3, §3.1).

Three layers, each usable on its own:

- split_statements(): a whole input (batch file, pipe, what the REPL has accumulated) becomes
  statements, one per logical line. Quotes left open and trailing backslashes continue a
  statement over several physical lines; comments and blank lines disappear.
- tokenize() / parse(): one statement becomes a verb and its raw words, with shell-like quoting.
- split_arg(): one word becomes key, operator and value (plain APIs split on the first '=',
  Query APIs recognise the query operators).

Typed values (lists, tags, maps, @file) are the business of zstackcli.values: this module keeps
every backslash it does not itself need, so that '\\,' in a list and '\\n' in userdata survive.
"""
import re
from collections import namedtuple

from .i18n import t

OPERATORS = ('=', '!=', '>', '<', '>=', '<=', '?=', '!?=', '~=', '!~=')

# Tried longest first: in 'cpuNum>=2' the operator is '>=', not '>' with the value '=2'.
_OPERATORS_LONGEST_FIRST = tuple(sorted(OPERATORS, key=len, reverse=True))
_OPERATOR_CHARS = '=!<>?~'

# Word separators are ASCII whitespace only: a non-breaking or full-width space typed inside a
# value (common in Chinese text) must stay part of that value.
_WHITESPACE = ' \t\n\r\f\v'
_BLANKS = ' \t\r\f\v'  # whitespace within one physical line

_VERB = re.compile(r'[A-Za-z][A-Za-z0-9_]*\Z')

# Longest user-provided text quoted back in an error message; a mistyped 50 KB userdata
# token must not flood the terminal.
_MAX_QUOTED = 200


class ParseError(Exception):
    """A line that cannot be understood. str() is one English line meant for the user."""

    def __init__(self, message, line=None):
        # Values may hold newlines (quoted YAML); the contract is one line per error.
        message = str(message).replace('\r', '\\r').replace('\n', '\\n')
        super().__init__(message)
        self.line = line


# Named tuples, not dataclasses: importing dataclasses costs a one-shot command ~5 ms.
Arg = namedtuple("Arg", "key op value")


# tokens: the unquoted words after the verb, not yet split into key/value;
# line: the statement's first line in its input, for error messages.
Command = namedtuple("Command", "verb tokens line")


def _shorten(text):
    if len(text) <= _MAX_QUOTED:
        return text
    return text[:_MAX_QUOTED] + '...'


# --------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------

# One step of the statement scanner. Quoted parts are matched whole (their closing quote is
# optional so that an unterminated one is recognised rather than mis-scanned). Inside double
# quotes a backslash always pairs with the next character, so '\"' never closes the quote.
_STATEMENT_PIECE = re.compile(r"""
      (?P<newline>\n)
    | (?P<plain>[^\\'"\n]+)
    | (?P<escape>\\[\s\S]?)
    | (?P<single>'[^']*(?P<single_close>')?)
    | (?P<double>"(?:[^"\\]|\\[\s\S])*(?P<double_close>")?)
""", re.VERBOSE)


class _StatementScanner:
    """Walks a whole input once; after statements() is exhausted, the attributes say how the
    input ended, which is what is_incomplete() needs."""

    def __init__(self, text):
        # A batch file written on Windows must behave like one written on Linux, including the
        # newlines inside a pasted quoted YAML.
        self.text = text.replace('\r\n', '\n')
        self.open_quote = None           # (quote char, line it opened on) if input ended in it
        self.ends_with_continuation = False

    def statements(self):
        text = self.text
        pos, line = 0, 1
        pieces = []            # (is_plain, text); plain pieces may lose trailing blanks at the end
        first_line = None
        while pos < len(text):
            match = _STATEMENT_PIECE.match(text, pos)
            piece = match.group()
            end = match.end()
            if match.group('newline'):
                if pieces:
                    yield first_line, _join_statement(pieces)
                pieces, first_line = [], None
                line += 1
            elif match.group('plain') is not None:
                if not pieces:
                    piece = piece.lstrip(_BLANKS)
                    if piece.startswith('#'):
                        # A comment runs to the end of its physical line whatever it holds:
                        # "# don't" must not open a quote, "# see \" must not continue.
                        newline_at = text.find('\n', pos)
                        end = len(text) if newline_at < 0 else newline_at
                        piece = ''
                if piece:
                    pieces.append((True, piece))
                    first_line = first_line or line
            elif match.group('escape') is not None:
                if piece == '\\\n':
                    line += 1          # line continuation: both characters vanish
                elif piece == '\\':
                    # Only possible at the very end: the input promises a next line.
                    self.ends_with_continuation = True
                else:
                    pieces.append((False, piece))
                    first_line = first_line or line
            else:
                closed = match.group('single_close') or match.group('double_close')
                if not closed:
                    self.open_quote = (piece[0], line)
                    return
                pieces.append((False, piece))
                first_line = first_line or line
                line += piece.count('\n')
            pos = end
        if pieces:
            yield first_line, _join_statement(pieces)


def _join_statement(pieces):
    # Drop blanks after the last word, but never an escaped blank ('a\ ' is an escape piece).
    while pieces and pieces[-1][0]:
        trimmed = pieces[-1][1].rstrip(_BLANKS)
        if trimmed:
            pieces[-1] = (True, trimmed)
            break
        pieces.pop()
    return ''.join(text for _, text in pieces)


def split_statements(text, first_line=1):
    """Yield (first_line_number, statement_text) for each statement of a whole input.

    The statement text keeps its quotes and escapes (parse() interprets them); only the
    backslash-newline continuations are removed. Raises ParseError, after yielding every
    complete statement before it, if the input ends inside a quote; its line counts from
    ``first_line``, the number of the text's first line in the whole input.
    """
    scanner = _StatementScanner(text)
    yield from scanner.statements()
    if scanner.open_quote:
        quote, line = scanner.open_quote
        line += first_line - 1
        raise ParseError(t("unterminated_at", quote=quote, line=line), line=line)


def is_incomplete(text):
    """True when the REPL should ask for another line: the text ends inside an open quote or
    with a continuation backslash."""
    scanner = _StatementScanner(text)
    for _ in scanner.statements():
        pass
    return bool(scanner.open_quote) or scanner.ends_with_continuation


# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------

_TOKEN_PIECE = re.compile(r"""
      (?P<blank>[ \t\n\r\f\v]+)
    | (?P<plain>[^ \t\n\r\f\v\\'"]+)
    | (?P<escape>\\[\s\S]?)
    | '(?P<single>[^']*)(?P<single_close>')?
    | "(?P<double>(?:[^"\\]|\\[\s\S])*)(?P<double_close>")?
""", re.VERBOSE)

_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\([\s\S])')


def _unescape_double_quoted(body):
    # Only \" and \\ are escapes; "\n" stays backslash-n for the userdata rules downstream.
    return _DOUBLE_QUOTED_ESCAPE.sub(
        lambda m: m.group(1) if m.group(1) in '"\\' else m.group(0), body)


def _unescape_outside_quotes(piece):
    escaped = piece[1:]
    if escaped == '\n':
        return ''                      # line continuation
    if escaped and (escaped in _WHITESPACE or escaped in '\'"'):
        return escaped
    # Any other backslash belongs to a later stage ('a\,b' for lists, '\n' in userdata), and a
    # lone trailing backslash has nothing to escape.
    return piece


def _tokenize(statement, first_line=None):
    tokens = []
    current = []
    started = False          # '' (an empty quoted word) is still a word
    line = first_line
    pos = 0
    while pos < len(statement):
        match = _TOKEN_PIECE.match(statement, pos)
        piece = match.group()
        if match.group('blank') is not None:
            if started:
                tokens.append(''.join(current))
                current, started = [], False
        elif match.group('plain') is not None:
            current.append(piece)
            started = True
        elif match.group('escape') is not None:
            text = _unescape_outside_quotes(piece)
            if piece != '\\\n':
                current.append(text)
                started = True
        elif match.group('single') is not None:
            if match.group('single_close') is None:
                raise _unterminated('\'', line)
            current.append(match.group('single'))
            started = True
        else:
            if match.group('double_close') is None:
                raise _unterminated('"', line)
            current.append(_unescape_double_quoted(match.group('double')))
            started = True
        if line is not None:
            line += piece.count('\n')
        pos = match.end()
    if started:
        tokens.append(''.join(current))
    return tokens


def _unterminated(quote, line):
    if line is None:
        return ParseError(t("unterminated", quote=quote))
    return ParseError(t("unterminated_at", quote=quote, line=line), line=line)


def tokenize(statement):
    """Split one statement into words, shell-like (see SPEC §3)."""
    return _tokenize(statement)


def parse(statement, line=1):
    """One statement -> Command, or None for a blank or comment statement."""
    if statement.lstrip(_WHITESPACE).startswith('#'):
        return None
    tokens = _tokenize(statement, line)
    if not tokens or tokens[0].startswith('#'):
        return None
    verb = tokens[0]
    if not _VERB.match(verb):
        raise ParseError(t("bad_verb", verb=_shorten(verb)), line=line)
    return Command(verb=verb, tokens=tuple(tokens[1:]), line=line)


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------

def _not_split_by_equals(token):
    return ParseError(t("no_equals", token=_shorten(token)))


def split_arg(token, query=False):
    """One word -> Arg. Plain APIs split on the first '='; Query APIs (query=True) split at the
    longest query operator that follows the field name."""
    if not query:
        key, sep, value = token.partition('=')
        if not sep or not key:
            raise _not_split_by_equals(token)
        return Arg(key, '=', value)

    key_end = 0
    while key_end < len(token) and token[key_end] not in _OPERATOR_CHARS:
        key_end += 1
    key = token[:key_end]
    if key:
        for op in _OPERATORS_LONGEST_FIRST:
            if token.startswith(op, key_end):
                return Arg(key, op, token[key_end + len(op):])
    raise _not_split_by_equals(token)
