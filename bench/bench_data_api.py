"""The data-API check, in one run: a load of 10 meters x 30 days (every default electric
measure) seeded into a local meter.db, every value of it read back with plain SQL, and compared
with what the stand-in of the device's data-API program serves (one subprocess per request, as
the device runs one program per request).

    python bench/bench_data_api.py [--meters N] [--days N]

Printed last: the time per compared value (microseconds)."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from GenerateMeterData import LocalTarget, Scenario  # noqa: E402
from GenerateMeterData.device.check_data_api import DataApiInterface  # noqa: E402
from meterdb_values import read_values  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meters", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "meter.db")
        started = time.perf_counter()
        Scenario(meters=args.meters, days=args.days, end=dt.date(2026, 3, 1), seed=1).create(LocalTarget(path))
        seeded = time.perf_counter() - started
        values = read_values(path)
        interface = DataApiInterface(LocalTarget(path))
        started = time.perf_counter()
        count, mismatches = interface.compare(values)
        took = time.perf_counter() - started
    print(f"load: {args.meters} meters x {args.days} days, seeded in {seeded:.1f} s; {len(values)} values")
    print(f"compared {count} values in {interface.requests} requests, {len(mismatches)} mismatches, {took:.2f} s")
    print(f"per compared value: {took / max(count, 1) * 1e6:.2f} us")


if __name__ == "__main__":
    main()
