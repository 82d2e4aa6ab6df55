"""The shell's history file, ``$ZSTACK_HOME/cli/history``, with secrets masked.

A password typed on a line (``LogInByAccount ... password=secret``) must never
reach the disk, so every entry is masked before prompt_toolkit writes it and
before it is kept for Up-arrow recall: which keys are secret is read from the
catalogue (``Param.secret``), never listed here.
"""

import os
import re

from prompt_toolkit.history import FileHistory

MASK = "******"
HISTORY_FILE = ("cli", "history")

# One shell word as the parser reads it: quoted parts (possibly left open at
# the end of the entry), backslash pairs and plain characters, up to blanks.
_WORD = re.compile(r"""(?:'[^']*'?|"(?:[^"\\]|\\[\s\S])*"?|\\[\s\S]?|[^\s'"\\])+""")


def secret_keys():
    """The secret parameters' names, and the secret system tags' prefixes
    (``rootpassword::``), lower-case."""
    from backend.catalogue import APIS, TAG_PATTERNS

    return frozenset([p.name.lower() for api in APIS.values() for p in api.params.values()
                      if p.secret] +
                     [t.format.split("{", 1)[0].lower() for t in TAG_PATTERNS if t.secret])


def mask_secrets(text, keys=None):
    """``password=x`` (quoted or not, anywhere in the entry) -> ``password=******``;
    ``tag=rootPassword::x`` -> ``tag=rootPassword::******``.

    Keys compare case-insensitively: a mistyped ``Password=x`` still carries
    the real secret even though the command itself fails.
    """
    keys = secret_keys() if keys is None else keys
    if not keys:
        return text
    prefixes = [k for k in keys if k.endswith("::")]

    def mask(match):
        word = match.group()
        bare = word.replace("'", "").replace('"', "")
        key, sep, _ = bare.partition("=")
        if sep and key.lower() in keys:
            return f"{key}={MASK}"
        # A secret tag's value (systemTags=...,rootPassword::pw): masked to the word's
        # end, whatever tags follow it there (a value may hold an escaped comma).
        low = bare.lower()
        found = [low.index(p) + len(p) for p in prefixes if p in low]
        if found:
            return bare[:min(found)] + MASK
        return word

    return _WORD.sub(mask, text)


class MaskedFileHistory(FileHistory):
    """FileHistory whose entries are masked before they are kept or written,
    in a file only its owner may read."""

    def __init__(self, filename):
        _private_file(filename)
        super().__init__(filename)
        self._keys = secret_keys()

    def append_string(self, string):
        super().append_string(mask_secrets(string, self._keys))

    def store_string(self, string):
        # append_string masks already; masking again keeps any other caller honest.
        super().store_string(mask_secrets(string, self._keys))


def _private_file(filename):
    directory = os.path.dirname(filename)
    # $ZSTACK_HOME itself may not exist yet: create every missing level 0700
    # (os.makedirs gives its mode to the last level only).
    missing = []
    path = directory
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    # Create it 0600 before FileHistory opens it for append with the umask's mode.
    os.close(os.open(filename, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    os.chmod(filename, 0o600)


def open_history(home):
    return MaskedFileHistory(os.path.join(home, *HISTORY_FILE))
