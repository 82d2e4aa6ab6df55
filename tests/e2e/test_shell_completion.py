"""Completion in the user's own shells: real bash, zsh and fish run the generated
scripts (completions/), which call the installed command's hidden --complete
entry point, the REPL's own engine with values from the store.

Each shell runs on a pseudo-terminal as a user has it: the test types a line,
presses Tab, then a key bound to a small function that writes the shell's
edit buffer to a file and clears it. So what is checked is the line the user
would see after Tab, spaces and quoting included. fish is also asked with
``complete -C``, which prints its candidates with their descriptions.
"""

import configparser
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from zstackcli.shellcomplete import complete_line
from zstackcli.shellscripts import FILES, SCRIPTS

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parents[2]
LEFT = "\x02"          # Ctrl-B: the cursor one character left (emacs keys, all three shells)


def need(shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (scripts/bootstrap.sh installs it)")


# ---------------------------------------------------------------------------------------------
# The scripts: generated, kept in completions/, installed
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_completions_folder_holds_what_the_command_prints(cli, shell):
    printed = subprocess.run([cli, "--completions", shell], capture_output=True, text=True,
                             timeout=30)
    assert printed.returncode == 0 and printed.stderr == ""
    assert printed.stdout == SCRIPTS[shell]
    assert (ROOT / "completions" / FILES[shell]).read_text() == printed.stdout, \
        f"regenerate: zstack-cli --completions {shell} > completions/{FILES[shell]}"


def test_every_script_is_installed_where_its_shell_looks():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    installed = {}
    for target, files in cfg["options.data_files"].items():
        for f in files.split():
            installed[f] = target
    assert installed["completions/zstack-cli.bash"] == "share/bash-completion/completions"
    assert installed["completions/_zstack-cli"] == "share/zsh/site-functions"
    assert installed["completions/zstack-cli.fish"] == "share/fish/vendor_completions.d"
    assert sorted(p.name for p in (ROOT / "completions").iterdir()) == sorted(FILES.values())


@pytest.mark.parametrize("line, expected", [
    ("zstack-cli Que", "QueryZone"),
    ("zstack-cli -o table QueryZ", "QueryZone"),
    ("zstack-cli CreateZone na", "name="),
    ("zstack-cli QueryCluster zone.na", "zone.name="),
    ("zstack-cli QueryZone sortDirection=de", "sortDirection=desc"),
    ("zstack-cli --output t", "table"),
    ("zstack-cli --la", "--lang"),
])
def test_complete_line_gives_whole_words(line, expected):
    assert expected in complete_line(line)


# ---------------------------------------------------------------------------------------------
# A store to complete from, and one that does not exist
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """A real store made by the installed command: two zones, one named with a space."""
    from tests.conftest import cli_path

    cli = cli_path()
    home = tmp_path_factory.mktemp("completion") / "zstack-home"
    env = dict(os.environ, ZSTACK_HOME=str(home))
    zones = {}
    for name in ("alpha", "beta zone"):
        out = subprocess.run([cli, "CreateZone", f"name={name}"], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        zones[name] = out.stdout.split('"uuid": "')[1][:32]
    files = home.parent / "batch-files"
    files.mkdir()
    (files / "my cmds.txt").write_text("QueryZone\n")
    return {"cli": cli, "home": home, "zones": zones, "files": files}


def shell_env(cloud, home, workdir):
    return {"PATH": f"{Path(cloud['cli']).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(workdir), "ZSTACK_HOME": str(home), "ZSTACK_LANG": "en",
            "ZSTACK_HOST_AGENT": "off", "LANG": "C.UTF-8", "TERM": "xterm"}


# ---------------------------------------------------------------------------------------------
# A shell on a terminal
# ---------------------------------------------------------------------------------------------

class PtyShell:
    """bash, zsh or fish, interactive on a pseudo-terminal, with our script loaded."""

    DUMP = {"bash": "\x18\x04", "zsh": "\x18\x04", "fish": "\x18"}

    def __init__(self, shell, env, workdir):
        need(shell)
        self.shell = shell
        self.lines = workdir / f"{shell}-buffers"
        self.lines.write_text("")
        self.raw = ""
        script = ROOT / "completions" / FILES[shell]
        if shell == "zsh":
            fpath = workdir / "zsh-functions"
            fpath.mkdir(exist_ok=True)
            shutil.copy(script, fpath / "_zstack-cli")
            argv = ["zsh", "-f", "-i"]
            setup = [f"fpath=({fpath} $fpath); autoload -U compinit; compinit -u -D",
                     f"dump() {{ print -r -- \"$BUFFER\" >> {self.lines}; BUFFER= }}",
                     "zle -N dump; bindkey '^X^D' dump; unsetopt beep"]
        elif shell == "bash":
            argv = ["bash", "--norc", "--noprofile", "-i"]
            setup = [f"source {script}",
                     f"dump() {{ printf '%s\\n' \"$READLINE_LINE\" >> {self.lines}; "
                     "READLINE_LINE=; READLINE_POINT=0; }",
                     "bind -x '\"\\C-x\\C-d\": dump'; bind 'set bell-style none'"]
        else:
            argv = ["fish", "--no-config", "-i"]
            setup = [f"source {script}",
                     f"function dump; commandline >> {self.lines}; commandline ''; end",
                     "bind \\cx dump"]
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(workdir),
                                   dimensions=(50, 200), encoding="utf-8",
                                   codec_errors="replace", timeout=20)
        for line in setup:
            self.child.sendline(line)
        # Ready when the shell has run the setup (the typed text shows 6*7, not 42).
        self.child.sendline("echo ready-$((6*7))" if shell != "fish" else "echo ready-(math 6 + 36)")
        self.child.expect("ready-42", timeout=20)

    def read(self):
        try:
            while True:
                self.raw += self.child.read_nonblocking(65536, timeout=0.05)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass
        return self.raw

    def tab(self, typed, left=0, tabs=1):
        """Type ``typed``, move ``left`` characters back, press Tab: the edit buffer."""
        before = self.lines.read_text().count("\n")
        self.child.send(typed)
        self.child.send(LEFT * left)
        for _ in range(tabs):
            self.child.send("\t")
            time.sleep(0.3)
        self.child.send(self.DUMP[self.shell])
        deadline = time.monotonic() + 20
        while self.lines.read_text().count("\n") <= before:
            assert time.monotonic() < deadline, f"{self.shell} did not answer:\n{self.read()}"
            self.read()
        return self.lines.read_text().split("\n")[before]

    def close(self):
        self.child.sendline("exit")
        self.child.close(force=True)


@pytest.fixture(params=["bash", "zsh", "fish"])
def shell(request, cloud, tmp_path):
    sh = PtyShell(request.param, shell_env(cloud, cloud["home"], tmp_path), tmp_path)
    yield sh
    sh.close()


def test_verbs_options_and_keys(shell):
    assert shell.tab("zstack-cli CreateZ") == "zstack-cli CreateZone "
    assert shell.tab("zstack-cli -o table QueryZ") == "zstack-cli -o table QueryZone "
    # a key= is followed by its value, not by a space
    assert shell.tab("zstack-cli CreateZone na") == "zstack-cli CreateZone name="
    assert shell.tab("zstack-cli QueryCluster zone.na") == "zstack-cli QueryCluster zone.name="
    assert shell.tab("zstack-cli CreateZone systemTags=host::reservedC") == \
        "zstack-cli CreateZone systemTags=host::reservedCpu::"
    # options and their values come from the option parser
    assert shell.tab("zstack-cli --outp") == "zstack-cli --output "
    assert shell.tab("zstack-cli --output ta") == "zstack-cli --output table "
    assert shell.tab("zstack-cli --lang z") == "zstack-cli --lang zh "


def test_uuids_from_the_store(shell, cloud):
    alpha = cloud["zones"]["alpha"]
    assert shell.tab(f"zstack-cli CreateCluster zoneUuid={alpha[:5]}") == \
        f"zstack-cli CreateCluster zoneUuid={alpha} "
    # the start of a zone's name completes to its uuid, as in the >>> shell
    assert shell.tab("zstack-cli CreateCluster zoneUuid=alp") == \
        f"zstack-cli CreateCluster zoneUuid={alpha} "
    assert shell.tab(f"zstack-cli QueryCluster zone.uuid={alpha[:5]}") == \
        f"zstack-cli QueryCluster zone.uuid={alpha} "


def test_completion_in_the_middle_of_the_line(shell, cloud):
    alpha = cloud["zones"]["alpha"]
    assert shell.tab("zstack-cli CreateCluster zo name=c1", left=len(" name=c1")) == \
        "zstack-cli CreateCluster zoneUuid= name=c1"
    assert shell.tab(f"zstack-cli CreateCluster zoneUuid={alpha[:5]} name=c1",
                     left=len(" name=c1")) == \
        f"zstack-cli CreateCluster zoneUuid={alpha} name=c1"


def test_files_after_dash_f(shell, cloud):
    files = cloud["files"]
    assert shell.tab(f"zstack-cli -f {files}/my") == f"zstack-cli -f {files}/my\\ cmds.txt "


def test_special_characters_are_quoted_by_the_shell(shell, cloud):
    alpha = cloud["zones"]["alpha"]
    # a query operator the shell would glob, written escaped and inside quotes
    assert shell.tab(f"zstack-cli QueryZone uuid\\?={alpha[:5]}") == \
        f"zstack-cli QueryZone uuid\\?={alpha} "
    assert shell.tab("zstack-cli CreateZone name='my zone' desc") == \
        "zstack-cli CreateZone name='my zone' description="


def test_a_store_that_does_not_exist_yet(cloud, tmp_path):
    nowhere = tmp_path / "no" / "zstack-home"
    for name in ("bash", "zsh", "fish"):
        if shutil.which(name) is None:
            continue
        sh = PtyShell(name, shell_env(cloud, nowhere, tmp_path), tmp_path)
        try:
            assert sh.tab("zstack-cli CreateZ") == "zstack-cli CreateZone "
            assert sh.tab("zstack-cli CreateCluster zoneUuid=") == \
                "zstack-cli CreateCluster zoneUuid="
            screen = sh.read()
            assert "Traceback" not in screen and "rror" not in screen, screen
        finally:
            sh.close()
    assert not (tmp_path / "no").exists()          # completing never creates a store
    if not any(shutil.which(s) for s in ("bash", "zsh", "fish")):
        pytest.skip("no shell installed")


# ---------------------------------------------------------------------------------------------
# Descriptions: zsh lists them, fish prints them
# ---------------------------------------------------------------------------------------------

def test_zsh_lists_uuids_with_their_names(cloud, tmp_path):
    sh = PtyShell("zsh", shell_env(cloud, cloud["home"], tmp_path), tmp_path)
    try:
        mark = len(sh.read())
        # The two uuids may share their first characters: zsh inserts those at the
        # first Tab and lists at the second (else the first lists, the second goes on).
        assert sh.tab("zstack-cli CreateCluster zoneUuid=", tabs=2).startswith(
            "zstack-cli CreateCluster zoneUuid=")
        listing = sh.read()[mark:]
        for name, uuid in cloud["zones"].items():
            assert f"zoneUuid={uuid}  -- {name}" in listing, listing
        mark = len(sh.read())
        sh.tab("zstack-cli CreateZone ")
        listing = sh.read()[mark:]
        # required keys first, each with what it takes
        assert listing.index("name=") < listing.index("description=")
        assert "-- required, str" in listing
    finally:
        sh.close()


def fish_complete(cloud, home, line, workdir):
    need("fish")
    script = ROOT / "completions" / FILES["fish"]
    out = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C $argv[1]",
                          line], env=shell_env(cloud, home, workdir), cwd=str(workdir),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return out.stdout.splitlines()


