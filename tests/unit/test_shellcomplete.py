"""The hidden ``--complete LINE`` entry point that the bash, zsh and fish scripts
call: reading the shell's line, options and their values, what each shell is
told (spaces, descriptions, file names), and a store that is missing or slow."""

import time

import pytest
from hypothesis import given, strategies as st

from zstackcli import shellcomplete
from zstackcli.completion import split_partial
from zstackcli.shellcomplete import (Candidate, Files, _Bounded, _engine_quote, _scan,
                                     candidates, complete_line, render, split_shell_line)

ZONE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class FakeValues:
    def uuids(self, resource, prefix, limit=50):
        rows = [(ZONE, "zone a")] if resource == "ZoneVO" else []
        return [(u, n) for u, n in rows if u.startswith(prefix) or n.startswith(prefix)]


# ---------------------------------------------------------------------------------------------
# The shell's line
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shell, line, words, current", [
    ("bash", "zstack-cli CreateZone na", ["zstack-cli", "CreateZone"], "na"),
    ("bash", "zstack-cli CreateZone ", ["zstack-cli", "CreateZone"], ""),
    ("bash", "zstack-cli CreateZone name=my\\ zone desc",
     ["zstack-cli", "CreateZone", "name=my zone"], "desc"),
    ("zsh", "zstack-cli CreateZone 'name=my zone' \"des", ["zstack-cli", "CreateZone",
                                                           "name=my zone"], "des"),
    ("zsh", "zstack-cli QueryZone uuid\\?=0a", ["zstack-cli", "QueryZone"], "uuid?=0a"),
    ("bash", "zstack-cli Q name=\"a\\\"b\\$c\\d\"", ["zstack-cli", "Q"], 'name=a"b$c\\d'),
    ("bash", "zstack-cli Q name=$'a\\tb\\'c'", ["zstack-cli", "Q"], "name=a\tb'c"),
    ("fish", "zstack-cli Q name='it\\'s \\\\ \\n'", ["zstack-cli", "Q"], "name=it's \\ \\n"),
    ("fish", "zstack-cli Q name=$'x'", ["zstack-cli", "Q"], "name=$x"),
    ("bash", "zstack-cli Q 'uuid?=0a", ["zstack-cli", "Q"], "uuid?=0a"),
])
def test_the_line_is_read_with_the_shells_quoting(shell, line, words, current):
    assert split_shell_line(line, shell) == (words, current)


@pytest.mark.parametrize("line, head", [
    ("zstack-cli CreateCluster zoneUuid=0a", "zoneUuid="),
    ("zstack-cli CreateZone systemTags=host::res", "systemTags=host::"),
    ("zstack-cli QueryZone uuid\\?=0a", "uuid?="),
    ("zstack-cli QueryZone 'uuid?=0a", ""),           # readline completes inside the quote
    ("zstack-cli QueryZone name='my z", "name="),
    ("zstack-cli CreateZ", ""),
])
def test_what_bash_keeps_of_the_word(line, head):
    assert _scan(line, "bash")[2] == head


@given(st.text(min_size=1))
def test_words_reach_the_engine_unchanged(word):
    words, current, _raw = split_partial(_engine_quote(word) + " ")
    assert (words, current) == ([word], "")


# ---------------------------------------------------------------------------------------------
# What is offered
# ---------------------------------------------------------------------------------------------

def words(line, values=None, shell="bash"):
    found = candidates(line, values or FakeValues(), shell)
    assert not isinstance(found, Files), found
    return [c.word for c in found]


def test_options_and_their_values_come_from_the_parser():
    assert "--output" in words("zstack-cli --out")
    assert {"-o", "--output", "-f", "--file", "--lang"} <= set(words("zstack-cli -"))
    assert "--complete" not in words("zstack-cli --")            # hidden
    assert "--output" not in words("zstack-cli -o table --")     # given already
    assert words("zstack-cli -o ") == ["json", "table", "yaml", "text"]
    assert words("zstack-cli --output t") == ["table", "text"]
    assert words("zstack-cli --output=ya") == ["--output=yaml"]
    assert words("zstack-cli --lang ") == ["en", "zh"]
    assert "zsh" in words("zstack-cli --completions ")
    assert words("zstack-cli --complete ") == []
    # after the verb every word is the command's, even one that looks like an option
    assert words("zstack-cli -o table QueryZ") == ["QueryZone"]
    assert words("zstack-cli QueryZone --") == []


def test_files_after_dash_f():
    found = candidates("zstack-cli -f /tmp/my\\ fi", FakeValues())
    assert isinstance(found, Files) and (found.head, found.partial) == ("", "/tmp/my fi")
    found = candidates("zstack-cli --file=cmds", FakeValues())
    assert (found.head, found.partial) == ("--file=", "cmds")
    assert complete_line("zstack-cli -f ") == []


