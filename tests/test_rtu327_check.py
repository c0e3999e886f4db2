"""``check`` over RTU-327 against the USPD stand-in: a seeded load is served as loaded; in a copy
with three planted changes (a register, a removed profile slot, a journal event) exactly those
are reported; the CLI's lines and exit codes; the plugin's fixture and one-line assertion."""
from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import pytest

from GenerateMeterData import LocalTarget, MeterPlan, Scenario, StoryOptions
from GenerateMeterData.cli import main
from GenerateMeterData.device.check import expected_values, run_check
from GenerateMeterData.device.pytest_fixtures import assert_served
from GenerateMeterData.device.rtu327_check import Rtu327Interface
from GenerateMeterData.device.rtu327_server import Rtu327Server
from GenerateMeterData.protocols.rtu327 import Rtu327Client

END = dt.date(2026, 3, 1)
OPTIONS = StoryOptions(outages_per_30_days=20, time_corrections_per_30_days=20,
                       journals={"ElJrnlReset": 2, "ElJrnlOpen": 2})
MAPPED_JOURNALS = {"ElJrnlPwr": (0, 1), "ElJrnlTimeCorr": (0, 1), "ElJrnlReset": (0,), "ElJrnlOpen": (0,),
                   "ElJrnlPwrA": (0, 1), "ElJrnlPwrB": (0, 1), "ElJrnlPwrC": (0, 1)}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("check") / "meter.db")
    summary = Scenario(meters=[MeterPlan(type="SE303"), MeterPlan(type="Mercury23x"), MeterPlan(type="SETxTM")],
                       days=3, end=END, seed=9, options=OPTIONS).create(LocalTarget(path))
    return path, summary.token


