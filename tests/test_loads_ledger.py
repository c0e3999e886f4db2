"""Loads as first-class things: listed with who made them and what they created, removed one by
one or meter by meter -- the same on a local file and on a device (real loopback sshd)."""
from __future__ import annotations

import datetime as dt
import getpass
import socket
import sqlite3

import pytest

from GenerateMeterData import InputError, Scenario, verify
from helpers import rows, table_checksums

END = dt.date(2026, 3, 1)


def test_loads_lists_token_who_command_meters_and_rows(target_and_path):
    target, path = target_and_path
    target.command = "seed --meters 2 --days 3"
    first = Scenario(meters=2, days=3, end=END, seed=1).create(target)
    target.command = None  # the running program's own name and arguments
    second = Scenario(meters=1, days=1, end=END, seed=2).create(target)
    listed = target.loads()
    assert [load.token for load in listed] == [first.token, second.token]
    assert listed[0].command == "seed --meters 2 --days 3"
    assert listed[1].command and listed[1].command != listed[0].command
    assert listed[0].created_by == f"{getpass.getuser()}@{socket.gethostname()}"
    assert listed[0].meter_ids == tuple(first.meter_ids)
    assert listed[1].meter_ids == tuple(second.meter_ids)
    assert listed[0].rows == first.total_rows
    assert abs(listed[0].created_at - __import__("time").time()) < 3600


def test_clear_one_load_leaves_the_others(target_and_path):
    target, path = target_and_path
    first = Scenario(meters=1, days=2, end=END, seed=1).create(target)
    kept = table_checksums(path)
    second = Scenario(meters=2, days=2, end=END, seed=2).create(target)
    assert target.clear(tokens=[second.token]) == 1
    assert table_checksums(path) == kept
    assert [load.token for load in target.loads()] == [first.token]


def test_clear_a_meter_removes_only_that_meter(target_and_path):
    target, path = target_and_path
    summary = Scenario(meters=3, days=2, end=END, seed=1).create(target)
    gone, *stay = summary.meter_ids
    assert target.clear(meters=[gone]) == 1
    assert sorted(r[0] for r in rows(path, "SELECT MeterId FROM MeterTable")) == sorted(stay)
    device_idx = summary.device_idxs[0]
    for table in ("MeterData", "ElectricConfig"):
        assert rows(path, f"SELECT count(*) FROM {table} WHERE DeviceIdx = ?", (device_idx,)) == [(0,)]
    assert rows(path, "SELECT count(*) FROM ElectricEnergyValues e LEFT JOIN MeterData m ON m.Id = e.Id "
                      "WHERE m.Id IS NULL") == [(0,)]  # no orphaned values
    assert verify(path) == []


def test_clear_counts_meters_given_as_an_iterator(target_and_path):
    # found by mypy's reading of LocalTarget.clear: the plan consumed a generator of MeterIds, and
    # the local target then counted what was left of it (0); the device target listed it first
    target, path = target_and_path
    summary = Scenario(meters=3, days=1, end=END, seed=1).create(target)
    gone = summary.meter_ids[:2]
    assert target.clear(meters=(meter_id for meter_id in gone)) == 2
    assert sorted(r[0] for r in rows(path, "SELECT MeterId FROM MeterTable")) == sorted(summary.meter_ids[2:])


def test_clear_refuses_a_meter_this_tool_did_not_create(target_and_path):
    target, path = target_and_path
    Scenario(meters=1, days=1, end=END).create(target)
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(MeterTable)")]
    others = ", ".join(c for c in columns if c not in ("DeviceIdx", "MeterId"))
    conn.execute(f"INSERT INTO MeterTable (DeviceIdx, MeterId, {others}) SELECT 900, 77, {others} FROM MeterTable LIMIT 1")
    conn.commit()
    conn.close()
    before = table_checksums(path)
    with pytest.raises(InputError, match="meter 77 was not created by GenerateMeterData"):
        target.clear(meters=[77])
    with pytest.raises(InputError, match="meter 555 is not in the database"):
        target.clear(meters=[555])
    assert table_checksums(path) == before


def test_a_load_of_nothing_leaves_no_ledger_entry(target_and_path):
    target, path = target_and_path
    summary = Scenario(meters=0, days=1, end=END).create(target)
    assert summary.token is None and summary.total_rows == 0
    assert target.loads() == []
