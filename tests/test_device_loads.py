"""Loads into a device the way a bench uses it: many small loads over one kept connection,
several testers at once, a device changed under a cached state.  A real OpenSSH server on
loopback with the stock sqlite3 binary is the device."""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

import GenerateMeterData
from GenerateMeterData import DuplicateRecordError, MeterPlan, Scenario, SchemaError, verify
from GenerateMeterData.targets import merge
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import all_at_once, rows, table_checksums
from conftest import in_both_modes

device = in_both_modes()  # every device test here runs resident and per command

END = dt.date(2026, 3, 1)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = "GenerateMeterDataLedger"


def small(meters=1, days=2, seed=3):
    return Scenario(meters=meters, days=days, end=END, seed=seed)


def test_summary_names_the_meters_the_load_created(device):
    small(meters=2, seed=9).create(GenerateMeterData.LocalTarget(device.path))  # someone else's meters
    with DeviceTarget(device.settings()) as target:
        summary = small(meters=3).create(target)
    assert len(summary.meter_ids) == 3 and len(set(summary.meter_ids)) == 3
    on_device = rows(device.path, "SELECT MeterId, DeviceIdx FROM MeterTable WHERE DeviceIdx IN (?, ?, ?) "
                                  "ORDER BY DeviceIdx", tuple(summary.device_idxs))
    assert on_device == list(zip(summary.meter_ids, summary.device_idxs))
    types = dict(rows(device.path, "SELECT t.MeterId, y.Type FROM MeterTable t JOIN MeterTypes y ON y.Id = t.TypeId"))
    assert [m.type_name for m in summary.created] == [types[m] for m in summary.meter_ids]
    # the records of the load are the ones numbered from first_record_id on
    first = rows(device.path, "SELECT min(Id) FROM MeterData WHERE DeviceIdx IN (?, ?, ?)", tuple(summary.device_idxs))
    assert first[0][0] == summary.first_record_id


def test_one_login_and_one_round_trip_per_load_and_per_clear(device):
    """Per command: one remote command per load and per clear.  Resident: none started after
    the first load; each load and clear is one exchange with the resident sqlite3."""
    target = DeviceTarget(device.settings())
    small().create(target)  # the first load also reads the device's state once
    before, exchanges = target.commands, target.session.resident.exchanges
    summaries = [small(seed=s).create(target) for s in (4, 5, 6)]
    resident = device.resident == "auto"
    assert (target.commands - before, target.session.resident.exchanges - exchanges) == ((0, 3) if resident else (3, 0))
    before, exchanges = target.commands, target.session.resident.exchanges
    assert target.clear([summaries[0].token]) == 1
    assert (target.commands - before, target.session.resident.exchanges - exchanges) == ((0, 1) if resident else (1, 0))
    assert target.logins == 1
    target.close()


def test_a_connection_dropped_between_loads_is_reopened(device):
    target = DeviceTarget(device.settings())
    small().create(target)
    target.executor.client.close()  # the device rebooted, the network blinked ...
    summary = small(seed=8).create(target)
    assert summary.meters == 1 and target.logins == 2
    assert verify(device.path) == []
    target.close()


def test_concurrent_api_loads_into_one_device_all_succeed(device):
    def load(seed):
        with DeviceTarget(device.settings(busy_timeout=60)) as target:
            return small(meters=2, days=3, seed=seed).create(target)

    results, errors = all_at_once(load, range(6))
    assert errors == []
    meter_ids = [m for summary in results for m in summary.meter_ids]
    assert len(meter_ids) == 12 and len(set(meter_ids)) == 12
    assert rows(device.path, f"SELECT count(*) FROM {LEDGER}")[0][0] == 6
    assert sorted(r[0] for r in rows(device.path, "SELECT MeterId FROM MeterTable")) == sorted(meter_ids)
    assert verify(device.path) == []  # every load whole


