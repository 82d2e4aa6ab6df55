"""Batch throughput: ``zstack-cli -f FILE > /dev/null`` with 5,000 CreateUserTag lines,
against a plain sqlite-utils loop (a separate Python process) doing the same 5,000 inserts
into an equivalent table, one transaction each, WAL mode and synchronous=NORMAL like ours.

Target: zstack-cli reaches at least 1/3 of the loop's lines (rows) per second. Both are
timed end to end as processes (interpreter start-up included) on an existing store/table.

    .venv/bin/python tests/perf/bench_batch.py
"""

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _perf  # noqa: E402
from _perf import CLI, PYTHON, env_for, heading, report, run_measured  # noqa: E402

BENCH = "batch"
LINES = 5000
REPEATS = 3
MIN_FRACTION = 1 / 3

# The baseline: what one would write with sqlite-utils, one transaction per row.
BASELINE = r'''
import os, sys
from datetime import datetime, timezone
import sqlite_utils

path, zone, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite_utils.Database(path)
db.enable_wal()
db.conn.execute("PRAGMA synchronous = NORMAL")
table = db["t"]
for i in range(n):
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    with db.atomic():
        table.insert({"uuid": os.urandom(16).hex(), "resourceUuid": zone,
                      "resourceType": "ZoneVO", "tag": f"t{i}", "type": "User", "inherent": 0,
                      "createDate": stamp, "lastOpDate": stamp})
db.close()
'''


def _baseline_table(path):
    """The table the loop fills: UserTagVO's columns, primary key and indexes."""
    import sqlite_utils

    db = sqlite_utils.Database(path)
    db.enable_wal()
    db["t"].create({"uuid": str, "resourceUuid": str, "resourceType": str, "tag": str,
                    "type": str, "inherent": int, "createDate": str, "lastOpDate": str},
                   pk="uuid", not_null={"resourceUuid", "resourceType", "tag"})
    for column in ("resourceUuid", "tag", "resourceType", "createDate"):
        db["t"].create_index([column])
    db.close()


def _count(path, table):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    finally:
        conn.close()


def profile_batch(env, batch_file, top=30):
    proc = subprocess.run([PYTHON, "-m", "cProfile", "-s", "cumulative", CLI, "-f", batch_file],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = proc.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:start + top])


def run():
    heading(f"batch: zstack-cli -f FILE ({LINES} x CreateUserTag) vs a sqlite-utils loop")
    records = []
    with _perf.temp_home() as home:
        zone = _perf.make_store(home, zones=1)[0]
        work = os.path.dirname(home)
        seed = os.path.join(work, "seed.db")
        shutil.copyfile(os.path.join(home, "zstack.db"), seed)   # closed: WAL checkpointed
        batch_file = os.path.join(work, "tags.zs")
        with open(batch_file, "w") as f:
            for n in range(LINES):
                f.write(f"CreateUserTag resourceType=ZoneVO resourceUuid={zone} tag=t{n}\n")

        cli_t, cli_rss = [], 0
        base_t, base_rss = [], 0
        for rep in range(REPEATS):
            # zstack-cli on a fresh copy of the seeded store.
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.remove(os.path.join(home, "zstack.db" + suffix))
                except FileNotFoundError:
                    pass
            shutil.copyfile(seed, os.path.join(home, "zstack.db"))
            t, code, rss, err = run_measured([CLI, "-f", batch_file], env=env_for(home))
            assert code == 0, f"zstack-cli -f failed ({code}): {err[-2000:]}"
            assert _count(os.path.join(home, "zstack.db"), "UserTagVO") == LINES
            cli_t.append(t)
            cli_rss = max(cli_rss, rss)

            # The sqlite-utils loop on a fresh equivalent table.
            base = os.path.join(work, f"baseline{rep}.db")
            _baseline_table(base)
            t, code, rss, err = run_measured([PYTHON, "-c", BASELINE, base, zone, str(LINES)])
            assert code == 0, f"baseline failed ({code}): {err[-2000:]}"
            assert _count(base, "t") == LINES
            base_t.append(t)
            base_rss = max(base_rss, rss)

        cli_lps = LINES / statistics.median(cli_t)
        base_lps = LINES / statistics.median(base_t)
        fraction = cli_lps / base_lps
        print(f"  zstack-cli -f: {cli_lps:,.0f} lines/s (median of {REPEATS}: "
              f"{statistics.median(cli_t):.2f} s; runs {', '.join(f'{t:.2f}' for t in cli_t)} s), "
              f"peak RSS {_perf.mib(cli_rss)}")
        print(f"  sqlite-utils loop: {base_lps:,.0f} rows/s (median of {REPEATS}: "
              f"{statistics.median(base_t):.2f} s; runs {', '.join(f'{t:.2f}' for t in base_t)} s), "
              f"peak RSS {_perf.mib(base_rss)}")
        passed = fraction >= MIN_FRACTION
        records.append(report(
            BENCH, f"batch CreateUserTag lines/s ({LINES} lines)", cli_lps, "lines/s",
            f">= 1/3 of sqlite-utils loop = {base_lps * MIN_FRACTION:,.0f} lines/s", passed,
            cli_rss, "zstack-cli process",
            detail=f"{fraction:.2f}x the sqlite-utils loop ({base_lps:,.0f} rows/s, "
                   f"peak RSS {_perf.mib(base_rss)})"))
        if not passed:
            print("  cProfile of zstack-cli -f FILE (top 30 by cumulative):")
            print(_perf.indent(profile_batch(env_for(home), batch_file)))
    return records


def test_batch():
    records = run()
    failed = [r["name"] for r in records if not r["passed"]]
    assert not failed, f"targets missed: {failed}"


if __name__ == "__main__":
    sys.exit(_perf.main(run))
