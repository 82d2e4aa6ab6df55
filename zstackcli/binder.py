"""Bind a parsed command to its catalogue API: typed params, or a CLI error.

This is where the command line's value grammar (lists, tags, maps, @file)
meets the catalogue's declarations. Nothing here talks to the backend: a
line that fails here is a CLI error (exit status 1) and never reaches it.
"""

from backend.catalogue import APIS

from .i18n import t
from .parser import ParseError, split_arg
from .values import (ValueSyntaxError, expand_tag_file, parse_map, read_file_value, split_list,
                     split_tags)


class CliError(Exception):
    """A one-line error about the command line itself."""


def suggest(word, choices):
    """Close matches for a mistyped word ('did you mean'), case-insensitive first."""
    import difflib

    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return [lowered[word.lower()]]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.6)
    return [lowered[c] for c in close]


def _with_hint(message, word, choices):
    hints = suggest(word, choices)
    if hints:
        message += t("hint_joint") + t("did_you_mean", choices=t("or").join(hints))
    return message


def find_api(verb):
    api = APIS.get(verb)
    if api is None:
        raise CliError(_with_hint(t("unknown_command", verb=verb), verb, APIS))
    return api


def bind(command, base_dir=None):
    """``command`` -> (api, params) where params is what ``api.call`` takes."""
    api = find_api(command.verb)
    params = {}
    conditions = []
    for token in command.tokens:
        try:
            arg = split_arg(token, query=api.query)
        except ParseError as e:
            raise CliError(str(e)) from None
        param = api.params.get(arg.key)
        if api.query and (param is None or arg.op != "="):
            conditions.append({"name": arg.key, "op": arg.op, "value": arg.value})
            continue
        if param is None:
            message = t("unknown_param", key=arg.key, verb=api.name, valid=", ".join(api.params))
            raise CliError(_with_hint(message, arg.key, api.params))
        try:
            params[arg.key] = _value(param, arg.value, base_dir)   # a repeated key: last wins
        except ValueSyntaxError as e:
            raise CliError(f"{arg.key}: {e}") from None
    if api.query:
        params["conditions"] = conditions
    return api, params


def _value(param, text, base_dir):
    if param.type == "list":
        if param.split == "tags":
            return [expand_tag_file(tag, base_dir) for tag in split_tags(text)]
        return [read_file_value(item, base_dir) for item in split_list(text)]
    if param.type == "map":
        return parse_map(read_file_value(text, base_dir))
    if param.split == "tags":            # a single tag: name::@file reads the file
        return expand_tag_file(read_file_value(text, base_dir), base_dir)
    return read_file_value(text, base_dir)
