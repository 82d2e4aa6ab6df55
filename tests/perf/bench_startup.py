"""One-shot start-up: ``zstack-cli QueryZone`` against ``virsh -c test:///default list``.

Target: the median wall time of a one-shot QueryZone (store with a few zones)
is at most 5x that of virsh measured in the same run. Also: the -X importtime
top importers of a one-shot QueryZone, and that prompt_toolkit and Pygments
are not imported in one-shot mode.

    .venv/bin/python tests/perf/bench_startup.py
"""

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _perf  # noqa: E402
from _perf import CLI, PYTHON, env_for, heading, report, run_measured, summary  # noqa: E402

BENCH = "startup"
RUNS = 30
WARMUPS = 3
MAX_RATIO = 5.0
ZONES = 5
VIRSH = ["virsh", "-c", "test:///default", "list"]
MODULE_CHECK = ("import sys; from zstackcli.main import main; main(['QueryZone']); "
                "print('prompt_toolkit' in sys.modules, 'pygments' in sys.modules, file=sys.stderr)")


def _time_all(env, cold_env=None):
    """Interleaved runs (all see the same machine noise): zstack-cli, virsh, a bare
    interpreter, and zstack-cli without a bytecode cache when ``cold_env`` is given."""
    cli = [CLI, "QueryZone"]
    bare = [PYTHON, "-c", "pass"]
    plan = [("cli", cli, env), ("virsh", VIRSH, None), ("python", bare, env)]
    if cold_env is not None:
        plan.append(("cli_nocache", cli, cold_env))
    for _ in range(WARMUPS):
        for _, cmd, e in plan:
            _, code, _, err = run_measured(cmd, env=e)
            assert code == 0, f"{cmd} failed ({code}): {err}"
    times = {key: [] for key, _, _ in plan}
    rss = {key: 0 for key, _, _ in plan}
    for _ in range(RUNS):
        for key, cmd, e in plan:
            t, code, peak, err = run_measured(cmd, env=e)
            assert code == 0, f"{cmd} failed ({code}): {err}"
            times[key].append(t)
            rss[key] = max(rss[key], peak)
    return times, rss


def _no_project_bytecode():
    """True when this environment runs the project's modules without any .pyc (it exports
    PYTHONDONTWRITEBYTECODE and no __pycache__ was left in the tree by someone else)."""
    import importlib.util

    main_py = _perf.ROOT / "zstackcli" / "main.py"
    return bool(os.environ.get("PYTHONDONTWRITEBYTECODE")) and \
        not os.path.exists(importlib.util.cache_from_source(str(main_py)))


