"""Assertions on backend replies, shared by the test suites."""


def ok(reply):
    assert reply.get("success") is True, reply
    return reply


def err(reply, code, details=None):
    assert reply.get("success") is False, reply
    error = reply["error"]
    assert error["code"] == code, reply
    if details is not None:
        assert error["details"] == details, error["details"]
    return error
