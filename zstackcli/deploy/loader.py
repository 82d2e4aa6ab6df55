"""Read a deployment file: YAML to plain data, every failure one line naming where."""

import os
import sys

from ..i18n import t
from .text import say


class DeployError(Exception):
    """One or more lines for the user; nothing was created."""

    def __init__(self, *lines):
        super().__init__(lines[0] if lines else "")
        self.lines = list(lines)


def read(arg):
    """``-d FILE`` / ``-d -`` -> (text, name shown in messages, directory of relative paths)."""
    if arg == "-":
        if sys.stdin is None:                     # zstack-cli -d - <&-
            raise DeployError(say("no_stdin"))
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        name, base = "<stdin>", os.getcwd()
    else:
        try:
            with open(arg, "rb") as f:
                data = f.read()
        except OSError as e:
            raise DeployError(t("cannot_open", path=arg, reason=e.strerror or e)) from None
        name, base = arg, os.path.dirname(os.path.abspath(arg))
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise DeployError(t("cannot_open", path=name,
                                reason=say("not_utf8", byte=e.start))) from None
    return data, name, base


class Plain(str):
    """A plain scalar YAML 1.1 would read as a number or a date (``0777``, ``1_000``,
    ``1:30``, ``2024-01-01``), kept as written: a string parameter gets exactly the
    text; an integer, size or number parameter gets ``typed``, YAML's reading of it."""

    typed = None


def _plain(constructor):
    def construct(loader, node):
        value = Plain(node.value)
        value.typed = constructor(loader, node)
        return value
    return construct


def _loader():
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):
        """The safe loader, refusing a key given twice in one mapping (PyYAML keeps
        the last one silently: a pasted block would quietly lose a setting)."""

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:          # the keys as written, before any merge (<<)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue                        # an unhashable key: the validator names it
            key = loader.construct_object(key_node)
            if key in seen:
                raise DeployError(say("dup_yaml_key", line=key_node.start_mark.line + 1, key=key))
            seen.add(key)
        return base.construct_mapping(loader, node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    for tag, constructor in (("int", base.construct_yaml_int),
                             ("float", base.construct_yaml_float),
                             ("timestamp", lambda loader, node: node.value)):
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", _plain(constructor))
    return yaml, Loader


def load(text, name):
    """The document's data; DeployError (one line, with line and column) on bad YAML."""
    yaml, Loader = _loader()
    try:
        data = yaml.load(text, Loader=Loader)     # noqa: S506  (a safe loader)
    except DeployError as e:
        raise DeployError(f"{name}: {e.lines[0]}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(str(x) for x in (e.context, e.problem) if x) or str(e)
        if mark is None:
            raise DeployError(f"{name}: {problem}") from None
        raise DeployError(f"{name}: " + say("syntax", line=mark.line + 1, column=mark.column + 1,
                                            problem=problem)) from None
    except yaml.YAMLError as e:
        raise DeployError(f"{name}: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise DeployError(f"{name}: nesting too deep") from None
    except (ValueError, TypeError) as e:      # e.g. a date such as 2024-13-45
        raise DeployError(f"{name}: {e}") from None
    if data is None:
        raise DeployError(f"{name}: " + say("empty"))
    if _too_big(data):
        raise DeployError(f"{name}: " + say("too_many_entries", most=MAX_ENTRIES))
    return data


# A real cloud file stays far below this (2,000 VMs of the README shape: ~40,000);
# alias bombs go far above it.
MAX_ENTRIES = 1_000_000


def _too_big(data):
    """More than MAX_ENTRIES values, counting every use of an alias (a few lines of
    nested anchors can stand for millions): stops counting at the limit."""
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_ENTRIES:
            return True
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
