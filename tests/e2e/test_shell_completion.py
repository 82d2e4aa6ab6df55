"""Completion in the user's own shell: real bash runs the generated script,
which calls the installed command's hidden --complete entry point."""

import os
import subprocess
from pathlib import Path

import pytest

from zstackcli.shellcomplete import complete_line
from zstackcli.shellscripts import SCRIPTS

ROOT = Path(__file__).resolve().parents[2]


def test_completions_folder_holds_the_generated_scripts():
    for shell, script in SCRIPTS.items():
        assert (ROOT / "completions" / f"zstack-cli.{shell}").read_text() == script, \
            f"regenerate: zstack-cli --completions {shell} > completions/zstack-cli.{shell}"


@pytest.mark.parametrize("line, expected", [
    ("zstack-cli Que", "QueryZone"),
    ("zstack-cli -o table QueryZ", "QueryZone"),
    ("zstack-cli CreateZone na", "name="),
    ("zstack-cli QueryCluster zone.na", "zone.name="),
    ("zstack-cli QueryZone sortDirection=de", "sortDirection=desc"),
])
def test_complete_line_gives_whole_words(line, expected):
    assert expected in complete_line(line)


def bash_complete(cli, home, line):
    script = f"""
source {ROOT / 'completions' / 'zstack-cli.bash'}
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
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
