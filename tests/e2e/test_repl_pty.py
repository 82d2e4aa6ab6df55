"""The interactive shell as a user meets it: the installed zstack-cli on a pseudo-terminal.

The screen is read as a stream with the terminal's escape sequences removed,
so the checks look for what a user would read (the JSON of a reply, the
prompt) rather than for how prompt_toolkit happened to draw it.
"""

import os
import re
import time

import pytest

pexpect = pytest.importorskip("pexpect")

_ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      r"|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r|\x07")
UP = "\x1b[A"


_FORWARD = re.compile(r"\x1b\[(\d*)C")


def clean(raw):
    # The renderer moves the cursor right instead of writing blanks: keep them as blanks.
    raw = _FORWARD.sub(lambda m: " " * int(m.group(1) or 1), raw)
    return _ESCAPES.sub("", raw)


class Shell:
    """One zstack-cli process on a terminal of rows x columns."""

    def __init__(self, cli, home, rows=40, columns=160, term="xterm", pager="cat", lang="en"):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home.parent),
               "ZSTACK_HOME": str(home), "ZSTACK_LANG": lang, "LANG": "C.UTF-8", "TERM": term,
               # No terminal answers cursor position requests here.
               "PROMPT_TOOLKIT_NO_CPR": "1"}
        if pager is not None:
            env["PAGER"] = pager
        self.child = pexpect.spawn(cli, env=env, dimensions=(rows, columns), encoding="utf-8",
                                   codec_errors="replace", timeout=10)
        self.raw = ""
        self.pos = 0          # how far into the cleaned screen text the checks have read

    @property
    def screen(self):
        return clean(self.raw)

    def wait_for(self, pattern, timeout=8):
        """Wait until ``pattern`` (text, or a compiled regex) shows after what was read."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen
            if isinstance(pattern, str):
                at = screen.find(pattern, self.pos)
                end = at + len(pattern) if at >= 0 else -1
            else:
                m = pattern.search(screen, self.pos)
                end = m.end() if m else -1
            if end >= 0:
                self.pos = end
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not shown; the screen ends with:\n"
                                     f"{screen[-1500:]}")
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=0.05)
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                if time.monotonic() > deadline - timeout + 0.5:
                    raise AssertionError(f"{pattern!r} not shown before the shell ended:\n"
                                         f"{screen[-1500:]}")

    def prompt(self, account=None):
        # (the prompt's trailing blank is a cursor position, never written)
        self.wait_for(f"{account} >>>" if account else ">>>")

    def run(self, line, expect, account=None):
        """Type a line, press Enter, wait for ``expect`` and the next prompt."""
        self.child.send(line + "\r")
        self.wait_for(expect)
        self.prompt(account)

    def drain(self, seconds=0.3):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                pass

    def quit(self):
        """Ctrl-D at an empty prompt; returns the exit status."""
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF, timeout=8)
        self.child.close()
        return self.child.exitstatus

    def kill(self):
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def zhome(tmp_path):
    return tmp_path / "zstack-home"


@pytest.fixture
def shell(cli, zhome):
    shells = []

    def start(**options):
        s = Shell(cli, zhome, **options)
        shells.append(s)
        s.wait_for("zstack-cli ")           # the banner
        s.prompt()
        return s

    yield start
    for s in shells:
        s.kill()


def test_banner_create_query_help_errors_and_ctrl_d(shell, zhome):
    sh = shell()
    assert "Type 'help'" in sh.screen and str(zhome) in sh.screen
    sh.run("CreateZone name=zone1 description=first", '"name": "zone1"')
    sh.run("QueryZone name=zone1", '"inventories": [')
    assert '"description": "first"' in sh.screen[sh.pos - 400:]
    # A failing API prints ZStack's error line and the shell goes on.
    sh.run("CreateCluster zoneUuid=0123456789abcdef0123456789abcdef name=c hypervisorType=KVM",
           "API call[CreateCluster] failed because [code: SYS.1003")
    sh.run("NoSuchVerb a=b", "unknown command[NoSuchVerb]")
    sh.run("help CreateZone", "Parameters:")
    sh.run("help", "APIs by area:")
    sh.run("set output table", "output format is now table")
    sh.run("QueryZone", re.compile(r"uuid\s+name\s+state"))
    assert sh.quit() == 0


def test_the_shell_in_chinese(shell, zhome):
    sh = shell(lang="zh_CN.UTF-8")
    assert "输入 'help' 查看命令" in sh.screen and str(zhome) in sh.screen
    sh.run("CreateZone name=zone1", '"name": "zone1"')
    sh.run("CreateCluster zoneUuid=0123456789abcdef0123456789abcdef name=c hypervisorType=KVM",
           "API call[CreateCluster] failed because [code: SYS.1003, description: 找不到该资源, "
           "details: 字段[zoneUuid]无效，找不到资源[uuid:0123456789abcdef0123456789abcdef, "
           "type:ZoneVO]]")
    sh.run("NoSuchVerb a=b", "未知命令[NoSuchVerb]")
    sh.run("help CreateZone", "参数：")
    sh.run("set output table", "输出格式已设为 table")
    sh.run("QueryZone", re.compile(r"UUID\s+名称\s+状态"))
    assert sh.quit() == 0


def test_tab_completes_verbs_keys_and_uuids(shell):
    # After each Tab the line goes on with typed text, which also takes a
    # completion chosen in the menu: the line runs only if Tab completed it.
    sh = shell()
    sh.child.send("QueryZ")
    sh.drain(0.2)
    sh.child.send("\t")
    sh.drain(0.2)
    sh.child.send(" count=true\r")             # QueryZone count=true
    sh.wait_for('"total": 0')
    sh.prompt()
    sh.child.send("CreateZone na")
    sh.drain(0.2)
    sh.child.send("\t")
    sh.drain(0.2)
    sh.child.send("tabbed\r")                  # CreateZone name=tabbed
    sh.wait_for('"name": "tabbed"')
    uuid = re.findall(r'"uuid": "([0-9a-f]{32})"', sh.screen)[-1]
    sh.prompt()
    # The value: the uuid of the zone just created, shown with its name.
    sh.child.send("UpdateZone uuid=")
    sh.wait_for(f"{uuid} (tabbed)")
    sh.child.send("\t")
    sh.drain(0.2)
    sh.child.send(" description=by-tab\r")
    sh.wait_for('"description": "by-tab"')
    assert f'"uuid": "{uuid}"' in sh.screen[sh.pos - 600:]
    sh.prompt()
    assert sh.quit() == 0


def test_history_persists_masks_passwords_and_login_changes_the_prompt(shell, zhome):
    sh = shell()
    sh.run("CreateZone name=hist1", '"name": "hist1"')
    sh.run("LogInByAccount accountName=admin password=password", '"accountUuid"', account="admin")
    assert sh.quit() == 0

    history = (zhome / "cli" / "history").read_text()
    assert "CreateZone name=hist1" in history
    assert "password=******" in history and "password=password" not in history
    assert oct(os.stat(zhome / "cli" / "history").st_mode & 0o777) == "0o600"

    sh = shell()
    assert "admin >>>" in sh.screen   # still logged in: the session is kept
    sh.child.send(UP)            # the last entry: the masked login
    sh.drain()
    sh.child.send(UP)            # the one before: CreateZone name=hist1
    sh.drain()
    sh.child.send("\r")
    sh.wait_for('"name": "hist1"')
    sh.prompt("admin")
    sh.run("QueryZone name=hist1 count=true", '"total": 2', account="admin")
    sh.run("LogOut", '"success": true')
    assert sh.quit() == 0


def test_ctrl_r_then_enter_runs_the_line_found(shell):
    sh = shell()
    sh.run("CreateZone name=mz3", '"name": "mz3"')
    sh.run("QueryZone count=true", '"total": 1')
    sh.child.sendcontrol("r")
    sh.drain()
    sh.child.send("mz3")
    sh.drain()
    sh.child.send("\r")                  # runs CreateZone name=mz3 again, as bash would
    sh.wait_for('"name": "mz3"')
    sh.prompt()
    sh.run("QueryZone name=mz3 count=true", '"total": 2')
    assert sh.quit() == 0


def test_multi_line_values_typed_and_pasted(shell):
    sh = shell()
    sh.child.send("CreateZone name=ml description='line1\r")
    sh.wait_for("...")                        # the continuation prompt
    sh.child.send("line2'\r")
    sh.wait_for('"description": "line1\\nline2"')
    sh.prompt()
    sh.run("QueryZone name=ml fields=description", '"description": "line1\\nline2"')
    # A cloud-init YAML pasted between quotes (bracketed paste), commas and all.
    paste = ("CreateZone name=yaml description='#cloud-config\nusers:\n"
             "  - name: foo, bar\n    groups: users, admin'")
    sh.child.send("\x1b[200~" + paste + "\x1b[201~")
    sh.drain()
    sh.child.send("\r")
    sh.wait_for('"description": "#cloud-config\\nusers:\\n  - name: foo, bar\\n'
                '    groups: users, admin"')
    sh.prompt()
    assert sh.quit() == 0


def test_a_line_wrapped_by_the_screen_shows_no_continuation_prompt(shell):
    sh = shell(columns=60)
    uuid = "d2e2ce4bc1906cda4c7" * 4
    sh.child.send(f"QueryZone uuid={uuid} description=a-long-line-wrapped")
    sh.drain(0.6)
    assert "... " not in sh.screen[sh.pos:], sh.screen[sh.pos:]
    sh.child.send("\r")
    sh.wait_for('"inventories": []')
    sh.prompt()
    assert sh.quit() == 0


def test_ctrl_c_abandons_the_line_and_exit_leaves_with_0(shell):
    sh = shell()
    sh.child.send("CreateZone name=abandoned")
    sh.drain()
    sh.child.sendcontrol("c")
    sh.prompt()
    sh.run("QueryZone name=abandoned count=true", '"total": 0')
    sh.child.send("exit\r")
    sh.child.expect(pexpect.EOF, timeout=8)
    sh.child.close()
    assert sh.child.exitstatus == 0


def test_long_reply_goes_through_the_pager(shell):
    sh = shell(rows=12, pager=None)          # less -R -F -X
    sh.child.send("help\r")
    sh.wait_for("Usage")
    sh.drain(0.5)
    assert ">>>" not in sh.screen[sh.pos:]  # the pager holds the screen
    sh.child.send("q")
    sh.prompt()
    assert sh.quit() == 0


def test_dumb_terminal(shell):
    sh = shell(term="dumb")
    sh.drain(0.3)
    sh.run("CreateZone name=dumb", '"name": "dumb"')
    # A dumb terminal gets the prompt before the terminal leaves line mode:
    # a key sent at once would go to the line discipline, not to the shell.
    sh.drain(0.3)
    assert sh.quit() == 0
