"""A bug of ours: one line for the user, the traceback in $ZSTACK_HOME/logs/cli.log."""

import os
import traceback

from .i18n import t
from .output import write_error


def report(error, colour=None):
    try:
        from backend.api import default_home

        logs = os.path.join(default_home(), "logs")
        os.makedirs(logs, mode=0o700, exist_ok=True)
        with open(os.path.join(logs, "cli.log"), "a") as f:
            f.write(traceback.format_exc())
    except OSError:
        pass
    write_error(t("internal_error", error=f"{type(error).__name__}: {error}"), colour=colour)
