"""What a host's Flat servers leave running when the store they belong to goes
without them: a ``$ZSTACK_HOME`` deleted before its zone or hosts were. Their
records, state directories and pid files are gone then, so they are found by
what only they have: the host's state path under that home in their command
lines (dnsmasq's --conf-file, the metadata server's --home, the supervisor's
--pidfile) and the host's namespace names (names.py). The host agent, which
notices the home is gone, calls ``sweep_host`` before it retires.
"""

import os

from . import names, netns, proc


def _naming(text):
    """Pids of this machine whose command line has ``text`` in an argument."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and \
                any(text in arg for arg in proc.cmdline(int(entry))):
            found.append(int(entry))
    return found


def sweep_host(home, host_uuid):
    """Stop the host's Flat servers of ``home`` and remove its namespaces."""
    home = os.path.abspath(home)
    flat_dir = os.path.join(home, "hosts", host_uuid, "flat") + os.sep
    # Supervisors first (they run outside the namespaces and would start their
    # metadata servers again), then whatever of ours is inside.
    for pid in _naming(f"--pidfile={flat_dir}"):
        proc.stop(pid, f"--pidfile={flat_dir}")
    for ns in netns.list_names(names.dhcp_namespace_prefix(host_uuid)):
        for pid in netns.pids(ns):
            proc.stop(pid, home)
        netns.remove(ns)
    simulated = names.host_namespace(host_uuid)
    if netns.exists(simulated):
        netns.remove(simulated)
