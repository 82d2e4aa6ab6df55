"""Whether the agent reaches its host, and what the store says about it (SPEC §12).

A host whose hypervisor stays out of reach longer than GRACE seconds is
marked the way a failed ReconnectHost marks it (Disconnected, its VMs
Unknown: ``services.host.mark_unreachable``). A short outage, such as a
libvirtd restart, marks nothing: the agent's reconcile on reconnection
catches whatever changed meanwhile. Once reached again, a Disconnected host
is Connected again and the caller reconciles its VMs.

``ZSTACK_HOST_AGENT_GRACE`` (seconds) overrides the grace period; the tests
shorten it, an operator may lengthen it for a flaky link.
"""

import os
import time

GRACE_ENV = "ZSTACK_HOST_AGENT_GRACE"
DEFAULT_GRACE = 10.0


def grace(log=None):
    """The grace period in seconds: the environment's, else DEFAULT_GRACE."""
    text = os.environ.get(GRACE_ENV, "").strip()
    if not text:
        return DEFAULT_GRACE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0 or value != value:         # negative or NaN
        if log:
            log(f"ignoring {GRACE_ENV}={text!r} (not a number of seconds); "
                f"using {DEFAULT_GRACE:g} s")
        return DEFAULT_GRACE
    return value


class Reachability:
    """``lost()`` at each failed attempt to reach the host (and when a
    connection closes), ``found()`` when it is reached. Only the agent's main
    thread calls them: they write to the store."""

    def __init__(self, ctx, host_uuid, grace_seconds, log, clock=time.monotonic):
        self.ctx, self.host_uuid = ctx, host_uuid
        self.grace, self.log, self.clock = grace_seconds, log, clock
        self.down_since = None
        self.marked = False
        # At start the store may say Disconnected (a ReconnectHost that failed while
        # the agent ran): the first success must look, as after an outage.
        self.checked = False

    def lost(self):
        now = self.clock()
        if self.down_since is None:
            self.down_since = now
        if self.marked or now - self.down_since < self.grace:
            return False
        from ..services.host import mark_unreachable

        mark_unreachable(self.ctx, self.host_uuid)
        self.marked = True
        self.log(f"the host has been out of reach for {now - self.down_since:.1f} s "
                 f"(grace {self.grace:g} s): Disconnected, its VMs Unknown")
        return True

    def found(self):
        """Returns True when the host was Disconnected and is Connected now:
        its VMs need a reconcile (the caller does one after every reconnection anyway)."""
        if self.checked and self.down_since is None:
            return False                    # the common case: costs no query
        from ..services.host import drain_leftovers, mark_reachable

        self.down_since, self.marked, self.checked = None, False, True
        if mark_reachable(self.ctx, self.host_uuid):
            self.log("the host is reachable again: Connected")
            host = self.ctx.store.get("HostVO", self.host_uuid)
            if host is not None and drain_leftovers(self.ctx, host):
                self.log("removed there what it kept while out of reach")
            return True
        return False