def parse_importtime(stderr):
    """-X importtime lines -> [(self_us, cumulative_us, depth, module)]."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, cum_us, name = line[len("import time:"):].split("|")
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            rows.append((int(self_us), int(cum_us), depth, name.strip()))
        except ValueError:
            continue
    return rows


def importtime_report(env, top=12):
    runs = []
    for _ in range(3):
        proc = subprocess.run([PYTHON, "-X", "importtime", CLI, "QueryZone"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(parse_importtime(proc.stderr))
    # The median over the runs, per module (the same modules load each time).
    by_module = {}
    for rows in runs:
        for self_us, cum_us, depth, name in rows:
            by_module.setdefault(name, []).append((self_us, cum_us, depth))
    merged = [(statistics.median(s for s, _, _ in v), statistics.median(c for _, c, _ in v),
               v[0][2], name) for name, v in by_module.items()]
    top_level = sorted((m for m in merged if m[2] == 0), key=lambda m: -m[1])
    total_ms = sum(m[1] for m in top_level) / 1000
    print(f"  -X importtime (median of 3 runs): {len(merged)} modules, "
          f"{total_ms:.1f} ms in top-level imports")
    print(f"  top {top} top-level imports by cumulative time:")
    for self_us, cum_us, _, name in top_level[:top]:
        print(f"    {cum_us / 1000:7.2f} ms cumulative  {self_us / 1000:6.2f} ms self  {name}")
    print(f"  top {top} modules by self time:")
    for self_us, cum_us, depth, name in sorted(merged, key=lambda m: -m[0])[:top]:
        print(f"    {self_us / 1000:7.2f} ms self  {cum_us / 1000:7.2f} ms cumulative  "
              f"{'  ' * depth}{name}")
    heavy = [n for n in ("sqlite_utils", "yaml", "tabulate", "prompt_toolkit", "pygments",
                         "argparse", "json", "sqlite3", "datetime")
             if n in by_module]
    print(f"  of note, imported: {', '.join(heavy) or '-'}")
    return total_ms


def module_check(env):
    proc = subprocess.run([PYTHON, "-c", MODULE_CHECK], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    words = last.split()
    ok = proc.returncode == 0 and words == ["False", "False"]
    return ok, last


def profile_one_shot(env):
    proc = subprocess.run([PYTHON, "-m", "cProfile", "-s", "cumulative", CLI, "QueryZone"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = proc.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:start + 30])


def run():
    heading("start-up: one-shot zstack-cli QueryZone vs virsh -c test:///default list")
    if shutil.which(VIRSH[0]) is None:
        return [report(BENCH, "one-shot QueryZone / virsh", float("nan"), "x",
                       f"<= {MAX_RATIO:g}x virsh", False, detail="virsh is not installed "
                       "(apt-get install libvirt-clients)")]
    records = []
    with _perf.temp_home() as home:
        _perf.make_store(home, zones=ZONES)
        env = env_for(home)
        cold = env_for(home, bytecode_cache=False) if _no_project_bytecode() else None
        times, rss = _time_all(env, cold)
        c, v, py = summary(times["cli"]), summary(times["virsh"]), summary(times["python"])
        ratio = c["median"] / v["median"]
        print(f"  zstack-cli QueryZone ({ZONES} zones): median {c['median'] * 1000:.1f} ms "
              f"(min {c['min'] * 1000:.1f}, p90 {c['p90'] * 1000:.1f}, n={c['n']}), "
              f"peak RSS {_perf.mib(rss['cli'])}  [bytecode cached, as installed]")
        print(f"  virsh -c test:///default list:  median {v['median'] * 1000:.1f} ms "
              f"(min {v['min'] * 1000:.1f}, p90 {v['p90'] * 1000:.1f}, n={v['n']}), "
              f"peak RSS {_perf.mib(rss['virsh'])}")
        print(f"  (context) bare `python -c pass` of the venv: median {py['median'] * 1000:.1f} ms, "
              f"so zstack-cli spends {(c['median'] - py['median']) * 1000:.1f} ms beyond the "
              f"interpreter's own start-up")
        if cold is not None:
            n = summary(times["cli_nocache"])
            print(f"  (context) zstack-cli QueryZone with this environment's "
                  f"PYTHONDONTWRITEBYTECODE=1 (the project's modules compiled on every run): "
                  f"median {n['median'] * 1000:.1f} ms = {n['median'] / v['median']:.2f}x virsh")
        passed = ratio <= MAX_RATIO
        records.append(report(
            BENCH, "one-shot QueryZone / virsh (median wall)", ratio, "x",
            f"<= {MAX_RATIO:g}x virsh", passed, rss["cli"], "zstack-cli process, max of runs",
            detail=f"zstack-cli {c['median'] * 1000:.1f} ms vs virsh {v['median'] * 1000:.1f} ms "
                   f"(medians of {RUNS}, interleaved, after {WARMUPS} warm-ups)"))
        records[-1]["figure_ms"] = round(c["median"] * 1000, 2)

        importtime_report(env)
        if not passed:
            print("  cProfile of one one-shot QueryZone (top 30 by cumulative):")
            print(_perf.indent(profile_one_shot(env)))

        ok, line = module_check(env)
        records.append(report(
            BENCH, "one-shot mode imports neither prompt_toolkit nor pygments", 1.0 if ok else 0.0,
            "(1 = ok)", "prompt_toolkit, pygments not in sys.modules", ok,
            detail=f"wrapper printed: {line!r} (prompt_toolkit in sys.modules, pygments in sys.modules)"))
    return records


def test_startup():
    records = run()
    failed = [r["name"] for r in records if not r["passed"]]
    assert not failed, f"targets missed: {failed}"


if __name__ == "__main__":
    sys.exit(_perf.main(run))
