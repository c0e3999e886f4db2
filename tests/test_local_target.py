"""The local meter.db target: one transaction, nothing written on failure, exact cleanup."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest

from GenerateMeterData import (DatabaseLockedError, LocalTarget, Scenario, SchemaError,
                               TargetError, verify)
from GenerateMeterData.records.rows import RowSet
from GenerateMeterData.schema import create_schema
from GenerateMeterData.schema.layout import TABLE_COLUMNS
from helpers import hold_lock, rows, table_checksums

END = dt.date(2026, 3, 1)


def small(seed=1, meters=2):
    return Scenario(meters=meters, days=3, end=END, seed=seed)


def test_schema_columns_match_layout(db_path):
    for table, columns in TABLE_COLUMNS.items():
        assert tuple(r[1] for r in rows(db_path, f"PRAGMA table_info({table})")) == columns


def test_reference_tables_are_filled(db_path):
    assert rows(db_path, "SELECT count(*) FROM ArchTypes")[0][0] == 59
    assert rows(db_path, "SELECT Name FROM ArchTypes WHERE Id = 59") == [("PlsJrnlTimeCorr",)]
    assert rows(db_path, "SELECT Id, Class FROM MeterTypes WHERE Type = 'MILUR IC'") == [(94, "Hub")]
    assert {r[0] for r in rows(db_path, "SELECT Name FROM MeterIfaces")} == {
        "Iface1", "Iface2", "Iface3", "Iface4", "Ethernet", "Hub"}
    archinfo = dict(rows(db_path, "SELECT a.Name, i.Records FROM ArchInfo i JOIN ArchTypes a ON a.Id = i.RecordTypeId"))
    assert (archinfo["ElConfig"], archinfo["ElMomentEnergy"], archinfo["ElDayEnergy"], archinfo["ElMonthEnergy"],
            archinfo["ElArr1ConsPower"], archinfo["ElJrnlPwr"]) == (1, 840, 35, 12, 1680, 20)


def test_ids_are_resolved_by_name_from_the_target(tmp_path):
    """A firmware that numbers ArchTypes, MeterTypes and MeterIfaces differently still works."""
    path = str(tmp_path / "renumbered.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    create_schema(conn)
    conn.execute("UPDATE ArchTypes SET Id = Id + 100")
    conn.execute("UPDATE ArchInfo SET RecordTypeId = RecordTypeId + 100")
    conn.execute("UPDATE MeterTypes SET Id = Id + 1000")
    conn.execute("UPDATE MeterIfaces SET Id = Id + 50")
    conn.execute("COMMIT")
    conn.close()
    small().create(LocalTarget(path))
    assert rows(path, "SELECT min(RecordTypeId) > 100 FROM MeterData") == [(1,)]
    assert rows(path, "SELECT count(*) FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId "
                      "JOIN MeterIfaces i ON i.Id = m.InterfaceId")[0][0] == 2
    assert verify(path) == []


def test_failure_midway_leaves_database_unchanged(db_path):
    small(seed=1).create(LocalTarget(db_path))
    before = table_checksums(db_path)
    scenario = small(seed=2, meters=3)

    def produce(ids, names):
        for n, chunk in enumerate(scenario.generate(ids, names)):
            if n == 2:
                raise RuntimeError("generator died half-way")
            yield chunk

    with pytest.raises(RuntimeError):
        LocalTarget(db_path).load(produce)
    assert table_checksums(db_path) == before


def test_bad_row_rolls_back_everything(db_path):
    def produce(ids, names):
        yield from small().generate(ids, names)
        bad = RowSet()
        bad["MeterData"].append((1, 1, 5, 0, 1))  # Id 1 exists already
        yield bad

    before = table_checksums(db_path)
    with pytest.raises(TargetError):
        LocalTarget(db_path).load(produce)
    assert table_checksums(db_path) == before


def test_lock_released_within_timeout_waits_and_succeeds(db_path):
    ready = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(db_path, 1.0, ready))
    holder.start()
    ready.wait()
    summary = small().create(LocalTarget(db_path, busy_timeout=10))
    holder.join()
    assert summary.meters == 2
    assert rows(db_path, "SELECT count(*) FROM MeterTable")[0][0] == 2


def test_lock_held_past_timeout_is_a_clear_error(db_path):
    ready = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(db_path, 2.0, ready))
    holder.start()
    ready.wait()
    with pytest.raises(DatabaseLockedError, match="locked by another process for 0.3 s"):
        small().create(LocalTarget(db_path, busy_timeout=0.3))
    holder.join()
    assert rows(db_path, "SELECT count(*) FROM MeterTable")[0][0] == 0


def test_not_a_meter_db_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="is not a meter.db"):
        small().create(LocalTarget(str(path)))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(SchemaError, match="is not a meter.db"):
        small().create(LocalTarget(str(garbage)))


def test_clear_removes_exactly_what_was_written(db_path, seed_api_clock):
    small(seed=1).create(LocalTarget(db_path))
    # rows "the device" wrote itself, outside this tool
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO MeterData (DeviceIdx, RecordTypeId, Timestamp, Valid) VALUES (1, 4, 123, 1)")
    conn.execute("UPDATE ArchInfo SET Records = 77 WHERE RecordTypeId = 30")
    conn.commit()
    conn.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM GenerateMeterDataLedger")  # make those rows the device's own
    conn.commit()
    conn.close()
    before = table_checksums(db_path)
    target = LocalTarget(db_path)
    small(seed=2, meters=3).create(target)
    import GenerateMeterData
    GenerateMeterData.configure(target)
    GenerateMeterData.ElDayEnergy(MeterTable={"DeviceIdx": 1, "MeterId": 1001}, Count_timestamp=2)
    assert table_checksums(db_path) != before
    assert target.clear() == 2
    assert table_checksums(db_path) == before


def test_backup_and_restore(db_path, tmp_path):
    target = LocalTarget(db_path)
    small().create(target)
    copy = str(tmp_path / "backup.db")
    target.backup(copy)
    before = table_checksums(db_path)
    assert table_checksums(copy) == before
    target.clear()
    assert table_checksums(db_path) != before
    target.restore(copy)
    assert table_checksums(db_path) == before


def test_ten_meters_over_400_days_seed_then_verify(tmp_path):
    path = str(tmp_path / "big.db")
    summary = Scenario(meters=10, days=400, end=END, seed=1).create(LocalTarget(path))
    assert summary.meters == 10 and summary.total_rows > 1_000_000
    assert verify(path) == []
