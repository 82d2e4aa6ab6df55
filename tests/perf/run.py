"""Run the benchmarks and print a summary table; exit 1 if any target is missed.

    .venv/bin/python tests/perf/run.py              # all of them
    .venv/bin/python tests/perf/run.py query batch  # some of them

Each benchmark runs in its own process (so each one's peak RSS is its own) and hands its
results back through a temporary file; nothing is left in the repository.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _perf import PYTHON, RESULTS_ENV, fmt, mib  # noqa: E402

BENCHES = {"startup": "bench_startup.py", "batch": "bench_batch.py", "query": "bench_query.py",
           "vms": "bench_vms.py", "flat": "bench_flat.py", "migrate": "bench_migrate.py",
           "agent": "bench_agent.py", "remote": "bench_remote.py"}


def _table(records):
    rows = [("bench", "measure", "figure", "target", "result", "peak RSS")]
    for r in records:
        figure = f"{fmt(r['figure'])} {r['unit']}"
        if "figure_ms" in r:
            figure += f" ({r['figure_ms']:.1f} ms)"
        rss = mib(r["rss_kib"]) if r.get("rss_kib") else "-"
        if r.get("rss_kib") and r.get("rss_of"):
            rss += f" ({r['rss_of']})"
        rows.append((r["bench"], r["name"], figure, r["target"],
                     "PASS" if r["passed"] else "FAIL", rss))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv):
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    fd, results = tempfile.mkstemp(prefix="zstack-perf-", suffix=".jsonl")
    os.close(fd)
    crashed = []
    try:
        env = dict(os.environ, **{RESULTS_ENV: results})
        for name in names:
            code = subprocess.call([PYTHON, str(HERE / BENCHES[name])], env=env)
            if code not in (0, 1):
                crashed.append(f"{name} (exit {code})")
        with open(results) as f:
            records = [json.loads(line) for line in f if line.strip()]
    finally:
        os.remove(results)

    print("\n=== summary " + "=" * 70)
    print(_table(records))
    failed = [r for r in records if not r["passed"]]
    print(f"\n{len(records) - len(failed)} passed, {len(failed)} failed")
    if crashed:
        print(f"benchmark(s) that crashed before reporting everything: {', '.join(crashed)}")
    return 1 if failed or crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
