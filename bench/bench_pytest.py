"""A pytest suite through the plugin: 30 tests, each seeding 1 meter x 2 days with
``meterdata.scenario(meters=1, days=2)`` and cleaned up after itself, run with pytest in a
subprocess against a fresh local meter.db and against a loopback OpenSSH device, side by side in
one run (interleaved rounds, best of each; the machine is shared).

    python bench/bench_pytest.py [--rounds 2] [--device x86 --device arm ...]   (the device part
                                                 needs root, openssh-server and
                                                 sqlite3, like the SSH tests)

Bars (issue 8): device wall time <= 2.5x the local suite's, <= 2 remote round trips per test,
1 SSH login per session, no seeded meter left on the device.  The ratio is printed last."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

import devices  # noqa: E402  (x86 / ARM / settings.ini devices, side by side)
import sshd  # noqa: E402  (the tests' device stand-in)
from GenerateMeterData import LocalTarget  # noqa: E402

TESTS = 30

SUITE = f'''
import pytest

@pytest.mark.parametrize("n", range({TESTS}))
def test_seed(meterdata, n):
    summary = meterdata.scenario(meters=1, days=2)
    assert len(summary.meter_ids) == 1
'''

# The plugin's session target, read around every test and after the session: remote round trips
# (commands started, and exchanges with the resident sqlite3) per test (the first test also opens the
# session, the last one also ends it) and SSH logins.
CONFTEST = '''
import json
import os
import pytest
from GenerateMeterData.pytest_plugin import session_state

per_test = []

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    target = session_state(item.config).target
    before = getattr(target, "round_trips", 0)   # none yet: the first test makes the session target
    yield
    after = getattr(session_state(item.config).target, "round_trips", None)
    if after is not None:
        per_test.append(after - before)

def pytest_unconfigure(config):
    target = session_state(config).target
    with open(os.environ["BENCH_COSTS"], "w") as handle:
        json.dump({"kind": type(target).__name__, "commands": getattr(target, "commands", None),
                   "logins": getattr(target, "logins", None), "per_test": per_test}, handle)
'''


def run_suite(suite_dir: str, costs: str, *args: str) -> float:
    """Wall time of one pytest run of the suite (as a tester sees it, interpreter start included)."""
    env = dict(os.environ, PYTHONPATH=REPO, BENCH_COSTS=costs)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                             "-p", "no:randomly", *args], cwd=suite_dir, env=env, capture_output=True, text=True,
                            timeout=900)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or f"{TESTS} passed" not in result.stdout:
        sys.exit(f"the suite failed ({' '.join(args) or 'local'}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per target (best is kept)")
    devices.add_options(parser)
    args = parser.parse_args()
    reason = sshd.available()
    if reason:
        sys.exit(f"cannot run: {reason}")
    results = []   # (label, times, runs, left)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        os.mkdir(os.path.join(tmp, "sshd"))
        server = sshd.SSHServer(os.path.join(tmp, "sshd")).start()
        try:
            # a login whose shell is plain /bin/sh, as on a device's busybox (root's bash here
            # sources a .bashrc that costs ~0.2 s per remote command)
            user = sshd.device_user() or "root"
            suite = os.path.join(tmp, "suite")
            os.mkdir(suite)
            with open(os.path.join(suite, "test_suite.py"), "w", encoding="utf-8") as handle:
                handle.write(SUITE)
            with open(os.path.join(suite, "conftest.py"), "w", encoding="utf-8") as handle:
                handle.write(CONFTEST)
            inis = []   # (label, ini file name, device db or None for a settings.ini device)
            for n, kind in enumerate(devices.kinds(args)):
                if kind == "settings":
                    inis.append((devices.LABELS[kind], os.path.abspath(args.settings), None, args.section))
                    continue
                device_dir = os.path.join(tmp, f"device{n}")  # the login must create journals beside the db
                os.mkdir(device_dir)
                shutil.chown(device_dir, user)
                device_db = os.path.join(device_dir, "meter.db")
                LocalTarget(device_db).init()
                shutil.chown(device_db, user)
                ini = os.path.join(suite, f"device{n}.ini")
                with open(ini, "w", encoding="utf-8") as handle:
                    handle.write(f"[Test]\nIP_address = 127.0.0.1\nIP_port = {server.port}\nuser_login = {user}\n"
                                 f"key_filename = {server.client_key}\nknown_hosts = {server.known_hosts}\n"
                                 f"db_path = {device_db}\nsqlite3 = {devices.sqlite3_for(kind, args)}\n")
                inis.append((devices.LABELS[kind], ini, device_db, None))
            local_costs = os.path.join(tmp, "local.json")
            local_times = []
            timed = {label: ([], []) for label, _, _, _ in inis}
            for _ in range(args.rounds):
                local_times.append(run_suite(suite, local_costs))
                for label, ini, _, section in inis:
                    costs = os.path.join(tmp, "device.json")
                    extra = ["--meterdata-section", section] if section else []
                    timed[label][0].append(run_suite(suite, costs, "--meterdata-settings", ini, *extra))
                    with open(costs, encoding="utf-8") as handle:
                        timed[label][1].append(json.load(handle))
            for label, ini, device_db, _ in inis:
                left = None
                if device_db:
                    conn = sqlite3.connect(device_db)
                    left = tuple(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                                 for table in ("MeterTable", "MeterData", "GenerateMeterDataLedger"))
                    conn.close()
                results.append((label, timed[label][0], timed[label][1], left))
        finally:
            server.stop()
    local = min(local_times)
    print(f"suite: {TESTS} tests x meterdata.scenario(meters=1, days=2), cleaned up after each; "
          f"device login: {user} ({'/bin/sh' if user != 'root' else 'root shell'}); "
          f"best of {args.rounds} interleaved rounds")
    print(f"wall time, local meter.db: {local:.2f} s ({local / TESTS * 1000:.0f} ms per test); "
          f"rounds {[round(t, 2) for t in local_times]}")
    for label, times, runs, left in results:
        costs = runs[-1]
        assert costs["kind"] == "DeviceTarget", costs
        per_test = costs["per_test"]
        print(f"{label}: wall {min(times):.2f} s ({min(times) / TESTS * 1000:.0f} ms per test), rounds "
              f"{[round(t, 2) for t in times]}; remote round trips per test (tests 2-{TESTS - 1}) max "
              f"{max(per_test[1:-1])}, mean {sum(per_test[1:-1]) / len(per_test[1:-1]):.2f} (bar <= 2; the first "
              f"test, which also opens the session, {per_test[0]}; the last, which also ends it, {per_test[-1]}); SSH logins per session "
              f"{', '.join(str(run['logins']) for run in runs)} (bar 1)")
        if left is not None:
            print(f"  left on it afterwards: {left[0]} meters, {left[1]} records, {left[2]} ledger entries "
                  f"({'clean' if left == (0, 0, 0) else 'NOT CLEAN'})")
    for label, times, _, _ in results:
        print(f"ratio {label} / local wall time (bar <= 2.5): {min(times) / local:.2f}")


if __name__ == "__main__":
    main()
