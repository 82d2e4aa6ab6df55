"""Queries and uuid completion at scale, in-process (the embedded backend, no shell start-up).

The store: 100,000 zones and 100,000 user tags ``t<N>`` spread over 1,000 of them, loaded with
direct inserts into the schema the backend created (no ANALYZE, as users' stores have none).

Targets (median of 20 calls after 2 warm-ups, through Client.call as the shell does):
  QueryUserTag tag~=...            < 50 ms   (11 matches, and t1: a full 1,000-row page)
  QueryUserTag count=true          < 50 ms
  QueryZone __userTag__=...        < 50 ms   (and __userTag__~=..., a like, also < 50 ms)
  QueryZone name=...               < 50 ms
  QueryZone uuid~=<prefix>%        < 50 ms
  complete("CreateCluster zoneUuid=<2|3 hex>", ClientValues)   < 30 ms
  complete("CreateCluster zoneUuid=", ClientValues)             < 30 ms

For a query that misses its target: its SQL, EXPLAIN QUERY PLAN, a cProfile of one call, the
index that would serve it, and the same query timed again with that index (on the temporary
store only).

    .venv/bin/python tests/perf/bench_query.py
"""

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _perf  # noqa: E402
from _perf import heading, report, summary, time_calls  # noqa: E402

BENCH = "query"
ZONES = 100_000
TAGGED_ZONES = 1_000
TAGS = 100_000
RUNS = 20
WARMUPS = 2
QUERY_MS = 50.0
COMPLETE_MS = 30.0

# Index (on the temporary store) that would serve a query if it is too slow; each is tried
# after all measurements, and the query timed again with it.
INDEX_FIXES = {
    "QueryZone uuid~=<3 hex>%": (
        'CREATE INDEX perf_ZoneVO_uuid_nocase ON ZoneVO (uuid COLLATE NOCASE)',
        "LIKE is case-insensitive, so the BINARY primary-key index on uuid cannot serve "
        "'abc%' (SQLite's LIKE optimization needs a NOCASE index, or the compiler could "
        "turn a prefix pattern into uuid >= 'abc' AND uuid < 'abd' on the existing index)"),
    "QueryZone __userTag__~=t4242 (like)": (
        None,
        "a leading-wildcard LIKE ('%t4242%') can use no b-tree index: every UserTagVO row is "
        "read; only a trigram FTS5 table (or matching prefix patterns) would serve it"),
    "QueryUserTag tag~=t1 (like, a full 1,000-row page)": (
        None,
        "a leading-wildcard LIKE can use no b-tree index; most of the time of a full page goes "
        "to building 1,000 inventories in Python (to_inventory)"),
    "QueryUserTag tag~=t4242 (like)": (
        None,
        "a leading-wildcard LIKE ('%t4242%') can use no b-tree index: every UserTagVO row is "
        "read; only a trigram FTS5 table (or matching prefix patterns) would serve it"),
    "QueryZone __userTag__=t4242": (
        "CREATE INDEX perf_UserTagVO_tag_resourceUuid ON UserTagVO (tag, resourceUuid)",
        "a covering (tag, resourceUuid) index lets the IN sub-query be answered from the index"),
}


class SqlCapture:
    """Wraps the store's read methods to record the SQL each API call runs."""

    def __init__(self, store):
        self.store = store
        self.statements = []
        self._orig = {}

    def __enter__(self):
        for name in ("rows", "row", "value"):
            orig = getattr(self.store, name)
            self._orig[name] = orig

            def wrapper(sql, args=(), _orig=orig):
                self.statements.append((sql, tuple(args)))
                return _orig(sql, args)

            setattr(self.store, name, wrapper)
        return self

    def __exit__(self, *exc):
        for name in self._orig:
            delattr(self.store, name)     # back to the class's methods
        return False


def explain(store, sql, args):
    rows = store.conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    return [f"{r['id']:>3} {r['parent']:>3}  {r['detail']}" for r in rows]


def build(home):
    import time

    t0 = time.perf_counter()
    _perf.make_store(home)
    zones = _perf.bulk_zones(home, ZONES)
    _perf.bulk_user_tags(home, zones[:TAGGED_ZONES], TAGS)
    print(f"  store: {ZONES:,} zones, {TAGS:,} user tags over {TAGGED_ZONES:,} zones, "
          f"built in {time.perf_counter() - t0:.1f} s")
    return zones


