"""Every invariant of a meter's story, checked with plain SQL on a real meter.db."""
from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from GenerateMeterData import LocalTarget, MeterPlan, Scenario, verify
from GenerateMeterData.schema.reference import METER_KINDS
from helpers import energy_by_ts, record_type, rows

MSK = ZoneInfo("Europe/Moscow")


# The tariff specification the generator documents (model/tariffs.py, StoryOptions.schedule),
# written out by hand: a meter with 4 tariff registers follows the Russian three-zone table on
# working days -- T1 peak 07-10 and 17-21, T3 semi-peak 10-17 and 21-23, T2 night 23-07 -- and
# on Saturday/Sunday T4 07-23, T2 23-07; a meter with fewer registers T1 07-23, T2 23-07.
FOUR_ZONE_WEEKDAY = [(0, 7, 2), (7, 10, 1), (10, 17, 3), (17, 21, 1), (21, 23, 3), (23, 24, 2)]
FOUR_ZONE_WEEKEND = [(0, 7, 2), (7, 23, 4), (23, 24, 2)]
TWO_ZONE = [(0, 7, 2), (7, 23, 1), (23, 24, 2)]


# Non-working weekdays of Russia in the fixtures' span (Labour Code art. 112 and the government's
# decrees on moving days off for 2025 and 2026, copied by hand): a holiday follows the weekend table.
# 2025: 31 Dec (moved from 5 Jan). 2026: 1-9 Jan (9 Jan moved from Sat 3 Jan), 23 Feb, 9 Mar (8 Mar is a
# Sunday), 1 May, 11 May (9 May is a Saturday), 12 Jun, 4 Nov, 31 Dec (moved from Sun 4 Jan).
RU_DAYS_OFF = {dt.date(2025, 12, 31), *(dt.date(2026, 1, d) for d in range(1, 10)), dt.date(2026, 2, 23),
               dt.date(2026, 3, 9), dt.date(2026, 5, 1), dt.date(2026, 5, 11), dt.date(2026, 6, 12),
               dt.date(2026, 11, 4), dt.date(2026, 12, 31)}


def specified_tariff(tariff_registers, day, minute_of_day):
    """The tariff of a local minute by the specification above (not by the code's schedule)."""
    if tariff_registers >= 4:
        table = FOUR_ZONE_WEEKEND if day.weekday() >= 5 or day in RU_DAYS_OFF else FOUR_ZONE_WEEKDAY
    else:
        table = TWO_ZONE
    hour = minute_of_day / 60
    return next(tariff for start, end, tariff in table if start <= hour < end)


def test_specified_tariff_table_is_what_the_meters_use():
    from GenerateMeterData.model.tariffs import DEFAULT_SCHEDULE, TWO_ZONE_SCHEDULE
    monday, saturday = dt.date(2026, 3, 2), dt.date(2026, 3, 7)
    for minute in range(0, 1440, 15):
        assert DEFAULT_SCHEDULE.tariff(monday, minute) == specified_tariff(4, monday, minute), minute
        assert DEFAULT_SCHEDULE.tariff(saturday, minute) == specified_tariff(4, saturday, minute), minute
        assert TWO_ZONE_SCHEDULE.tariff(monday, minute) == specified_tariff(2, monday, minute), minute
    assert [DEFAULT_SCHEDULE.tariff(monday, h * 60) for h in (6, 7, 9, 10, 16, 17, 20, 21, 22, 23)] == \
        [2, 1, 1, 3, 3, 1, 1, 3, 3, 2]


def devices(path):
    return [r[0] for r in rows(path, "SELECT DeviceIdx FROM MeterTable ORDER BY DeviceIdx")]


def kind_of_device(path, device_idx):
    """What the device's meter type measures (a NEVA 103 keeps no tariffs, a Mercury 200 no profile)."""
    [(type_name,)] = rows(path, "SELECT t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId "
                                "WHERE m.DeviceIdx = ?", (device_idx,))
    return METER_KINDS[type_name]


def tariff_rows(path, device_idx):
    """The Tariff rows of an energy record: 0-4, or 0 alone for a meter without a tariff unit."""
    return [0, 1, 2, 3, 4] if kind_of_device(path, device_idx).tariffs else [0]


def profile(path, device_idx):
    return rows(path, "SELECT m.Timestamp, p.Period, p.Pp, p.Pm, p.Qp, p.Qm, p.Partial FROM MeterData m "
                      "JOIN ElectricPowerValues p ON p.Id = m.Id WHERE m.DeviceIdx = ? "
                      "ORDER BY m.Timestamp", (device_idx,))


