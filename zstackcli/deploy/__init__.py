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
    try:
        lock = _deploy_lock(client.home)
    except OSError as e:
        write_error(say("no_lock", path=os.path.join(client.home, LOCK), error=e.strerror))
        return status.CLI_ERROR
    with lock:
        return _plan_and_apply(entries, client, source, output, colour)


LOCK = "deploy.lock"


def _deploy_lock(home):
    import fcntl

    from backend.storage.files import file_lock

    os.makedirs(home, mode=0o700, exist_ok=True)
    path = os.path.join(home, LOCK)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = False
    except BlockingIOError:
        busy = True
    finally:
        os.close(fd)
    if busy:
        write_error(say("waiting", home=home))
    return file_lock(path)


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
