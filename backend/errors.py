"""ZStack error codes and the exception services raise to fail an API.

An ApiError becomes the reply's ``error`` object at the API door; nothing else
in the backend builds error replies. Its details are a message
(backend.i18n.msg) rendered, with the code's description, in the language of
the moment when the reply is made.
"""

from .i18n import msg, render, resolve

# code -> description, as ZStack words them (SPEC §4).
DESCRIPTIONS = {
    "SYS.1000": "An internal error happened in system",
    "SYS.1001": "A timeout happened",
    "SYS.1003": "The resource can not be found",
    "SYS.1006": "An operation failed",
    "SYS.1007": "One or more API argument is invalid",
    "VM.1010": "The VM is not in a state that allows the operation",
    "ID.1000": "Authentication failed",
    "ID.1001": "The session is invalid or expired",
}

DESCRIPTIONS_ZH = {
    "SYS.1000": "系统发生内部错误",
    "SYS.1001": "操作超时",
    "SYS.1003": "找不到该资源",
    "SYS.1006": "操作失败",
    "SYS.1007": "一个或多个 API 参数无效",
    "VM.1010": "云主机当前的状态不允许该操作",
    "ID.1000": "认证失败",
    "ID.1001": "会话无效或已过期",
}

INTERNAL = "SYS.1000"
TIMEOUT = "SYS.1001"
NOT_FOUND = "SYS.1003"
OPERATION_FAILED = "SYS.1006"
INVALID_ARGUMENT = "SYS.1007"
VM_STATE = "VM.1010"
AUTH_FAILED = "ID.1000"
INVALID_SESSION = "ID.1001"


class ApiError(Exception):
    """Fails the current API call with a ZStack error code."""

    def __init__(self, code, details, cause=None):
        super().__init__(details)
        self.code = code
        self.message = details      # a Message, or a plain text from a library
        self.cause = cause

    @property
    def details(self):
        return render(self.message)

    def to_reply(self, lang=None):
        lang = lang or resolve()
        descriptions = DESCRIPTIONS_ZH if lang == "zh" else DESCRIPTIONS
        error = {
            "code": self.code,
            "description": descriptions.get(self.code, ""),
            "details": render(self.message, lang),
        }
        if self.cause is not None:
            error["cause"] = self.cause.to_reply(lang)
        return error


def argerr(details):
    return ApiError(INVALID_ARGUMENT, details)


def operr(details, cause=None):
    return ApiError(OPERATION_FAILED, details, cause)


def not_found(field, uuid, resource_type):
    return ApiError(
        NOT_FOUND,
        msg("invalid field[{field}], resource[uuid:{uuid}, type:{type}] not found",
            field=field, uuid=uuid, type=resource_type),
    )
