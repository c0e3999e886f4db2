"""Realism of the load (issue 23): the shipped standard profiles and calendar against their
published sources, holidays behaving as Sundays, a living power factor, PV on the sun's path."""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import math
import os

import pytest

from GenerateMeterData import MeterPlan
from GenerateMeterData.model import daytypes, profiles, sun, timegrid
from GenerateMeterData.model.consumption import DayTable, LoadModel
from GenerateMeterData.model.rng import stream, stream_key
from GenerateMeterData.model.tariffs import DEFAULT_SCHEDULE
from helpers import rows

MSK = timegrid.zone("Europe/Moscow")

# The BDEW H0 table ("Repraesentative VDEW-Profile", households, W for 1,000 kWh a year), its
# first quarter-hour (00:00-00:15) in each season and day type, copied by hand.
BDEW_H0_FIRST_QUARTER = {
    ("winter", "saturday"): 70.8, ("winter", "sunday"): 87.4, ("winter", "workday"): 67.6,
    ("summer", "saturday"): 89.8, ("summer", "sunday"): 100.1, ("summer", "workday"): 86.3,
    ("transition", "saturday"): 80.2, ("transition", "sunday"): 93.4, ("transition", "workday"): 77.8,
}


def correlation(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def test_shipped_h0_matches_the_published_bdew_table():
    table = profiles.table()["H0"]
    for (season, day), watts in BDEW_H0_FIRST_QUARTER.items():
        cell = profiles.SEASONS.index(season) * 3 + profiles.DAY_TYPES.index(day)
        assert table[cell][0] * 1000 == pytest.approx(watts, abs=0.1), (season, day)
    assert sorted(profiles.table()) == sorted(["H0", "G0", "G1", "G2", "G3", "G4", "G5", "G6", "L0", "L1", "L2"])
    assert all(len(cell) == 96 for values in profiles.table().values() for cell in values)


def test_shipped_profiles_equal_demandlib_when_installed():
    spec = importlib.util.find_spec("demandlib")  # finds the package without importing it (pandas)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("demandlib is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "bdew", "bdew_data", "selp_series.csv")
    with open(path, encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        theirs = {}
        for row in reader:
            theirs.setdefault((row[1], row[2]), []).append(row)
    ours = profiles.table()
    for season in profiles.SEASONS:
        for d, code in enumerate(("1", "6", "7")):  # demandlib: Monday = 1, Saturday 6, Sunday/holiday 7
            cell = profiles.SEASONS.index(season) * 3 + d
            for name in ours:
                column = header.index(name.lower())
                assert list(ours[name][cell]) == [float(r[column]) for r in theirs[(season, code)]], (name, season, code)


def test_calendar_follows_the_2024_and_2025_decrees():
    """Government decrees on moving days off in 2024 and 2025 (and Labour Code art. 112)."""
    cal = daytypes.calendar_for(MSK)
    W, SA, SU = daytypes.WORKDAY, daytypes.SATURDAY, daytypes.SUNDAY
    expected = {
        dt.date(2024, 2, 23): SU, dt.date(2024, 3, 8): SU,
        dt.date(2024, 4, 27): W, dt.date(2024, 4, 29): SU, dt.date(2024, 4, 30): SU,   # Sat 27 Apr works
        dt.date(2024, 5, 10): SU, dt.date(2024, 11, 2): W, dt.date(2024, 11, 4): SU,
        dt.date(2024, 12, 28): W, dt.date(2024, 12, 30): SU, dt.date(2024, 12, 31): SU,
        dt.date(2024, 12, 27): W, dt.date(2024, 12, 21): SA,
        dt.date(2025, 1, 8): SU, dt.date(2025, 1, 9): W, dt.date(2025, 3, 8): SU,   # Sat 8 Mar: a holiday
        dt.date(2025, 5, 2): SU, dt.date(2025, 5, 8): SU, dt.date(2025, 6, 13): SU,
        dt.date(2025, 11, 1): W, dt.date(2025, 11, 3): SU, dt.date(2025, 12, 31): SU,
        dt.date(2025, 11, 8): SA,
    }
    assert {day: cal.day_type(day) for day in expected} == expected
    assert cal.years == tuple(range(2015, 2028))


def test_calendar_agrees_with_the_holidays_package_when_installed():
    holidays = pytest.importorskip("holidays")
    cal = daytypes.calendar_for(MSK)
    presidential_2020 = {dt.date(2020, 6, 24), dt.date(2020, 7, 1)}  # not in the package
    for year in range(2015, 2028):
        theirs = {d for d in holidays.RU(years=year) if d.year == year} | (presidential_2020 if year == 2020 else set())
        ours = {dt.date(year, 1, 1) + dt.timedelta(days=n) for n in range(366 if year % 4 == 0 else 365)}
        ours = {d for d in ours if cal.day_type(d) == daytypes.SUNDAY and d.weekday() != 6}
        assert ours == {d for d in theirs if d.weekday() != 6}, year


def test_years_beyond_the_calendar_keep_the_fixed_holidays_and_other_countries_weekends():
    cal = daytypes.calendar_for(MSK)
    assert cal.day_type(dt.date(2030, 11, 4)) == daytypes.SUNDAY      # a Monday: Unity Day
    assert cal.day_type(dt.date(2030, 1, 3)) == daytypes.SUNDAY
    assert cal.day_type(dt.date(2030, 11, 5)) == daytypes.WORKDAY
    berlin = daytypes.calendar_for(timegrid.zone("Europe/Berlin"))
    assert berlin.day_type(dt.date(2025, 1, 1)) == daytypes.WORKDAY  # holidays outside Russia: not covered
    assert berlin.day_type(dt.date(2025, 1, 4)) == daytypes.SATURDAY


def _table(profile="H0", first=dt.date(2025, 10, 25), last=dt.date(2025, 11, 10), n=0, pv=False, period=30):
    model = LoadModel.random(stream(3, "realism-test", n), 3, pv, pv=pv, profile=profile)
    return DayTable(model, stream_key(3, "realism-test", n, "days"), first, last, period, MSK, DEFAULT_SCHEDULE, [])


def test_a_holiday_is_a_sunday_and_a_working_saturday_a_workday():
    """4 Nov 2025 (a Tuesday) is Unity Day, Sat 1 Nov 2025 a working day (decree): the shape cell and
    the tariff table follow (weekend table: T4 07-23, T2 23-07; README's default schedule)."""
    table = _table()
    index = {table.first_day + dt.timedelta(days=i): i for i in range(table.count)}
    winter = profiles.SEASONS.index("winter") * 3
    holiday, saturday, plain = table.day(index[dt.date(2025, 11, 4)]), table.day(index[dt.date(2025, 11, 1)]), \
        table.day(index[dt.date(2025, 11, 8)])
    assert holiday.kind.cell == winter + 2 and saturday.kind.cell == winter + 0 and plain.kind.cell == winter + 1
    weekend_zones = tuple(4 if 7 <= k / 2 < 23 else 2 for k in range(48))
    assert tuple(z + 1 for z in holiday.zones) == weekend_zones
    assert tuple(z + 1 for z in plain.zones) == weekend_zones
    assert tuple(z + 1 for z in saturday.zones)[14:20] == (1,) * 6   # 07-10: T1 peak of a workday


def test_a_holiday_of_the_tariff_schedule_is_a_sunday_too():
    from GenerateMeterData.model.tariffs import TariffSchedule
    schedule = TariffSchedule([("07:00", 1), ("23:00", 2)], [("07:00", 4), ("23:00", 2)],
                              holidays=[dt.date(2025, 11, 5)])
    model = LoadModel.random(stream(3, "realism-test", 0), 3, False, pv=False, profile="H0")
    table = DayTable(model, 1, dt.date(2025, 11, 5), dt.date(2025, 11, 6), 30, MSK, schedule, [])
    holiday, wednesday = table.day(0), table.day(1)
    assert holiday.kind.cell == 2 and wednesday.kind.cell == 0   # winter Sunday, winter workday
    assert set(holiday.zones) == {1, 3} and set(wednesday.zones) == {0, 1}   # T2/T4 against T1/T2


def test_mean_of_many_households_follows_h0_and_no_two_meters_are_alike():
    ref = profiles.table()["H0"][0]   # winter workday, checked against BDEW above
    sums, dailies = [0.0] * 96, []
    for n in range(20):
        table = _table(first=dt.date(2025, 1, 13), last=dt.date(2025, 2, 28), n=n, period=15)
        dailies.append([sum(table.totals[0][z][i] for z in range(4)) for i in range(table.count)])
        for i in range(table.count):
            day = table.first_day + dt.timedelta(days=i)
            if day.weekday() < 5 and day != dt.date(2025, 2, 24):
                ap = table.slots(i).ap
                sums = [s + a / sum(ap) for s, a in zip(sums, ap)]
    assert correlation(sums, ref) >= 0.95
    for a in range(len(dailies)):
        for b in range(a + 1, len(dailies)):
            assert correlation(dailies[a], dailies[b]) < 0.99


def test_power_factor_lives_and_the_phases_differ(seeded):
    path = seeded(meters=[MeterPlan("SE303", pv=False)], days=7)
    readings = rows(path, "SELECT m.Timestamp, q.Phase, q.P, q.KP, q.U FROM MeterData m JOIN ElectricQualityValues q "
                          "ON q.Id = m.Id WHERE q.Phase IN ('A', 'B', 'C') ORDER BY m.Timestamp")
    by_phase = {}
    for ts, phase, p, kp, u in readings:
        by_phase.setdefault(phase, []).append((p, kp, u))
    assert sorted(by_phase) == ["A", "B", "C"]
    for values in by_phase.values():
        assert len({kp for _, kp, _ in values}) >= 20
        ranked = sorted(values)   # by active power
        fifth = len(ranked) // 5
        light = sum(kp for _, kp, _ in ranked[:fifth]) / fifth
        heavy = sum(kp for _, kp, _ in ranked[-fifth:]) / fifth
        assert light < heavy      # a reactive base makes the power factor lower at light load
        light_u = sum(u for _, _, u in ranked[:fifth]) / fifth
        heavy_u = sum(u for _, _, u in ranked[-fifth:]) / fifth
        assert heavy_u < light_u  # the voltage sags with the load
    series = [[kp for _, kp, _ in by_phase[p]] for p in "ABC"]
    assert series[0] != series[1] != series[2] != series[0]
    frequencies = {f for (f,) in rows(path, "SELECT q.F FROM ElectricQualityValues q WHERE q.Phase = 'Summ'")}
    assert len(frequencies) >= 10 and all(49.9 <= f <= 50.1 for f in frequencies)


def test_sun_path_at_moscow():
    """Sunrise/sunset in Moscow (55.76 N, 37.62 E, UTC+3): 21 June about 03:45-21:18, 21 December
    about 08:59-15:58; solar noon about 12:30 (longitude 37.62 E in a 45 E zone: 29.5 min late)."""
    for year_day, rise, set_ in ((172, 3.75, 21.3), (355, 8.98, 15.97)):
        noon = round(sun.solar_noon(year_day, 37.62, 180))
        assert abs(noon - 750) <= 5
        values, first, stop = sun.clear_sky(year_day, 30, 55.76, noon)
        for k, v in enumerate(values):
            start, end = k / 2, k / 2 + 0.5
            if end <= rise or start >= set_:
                assert v == 0.0, (year_day, k)
        peak = max(range(48), key=values.__getitem__)
        assert abs(peak / 2 + 0.25 - 12.5) <= 0.5
    june, december = sun.clear_sky(172, 30, 55.76, 750)[0], sun.clear_sky(355, 30, 55.76, 750)[0]
    assert sum(june) > 2 * sum(december)


def test_pv_exports_around_solar_noon_and_never_at_night():
    table = _table(first=dt.date(2025, 6, 1), last=dt.date(2025, 7, 31), pv=True)
    hours = [0.0] * 48
    for i in range(table.count):
        am = table.slots(i).am
        assert all(e == 0 for e in am[:6] + am[-4:])   # 00:00-03:00 and 22:00-24:00
        hours = [h + e for h, e in zip(hours, am)]
    peak = max(range(48), key=hours.__getitem__)
    assert 11.0 <= peak / 2 <= 14.0
