"""meter.db as the device writes it (schema/contract.py): each point checked on what the generator,
the seed API and capture write, with plain SQL -- the device testers' own SELECTs where they
published them -- and expectations taken from the evidence, not from the code under test."""
from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3

import pytest

import GenerateMeterData
from GenerateMeterData import LocalTarget, MeterPlan, Scenario, StoryOptions, verify
from GenerateMeterData.schema import contract

END = dt.date(2026, 3, 1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The device testers' config read, verbatim (smart40_tests Template_SQL_request.py, lines 185-203):
# the data API's tags for the columns.
DEVICE_CONFIG_SELECT = (
    "SELECT DeviceIdx AS id, Timestamp AS ts, Serial AS serial, Model AS model, "
    "IntervalPowerArrays AS cArrays, DST AS isDst, Clock AS isClock, Tariff AS isTrf, "
    "Reactive AS isAm, ActiveReverse AS isRm, ReactiveReverse AS isRp, "
    "CurrentCoeff AS kI, VoltageCoeff AS kU, MeterConst AS const "
    "FROM ElectricConfig WHERE DeviceIdx > 0")


def rows(path, sql, params=()):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def device_configs(path):
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(DEVICE_CONFIG_SELECT)]


@pytest.fixture(scope="module")
def mix_db(tmp_path_factory):
    """The default mix of meters, 10 days, hourly polls."""
    path = str(tmp_path_factory.mktemp("mix") / "meter.db")
    Scenario(meters=12, days=10, end=END, seed=21).create(LocalTarget(path))
    return path


def measure_rows(path, measure, table, columns="v.*"):
    return rows(path, f"SELECT m.DeviceIdx, m.Timestamp, {columns} FROM MeterData m JOIN {table} v ON v.Id = m.Id "
                      "JOIN ArchTypes a ON a.Id = m.RecordTypeId WHERE a.Name = ?", (measure,))


