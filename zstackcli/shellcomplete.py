"""Completion for the user's own shell: the hidden ``--complete LINE`` entry
point, the same engine as the REPL with values from the store. The scripts
that call it are in shellscripts.py.
"""

from .completion import complete, split_partial
from .options import split_argv


def complete_line(line, values=None):
    """``zstack-cli Verb key=va`` (the line up to the cursor) -> the full
    words that may replace the word under the cursor."""
    words, current, raw = split_partial(line)
    _options, words = split_argv(words[1:])    # the program's name, then our options
    if not words and current.startswith("-"):
        return []
    text = " ".join(words + [raw]) if words else raw
    typed = raw
    return [typed[:len(typed) - s.replace] + s.text for s in complete(text, values)]





def run(line):
    """The hidden entry point: print one candidate a line; always status 0."""
    import sys

    from .client import Client
    from .lookup import ClientValues

    client = Client()
    try:
        for word in complete_line(line, ClientValues(client)):
            sys.stdout.write(word + "\n")
    finally:
        client.close()
    return 0
