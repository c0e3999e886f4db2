"""One device sqlite3 kept running per connection (targets/resident.py): loads, clears and queries
go to it; it is killed mid-load and between loads; a device whose sqlite3 cannot keep one is
detected and served one sqlite3 per command; a database file replaced under it is refused; its
commits keep the page-check marker in step.  A real OpenSSH server on loopback is the device;
the device's sqlite3 is the stock binary (or wrappers around it that behave as older or
buffering builds would)."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
import stat
import time

import pytest

from GenerateMeterData import Scenario
from GenerateMeterData.errors import GenerateMeterDataError, TargetError
from GenerateMeterData.targets import merge, resident
from GenerateMeterData.targets.ssh import DeviceTarget
from conftest import DEVICE_SQLITE3
from helpers import rows

END = dt.date(2026, 3, 1)


def small(seed=3, meters=1):
    return Scenario(meters=meters, days=2, end=END, seed=seed)


def headers(path):
    return rows(path, "SELECT count(*) FROM MeterData")[0][0]


def sqlite_processes(db_path):
    """PIDs of the sqlite3 processes that have ``db_path`` on their command line (the device is
    this machine: its processes are ours to see)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg == db_path.encode() for arg in argv) and any(b"sqlite3" in arg for arg in argv[:2]):
            found.append(int(pid))
    return found


