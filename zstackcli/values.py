"""Typed values inside one key=value argument (SPEC §3): lists, system tags, maps and @file.

The parser hands over values with every backslash it did not need still in place; here '\\,' is
the only escape (a literal comma). Every other backslash pair is kept as written, so a userdata
tag's '\\n' sequences reach the backend untouched.
"""
import ast
import json
import os
import re
import warnings

from .i18n import t


class ValueSyntaxError(Exception):
    """A value that cannot be turned into its type. str() is one English line for the user."""

    def __init__(self, message):
        super().__init__(str(message).replace('\r', '\\r').replace('\n', '\\n'))


# Longest user-provided text quoted back in an error message.
_MAX_QUOTED = 200

# A system tag begins with its name and '::' (hostname::, staticIp::, userdata::). A comma
# followed by such a name is where the next tag starts; any other comma is content.
_TAG_START = re.compile(r'\s*[A-Za-z_][\w.-]*::', re.ASCII)
_ONLY_WHITESPACE_LEFT = re.compile(r'\s*\Z')

# '\' pairs with the next character (so '\\,' is a backslash pair followed by a separator).
_LIST_PIECE = re.compile(r'\\[\s\S]?|,|[^\\,]+')


def _shorten(text):
    return text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + '...'


def _split_on_commas(value, comma_separates):
    """Split value at the commas for which comma_separates(value, item_start, after_comma) says
    so (both are indexes into value); '\\,' is always a literal comma."""
    items, current = [], []
    item_start = 0
    for match in _LIST_PIECE.finditer(value):
        piece = match.group()
        if piece == ',' and comma_separates(value, item_start, match.end()):
            items.append(''.join(current))
            current = []
            item_start = match.end()
        elif piece == '\\,':
            current.append(',')
        else:
            current.append(piece)
    items.append(''.join(current))
    return items


def split_list(value):
    """'a, b,c\\,d,' -> ['a', 'b', 'c,d']: comma-separated, items stripped, empty items dropped."""
    items = _split_on_commas(value, lambda value, item_start, after: True)
    return [item.strip() for item in items if item.strip()]


def _tag_boundary(value, item_start, after):
    # A 'name::' tag only ends where the next 'name::' begins, or at a trailing comma.
    # A free-form tag (a user tag such as 'web', no 'name::') cannot hold a comma, so every
    # comma ends it. (Matching the raw text at item_start is safe: an escaped comma can no more
    # be part of a tag name than a plain one.)
    return (_TAG_START.match(value, after) is not None
            or _ONLY_WHITESPACE_LEFT.match(value, after) is not None
            or _TAG_START.match(value, item_start) is None)


def split_tags(value):
    """Split a systemTags/userTags value into tags.

    'hostname::web1,staticIp::abc::10.0.0.5' is two tags, while the seed's userdata tag, whose
    YAML holds '[foo,bar]' and 'groups: users, admin', stays one. Spaces and tabs around a tag are
    dropped, and any whitespace before a tag, but not a newline after it: a pasted YAML's final
    newline is part of its content.
    """
    tags = _split_on_commas(value, _tag_boundary)
    return [tag.lstrip().rstrip(' \t') for tag in tags if tag.strip()]


def parse_map(value):
    """A map parameter (networkServices): JSON, else a Python literal read with
    ast.literal_eval (never eval). Must be a dict."""
    text = value.strip()
    try:
        result = json.loads(text)
    except (ValueError, RecursionError):
        try:
            # Compiling user text may warn (invalid escape sequence '\['); the user gets our
            # error or the value, never a Python warning.
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                result = ast.literal_eval(text)
        except Exception:
            # literal_eval raises many kinds (SyntaxError, ValueError, TypeError,
            # MemoryError, RecursionError); all mean the same thing to the user.
            result = None
    if not isinstance(result, dict):
        raise ValueSyntaxError(t("bad_map", value=_shorten(value)))
    return result


def read_file_value(value, base_dir=None):
    """key=@path: the content of path (UTF-8, as is). '@@text' is the literal '@text'.
    Values without a leading '@' come back unchanged."""
    if value.startswith('@@'):
        return value[1:]
    if not value.startswith('@'):
        return value
    path = value[1:]
    if not path:
        raise ValueSyntaxError(t("no_file_name"))
    full_path = os.path.expanduser(path)
    if base_dir is not None and not os.path.isabs(full_path):
        full_path = os.path.join(base_dir, full_path)
    try:
        with open(full_path, 'rb') as handle:
            content = handle.read()
    except OSError as error:
        raise ValueSyntaxError(t("cannot_read_file", path=path,
                                 reason=error.strerror or error)) from None
    except ValueError as error:        # e.g. an embedded NUL byte in the path
        raise ValueSyntaxError(t("cannot_read_file", path=_shorten(path), reason=error)) from None
    try:
        return content.decode('utf-8')
    except UnicodeDecodeError:
        raise ValueSyntaxError(t("cannot_read_file", path=path, reason=t("not_utf8"))) from None


_TAG_WITH_FILE = re.compile(r'([A-Za-z_][\w.-]*::)(@[\s\S]*)\Z', re.ASCII)


def expand_tag_file(tag, base_dir=None):
    """'userdata::@cloud.yaml' -> 'userdata::' + the file's content; other tags unchanged.
    Applied to each tag after split_tags(), so a file's commas never split anything."""
    match = _TAG_WITH_FILE.match(tag)
    if not match:
        return tag
    return match.group(1) + read_file_value(match.group(2), base_dir)
