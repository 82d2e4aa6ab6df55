"""A remote host (qemu+ssh://): what its operations cost over ssh.

The remote host is the integration tier's stand-in (tests/integration/remotehost.py:
sshd and a private libvirtd in a mount namespace of their own, reached as
root@127.0.0.2 over ssh), next to this machine's libvirtd as the local host, in
one cloud built through zstack-cli (tests/integration/realcloud.py). Measured:

1. One agent call (``capacity``, the smallest operation) through the product's
   RemoteHostOps: in the process's agent session (the default), and for
   comparison as a command of its own (what a call reading data from stdin
   costs) on the shared ssh connection, and with ZSTACK_SSH_PERSIST=0 (a new
   ssh login each time). 20 calls each, median. Target: 50 ms in the session.
2. ``VMS`` CreateVmInstance strategy=CreateStopped in one batch (``zstack-cli -f``):
   root volume from the image cache, domain defined; none started, so this is the
   storage and libvirt paths alone. On the remote host and on the local host; per VM.
   Target: the remote host at most 3x the local host's time per VM.

Peak RSS: the batch process's. The libvirtd is started if needed as the
integration fixture starts it, and stopped afterwards only if started here.
Everything made is removed afterwards. About half a minute.

    .venv/bin/python tests/perf/bench_remote.py
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _perf  # noqa: E402
from _perf import CLI, heading, report, run_measured  # noqa: E402

BENCH = "remote"
CALLS = 20
VMS = 40
CALL_TARGET_MS = 50
RATIO_TARGET = 3.0


def _agent_calls(uri, mode):
    """Median seconds of one agent call: in the process's session ("session"), as a
    command of its own on the shared ssh connection ("command"), or as a command
    with a new ssh login ("login")."""
    from backend.hostops import remote
    from backend.storage.ssh import PERSIST_ENV, SshTarget

    before = os.environ.get(PERSIST_ENV)
    os.environ[PERSIST_ENV] = "0" if mode == "login" else "60"
    in_session = remote.RemoteHostOps._in_session
    if mode != "session":
        remote.RemoteHostOps._in_session = lambda self, op, args: None
    try:
        ops = remote.RemoteHostOps(SshTarget.from_uri(uri))
        ops.capacity("/")                      # the agent copied, the connection made
        samples = []
        for _ in range(CALLS):
            t0 = time.perf_counter()
            ops.capacity("/")
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)
    finally:
        remote.RemoteHostOps._in_session = in_session
        if before is None:
            os.environ.pop(PERSIST_ENV)
        else:
            os.environ[PERSIST_ENV] = before


def _batch(cloud, host_key):
    ids = cloud.ids
    lines = [f"CreateVmInstance name=bench-{n} instanceOfferingUuid={ids['offering']} "
             f"imageUuid={ids['image']} l3NetworkUuids={ids['l3']} "
             f"hostUuid={ids[host_key]} strategy=CreateStopped" for n in range(VMS)]
    fd, path = tempfile.mkstemp(prefix="bench-remote-", suffix=".zs", dir=cloud.work)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    seconds, code, rss, err = run_measured([CLI, "-f", path], env=cloud.zs.env)
    if code != 0:
        raise RuntimeError(f"the batch on {host_key} failed: {err.strip()[-500:]}")
    return seconds, rss


def _measure(records):
    from tests.integration.realcloud import RealCloud
    from tests.integration.remotehost import RemoteHost

    with RealCloud(CLI, net="10.248.0", tag="bench") as cloud, \
            RemoteHost(cloud.ps, address="127.0.0.2") as remote:
        cloud.build(second_uri=remote.uri)
        cloud.zs("AddIpRange", f"l3NetworkUuid={cloud.ids['l3']}", "name=bench-more",
                 "startIp=10.248.0.50", "endIp=10.248.0.250", "netmask=255.255.255.0",
                 "gateway=10.248.0.1")           # room for both batches
        session = _agent_calls(remote.uri, "session")
        command = _agent_calls(remote.uri, "command")
        login = _agent_calls(remote.uri, "login")
        records.append(report(BENCH, "agent call in the session, median", session * 1000,
                              "ms", f"<= {CALL_TARGET_MS} ms", session * 1000 <= CALL_TARGET_MS,
                              detail=f"as a command of its own: {command * 1000:.1f} ms on the "
                                     f"shared ssh connection, {login * 1000:.0f} ms with a new "
                                     f"ssh login"))
        local_s, local_rss = _batch(cloud, "host")
        remote_s, remote_rss = _batch(cloud, "host2")
        ratio = remote_s / local_s
        records.append(report(
            BENCH, f"{VMS} CreateVmInstance CreateStopped on the remote host, per VM",
            remote_s / VMS * 1000, "ms", f"<= {RATIO_TARGET:g}x the local host's",
            ratio <= RATIO_TARGET, rss_kib=remote_rss, rss_of="batch process",
            detail=f"local host: {local_s / VMS * 1000:.1f} ms per VM "
                   f"(peak RSS {_perf.mib(local_rss)}); ratio {ratio:.2f}x"))


def run():
    heading("a remote host over ssh: agent calls and VM creation")
    records = []
    if not CLI:
        raise RuntimeError("zstack-cli is not installed")
    if not os.path.exists("/usr/sbin/sshd"):
        print("[SKIP] remote host: sshd is not installed (bootstrap.sh installs it)", flush=True)
        return records
    _perf.with_system_libvirtd("remote host", lambda: _measure(records))
    return records


def test_remote():
    records = run()
    failed = [r["name"] for r in records if not r["passed"]]
    assert not failed, f"targets missed: {failed}"


if __name__ == "__main__":
    sys.exit(_perf.main(run))
