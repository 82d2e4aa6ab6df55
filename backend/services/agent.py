"""A host's agent (SPEC §12): one supervised daemon per host.

    ensure(ctx, host_uuid)   start it unless it runs (idempotent)
    stop(ctx, host_uuid)     stop it (the host is leaving)
    running(ctx, host_uuid)  (supervisor pid, agent pid) or (None, None)

The daemon is ``python -m backend.agent.host_agent --home H --host UUID``
under the flat supervisor (restarted when it dies), with its pid files and
log in H/hosts/<uuid>/agent/. ``ZSTACK_HOST_AGENT=off`` starts none (see enabled).
"""

import os
import sys

from ..network.flat import supervisor
from ..network.flat.errors import FlatNetworkError

MODULE = "backend.agent.host_agent"


def state_dir(ctx, host_uuid):
    return os.path.join(os.path.abspath(ctx.home), "hosts", host_uuid, "agent")


def command(ctx, host_uuid):
    return [sys.executable, "-m", MODULE, "--home", os.path.abspath(ctx.home),
            "--host", host_uuid]


def enabled():
    """``ZSTACK_HOST_AGENT=off`` runs hosts without agents (the test suite's many
    throwaway clouds do, but for the tests of the agent); on by default."""
    return os.environ.get("ZSTACK_HOST_AGENT", "on").lower() not in ("off", "0", "no", "false")


def running(ctx, host_uuid):
    directory = state_dir(ctx, host_uuid)
    if not os.path.isdir(directory):
        return None, None
    return supervisor.running(directory)


def ensure(ctx, host_uuid):
    """The host's agent runs (started if not). Returns the supervisor's pid or None."""
    if not enabled():
        return None
    pid, _child = running(ctx, host_uuid)
    if pid is not None and supervisor.command_of(pid) == command(ctx, host_uuid):
        return pid
    directory = state_dir(ctx, host_uuid)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if pid is not None:                 # a supervisor of another command: replace it
        supervisor.stop(directory)
    # The package root, so ``-m backend...`` imports this very tree.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        return supervisor.start(directory, command(ctx, host_uuid), root)
    except FlatNetworkError:            # the host works without it; ReconnectHost retries
        return None


def stop(ctx, host_uuid):
    directory = state_dir(ctx, host_uuid)
    if os.path.isdir(directory):
        supervisor.stop(directory, orphan_command=command(ctx, host_uuid)[1:])
