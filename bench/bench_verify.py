"""``verify`` at the speed of a read (issue 24, part 4): the time verify takes on a meter.db
against the time it takes to read every row of the tables it reads, in one run.

    python bench/bench_verify.py                   # 40 meters x 90 days (~60 MB, ~1.2 M rows)
    python bench/bench_verify.py --meters 5 --days 30 --rounds 1   # a quick look
    python bench/bench_verify.py --db PATH         # an existing meter.db (a device's copy)

The read is one ``SELECT *`` of each table verify reads (MeterTable, the config tables,
MeterData and the value tables), every row fetched into Python -- the floor any check in Python
pays.  Each figure is the best of ``--rounds``, the two timed alternately.  Printed last: rows,
read time, verify time and their ratio (bar: verify >= 0.5x the rate of reading every row)."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from GenerateMeterData import LocalTarget, Scenario, verify  # noqa: E402
from GenerateMeterData.schema.layout import CONFIG_TABLES, VALUE_TABLES  # noqa: E402

BAR = 0.5


def read_every_row(path: str) -> int:
    """Every row of the tables verify reads, fetched into Python; the number of rows."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count = 0
        for table in ("MeterTable", *CONFIG_TABLES, "MeterData", *VALUE_TABLES):
            for _ in conn.execute(f"SELECT * FROM {table}"):
                count += 1
        return count
    finally:
        conn.close()


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=40)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", help="an existing meter.db instead of a generated one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db
        if path is None:
            path = os.path.join(tmp, "meter.db")
            seconds, _ = timed(Scenario(meters=args.meters, days=args.days, end=dt.date(2026, 3, 1),
                                        seed=5).create, LocalTarget(path))
            print(f"generated {args.meters} meters x {args.days} days in {seconds:.1f} s")
        size = os.path.getsize(path) / 1e6
        read_times, verify_times = [], []
        rows = violations = 0
        for round_ in range(args.rounds):
            seconds, rows = timed(read_every_row, path)
            read_times.append(seconds)
            seconds, found = timed(verify, path)
            verify_times.append(seconds)
            violations = len(found)
            print(f"round {round_ + 1}: read {read_times[-1]:.2f} s, verify {verify_times[-1]:.2f} s")
        read, checked = min(read_times), min(verify_times)
        print(f"database {size:.0f} MB, {rows:,} rows, {violations} violations")
        print(f"read every row {read:.2f} s ({rows / read:,.0f} rows/s); verify {checked:.2f} s "
              f"({rows / checked:,.0f} rows/s)")
        print(f"verify / read rate: {read / checked:.2f}x (bar >= {BAR}x)")


if __name__ == "__main__":
    main()
