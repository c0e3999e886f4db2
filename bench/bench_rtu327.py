"""``check`` of one load of 10 meters x 30 days over RTU-327 against the USPD stand-in, both in
this process on loopback: every value RTU-327 serves is compared.

    python bench/bench_rtu327.py

Printed last: values compared, round trips (GETLP: one per meter-day), total seconds and the
time per compared value."""
from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from GenerateMeterData import LocalTarget, Scenario  # noqa: E402
from GenerateMeterData.device.check import expected_values, run_check  # noqa: E402
from GenerateMeterData.device.rtu327_check import Rtu327Interface  # noqa: E402
from GenerateMeterData.device.rtu327_server import Rtu327Server  # noqa: E402
from GenerateMeterData.protocols.rtu327 import Rtu327Client  # noqa: E402
from GenerateMeterData.protocols.rtu327.frames import Command  # noqa: E402

METERS, DAYS = 10, 30


class CountingClient(Rtu327Client):
    """The client, counting round trips per command."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.by_command: Counter = Counter()

    def exchange(self, command, data=b"", allow=()):
        self.by_command[Command(command).name] += 1
        return super().exchange(command, data, allow)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "meter.db")
        started = time.perf_counter()
        summary = Scenario(meters=METERS, days=DAYS, end=dt.date(2026, 3, 1), seed=1).create(LocalTarget(path))
        print(f"seeded {METERS} meters x {DAYS} days: {summary.total_rows:,} rows in {time.perf_counter() - started:.1f} s")
        server = Rtu327Server(path)
        host, port = server.start_tcp("127.0.0.1", 0)
        try:
            target = LocalTarget(path)
            started = time.perf_counter()
            values = expected_values(target, tokens=[summary.token])
            read = time.perf_counter() - started
            with CountingClient(host, port) as client:
                started = time.perf_counter()
                result = run_check(target, [Rtu327Interface(client)], tokens=[summary.token])
                total = time.perf_counter() - started
        finally:
            server.stop()
    (interface,) = result.summaries
    assert result.ok, f"{len(result.mismatches)} mismatches on a load served by the stand-in"
    for name, count in sorted(client.by_command.items()):
        print(f"  {name:12s} {count:6,} round trips")
    print(f"values in the load: {len(values):,} (read from meter.db in {read:.2f} s); RTU-327 serves "
          f"{interface.compared:,} of them")
    profile_meters = len({v.device_idx for v in values if v.measure == "ElArr1ConsPower"})
    print(f"GETLP: {client.by_command['GETLP']:,} round trips for {profile_meters} meters with a profile x {DAYS} days")
    print(f"check over RTU-327: {interface.compared:,} values compared, {client.round_trips:,} round trips, "
          f"{total:.2f} s total, {total / interface.compared * 1e6:.1f} us per compared value")


if __name__ == "__main__":
    main()