def test_concurrent_cli_seeds_into_one_device_all_succeed(device, tmp_path):
    (tmp_path / "settings.ini").write_text(device.ini("busy_timeout = 60\n"), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=REPO)
    processes = [subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "seed", "--section", "Test",
                                   "--meters", "2", "--days", "3", "--end", "2026-03-01", "--seed", str(seed)],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for seed in range(6)]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
    assert [code for code, _ in outcomes] == [0] * 6, outcomes
    assert rows(device.path, "SELECT count(*), count(DISTINCT MeterId) FROM MeterTable") == [(12, 12)]
    assert rows(device.path, f"SELECT count(*) FROM {LEDGER}")[0][0] == 6
    assert verify(device.path) == []


def test_a_fixed_meter_id_that_exists_still_fails_clearly(device):
    with DeviceTarget(device.settings()) as target:
        Scenario(meters=[MeterPlan("SE303", table={"MeterId": 4242})], days=1, end=END).create(target)
        before = table_checksums(device.path)
        with pytest.raises(DuplicateRecordError, match="MeterId already exists"):
            Scenario(meters=[MeterPlan("SE303", table={"MeterId": 4242})], days=1, end=END).create(target)
    assert table_checksums(device.path) == before


def test_auto_meter_ids_go_above_a_fixed_one_of_the_same_load(device):
    with DeviceTarget(device.settings()) as target:
        summary = Scenario(meters=[MeterPlan("SE303", table={"MeterId": 1001}), MeterPlan("SE303", count=2)],
                           days=1, end=END).create(target)
    assert summary.meter_ids == [1001, 1002, 1003]


def test_reference_tables_changed_since_they_were_read_fail_before_commit(device):
    target = DeviceTarget(device.settings())
    small().create(target)  # the state is read and cached now
    conn = sqlite3.connect(device.path)
    conn.execute("UPDATE ArchTypes SET Name = 'ProfileRenamed' WHERE Name = 'ElArr1ConsPower'")
    conn.commit()
    conn.close()
    before = table_checksums(device.path)
    with pytest.raises(SchemaError, match=r"ArchTypes: Id \d+: ElArr1ConsPower -> ProfileRenamed"):
        small(seed=5).create(target)
    assert table_checksums(device.path) == before
    # the state is read again for the next load: it now fails on the missing name, before staging
    with pytest.raises(SchemaError, match="ElArr1ConsPower"):
        small(seed=5).create(target)
    target.close()


def test_clear_keeps_an_archinfo_value_an_operator_changed(device):
    archinfo = "SELECT RecordTypeId, Records FROM ArchInfo ORDER BY RecordTypeId"
    before_load = dict(rows(device.path, archinfo))
    with DeviceTarget(device.settings()) as target:
        summary = small(meters=2, days=60).create(target)
        raised = sorted(rt for rt, n in rows(device.path, archinfo) if n != before_load[rt])
        assert len(raised) >= 2  # a load of 60 days raises several archives' Records
        conn = sqlite3.connect(device.path)
        conn.execute("UPDATE ArchInfo SET Records = 3000 WHERE RecordTypeId = ?", (raised[0],))
        conn.commit()
        conn.close()
        assert target.clear([summary.token]) == 1
    after = dict(rows(device.path, archinfo))
    assert after[raised[0]] == 3000  # the operator's value stays
    assert {rt: after[rt] for rt in raised[1:]} == {rt: before_load[rt] for rt in raised[1:]}


def test_clear_of_an_unknown_token_removes_nothing(device):
    with DeviceTarget(device.settings()) as target:
        small().create(target)
        before = table_checksums(device.path)
        assert target.clear(["no-such-token"]) == 0
    assert table_checksums(device.path) == before


def test_fingerprint_matches_what_the_device_computes(tmp_path):
    """The client's fingerprint of (Id, name) pairs equals the SQL the device runs."""
    path = str(tmp_path / "meter.db")
    GenerateMeterData.LocalTarget(path).init()
    conn = sqlite3.connect(path)
    for table, sql in merge.FINGERPRINTS.items():
        name = "Type" if table == "MeterTypes" else "Name"
        pairs = conn.execute(f"SELECT Id, {name} FROM {table}").fetchall()
        assert conn.execute(sql.replace("main.", "")).fetchone()[0] == merge.fingerprint(pairs)
    conn.close()


