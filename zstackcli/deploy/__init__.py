"""``zstack-cli -d env.yaml``: deploy a whole environment described in YAML, idempotently.

Four stages, and nothing is created unless the first three pass:

1. ``loader``: the file (or stdin) to data; bad YAML names its line and column;
2. ``validate``: every entry against the catalogue's API parameters (unknown
   keys, missing required ones, types, choices, duplicate names), each
   problem one line naming its YAML path;
3. ``plan``: Query* APIs only: match each entry by name within its parent,
   resolve names the file refers to, find what differs and can not be updated;
4. ``apply``: create / attach / update in dependency order, a progress line per
   step on stderr, a summary on stdout; an API failure names the YAML path and
   stops (exit 3), saying what was created before it.

The file's shape is ``schema``'s; ``examples/simulated-two-hosts.yaml`` shows it.
"""

import os
import sys

from .. import status
from ..output import format_api_error, write_error
from .apply import Deployer, summarise
from .loader import DeployError, load, read
from .plan import ApiFailure, make_plan
from .text import say
from .validate import validate


def run(client, arg, output="json", colour=False):
    """Deploy the file ``arg`` ('-' for stdin) through ``client``; the exit status."""
    try:
        text, source, base_dir = read(arg)
        data = load(text, source)
    except DeployError as e:
        for line in e.lines:
            write_error(line)
        return status.CLI_ERROR
    entries, problems = validate(data, source, base_dir, client.home)
    if problems:
        return _refuse(problems, source)
    # One deploy at a time on a store: two of one file at once would each plan
    # before the other creates, and make everything twice. The second waits,
    # then plans against what the first made.
    from backend.storage import StorageError
    from backend.storage.files import file_lock

    lock = file_lock(os.path.join(client.home, LOCK),
                     on_wait=lambda: write_error(say("waiting", home=client.home)))
    try:
        os.makedirs(client.home, mode=0o700, exist_ok=True)
        lock.__enter__()
    except (OSError, StorageError) as e:
        write_error(say("no_lock", path=lock.path, error=getattr(e, "strerror", None) or e))
        return status.CLI_ERROR
    try:
        return _plan_and_apply(entries, client, source, output, colour)
    finally:
        lock.__exit__(None, None, None)


LOCK = "deploy.lock"


def _plan_and_apply(entries, client, source, output, colour):
    try:
        steps, problems = make_plan(entries, client, source)
    except ApiFailure as f:
        write_error(f"{source}: {f.path}: {format_api_error(f.api, f.error)}")
        write_error(say("nothing_created", source=source))
        return status.API_ERROR
    if problems:
        return _refuse(problems, source)
    deployer = Deployer(client, source)
    code, error = deployer.run(steps)
    summarise(deployer.summary, source, output, colour=colour and sys.stdout.isatty(),
              error=error)
    return code


MAX_SHOWN = 50


def _refuse(problems, source):
    for line in problems[:MAX_SHOWN]:
        write_error(line)
    if len(problems) > MAX_SHOWN:
        write_error(say("more_problems", count=len(problems) - MAX_SHOWN))
    write_error(say("nothing_created", source=source))
    return status.CLI_ERROR