def test_generated_database_passes_verify(year_db):
    assert verify(year_db) == []


def test_tariff_zero_is_sum_of_tariffs(year_db):
    for measure in ("ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy", "ElDayConsEnergy", "ElMonthConsEnergy"):
        checked = 0
        for device in devices(year_db):
            for ts, tariffs in energy_by_ts(year_db, device, measure).items():
                assert sorted(tariffs) == tariff_rows(year_db, device)
                if len(tariffs) == 1:
                    continue
                for c in range(4):
                    if tariffs[0][c] is None:
                        continue
                    assert tariffs[0][c] == pytest.approx(sum(tariffs[t][c] for t in (1, 2, 3, 4)), abs=1e-6)
                    checked += 1
        assert checked > 0, measure


def test_cumulative_registers_never_decrease(year_db):
    for measure in ("ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy"):
        for device in devices(year_db):
            series = energy_by_ts(year_db, device, measure)
            stamps = sorted(series)
            assert len(stamps) > 1
            for a, b in zip(stamps, stamps[1:]):
                for tariff in tariff_rows(year_db, device):
                    for c in range(4):
                        x, y = series[a][tariff][c], series[b][tariff][c]
                        if x is not None:
                            assert y >= x, (measure, device, b, tariff, c)


def test_day_and_month_stamps_are_local_midnights(year_db):
    device = devices(year_db)[0]
    days = sorted(energy_by_ts(year_db, device, "ElDayEnergy"))
    assert len(days) == 91  # 90 days -> 91 midnights, both ends included
    for ts in days:
        local = dt.datetime.fromtimestamp(ts, MSK)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
    for a, b in zip(days, days[1:]):
        assert (dt.datetime.fromtimestamp(b, MSK).date() - dt.datetime.fromtimestamp(a, MSK).date()).days == 1
    months = sorted(energy_by_ts(year_db, device, "ElMonthEnergy"))
    assert [dt.datetime.fromtimestamp(ts, MSK).date() for ts in months] == [
        dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]


@pytest.mark.parametrize("register,consumption", [("ElDayEnergy", "ElDayConsEnergy"),
                                                  ("ElMonthEnergy", "ElMonthConsEnergy")])
def test_consumption_is_difference_of_registers(year_db, register, consumption):
    for device in devices(year_db):
        registers = energy_by_ts(year_db, device, register)
        cons = energy_by_ts(year_db, device, consumption)
        stamps = sorted(registers)
        assert sorted(cons) == stamps[:-1]
        for a, b in zip(stamps, stamps[1:]):
            for tariff in tariff_rows(year_db, device):
                for c in range(4):
                    if registers[a][tariff][c] is None:
                        assert cons[a][tariff][c] is None
                        continue
                    assert cons[a][tariff][c] == pytest.approx(registers[b][tariff][c] - registers[a][tariff][c], abs=1e-6)


