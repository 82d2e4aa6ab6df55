"""How the language is chosen and how messages and error replies are rendered
in it (SPEC §4, §13)."""

import pytest

from backend.errors import ApiError, OPERATION_FAILED, VM_STATE, argerr, not_found, operr
from backend.i18n import msg, render, resolve


@pytest.mark.parametrize("explicit, environ, expected", [
    (None, {}, "en"),
    ("zh", {"ZSTACK_LANG": "en"}, "zh"),                    # --lang first
    (None, {"ZSTACK_LANG": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
    (None, {"ZSTACK_LANG": "fr", "LANG": "zh_CN.UTF-8"}, "en"),   # unknown: English
    (None, {"LC_ALL": "zh_TW.UTF-8"}, "zh"),
    (None, {"LC_MESSAGES": "C", "LANG": "zh_CN.UTF-8"}, "en"),
    (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
    (None, {"LANG": ""}, "en"),
])
def test_resolve(explicit, environ, expected):
    assert resolve(explicit, environ) == expected


def test_the_shell_shares_the_rule_and_hands_it_to_the_backend(monkeypatch):
    from zstackcli import i18n

    monkeypatch.delenv("ZSTACK_LANG", raising=False)
    monkeypatch.setenv("LANG", "C")
    monkeypatch.setattr(i18n, "_lang", None)
    assert i18n.choose("zh") == "zh" and resolve() == "zh"
    assert i18n.t("bye") == "再见"


def test_a_message_renders_in_either_language_with_nested_messages():
    m = msg("failed to {verb} the VM[uuid:{uuid}]: {error}", verb=msg("stop"), uuid="u1",
            error=OSError("disk full"))
    assert m.render("en") == "failed to stop the VM[uuid:u1]: disk full"
    assert m.render("zh") == "停止云主机[uuid:u1]失败：disk full"
    assert render("plain text", "zh") == "plain text"


def test_an_unknown_template_falls_back_to_english():
    assert msg("no such template {x}", x=1).render("zh") == "no such template 1"


def test_error_replies_in_both_languages(monkeypatch):
    cause = ApiError(VM_STATE, msg("the VM[uuid:{uuid}] is {state}: {details}", uuid="u",
                                   state="Running", details="x"))
    error = operr(msg("any zone"), cause)
    assert error.to_reply("en") == {
        "code": OPERATION_FAILED, "description": "An operation failed", "details": "any zone",
        "cause": {"code": VM_STATE, "details": "the VM[uuid:u] is Running: x",
                  "description": "The VM is not in a state that allows the operation"}}
    zh = error.to_reply("zh")
    assert (zh["description"], zh["details"]) == ("操作失败", "任意区域")
    assert zh["cause"]["details"] == "云主机[uuid:u]处于 Running 状态：x"
    monkeypatch.setenv("ZSTACK_LANG", "zh")
    assert not_found("imageUuid", "u", "ImageVO").to_reply()["details"] == \
        "字段[imageUuid]无效，找不到资源[uuid:u, type:ImageVO]"
    assert argerr(msg("a number")).details == "数字" == str(argerr(msg("a number")))


def test_the_backend_answers_in_the_language_of_the_environment(backend, monkeypatch):
    monkeypatch.setenv("ZSTACK_LANG", "zh")
    error = backend.call("CreateZone", {})["error"]
    assert error == {"code": "SYS.1007", "description": "一个或多个 API 参数无效",
                     "details": "消息[APICreateZoneMsg]的字段[name]为必填项，不能为空"}
    monkeypatch.setenv("ZSTACK_LANG", "en")
    assert backend.call("NoSuchApi", {})["error"]["details"] == "unknown API[NoSuchApi]"
