"""No command may destroy or corrupt what it did not write (issue 14): restore of a file that is
not a meter.db, several first loads into one new file, init --force over an open database."""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import threading

import pytest

from GenerateMeterData import InputError, LocalTarget, Scenario, TargetError, verify
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import rows, table_checksums

END = dt.date(2026, 3, 1)


def not_meter_dbs(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.db"
    conn = sqlite3.connect(notes)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    text = tmp_path / "text.db"
    text.write_text("not a database at all\n")
    return [str(empty), str(notes), str(text)]


def test_local_restore_refuses_what_is_not_a_meter_db(db_path, tmp_path):
    Scenario(meters=1, days=2, end=END).create(LocalTarget(db_path))
    before = table_checksums(db_path)
    for source in not_meter_dbs(tmp_path):
        with pytest.raises(InputError, match=f"backup {source} is not a meter.db"):
            LocalTarget(db_path).restore(source)
    assert table_checksums(db_path) == before


def test_device_restore_refuses_what_is_not_a_meter_db(device, tmp_path):
    Scenario(meters=1, days=2, end=END).create(LocalTarget(device.path))
    before = table_checksums(device.path)
    with DeviceTarget(device.settings()) as target:
        for source in not_meter_dbs(tmp_path):
            with pytest.raises(InputError, match=f"backup {source} is not a meter.db"):
                target.restore(source)
    assert table_checksums(device.path) == before


def test_device_restore_of_a_real_backup_still_works(device, tmp_path):
    with DeviceTarget(device.settings()) as target:
        Scenario(meters=1, days=2, end=END).create(target)
        backup = str(tmp_path / "backup.db")
        target.backup(backup)
        expected = table_checksums(device.path)
        Scenario(meters=1, days=2, end=END, seed=4).create(target)
        target.restore(backup)
    assert table_checksums(device.path) == expected


def test_first_loads_into_one_new_file_all_land_and_keep_the_file(tmp_path):
    path = str(tmp_path / "new" / "meter.db")
    os.mkdir(os.path.dirname(path))
    barrier = threading.Barrier(4)
    errors, summaries = [], []

    def first_load(seed):
        barrier.wait()
        try:
            summaries.append(Scenario(meters=1, days=2, end=END, seed=seed).create(LocalTarget(path, busy_timeout=60)))
        except Exception as exc:  # collected: the test shows every failure
            errors.append(exc)

    threads = [threading.Thread(target=first_load, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.path.exists(path)
    assert rows(path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 4
    assert rows(path, "SELECT count(*) FROM MeterTable")[0][0] == 4
    assert verify(path) == []
    assert [name for name in os.listdir(os.path.dirname(path)) if name.startswith(".gmd-init-")] == []


def test_a_new_file_gets_the_users_usual_mode(tmp_path):
    path = str(tmp_path / "meter.db")
    old = os.umask(0o022)
    try:
        LocalTarget(path).init()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_init_force_refuses_a_database_open_in_wal_mode(tmp_path):
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    Scenario(meters=1, days=1, end=END).create(LocalTarget(path))
    holder = sqlite3.connect(path)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("INSERT INTO ArchInfo (RecordTypeId, Records) SELECT 999, 1 WHERE 0")
    assert os.path.exists(path + "-wal")
    with pytest.raises(TargetError, match="-wal exists"):
        LocalTarget(path).init(force=True)
    assert rows(path, "SELECT count(*) FROM MeterTable")[0][0] == 1
    holder.close()