def test_fish_prints_candidates_with_descriptions(cloud, tmp_path):
    home, zones = cloud["home"], cloud["zones"]

    def fish(line):
        return fish_complete(cloud, home, line, tmp_path)

    assert "CreateZone\tCreate a zone" in fish("zstack-cli CreateZ")
    assert fish("zstack-cli CreateZone na") == ["name=\trequired, str"]
    got = fish("zstack-cli CreateCluster zoneUuid=")
    assert sorted(got) == sorted(f"zoneUuid={u}\t{n}" for n, u in zones.items())
    # the engine's order, not fish's: required keys first
    keys = [c.split("\t")[0] for c in fish("zstack-cli CreateZone ")]
    assert keys.index("name=") < keys.index("description=")
    assert fish("zstack-cli -o ") == ["json", "table", "yaml", "text"]
    # a name typed for a uuid: fish keeps the uuid because its description matches
    assert fish("zstack-cli CreateCluster zoneUuid=alp") == \
        [f"zoneUuid={zones['alpha']}\tzoneUuid=alpha"]


def test_fish_with_no_store(cloud, tmp_path):
    nowhere = tmp_path / "no" / "zstack-home"
    assert fish_complete(cloud, nowhere, "zstack-cli CreateCluster zoneUuid=", tmp_path) == []
    assert "CreateZone\tCreate a zone" in \
        fish_complete(cloud, nowhere, "zstack-cli CreateZ", tmp_path)
    assert not (tmp_path / "no").exists()


