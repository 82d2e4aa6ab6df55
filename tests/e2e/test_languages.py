"""The installed command in Chinese and in English (SPEC §13): ``--lang``,
``ZSTACK_LANG`` or the locale chooses; English is the default and the fallback.

A language changes the words only: the error line keeps its shape, its codes
and the exit status.
"""

import os
import re
import subprocess

import pytest

from tests.clouds import VM1, environment
from tests.conftest import cli_path

ERROR_LINE = re.compile(r"^API call\[(\w+)\] failed because \[code: ([A-Z]+\.\d+), "
                        r"description: ([^,\]]+), details: (.*)\]$")


@pytest.fixture(scope="module")
def zs(tmp_path_factory):
    """zs(*argv, lang=..., expect=0, **env) -> CompletedProcess, on one cloud with VMs."""
    work = tmp_path_factory.mktemp("languages")
    image = work / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(image), "32M"], check=True,
                   capture_output=True)
    (work / "env.zs").write_text(environment(work, image))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ZSTACK_", "LC_", "LANG"))}
    base.update(ZSTACK_HOME=str(work / "home"), ZSTACK_HOST_AGENT="off", LANG="C.UTF-8")

    def run(*argv, expect=0, **env):
        proc = subprocess.run([cli_path(), *argv], env={**base, **env}, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == expect, (argv, env, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    run("-f", str(work / "env.zs"))
    return run


def error_of(proc):
    line = proc.stderr.strip()
    assert "\n" not in line, line
    match = ERROR_LINE.match(line)
    assert match, line
    return match.groups()


def test_vm_state_error_in_chinese_keeps_codes_and_status(zs):
    start = ("StartVmInstance", f"uuid={VM1}")
    english = zs(*start, expect=3)
    for chinese in (zs("--lang", "zh", *start, expect=3),
                    zs(*start, expect=3, ZSTACK_LANG="zh_CN.UTF-8")):
        verb, code, description, details = error_of(chinese)
        assert (verb, code) == error_of(english)[:2] == ("StartVmInstance", "SYS.1006")
        assert description == "操作失败"
        assert details.startswith(f"云主机[uuid:{VM1}]处于 Running 状态：云主机当前状态[Running]"
                                  f"不允许执行消息[APIStartVmInstanceMsg]，允许的状态为 [")
        assert "cause: [code: VM.1010, description: 云主机当前的状态不允许该操作, details: 云主机" \
               "当前状态[Running]" in details
    assert "description: The VM is not in a state that allows the operation" in english.stderr


def test_argument_errors_in_chinese(zs):
    verb, code, description, details = error_of(
        zs("--lang", "zh", "CreateInstanceOffering", "name=x", "cpuNum=0", "memorySize=64M",
           expect=3))
    assert (code, description, details) == ("SYS.1007", "一个或多个 API 参数无效",
                                            "cpuNum 至少为 1，实际为 0")
    _, code, _, details = error_of(zs("QueryZone", "limit=abc", expect=3, ZSTACK_LANG="zh"))
    assert (code, details) == ("SYS.1007", "消息[APIQueryZoneMsg]的字段[limit]必须是整数，实际为 abc")
    _, code, description, details = error_of(
        zs("QueryZone", "uuid=x", "zoneUuid=y", expect=3, LANG="zh_CN.UTF-8"))
    # the locale chooses when neither --lang nor ZSTACK_LANG does
    assert code == "SYS.1007" and description == "一个或多个 API 参数无效"
    assert details.startswith("QueryZone 没有字段[zoneUuid]")


def test_help_in_chinese(zs):
    text = zs("--lang", "zh", "help").stdout
    assert "按领域分组的 API：" in text and "用法：" in text
    text = zs("help", "CreateZone", ZSTACK_LANG="zh").stdout
    assert text.startswith("CreateZone: 创建区域") and "参数：" in text and "必填" in text


def test_table_headers_in_chinese(zs):
    out = zs("--lang", "zh", "-o", "table", "QueryVmInstance", "fields=uuid,name,state",
             "sortBy=name", "replyWithCount=true").stdout.splitlines()
    assert out[0].split() == ["UUID", "名称", "状态"]
    assert out[2].split()[1:] == ["vm1", "Running"] and out[-1] == "总数：3"
    english = zs("-o", "table", "QueryVmInstance", "fields=uuid,name,state",
                 "sortBy=name").stdout.splitlines()
    assert english[0].split() == ["uuid", "name", "state"]


def test_english_is_the_default_and_the_fallback(zs):
    expected = "details: cpuNum must be at least 1, but 0 found]"
    argv = ("CreateInstanceOffering", "name=x", "cpuNum=0", "memorySize=64M")
    # (--lang itself takes en or zh only; other words are a usage error)
    for options, env in (((), {}), ((), {"ZSTACK_LANG": "fr"}), ((), {"ZSTACK_LANG": "de_DE.UTF-8"}),
                         ((), {"LANG": "ja_JP.UTF-8"}), (("--lang", "en"), {"ZSTACK_LANG": "zh"})):
        err = zs(*options, *argv, expect=3, **env).stderr
        assert "description: One or more API argument is invalid" in err, (options, env)
        assert err.rstrip().endswith(expected), (options, env)
    assert zs("help", "CreateZone", LANG="C").stdout.startswith("CreateZone: ")
    assert "APIs by area:" in zs("help", ZSTACK_LANG="xx", LANG="zh_CN.UTF-8").stdout


def test_the_shells_own_errors_in_chinese(zs, tmp_path):
    """What the shell says itself (line syntax, values, 'did you mean'), wholly in Chinese."""
    said = {argv: zs("--lang", "zh", *argv, expect=1).stderr.strip()
            for argv in (("CreateZon", "name=x"), ("CreateZone", "foo"),
                         ("CreateZone", "name=@"), ("AttachNetworkServiceToL3Network",
                                                    f"l3NetworkUuid={VM1}", "networkServices=["))}
    assert said[("CreateZon", "name=x")] == \
        "未知命令[CreateZon]；您是否想输入 CreateZone 或 UpdateZone 或 DeleteZone？"
    assert said[("CreateZone", "foo")] == '无效参数[foo]，参数必须用 "=" 分隔'
    assert said[("CreateZone", "name=@")] == "name: 无法读取文件[]：@ 后没有文件名"
    assert "无效的映射[[]" in said[("AttachNetworkServiceToL3Network", f"l3NetworkUuid={VM1}",
                                  "networkServices=[")]
    unterminated = subprocess.run([cli_path(), "--lang", "zh"], input='CreateZone name="x\n',
                                  capture_output=True, text=True, timeout=60,
                                  env={**os.environ, "ZSTACK_HOME": str(tmp_path / "home")})
    assert unterminated.stderr.strip() == '第 1 行：引号未闭合：第 1 行开始的 " 没有对应的结束引号'
