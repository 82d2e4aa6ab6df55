"""Network namespaces and links, through the ``ip`` command.

Every command runs with a timeout; a failure raises FlatNetworkError with the
command and the first line of its error output.
"""

import json
import os
import subprocess

from ...i18n import msg
from .errors import FlatNetworkError

NETNS_DIR = "/run/netns"
TIMEOUT = 30


def run(args, netns=None, timeout=TIMEOUT, check=True):
    """Run a command (inside ``netns`` when given); its stdout."""
    command = (["ip", "netns", "exec", netns] if netns else []) + list(args)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FlatNetworkError(msg("`{command}` timed out after {timeout} s",
                                   command=' '.join(command), timeout=timeout)) from None
    except OSError as e:
        raise FlatNetworkError(msg("`{command}` could not run: {error}",
                                   command=' '.join(command), error=e.strerror)) from None
    if check and result.returncode != 0:
        first = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        raise FlatNetworkError(msg("`{command}` failed: {first}",
                                   command=' '.join(command), first=first))
    return result.stdout


def ip(*args, netns=None, check=True):
    """``ip [-n netns] args``."""
    return run(["ip", *(["-n", netns] if netns else []), *args], check=check)


def exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def ensure(name):
    """Create the namespace unless it exists; bring its loopback up."""
    if not exists(name):
        try:
            ip("netns", "add", name)
        except FlatNetworkError:
            if not exists(name):    # lost a race with another process: fine
                raise
    ip("link", "set", "lo", "up", netns=name)
    return name


def pids(name):
    """Processes running inside the namespace."""
    if not exists(name):
        return []
    return [int(p) for p in run(["ip", "netns", "pids", name]).split()]


def remove(name):
    if exists(name):
        ip("netns", "delete", name)


def list_names(prefix):
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def link(name, netns=None):
    """The link's JSON description (with addresses), or None if it does not exist."""
    if netns and not exists(netns):
        return None
    out = ip("-j", "addr", "show", "dev", name, netns=netns, check=False)
    try:
        links = json.loads(out or "[]")
    except ValueError:
        return None
    return links[0] if links else None