def run():
    heading(f"queries and uuid completion at {ZONES // 1000}k zones / {TAGS // 1000}k user tags")
    from zstackcli.client import Client
    from zstackcli.completion import complete
    from zstackcli.lookup import ClientValues

    records, failures = [], []
    with _perf.temp_home() as home:
        zones = build(home)
        client = Client(home)
        store = client.backend.store
        some_zone = zones[54_321]
        tagged_zone = zones[4242 % TAGGED_ZONES]

        def call(api, conditions=(), **options):
            params = dict(options)
            if conditions:
                params["conditions"] = [{"name": n, "op": o, "value": v} for n, o, v in conditions]

            def fn():
                reply = client.call(api, params)
                assert reply.get("success"), reply
                return reply
            return fn

        queries = [
            ("QueryUserTag tag~=t4242 (like)", call("QueryUserTag", [("tag", "~=", "t4242")]),
             lambda r: len(r["inventories"]) == 11),
            ("QueryUserTag tag~=t1 (like, a full 1,000-row page)",
             call("QueryUserTag", [("tag", "~=", "t1")]),
             lambda r: len(r["inventories"]) == 1000),
            ("QueryUserTag count=true", call("QueryUserTag", count="true"),
             lambda r: r["total"] == TAGS),
            ("QueryZone __userTag__=t4242", call("QueryZone", [("__userTag__", "=", "t4242")]),
             lambda r: [z["uuid"] for z in r["inventories"]] == [tagged_zone]),
            ("QueryZone __userTag__~=t4242 (like)",
             call("QueryZone", [("__userTag__", "~=", "t4242")]),
             lambda r: len(r["inventories"]) >= 1),
            ("QueryZone name=zone-054321", call("QueryZone", [("name", "=", "zone-054321")]),
             lambda r: [z["uuid"] for z in r["inventories"]] == [some_zone]),
            ("QueryZone uuid~=<3 hex>%", call("QueryZone", [("uuid", "~=", some_zone[:3] + "%")]),
             lambda r: some_zone in [z["uuid"] for z in r["inventories"]]),
        ]

        measured = {}
        for name, fn, ok in queries:
            assert ok(fn()), f"{name}: unexpected reply {str(fn())[:300]}"
            with SqlCapture(store) as cap:
                fn()
            s = summary(time_calls(fn, RUNS, WARMUPS))
            ms = s["median"] * 1000
            passed = ms < QUERY_MS
            measured[name] = (fn, cap.statements, ms)
            records.append(report(
                BENCH, name, ms, "ms", f"< {QUERY_MS:g} ms median", passed,
                _perf.self_rss_kib(), "bench process, RUSAGE_SELF",
                detail=f"min {s['min'] * 1000:.2f}, p90 {s['p90'] * 1000:.2f}, "
                       f"max {s['max'] * 1000:.2f} ms; n={s['n']}"))
            if not passed:
                failures.append(name)

        # Completion of a uuid value, as the shell's Tab does it.
        values = ClientValues(client)
        sample = zones[::997][:40]
        cases = [
            ("complete zoneUuid=<2 hex>", [z[:2] for z in sample]),
            ("complete zoneUuid=<3 hex>", [z[:3] for z in sample]),
            ("complete zoneUuid= (empty prefix)", [""]),
        ]
        for name, prefixes in cases:
            cycle = itertools.cycle(prefixes)

            def fn(cycle=cycle):
                prefix = next(cycle)
                out = complete(f"CreateCluster zoneUuid={prefix}", values)
                assert out and all(s.text.startswith(prefix) for s in out), (prefix, out[:3])
                return out
            first = complete(f"CreateCluster zoneUuid={prefixes[0]}", values)
            with SqlCapture(store) as cap:
                complete(f"CreateCluster zoneUuid={prefixes[0]}", values)
            s = summary(time_calls(fn, RUNS, WARMUPS))
            ms = s["median"] * 1000
            passed = ms < COMPLETE_MS
            measured[name] = (fn, cap.statements, ms)
            records.append(report(
                BENCH, name, ms, "ms", f"< {COMPLETE_MS:g} ms median", passed,
                _perf.self_rss_kib(), "bench process, RUSAGE_SELF",
                detail=f"min {s['min'] * 1000:.2f}, p90 {s['p90'] * 1000:.2f}, "
                       f"max {s['max'] * 1000:.2f} ms; n={s['n']}; {len(first)} suggestions "
                       f"for {prefixes[0]!r}; {len(cap.statements)} SQL statement(s) per Tab"))
            if not passed:
                failures.append(name)

        for name in failures:
            fn, statements, ms = measured[name]
            print(f"\n  --- {name}: {ms:.2f} ms misses its target; what it runs:")
            for sql, args in statements:
                print(f"      SQL:  {sql}")
                print(f"      args: {args}")
                print("      EXPLAIN QUERY PLAN:")
                for line in explain(store, sql, args):
                    print(f"        {line}")
            print("      cProfile of one call (top 15 by internal time):")
            print(_perf.indent(_perf.cprofile_text(fn, top=15, sort="tottime"), "        "))
            ddl, why = INDEX_FIXES.get(name, (None, "no index suggestion recorded"))
            print(f"      why: {why}")
            if ddl:
                store.conn.execute(ddl)
                s = summary(time_calls(fn, RUNS, WARMUPS))
                print(f"      with `{ddl}` (on the temporary store): median "
                      f"{s['median'] * 1000:.2f} ms (was {ms:.2f} ms)")
                for sql, args in statements:
                    for line in explain(store, sql, args):
                        print(f"        {line}")
                store.conn.execute(f"DROP INDEX {ddl.split()[2]}")
        client.close()
    return records


def test_query():
    records = run()
    failed = [r["name"] for r in records if not r["passed"]]
    assert not failed, f"targets missed: {failed}"


if __name__ == "__main__":
    sys.exit(_perf.main(run))
