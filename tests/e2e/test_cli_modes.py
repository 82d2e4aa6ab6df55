"""The installed ``zstack-cli`` command, run as a user runs it (SPEC §2, §3, §4, §6).

Every call is a fresh process with its own $ZSTACK_HOME and a timeout.
"""
import json
import os
import re
import shlex
import sqlite3
import stat
import subprocess

import pytest

TIMEOUT = 30
ERROR_LINE = re.compile(r"^API call\[(\w+)\] failed because \[code: ([A-Z]+\.\d+), "
                        r"description: ([^,\]]+), details: (.*)\]$")
MISSING = "0123456789abcdef0123456789abcdef"


class Result:
    def __init__(self, proc):
        self.status = proc.returncode
        self.out_bytes = proc.stdout
        self.err_bytes = proc.stderr
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<status {self.status}\nstdout: {self.out[:2000]}\nstderr: {self.err[:2000]}>"


@pytest.fixture
def run(cli, home, tmp_path):
    """run(*argv, stdin=None, cwd=tmp) -> Result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZSTACK_", "LC_"))}
    env.update(ZSTACK_HOME=str(home), ZSTACK_LANG="en", LANG="C.UTF-8")
    env.pop("PYTHONIOENCODING", None)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)

    def _run(*argv, stdin=b"", cwd=None, timeout=TIMEOUT):
        if isinstance(stdin, str):
            stdin = stdin.encode("utf-8")
        proc = subprocess.run([cli, *argv], input=stdin, capture_output=True, env=env,
                              cwd=str(cwd or work), timeout=timeout)
        return Result(proc)

    _run.home = home
    _run.work = work
    return _run


def ok(result):
    assert result.status == 0, result
    assert "Traceback" not in result.out + result.err, result
    return result


def create_zone(run, name="zone1", *extra):
    return ok(run("CreateZone", f"name={name}", *extra)).json()["inventory"]


def zone_names(run):
    return sorted(z["name"] for z in ok(run("QueryZone")).json()["inventories"])


# =============================================================================================
# one-shot (argv) and the json output
# =============================================================================================

def test_argv_json_shape(run):
    r = ok(run("CreateZone", "name=华东区域", "description=第一个 zone"))
    body = r.json()
    assert set(body) == {"inventory", "success"}
    assert body["success"] is True
    assert body["inventory"]["name"] == "华东区域"
    # keys sorted, indent 4, non-ASCII as is, then a blank line
    assert r.out == json.dumps(body, sort_keys=True, indent=4, ensure_ascii=False) + "\n\n"
    assert "华东区域" in r.out and "\\u" not in r.out
    assert r.out.startswith('{\n    "inventory": {\n        "createDate": ')
    assert r.out.endswith("}\n\n")
    assert "\x1b[" not in r.out          # no colour when stdout is not a terminal
    assert r.err == ""
    assert re.fullmatch(r"[0-9a-f]{32}", body["inventory"]["uuid"])


def test_argv_query_shape(run):
    create_zone(run, "z1")
    body = ok(run("QueryZone", "name=z1")).json()
    assert set(body) == {"inventories", "success"}
    assert [z["name"] for z in body["inventories"]] == ["z1"]
    body = ok(run("QueryZone", "replyWithCount=true")).json()
    assert body["total"] == 1
    assert ok(run("QueryZone", "count=true")).json() == {"success": True, "total": 1}


def test_argv_as_one_string(run):
    # zstack-cli "CreateZone name='my zone'": one word holding the whole line
    ok(run("CreateZone name='my zone' description=\"a b\""))
    [z] = ok(run("QueryZone")).json()["inventories"]
    assert (z["name"], z["description"]) == ("my zone", "a b")


def test_argv_query_operators(run):
    for name in ("web-1", "web-2", "db-1"):
        create_zone(run, name)
    names = lambda *a: sorted(z["name"] for z in ok(run("QueryZone", *a)).json()["inventories"])  # noqa: E731
    assert names("name~=web") == ["web-1", "web-2"]
    assert names("name!~=web") == ["db-1"]
    assert names("name?=db-1,web-2") == ["db-1", "web-2"]
    assert names("name!=db-1", "name<web-2") == ["web-1"]
    assert names("description=null", "name>=web-2") == ["web-2"]
    assert names("fields=name", "sortBy=name", "sortDirection=desc", "limit=1") == ["web-2"]


# =============================================================================================
# output formats
# =============================================================================================

def test_output_table(run):
    z = create_zone(run, "zone-table")
    r = ok(run("-o", "table", "QueryZone"))
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["uuid", "name", "state"]      # useful columns first
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert z["uuid"] in lines[2] and "zone-table" in lines[2]
    r = ok(run("--output", "table", "QueryZone", "replyWithCount=true"))
    assert "total: 1" in r.out
    r = ok(run("-o", "table", "QueryZone", "name=nothing"))
    assert "0 rows" in r.out


def test_output_yaml(run):
    import yaml

    create_zone(run, "区域-yaml")
    r = ok(run("-o", "yaml", "QueryZone"))
    body = yaml.safe_load(r.out)
    assert body["success"] is True
    assert body["inventories"][0]["name"] == "区域-yaml"
    assert "区域-yaml" in r.out


def test_output_text(run):
    z = create_zone(run, "zone-text")
    r = ok(run("-o", "text", "QueryZone"))
    assert f"uuid: {z['uuid']}" in r.out.splitlines()
    assert "name: zone-text" in r.out.splitlines()
    assert "{" not in r.out


def test_output_bad_format(run):
    r = run("-o", "xml", "QueryZone")
    assert r.status == 1, r
    assert "xml" in r.err and "Traceback" not in r.err


# =============================================================================================
# batch: -f FILE, -f -, a pipe
# =============================================================================================

BATCH = """\
# a comment line

   # an indented comment
