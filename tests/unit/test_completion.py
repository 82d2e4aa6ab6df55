"""Tab completion (the engine, through prompt_toolkit Documents and the shell's
Completer), history masking, and the other pieces of the REPL that can be
tested without a terminal: the lexer, the toolbar hint and the Enter rule."""

import os
import stat
import time

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from backend.catalogue import APIS, RESOURCES
from zstackcli import builtins
from zstackcli.completer import TimedValues, ZStackCompleter, live_values
from zstackcli.history import MASK, MaskedFileHistory, mask_secrets, open_history

ZONE_A = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ZONE_B = "0a99aa00bb11cc22dd33ee44ff556677"
CLUSTER = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"


class FakeValues:
    """uuids and names as the store would give them, with no store."""

    ROWS = {
        "ZoneVO": [(ZONE_A, "zone-a"), (ZONE_B, "zone-b")],
        "ClusterVO": [(CLUSTER, "cluster-1")],
    }

    def __init__(self):
        self.asked = []

    def uuids(self, resource, prefix, limit=50):
        self.asked.append((resource, prefix))
        return [(u, n) for u, n in self.ROWS.get(resource, [])
                if u.startswith(prefix) or n.startswith(prefix)][:limit]


def completions(text, values=None):
    completer = ZStackCompleter(FakeValues() if values is None else values)
    return list(completer.get_completions(Document(text, len(text)), CompleteEvent(True)))


def texts(text, values=None):
    return [c.text for c in completions(text, values)]


def applied(text, values=None):
    """The line after taking the first completion, as prompt_toolkit would."""
    first = completions(text, values)[0]
    return text[:len(text) + first.start_position] + first.text


# ---------------------------------------------------------------------------------------------
# Verbs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, line", [
    ("QueryZ", "QueryZone"),
    ("queryz", "QueryZone"),                 # case-insensitive
    ("CreateClu", "CreateCluster"),
    ("ZoneSt", "ChangeZoneState"),           # substring when no prefix matches
    ("LogIn", "LogInByAccount"),
    ("hel", "help"),                         # built-ins too
])
def test_verb_completion(typed, line):
    assert applied(typed) == line


def test_verbs_prefix_matches_come_before_substring_matches():
    got = texts("Zone")
    prefix = [v for v in got if v.lower().startswith("zone")]
    inside = [v for v in got if not v.lower().startswith("zone")]
    assert got == prefix + inside
    assert "QueryZone" in inside and "CreateZone" in inside


def test_every_query_api_is_offered_for_que():
    expected = {name for name, api in APIS.items() if name.startswith("Que")}
    assert expected and set(texts("Que")) >= expected


def test_verb_completion_replaces_the_typed_word_and_shows_the_doc():
    c = completions("QueryZ")[0]
    assert c.start_position == -len("QueryZ")
    assert c.display_meta_text == APIS["QueryZone"].doc.en


def test_unknown_verb_offers_nothing_after_it():
    assert texts("NoSuchVerb ") == []


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["CreateZone", "CreateCluster", "CreateSystemTag",
                                  "LogInByAccount"])
def test_keys_required_first(verb):
    got = texts(f"{verb} ")
    api = APIS[verb]
    assert all(t.endswith("=") for t in got)
    required = [f"{p.name}=" for p in api.params.values() if p.required]
    assert set(got[:len(required)]) == set(required)
    assert set(got) == {f"{p}=" for p in api.params}


@pytest.mark.parametrize("typed, line", [
    ("CreateZone na", "CreateZone name="),
    ("CreateZone DESC", "CreateZone description="),
    ("CreateCluster zoneUuid=x hyp", "CreateCluster zoneUuid=x hypervisorType="),
    ("QueryZone na", "QueryZone name="),                 # a query field
    ("QueryZone lim", "QueryZone limit="),               # a reserved query key
    ("QueryZone __sys", "QueryZone __systemTag__="),
    ("QueryZone clu", "QueryZone cluster."),              # a relation continues with a dot
])
def test_key_completion(typed, line):
    assert applied(typed) == line


