"""Local seeding: throughput against a raw sqlite3.executemany of the same rows, and memory of a
one-year, 1,000-meter load streamed through.

    python bench/bench_local.py            # both measurements (the memory one takes minutes)
    python bench/bench_local.py --quick    # smaller memory run (100 meters)

The ratio is printed last: GenerateMeterData rows/s (generation + write, one transaction)
divided by raw executemany rows/s of the very same rows into the same schema (write only).
Issue 24's bar is >= 0.8 (a large load's rows are made by a helper process while this one
writes: ``staging.generated_ahead``); 1,000 meters x 365 days <= 60 s and <= 150 MB RSS."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from GenerateMeterData import LocalTarget, Scenario  # noqa: E402
from GenerateMeterData.schema import create_schema  # noqa: E402
from GenerateMeterData.schema.layout import WRITE_ORDER, insert_sql  # noqa: E402

END = dt.date(2026, 6, 1)


def fresh(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    create_schema(conn)
    conn.execute("COMMIT")
    conn.close()


def raw_executemany(path: str, rowset) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for table in WRITE_ORDER:
        if rowset[table]:
            conn.executemany(insert_sql(table), rowset[table])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def throughput(meters: int, days: int, rounds: int) -> dict:
    scenario = Scenario(meters=meters, days=days, end=END, seed=1)
    rowset = scenario.build()
    total = rowset.total()
    raw_times, ours_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            raw_path, ours_path = os.path.join(tmp, f"raw{n}.db"), os.path.join(tmp, f"ours{n}.db")
            fresh(raw_path)
            raw_times.append(raw_executemany(raw_path, rowset))
            LocalTarget(ours_path).init()
            started = time.perf_counter()
            summary = scenario.create(LocalTarget(ours_path))
            ours_times.append(time.perf_counter() - started)
            assert summary.total_rows == total, (summary.total_rows, total)
    raw_rate, ours_rate = total / min(raw_times), total / min(ours_times)
    return {"rows": total, "raw_rows_per_s": raw_rate, "ours_rows_per_s": ours_rate, "ratio": ours_rate / raw_rate}


MEMORY_CHILD = r"""
import datetime as dt, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from GenerateMeterData import LocalTarget, Scenario
meters, path = int(sys.argv[2]), sys.argv[3]
measures = ["ElArr1ConsPower", "ElDayEnergy", "ElDayConsEnergy", "ElMonthEnergy", "ElMonthConsEnergy", "ElJrnlPwr"]
started = time.perf_counter()
summary = Scenario(meters=meters, days=365, end=dt.date(2026, 6, 1), seed=1, measures=measures).create(LocalTarget(path))
seconds = time.perf_counter() - started
from GenerateMeterData.targets import staging
if staging.StageWorker._current is not None:   # the helper that made rows ahead: ended, so its peak is known
    staging.StageWorker._current.stop()
own, helper = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rows": summary.total_rows, "seconds": seconds,
                  "cpu_s": own.ru_utime + own.ru_stime, "helper_cpu_s": helper.ru_utime + helper.ru_stime,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "helper_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def memory(meters: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "year.db")
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, repo, str(meters), path],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        result["db_mb"] = os.path.getsize(path) / 2 ** 20
        result["meters"] = meters
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 meters in the memory run instead of 1,000")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if not args.skip_memory:
        mem = memory(100 if args.quick else 1000)
        print(f"memory: {mem['meters']} meters x 365 days of 30-minute data: {mem['rows']:,} rows in "
              f"{mem['seconds']:.0f} s (bar for 1,000 meters: <= 60 s), peak RSS {mem['max_rss_mb']:.0f} MB "
              f"(bar <= 150 MB) and of the helper making rows ahead {mem['helper_rss_mb']:.0f} MB, "
              f"database {mem['db_mb']:.0f} MB")
        cpu = mem["cpu_s"] + mem["helper_cpu_s"]
        print(f"memory run's CPU: this process {mem['cpu_s']:.0f} s, the helper {mem['helper_cpu_s']:.0f} s: "
              f"{cpu / mem['rows'] * 1e6:.2f} us a row; on 2 cores at best {cpu / 2:.0f} s")
    result = throughput(meters=10, days=200, rounds=5)
    print(f"throughput: {result['rows']:,} rows; raw executemany {result['raw_rows_per_s']:,.0f} rows/s; "
          f"GenerateMeterData seed {result['ours_rows_per_s']:,.0f} rows/s")
    print(f"ratio (GenerateMeterData / raw executemany, bar >= 0.8): {result['ratio']:.2f}")


if __name__ == "__main__":
    main()
