"""Property-based tests: whatever a user types, the grammar answers with a result or with its
own one-line error (never a traceback), and quoting a value always brings it back intact."""
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zstackcli.parser import (
    OPERATORS, Arg, ParseError, is_incomplete, parse, split_arg, split_statements, tokenize,
)
from zstackcli.values import (
    ValueSyntaxError, expand_tag_file, parse_map, split_list, split_tags,
)

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# Text rich in the characters the grammar cares about, plus anything else.
GRAMMAR_CHARS = st.sampled_from(list('\'"\\ \t\n\r#=!<>?~,:@{}[]()') + ['::', '\\n', '\r\n'])
ANY_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(GRAMMAR_CHARS, st.text(string.ascii_letters, max_size=3)),
             max_size=40).map(''.join),
)

IDENTIFIER = st.from_regex(r'[A-Za-z][A-Za-z0-9_]{0,15}', fullmatch=True)
# Printable text, plus newline and tab (a pasted YAML). Not '\r': split_statements turns a
# Windows '\r\n' into '\n' everywhere, on purpose.
PRINTABLE_VALUE = st.text(st.characters(exclude_categories=('Cs', 'Cc'), include_characters='\n\t'),
                          max_size=40)


def one_line(error):
    return '\n' not in str(error) and '\r' not in str(error)


def single_quoted(text):
    # The shell idiom: close the quote, an escaped quote, reopen.
    return "'" + text.replace("'", "'\\''") + "'"


def double_quoted(text):
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------------
# Any input: a result or our own error
# ---------------------------------------------------------------------------------------------

@FUZZ
@given(ANY_TEXT)
@example("A x='a\nb")
@example('# don\'t\nA \\')
def test_split_statements_and_parse_never_crash(text):
    try:
        for line, statement in split_statements(text):
            assert line >= 1 and statement
            try:
                command = parse(statement, line)
            except ParseError as error:
                assert one_line(error)
                # A statement from split_statements never has an open quote.
                assert not str(error).startswith('unterminated quote')
                continue
            if command is not None:
                assert command.line == line
    except ParseError as error:
        assert one_line(error)
        assert str(error).startswith('unterminated quote') and error.line >= 1
        # Exactly the inputs the REPL would keep asking more lines for.
        assert is_incomplete(text)


@FUZZ
@given(ANY_TEXT)
def test_tokenize_and_parse_never_crash(text):
    try:
        tokens = tokenize(text)
        assert all(isinstance(token, str) for token in tokens)
    except ParseError as error:
        assert one_line(error)
    try:
        parse(text)
    except ParseError as error:
        assert one_line(error)


@FUZZ
@given(ANY_TEXT)
def test_is_incomplete_never_crashes_and_agrees_with_split_statements(text):
    incomplete = is_incomplete(text)
    if not incomplete:
        list(split_statements(text))  # must not raise


@FUZZ
@given(ANY_TEXT, st.booleans())
def test_split_arg_never_crashes(token, query):
    try:
        arg = split_arg(token, query=query)
    except ParseError as error:
        assert one_line(error)
        return
    assert arg.key and arg.op in OPERATORS
    assert arg.key + arg.op + arg.value == token


@FUZZ
@given(ANY_TEXT)
def test_value_grammar_never_crashes(value):
    for item in split_list(value):
        assert item and item == item.strip()
    for tag in split_tags(value):
        assert tag.strip()
        # No '@' after 'name::' (those read files): expansion must leave the tag alone.
        if '::@' not in tag:
            assert expand_tag_file(tag) == tag
    try:
        assert isinstance(parse_map(value), dict)
    except ValueSyntaxError as error:
        assert one_line(error)


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------

COMMAND = st.tuples(IDENTIFIER, st.lists(st.tuples(IDENTIFIER, PRINTABLE_VALUE), max_size=5))


@pytest.mark.parametrize('quote', [single_quoted, double_quoted])
@FUZZ
@given(command=COMMAND)
def test_quoted_values_round_trip(quote, command):
    verb, pairs = command
    line = ' '.join([verb] + [f'{key}={quote(value)}' for key, value in pairs])
    statements = list(split_statements(line))
    assert len(statements) == 1 and statements[0][0] == 1
    parsed = parse(statements[0][1], statements[0][0])
    assert parsed.verb == verb
    assert [split_arg(token) for token in parsed.tokens] == [
        Arg(key, '=', value) for key, value in pairs]


@FUZZ
@given(st.lists(PRINTABLE_VALUE, max_size=6))
def test_quoted_words_tokenize_back(words):
    assert tokenize(' '.join(single_quoted(word) for word in words)) == words


@FUZZ
@given(command=COMMAND, quote=st.sampled_from([single_quoted, double_quoted]))
def test_quoted_values_round_trip_in_a_batch(command, quote):
    # The same command twice, separated by a comment and a blank line, continued over two lines.
    verb, pairs = command
    line = ' \\\n  '.join([verb] + [f'{key}={quote(value)}' for key, value in pairs])
    text = f'{line}\n# a comment\n\n{line}\n'
    statements = list(split_statements(text))
    assert len(statements) == 2
    expected = [Arg(key, '=', value) for key, value in pairs]
    for first_line, statement in statements:
        parsed = parse(statement, first_line)
        assert [split_arg(token) for token in parsed.tokens] == expected


LIST_ITEM = st.text(st.characters(exclude_categories=('Cs',), exclude_characters='\\'),
                    min_size=1, max_size=10).filter(lambda item: item.strip() == item)


@FUZZ
@given(st.lists(LIST_ITEM, max_size=6))
def test_escaped_commas_round_trip_through_split_list(items):
    value = ','.join(item.replace(',', '\\,') for item in items)
    assert split_list(value) == items


TAG_NAME = st.from_regex(r'[A-Za-z_][A-Za-z0-9_.-]{0,8}', fullmatch=True)
# Tag content: anything but a backslash, and no comma followed by something looking like a name.
TAG_CONTENT = st.text(st.characters(exclude_categories=('Cs',), exclude_characters='\\:,'),
                      max_size=12).filter(lambda text: text.strip(' \t') == text.strip())


@FUZZ
@given(st.lists(st.tuples(TAG_NAME, TAG_CONTENT), min_size=1, max_size=4))
def test_tags_round_trip_through_split_tags(tags):
    written = [f'{name}::{content.strip()}' for name, content in tags]
    assert split_tags(','.join(written)) == written