def test_values_and_whole_words():
    assert words("zstack-cli CreateCluster zoneUuid=0a") == [f"zoneUuid={ZONE}"]
    assert words("zstack-cli CreateCluster zoneUuid=zone") == [f"zoneUuid={ZONE}"]
    assert words("zstack-cli QueryZone 'uuid?=0a", shell="zsh") == [f"uuid?={ZONE}"]
    assert words("zstack-cli CreateZone name='my zone' desc") == ["description="]
    # keys already on the line are not offered again
    assert "name=" not in words("zstack-cli CreateZone name=x ")


@pytest.mark.parametrize("word, space", [
    ("QueryZone", True), ("name=", False), ("zone.", False), ("hostname::", False),
    (ZONE, True), ("--output", True),
])
def test_which_words_want_a_space_after_them(word, space):
    assert Candidate(word).space is space


def test_descriptions():
    found = {c.word: c.description for c in candidates("zstack-cli CreateCluster zoneUuid=",
                                                       FakeValues())}
    assert found == {f"zoneUuid={ZONE}": "zone a"}
    keys = {c.word: c.description for c in candidates("zstack-cli CreateZone ", FakeValues())}
    assert keys["name="] == "required, str"
    long = Candidate("x", description="word " * 40)
    assert len(long.description) <= 80 and long.description.endswith("...")
    assert Candidate("x", description="two\tlines\nhere").description == "two lines here"


# ---------------------------------------------------------------------------------------------
# What each shell is told
# ---------------------------------------------------------------------------------------------

def test_output_for_bash_and_zsh():
    found = [Candidate("name=", description="required, str"), Candidate("QueryZone")]
    assert render(found, "zsh") == "words\t\nname=\t0\trequired, str\nQueryZone\t1\t\n"
    assert render(found, "bash", "zoneUuid=0a", "zoneUuid=").startswith("words\tzoneUuid=\n")
    assert render(Files("--file=", "a b"), "bash") == "files\t--file=\ta b\n"


def test_output_for_fish():
    found = [Candidate(f"zoneUuid={ZONE}", description="zone a")]
    assert render(found, "fish", "zoneUuid=0a") == f"words\t\nzoneUuid={ZONE}\tzone a\n"
    # a name typed for a uuid: fish keeps only candidates that match what was typed, or
    # whose description does
    assert render(found, "fish", "zoneUuid=zo") == \
        f"words\t\nzoneUuid={ZONE}\tzoneUuid=zone a\n"


# ---------------------------------------------------------------------------------------------
# The entry point: the store, or none
# ---------------------------------------------------------------------------------------------

def test_no_store_no_error_and_nothing_created(home, capsys, monkeypatch):
    assert not home.exists()
    monkeypatch.setenv("ZSTACK_COMPLETE_SHELL", "zsh")
    assert shellcomplete.run("zstack-cli CreateCluster zoneUuid=") == 0
    assert shellcomplete.run("zstack-cli CreateZ") == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out == "words\tzoneUuid=\nwords\t\nCreateZone\t1\tCreate a zone\n"
    assert not home.exists()


def test_uuids_from_the_store(backend, home, capsys, monkeypatch):
    zone = backend.call("CreateZone", {"name": "z1"})["inventory"]["uuid"]
    backend.close()
    monkeypatch.setenv("ZSTACK_COMPLETE_SHELL", "fish")
    shellcomplete.run("zstack-cli CreateCluster zoneUuid=")
    assert capsys.readouterr().out == f"words\tzoneUuid=\nzoneUuid={zone}\tz1\n"
    monkeypatch.delenv("ZSTACK_COMPLETE_SHELL")
    shellcomplete.run("zstack-cli CreateCluster zoneUuid=")   # the first form: words only
    assert capsys.readouterr().out == f"zoneUuid={zone}\n"


def test_a_failure_prints_nothing(home, capsys, monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(shellcomplete, "candidates", broken)
    monkeypatch.setenv("ZSTACK_COMPLETE_SHELL", "bash")
    assert shellcomplete.run("zstack-cli CreateZ") == 0
    assert capsys.readouterr() == ("", "")


def test_a_slow_store_is_not_waited_for():
    class Slow:
        def uuids(self, resource, prefix, limit=50):
            time.sleep(2)
            return [(ZONE, "late")]

    values = _Bounded(Slow, timeout=0.2)
    started = time.monotonic()
    assert candidates("zstack-cli CreateCluster zoneUuid=", values) == []
    assert time.monotonic() - started < 1.5


def test_a_failing_lookup_gives_no_values():
    class Failing:
        def uuids(self, resource, prefix, limit=50):
            raise OSError("locked")

    assert words("zstack-cli CreateCluster zoneUuid=", _Bounded(Failing)) == []
