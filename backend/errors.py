"""ZStack error codes and the exception services raise to fail an API.

An ApiError becomes the reply's ``error`` object at the API door; nothing else
in the backend builds error replies.
"""

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
        self.details = details
        self.cause = cause

    def to_reply(self):
        error = {
            "code": self.code,
            "description": DESCRIPTIONS.get(self.code, ""),
            "details": self.details,
        }
        if self.cause is not None:
            error["cause"] = self.cause.to_reply()
        return error


def argerr(details):
    return ApiError(INVALID_ARGUMENT, details)


def operr(details, cause=None):
    return ApiError(OPERATION_FAILED, details, cause)


def not_found(field, uuid, resource_type):
    return ApiError(
        NOT_FOUND,
        f"invalid field[{field}], resource[uuid:{uuid}, type:{resource_type}] not found",
    )