def test_max_rows_per_load_splits_into_transactions_under_one_token(device, tmp_path):
    hubs = [MeterPlan("MILUR IC", children=[MeterPlan("MILUR30x", count=2)]), MeterPlan("SE303", count=2)]
    plan = lambda: Scenario(meters=hubs, days=4, end=END, seed=12)  # noqa: E731
    local = str(tmp_path / "local.db")
    whole = plan().create(GenerateMeterData.LocalTarget(local))
    before = table_checksums(device.path)
    with DeviceTarget(device.settings(max_rows_per_load=1500)) as target:
        summary = plan().create(target)
        entries = rows(device.path, f"SELECT Token FROM {LEDGER}")
        assert len(entries) >= 3 and {e[0] for e in entries} == {summary.token}  # several transactions
        assert summary.rows == whole.rows and summary.meters == 5
        assert [load.meter_ids for load in target.loads()] == [tuple(summary.meter_ids)]
        # children name their hub's MeterId, though the hub was merged in an earlier part
        hub_id = summary.meter_ids[0]
        assert rows(device.path, "SELECT count(*) FROM MeterTable WHERE ParentId = ?", (hub_id,)) == [(2,)]
        assert rows(device.path, "SELECT count(DISTINCT DeviceIdx), max(DeviceIdx) - min(DeviceIdx) FROM MeterTable") \
            == [(5, 4)]  # no gaps in DeviceIdx
        assert verify(device.path) == []
        assert target.clear([summary.token]) == 1  # one load, however many parts (it counted parts)
    assert table_checksums(device.path) == before


def test_all_sections_naming_the_same_device_database_all_load(device, tmp_path):
    ini = device.ini("busy_timeout = 60\n", section="A") + "\n" + device.ini("busy_timeout = 60\n", section="B")
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "GenerateMeterData", "seed", "--all-sections", "--meters", "2",
                             "--days", "2", "--end", "2026-03-01"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(device.path, "SELECT count(*), count(DISTINCT MeterId) FROM MeterTable") == [(4, 4)]
    assert rows(device.path, f"SELECT count(*) FROM {LEDGER}")[0][0] == 2
    assert verify(device.path) == []


def test_text_with_a_nul_travels_in_a_stage_file_or_is_refused_clearly(device):
    from GenerateMeterData import InputError

    nul = "before\x00after"
    plan = [MeterPlan("SE303", table={"Address": nul})]
    with DeviceTarget(device.settings()) as target:  # auto: too odd for SQL text, so a stage file
        Scenario(meters=plan, days=1, end=END).create(target)
    conn = sqlite3.connect(device.path)
    conn.text_factory = bytes
    assert conn.execute("SELECT Address FROM MeterTable").fetchall() == [(nul.encode(),)]
    conn.close()
    before = table_checksums(device.path)
    with DeviceTarget(device.settings(upload="sql")) as target:
        with pytest.raises(InputError, match="NUL.*upload = staged"):
            Scenario(meters=plan, days=1, end=END, seed=2).create(target)
    assert table_checksums(device.path) == before


