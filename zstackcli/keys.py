"""Key bindings of the shell, on top of prompt_toolkit's Emacs defaults
(Ctrl-R search, Ctrl-A/E, Alt-F/B, ...).

Enter decides between "run" and "next line" with the parser's own rule
(is_incomplete): a quote left open or a trailing backslash asks for another
line, and the newline goes into the value. The buffer is multi-line, so text
pasted in one piece (bracketed paste) keeps its newlines as they are and waits
for Enter; text that arrives as keystrokes goes through the same Enter rule
line by line.
"""

from prompt_toolkit import search
from prompt_toolkit.filters import (completion_is_selected, emacs_insert_mode, has_focus,
                                    is_searching, vi_insert_mode)
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.key_binding import KeyBindings

from .parser import is_incomplete


def build_key_bindings():
    kb = KeyBindings()
    editing = has_focus(DEFAULT_BUFFER) & (emacs_insert_mode | vi_insert_mode)

    @kb.add("enter", filter=editing & completion_is_selected)
    def _take_completion(event):
        # As in litecli: Enter on a chosen completion keeps it and closes the
        # menu; the next Enter runs the line (the user may want to add more).
        event.current_buffer.complete_state = None

    @kb.add("enter", filter=editing & ~completion_is_selected)
    def _enter(event):
        _run_or_continue(event.current_buffer)

    @kb.add("enter", filter=is_searching)
    def _run_found(event):
        # As in bash: Enter on a line found with Ctrl-R runs it (prompt_toolkit's
        # own Enter only ends the search, and what is typed next lands mid-line).
        search.accept_search()
        _run_or_continue(event.app.current_buffer)

    @kb.add("tab", filter=editing)
    def _tab(event):
        # A lone candidate is taken at once, and the next level (a key's values)
        # is offered straight away: `zo<Tab>` gives `zoneUuid=` and its uuids.
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and len(state.completions) == 1:
            buffer.apply_completion(state.completions[0])
            buffer.start_completion(select_first=False)
        elif state is not None:
            buffer.complete_next()
        else:
            buffer.start_completion(insert_common_part=True)

    @kb.add("escape", "enter", filter=editing)
    def _newline(event):
        # Alt-Enter: a line break on request, e.g. to write several statements.
        event.current_buffer.newline(copy_margin=False)

    return kb


def _run_or_continue(buffer):
    buffer.complete_state = None
    if is_incomplete(buffer.document.text):
        # No copied indentation: pasted YAML brings its own.
        buffer.newline(copy_margin=False)
    else:
        # A paste that ended with its newline: run it (and keep it in the
        # history) without the empty last line.
        stripped = buffer.text.rstrip("\n")
        if stripped != buffer.text and not is_incomplete(stripped):
            buffer.text = stripped
        buffer.validate_and_handle()
