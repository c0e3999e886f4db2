"""`clear` removes only what a load wrote, whatever happened since: the tool's own `clear --meter`,
the device (or an operator) adding meters and readings that reuse freed ids, another user's load,
a VACUUM renumbering the config tables -- on a local file and on a device over the test sshd.
Every row the load did not write must come out byte-identical (full dumps compared)."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Dict, List

import pytest

from GenerateMeterData import InputError, LocalTarget, Scenario, SchemaError
from GenerateMeterData.generate.scenario import MeterPlan
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import execute, rows
from test_data_safety import small_tmpfs  # noqa: F401  (a fixture)

END = dt.date(2026, 3, 1)
TABLES = ("MeterTable", "ElectricConfig", "PulseConfig", "DigitalConfig", "MeterData", "ElectricEnergyValues",
          "ElectricQualityValues", "ElectricPowerValues", "PulseValues", "DigitalValues", "JournalValues")


def dump(path: str) -> Dict[str, List[tuple]]:
    """Every row of every data table (config tables with their rowid, as a VACUUM may move it)."""
    conn = sqlite3.connect(path)
    try:
        return {table: sorted(conn.execute(f"SELECT * FROM {table}"), key=repr) for table in TABLES}
    finally:
        conn.close()


def without(before: Dict[str, List[tuple]], after: Dict[str, List[tuple]]) -> Dict[str, List[tuple]]:
    """The rows of ``after`` that were not in ``before`` (what was added in between)."""
    return {t: [r for r in after[t] if r not in before[t]] for t in TABLES}


def device_adds_meter(path: str, meter_id: int, *, reading: bool = True, config: bool = True,
                      parent: int = 0) -> int:
    """What the device's own daemon does, in plain SQL: a meter at the next DeviceIdx (reusing a
    freed one), a config row and a day reading at the next MeterData.Id (reusing freed ids)."""
    conn = sqlite3.connect(path)
    with conn:
        device = conn.execute("SELECT coalesce(max(DeviceIdx), 0) + 1 FROM MeterTable").fetchone()[0]
        conn.execute("INSERT INTO MeterTable (DeviceIdx, MeterId, ParentId, TypeId, Address, InterfaceId) "
                     "VALUES (?, ?, ?, (SELECT min(Id) FROM MeterTypes), 'dev', (SELECT min(Id) FROM MeterIfaces))",
                     (device, meter_id, parent))
        if config:
            conn.execute("INSERT INTO ElectricConfig (DeviceIdx, Timestamp, Serial, Model, IntervalPowerArrays) "
                         "VALUES (?, 1767225600, 'DEV-SERIAL', 'device', 1)", (device,))
        if reading:
            header = conn.execute("SELECT coalesce(max(Id), 0) + 1 FROM MeterData").fetchone()[0]
            conn.execute("INSERT INTO MeterData (Id, DeviceIdx, RecordTypeId, Timestamp) VALUES "
                         "(?, ?, (SELECT Id FROM ArchTypes WHERE Name = 'ElDayEnergy'), 1767225600)", (header, device))
            conn.execute("INSERT INTO ElectricEnergyValues (Id, Tariff, Ap) VALUES (?, 0, 123.5)", (header,))
    conn.close()
    return device


def meter_ids(path: str) -> List[int]:
    return sorted(r[0] for r in rows(path, "SELECT MeterId FROM MeterTable"))


def test_clear_of_a_load_leaves_the_devices_meter_on_reused_ids_untouched(target_and_path):
    target, path = target_and_path
    a = Scenario(meters=2, days=2, end=END, seed=1).create(target)
    first, second = a.meter_ids
    top = rows(path, "SELECT max(Id) FROM MeterData")[0][0]
    assert target.clear(meters=[second]) == 1
    before = dump(path)
    device = device_adds_meter(path, 7)
    # the device reused what the clear freed: the second meter's DeviceIdx and record ids
    assert device == a.device_idxs[1]
    assert rows(path, "SELECT max(Id) FROM MeterData")[0][0] <= top
    foreign = without(before, dump(path))
    assert target.clear(tokens=[a.token]) == 1
    assert dump(path) == foreign  # only the device's rows are left, each byte-identical
    assert meter_ids(path) == [7]
    assert target.loads() == []


def test_a_colleagues_load_made_after_clear_meter_survives_and_stays_listed(target_and_path):
    target, path = target_and_path
    a = Scenario(meters=2, days=2, end=END, seed=1).create(target)
    target.clear(meters=[a.meter_ids[1]])
    before = dump(path)
    b = Scenario(meters=1, days=2, end=END, seed=2).create(target)
    assert b.device_idxs == [a.device_idxs[1]]  # the freed DeviceIdx (and MeterId) handed out again
    theirs = without(before, dump(path))
    assert target.clear(tokens=[a.token]) == 1
    assert dump(path) == theirs
    listed = target.loads()
    assert [(load.token, load.meter_ids, load.rows) for load in listed] == [(b.token, tuple(b.meter_ids), b.total_rows)]
    assert target.clear(tokens=[b.token]) == 1
    assert meter_ids(path) == [] and target.loads() == []


def test_after_vacuum_the_devices_newer_config_row_survives(target_and_path):
    target, path = target_and_path
    device_adds_meter(path, 7, reading=False)  # a meter the device had before the load
    a = Scenario(meters=2, days=2, end=END, seed=1).create(target)
    target.clear(meters=[a.meter_ids[0]])  # frees config rowids in the middle
    execute(path, "INSERT INTO ElectricConfig (DeviceIdx, Timestamp, Serial, Model, IntervalPowerArrays) "
                  "VALUES (1, 1767312000, 'DEV-NEWER', 'device', 1)")
    execute(path, "VACUUM")  # renumbers ElectricConfig's rowids: the newer row moves down
    assert target.clear(tokens=[a.token]) == 1
    assert rows(path, "SELECT DeviceIdx, Serial FROM ElectricConfig ORDER BY Timestamp") == [
        (1, "DEV-SERIAL"), (1, "DEV-NEWER")]
    assert meter_ids(path) == [7]


def test_rows_a_load_added_to_a_devices_meter_go_and_the_devices_own_stay(target_and_path):
    """A load may add records and configs to a meter it did not create (capture, the seed API):
    those are owned by key, and only those go."""
    target, path = target_and_path
    device = device_adds_meter(path, 7)
    before = dump(path)
    from GenerateMeterData import seedapi
    from GenerateMeterData.targets import set_default_target

    seedapi.configure(target)
    try:
        seedapi.ElConfig(MeterTable={"DeviceIdx": device, "MeterId": 7})
    finally:
        set_default_target(None)
    added = without(before, dump(path))
    assert added["ElectricConfig"] and not added["MeterTable"]
    for token in {load.token for load in target.loads()}:
        target.clear(tokens=[token])
    assert dump(path) == before


def test_clear_meter_refuses_a_meter_the_device_made_also_in_a_dry_run(tmp_path):
    path = str(tmp_path / "meter.db")
    a = Scenario(meters=2, days=2, end=END, seed=1).create(LocalTarget(path))
    LocalTarget(path).clear(meters=[a.meter_ids[1]])
    device_adds_meter(path, 7)  # on the DeviceIdx the load once had
    before = dump(path)
    from test_cli import cli

    for extra in (["--dry-run"], []):
        result = cli("clear", "--db", path, "--meter", "7", *extra)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "meter 7 was not created by GenerateMeterData" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert dump(path) == before


def test_clear_meter_shrinks_the_entry_and_the_last_meter_takes_it(target_and_path):
    target, path = target_and_path
    a = Scenario(meters=2, days=1, end=END, seed=1).create(target)
    target.clear(meters=[a.meter_ids[1]])
    assert [(load.token, load.meter_ids) for load in target.loads()] == [(a.token, (a.meter_ids[0],))]
    target.clear(meters=[a.meter_ids[0]])
    assert target.loads() == []
    assert rows(path, "SELECT count(*) FROM GenerateMeterDataOwned") == [(0,)]


def test_a_hub_goes_with_the_meters_this_tool_put_under_it(target_and_path):
    target, path = target_and_path
    hub = Scenario(meters=[MeterPlan(type="SE303", children=[MeterPlan(type="SE303", count=2)])],
                   days=1, end=END, seed=1).create(target)
    other = Scenario(meters=1, days=1, end=END, seed=2).create(target)
    parent = hub.meter_ids[0]
    assert sorted(r[0] for r in rows(path, "SELECT MeterId FROM MeterTable WHERE ParentId = ?", (parent,))) \
        == sorted(hub.meter_ids[1:])
    assert target.clear(meters=[parent]) == 1
    assert sorted(target.last_clear.meter_ids) == sorted(hub.meter_ids)
    assert meter_ids(path) == other.meter_ids  # no orphaned children
    assert [load.token for load in target.loads()] == [other.token]


def test_a_hub_with_a_meter_the_device_put_under_it_is_refused(target_and_path):
    target, path = target_and_path
    a = Scenario(meters=1, days=1, end=END, seed=1).create(target)
    device_adds_meter(path, 8, parent=a.meter_ids[0])
    before = dump(path)
    with pytest.raises(InputError, match=f"meter {a.meter_ids[0]} is a hub with meter 8 under it"):
        target.clear(meters=[a.meter_ids[0]])
    with pytest.raises(InputError, match="meter 8 under it"):
        target.clear(tokens=[a.token])
    assert dump(path) == before


@pytest.mark.parametrize("order", ["oldest first", "newest first"])
def test_archinfo_goes_back_whatever_order_the_loads_are_cleared_in(tmp_path, order):
    path = str(tmp_path / "meter.db")
    target = LocalTarget(path)
    target.init()
    execute(path, "UPDATE ArchInfo SET Records = 1")
    original = rows(path, "SELECT RecordTypeId, Records FROM ArchInfo ORDER BY RecordTypeId")
    a = Scenario(meters=1, days=2, end=END, seed=1).create(target)
    raised_a = rows(path, "SELECT RecordTypeId, Records FROM ArchInfo ORDER BY RecordTypeId")
    b = Scenario(meters=1, days=4, end=END, seed=2).create(target)
    raised_b = rows(path, "SELECT RecordTypeId, Records FROM ArchInfo ORDER BY RecordTypeId")
    assert raised_a != original and raised_b != raised_a  # each load raised some depth
    tokens = [a.token, b.token] if order == "oldest first" else [b.token, a.token]
    target.clear(tokens=[tokens[0]])
    # the load that stays still has its depth
    assert rows(path, "SELECT RecordTypeId, Records FROM ArchInfo ORDER BY RecordTypeId") == \
        (raised_b if order == "oldest first" else raised_a)
    target.clear(tokens=[tokens[1]])
    assert rows(path, "SELECT RecordTypeId, Records FROM ArchInfo ORDER BY RecordTypeId") == original


def test_an_operators_archinfo_change_in_between_stays(tmp_path):
    path = str(tmp_path / "meter.db")
    target = LocalTarget(path)
    target.init()
    execute(path, "UPDATE ArchInfo SET Records = 1")
    a = Scenario(meters=1, days=2, end=END, seed=1).create(target)
    execute(path, "UPDATE ArchInfo SET Records = 5000")  # the operator sets a deeper retention
    target.clear(tokens=[a.token])
    assert set(r[0] for r in rows(path, "SELECT Records FROM ArchInfo")) == {5000}


def _as_old_entry(path: str) -> None:
    """Rewrite the ledger as the range scheme wrote it: ranges filled in, no ownership rows."""
    conn = sqlite3.connect(path)
    with conn:
        for load_id, in list(conn.execute("SELECT LoadId FROM GenerateMeterDataLedger")):
            devices = [r[0] for r in conn.execute(
                "SELECT DeviceIdx FROM GenerateMeterDataOwned WHERE LoadId = ? AND What = 'MeterTable'", (load_id,))]
            first, last = min(devices), max(devices)
            h_first, h_last = conn.execute(
                f"SELECT min(Id), max(Id) FROM MeterData WHERE DeviceIdx BETWEEN {first} AND {last}").fetchone()
            c_first, c_last = conn.execute(
                f"SELECT min(rowid), max(rowid) FROM ElectricConfig WHERE DeviceIdx BETWEEN {first} AND {last}").fetchone()
            conn.execute("UPDATE GenerateMeterDataLedger SET DeviceFirst = ?, DeviceLast = ?, HeaderFirst = ?, "
                         "HeaderLast = ?, ConfigRowids = ? WHERE LoadId = ?",
                         (first, last, h_first, h_last, f"ElectricConfig:{c_first}-{c_last}", load_id))
        conn.execute("DELETE FROM GenerateMeterDataOwned")
    conn.close()


def test_a_ledger_of_the_range_scheme_is_still_cleared(target_and_path):
    target, path = target_and_path
    empty = dump(path)
    a = Scenario(meters=2, days=1, end=END, seed=1).create(target)
    b = Scenario(meters=1, days=1, end=END, seed=2).create(target)
    _as_old_entry(path)
    target.clear(meters=[a.meter_ids[1]])
    assert [load.meter_ids for load in target.loads()] == [(a.meter_ids[0],), tuple(b.meter_ids)]
    assert target.clear() == 2
    assert dump(path) == empty


def test_a_range_scheme_entry_whose_ranges_now_hold_other_rows_is_refused(target_and_path):
    target, path = target_and_path
    a = Scenario(meters=2, days=1, end=END, seed=1).create(target)
    _as_old_entry(path)
    target.clear(meters=[a.meter_ids[1]])
    device_adds_meter(path, 7)  # reuses the freed DeviceIdx and record ids: inside the old ranges
    before = dump(path)
    with pytest.raises(SchemaError, match="older GenerateMeterData as id ranges"):
        target.clear(tokens=[a.token])
    assert dump(path) == before


def test_a_ledger_with_a_missing_column_is_called_damaged_never_init(tmp_path):
    path = str(tmp_path / "meter.db")
    Scenario(meters=1, days=1, end=END).create(LocalTarget(path))
    execute(path, "ALTER TABLE GenerateMeterDataLedger RENAME COLUMN ArchInfoBefore TO Something")
    from test_cli import cli

    result = cli("clear", "--db", path, "--all")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ledger" in result.stderr and "damaged" in result.stderr
    assert "'init'" not in result.stderr and "with init" not in result.stderr
    listed = cli("loads", "--db", path)
    assert listed.returncode == 2 and "damaged" in listed.stderr and "'init'" not in listed.stderr, listed.stderr
    assert rows(path, "SELECT count(*) FROM MeterTable") == [(1,)]


def test_a_damaged_ledger_row_makes_loads_say_so_in_one_line(tmp_path):
    path = str(tmp_path / "meter.db")
    Scenario(meters=1, days=1, end=END).create(LocalTarget(path))
    execute(path, "UPDATE GenerateMeterDataLedger SET CreatedAt = 'yesterday'")
    from test_cli import cli

    result = cli("loads", "--db", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is damaged" in result.stderr and "a bug" not in result.stderr and "'init'" not in result.stderr


def test_clear_json_counts_loads_not_the_parts_of_a_split_load(device, tmp_path):
    target = DeviceTarget(device.settings(max_rows_per_load=100))
    try:
        summary = Scenario(meters=3, days=2, end=END, seed=1).create(target)
        assert rows(device.path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] >= 2  # parts
    finally:
        target.close()
    from test_cli import cli

    ini = tmp_path / "settings.ini"
    ini.write_text(device.ini())
    result = cli("clear", "--settings", str(ini), "--section", "Test", "--all", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["removed"] == 1 and [load["token"] for load in document["loads"]] == [summary.token]
    assert meter_ids(device.path) == []


SEED_SCRIPT = '''import GenerateMeterData
GenerateMeterData.configure(db={path!r}, seed=7)
mt = GenerateMeterData.MeterTable()
cfg = GenerateMeterData.ElConfig(MeterTable=mt.get("MeterTable"))
GenerateMeterData.ElDayEnergy(MeterTable=mt.get("MeterTable"), Count_timestamp=3)
GenerateMeterData.Journal(RecordTypeId=GenerateMeterData.JournalName.ElJrnlLimPwr, MeterTable=mt.get("MeterTable"),
                          ElConfig=cfg.get("ElConfig"))
GenerateMeterData.ElConfig()  # a meter of its own, made on the way
'''


def test_a_seed_api_script_is_one_load_per_run(tmp_path):
    import os
    import subprocess
    import sys

    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    script = tmp_path / "tester.py"
    script.write_text(SEED_SCRIPT.format(path=path))
    for _ in range(2):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                              env=dict(os.environ), timeout=300)
        assert done.returncode == 0, done.stderr
    loads = LocalTarget(path).loads()
    assert len(loads) == 2  # one line per run of the script, however many objects it made
    assert all(len(load.meter_ids) == 2 and load.command.endswith("tester.py") for load in loads)
    first_run = set(loads[0].meter_ids)
    assert LocalTarget(path).clear(tokens=[loads[0].token]) == 1  # the whole run at once
    assert set(meter_ids(path)) == set(loads[1].meter_ids) and not first_run & set(meter_ids(path))


def test_loads_in_an_xdist_worker_record_the_test_not_dash_c(pytester, tmp_path):
    pytest.importorskip("xdist")
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    pytester.makepyfile(test_worker=f'''
import datetime as dt
from GenerateMeterData import LocalTarget, Scenario

def test_load():
    Scenario(meters=1, days=1, end=dt.date(2026, 3, 1)).create(LocalTarget({path!r}))
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1")
    result.assert_outcomes(passed=1)
    assert [load.command for load in LocalTarget(path).loads()] == ["pytest test_worker.py::test_load"]


def test_a_link_lost_after_the_clears_commit_is_not_reported_as_a_failure(device, tmp_path):
    """The device's sqlite3 committed the clear; the network goes before its confirmation
    arrives: the ledger says the clear landed, so the clear reports success."""
    import threading
    import time

    import sshd

    a = Scenario(meters=2, days=1, end=END, seed=1).create(DeviceTarget(device.settings()))
    mark = tmp_path / "mark"
    slow = tmp_path / "slow-sqlite3"
    slow.write_text("#!/bin/sh\n"
                    "sqlite3 \"$@\" | while IFS= read -r line; do\n"
                    f"  case \"$line\" in *GMD-COMMITTED*) touch {mark}; sleep 4;; esac\n"
                    "  printf '%s\\n' \"$line\"\n"
                    "done\n")
    slow.chmod(0o755)
    proxy = sshd.CuttableProxy(device.server.port)
    target = DeviceTarget(device.settings(port=proxy.port, sqlite3=str(slow),
                                          known_hosts=device.server.known_hosts_for(proxy.port)))

    def cut_when_committed():
        deadline = time.monotonic() + 60
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.cut()

    cutter = threading.Thread(target=cut_when_committed, daemon=True)
    cutter.start()
    try:
        assert target.clear(tokens=[a.token]) == 1
    finally:
        cutter.join(70)
        target.close()
        proxy.close()
    assert mark.exists()  # the link really went after the COMMIT
    assert meter_ids(device.path) == [] and rows(device.path, "SELECT count(*) FROM GenerateMeterDataLedger") == [(0,)]


def test_clear_on_a_nearly_full_filesystem_says_how_to_clear_with_less(small_tmpfs, tmp_path):
    from helpers import table_checksums
    from test_cli import cli

    folder = small_tmpfs("full", "6m")
    path = str(folder / "meter.db")
    LocalTarget(path).init()
    Scenario(meters=2, days=20, end=END, seed=1).create(LocalTarget(path))
    Scenario(meters=1, days=1, end=END, seed=2).create(LocalTarget(path))
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:  # the filesystem full
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    before = table_checksums(path)
    result = cli("clear", "--db", path, "--all")
    assert result.returncode != 0, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "nothing was removed" in result.stderr and "clear --load TOKEN" in result.stderr, result.stderr
    assert table_checksums(path) == before
    filler.unlink()
    assert cli("clear", "--db", path, "--all").returncode == 0
