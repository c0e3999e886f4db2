"""before_load/after_load and Ctrl-C during a device load, with the interleaving forced: a
device-side sqlite3 wrapper marks (and holds) the moment the merge reaches READY or COMMITTED,
and the test interrupts the client exactly then."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from GenerateMeterData import RemoteError, Scenario
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import rows, table_checksums
from conftest import in_both_modes

device = in_both_modes()  # every device test here runs resident and per command

END = dt.date(2026, 3, 1)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_after_load_runs_when_before_load_fails(device, tmp_path):
    before = table_checksums(device.path)
    settings = device.settings(before_load=f"touch {tmp_path}/before; exit 3",
                               after_load=f"touch {tmp_path}/after")
    with DeviceTarget(settings) as target:
        with pytest.raises(RemoteError, match="before_load command failed"):
            Scenario(meters=1, days=1, end=END).create(target)
    assert (tmp_path / "before").exists() and (tmp_path / "after").exists()  # the poller is back
    assert table_checksums(device.path) == before


def test_a_failing_after_load_is_reported_with_the_committed_load(device, tmp_path):
    settings = device.settings(after_load="echo poller did not start >&2; exit 4")
    with DeviceTarget(settings) as target:
        with pytest.raises(RemoteError, match=r"the load committed \(token [0-9a-f]{32}, \d+ rows\), but .*after_load"):
            Scenario(meters=1, days=1, end=END).create(target)
    assert rows(device.path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 1


def test_a_failing_after_load_rides_along_with_the_loads_own_error(device, tmp_path):
    from GenerateMeterData import DuplicateRecordError, MeterPlan

    fixed = Scenario(meters=[MeterPlan("SE303", table={"MeterId": 4242})], days=1, end=END)
    with DeviceTarget(device.settings()) as target:
        fixed.create(target)
    with DeviceTarget(device.settings(after_load="exit 4")) as target:
        with pytest.raises(DuplicateRecordError,
                           match=r"MeterId already exists; nothing was written; and then .*after_load command failed \(exit 4\)"):
            fixed.create(target)


def wrapper(tmp_path, marker: str) -> str:
    """A device sqlite3 that touches a file and waits 4 s when a line with ``marker`` passes."""
    path = tmp_path / "slow-sqlite3"
    mark = tmp_path / "mark"
    path.write_text("#!/bin/sh\n"
                    "sqlite3 \"$@\" | while IFS= read -r line; do\n"
                    f"  case \"$line\" in *{marker}*) touch {mark}; sleep 4;; esac\n"
                    "  printf '%s\\n' \"$line\"\n"
                    "done\n")
    path.chmod(0o755)
    return str(path)


def interrupted_seed(device, tmp_path, marker: str) -> subprocess.CompletedProcess:
    (tmp_path / "settings.ini").write_text(device.ini(f"sqlite3 = {wrapper(tmp_path, marker)}\n"), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "seed", "--meters", "1", "--days", "1",
                                "--end", "2026-03-01"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "mark").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the merge never reached its marker"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_after_the_commit_says_the_load_is_on_the_device(device, tmp_path):
    result = interrupted_seed(device, tmp_path, "GMD-COMMITTED")
    assert result.returncode == 130, result.stderr
    token = rows(device.path, "SELECT Token FROM GenerateMeterDataLedger")[0][0]
    assert f"interrupted after the commit: the load is on the device (token {token})" in result.stderr
    assert "rolled back" not in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_before_the_commit_says_nothing_was_written(device, tmp_path):
    before = table_checksums(device.path)
    result = interrupted_seed(device, tmp_path, "GMD-READY")
    assert result.returncode == 130, result.stderr
    assert "interrupted before the commit: nothing was written" in result.stderr
    time.sleep(5)  # the wrapper's hold ends; the device's sqlite3 then meets end-of-input
    assert table_checksums(device.path) == before


def test_ctrl_c_after_a_device_restore_finished_says_so(device, tmp_path):
    """The device's .restore runs on after Ctrl-C: the client waits for its answer and says what
    the device now holds (the wrapper holds the confirmation, the test interrupts exactly then)."""
    Scenario(meters=1, days=1, end=END).create(__import__("GenerateMeterData").LocalTarget(device.path))
    backup = tmp_path / "backup.db"
    with DeviceTarget(device.settings()) as target:
        target.backup(str(backup))
        Scenario(meters=1, days=1, end=END, seed=5).create(target)  # the device moves on
    expected = table_checksums(str(backup))
    (tmp_path / "settings.ini").write_text(device.ini(f"sqlite3 = {wrapper(tmp_path, 'GMD-RESTORED')}\n"),
                                           encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "restore", str(backup)], cwd=tmp_path,
                               env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "mark").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"interrupted after the restore finished: the device's meter.db now holds {backup}" in stderr
    assert "Traceback" not in stderr
    assert table_checksums(device.path) == expected


def test_an_after_load_that_starts_a_daemon_does_not_hold_the_load(device, tmp_path):
    """``after_load = poller &``: the daemon keeps the channel's stdout open; the load ends once
    the hook's exit status arrived and its output went quiet, with the daemon still running."""
    pidfile = tmp_path / "daemon.pid"
    (tmp_path / "settings.ini").write_text(
        device.ini(f"after_load = sleep 600 & echo $! > {pidfile}\ncommand_timeout = 600\n"), encoding="utf-8")
    try:
        # the timeout only ends a load held by the daemon (the bug); it judges no speed
        result = subprocess.run([sys.executable, "-m", "GenerateMeterData", "seed", "--meters", "1", "--days", "1",
                                 "--end", "2026-03-01"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO),
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        daemon = int(pidfile.read_text())
        os.kill(daemon, 0)  # still running: the load did not wait for it to end
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
    assert rows(device.path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 1


@pytest.mark.parametrize("hook", ["before_load", "after_load"])
def test_a_hung_hook_is_named(device, tmp_path, hook):
    before = table_checksums(device.path)
    with DeviceTarget(device.settings(command_timeout=3, **{hook: "sleep 30"})) as target:
        with pytest.raises(RemoteError, match=rf"{hook} command failed: command did not finish within 3 s"):
            Scenario(meters=1, days=1, end=END).create(target)
    if hook == "before_load":
        assert table_checksums(device.path) == before  # nothing loaded
    else:  # the load itself committed, and the message says so
        assert rows(device.path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 1