def test_keys_already_given_are_not_offered_again():
    assert "name=" not in texts("CreateZone name=z1 ")
    assert "description=" in texts("CreateZone name=z1 ")


def test_key_completion_works_after_a_multi_line_quoted_value():
    assert applied("CreateZone description='line1\nline2' na") == \
        "CreateZone description='line1\nline2' name="


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ("ChangeZoneState stateEvent=", ["enable", "disable"]),
    ("ChangeZoneState uuid=x stateEvent=dis", ["disable"]),
    ("CreateCluster hypervisorType=", ["KVM"]),
    ("DeleteZone deleteMode=", ["Permissive", "Enforcing"]),
    ("QueryZone count=", ["true", "false"]),
    ("QueryZone replyWithCount=f", ["false"]),
    ("QueryZone sortDirection=", ["asc", "desc"]),
    ("set output t", ["table", "text"]),
    ("set o", ["output"]),
])
def test_choice_values(typed, expected):
    assert texts(typed) == expected


def test_uuid_values_are_shown_with_names():
    got = completions("UpdateZone uuid=")
    assert [c.text for c in got] == [ZONE_A, ZONE_B]
    assert got[0].display_text == f"{ZONE_A} (zone-a)"
    assert got[0].start_position == 0


def test_uuid_values_complete_a_typed_prefix():
    got = completions("UpdateZone uuid=0a9")
    assert [c.text for c in got] == [ZONE_B]
    assert got[0].start_position == -3


def test_uuid_values_are_asked_for_the_parameters_resource_type():
    values = FakeValues()
    assert texts("CreateCluster zoneUuid=", values) == [ZONE_A, ZONE_B]
    assert values.asked == [("ZoneVO", "")]


def test_uuid_value_by_name():
    assert texts("UpdateZone uuid=zone-b") == [ZONE_B]


def test_query_condition_on_a_uuid_field_offers_uuids():
    assert texts("QueryCluster zoneUuid=") == [ZONE_A, ZONE_B]
    assert texts("QueryZone uuid=") == [ZONE_A, ZONE_B]
    assert texts("QueryZone uuid?=" + ZONE_A + ",0a9") == [ZONE_B]      # 'in' lists


def test_query_condition_on_a_field_with_known_values_offers_them():
    assert texts("QueryVmInstance state=Sto") == ["Stopping", "Stopped"]   # their order
    assert texts("QueryHost status=") == ["Connecting", "Connected", "Disconnected"]
    assert texts("QueryVolume type=") == ["Root", "Data"]
    assert texts("QueryVmInstance state?=Running,Sto") == ["Stopping", "Stopped"]
    assert texts("QueryImage mediaType=I") == ["ISO"]
    assert texts("QueryVmInstance vmNics.ip=") == []        # free text: nothing to offer


@pytest.mark.parametrize("typed, line", [
    ("QueryZone cluster.", "QueryZone cluster.uuid="),
    ("QueryZone cluster.na", "QueryZone cluster.name="),
    ("QueryCluster zone.na", "QueryCluster zone.name="),
    ("QueryZone cluster.zone.na", "QueryZone cluster.zone.name="),   # at any depth
])
def test_dotted_query_paths(typed, line):
    assert applied(typed) == line


def test_dotted_paths_offer_every_field_of_the_related_resource():
    fields = RESOURCES["ClusterVO"].fields
    assert {f"cluster.{f}=" for f in fields} <= set(texts("QueryZone cluster."))


def test_fields_lists_offer_the_fields_not_yet_listed():
    got = texts("QueryZone fields=name,")
    assert "name" not in got
    assert set(got) == set(RESOURCES["ZoneVO"].fields) - {"name"}
    assert applied("QueryZone fields=name,u") == "QueryZone fields=name,uuid"


