"""Shared helpers of the on-demand benchmarks: stores, timing, peak RSS, reporting.

Nothing here is collected by the default test run (setup.cfg's testpaths
leave tests/perf out). Every store is built under a temporary directory and
removed afterwards; nothing is written into the repository.
"""

import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
CLI = str(VENV_BIN / "zstack-cli") if (VENV_BIN / "zstack-cli").exists() else shutil.which("zstack-cli")

# run.py sets this to a temporary file; each result is appended to it as one JSON line.
RESULTS_ENV = "ZSTACK_PERF_RESULTS"


# -- stores --------------------------------------------------------------------------------------

@contextmanager
def temp_home(prefix="zstack-perf-"):
    """A temporary home under $BENCH_DIR (default: the system's temporary directory)."""
    path = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("BENCH_DIR") or None)
    try:
        yield os.path.join(path, "home")
    finally:
        shutil.rmtree(path, ignore_errors=True)


def env_for(home, bytecode_cache=True):
    """The environment of a measured command: ``ZSTACK_HOME=home`` and, by default, a
    bytecode cache as an installed user has one.

    This workplace exports PYTHONDONTWRITEBYTECODE=1, so no .pyc of the project's own
    (editable) modules is ever written and every start-up compiles them again. With
    ``bytecode_cache`` the .pyc files go to a private PYTHONPYCACHEPREFIX next to the
    temporary home (so nothing is written into the source tree), and the warm-ups fill it.
    """
    env = dict(os.environ)
    env["ZSTACK_HOME"] = home
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(os.path.dirname(home), "pycache")
    return env


def make_store(home, zones=0):
    """A store created by the backend itself (schema, configs, seed), with
    ``zones`` zones made through the API. Returns their uuids."""
    from backend.api import Backend

    b = Backend(home)
    try:
        uuids = []
        for i in range(zones):
            reply = b.call("CreateZone", {"name": f"zone-{i}", "description": "perf"})
            assert reply["success"], reply
            uuids.append(reply["inventory"]["uuid"])
        if not zones:
            assert b.call("QueryZone", {})["success"]    # creates the schema
        return uuids
    finally:
        b.close()


def _stamps(n, start=datetime(2024, 1, 1, tzinfo=timezone.utc)):
    """``n`` increasing timestamps in the backend's format (ISO 8601, ms, UTC)."""
    step = timedelta(milliseconds=1)
    t = start
    for _ in range(n):
        yield t.isoformat(timespec="milliseconds")
        t += step


# No ANALYZE after bulk loads: stores made by the product never get one, so the query
# planner must be measured without sqlite_stat1, as users will have it.

def bulk_zones(home, n):
    """Insert ``n`` zones straight into ZoneVO (one transaction). Returns their uuids."""
    uuids = [os.urandom(16).hex() for _ in range(n)]
    conn = sqlite3.connect(os.path.join(home, "zstack.db"), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            'INSERT INTO ZoneVO (uuid, name, description, state, type, createDate, lastOpDate)'
            ' VALUES (?, ?, ?, ?, ?, ?, ?)',
            ((u, f"zone-{i:06d}", None, "Enabled", "zstack", s, s)
             for i, (u, s) in enumerate(zip(uuids, _stamps(n)))))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return uuids


def bulk_user_tags(home, zone_uuids, n):
    """Insert ``n`` user tags ``t<N>`` spread round-robin over ``zone_uuids``."""
    conn = sqlite3.connect(os.path.join(home, "zstack.db"), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            'INSERT INTO UserTagVO (uuid, resourceUuid, resourceType, tag, type, inherent,'
            ' createDate, lastOpDate) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            ((os.urandom(16).hex(), zone_uuids[i % len(zone_uuids)], "ZoneVO", f"t{i}", "User",
              0, s, s) for i, s in enumerate(_stamps(n))))
        conn.execute("COMMIT")
    finally:
        conn.close()


# -- measuring -----------------------------------------------------------------------------------

# A small launcher (python -I -S, about 8.5 MiB) posix_spawn()s the measured command and
# reports the child's wall time and its own ru_maxrss from wait4() (what RUSAGE_CHILDREN
# accumulates). Spawning straight from this (larger) process would not do: Linux carries the
# spawner's high-water RSS across the vfork+exec into the child's ru_maxrss, so every child
# would report at least the benchmark process's own RSS. The launcher's floor is its own size.
_LAUNCHER = r"""
import os, sys, time
fd, cmd = int(sys.argv[1]), sys.argv[2:]
t0 = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - t0
os.write(fd, f"{elapsed!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}".encode())
"""