class Stand_in:
    def __init__(self, path: str) -> None:
        self.server = Rtu327Server(path)
        self.address = self.server.start_tcp("127.0.0.1", 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.stop()


def count(path, sql, params=()):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchone()[0]
    finally:
        db.close()


def rows_of(path, measures, table, where="1"):
    """Value rows of ``table`` under records of ``measures`` (a record without values -- an
    outage's Valid = 0 header -- has none)."""
    marks = ", ".join("?" * len(measures))
    return count(path, f"SELECT count(*) FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                       f"JOIN {table} v ON v.Id = d.Id WHERE a.Name IN ({marks}) AND {where}", tuple(measures))


def values_rtu327_serves(path) -> int:
    """Counted from meter.db by the device's command list (contract §3), not by the code under test."""
    meters = count(path, "SELECT count(*) FROM MeterTable")
    energy = ["ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy"]
    journal = sum(rows_of(path, [name], "JournalValues", "v.Event IN (%s)" % ", ".join(map(str, events)))
                  for name, events in MAPPED_JOURNALS.items())
    return (meters * 6                                                        # GETSHPRM: Kt Kn M, Syb_Rnk N_Ob N_Fid
            + rows_of(path, energy, "ElectricEnergyValues", "v.Tariff = 0") * 4          # GETPOK: A+ A- R+ R-
            + rows_of(path, energy[1:], "ElectricEnergyValues", "v.Tariff BETWEEN 1 AND 4") * 4  # GETAUTOREAD
            + rows_of(path, ["ElMomentQuality"], "ElectricQualityValues", "v.Phase = 'Summ'") * 15  # GETTESTS
            + rows_of(path, ["ElArr1ConsPower"], "ElectricPowerValues") * 7   # GETLP: 4 channels, 2 flags, cTime
            + journal)                                                        # GETMTRLOG: the mapped events


def test_a_seeded_load_is_served_as_loaded(loaded):
    path, token = loaded
    with Stand_in(path) as stand_in, Rtu327Client(*stand_in.address) as client:
        result = run_check(LocalTarget(path), [Rtu327Interface(client)], tokens=[token])
    assert result.mismatches == []
    (summary,) = result.summaries
    assert summary.compared == values_rtu327_serves(path) > 1000
    assert summary.notes == []


def test_getlp_costs_one_round_trip_per_meter_day(loaded):
    path, token = loaded
    values = [v for v in expected_values(LocalTarget(path), tokens=[token]) if v.measure == "ElArr1ConsPower"]
    days = {(v.device_idx, (v.ts - min(w.ts for w in values if w.device_idx == v.device_idx)) // 86400)
            for v in values}
    with Stand_in(path) as stand_in, Rtu327Client(*stand_in.address) as client:
        Rtu327Interface(client).compare(values)
    assert client.round_trips == len(days) + 3       # + one GETSHPRM per meter (cTime vs Interv)


def plant(original: str, copy: str):
    """Three changes in a copy: one register, one profile slot removed, one journal event."""
    shutil.copy(original, copy)
    db = sqlite3.connect(copy)
    try:
        def one(sql, params=()):
            return db.execute(sql, params).fetchone()

        device_idx, meter_id = one("SELECT t.DeviceIdx, t.MeterId FROM MeterTable t JOIN MeterTypes y ON "
                                   "y.Id = t.TypeId WHERE y.Type = 'Mercury23x'")

        def record(measure, offset):
            return one("SELECT d.Id, d.Timestamp FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                       "WHERE d.DeviceIdx = ? AND a.Name = ? ORDER BY d.Timestamp LIMIT 1 OFFSET ?",
                       (device_idx, measure, offset))

        register_id, register_ts = record("ElDayEnergy", 0)
        db.execute("UPDATE ElectricEnergyValues SET Ap = Ap + 1000 WHERE Id = ? AND Tariff = 0", (register_id,))
        slot_id, slot_ts = record("ElArr1ConsPower", 30)
        db.execute("DELETE FROM ElectricPowerValues WHERE Id = ?", (slot_id,))
        db.execute("DELETE FROM MeterData WHERE Id = ?", (slot_id,))
        event_id, event_ts = record("ElJrnlPwr", 0)
        db.execute("UPDATE JournalValues SET Event = 1 - Event WHERE Id = ?", (event_id,))
        db.commit()
    finally:
        db.close()
    return {(meter_id, "ElDayEnergy", register_ts): {"A+0"},
            (meter_id, "ElArr1ConsPower", slot_ts): {"P+", "P-", "Q+", "Q-", "isPart", "isOvfl"},
            (meter_id, "ElJrnlPwr", event_ts): {"event"}}


def test_exactly_the_planted_mismatches_are_reported(loaded, tmp_path):
    path, token = loaded
    copy = str(tmp_path / "planted.db")
    planted = plant(path, copy)
    with Stand_in(copy) as stand_in, Rtu327Client(*stand_in.address) as client:
        result = run_check(LocalTarget(path), [Rtu327Interface(client)], tokens=[token])
    found = {}
    for m in result.mismatches:
        found.setdefault((m.meter_id, m.measure, m.ts), set()).add(m.tag)
    assert found == planted
    register = next(m for m in result.mismatches if m.measure == "ElDayEnergy")
    assert register.served == pytest.approx(register.expected + 1000)
    assert all(m.served is None for m in result.mismatches if m.measure == "ElArr1ConsPower")
    event = next(m for m in result.mismatches if m.measure == "ElJrnlPwr")
    assert event.served == 1 - event.expected


def test_the_cli_prints_one_line_per_mismatch_and_exits_1(loaded, tmp_path, capsys):
    path, token = loaded
    copy = str(tmp_path / "planted.db")
    planted = plant(path, copy)
    with Stand_in(copy) as stand_in:
        where = f"{stand_in.address[0]}:{stand_in.address[1]}"
        assert main(["check", "--db", path, "--load", token[:8], "--rtu327", where, "--timezone", "UTC"]) == 1
        out = capsys.readouterr().out.splitlines()
        mismatch_lines = [line for line in out if line.startswith("meter ")]
        assert len(mismatch_lines) == sum(len(tags) for tags in planted.values()) == 8
        (meter_id, measure, ts), _ = next((k, v) for k, v in planted.items() if k[1] == "ElJrnlPwr")
        when = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        assert any(line.startswith(f"meter {meter_id}  ElJrnlPwr  {when} ({ts})  rtu327  event: expected ")
                   for line in mismatch_lines)
        assert out[-1].startswith("rtu327: ") and "8 mismatch(es)" in out[-1]


def test_the_cli_exits_0_when_all_is_served(loaded, capsys):
    path, token = loaded
    with Stand_in(path) as stand_in:
        where = f"{stand_in.address[0]}:{stand_in.address[1]}"
        assert main(["check", "--db", path, "--rtu327", where]) == 0
        assert main(["check", "--db", path, "--rtu327", where, "--meter", "1001", "--json"]) == 0
    out = capsys.readouterr().out
    assert "all served as loaded" in out and '"ok": true' in out


def test_the_cli_exits_2_on_bad_input_and_3_when_the_device_fails(loaded, capsys):
    path, token = loaded
    assert main(["check", "--db", path, "--rtu327", "nohost"]) == 2
    assert main(["check", "--db", path]) == 2
    assert main(["check", "--db", path + ".missing", "--rtu327", "127.0.0.1:1"]) == 2
    with Stand_in(path) as stand_in:
        where = f"{stand_in.address[0]}:{stand_in.address[1]}"
        assert main(["check", "--db", path, "--rtu327", where, "--load", "ffffffff"]) == 2
        assert main(["check", "--db", path, "--rtu327", where, "--password", "FFFFFFFF"]) == 3
    sock_port = Stand_in(path)
    sock_port.server.stop()
    assert main(["check", "--db", path, "--rtu327", f"127.0.0.1:{sock_port.address[1]}"]) == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 6 and all(line.startswith("error: ") for line in errors)
    assert "bad password" in errors[4]


def test_check_over_both_interfaces_on_the_command_line(loaded, capsys):
    """``check --rtu327 HOST:PORT --data-api``: the local target's data API is the stand-in
    program over the same file (device/data_api_standin.py); both serve the load as loaded."""
    path, token = loaded
    with Stand_in(path) as stand_in:
        where = f"127.0.0.1:{stand_in.address[1]}"
        assert main(["check", "--db", path, "--rtu327", where, "--data-api", "--load", token]) == 0
    out = capsys.readouterr().out
    summaries = [line for line in out.splitlines() if line.startswith(("rtu327:", "data-api:"))]
    assert [line.split(":")[0] for line in summaries] == ["rtu327", "data-api"], out
    assert all(line.endswith("all served as loaded") for line in summaries), out


def test_assert_served_in_one_line(loaded, tmp_path):
    path, token = loaded
    with Stand_in(path) as stand_in:
        assert assert_served(LocalTarget(path), token, rtu327=stand_in.address).ok
    copy = str(tmp_path / "planted.db")
    plant(path, copy)
    with Stand_in(copy) as stand_in:
        with pytest.raises(AssertionError) as info:
            assert_served(LocalTarget(path), token, rtu327=stand_in.address)
    assert "ElJrnlPwr" in str(info.value) and "8 mismatch(es)" in str(info.value)


def test_check_reads_the_load_from_a_device_over_ssh(device):
    from GenerateMeterData.targets.ssh import DeviceTarget

    target = DeviceTarget(device.settings())
    try:
        summary = Scenario(meters=1, days=1, end=END, seed=4, options=OPTIONS).create(target)
        with Stand_in(device.path) as stand_in, Rtu327Client(*stand_in.address) as client:
            result = run_check(target, [Rtu327Interface(client)], tokens=[summary.token])
    finally:
        target.close()
    assert result.ok
    assert result.summaries[0].compared == values_rtu327_serves(device.path) > 100


PLUGIN_TEST = '''
from GenerateMeterData.device.pytest_fixtures import assert_served

def test_the_device_serves_the_load(meterdata, meterdata_target, meterdata_rtu327):
    summary = meterdata.scenario(meters=1, days=1, seed=3)
    assert_served(meterdata_target, summary, rtu327=meterdata_rtu327)
'''


def test_the_plugin_fixture(pytester):
    pytester.makepyfile(PLUGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_meters_rtu327_cannot_address_are_named_not_failed(tmp_path):
    path = str(tmp_path / "meter.db")
    summary = Scenario(meters=[MeterPlan(type="SE303"), MeterPlan(type="Pulsar")], days=1, end=END,
                       seed=2).create(LocalTarget(path))
    db = sqlite3.connect(path)
    db.execute("UPDATE ElectricConfig SET Serial = 'CE-1'")
    db.commit()
    db.close()
    se303 = next(m.meter_id for m in summary.created if m.type_name == "SE303")
    with Stand_in(path) as stand_in, Rtu327Client(*stand_in.address) as client:
        result = run_check(LocalTarget(path), [Rtu327Interface(client)], tokens=[summary.token])
    assert result.mismatches == [] and result.summaries[0].compared == 0
    assert result.summaries[0].notes == [f"meter {se303} not checked: serial 'CE-1' is not numeric, RTU-327 "
                                         "addresses meters by a BCD serial"]


def test_a_device_whose_database_is_locked_exits_3(loaded, tmp_path, capsys):
    path, token = loaded
    copy = str(tmp_path / "locked.db")
    shutil.copy(path, copy)
    writer = sqlite3.connect(copy, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        with Stand_in(copy) as stand_in:
            where = f"{stand_in.address[0]}:{stand_in.address[1]}"
            assert main(["check", "--db", path, "--rtu327", where, "--meter", "1001"]) == 3
    finally:
        writer.close()
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "database error (result 3)" in err and "\n" not in err
