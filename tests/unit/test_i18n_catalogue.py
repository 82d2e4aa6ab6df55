"""Every message a user reads exists in English and Simplified Chinese (SPEC §13).

The backend's messages are read from its sources (ast): each ``msg(template,
...)`` must use a literal template that has a Chinese entry in
backend.messages with the same placeholders and is given exactly those
values; every entry must be used; and no error (``argerr``, ``operr``,
``ApiError``, and the lower layers' StorageError, HypervisorError,
HostUnreachable, FlatNetworkError, BridgeError), no name of the operation such
an error reports (``what``) and no progress label may be built from a bare
string, which could not be translated. The shell's MESSAGES, the deploy
messages and the table headers are checked the same way.

The lower layers' errors (backend/storage, backend/hypervisor with its
simulator, backend/network, and the StorageErrors of
services/volume_migration.py) carry messages too: ``str(e)`` is English, and
an API error that embeds one as its ``{error}`` is shown wholly in the
reply's language. What stays as it comes: the words of libvirt, the
operating system (strerror), qemu-img, ssh and ip; the resource kinds
("host", "L3") in the Flat network's check of a uuid and the qemu-img
sub-command named when a caller names no operation; the ValueErrors of
hypervisor/domain.py, which guard against a programming error (their inputs
are validated at the API) and surface, if ever, as an internal error; and
the host agent's log lines, which no API reply carries.
"""

import ast
import string
from pathlib import Path

import pytest

from backend import catalogue
from backend.errors import DESCRIPTIONS, DESCRIPTIONS_ZH
from backend.messages import ZH

ROOT = Path(__file__).resolve().parents[2]
ERROR_MAKERS = {"argerr": 0, "operr": 0, "ApiError": 1, "StorageError": 0,
                "HypervisorError": 0, "HostUnreachable": 0, "FlatNetworkError": 0,
                "BridgeError": 0}
# Methods given the name of an operation (or a reason), by argument position.
OPERATION_NAMES = {"progress": 0, "_session": 0, "_sim": 0, "_edit": 0, "_unusable": 1,
                   "_record": 1, "_domain_files": 0, "result": 0}


def placeholders(template):
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def sources(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path.relative_to(ROOT), ast.parse(path.read_text(), str(path))


def _called(node):
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _msg_calls():
    for path, tree in sources("backend"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) == "msg":
                yield f"{path}:{node.lineno}", node


def _bare_text(node):
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant)
                                               and isinstance(node.value, str))


def test_every_backend_template_is_literal_translated_and_given_its_values():
    problems = []
    for where, call in _msg_calls():
        if not call.args or not isinstance(call.args[0], ast.Constant) \
                or not isinstance(call.args[0].value, str):
            problems.append(f"{where}: the template is not a literal string")
            continue
        template = call.args[0].value
        if template not in ZH:
            problems.append(f"{where}: no Chinese entry for {template!r}")
        given = {k.arg for k in call.keywords}
        if given != placeholders(template):
            problems.append(f"{where}: values {sorted(given)} do not fill "
                            f"{sorted(placeholders(template))}")
    assert not problems, "\n".join(problems)


def test_every_catalogue_entry_is_used_and_keeps_the_placeholders():
    used = {call.args[0].value for _, call in _msg_calls()
            if call.args and isinstance(call.args[0], ast.Constant)}
    assert sorted(set(ZH) - used) == []
    for en, zh in ZH.items():
        assert zh.strip(), en
        assert placeholders(en) == placeholders(zh), en
        assert zh != en, f"untranslated: {en!r}"


def test_no_error_operation_or_progress_label_is_a_bare_string():
    problems = []
    for path, tree in sources("backend"):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            if isinstance(node.func, ast.Name):
                index = ERROR_MAKERS.get(name)
            else:
                index = OPERATION_NAMES.get(name)
            texts = [node.args[index]] if index is not None and len(node.args) > index else []
            texts += [k.value for k in node.keywords if k.arg == "what"]
            if any(_bare_text(text) for text in texts):
                problems.append(f"{path}:{node.lineno}: {name}() of untranslated text")
    assert not problems, "\n".join(problems)


def test_tag_checks_answer_with_messages():
    # A system tag pattern's check returns the problem that argerr reports.
    for path, tree in sources("backend/catalogue"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Return) and node.value is not None:
                assert not isinstance(node.value, ast.JoinedStr), f"{path}:{node.lineno}"


def test_every_error_code_has_both_descriptions():
    assert set(DESCRIPTIONS) == set(DESCRIPTIONS_ZH)
    assert all(DESCRIPTIONS_ZH.values())


@pytest.mark.parametrize("module", ["zstackcli.i18n", "zstackcli.deploy.text"])
def test_shell_messages_are_bilingual_used_and_keep_the_placeholders(module):
    import importlib

    messages = importlib.import_module(module).MESSAGES
    for key, (en, zh) in messages.items():
        assert en and zh, key
        assert placeholders(en) == placeholders(zh), key
    # Used: named by a string anywhere in the shell but the table itself (some
    # keys travel as values, e.g. scalar_text(value, "want_str")).
    used = set()
    for _, tree in sources("zstackcli"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "MESSAGES"
                                                    for target in node.targets):
                node.value = ast.Constant(None)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                used.add(node.value)
    assert sorted(set(messages) - used) == []


def test_shell_message_keys_used_exist():
    from zstackcli.deploy.text import MESSAGES as DEPLOY
    from zstackcli.i18n import MESSAGES

    tables = {"t": MESSAGES, "say": DEPLOY}
    problems = []
    for path, tree in sources("zstackcli"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) in tables and node.args \
                    and isinstance(node.args[0], ast.Constant):
                if node.args[0].value not in tables[_called(node)]:
                    problems.append(f"{path}:{node.lineno}: {node.args[0].value}")
    assert not problems, "\n".join(problems)


def test_every_table_header_has_a_chinese_label():
    from zstackcli.headers import LABELS_ZH

    keys = set()
    for resource in catalogue.RESOURCES.values():
        keys |= set(resource.inventory_keys()) | set(resource.columns)
    assert sorted(keys - set(LABELS_ZH)) == []
    assert sorted(set(LABELS_ZH) - keys) == []
    assert all(LABELS_ZH.values())


def test_catalogue_docs_are_bilingual():
    # What `help Verb` shows: each API's and each parameter's doc in both languages.
    from backend.catalogue.model import Text

    missing = []
    for api in catalogue.APIS.values():
        docs = [(api.name, api.doc)] + [(f"{api.name}.{p.name}", p.doc)
                                        for p in api.params.values()]
        for where, doc in docs:
            if doc is not None and not (isinstance(doc, Text) and doc.en and doc.zh):
                missing.append(where)
        if api.doc is None:
            missing.append(api.name)
    assert not missing, missing