def test_interval_power_arrays_is_the_number_of_profile_arrays(mix_db):
    """§1.4: cArrays is 1 ("number of profile archives, currently always 1"); the period is
    the Period of each profile row (30 minutes by default)."""
    configs = device_configs(mix_db)
    with_profile = {device for (device,) in rows(
        mix_db, "SELECT DISTINCT m.DeviceIdx FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                "WHERE a.Name = 'ElArr1ConsPower'")}
    assert with_profile and {c["cArrays"] for c in configs if c["id"] in with_profile} == {1}
    assert {c["cArrays"] for c in configs if c["id"] not in with_profile} <= {0}  # a type without a profile
    assert rows(mix_db, "SELECT DISTINCT Period FROM ElectricPowerValues") == [(30,)]
    assert verify(mix_db) == []


def test_period_lives_in_the_profile_rows_only(tmp_path):
    path = str(tmp_path / "m.db")
    Scenario(meters=[MeterPlan("SE303", period_minutes=15)], days=2, end=END).create(LocalTarget(path))
    assert [c["cArrays"] for c in device_configs(path)] == [1]
    assert rows(path, "SELECT DISTINCT Period FROM ElectricPowerValues") == [(15,)]
    stamps = [ts for _, ts, *_ in measure_rows(path, "ElArr1ConsPower", "ElectricPowerValues")]
    assert len(stamps) == 2 * 96 and all(b - a == 900 for a, b in zip(stamps, stamps[1:]))
    assert verify(path) == []


def test_config_tags_go_by_position_as_the_device_api_maps_them(tmp_path):
    """§2: isAm <-> Reactive, isRm <-> ActiveReverse, isRp <-> ReactiveReverse (the testers'
    SELECT above); the values are gated by the columns' meaning (Reactive = R+ ...)."""
    path = str(tmp_path / "m.db")
    GenerateMeterData.configure(LocalTarget(path))
    meter = GenerateMeterData.MeterTable().get("MeterTable")
    config = GenerateMeterData.ElConfig(MeterTable=meter, Config_tag={"isAm": 1, "isRm": 0, "isRp": 0}).get("ElConfig")
    assert (config["isAm"], config["isRm"], config["isRp"]) == (1, 0, 0)
    [stored] = device_configs(path)
    assert (stored["isAm"], stored["isRm"], stored["isRp"]) == (1, 0, 0)
    assert rows(path, "SELECT Reactive, ActiveReverse, ReactiveReverse FROM ElectricConfig") == [(1, 0, 0)]
    GenerateMeterData.ElDayEnergy(MeterTable=meter, ElConfig=config, Count_timestamp=2)
    energy = rows(path, "SELECT Ap, Am, Rp, Rm FROM ElectricEnergyValues WHERE Tariff = 0")
    assert energy and all(ap is not None and am is None and rp is not None and rm is None
                          for ap, am, rp, rm in energy)  # R+ measured (Reactive), A- and R- not
    # .get() reads the same mapping back from the database
    again = GenerateMeterData.ElConfig(MeterTable=meter, Config_tag={"isRm": 1}).get("ElConfig")
    assert again["isRm"] == 1 and rows(path, "SELECT ActiveReverse FROM ElectricConfig ORDER BY rowid DESC LIMIT 1") == [(1,)]


def test_no_all_null_phase_or_tariff_rows(mix_db):
    """§1.5, §1.6: the device never writes a row whose values are all NULL."""
    assert rows(mix_db, "SELECT count(*) FROM ElectricQualityValues WHERE U IS NULL AND I IS NULL AND P IS NULL "
                        "AND Q IS NULL AND S IS NULL AND KP IS NULL AND Angle IS NULL AND F IS NULL") == [(0,)]
    assert rows(mix_db, "SELECT count(*) FROM ElectricEnergyValues WHERE Ap IS NULL AND Am IS NULL "
                        "AND Rp IS NULL AND Rm IS NULL") == [(0,)]
    single = rows(mix_db, "SELECT m.DeviceIdx FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId "
                          "WHERE t.Type IN ('Mercury200', 'NEVA1xx', 'SE102', 'SE102M', 'MILUR10x', 'Mercury206')")
    assert single, "the default mix has single-phase meters"
    for (device,) in single:
        phases = rows(mix_db, "SELECT DISTINCT q.Phase FROM ElectricQualityValues q JOIN MeterData m ON m.Id = q.Id "
                              "WHERE m.DeviceIdx = ? ORDER BY q.Phase", (device,))
        assert phases == [("A",), ("Summ",)]


def test_device_defaults_are_never_null(mix_db):
    """§1.4, §1.7, §1.11: nulls the device stores as 0 / ''."""
    assert rows(mix_db, "SELECT count(*) FROM ElectricPowerValues WHERE Period IS NULL OR Partial IS NULL "
                        "OR Overflow IS NULL OR Season IS NULL") == [(0,)]
    assert rows(mix_db, "SELECT count(*) FROM JournalValues WHERE Event IS NULL") == [(0,)]
    for config in device_configs(mix_db):
        assert all(config[tag] is not None for tag in ("serial", "model", "cArrays", "isDst", "isClock", "isTrf",
                                                     "isAm", "isRm", "isRp"))


def test_time_corrections_are_logged_with_event_0(mix_db):
    """§1.7: a CE303 logs a clock correction with Event 0 (RTU-327 evType 2, 'time before')."""
    events = measure_rows(mix_db, "ElJrnlTimeCorr", "JournalValues", "v.Event")
    assert events and {e for *_, e in events} == {0}


def test_moment_records_are_stamped_at_polls_not_on_a_grid(mix_db):
    """§1.3: moments and configs carry the poll time, with seconds; each poll lies in its poll
    cycle (hourly here), after the cycle starts and well before the next."""
    for measure, table in (("ElMomentEnergy", "ElectricEnergyValues"), ("ElMomentQuality", "ElectricQualityValues")):
        stamps = sorted({(device, ts) for device, ts, *_ in measure_rows(mix_db, measure, table, "v.Id")})
        assert len(stamps) > 1000
        offsets = [ts % 3600 for _, ts in stamps]  # Moscow: UTC+3, so local hours start at ts % 3600 == 0
        assert all(0 < offset <= contract.POLL_OFFSET_MAX_S + contract.POLL_JITTER_S for offset in offsets)
        assert len({offset % 60 for offset in offsets}) > 30  # seconds all over the minute
        per_meter = {}
        for device, ts in stamps:
            per_meter.setdefault(device, []).append(ts % 3600)
        assert len({min(v) for v in per_meter.values()}) > 1  # each meter at its own place in the cycle
    configs = [c["ts"] for c in device_configs(mix_db)]
    assert all(ts % 60 for ts in configs) or len({ts % 60 for ts in configs}) > 1


def test_moments_keep_their_stamps_whichever_window_asks(tmp_path):
    """The last N moments from the seed API are the polls the Scenario writes (no two stamps
    for one poll) and never later than "now"."""
    from zoneinfo import ZoneInfo
    msk = ZoneInfo("Europe/Moscow")
    now = int(dt.datetime(2026, 2, 27, 19, 57, tzinfo=msk).timestamp())
    from GenerateMeterData import seedapi
    previous = seedapi.set_clock(now)
    try:
        path = str(tmp_path / "m.db")
        GenerateMeterData.configure(LocalTarget(path))
        meter = GenerateMeterData.MeterTable().get("MeterTable")
        config = GenerateMeterData.ElConfig(MeterTable=meter).get("ElConfig")
        records = GenerateMeterData.ElMomentEnergy(MeterTable=meter, ElConfig=config, Count_timestamp=4).get(
            "ElMomentEnergy")
    finally:
        seedapi.set_clock(previous)
    stamps = [r["Timestamp"] for r in records]
    assert len(stamps) == 4 and stamps == sorted(stamps) and stamps[-1] <= now
    cycles = [ts - ts % 300 for ts in stamps]  # 5-minute polls of the seed API
    assert [b - a for a, b in zip(cycles, cycles[1:])] == [300, 300, 300]
    assert now - cycles[-1] < 600 and all(ts % 300 for ts in stamps)


def test_verify_flags_contract_breaking_overrides_written_as_asked(tmp_path):
    """A tester injects a config that breaks the contract: it is written as asked and verify
    names the rule it breaks."""
    path = str(tmp_path / "m.db")
    Scenario(meters=[MeterPlan("SE303", config={"cArrays": 30}), MeterPlan("SE303", config={"cArrays": 4})],
             days=2, end=END).create(LocalTarget(path))
    assert [c["cArrays"] for c in device_configs(path)] == [30, 4]
    found = {(v.device_idx, v.rule_name) for v in verify(path)}
    assert found == {(1, "legacy-convention"), (2, "config-profile-arrays")}


def test_both_conventions_in_one_database(tmp_path):
    """A device meter.db holding an old load (as GenerateMeterData 0.1 wrote it) beside rows
    written as the device does: verify names the old convention once per old meter; clear
    removes the old load exactly."""
    path = str(tmp_path / "m.db")
    target = LocalTarget(path)
    old = Scenario(meters=[MeterPlan("Mercury200"), MeterPlan("SE303")], days=2, end=END, seed=1).create(target)
    new = Scenario(meters=[MeterPlan("Mercury200")], days=2, end=END, seed=2).create(target)
    with sqlite3.connect(path) as conn:  # the old tool's convention, on the old load's meters
        conn.execute("UPDATE ElectricConfig SET IntervalPowerArrays = 30 WHERE DeviceIdx IN (1, 2)")
        conn.execute("INSERT INTO ElectricQualityValues (Id, Phase) SELECT m.Id, p.Phase FROM MeterData m, "
                     "(SELECT 'B' AS Phase UNION ALL SELECT 'C') p JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                     "WHERE m.DeviceIdx = 1 AND m.Valid = 1 AND a.Name = 'ElMomentQuality'")
    violations = verify(path)
    assert sorted((v.device_idx, v.rule_name) for v in violations) == [(1, "legacy-convention"),
                                                                       (2, "legacy-convention")]
    by_meter = {v.device_idx: v.rule for v in violations}
    assert "IntervalPowerArrays = 30" in by_meter[1] and "rows B and C" in by_meter[1]
    assert "rows B and C" not in by_meter[2]
    before_new = rows(path, "SELECT * FROM MeterData WHERE DeviceIdx = 3 ORDER BY Id")
    target.clear([old.token])
    assert rows(path, "SELECT DISTINCT DeviceIdx FROM MeterData") == [(3,)]
    assert rows(path, "SELECT * FROM MeterData WHERE DeviceIdx = 3 ORDER BY Id") == before_new
    assert verify(path) == [] and new.token


def test_capture_writes_the_device_convention(tmp_path):
    """A capture of a single-phase reading writes no all-NULL phase rows and a config as the
    device writes it."""
    from GenerateMeterData.imitation.capture import Reading, capture_rows
    path = str(tmp_path / "m.db")
    LocalTarget(path).init()
    reading = Reading("012345678901234", "NEVA 103", "TPC", 1772000000)
    reading.energy.update({"A+0": 1000.0})
    reading.quality.update({"UA": 230.1, "IA": 1.5, "PA": 330.0})
    capture_rows(reading, LocalTarget(path))
    assert rows(path, "SELECT Phase FROM ElectricQualityValues") == [("A",)]
    [config] = device_configs(path)
    assert config["cArrays"] == 0 and config["serial"] == "012345678901234"  # a NEVA 103 keeps no profile
    assert rows(path, "SELECT t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId") == [("NEVA1xx",)]


def test_readme_and_docs_show_every_contract_point():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("## Schema assumptions", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M) == [p.key for p in contract.POINTS]
    page = open(os.path.join(ROOT, "docs", "reference", "device-contract.md"), encoding="utf-8").read()
    for point in contract.POINTS:
        assert f"`{point.key}`" in page and point.evidence.replace("|", "\\|") in page
    assert {p.confidence for p in contract.POINTS} <= set(contract.CONFIDENCES)


@pytest.mark.parametrize("meter_type", ["SE303", "Mercury200"])
def test_the_seed_compatible_script_writes_the_device_convention(tmp_path, seed_clock, meter_type):
    """The tester's usual seed-API script (plain module-level calls), on a three-phase and a
    single-phase meter: every contract point holds and verify finds nothing."""
    from zoneinfo import ZoneInfo
    seed_clock(int(dt.datetime(2026, 2, 27, 14, 41, 17, tzinfo=ZoneInfo("Europe/Moscow")).timestamp()))
    path = str(tmp_path / "m.db")
    G = GenerateMeterData
    G.configure(LocalTarget(path))
    mt = G.MeterTable(Redefine_tag={"typeName": meter_type})
    cfg = G.ElConfig(MeterTable=mt.get("MeterTable"))
    kw = dict(MeterTable=cfg.get("MeterTable"), ElConfig=cfg.get("ElConfig"))
    G.Journal(RecordTypeId=G.JournalName.ElJrnlTimeCorr, Count_timestamp=2, **kw)
    G.ElDayEnergy(Count_timestamp=7, **kw)
    G.ElDayConsEnergy(Count_timestamp=7, **kw)
    G.ElMonthEnergy(Count_timestamp=3, **kw)
    G.ElMomentEnergy(**kw)
    G.ElMomentQuality(Count_timestamp=3, **kw)
    G.ElArr1ConsPower(Count_timestamp=48, **kw)
    # a Mercury 200 keeps no profile of its own (0 arrays); asked for one by name, it gets one
    assert [c["cArrays"] for c in device_configs(path)] == [1 if meter_type == "SE303" else 0]
    assert rows(path, "SELECT DISTINCT Period FROM ElectricPowerValues") == [(30,)]
    phases = [p for (p,) in rows(path, "SELECT DISTINCT Phase FROM ElectricQualityValues ORDER BY Phase")]
    assert phases == (["A", "B", "C", "Summ"] if meter_type == "SE303" else ["A", "Summ"])
    assert rows(path, "SELECT count(*) FROM ElectricQualityValues WHERE U IS NULL AND I IS NULL AND P IS NULL "
                      "AND Q IS NULL AND S IS NULL AND KP IS NULL AND Angle IS NULL AND F IS NULL") == [(0,)]
    assert {e for *_, e in measure_rows(path, "ElJrnlTimeCorr", "JournalValues", "v.Event")} == {0}
    moments = [ts for _, ts, *_ in measure_rows(path, "ElMomentQuality", "ElectricQualityValues", "v.Id")]
    assert moments and all(ts % 300 for ts in moments)
    assert verify(path) == []
