"""A tester's seed script, object by object, side by side in one run:
  - locally (a fresh meter.db file): time per object;
  - over SSH to the loopback OpenSSH stand-in, one kept connection: time per object;
  - the access pattern of the tool it replaces: the same rows, one new SSH session and one
    ``sqlite3 DB 'SQL'`` per record (header and its value rows in one statement string).

The script:  MeterTable(), ElConfig(...), Journal(ElJrnlLimPwr, Valid=0), ElDayEnergy(7),
ElDayConsEnergy(7), ElMonthEnergy(3), ElMomentEnergy(), ElMomentQuality(3), ElArr1ConsPower(48).

    python bench/bench_seed_script.py [--device x86 --device arm] [--device settings --settings F --section S]
        [--big-meters 40]   (root, openssh-server and sqlite3, like the SSH tests; arm: bench/arm_device.py)

Also, on a ~60 MB database (``--big-meters`` meters x 90 days; 0: skip), the first object of a
connection twice: on the first connection, when the page check (quick_check, a whole-file read)
runs, and on the next one, when the file is known sound (issue 24: <= 300 ms on the ARM device).

Bars (issue 8): over SSH >= 5x faster than the old pattern, median <= 40 ms per object; locally
median <= 10 ms per object.  The ratio is printed last."""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Callable, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import devices  # noqa: E402  (x86 / ARM / settings.ini devices, side by side)
import sshd  # noqa: E402  (the tests' device stand-in)
import tester_script  # noqa: E402  (the script both benchmarks time)
import GenerateMeterData as G  # noqa: E402
from GenerateMeterData.schema.layout import TABLE_COLUMNS, VALUE_TABLES  # noqa: E402
from GenerateMeterData.settings import DeviceSettings  # noqa: E402
from GenerateMeterData.targets.executor import Executor  # noqa: E402
from GenerateMeterData.targets.sqltext import literal  # noqa: E402
from GenerateMeterData.targets.ssh import DeviceTarget  # noqa: E402


def script(target) -> List[Tuple[str, float]]:
    """Run the tester's script against ``target``; (object, seconds) each."""
    G.configure(target)
    times: List[Tuple[str, float]] = []

    def timed(label: str, make: Callable):
        started = time.perf_counter()
        made = make()
        times.append((label, time.perf_counter() - started))
        return made

    tester_script.run(G, timed)
    G.set_default_target(None)
    return times


def record_statements(path: str) -> List[str]:
    """The rows the script wrote, as the old tool sent them: one statement string per record."""
    conn = sqlite3.connect(path)
    statements = []
    for table in ("MeterTable", "ElectricConfig"):
        columns = TABLE_COLUMNS[table]
        for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
            statements.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(map(literal, row))});")
    headers = TABLE_COLUMNS["MeterData"]
    for header in conn.execute(f"SELECT {', '.join(headers)} FROM MeterData ORDER BY Id"):
        parts = [f"INSERT INTO MeterData ({', '.join(headers)}) VALUES ({', '.join(map(literal, header))});"]
        for table in VALUE_TABLES:
            columns = TABLE_COLUMNS[table]
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE Id = ?", (header[0],)):
                parts.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(map(literal, row))});")
        statements.append(" ".join(parts))
    conn.close()
    return statements


def old_pattern(settings: DeviceSettings, db: str, statements: List[str]) -> float:
    """Seconds for one new SSH session and one sqlite3 command per statement."""
    started = time.perf_counter()
    for statement in statements:
        executor = Executor(settings).connect()
        result = executor.run(f"sqlite3 {shlex.quote(db)} {shlex.quote(statement)}")
        executor.close()
        assert result.status == 0, result.stderr
    return time.perf_counter() - started