def test_profile_energy_equals_day_consumption_and_follows_tariff_zones(year_db):
    for device, type_name in rows(year_db, "SELECT m.DeviceIdx, t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId"):
        registers = METER_KINDS[type_name].tariffs
        slots = profile(year_db, device)
        if not METER_KINDS[type_name].profile_periods:  # a meter without a load profile (Mercury 200)
            assert slots == []
            continue
        cons = energy_by_ts(year_db, device, "ElDayConsEnergy")
        for day_ts, tariffs in cons.items():
            day = dt.datetime.fromtimestamp(day_ts, MSK).date()
            inside = [s for s in slots if day_ts < s[0] <= day_ts + 86400]
            assert len(inside) == 48
            for ts, period, *_ in inside:
                assert period == 30
                assert (ts - day_ts) % 1800 == 0
            for c, column in enumerate(("Pp", "Pm", "Qp", "Qm")):
                energy = [s[2 + c] * s[1] / 60 if s[2 + c] is not None else None for s in inside]
                if tariffs[0][c] is None:
                    assert all(e is None for e in energy)
                    continue
                assert sum(energy) == pytest.approx(tariffs[0][c], abs=1e-6)
                for tariff in (1, 2, 3, 4):
                    in_zone = sum(e for s, e in zip(inside, energy)
                                  if specified_tariff(registers, day, (s[0] - 1800 - day_ts) // 60) == tariff)
                    assert in_zone == pytest.approx(tariffs[tariff][c], abs=1e-6), (device, day, tariff, column)


def test_moment_energy_is_register_implied_by_profile(year_db):
    for device in devices(year_db)[:2]:
        slots = profile(year_db, device)
        days = energy_by_ts(year_db, device, "ElDayEnergy")
        moments = energy_by_ts(year_db, device, "ElMomentEnergy")
        checked = 0
        for ts, tariffs in moments.items():
            midnight = int(dt.datetime.combine(dt.datetime.fromtimestamp(ts, MSK).date(), dt.time(), MSK).timestamp())
            base = days[midnight][0][0]
            expected = base + sum(s[2] * s[1] / 60 for s in slots if midnight < s[0] <= ts)
            # a moment is stamped at the poll (device contract), inside a slot: the register has
            # counted the elapsed share of that slot's energy too (kept in whole mWh)
            running = [s for s in slots if s[0] - s[1] * 60 < ts < s[0]]
            if running:
                end, period, power = running[0][:3]
                expected += power * period / 60 * (ts - end + period * 60) / (period * 60)
            assert tariffs[0][0] == pytest.approx(expected, abs=2e-3)
            checked += 1
        assert checked > 1000


def test_quality_relations(year_db):
    records = rows(year_db, "SELECT q.Id, q.Phase, q.U, q.I, q.P, q.Q, q.S, q.KP, q.Angle, q.F "
                            "FROM ElectricQualityValues q ORDER BY q.Id")
    by_id = {}
    for row in records:
        by_id.setdefault(row[0], {})[row[1]] = row[2:]
    assert len(by_id) > 1000
    for phases in by_id.values():
        assert sorted(phases) in (["A", "B", "C", "Summ"], ["A", "Summ"])  # no all-NULL phase row
        summ = phases["Summ"]
        present = [phases[p] for p in "ABC" if p in phases and phases[p][2] is not None]
        assert summ[2] == pytest.approx(sum(p[2] for p in present), abs=2e-3)
        if summ[3] is not None:  # Q: not reported by an active-energy meter
            assert summ[3] == pytest.approx(sum(p[3] for p in present), abs=2e-3)
        assert summ[7] is None or 49.0 <= summ[7] <= 51.0
        assert summ[0] is None and summ[1] is None and summ[6] is None
        for u, i, p, q, s, kp, angle, f in present:
            if s is None:  # an active-energy meter reports U, I, P (and F) only
                assert q is None and kp is None
                continue
            assert s == pytest.approx(math.hypot(p, q), abs=2e-3)
            if s:
                assert kp == pytest.approx(p / s, abs=1e-3)
            assert u * i * kp == pytest.approx(p, abs=0.01 * s + 0.0006 * u + 2e-3)
            assert 207 <= u <= 253
            assert f is None
            if angle is not None:
                assert 115 <= angle <= 125


def test_single_phase_meter_has_no_phase_b_or_c(seeded):
    """The device never writes a phase row whose values are all NULL (device contract
    ``no-all-null-rows``): a single-phase meter's quality records have rows A and Summ only."""
    path = seeded(meters=[MeterPlan("Mercury200")], days=3)
    assert rows(path, "SELECT count(*) FROM ElectricQualityValues WHERE Phase IN ('B', 'C')")[0][0] == 0
    assert rows(path, "SELECT DISTINCT Phase FROM ElectricQualityValues ORDER BY Phase") == [("A",), ("Summ",)]
    assert rows(path, "SELECT count(*) FROM ElectricQualityValues WHERE Phase = 'A' AND U IS NOT NULL")[0][0] > 0
    assert verify(path) == []


@pytest.mark.parametrize("flag,columns,profile_column", [
    ("Reactive", ("Rp",), "Qp"), ("ActiveReverse", ("Am",), "Pm"), ("ReactiveReverse", ("Rm",), "Qm")])
def test_config_flags_gate_values(seeded, flag, columns, profile_column):
    path = seeded(meters=[MeterPlan("SE303", config={flag: 0})], days=3)
    for column in columns:
        assert rows(path, f"SELECT count(*) FROM ElectricEnergyValues WHERE {column} IS NOT NULL")[0][0] == 0
        assert rows(path, "SELECT count(*) FROM ElectricEnergyValues WHERE Ap IS NOT NULL")[0][0] > 0
    assert rows(path, f"SELECT count(*) FROM ElectricPowerValues WHERE {profile_column} IS NOT NULL")[0][0] == 0
    assert verify(path) == []


def test_config_without_tariff_unit_writes_only_tariff_zero(seeded):
    path = seeded(meters=[MeterPlan("SE303", config={"isTrf": 0})], days=3)
    assert rows(path, "SELECT DISTINCT Tariff FROM ElectricEnergyValues") == [(0,)]
    assert verify(path) == []


def test_power_journal_alternates_and_outage_shows_in_profile_and_registers(seeded):
    from GenerateMeterData import StoryOptions
    path = seeded(meters=[MeterPlan("SE303")], days=60, options=StoryOptions(outages_per_30_days=4))
    events = rows(path, "SELECT m.Timestamp, j.Event, j.EventId FROM MeterData m JOIN JournalValues j ON j.Id = m.Id "
                        "WHERE m.RecordTypeId = ? ORDER BY m.Timestamp", (record_type(path, "ElJrnlPwr"),))
    assert len(events) >= 4
    assert [e[1] for e in events] == [i % 2 for i in range(len(events))]
    assert [e[2] for e in events] == sorted(e[2] for e in events)
    slots = profile(path, 1)
    moments = energy_by_ts(path, 1, "ElMomentEnergy")
    for (off, _, _), (on, _, _) in zip(events[::2], events[1::2]):
        for ts, period, pp, pm, qp, qm, partial in slots:
            start = ts - period * 60
            if start >= off and ts <= on:
                assert (pp, qp) == (0, 0)
            elif start < on and ts > off:
                assert partial == 1
        inside = [ts for ts in moments if off < ts < on]
        headers = rows(path, "SELECT Valid FROM MeterData WHERE RecordTypeId = ? AND Timestamp > ? AND Timestamp < ?",
                       (record_type(path, "ElMomentEnergy"), off, on))
        assert all(v == (0,) for v in headers) and not inside
    for phase in ("ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC"):
        assert rows(path, "SELECT count(*) FROM MeterData WHERE RecordTypeId = ?",
                    (record_type(path, phase),))[0][0] == len(events)
    assert verify(path) == []


def test_valid_flag_and_uniqueness(year_db):
    assert rows(year_db, "SELECT count(*) FROM MeterData m WHERE Valid = 0 AND EXISTS "
                         "(SELECT 1 FROM ElectricEnergyValues e WHERE e.Id = m.Id)")[0][0] == 0
    assert rows(year_db, "SELECT count(*) FROM (SELECT 1 FROM MeterData GROUP BY DeviceIdx, RecordTypeId, Timestamp "
                         "HAVING count(*) > 1)")[0][0] == 0
    energy_ids = {r[0]: r[1] for r in rows(year_db, "SELECT m.Id, m.DeviceIdx FROM MeterData m JOIN ArchTypes a "
                                                    "ON a.Id = m.RecordTypeId WHERE a.Name = 'ElDayEnergy' AND m.Valid = 1")}
    counts = dict(rows(year_db, "SELECT Id, count(*) FROM ElectricEnergyValues GROUP BY Id"))
    assert energy_ids and all(counts[i] == len(tariff_rows(year_db, device)) for i, device in energy_ids.items())


def test_archinfo_raised_to_hold_what_was_written(year_db):
    for name, needed, records in rows(year_db, """
            SELECT a.Name, max(n), i.Records FROM (SELECT DeviceIdx, RecordTypeId, count(*) AS n FROM MeterData
            GROUP BY DeviceIdx, RecordTypeId) c JOIN ArchTypes a ON a.Id = c.RecordTypeId
            JOIN ArchInfo i ON i.RecordTypeId = c.RecordTypeId GROUP BY a.Name"""):
        assert records >= needed, name
    # untouched types keep their factory default
    assert rows(year_db, "SELECT Records FROM ArchInfo i JOIN ArchTypes a ON a.Id = i.RecordTypeId "
                         "WHERE a.Name = 'PlsDayPulse'") == [(35,)]


def test_same_seed_gives_identical_rows_and_meters_do_not_depend_on_each_other():
    a = Scenario(meters=3, days=5, end=dt.date(2026, 1, 10), seed=3).build()
    b = Scenario(meters=3, days=5, end=dt.date(2026, 1, 10), seed=3).build()
    assert a.tables == b.tables
    c = Scenario(meters=3, days=5, end=dt.date(2026, 1, 10), seed=4).build()
    assert a["ElectricPowerValues"] != c["ElectricPowerValues"]
    more = Scenario(meters=4, days=5, end=dt.date(2026, 1, 10), seed=3).build()
    first_three = [r for r in more["MeterData"] if r[1] <= 3]
    assert first_three == a["MeterData"]


def test_same_seed_gives_byte_identical_files(tmp_path, monkeypatch):
    """Two loads of one seed give the same file, byte for byte -- every table, the registry's
    Faker text, the SQLite pages.  Only the ledger's clock and token are pinned: they say
    when a load ran, which two loads never share."""
    import time
    import uuid

    monkeypatch.setattr(time, "time", lambda: 1767000000.0)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=42))
    files = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        Scenario(meters=[MeterPlan("SE303", count=2), MeterPlan("Pulsar"), MeterPlan("UMTV10"),
                         MeterPlan("MILUR IC", children=[MeterPlan("Mercury200")])],
                 days=3, end=dt.date(2026, 1, 10), seed=3).create(LocalTarget(str(path)))
        files.append(path.read_bytes())
    assert len(files[0]) > 100_000
    assert files[0] == files[1]
    other = tmp_path / "other.db"
    Scenario(meters=2, days=3, end=dt.date(2026, 1, 10), seed=4).create(LocalTarget(str(other)))
    assert other.read_bytes() != files[0]