def run_measured(cmd, env=None, stdin=None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE):
    """Run ``cmd`` to completion: (wall seconds, exit code, peak RSS KiB of that process, stderr).

    Wall time is measured in the launcher around fork/exec/wait (the launcher's own start-up
    is not counted); the RSS is the child's ru_maxrss (RUSAGE_CHILDREN of the launcher).
    """
    r, w = os.pipe()
    try:
        p = subprocess.Popen([sys.executable, "-I", "-S", "-c", _LAUNCHER, str(w), *cmd],
                             env=env, stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=(w,))
    finally:
        os.close(w)
    try:
        err = p.stderr.read() if stderr == subprocess.PIPE else b""
        p.wait()
        with os.fdopen(r, "rb") as f:
            fields = f.read().decode().split()
    finally:
        if p.stderr:
            p.stderr.close()
    if len(fields) != 3:
        raise RuntimeError(f"launcher failed for {cmd}: {err.decode('utf-8', 'replace')}")
    return float(fields[0]), int(fields[2]), int(fields[1]), err.decode("utf-8", "replace")


def self_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def time_calls(fn, runs=20, warmups=2):
    """Median-ready list of ``runs`` wall times (seconds) of ``fn()``, after warm-ups."""
    for _ in range(warmups):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(samples):
    s = sorted(samples)
    return {"median": statistics.median(s), "min": s[0], "max": s[-1],
            "p90": s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))], "n": len(s)}


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


# -- reporting -----------------------------------------------------------------------------------

def report(bench, name, figure, unit, target, passed, rss_kib=None, rss_of="", detail=""):
    """Print one result line and hand it to run.py (if it is listening)."""
    verdict = "PASS" if passed else "FAIL"
    rss = f"  peak RSS {mib(rss_kib)} ({rss_of})" if rss_kib is not None else ""
    print(f"[{verdict}] {name}: {fmt(figure)} {unit}  (target {target}){rss}", flush=True)
    if detail:
        print(f"        {detail}", flush=True)
    record = {"bench": bench, "name": name, "figure": round(figure, 3), "unit": unit,
              "target": target, "passed": bool(passed), "rss_kib": rss_kib, "rss_of": rss_of}
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
    return record


def fmt(figure):
    """Enough digits for sub-millisecond figures, not too many for big ones."""
    if figure != figure:     # NaN
        return "n/a"
    return f"{figure:,.3f}" if abs(figure) < 10 else f"{figure:,.1f}"


def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)     # idle + iowait
    return sum(fields), idle


def machine_busy(seconds=0.5):
    """Fraction of all CPUs busy with other work over ``seconds`` (this process sleeps)."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except OSError:
        return None
    total = total1 - total0
    return (1 - (idle1 - idle0) / total) if total else None


def with_system_libvirtd(label, measure):
    """Run ``measure()`` with the machine's libvirtd up, started as the integration
    fixture starts it and stopped afterwards only if started here; one ``[SKIP]``
    line saying why when it can not be (not root, not installed, does not start)."""
    from tests.integration import system_libvirtd as daemon

    why = daemon.unavailable()
    if why:
        print(f"[SKIP] {label}: {why}", flush=True)
        return
    kvm = daemon.prepare()
    started = []
    try:
        try:
            daemon.start_daemons(started)
        except (daemon.DaemonError, subprocess.CalledProcessError) as e:
            print(f"[SKIP] {label}: the libvirtd does not start: {e}", flush=True)
            return
        measure()
    finally:
        from backend.hypervisor.driver import close_all

        close_all()
        daemon.stop_daemons(started)
        daemon.restore_kvm(kvm)


def heading(text):
    print(f"\n=== {text} " + "=" * max(0, 70 - len(text)), flush=True)
    busy = machine_busy()
    cores = os.cpu_count() or 1
    if busy is None:
        return
    line = f"  other work on the machine before starting: {busy * 100:.0f}% of {cores} cores busy"
    if busy > 0.2:
        line += "\n  WARNING: other processes are using the CPUs; times will be noisy and inflated"
    print(line, flush=True)


def cprofile_text(fn, top=20, sort="cumulative"):
    """Profile one ``fn()`` in-process; the top functions as text."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def indent(text, prefix="        "):
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def main(run):
    """A benchmark's ``__main__``: 0 all targets met, 1 a target missed, 2 it crashed."""
    import traceback

    try:
        records = run()
    except Exception:
        traceback.print_exc()
        return 2
    return 0 if all(r["passed"] for r in records) else 1