def test_a_load_made_while_a_clear_runs_is_not_removed_by_it(device, tmp_path):
    """Issue 14 #4, forced: clear #1 lists the ledger and is held there (a device-side sqlite3
    wrapper sleeps on the READY line, inside the clear's transaction); load B starts meanwhile.
    B must wait for the lock and survive: a clear deletes only what it listed."""
    import time as _time

    mark = tmp_path / "listed"
    slow = tmp_path / "slow-sqlite3"
    slow.write_text("#!/bin/sh\n"
                    "sqlite3 \"$@\" | while IFS= read -r line; do\n"
                    f"  case \"$line\" in *GMD-READY*) touch {mark}; sleep 3;; esac\n"
                    "  printf '%s\\n' \"$line\"\n"
                    "done\n")
    slow.chmod(0o755)
    with DeviceTarget(device.settings()) as target:
        first = small(seed=1).create(target)
    results = {}

    def clear_all():
        with DeviceTarget(device.settings(sqlite3=str(slow))) as clearing:
            results["cleared"] = clearing.clear()

    clearing_thread = threading.Thread(target=clear_all)
    clearing_thread.start()
    deadline = _time.monotonic() + 60
    while not mark.exists():
        assert _time.monotonic() < deadline and clearing_thread.is_alive()
        _time.sleep(0.05)
    with DeviceTarget(device.settings(busy_timeout=60)) as target:
        second = small(seed=2).create(target)  # waits for the clear's lock, then lands
    clearing_thread.join()
    assert results["cleared"] == 1
    assert sorted(r[0] for r in rows(device.path, "SELECT MeterId FROM MeterTable")) == second.meter_ids
    assert rows(device.path, f"SELECT Token FROM {LEDGER}") == [(second.token,)]
    assert first.token != second.token
    assert verify(device.path) == []


def test_command_timeout_does_not_count_local_staging(device):
    """A producer slower than command_timeout: the deadline starts with the remote command."""
    import time as _time

    scenario = small(days=1)

    def slow(ids, names):
        _time.sleep(3.0)  # staging work here, before any remote command runs
        yield from scenario(ids, names)

    with DeviceTarget(device.settings(command_timeout=2.0)) as target:
        target.check()
        summary = target.load(slow)
    assert summary.meters == 1 and summary.token
    assert verify(device.path) == []


def test_max_rows_per_load_never_cuts_a_long_meter_in_two(device):
    """A meter longer than one RowSet (it arrives in several) stays whole within one part."""
    before = table_checksums(device.path)
    with DeviceTarget(device.settings(max_rows_per_load=20_000, command_timeout=600)) as target:
        summary = Scenario(meters=[MeterPlan("SE303", count=2)], days=200, end=END, seed=21).create(target)
        parts = rows(device.path, f"SELECT count(*) FROM {LEDGER}")[0][0]
        assert parts == 2 and summary.meters == 2  # one part per meter: a cut falls between meters only
        assert rows(device.path, "SELECT count(*) FROM MeterData WHERE DeviceIdx NOT IN "
                                 "(SELECT DeviceIdx FROM MeterTable)") == [(0,)]
        assert verify(device.path) == []
        target.clear([summary.token])
    assert table_checksums(device.path) == before


@pytest.mark.parametrize("upload", ["sql", "staged"])
def test_a_device_that_numbers_its_names_otherwise_gets_its_own_ids(device, upload):
    """The rows are staged while the device's state is read, numbered as a fresh meter.db numbers
    the reference names; a device whose ArchTypes, MeterTypes and MeterIfaces have other ids has
    them staged again with its own: every record of the load names its types by the device's ids."""
    with sqlite3.connect(device.path) as conn:
        conn.execute("UPDATE ArchTypes SET Id = Id + 100")
        conn.execute("UPDATE ArchInfo SET RecordTypeId = RecordTypeId + 100")
        conn.execute("UPDATE MeterTypes SET Id = Id + 1000")
        conn.execute("UPDATE MeterIfaces SET Id = Id + 50")
    with DeviceTarget(device.settings(upload=upload)) as target:
        summary = small(meters=2).create(target)
    assert summary.meters == 2
    assert rows(device.path, "SELECT min(RecordTypeId) > 100, count(*) FROM MeterData") == [(1, summary.rows["MeterData"])]
    assert rows(device.path, "SELECT count(*) FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId") == \
        [(summary.rows["MeterData"],)]
    assert rows(device.path, "SELECT count(*) FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId "
                             "JOIN MeterIfaces i ON i.Id = m.InterfaceId") == [(2,)]
    assert verify(device.path) == []