CreateZone name=z-continued \\
    description=joined
CreateZone name=z-multi description="first line
second line"
CreateZone name=z-file description=@desc.txt systemTags=host::reservedMemory::1G,host::reservedCpu::2 userTags=a,b\\,c
QueryZone count=true
"""


def test_batch_file(run, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "desc.txt").write_text("from a file, with a comma\nand a second line\n")
    (folder / "cmds.zs").write_text(BATCH)
    # @desc.txt is read relative to the batch file, not to the working directory
    r = ok(run("-f", str(folder / "cmds.zs")))
    replies = [json.loads(chunk) for chunk in r.out.split("\n\n") if chunk.strip()]
    assert len(replies) == 4
    assert replies[-1] == {"success": True, "total": 3}
    zones = {z["name"]: z for z in ok(run("QueryZone")).json()["inventories"]}
    assert zones["z-continued"]["description"] == "joined"
    assert zones["z-multi"]["description"] == "first line\nsecond line"
    assert zones["z-file"]["description"] == "from a file, with a comma\nand a second line\n"
    uuid = zones["z-file"]["uuid"]
    sys_tags = ok(run("QuerySystemTag", f"resourceUuid={uuid}")).json()["inventories"]
    assert sorted(t["tag"] for t in sys_tags) == ["host::reservedCpu::2",
                                                  "host::reservedMemory::1G"]
    user_tags = ok(run("QueryUserTag", f"resourceUuid={uuid}")).json()["inventories"]
    assert sorted(t["tag"] for t in user_tags) == ["a", "b,c"]


def test_batch_stdin_dash_and_pipe(run):
    script = "CreateZone name=from-stdin\nQueryZone fields=name\n"
    r = ok(run("-f", "-", stdin=script))
    assert '"name": "from-stdin"' in r.out
    r = ok(run(stdin="CreateZone name=from-pipe\n"))
    assert '"name": "from-pipe"' in r.out
    # a pipe: no banner, no prompt, nothing but the replies
    assert r.out.startswith("{") and ">>>" not in r.out
    assert zone_names(run) == ["from-pipe", "from-stdin"]


def test_batch_windows_line_endings_and_bom(run, tmp_path):
    path = tmp_path / "crlf.zs"
    path.write_bytes(b"\xef\xbb\xbfCreateZone name=crlf1\r\n\r\nCreateZone name=crlf2\r\n")
    ok(run("-f", str(path)))
    assert zone_names(run) == ["crlf1", "crlf2"]


def test_batch_file_missing(run):
    r = run("-f", "/nonexistent/cmds.zs")
    assert r.status == 1, r
    assert "/nonexistent/cmds.zs" in r.err and "Traceback" not in r.err


def test_at_file_in_argv(run):
    (run.work / "d.txt").write_text("描述 from file")
    z = create_zone(run, "z", "description=@d.txt")
    assert z["description"] == "描述 from file"
    r = run("CreateZone", "name=z2", "description=@missing.txt")
    assert r.status == 1, r
    assert "missing.txt" in r.err


def test_system_tags_list_and_tag_from_file(run):
    z = create_zone(run, "z", "systemTags=host::reservedMemory::1G,host::reservedCpu::4",
                    "userTags=x,y")
    tags = ok(run("QuerySystemTag", f"resourceUuid={z['uuid']}")).json()["inventories"]
    assert sorted(t["tag"] for t in tags) == ["host::reservedCpu::4", "host::reservedMemory::1G"]
    (run.work / "mem.txt").write_text("2G")
    r = ok(run("CreateUserTag", "resourceType=ZoneVO", f"resourceUuid={z['uuid']}",
               "tag=note::@mem.txt"))
    assert r.json()["inventory"]["tag"] == "note::2G"


def test_multiline_user_tag_is_stored_escaped(run, tmp_path):
    z = create_zone(run, "z")
    path = tmp_path / "tag.zs"
    path.write_text(f"CreateUserTag resourceType=ZoneVO resourceUuid={z['uuid']} "
                    f"tag='first\nsecond'\n")
    r = ok(run("-f", str(path)))
    assert json.loads(r.out)["inventory"]["tag"] == "first\\nsecond"


# =============================================================================================
# exit statuses (SPEC §2)
# =============================================================================================

def test_status_ok_cli_error_api_error(run):
    assert ok(run("QueryZone")).status == 0
    r = run("NoSuchVerb", "a=b")
    assert r.status == 1, r
    assert r.out == ""
    r = run("UpdateZone", f"uuid={MISSING}", "name=x")
    assert r.status == 3, r
    assert r.out == ""


def test_batch_stops_at_first_failure(run):
    r = run(stdin="CreateZone name=first\nUpdateZone uuid=%s name=x\nCreateZone name=never\n"
            % MISSING)
    assert r.status == 3, r
    assert zone_names(run) == ["first"]
    r = run(stdin="CreateZone name=second\nBogusVerb\nCreateZone name=never\n")
    assert r.status == 1, r
    assert "line 2" in r.err
    assert zone_names(run) == ["first", "second"]


def test_keep_going_runs_all_and_exits_with_first_failure(run):
    script = ("CreateZone name=k1\nBogusVerb x=y\nCreateZone name=k2\n"
              "UpdateZone uuid=%s name=x\nCreateZone name=k3\n" % MISSING)
    r = run("--keep-going", stdin=script)
    assert r.status == 1, r                       # the first failure was a CLI error
    assert zone_names(run) == ["k1", "k2", "k3"]
    assert len(r.err.strip().splitlines()) == 2
    script = "UpdateZone uuid=%s name=x\nBogusVerb x=y\nCreateZone name=k4\n" % MISSING
    r = run("--keep-going", "-f", "-", stdin=script)
    assert r.status == 3, r                       # the first failure was an API error
    assert "k4" in zone_names(run)


# =============================================================================================
# errors (SPEC §4)
# =============================================================================================

def test_api_error_line(run):
    r = run("UpdateZone", f"uuid={MISSING}", "name=x")
    assert r.status == 3
    lines = r.err.splitlines()
    assert len(lines) == 1
    assert lines[0] == (f"API call[UpdateZone] failed because [code: SYS.1003, description: "
                        f"The resource can not be found, details: invalid field[uuid], "
                        f"resource[uuid:{MISSING}, type:ZoneVO] not found]")
    r = run("CreateZone")
    assert r.status == 3
    assert r.err.strip() == ("API call[CreateZone] failed because [code: SYS.1007, description: "
                             "One or more API argument is invalid, details: field[name] of "
                             "message[APICreateZoneMsg] is mandatory, can not be null]")
    assert "\x1b[" not in r.err        # no colour off a terminal


def test_api_error_line_shape_for_several_errors(run):
    for argv in (["QueryZone", "nope=1"], ["DeleteTag"],
                 ["UpdateGlobalConfig", "category=kvm", "name=vm.consoleMode", "value=rdp"],
                 ["LogInByAccount", "accountName=admin", "password=wrong"]):
        r = run(*argv)
        assert r.status == 3, r
        [line] = r.err.splitlines()
        m = ERROR_LINE.match(line)
        assert m and m.group(1) == argv[0], line
    r = run("UpdateGlobalConfig", "category=kvm", "name=vm.consoleMode", "value=rdp")
    assert "details: rdp is not a valid value. Valid values are [vnc, spice]]" in r.err


def test_did_you_mean_verb(run):
    r = run("CreateZon", "name=x")
    assert r.status == 1, r
    [line] = r.err.splitlines()
    assert "CreateZon" in line and "did you mean" in line and "CreateZone" in line
    r = run("queryzone")
    assert r.status == 1 and "QueryZone" in r.err


def test_did_you_mean_key(run):
    r = run("CreateZone", "nme=x")
    assert r.status == 1, r
    [line] = r.err.splitlines()
    assert "nme" in line and "did you mean" in line and "name" in line
    assert "description" in line          # the valid keys are named
    assert zone_names(run) == []


def test_token_without_equals(run):
    r = run("CreateZone", "name")
    assert r.status == 1
    assert r.err.strip() == 'Invalid parameter[name], the parameter must be split by "="'


# =============================================================================================
# --version, help
# =============================================================================================

def test_version(run):
    r = ok(run("--version"))
    assert re.fullmatch(r"zstack-cli \d+\.\d+\S*\n", r.out), r


def test_help(run):
    r = ok(run("help"))
    for word in ("CreateZone", "QueryZone", "LogInByAccount", "UpdateGlobalConfig", "?=", "~="):
        assert word in r.out
    r = ok(run("--help"))
    assert "usage" in r.out.lower()


def test_help_verb(run):
    r = ok(run("help", "CreateZone"))
    assert "CreateZone" in r.out
    name_line = next(line for line in r.out.splitlines() if line.strip().startswith("name "))
    assert "required" in name_line
    assert "description" in r.out and "systemTags" in r.out
    assert "Example" in r.out and "CreateZone name=" in r.out
    r = run("help", "CreateZon")
    assert r.status == 1 and "CreateZone" in r.err


# =============================================================================================
# the session (SPEC §6)
# =============================================================================================

def test_login_session_is_shared_between_processes(run):
    home = run.home
    r = ok(run("LogInByAccount", "accountName=admin", "password=password"))
    session = r.json()["inventory"]
    path = home / "cli" / "session"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "cli").stat().st_mode) & 0o077 == 0
    assert session["uuid"] in path.read_text()
    assert "password" not in path.read_text().replace("accountName", "")

    # a second process uses the stored session: its LogOut closes exactly that session
    db = sqlite3.connect(home / "zstack.db")
    try:
        count = lambda: db.execute(  # noqa: E731
            "SELECT COUNT(*) FROM SessionVO WHERE uuid = ?", (session["uuid"],)).fetchone()[0]
        assert count() == 1
        ok(run("QueryZone"))
        ok(run("LogOut"))
        assert count() == 0
    finally:
        db.close()
    assert not path.exists()
    ok(run("QueryZone"))             # the local owner may go on without a login


def test_invalid_stored_session_is_dropped(run):
    ok(run("LogInByAccount", "accountName=admin", "password=password"))
    db = sqlite3.connect(run.home / "zstack.db")
    try:
        db.execute("DELETE FROM SessionVO")
        db.commit()
    finally:
        db.close()
    r = run("QueryZone")
    assert r.status == 3, r
    assert "ID.1001" in r.err and "Traceback" not in r.err
    assert not (run.home / "cli" / "session").exists()
    ok(run("QueryZone"))


def test_wrong_password(run):
    r = run("LogInByAccount", "accountName=admin", "password=nope")
    assert r.status == 3
    assert "code: ID.1000" in r.err
    assert not (run.home / "cli" / "session").exists()


def test_home_file_modes(run):
    create_zone(run)
    home = run.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "zstack.db").stat().st_mode) == 0o600


# =============================================================================================
# THE NO-TRACEBACK RULE (SPEC §4): piped and as argv, never a traceback, never status 0
# =============================================================================================

NASTY = [
    'CreateZone name="unterminated',
    "NoSuchVerb a=b",
    "CreateZone name",
    "QueryZone fields=nope",
    "QueryZone sortDirection=sideways",
    "CreateVmInstance name=x imageUuid=00000000000000000000000000000000",
    "DeleteTag",
    "=",
    "CreateZone =x",
    "QueryZone limit=abc",
    "QueryZone name>",
    "CreateSystemTag tag=userdata::@/nonexistent",
    "QueryZone limit=99999999999999999999999",
    "QueryZone start=-1",
    "QueryZone nope.deeper.still=1",
    "QueryZone cluster.zone.cluster.nope=1",
    "QueryZone ==",
    "QueryZone name!",
    "'",
    'CreateZone name=@',
    "CreateZone name=@/",
    "CreateZone name=ok systemTags=nope::x",
    "CreateZone name=ok resourceUuid=XYZ",
    "UpdateZone uuid=%s name=x" % MISSING,
    "DeleteZone uuid=not-a-uuid",
    "CreateSystemTag resourceType=FooVO resourceUuid=%s tag=x" % MISSING,
    "UpdateGlobalConfig category=kvm name=foo value=1",
    "LogInByAccount accountName=admin password=wrong",
    "LogOut sessionUuid=nope",
    "QueryZone count=maybe",
    "help NoSuchVerb",
    "CreateZone name=x name",
]


def _no_traceback(result):
    text = result.out + result.err
    assert "Traceback" not in text, result
    assert 'File "' not in text, result
    assert result.status in (1, 3), result
    assert result.err.strip(), result              # it says why
    for line in result.err.splitlines():
        assert len(line) < 20000, result


@pytest.mark.parametrize("line", NASTY)
def test_no_traceback(run, line):
    _no_traceback(run(stdin=line + "\n"))
    try:
        argv = shlex.split(line)
    except ValueError:
        argv = [line]                              # an unterminated quote: one word
    _no_traceback(run(*argv))
    if " " in line and line in NASTY[:12]:
        _no_traceback(run(line))                   # the whole line as one word


def test_no_traceback_binary_junk(run):
    junk = bytes(range(1, 256)) * 4 + b"\n\xff\xfe\x00\x80garbage=\xc3\x28\n"
    _no_traceback(run(stdin=junk))
    _no_traceback(run(b"\xff\xfe\x80", b"name=\xc3\x28"))
    _no_traceback(run("CreateZone", b"name=\xff\xfe"))
    _no_traceback(run(stdin=b"CreateZone name=\xe4\xb8\n"))
    _no_traceback(run(stdin=b"\x1b[31mCreateZone\x1b[0m name=x\n"))
    assert zone_names(run) == []


def test_no_traceback_binary_junk_in_a_file(run, tmp_path):
    path = tmp_path / "junk.zs"
    path.write_bytes(b"CreateZone name=good\nCreateZone name=\xff\xfe\nCreateZone name=after\n")
    _no_traceback(run("-f", str(path)))
    assert zone_names(run) == ["good"]              # line 1 ran, the batch stopped at line 2
    r = run("--keep-going", "-f", str(path))
    _no_traceback(r)
    assert zone_names(run) == ["after", "good", "good"]


def test_no_traceback_huge_line(run):
    big = "x" * (1 << 20)
    _no_traceback(run(stdin=f"CreateZone name={big}\n"))
    _no_traceback(run(stdin=f"QueryZone name>{big} fields=nope\n"))
    _no_traceback(run(stdin=f'CreateZone name="{big}\n'))            # unterminated, 1 MB
    _no_traceback(run("CreateZone", "name=" + "y" * 100_000))           # argv: below ARG_MAX
    r = ok(run(stdin=f"QueryZone name={big}\n"))                        # a legal query
    assert r.json()["inventories"] == []


def test_no_traceback_options(run):
    for argv in (["--bogus"], ["-f"], ["-o"], ["--lang", "fr", "QueryZone"], ["-o", "xml"]):
        _no_traceback(run(*argv))


def test_only_comments_and_blank_lines(run):
    r = ok(run(stdin="# nothing\n\n   \n# more\n"))
    assert r.out == "" and r.err == ""
    r = ok(run(stdin=""))
    assert r.out == ""


def test_no_internal_error_leaks(run):
    # none of the nasty lines is an internal error (SYS.1000): each is a proper refusal
    script = "\n".join(line for line in NASTY if not line.startswith(("'", 'CreateZone name="')))
    r = run("--keep-going", stdin=script + "\n")
    _no_traceback(r)
    assert "SYS.1000" not in r.err, r
    assert "internal error" not in r.err, r


def test_an_unterminated_quote_is_told_at_its_own_line(run):
    r = run(stdin='QueryZone count=true\nQueryZone count=true\n\nCreateZone name="x\n')
    assert r.status == 1 and "Traceback" not in r.err, r
    assert r.err.strip() == 'line 4: unterminated quote: the " opened on line 4 is never closed'


def test_built_ins_refuse_extra_words_on_their_line(run):
    r = run("--keep-going", stdin="help CreateZone bogus\nexit now\nmore 1 2\nQueryZone\n")
    assert r.status == 1 and "Traceback" not in r.err, r
    assert r.err.splitlines() == ["line 1: usage: help [Verb]", "line 2: usage: exit",
                                  "line 3: usage: more [N]"]
    assert r.json()["inventories"] == []                # the batch went on, and did not exit
    r = run(stdin="help more\nhelp set\n")
    assert r.status == 0 and r.out.splitlines() == [
        "usage: more [N]", "usage: set output json|table|yaml|text"], r
