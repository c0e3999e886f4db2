"""A meter's story across objects, days and clocks: separate seed-API objects of one meter tell one
story, "now" inside a day moves nothing already told, DST days keep their exact sums."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import GenerateMeterData
from GenerateMeterData import LocalTarget, MeterPlan, Scenario, StoryOptions, verify
from GenerateMeterData.generate import electric
from GenerateMeterData.generate.electric import ElectricStory
from GenerateMeterData.generate.meters import make_meter
from GenerateMeterData.model.rng import stream
from helpers import energy_by_ts, record_type, rows

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    GenerateMeterData.configure(LocalTarget(str(tmp_path / "meter.db")))
    return str(tmp_path / "meter.db")


def profile(path, device_idx=1):
    return rows(path, "SELECT m.Timestamp, p.Period, p.Pp, p.Pm, p.Qp, p.Qm, p.Partial FROM MeterData m "
                      "JOIN ElectricPowerValues p ON p.Id = m.Id WHERE m.DeviceIdx = ? ORDER BY m.Timestamp",
                (device_idx,))


def test_separate_seed_objects_of_one_meter_agree(target, seed_api_clock):
    mt = GenerateMeterData.MeterTable()
    cfg = GenerateMeterData.ElConfig(MeterTable=mt.get('MeterTable'))
    kw = dict(MeterTable=cfg.get('MeterTable'), ElConfig=cfg.get('ElConfig'))
    GenerateMeterData.ElDayEnergy(Count_timestamp=40, **kw)
    GenerateMeterData.ElMonthEnergy(Count_timestamp=2, **kw)
    GenerateMeterData.ElArr1ConsPower(Count_timestamp=96, **kw)
    GenerateMeterData.ElDayConsEnergy(Count_timestamp=7, **kw)
    days = energy_by_ts(target, 1, "ElDayEnergy")
    months = energy_by_ts(target, 1, "ElMonthEnergy")
    # the register on the 1st of this month, read by two objects: the same to the last mWh
    first = max(months)
    assert dt.datetime.fromtimestamp(first, MSK).day == 1 and first in days
    assert months[first] == days[first]
    # the profile of a whole day adds up to the difference of that day's two midnight readings
    slots = profile(target)
    stamps = sorted(days)
    complete = [(a, b) for a, b in zip(stamps, stamps[1:])
                if len([s for s in slots if a < s[0] <= b]) == (b - a) // 1800]
    assert complete
    for a, b in complete:
        inside = [s for s in slots if a < s[0] <= b]
        for c in range(4):
            energy = sum(s[2 + c] * s[1] / 60 for s in inside)
            assert energy == pytest.approx(days[b][0][c] - days[a][0][c], abs=1e-6)
    assert verify(target) == []


def test_reused_story_is_the_story_computed_afresh():
    spec = make_meter(stream(1, "t"), 7, 1007, "SE303", timestamp=0)
    end = int(dt.datetime(2026, 2, 10, 13, 7, tzinfo=MSK).timestamp())
    origin = dt.date(2025, 1, 1)
    probes = [end - n * 3537 for n in range(200)]
    electric.STORIES.clear()
    first = ElectricStory(spec, 5, StoryOptions(), origin, end, reuse=True).registers_at(probes)
    again = ElectricStory(spec, 5, StoryOptions(), origin, end, reuse=True).registers_at(probes)
    fresh = ElectricStory(spec, 5, StoryOptions(), origin, end).registers_at(probes)
    assert first == again == fresh


def test_now_within_the_day_moves_nothing_already_told():
    spec = make_meter(stream(2, "t"), 3, 1003, "SE303", timestamp=0)
    options = StoryOptions(outages_per_30_days=30)
    morning = int(dt.datetime(2026, 2, 10, 1, 0, tzinfo=MSK).timestamp())
    evening = int(dt.datetime(2026, 2, 10, 23, 0, tzinfo=MSK).timestamp())
    early = ElectricStory(spec, 9, options, dt.date(2025, 12, 1), morning)
    late = ElectricStory(spec, 9, options, dt.date(2025, 12, 1), evening)
    stamps = [morning - n * 1800 for n in range(2000)]
    assert early.registers_at(stamps) == late.registers_at(stamps)
    for journal in ("ElJrnlPwr", "ElJrnlPwrA", "ElJrnlTimeCorr"):
        told_early = early.journal_events(journal)
        assert all(ts <= morning for ts, _ in told_early)
        assert told_early == [e for e in late.journal_events(journal) if e[0] <= morning]
        assert all(ts <= evening for ts, _ in late.journal_events(journal))


def test_an_outage_still_running_at_the_end_is_half_told(tmp_path):
    end = dt.date(2026, 3, 1)
    off = dt.datetime(2026, 2, 28, 22, 10, tzinfo=MSK)
    on = dt.datetime(2026, 3, 1, 2, 0, tzinfo=MSK)   # after the last stamp of the load
    path = str(tmp_path / "m.db")
    Scenario(meters=[MeterPlan("SE303", outages=[(off, on)])], days=2, end=end, seed=3,
             options=StoryOptions(outages_per_30_days=0)).create(LocalTarget(path))
    events = rows(path, "SELECT m.Timestamp, j.Event FROM MeterData m JOIN JournalValues j ON j.Id = m.Id "
                        "WHERE m.RecordTypeId = ? ORDER BY m.Timestamp", (record_type(path, "ElJrnlPwr"),))
    assert events == [(int(off.timestamp()), 0)]
    last = int(dt.datetime(2026, 3, 1, tzinfo=MSK).timestamp())
    assert rows(path, "SELECT max(Timestamp) FROM MeterData")[0][0] <= last
    dark = [s for s in profile(path) if s[0] - 1800 >= off.timestamp()]
    assert dark and all(s[2] == 0 and s[4] == 0 for s in dark)
    assert verify(path) == []


def test_dst_days_have_46_and_50_slots_that_add_up(tmp_path):
    path = str(tmp_path / "berlin.db")
    Scenario(meters=[MeterPlan("SE303", pv=True)], days=3, end=dt.date(2026, 3, 31), seed=4,
             options=StoryOptions(timezone="Europe/Berlin")).create(LocalTarget(path))
    autumn = str(tmp_path / "autumn.db")
    Scenario(meters=[MeterPlan("SE303")], days=3, end=dt.date(2025, 10, 28), seed=4,
             options=StoryOptions(timezone="Europe/Berlin")).create(LocalTarget(autumn))
    for file, day, count in ((path, dt.date(2026, 3, 29), 46), (autumn, dt.date(2025, 10, 26), 50)):
        start = int(dt.datetime(day.year, day.month, day.day, tzinfo=BERLIN).timestamp())
        following = day + dt.timedelta(days=1)
        stop = int(dt.datetime(following.year, following.month, following.day, tzinfo=BERLIN).timestamp())
        inside = [s for s in profile(file) if start < s[0] <= stop]
        assert len(inside) == count
        cons = energy_by_ts(file, 1, "ElDayConsEnergy")[start]
        for c in range(4):
            if cons[0][c] is not None:
                assert sum(s[2 + c] * s[1] / 60 for s in inside) == pytest.approx(cons[0][c], abs=1e-6)
        assert verify(file, timezone="Europe/Berlin") == []


def test_a_longer_period_keeps_the_days_already_told():
    def consumption(days):
        rowset = Scenario(meters=[MeterPlan("SE303", pv=True)], days=days, end=dt.date(2026, 3, 1), seed=6,
                          measures=["ElDayConsEnergy"], options=StoryOptions(outages_per_30_days=0)).build()
        stamps = {h[0]: h[3] for h in rowset["MeterData"]}
        return {(stamps[r[0]], r[1]): tuple(r[2:]) for r in rowset["ElectricEnergyValues"]}

    short, long = consumption(5), consumption(60)
    assert short and all(long[key] == value for key, value in short.items())


def test_pv_meter_with_outages_exports_and_keeps_its_sums(seeded):
    path = seeded(meters=[MeterPlan("SE303", pv=True)], days=20, end=dt.date(2025, 7, 1),
                  options=StoryOptions(outages_per_30_days=6))
    assert rows(path, "SELECT max(Pm) FROM ElectricPowerValues")[0][0] > 0
    assert rows(path, "SELECT count(*) FROM ElectricPowerValues WHERE Partial = 1")[0][0] > 0
    assert verify(path) == []


def test_separate_pulse_objects_agree(target, seed_api_clock):
    mt = GenerateMeterData.MeterTable(Type="Pulsar")
    cfg = GenerateMeterData.PlsConfig(MeterTable=mt.get('MeterTable'))
    kw = dict(MeterTable=cfg.get('MeterTable'), PlsConfig=cfg.get('PlsConfig'))
    days = GenerateMeterData.PlsDayPulse(Count_timestamp=3, **kw).get('PlsDayPulse')
    hours = GenerateMeterData.PlsHourPulse(Count_timestamp=60, **kw).get('PlsHourPulse')
    by_hour = {h["Timestamp"]: h for h in hours}
    shared = [d for d in days if d["Timestamp"] in by_hour]
    assert shared
    for day in shared:
        assert day["Pls1"] == by_hour[day["Timestamp"]]["Pls1"]
    counts = [h["Pls1"] for h in hours]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_the_story_cache_stays_bounded():
    electric.STORIES.clear()
    end = int(dt.datetime(2026, 2, 10, 12, tzinfo=MSK).timestamp())
    for ordinal in range(electric.STORIES.size + 5):
        spec = make_meter(stream(1, "c", ordinal), ordinal, 2000 + ordinal, "Mercury200", timestamp=0)
        ElectricStory(spec, 1, StoryOptions(), dt.date(2026, 1, 1), end, reuse=True)
    assert len(electric.STORIES) == electric.STORIES.size