def first_objects(settings: DeviceSettings, big_db: str, user: str) -> Tuple[float, float, int, int]:
    """The first object's seconds on two connections to a copy of ``big_db`` at db_path, and
    the quick_checks each ran."""
    shutil.copy(big_db, settings.db_path)
    shutil.chown(settings.db_path, user)
    found = []
    for _ in range(2):
        target = DeviceTarget(settings)
        G.configure(target)
        started = time.perf_counter()
        G.MeterTable()
        found.append((time.perf_counter() - started, target.session.page_checks))
        G.set_default_target(None)
        target.close()
    return found[0][0], found[1][0], found[0][1], found[1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    devices.add_options(parser)
    parser.add_argument("--big-meters", type=int, default=40,
                        help="meters x 90 days of the big database of the first-object figure (0: skip)")
    args = parser.parse_args()
    reason = sshd.available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    measured = []   # (label, per-object seconds, total, commands, logins, old pattern total)
    with tempfile.TemporaryDirectory() as tmp:
        local_db = os.path.join(tmp, "local.db")
        G.LocalTarget(local_db).init()
        local_times = script(G.LocalTarget(local_db))
        statements = record_statements(local_db)
        big_db = os.path.join(tmp, "big.db")
        if args.big_meters:
            G.Scenario(meters=args.big_meters, days=90, seed=5).create(G.LocalTarget(big_db))
        big_mb = os.path.getsize(big_db) / 1e6 if args.big_meters else 0.0
        firsts = []   # (label, first connection s, next connection s, checks, checks)
        server = sshd.SSHServer(tmp).start()
        try:
            user = sshd.device_user() or "root"  # a /bin/sh login, as on a device's busybox
            os.chmod(tmp, 0o755)
            for n, kind in enumerate(devices.kinds(args)):
                device_dir = os.path.join(tmp, f"device{n}")
                os.mkdir(device_dir)
                shutil.chown(device_dir, user)
                loopback = DeviceSettings(name="bench", host="127.0.0.1", port=server.port, user=user,
                                          key_filename=server.client_key, known_hosts=server.known_hosts,
                                          db_path=os.path.join(device_dir, "device.db"))
                label, settings = devices.on_loopback(kind, args, loopback)
                if kind != "settings":
                    G.LocalTarget(settings.db_path).init()
                    shutil.chown(settings.db_path, user)
                target = DeviceTarget(settings)
                started = time.perf_counter()
                ssh_times = script(target)
                ssh_total = time.perf_counter() - started
                commands, logins = target.round_trips, target.logins
                target.close()
                old_total = None
                if kind != "settings":
                    old_db = os.path.join(device_dir, "old.db")
                    G.LocalTarget(old_db).init()
                    shutil.chown(old_db, user)
                    old_total = old_pattern(settings, old_db, statements)
                measured.append((label, ssh_times, ssh_total, commands, logins, old_total))
                if args.big_meters and kind != "settings":  # a device of one's own is not overwritten
                    from dataclasses import replace
                    big = replace(settings, db_path=os.path.join(device_dir, "big.db"))
                    firsts.append((label, *first_objects(big, big_db, user)))
        finally:
            server.stop()
    heads = ["local ms"] + [f"{m[0]} ms" for m in measured]
    rows = [(label, [f"{local * 1000:.1f}"] + [f"{m[1][i][1] * 1000:.1f}" for m in measured])
            for i, (label, local) in enumerate(local_times)]
    print(devices.table(rows, heads, first=24))
    local_median = statistics.median(t for _, t in local_times) * 1000
    print(f"device login: {user}; objects: {len(local_times)}; old pattern: {len(statements)} records, "
          "one SSH session + sqlite3 each")
    print(f"median per object locally (bar <= 10 ms): {local_median:.1f} ms")
    for label, ssh_times, ssh_total, commands, logins, old_total in measured:
        later = statistics.median(t for _, t in ssh_times[1:]) * 1000
        print(f"{label}: SSH logins {logins}, remote round trips {commands}; total {ssh_total:.2f} s; "
              f"first object {ssh_times[0][1] * 1000:.0f} ms, median of the others {later:.1f} ms")
    if firsts:
        for label, first, known, checks_first, checks_known in firsts:
            print(f"{label}: first object of a connection, {args.big_meters} meters x 90 days ({big_mb:.0f} MB): "
                  f"{first * 1000:.0f} ms with the page check ({checks_first} quick_check), next connection "
                  f"{known * 1000:.0f} ms ({checks_known}: known sound; bar <= 300 ms on ARM)")
    for label, ssh_times, ssh_total, commands, logins, old_total in measured:
        median = statistics.median(t for _, t in ssh_times) * 1000
        ratio = f"; ratio vs the old pattern (bar >= 5x): {old_total / ssh_total:.1f}x" if old_total else ""
        print(f"{label}: median per object over SSH (bar <= 40 ms x86): {median:.1f} ms{ratio}")


if __name__ == "__main__":
    main()