def test_sort_by_offers_fields():
    assert "createDate" in texts("QueryZone sortBy=cr")


def test_resource_uuid_after_resource_type():
    assert texts("CreateSystemTag resourceType=ZoneVO resourceUuid=") == [ZONE_A, ZONE_B]
    assert texts("CreateUserTag resourceType=ClusterVO resourceUuid=") == [CLUSTER]


def test_resource_type_offers_taggable_types():
    assert texts("CreateSystemTag resourceType=Zo") == ["ZoneVO"]


def test_tag_patterns_in_system_tags():
    got = completions("CreateZone systemTags=ho")
    assert [c.text for c in got] == ["host::reservedCpu::", "host::reservedMemory::"]
    assert got[0].display_text == "host::reservedCpu::{capacity}"
    assert got[0].start_position == -2


def test_tag_patterns_after_resource_type():
    assert "host::reservedMemory::" in texts(
        f"CreateSystemTag resourceType=ZoneVO resourceUuid={ZONE_A} tag=host::")


def test_help_completes_api_names():
    assert applied("help QueryZ") == "help QueryZone"
    assert {n for n in APIS if n.startswith("Que")} <= set(texts("help Que"))


def test_a_quoted_value_is_left_alone():
    assert texts("UpdateZone uuid='0a") == []


# ---------------------------------------------------------------------------------------------
# Lookups never hold the keyboard
# ---------------------------------------------------------------------------------------------

class SlowValues:
    def uuids(self, resource, prefix, limit=50):
        time.sleep(2)
        return [(ZONE_A, "late")]


class BrokenValues:
    def uuids(self, resource, prefix, limit=50):
        raise RuntimeError("the store is gone")


def test_a_slow_lookup_is_capped():
    values = TimedValues(SlowValues(), timeout=0.1)
    try:
        started = time.monotonic()
        assert texts("UpdateZone uuid=", values) == []
        assert time.monotonic() - started < 1
    finally:
        values._pool.shutdown(wait=False, cancel_futures=True)


def test_a_failing_lookup_offers_nothing():
    values = TimedValues(BrokenValues(), timeout=1)
    assert texts("UpdateZone uuid=", values) == []
    assert texts("QueryZ", values) == ["QueryZone"]     # the catalogue part still works
    values.close()


def test_live_values_read_the_store(home, backend):
    from zstackcli.client import Client

    reply = backend.call("CreateZone", {"name": "live-zone"})
    uuid = reply["inventory"]["uuid"]
    client = Client(str(home))
    values = live_values(client, timeout=5)
    try:
        got = completions("UpdateZone uuid=", values)
        assert [c.text for c in got] == [uuid]
        assert got[0].display_text == f"{uuid} (live-zone)"
        assert texts("UpdateZone uuid=live", values) == [uuid]
    finally:
        values.close()
        client.close()


