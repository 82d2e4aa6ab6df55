"""Colours of the shell: the highlighted line, prompt, menus and toolbar.

ANSI colour names rather than RGB, so that the terminal's own palette (dark
or light) decides the actual shades.
"""

from prompt_toolkit.styles import Style

STYLE = {
    # The line, by the token classes of lexer.ZStackLexer.
    "pygments.keyword": "ansigreen bold",              # a known API
    "pygments.keyword.pseudo": "ansicyan bold",        # a built-in
    "pygments.error": "ansired underline",             # an unknown verb
    "pygments.name.attribute": "ansicyan",             # key
    "pygments.operator": "ansiyellow",
    "pygments.literal.string": "",
    "pygments.literal.string.single": "ansiyellow",
    "pygments.literal.string.double": "ansiyellow",
    "pygments.literal.string.escape": "ansimagenta",
    "pygments.name.constant": "ansimagenta",           # uuid
    "pygments.punctuation": "ansibrightblack",
    "pygments.comment": "ansibrightblack italic",
    # Prompt.
    "prompt": "bold",
    "prompt.account": "ansigreen bold",
    "continuation": "ansibrightblack",
    # Completion menu.
    "completion-menu.completion": "bg:ansibrightblack ansiwhite",
    "completion-menu.completion.current": "bg:ansiwhite ansiblack",
    "completion-menu.meta.completion": "bg:ansiblack ansiwhite",
    "completion-menu.meta.completion.current": "bg:ansicyan ansiblack",
    "auto-suggestion": "ansibrightblack",
    # Bottom toolbar (prompt_toolkit draws it reversed by default).
    "bottom-toolbar": "noreverse bg:ansibrightblack ansiwhite",
    "bottom-toolbar.label": "",
    "bottom-toolbar.value": "bold",
    "bottom-toolbar.hint": "ansiyellow",
    "bottom-toolbar.busy": "bold ansicyan",
}


def build_style():
    return Style.from_dict(STYLE)
