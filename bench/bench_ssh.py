"""Seeding over SSH on the loopback sshd stand-in, side by side in one run with:
  - a raw local ``sqlite3.executemany`` of the same rows into the same schema (bar: >= 0.3 of it);
  - 4 loads started at once by 4 processes into one device database (issue 13): total rows/s
    against one load's (they serialise on the database lock, not on errors; expect >= 0.8);
  - the one-command-per-row approach of older tools, ``sqlite3 db "INSERT ..."`` per row over the
    same SSH connection, measured on a small sample (bar: GenerateMeterData >= 1,000x faster).

    python bench/bench_ssh.py [--device x86 --device arm ...]   (needs root, openssh-server and sqlite3,
        like the SSH tests; the concurrent and per-row figures are the x86 loopback device's)

Both ratios are printed last."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import devices  # noqa: E402  (x86 / ARM / settings.ini devices, side by side)
import sshd  # noqa: E402  (the tests' device stand-in)
from GenerateMeterData import LocalTarget, Scenario  # noqa: E402
from GenerateMeterData.settings import DeviceSettings  # noqa: E402
from GenerateMeterData.targets.executor import Executor  # noqa: E402
from GenerateMeterData.targets.sqltext import literal  # noqa: E402
from GenerateMeterData.targets.ssh import DeviceTarget  # noqa: E402
from bench_local import fresh, raw_executemany  # noqa: E402

END = dt.date(2026, 6, 1)
SAMPLE_ROWS = 200


def per_row_baseline(settings: DeviceSettings, db: str, rowset) -> float:
    """Rows/s of one remote sqlite3 command per row (what the older tools do)."""
    sample = []
    for table in ("MeterData", "ElectricEnergyValues"):
        columns = {"MeterData": "Id, DeviceIdx, RecordTypeId, Timestamp, Valid",
                   "ElectricEnergyValues": "Id, Tariff, Ap, Am, Rp, Rm"}[table]
        for row in rowset[table][:SAMPLE_ROWS // 2]:
            sample.append(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(literal(v) for v in row)});")
    executor = Executor(settings).connect()
    started = time.perf_counter()
    for statement in sample:
        result = executor.run(f"sqlite3 {shlex.quote(db)} {shlex.quote(statement)}")
        assert result.status == 0, result.stderr
    elapsed = time.perf_counter() - started
    executor.close()
    return len(sample) / elapsed


def insert_floor(sqlite3_command: str, scenario: Scenario, tmp: str) -> float:
    """Seconds a device's ``sqlite3`` spends on nothing but the inserts of a load: the load's own
    stage files (``staging.stage``), each ``INSERT INTO t SELECT * FROM stage.t`` into a fresh
    meter.db of its own -- no id mapping, checks, ledger or upload, and not its process start
    (the statements' own ``.timer`` times, summed).  Best of three.  What any client's load costs
    at least on that device: a bar whose time for these rows is below it cannot be met by a client."""
    import re
    import subprocess

    from GenerateMeterData.records.rows import NameIndex
    from GenerateMeterData.schema.layout import WRITE_ORDER
    from GenerateMeterData.targets.staging import stage

    workdir = tempfile.mkdtemp(dir=tmp)
    staged = stage(scenario, NameIndex.reference(), workdir, max_text_rows=0)
    best = float("inf")
    for attempt in range(3):
        seconds = 0.0
        for n, path in enumerate(staged.paths):
            db = os.path.join(workdir, f"floor-{attempt}-{n}.db")
            LocalTarget(db).init()
            script = "\n".join([".bail on", f"ATTACH {literal(path)} AS stage;", "BEGIN;", ".timer on"]
                               + [f"INSERT INTO main.{t} SELECT * FROM stage.{t};" for t in WRITE_ORDER]
                               + [".timer off", "COMMIT;", ""])
            done = subprocess.run([sqlite3_command, db], input=script, text=True, capture_output=True, check=True)
            seconds += sum(float(t) for t in re.findall(r"Run Time: real ([0-9.]+)", done.stdout))
        best = min(best, seconds)
    shutil.rmtree(workdir, ignore_errors=True)
    return best


def _concurrent_load(settings_dict, ready, go, done) -> None:
    """One tester's load, in its own process, started together with the others."""
    scenario = Scenario(meters=10, days=60, end=END, seed=1)
    target = DeviceTarget(DeviceSettings(**settings_dict))
    target.session.device_state()  # connected and ready before the start signal
    ready.put(1)
    go.wait()
    summary = scenario.create(target)
    target.close()
    done.put(summary.total_rows)


def concurrent_loads(settings: DeviceSettings, count: int) -> float:
    """Seconds from a common start until ``count`` loads (separate processes) all committed."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # this process ran paramiko threads: no fork
    ready, done, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=_concurrent_load, args=(dict(settings.__dict__), ready, go, done))
                 for _ in range(count)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    started = time.perf_counter()
    go.set()
    for _ in processes:
        done.get(timeout=600)
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    devices.add_options(parser)
    args = parser.parse_args()
    reason = sshd.available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        server = sshd.SSHServer(tmp).start()
        try:
            scenario = Scenario(meters=10, days=60, end=END, seed=1)
            rowset = scenario.build()
            total = rowset.total()
            # Log in as a user whose shell is plain /bin/sh, as on a device (busybox); root's bash
            # here sources a .bashrc that costs ~0.2 s per remote command.
            user = sshd.device_user() or "root"
            os.chmod(tmp, 0o755)
            device_dir = os.path.join(tmp, "device")  # the login must create journals beside the db
            os.mkdir(device_dir)
            shutil.chown(device_dir, user)
            settings = DeviceSettings(name="bench", host="127.0.0.1", port=server.port, user=user,
                                      key_filename=server.client_key, known_hosts=server.known_hosts,
                                      db_path=os.path.join(tmp, "device.db"))
            kinds = devices.kinds(args)
            raw_times = []
            ssh_times = {kind: [] for kind in kinds}
            labels = {}
            for attempt in range(5):  # interleaved, best of five each: the machine is shared (and COMMIT waits on its disk)
                raw_path = os.path.join(tmp, f"raw{attempt}.db")
                fresh(raw_path)
                raw_times.append(raw_executemany(raw_path, rowset))
                for kind in kinds:
                    device_db = os.path.join(device_dir, f"device-{kind}-{attempt}.db")
                    labels[kind], attempt_settings = devices.on_loopback(
                        kind, args, DeviceSettings(**dict(settings.__dict__, db_path=device_db)))
                    if kind != "settings":
                        LocalTarget(device_db).init()
                        shutil.chown(device_db, user)
                    with DeviceTarget(attempt_settings) as target:
                        started = time.perf_counter()
                        summary = scenario.create(target)
                        ssh_times[kind].append(time.perf_counter() - started)
                        if kind == "settings":
                            target.clear(tokens=[summary.token])
                    assert summary.total_rows == total
            print("seconds per round: raw", [round(t, 3) for t in raw_times],
                  *(f"{labels[kind]} {[round(t, 3) for t in ssh_times[kind]]}" for kind in kinds))
            raw_rate = total / min(raw_times)
            floors = {kind: insert_floor(devices.sqlite3_for(kind, args), scenario, tmp)
                      for kind in kinds if kind != "settings"}
            if "x86" not in kinds:  # the figures below are the loopback x86 device's
                report_bulk(total, raw_rate, kinds, labels, ssh_times, floors)
                return
            best = min(ssh_times["x86"])
            ssh_rate = total / best
            shared_db = os.path.join(device_dir, "shared.db")
            LocalTarget(shared_db).init()
            shutil.chown(shared_db, user)
            shared = DeviceSettings(**dict(settings.__dict__, db_path=shared_db, busy_timeout=600.0))
            concurrent_seconds = concurrent_loads(shared, 4)
            concurrent_rate = 4 * total / concurrent_seconds

            baseline_db = os.path.join(device_dir, "baseline.db")
            fresh(baseline_db)
            shutil.chown(baseline_db, user)
            per_row_rate = per_row_baseline(settings, baseline_db, rowset)
        finally:
            server.stop()
    print(f"rows: {total:,} (10 meters x 60 days, every electric measure); device login: {user} "
          f"({'/bin/sh' if user != 'root' else 'root shell'})")
    print(f"raw local executemany: {raw_rate:,.0f} rows/s")
    print(f"GenerateMeterData over SSH (stage, upload, merge): {ssh_rate:,.0f} rows/s ({best:.2f} s)")
    print(f"one sqlite3 command per row over SSH ({SAMPLE_ROWS} rows sampled): {per_row_rate:,.1f} rows/s")
    print(f"4 concurrent loads (4 processes) into one device database: {concurrent_rate:,.0f} rows/s "
          f"({concurrent_seconds:.2f} s)")
    print(f"ratio of 4 concurrent loads vs one load, rows/s (expect >= 0.8): {concurrent_rate / ssh_rate:.2f}")
    print(f"ratio vs one-command-per-row (bar >= 1000): {ssh_rate / per_row_rate:,.0f}")
    report_bulk(total, raw_rate, kinds, labels, ssh_times, floors)


#: Issue 24's bars: a device's bulk load against raw local executemany of the same rows.
BARS = {"x86": 0.6, "arm": 0.3}


def report_bulk(total: int, raw_rate: float, kinds, labels, ssh_times, floors) -> None:
    """The bulk load on each device, against raw local executemany (printed last), and the
    device's insert floor: what the bar allows for these rows against what its sqlite3 alone
    spends inserting them."""
    for kind in kinds:
        if kind in floors:
            allowed = f"; the bar allows {total / (BARS[kind] * raw_rate):.2f} s" if kind in BARS else ""
            print(f"{labels[kind]}: its sqlite3's inserts alone (INSERT ... SELECT * of the stage files, "
                  f"no mapping, checks or upload) {floors[kind]:.2f} s{allowed}")
    for kind in kinds:
        best = min(ssh_times[kind])
        bar = {"x86": " (bar >= 0.3; issue 24: >= 0.6)", "arm": " (issue 24 bar >= 0.3)"}.get(kind, "")
        print(f"{labels[kind]}: {total / best:,.0f} rows/s ({best:.2f} s); "
              f"ratio vs raw local executemany{bar}: {total / best / raw_rate:.2f}")


if __name__ == "__main__":
    main()