# ---------------------------------------------------------------------------------------------
# bash, driven as before by calling the function with COMP_LINE set
# ---------------------------------------------------------------------------------------------

def bash_complete(cli, home, line, point=None):
    script = f"""
source {ROOT / 'completions' / 'zstack-cli.bash'}
COMP_LINE={line!r}
COMP_POINT={len(line) if point is None else point}
read -ra COMP_WORDS <<< "${{COMP_LINE:0:COMP_POINT}}"
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_zstack_cli
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = dict(os.environ, ZSTACK_HOME=str(home),
               PATH=f"{Path(cli).parent}:{os.environ['PATH']}")
    out = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_real_bash_completes_verbs_keys_and_uuids(cli, home):
    env = dict(os.environ, ZSTACK_HOME=str(home))
    out = subprocess.run([cli, "CreateZone", "name=alpha"], env=env, capture_output=True,
                         text=True, timeout=30)
    uuid = out.stdout.split('"uuid": "')[1][:32]
    assert "QueryZone" in bash_complete(cli, home, "zstack-cli QueryZ")
    assert "zoneUuid=" in bash_complete(cli, home, "zstack-cli CreateCluster zo")
    # bash cut the word at '=': the reply is what follows it
    assert bash_complete(cli, home, f"zstack-cli CreateCluster zoneUuid={uuid[:4]}") == [uuid]
    line = "zstack-cli CreateCluster zo name=c1"
    assert bash_complete(cli, home, line, point=line.index(" name")) == ["zoneUuid="]