def test_same_seed_gives_byte_identical_files_when_meters_stream(tmp_path, monkeypatch):
    """3 meters x 400 days: each meter reaches the target in several RowSets (span boundaries
    inside every measure), yet two loads of one seed are the same file byte for byte, and the
    rows are those of a load that hands each meter over in one RowSet."""
    import sqlite3
    import time
    import uuid

    from GenerateMeterData.generate import scenario as scenario_module

    monkeypatch.setattr(time, "time", lambda: 1767000000.0)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=42))

    def load(name):
        path = tmp_path / name
        Scenario(meters=3, days=400, end=dt.date(2026, 1, 10), seed=3).create(LocalTarget(str(path)))
        return path

    one, two = load("one.db"), load("two.db")
    assert one.read_bytes() == two.read_bytes()
    rows_per_set = scenario_module.ROWS_PER_SET
    monkeypatch.setattr(scenario_module, "ROWS_PER_SET", 10 ** 12)   # one RowSet per meter
    whole = load("whole.db")

    def table_rows(path):
        conn = sqlite3.connect(path)
        names = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in names}
        conn.close()
        return out

    streamed = table_rows(one)
    assert sum(len(v) for v in streamed.values()) > 6 * rows_per_set  # several RowSets a meter
    assert streamed == table_rows(whole)
    assert verify(str(one)) == []


