"""A small cloud on the machine's libvirtd with its host agent on (SPEC §12), for the
agent's real-host tests and tests/perf/bench_agent.py.

realcloud.py's cloud, built through the installed zstack-cli, with a template
whose boot sector powers the guest off at a key press and an ISO whose boot
code resets it at one (guest.py), Flat DHCP on the L3 if asked, and the agent
on (with the grace period ``grace``, if given); ``build()`` returns once the
agent listens to domain events. What is added here only looks: at the agent,
its log, the store (read-only) and the host's DHCP entries. Everything made is
removed by ``close()``, even after a failure (see realcloud.py): the host
(which stops its agent and its DHCP server), the domains by the uuids chosen
here, leftover DHCP namespaces of this host, the dummy interface, the
product's bridge and the directory.
"""

import os
import sqlite3
import time

from tests.integration.realcloud import RealCloud


class AgentCloud(RealCloud):
    def __init__(self, cli, net="10.253.0", grace=None, dhcp=False):
        env = {}
        if grace is not None:
            from backend.agent.reachability import GRACE_ENV

            env[GRACE_ENV] = str(grace)
        super().__init__(cli, net=net, tag="ag", image="poweroff", iso="reset",
                         flat=("DHCP",) if dhcp else (), agent=True, env=env)
        self.dhcp = dhcp
        self._db = None

    def build(self, timeout=15):
        super().build()
        deadline = time.monotonic() + timeout
        while "listening to domain events" not in self.agent_log():
            assert time.monotonic() < deadline, \
                f"the host agent did not connect:\n{self.agent_log()}"
            time.sleep(0.1)
        return self

    # ------------------------------------------------------------ looking
    def agent(self):
        """(supervisor pid, agent pid) of the host's agent, or (None, None)."""
        from backend.network.flat import supervisor

        directory = os.path.join(self.home, "hosts", self.ids["host"], "agent")
        return supervisor.running(directory) if os.path.isdir(directory) else (None, None)

    def agent_log(self):
        path = os.path.join(self.home, "hosts", self.ids["host"], "agent", "supervisor.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def db(self):
        """One read-only connection to the store, kept (WAL: it sees each new commit)."""
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.home}/zstack.db?mode=ro", uri=True,
                                       timeout=5, isolation_level=None)
        return self._db

    def db_state(self, vm):
        row = self.db().execute("SELECT state FROM VmInstanceVO WHERE uuid = ?",
                                (vm,)).fetchone()
        return row[0] if row else None

    def host_status(self):
        return self.db().execute("SELECT status FROM HostVO WHERE uuid = ?",
                                 (self.ids["host"],)).fetchone()[0]

    def wait_db(self, vm, state, since=None, timeout=2.0, pause=0.002):
        """Seconds from ``since`` (default: now) until the store says ``state``."""
        since = time.monotonic() if since is None else since
        while True:
            now = time.monotonic()
            if self.db_state(vm) == state:
                return now - since
            if now - since > timeout:
                raise AssertionError(f"VM {vm} is {self.db_state(vm)}, not {state}, "
                                     f"{timeout} s after the change")
            time.sleep(pause)

    def cli_state(self, vm):
        return self.zs("QueryVmInstance", f"uuid={vm}")["inventories"][0]["state"]

    def shows(self, vm, state, since, limit=2.0):
        """QueryVmInstance (the command) shows ``state`` by ``limit`` s after ``since``:
        a query that started in time and answered ``state`` counts."""
        while True:
            asked = time.monotonic()
            got = self.cli_state(vm)
            if got == state:
                return asked - since
            if asked - since > limit:
                raise AssertionError(f"QueryVmInstance says {got}, not {state}, "
                                     f"{asked - since:.2f} s after the change")
            time.sleep(0.05)

    def dhcp_entries(self, mac):
        """The DHCP host files of this host's server naming ``mac`` (<mac without
        colons>.<hash>, see backend/network/flat/dnsmasq.py)."""
        hosts = os.path.join(self.home, "hosts", self.ids["host"], "flat", self.ids["l3"],
                             "hosts")
        prefix = mac.replace(":", "").lower() + "."
        try:
            return [n for n in os.listdir(hosts) if n.lower().startswith(prefix)]
        except FileNotFoundError:
            return []

    # ------------------------------------------------------------ removing
    def close(self):
        if self._db is not None:
            self._db.close()
        super().close()
