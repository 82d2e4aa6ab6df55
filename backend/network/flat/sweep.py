"""What a host's Flat servers leave running when the store they belong to goes
without them: a ``$ZSTACK_HOME`` deleted before its zone or hosts were. Their
records, state directories and pid files are gone then, so they are found by
what only they have: that home's path in their command lines (dnsmasq's
--conf-file, the metadata server's --home, the supervisor's --pidfile) inside
the host's namespaces (names.py). The host agent, which notices its home is
gone, calls ``sweep_host`` before it retires.

Other stores may run on this machine, even with the same host uuids (simulated
hosts' uuids are the user's to choose): a namespace is removed only when every
process in it is this home's, a simulated host's namespace only when no DHCP
namespace of that host is left, and each kill first asks the caller whether
the home is still gone (a new store made at the same path keeps what it starts).
"""

import os

from . import names, netns, proc


def _naming(marker):
    """Pids of this machine whose command line ``marker`` accepts."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and marker(proc.cmdline(int(entry))):
            found.append(int(entry))
    return found


def sweep_host(home, host_uuid, simulated, gone):
    """Stop the host's Flat servers of the deleted ``home`` and remove the
    namespaces left with nobody else's processes in them; ``gone()`` says the
    home is still the deleted one (checked before each kill)."""
    home = os.path.abspath(home)

    def of_home(argv):
        return any(arg == home or (home + os.sep) in arg for arg in argv)

    supervisor = f"--pidfile={os.path.join(home, 'hosts', host_uuid, 'flat')}{os.sep}"

    def supervised(argv):
        return any(arg.startswith(supervisor) for arg in argv)

    # Supervisors first (they run outside the namespaces and would start their
    # metadata servers again), then what is inside.
    for pid in _naming(supervised):
        if gone():
            proc.stop(pid, supervised)
    prefix = names.dhcp_namespace_prefix(host_uuid)
    for ns in netns.list_names(prefix):
        inside = netns.pids(ns)
        if not inside or not all(of_home(proc.cmdline(pid)) for pid in inside):
            continue                    # another store's (or being made): not ours to touch
        for pid in inside:
            if gone():
                proc.stop(pid, of_home)
        if gone() and not netns.pids(ns):
            netns.remove(ns)
    host_ns = names.host_namespace(host_uuid)
    if simulated and gone() and netns.exists(host_ns) and not netns.list_names(prefix):
        netns.remove(host_ns)
