"""The shell's own commands: help, more, set, exit, quit.

A small registry: each built-in takes the runner and the words after it and
returns an exit status, or raises CliError, which the runner reports on its line. They are lower-case, so they never shadow an API.
"""

from . import status
from .binder import CliError
from .i18n import t, text_of

_REGISTRY = {}
_USAGE = {}


class ExitShell(Exception):
    """``exit``/``quit``: stop reading commands."""


def builtin(name, usage, most):
    """Register ``function(runner, words)`` as built-in ``name``, taking at most
    ``most`` words (``usage`` shows them): more are refused, never ignored."""
    def register(function):
        def checked(runner, words):
            if len(words) > most:
                raise CliError(t("builtin_usage", usage=usage))
            return function(runner, words)
        _REGISTRY[name] = checked
        _USAGE[name] = usage
        return function
    return register


def find(verb):
    return _REGISTRY.get(verb)


def names():
    return tuple(_REGISTRY)


@builtin("help", "help [Verb]", 1)
def _help(runner, words):
    from .binder import find_api

    if not words:
        runner.emit(general_help())
        return status.OK
    if words[0] in _USAGE:                  # help more: the built-in's own usage
        runner.emit(t("builtin_usage", usage=_USAGE[words[0]]) + "\n")
        return status.OK
    runner.emit(api_help(find_api(words[0])))
    return status.OK


def general_help():
    from backend.catalogue import APIS, groups

    lines = [t("help_usage"), "", t("help_apis")]
    for group, apis in groups().items():
        lines.append(f"  {group}:")
        for name in apis:
            lines.append(f"    {name:<28} {text_of(APIS[name].doc)}")
    return "\n".join(lines) + "\n"


def describe_param(param):
    """'required, uuid of ZoneVO, one of [a, b], default x' for help and completion."""
    bits = [t("required") if param.required else t("optional")]
    kind = param.type
    if param.names_resource():
        kind = t("uuid_of", resource=param.names_resource())
        if param.type == "list":
            kind = f"{t('list_of')}: {kind}"
    elif param.type == "list":
        kind = t("list_of")
    bits.append(kind)
    if param.choices:
        bits.append(f"{t('choices')} [{', '.join(param.choices)}]")
    if param.default is not None and param.default is not False:
        bits.append(f"{t('default')} {param.default}")
    return ", ".join(bits)


def api_help(api):
    from backend.catalogue import RESOURCES

    lines = [f"{api.name}: {text_of(api.doc)}", "", t("help_params")]
    ordered = sorted(api.params.values(), key=lambda p: not p.required)
    for p in ordered:
        lines.append(f"  {p.name:<22} {describe_param(p)}")
        if p.doc is not None:
            lines.append(f"  {'':<22} {text_of(p.doc)}")
    if api.query:
        resource = RESOURCES[api.resource]
        fields = list(resource.fields) + [f"{r}.<field>" for r in resource.relations]
        if resource.tags:
            fields += ["__systemTag__", "__userTag__"]
        lines += ["", t("help_query_fields"), "  " + ", ".join(fields)]
    if api.vm_states:
        lines += ["", t("help_vm_states"), "  " + ", ".join(api.vm_states)]
    if api.example:
        lines += ["", t("help_example"), f"  {api.example}"]
    return "\n".join(lines) + "\n"


@builtin("more", "more [N]", 1)
def _more(runner, words):
    results = runner.results
    if not results:
        raise CliError(t("no_results"))
    index = len(results)
    if words:
        try:
            index = int(words[0])
        except ValueError:
            index = 0
        if not 1 <= index <= len(results):
            raise CliError(t("no_result_n", n=words[0], count=len(results)))
    from backend.catalogue import APIS

    verb, reply = results[index - 1]
    runner.show(reply, APIS.get(verb))
    return status.OK


@builtin("set", "set output json|table|yaml|text", 2)
def _set(runner, words):
    if len(words) == 2 and words[0] == "output" and runner.set_output(words[1]):
        runner.emit(t("output_set", fmt=words[1]) + "\n")
        return status.OK
    raise CliError(t("set_usage"))


@builtin("exit", "exit", 0)
def _exit(runner, words):
    raise ExitShell()


_REGISTRY["quit"] = _REGISTRY["exit"]
_USAGE["quit"] = "quit"