# ---------------------------------------------------------------------------------------------
# History: secrets never reach the disk
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, stored", [
    ("LogInByAccount accountName=admin password=secret",
     f"LogInByAccount accountName=admin password={MASK}"),
    ("LogInByAccount password='my secret' accountName=admin",
     f"LogInByAccount password={MASK} accountName=admin"),
    ('LogInByAccount password="a \\" b" accountName=admin',
     f"LogInByAccount password={MASK} accountName=admin"),
    ("LogInByAccount 'password=a b' accountName=admin",
     f"LogInByAccount password={MASK} accountName=admin"),
    ("UpdateAccount uuid=x password=p\\ q", f"UpdateAccount uuid=x password={MASK}"),
    ("LogInByAccount Password=typo", f"LogInByAccount Password={MASK}"),
    ("LogInByAccount accountName=admin password='multi\nline'",
     f"LogInByAccount accountName=admin password={MASK}"),
    ("LogInByAccount accountName=admin password=", f"LogInByAccount accountName=admin password={MASK}"),
    ("CreateZone name=password description=passwordless",
     "CreateZone name=password description=passwordless"),
    ("CreateZone name=z description='line1\nline2'", "CreateZone name=z description='line1\nline2'"),
    # a secret system tag's value, wherever the tag is written
    ("CreateVmInstance name=x systemTags=rootPassword::pw77 l3NetworkUuids=a",
     f"CreateVmInstance name=x systemTags=rootPassword::{MASK} l3NetworkUuids=a"),
    ("CreateSystemTag resourceUuid=x tag='rootPassword::my pass'",
     f"CreateSystemTag resourceUuid=x tag=rootPassword::{MASK}"),
    ("CreateVmInstance systemTags=hostname::a,rootPassword::p\\,q,userdata::z name=n",
     f"CreateVmInstance systemTags=hostname::a,rootPassword::{MASK} name=n"),
    ("UpdateSystemTag uuid=x tag=rootpassword::typo", f"UpdateSystemTag uuid=x tag=rootpassword::{MASK}"),
    ("QueryZone name=rootPassword", "QueryZone name=rootPassword"),
])
def test_mask_secrets(line, stored):
    assert mask_secrets(line) == stored


def test_secret_keys_come_from_the_catalogue():
    from zstackcli.history import secret_keys

    from backend.catalogue import TAG_PATTERNS

    assert secret_keys() == {p.name.lower() for a in APIS.values() for p in a.params.values()
                             if p.secret} | {t.format.split("{")[0].lower()
                                             for t in TAG_PATTERNS if t.secret}
    assert "password" in secret_keys() and "rootpassword::" in secret_keys()


def test_history_file_is_masked_and_private(tmp_path):
    home = tmp_path / "home"
    history = open_history(str(home))
    history.append_string("LogInByAccount accountName=admin password=hunter2")
    history.append_string("CreateZone name=z1 description='a\nb'")
    path = home / "cli" / "history"
    content = path.read_text()
    assert "hunter2" not in content
    assert f"password={MASK}" in content
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    # Up-arrow recall, in this session and the next, never shows the secret either.
    assert all("hunter2" not in s for s in history.get_strings())
    again = MaskedFileHistory(str(path))
    assert list(again.load_history_strings()) == [
        "CreateZone name=z1 description='a\nb'",
        f"LogInByAccount accountName=admin password={MASK}"]


