"""The device-side merge as a pure module: the SQL text merge.py writes, run by a real sqlite3
shell on a local file -- no SSH server.  The same rows as a local load, ids mapped above what
the database holds, a changed reference table or a duplicate record stops it before COMMIT."""
from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import tempfile

import pytest

from GenerateMeterData import LocalTarget, Scenario, verify
from GenerateMeterData.records.rows import NameIndex
from GenerateMeterData.schema.layout import WRITE_ORDER
from GenerateMeterData.targets import merge
from GenerateMeterData.targets.sqltext import parse_quoted
from GenerateMeterData.targets.staging import stage, stage_schema_sql
from helpers import rows, table_checksums

END = dt.date(2026, 3, 1)
pytestmark = pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell (tests/run.sh installs it)")


def fingerprints(path):
    conn = sqlite3.connect(path)
    try:
        return {"ArchTypes": merge.fingerprint(conn.execute("SELECT Id, Name FROM ArchTypes")),
                "MeterTypes": merge.fingerprint(conn.execute("SELECT Id, Type FROM MeterTypes")),
                "MeterIfaces": merge.fingerprint(conn.execute("SELECT Id, Name FROM MeterIfaces"))}
    finally:
        conn.close()


def names_of(path):
    conn = sqlite3.connect(path)
    try:
        return NameIndex.from_connection(conn)
    finally:
        conn.close()


def merged(path, scenario, prints=None, commit=True, names=None):
    """Stage ``scenario`` as SQL text, merge it with the sqlite3 shell; (exit code, output rows)."""
    names = names or names_of(path)
    with tempfile.TemporaryDirectory() as workdir:
        staged = stage(scenario, names, workdir, text=True)
    script = merge.merge_script(stage_schema_sql("stage0") + staged.sql, staged.schemas, staged.summary.rows, staged.header_counts,
                                staged.created, "token-1", 1_700_000_000, prints or fingerprints(path))
    if commit:
        script += merge.commit_text()
    result = subprocess.run(["sqlite3", "-batch", "-bail", path], input=script, capture_output=True, text=True)
    return result.returncode, parse_quoted(result.stdout), staged.summary


def test_the_merge_lands_the_same_story_as_a_local_load_above_existing_ids(tmp_path):
    device = str(tmp_path / "device.db")
    Scenario(meters=2, days=3, end=END, seed=9).create(LocalTarget(device))  # data already there
    before = rows(device, "SELECT (SELECT max(DeviceIdx) FROM MeterTable), (SELECT max(MeterId) FROM MeterTable), "
                          "(SELECT max(Id) FROM MeterData)")[0]
    code, output, summary = merged(device, Scenario(meters=3, days=3, end=END, seed=1))
    assert code == 0 and (merge.COMMITTED,) in output
    hid0, counts, meters = merge.parse_ready(output)
    assert counts == [summary.rows.get(t, 0) for t in WRITE_ORDER]
    assert hid0 == before[2]
    assert [m[1] for m in meters] == [before[0] + 1, before[0] + 2, before[0] + 3]  # DeviceIdx after the max
    assert [m[0] for m in meters] == [before[1] + 1, before[1] + 2, before[1] + 3]  # MeterIds after the max
    local = str(tmp_path / "local.db")
    Scenario(meters=3, days=3, end=END, seed=1).create(LocalTarget(local))
    story = ("SELECT m.Timestamp, m.RecordTypeId, e.Tariff, e.Ap, e.Am, e.Rp, e.Rm, t.MeterId - {0} FROM MeterData m "
             "JOIN ElectricEnergyValues e ON e.Id = m.Id JOIN MeterTable t ON t.DeviceIdx = m.DeviceIdx "
             "WHERE t.MeterId > {0}")
    assert sorted(rows(device, story.format(before[1])), key=repr) == sorted(rows(local, story.format(1000)), key=repr)
    assert verify(device) == []


def test_a_changed_reference_table_stops_the_merge_before_commit(tmp_path):
    device = str(tmp_path / "device.db")
    LocalTarget(device).init()
    prints, names = fingerprints(device), names_of(device)  # what the client read, before the change
    conn = sqlite3.connect(device)
    conn.execute("UPDATE MeterTypes SET Type = 'SE303-renamed' WHERE Type = 'SE303'")
    conn.commit()
    conn.close()
    before = table_checksums(device)
    code, output, _ = merged(device, Scenario(meters=1, days=1, end=END), prints=prints, names=names)
    assert code != 0
    changed = merge.changed_tables(output)
    assert list(changed) == ["MeterTypes"]
    assert "SE303 -> SE303-renamed" in merge.describe_change(prints["MeterTypes"], changed["MeterTypes"])
    assert table_checksums(device) == before


def test_a_record_that_exists_on_an_existing_meter_stops_the_merge(tmp_path):
    from GenerateMeterData.generate.emit import Emitter
    from GenerateMeterData.generate.overrides import Overrides
    from GenerateMeterData.records.rows import RowSet
    from GenerateMeterData.model.timegrid import zone

    device = str(tmp_path / "device.db")
    Scenario(meters=1, days=2, end=END).create(LocalTarget(device))
    device_idx, rtid, ts = rows(device, "SELECT DeviceIdx, RecordTypeId, Timestamp FROM MeterData LIMIT 1")[0]
    name = rows(device, "SELECT Name FROM ArchTypes WHERE Id = ?", (rtid,))[0][0]

    def again(ids, names):  # the same (meter, archive, timestamp), with Valid = 0
        out = RowSet()
        Emitter(out, ids, names, Overrides.coerce(None), zone("Europe/Moscow")).record(name, device_idx, None, ts, 0, None)
        yield out

    before = table_checksums(device)
    code, output, _ = merged(device, again)
    assert code != 0 and (merge.DUPLICATE,) in output
    assert table_checksums(device) == before


def test_without_commit_nothing_stays(tmp_path):
    device = str(tmp_path / "device.db")
    LocalTarget(device).init()
    before = table_checksums(device)
    code, output, _ = merged(device, Scenario(meters=2, days=2, end=END), commit=False)
    assert code == 0 and merge.parse_ready(output)[1]  # it reached READY ... and then end of input
    assert table_checksums(device) == before