def wrapper(tmp_path, name, body):
    """A stand-in for the device's sqlite3 binary: a shell script around the real one."""
    path = tmp_path / name
    real = shutil.which(DEVICE_SQLITE3) or DEVICE_SQLITE3
    path.write_text("#!/bin/sh\n" + body.replace("SQLITE3", real) + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def test_loads_clears_and_queries_go_to_one_resident_sqlite3(device):
    target = DeviceTarget(device.settings())
    first = small(seed=4).create(target)
    commands = target.commands
    loads = [small(seed=s).create(target) for s in (5, 6, 7)]
    assert target.clear([loads[0].token]) == 1
    assert [info.token for info in target.loads()] == [first.token, loads[1].token, loads[2].token]
    assert target.commands == commands          # nothing more was started on the device
    assert target.session.resident.started == 1
    assert len(sqlite_processes(device.path)) == 1
    # what landed, read by this machine's sqlite3 from the file itself
    idxs = [d for s in (first, loads[1], loads[2]) for d in s.device_idxs]
    assert rows(device.path, f"SELECT count(DISTINCT DeviceIdx) FROM MeterTable WHERE DeviceIdx IN "
                             f"({','.join('?' * len(idxs))})", tuple(idxs))[0][0] == 3
    assert not rows(device.path, "SELECT 1 FROM MeterTable WHERE DeviceIdx IN (?)", tuple(loads[0].device_idxs))
    target.close()
    deadline = time.monotonic() + 5
    while sqlite_processes(device.path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sqlite_processes(device.path)    # closing the target ends it


def test_the_in_memory_stage_is_kept_from_load_to_load_and_makes_way_for_stage_files(device, monkeypatch):
    """Rows sent as SQL text go into an in-memory schema the resident process keeps (attached
    once, emptied by each load); a load staged in a file attaches that under the same name after
    the kept one went, and the next text load attaches a new one.  Every load lands whole."""
    from GenerateMeterData.targets import ssh_load

    target = DeviceTarget(device.settings())
    loads = [small(seed=4).create(target), small(seed=5).create(target)]        # SQL text, one schema
    assert target.fetch("SELECT count(*) FROM stage0.MeterData") == [(0,)]   # kept, and emptied
    monkeypatch.setattr(ssh_load, "SQL_TEXT_MAX_ROWS", 1)
    loads.append(small(seed=6).create(target))                               # a stage file
    assert target.session.resident.kept_stage == ""                          # it detached both
    assert not [n for n in os.listdir(device.stage_dir) if n.startswith("gmd-stage")]
    monkeypatch.undo()
    loads.append(small(seed=7).create(target))                               # SQL text again
    loads.append(small(seed=8).create(target))
    assert target.session.resident.started == 1
    for summary in loads:
        assert summary.rows["MeterData"] > 0
        assert rows(device.path, "SELECT count(*) FROM MeterData WHERE DeviceIdx IN (?)",
                    tuple(summary.device_idxs))[0][0] == summary.rows["MeterData"]
    assert target.fetch("SELECT count(*) FROM stage0.ElectricEnergyValues") == [(0,)]
    target.close()


def test_a_resident_killed_between_loads_is_replaced(device):
    target = DeviceTarget(device.settings())
    small(seed=4).create(target)
    [pid] = sqlite_processes(device.path)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    summary = small(seed=5).create(target)
    assert target.session.resident.started == 2
    assert rows(device.path, "SELECT count(*) FROM MeterTable WHERE DeviceIdx IN (?)", tuple(summary.device_idxs))[0][0] == 1
    target.close()


@pytest.mark.parametrize("upload", ["sql", "staged"])
def test_a_resident_killed_mid_load_writes_nothing_and_the_next_load_starts_a_new_one(device, monkeypatch, upload):
    target = DeviceTarget(device.settings(upload=upload))
    small(seed=4).create(target)
    before = headers(device.path)
    real_commit = merge.commit_text

    def kill_then_commit():
        for pid in sqlite_processes(device.path):   # the merge ran to READY: its transaction is open
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        return real_commit()

    monkeypatch.setattr(merge, "commit_text", kill_then_commit)
    with pytest.raises(GenerateMeterDataError):
        small(seed=5).create(target)
    monkeypatch.setattr(merge, "commit_text", real_commit)
    assert headers(device.path) == before                    # nothing of it was written
    assert not [n for n in os.listdir(device.stage_dir) if n.startswith("gmd-stage")]
    summary = small(seed=6).create(target)
    assert summary.total_rows > 0 and headers(device.path) > before
    assert target.session.resident.started == 2
    target.close()


def test_an_sql_error_ends_the_resident_and_the_next_operation_starts_one(device):
    target = DeviceTarget(device.settings())
    small(seed=4).create(target)
    with pytest.raises(GenerateMeterDataError, match="no such table"):
        target.fetch("SELECT * FROM NoSuchTable")
    assert target.fetch("SELECT count(*) FROM MeterTable") == [(1,)]
    assert target.session.resident.started == 2
    target.close()


OLD_SQLITE3 = """import subprocess, sys, threading
child = subprocess.Popen([REAL] + sys.argv[1:], stdin=subprocess.PIPE)
def feed():
    for line in sys.stdin.buffer:   # what a build without .filectrl makes of that line
        line = b".nosuchcommand\\n" if line.startswith(b".filectrl") else line
        try:
            child.stdin.write(line); child.stdin.flush()
        except OSError:
            return
    child.stdin.close()
threading.Thread(target=feed, daemon=True).start()
sys.stdout.flush()
import os; os._exit(child.wait())
"""


def test_a_sqlite3_without_filectrl_is_served_one_process_per_command(device, tmp_path):
    """An older sqlite3 (before 3.31) answers ``.filectrl`` as an unknown command: the stand-in
    turns that line into one for the real binary."""
    import sys

    old = tmp_path / "sqlite3-old"
    real = shutil.which(DEVICE_SQLITE3) or DEVICE_SQLITE3
    old.write_text(f"#!{sys.executable}\n" + OLD_SQLITE3.replace("REAL", repr(real)))
    old.chmod(0o755)
    target = DeviceTarget(device.settings(sqlite3=str(old)))
    small(seed=4).create(target)
    commands = target.commands
    summary = small(seed=5).create(target)
    assert "filectrl" in target.session.resident.unsupported
    assert target.session.resident.started == 0 and target.commands == commands + 1
    assert rows(device.path, "SELECT count(*) FROM MeterTable WHERE DeviceIdx IN (?)", tuple(summary.device_idxs))[0][0] == 1
    target.close()


def test_a_sqlite3_that_answers_only_at_the_end_of_its_input_is_served_per_command(device, tmp_path, monkeypatch):
    """A build whose output is held until its input ends cannot be fed piece by piece: the
    probe's answer never comes while stdin is open; queries go one sqlite3 per command."""
    monkeypatch.setattr(resident, "PROBE_TIMEOUT", 1.0)
    buffering = wrapper(tmp_path, "sqlite3-buffering",
                        "out=$(mktemp); SQLITE3 \"$@\" > \"$out\"; status=$?; cat \"$out\"; rm -f \"$out\"; exit $status")
    target = DeviceTarget(device.settings(sqlite3=buffering))
    assert target.fetch("SELECT count(*) FROM ArchTypes")[0][0] > 0
    assert "did not answer" in target.session.resident.unsupported
    target.close()


def test_resident_no_uses_one_sqlite3_per_command(device):
    target = DeviceTarget(device.settings(resident="no"))
    small(seed=4).create(target)
    commands = target.commands
    small(seed=5).create(target)
    assert target.commands == commands + 1 and target.session.resident.started == 0
    target.close()


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_database_replaced_under_the_resident_is_refused_and_left_alone(device, tmp_path, journal):
    with sqlite3.connect(device.path) as db:
        db.execute(f"PRAGMA journal_mode={journal}")
    target = DeviceTarget(device.settings())
    small(seed=4).create(target)
    replacement = tmp_path / "replacement.db"
    shutil.copy(device.path, replacement)
    before = headers(str(replacement))
    os.replace(replacement, device.path)   # an operator restores a copy on the device
    for suffix in ("-wal", "-shm"):
        if os.path.exists(device.path + suffix):
            os.remove(device.path + suffix)
    with pytest.raises(TargetError, match="replaced on the device"):
        small(seed=5).create(target)
    assert headers(device.path) == before
    summary = small(seed=6).create(target)       # a new process, on the new file
    assert rows(device.path, "SELECT count(*) FROM MeterTable WHERE DeviceIdx IN (?)", tuple(summary.device_idxs))[0][0] == 1
    target.close()


def test_resident_commits_keep_the_file_known_sound_unless_another_writer_came(device):
    target = DeviceTarget(device.settings())
    for seed in (4, 5, 6):
        small(seed=seed).create(target)
    assert target.session.page_checks == 1
    target.close()                                  # the marker follows the three commits
    again = DeviceTarget(device.settings())
    small(seed=7).create(again)
    assert again.session.page_checks == 0
    again.close()
    with sqlite3.connect(device.path) as db:         # another writer commits
        db.execute("UPDATE ArchInfo SET Records = Records")
        db.execute("INSERT INTO MeterData (Id, DeviceIdx, RecordTypeId, Timestamp) "
                   "SELECT max(Id) + 1, 1, 1, 1 FROM MeterData")
    third = DeviceTarget(device.settings())
    small(seed=8).create(third)
    assert third.session.page_checks == 1
    third.close()


def test_advanced_identity_by_hand():
    # 4 bytes of the change counter: 0.0.0.255 plus 1 carries into the next byte
    assert resident.advanced("2049:1234:0.0.0.255", 1) == "2049:1234:0.0.1.0"
    assert resident.advanced("2049:1234:255.255.255.255", 2) == "2049:1234:0.0.0.1"
    assert resident.advanced("2049:1234:0.0.0.7:4120:1700000000", 1) == ""   # a WAL part: unknown
    assert resident.advanced("", 1) == ""