def test_history_tightens_an_existing_loose_file(tmp_path):
    path = tmp_path / "cli" / "history"
    path.parent.mkdir()
    path.write_text("")
    os.chmod(path, 0o644)
    MaskedFileHistory(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ---------------------------------------------------------------------------------------------
# The line: highlighting, toolbar hint, Enter
# ---------------------------------------------------------------------------------------------

def lexed(text):
    from zstackcli.lexer import ZStackLexer

    return [(str(token), value) for _, token, value in ZStackLexer().get_tokens_unprocessed(text)
            if value.strip()]


def test_lexer_tells_known_verbs_from_unknown():
    assert lexed("QueryZone")[0] == ("Token.Keyword", "QueryZone")
    assert lexed("help")[0] == ("Token.Keyword.Pseudo", "help")
    assert lexed("NoSuchVerb a=b")[0] == ("Token.Error", "NoSuchVerb")
    assert lexed("Quer")[0] == ("Token.Text", "Quer")       # still being typed


def test_lexer_marks_keys_operators_quotes_uuids_and_comments():
    tokens = lexed(f"QueryZone uuid={ZONE_A} name~='a b\nc'")
    assert ("Token.Name.Attribute", "uuid") in tokens
    assert ("Token.Name.Constant", ZONE_A) in tokens
    assert ("Token.Operator", "~=") in tokens
    assert ("Token.Literal.String.Single", "'a b\nc'") in tokens
    assert lexed("# a comment") == [("Token.Comment.Single", "# a comment")]


def test_lexer_knows_every_verb_of_the_catalogue():
    for name in list(APIS) + list(builtins.names()):
        assert lexed(name)[0][0] in ("Token.Keyword", "Token.Keyword.Pseudo"), name


def test_toolbar_hint():
    from zstackcli.toolbar import hint

    assert "help CreateZone" in hint("CreateZone ")
    assert APIS["CreateZone"].doc.en in hint("CreateZone")
    assert hint("CreateCluster zoneUuid=").startswith("zoneUuid: ")
    assert "Tab" in hint("")


def test_the_toolbar_shows_migrations_still_landing():
    from types import SimpleNamespace

    from zstackcli.toolbar import build_toolbar

    runner = SimpleNamespace(output="json")
    client = SimpleNamespace(account=None, pending=lambda: [])
    shown = "".join(text for _, text in build_toolbar(runner, client)())
    assert "writing to disk" not in shown
    client.pending = lambda: ["the landing of the volume[uuid:v] on the host[uuid:h]"]
    shown = "".join(text for _, text in build_toolbar(runner, client)())
    assert "writing to disk: 1 migrated volume(s)" in shown


def run_prompt(keys):
    """What one PromptSession.prompt() returns for these keystrokes."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from zstackcli.keys import build_key_bindings

    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        session = PromptSession(input=pipe, output=DummyOutput(), multiline=True,
                                key_bindings=build_key_bindings())
        return session.prompt(">>> ")


@pytest.mark.parametrize("keys, accepted", [
    ("QueryZone\r", "QueryZone"),
    ("CreateZone description='line1\rline2'\r", "CreateZone description='line1\nline2'"),
    ('CreateZone description="a\r\rb"\r', 'CreateZone description="a\n\nb"'),
    ("CreateZone name=z1 \\\rdescription=d\r", "CreateZone name=z1 \\\ndescription=d"),
    ("# it's a comment\r", "# it's a comment"),
    # Bracketed paste: newlines arrive as text and wait for Enter.
    ("\x1b[200~CreateZone description='#cloud-config\r\n  users: [a, b]'\n\x1b[201~\r",
     "CreateZone description='#cloud-config\n  users: [a, b]'"),
    ("\x1b[200~CreateZone name=a\nCreateZone name=b\x1b[201~\r",
     "CreateZone name=a\nCreateZone name=b"),
])
def test_enter_runs_a_complete_line_and_continues_an_open_one(keys, accepted):
    assert run_prompt(keys) == accepted


def test_run_buffer_runs_each_pasted_statement(capsys):
    from zstackcli.runner import Runner

    class FakeClient:
        session_dropped = False

        def __init__(self):
            self.calls = []

        def call(self, name, params, progress=None):
            self.calls.append(params)
            return {"success": True, "inventory": {}}

        def take_warnings(self):
            return []

    client = FakeClient()
    runner = Runner(client)
    runner.run_buffer("CreateZone name=a\nCreateZone description='x\ny' name=b\n# note\n",
                      keep_going=True)
    assert [c["name"] for c in client.calls] == ["a", "b"]
    assert client.calls[1]["description"] == "x\ny"
    client = FakeClient()
    runner = Runner(client)
    runner.run_buffer("CreateZone name=a\nCreateZone description='open", keep_going=True)
    assert [c["name"] for c in client.calls] == ["a"]
    assert "unterminated quote" in capsys.readouterr().err


def test_a_progress_bar_on_a_terminal_that_went_away_never_fails_the_work():
    from zstackcli.progress import ProgressBar

    class GoneTerminal:
        def isatty(self):
            return True

        def write(self, text):
            raise OSError(5, "Input/output error")

        def flush(self):
            pass
    bar = ProgressBar(GoneTerminal())
    bar("copy 1/1", 1, 2)
    bar("copy 1/1", 2, 2)
    bar.close()
    assert not bar.enabled
