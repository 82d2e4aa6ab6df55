"""Syntax highlighting of the shell's line: a Pygments lexer read off the catalogue.

Known verbs, built-ins and unknown verbs look different, so a typo shows
before Enter; keys, query operators, quoted values and uuids stand out in
long lines. The verb list is the catalogue's, read when the lexer is used.
"""

from pygments.lexer import RegexLexer, bygroups, default
from pygments.token import (Comment, Error, Keyword, Name, Operator, Punctuation, String, Text,
                            Whitespace)

# Longest first, as the parser reads them: 'cpuNum>=2' is '>=', not '>'.
_OPERATOR = r"(?:!\?=|!~=|\?=|~=|!=|>=|<=|=|>|<)"
_KEY = r"[^\s=!<>?~'\"\\#]+"
_UUID = r"[0-9a-f]{32}(?![0-9A-Za-z])"


def _verbs():
    from backend.catalogue import APIS

    return APIS


def _builtins():
    from . import builtins

    return builtins.names()


def _verb(lexer, match):
    word = match.group()
    if word in _verbs():
        token = Keyword
    elif word in _builtins():
        token = Keyword.Pseudo
    elif not match.string[match.end():].strip() and _is_prefix(word):
        token = Text          # still being typed: not an error yet
    else:
        token = Error
    yield match.start(), token, word


def _is_prefix(word):
    return any(v.startswith(word) for v in _verbs()) or \
        any(b.startswith(word) for b in _builtins())


def _word(lexer, match):
    # A bare word after the verb: an API name for `help`, else plain text.
    word = match.group()
    yield match.start(), Keyword if word in _verbs() else Text, word


class ZStackLexer(RegexLexer):
    name = "zstack-cli"
    aliases = ["zstack"]
    flags = 0

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"[A-Za-z_][A-Za-z0-9_]*(?=\s|$)", _verb, "args"),
            (r"[^\s]+", Error, "args"),
        ],
        "args": [
            (r"\\\n", String.Escape),               # continued on the next line
            (r"\n", Whitespace, "#pop"),            # the next statement
            (r"[ \t\r\f\v]+", Whitespace),
            (rf"({_KEY})({_OPERATOR})", bygroups(Name.Attribute, Operator), "value"),
            (r"'[^']*'?", String.Single),
            (r'"(?:[^"\\]|\\[\s\S])*"?', String.Double),
            (r"\\[\s\S]?", String.Escape),
            (r"[^\s'\"\\]+", _word),
        ],
        "value": [
            (r"'[^']*'?", String.Single),           # may span lines: pasted YAML
            (r'"(?:[^"\\]|\\[\s\S])*"?', String.Double),
            (_UUID, Name.Constant),
            (r"\\[\s\S]?", String.Escape),
            (r"[,:]+", Punctuation),                 # list items, tag segments
            (r"[^\s'\"\\,:]+", String),
            default("#pop"),                         # a blank ends the value
        ],
    }
