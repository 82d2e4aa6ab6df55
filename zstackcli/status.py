"""Exit statuses (SPEC §2): fixed, so scripts can rely on them."""

OK = 0
CLI_ERROR = 1       # the line could not be parsed, unknown API or parameter, bad value syntax
API_ERROR = 3       # the backend failed the API (an ErrorCode came back)
INTERRUPTED = 130

MEANINGS = (
    (OK, "every command succeeded"),
    (CLI_ERROR, "a command line could not be understood (syntax, unknown API or parameter, "
                "bad value, unreadable file): nothing reached the backend"),
    (API_ERROR, "the backend failed an API: a ZStack error code was printed on stderr"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
)
