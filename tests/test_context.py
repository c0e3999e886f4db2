"""The clock is part of the target's context (issue 20, item 2): set_clock() pins the default
target's clock, a target configured later inherits it, and Scenario.create ends on the local
date of the target's clock.  Expected stamps are computed here with zoneinfo."""
from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest

import GenerateMeterData
from GenerateMeterData import InputError, LocalTarget, Scenario, seedapi
from GenerateMeterData.model.context import TargetContext
from GenerateMeterData.targets import current_default_target

ZONE = "Asia/Yekaterinburg"   # UTC+5 all year
NOW = int(dt.datetime(2026, 3, 10, 14, 20, tzinfo=ZoneInfo(ZONE)).timestamp())


def midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(ZONE)).timestamp())


def day_stamps(path: str):
    with sqlite3.connect(path) as conn:
        return [ts for (ts,) in conn.execute(
            "SELECT m.Timestamp FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
            "WHERE a.Name = 'ElDayEnergy' ORDER BY m.Timestamp")]


def test_a_context_clock_is_unix_seconds_or_none():
    assert TargetContext(clock=NOW).now() == NOW
    assert TargetContext(clock=NOW, timezone=ZONE).today() == dt.date(2026, 3, 10)
    for wrong in ("now", 1.5, True):
        with pytest.raises(InputError, match="the clock must be Unix seconds"):
            TargetContext(clock=wrong)


def test_set_clock_pins_the_default_targets_clock_and_a_later_target_inherits_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = GenerateMeterData.configure(LocalTarget(str(tmp_path / "a.db")))
    assert seedapi.set_clock(NOW) is None
    assert first.context.clock == NOW
    second = GenerateMeterData.configure(LocalTarget(str(tmp_path / "b.db")))
    assert second is current_default_target() and second.context.clock == NOW
    assert seedapi.set_clock(None) == NOW and second.context.clock is None


def test_scenario_create_ends_on_the_date_of_the_targets_clock(tmp_path):
    path = str(tmp_path / "m.db")
    target = LocalTarget(path, timezone=ZONE)
    target.init()
    target.context = target.context.with_clock(NOW)
    Scenario(meters=1, days=2, measures=["ElDayEnergy"]).create(target)
    # days=2 ending 10 March (local): the midnights of 8, 9 and 10 March in Yekaterinburg
    assert day_stamps(path) == [midnight(dt.date(2026, 3, d)) for d in (8, 9, 10)]


def test_seed_classes_end_at_their_targets_clock(tmp_path):
    path = str(tmp_path / "m.db")
    target = LocalTarget(path, timezone=ZONE)
    target.init()
    target.context = target.context.with_clock(NOW)
    records = GenerateMeterData.ElDayEnergy(Count_timestamp=2, target=target).get("ElDayEnergy")
    assert [r["Timestamp"] for r in records] == [midnight(dt.date(2026, 3, 9)), midnight(dt.date(2026, 3, 10))]


def _data(path: str):
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                for table in ("MeterTable", "ElectricConfig", "MeterData", "ElectricEnergyValues")}


def test_scenario_create_takes_the_seed_and_locale_it_does_not_name_from_the_target(tmp_path):
    from GenerateMeterData import StoryOptions

    paths = [str(tmp_path / f"{name}.db") for name in ("context", "explicit", "default")]
    targets = [LocalTarget(path) for path in paths]
    for target in targets:
        target.init()
    targets[0].context = dataclasses.replace(targets[0].context, seed=7, locale="ru_RU")
    end = dt.date(2026, 3, 1)
    Scenario(meters=12, days=2, end=end, measures=["ElDayEnergy"]).create(targets[0])
    Scenario(meters=12, days=2, end=end, seed=7, measures=["ElDayEnergy"],
             options=StoryOptions(locale="ru_RU")).create(targets[1])
    Scenario(meters=12, days=2, end=end, measures=["ElDayEnergy"]).create(targets[2])
    context, explicit, default = (_data(path) for path in paths)
    assert context == explicit          # 12 meters: the mix past the 9 fixed types is drawn from the seed
    assert context["MeterTable"] != default["MeterTable"]
    assert context["ElectricEnergyValues"] != default["ElectricEnergyValues"]
    bound = Scenario(meters=1).for_target(targets[0])
    assert (bound.seed, bound.options.locale) == (7, "ru_RU")
    assert Scenario(meters=1, seed=3).for_target(targets[0]).seed == 3   # a seed of its own wins