def test_pulse_and_digital_modules(seeded):
    path = seeded(meters=[MeterPlan("Pulsar"), MeterPlan("UMTV10")], days=3)
    counters = rows(path, "SELECT m.Timestamp, v.Chnl1, v.Chnl2, v.Channels FROM MeterData m JOIN PulseValues v ON v.Id = m.Id "
                          "WHERE m.RecordTypeId = ? ORDER BY m.Timestamp", (record_type(path, "PlsHourPulse"),))
    assert len(counters) == 3 * 24 + 1
    assert all(b[1] >= a[1] for a, b in zip(counters, counters[1:]))
    assert counters[-1][1] > counters[0][1] and counters[0][3] == 32
    states = rows(path, "SELECT v.Chnl1 FROM DigitalValues v")
    assert states and {s[0] for s in states} <= {0, 1}
    assert rows(path, "SELECT count(*) FROM PulseConfig")[0][0] == 1
    assert rows(path, "SELECT count(*) FROM DigitalConfig")[0][0] == 1
    assert verify(path) == []


def test_hub_with_meters_behind_it(seeded):
    path = seeded(meters=[MeterPlan("MILUR IC", children=[MeterPlan("SE303", count=2)])], days=2)
    hub, *meters = rows(path, "SELECT m.MeterId, m.ParentId, i.Name, t.Class FROM MeterTable m "
                              "JOIN MeterIfaces i ON i.Id = m.InterfaceId JOIN MeterTypes t ON t.Id = m.TypeId ORDER BY m.DeviceIdx")
    assert hub[1:] == (0, "Ethernet", "Hub")
    assert [(m[1], m[2]) for m in meters] == [(hub[0], "Hub"), (hub[0], "Hub")]
