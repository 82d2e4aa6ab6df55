"""Messages users read, in English and Simplified Chinese (SPEC §13).

A message is built from an English template and named values:
``msg("the volume[uuid:{volume}] is already on the host[uuid:{host}]", volume=v, host=h)``.
It stays a template until it is shown, and is rendered then in the language
of the moment: ``ZSTACK_LANG`` (the shell sets it from ``--lang``), else the
locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English. The Chinese
templates live in ``backend.messages``; a template without one is shown in
English (tests/unit/test_i18n_catalogue.py keeps that from happening).

This module is the one place that decides the language: the shell asks it too.
"""

import os

LANGUAGES = ("en", "zh")


def resolve(explicit=None, environ=None):
    """The language to use: ``explicit`` (``--lang``), ``ZSTACK_LANG`` or the
    locale, each taken when set; a value starting with ``zh`` means Chinese,
    anything else English."""
    environ = os.environ if environ is None else environ
    for value in (explicit, environ.get("ZSTACK_LANG"), environ.get("LC_ALL"),
                  environ.get("LC_MESSAGES"), environ.get("LANG")):
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


class Message:
    """An English template with named values, rendered when shown."""

    __slots__ = ("template", "values")

    def __init__(self, template, values):
        self.template = template
        self.values = values

    def render(self, lang=None):
        lang = lang or resolve()
        text = self.template
        if lang == "zh":
            from .messages import ZH

            text = ZH.get(text) or text
        values = {k: (v.render(lang) if isinstance(v, (Message, Error)) else v)
                  for k, v in self.values.items()}
        return text.format(**values) if values else text

    def __str__(self):
        return self.render()

    def __repr__(self):
        return f"msg({self.template!r}, {self.values!r})"

    def __eq__(self, other):
        if isinstance(other, Message):
            return (self.template, self.values) == (other.template, other.values)
        return NotImplemented

    __hash__ = None


def msg(template, **values):
    """A translatable message: ``template`` is the English text with
    ``{name}`` placeholders (``{{``/``}}`` for braces), filled from ``values``."""
    return Message(template, values)


def render(text, lang=None):
    """A message, an Error, or any other value (an error text from a library),
    as text."""
    return text.render(lang) if isinstance(text, (Message, Error)) else str(text)


def dump_text(text):
    """A message (or an Error's, or any text) as JSON values, to cross to another
    process that renders it in its own language (load_text)."""
    if isinstance(text, Error):
        text = text.text
    if not isinstance(text, Message):
        return str(text)
    values = {}
    for key, value in text.values.items():
        if isinstance(value, (Message, Error)):
            value = dump_text(value)
        elif not (value is None or isinstance(value, (str, int, float, bool))):
            value = str(value)
        values[key] = value
    return {"template": text.template, "values": values}


def load_text(data):
    """The message dump_text made."""
    if isinstance(data, dict) and isinstance(data.get("template"), str):
        return Message(data["template"], {k: load_text(v)
                                          for k, v in (data.get("values") or {}).items()})
    return data


class Error(Exception):
    """An exception of the lower layers (storage, hypervisor, network) whose
    text is a message: ``text`` keeps it (a Message, or a plain text from a
    library), ``str(e)`` and ``message`` are its English form (logs, callers
    comparing texts), and a message embedding the exception as a value renders
    it in that message's language."""

    def __init__(self, text):
        self.text = text
        self.message = self.render("en")
        super().__init__(self.message)

    def shape(self, text, lang):
        """The rendered text as shown; subclasses may normalise it."""
        return text

    def render(self, lang=None):
        lang = lang or resolve()
        return self.shape(render(self.text, lang), lang)
