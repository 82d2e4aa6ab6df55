"""The bottom toolbar: output format, account, a migrated volume still landing
behind its reply (its copy written to disk and checked), and a hint for the line
being typed.

The hint comes from the catalogue: the verb's one-line description and the
``help Verb`` that tells more, or what the parameter under the cursor takes.
"""

from prompt_toolkit.application import get_app

from .completion import split_partial
from .i18n import t, text_of


def build_toolbar(runner, client):
    def toolbar():
        account = client.account or t("toolbar_no_account")
        out = [("class:bottom-toolbar.label", f" {t('toolbar_output')}: "),
               ("class:bottom-toolbar.value", runner.output),
               ("class:bottom-toolbar.label", f"  {t('toolbar_account')}: "),
               ("class:bottom-toolbar.value", account),
               ("class:bottom-toolbar.label", "  ")]
        behind = client.pending()
        if behind:
            out += [("class:bottom-toolbar.busy", t("toolbar_behind", count=len(behind))),
                    ("class:bottom-toolbar.label", "  ")]
        try:
            text = get_app().current_buffer.document.text_before_cursor
        except Exception:    # no running application (e.g. while tests build it)
            text = ""
        out.append(("class:bottom-toolbar.hint", hint(text)))
        return out

    return toolbar


def hint(text):
    """What to say about the line so far (the text before the cursor)."""
    from backend.catalogue import APIS

    from .builtins import describe_param

    words, current, _ = split_partial(text)
    verb = words[0] if words else None
    api = APIS.get(verb) if verb else None
    if api is None:
        api = APIS.get(current) if not words else None
        if api is None:
            return t("toolbar_keys")
        return f"{api.name}: {text_of(api.doc)}  ({t('toolbar_help', verb=api.name)})"
    key = current.split("=", 1)[0] if "=" in current else current
    param = api.params.get(key)
    if param is not None:
        doc = f" - {text_of(param.doc)}" if param.doc is not None else ""
        return f"{param.name}: {describe_param(param)}{doc}"
    return f"{api.name}: {text_of(api.doc)}  ({t('toolbar_help', verb=api.name)})"
