"""The registry drives generation (issue 20, item 3): a measure's cadence decides its stamps,
every measure of the registry has a story that produces it, and one the stories cannot produce
is refused in one line naming it -- never written as zero rows.  Adding a measure on an existing
table is shown in a scratch copy of the package: the registry entry and the seed-class
declaration, no story code.

Expected stamps are checked with zoneinfo (local hour starts, midnights, 1sts), not with the
package's own calendar."""
from __future__ import annotations

import datetime as dt
import difflib
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
from zoneinfo import ZoneInfo

import pytest

import GenerateMeterData
from GenerateMeterData import InputError, MeterPlan, Scenario, StoryOptions
from GenerateMeterData.generate.scenario import STORY_CLASSES, check_producible
from GenerateMeterData.schema import measures
from GenerateMeterData.schema.reference import METER_KINDS

ZONE = "Europe/Berlin"          # 29 March 2026 has 23 hours
END = dt.date(2026, 4, 2)
PACKAGE = pathlib.Path(GenerateMeterData.__file__).parent


def _type_keeping(entry) -> str:
    """A meter type of the entry's family that keeps the measure (a profile, quality, ...)."""
    return next(name for name, kind in sorted(METER_KINDS.items())
                if kind.family == entry.meter and kind.keeps(entry.name)
                and (kind.phases == 3 or kind.family != measures.ELECTRIC))


def _on_cadence(cadence: str, ts: int, period_minutes: int = 30) -> bool:
    local = dt.datetime.fromtimestamp(ts, ZoneInfo(ZONE))
    if cadence == measures.HOUR:
        return (local.minute, local.second) == (0, 0)
    if cadence == measures.DAY:
        return (local.hour, local.minute, local.second) == (0, 0, 0)
    if cadence == measures.MONTH:
        return (local.day, local.hour, local.minute, local.second) == (1, 0, 0, 0)
    if cadence == measures.PROFILE:
        return (local.minute % period_minutes, local.second) == (0, 0)
    return True   # moments (polls, off the grid) and events


def test_every_record_measure_of_the_registry_has_a_story():
    for entry in measures.REGISTRY:
        if entry.is_record:
            assert STORY_CLASSES[entry.meter].produces(entry), entry.name
    check_producible(measures.select(records=True))   # no error


@pytest.mark.parametrize("name", [m.name for m in measures.REGISTRY if m.is_record and m.family != measures.JOURNAL])
def test_a_measure_asked_for_alone_is_written_on_its_cadence(name):
    entry = measures.MEASURES[name]
    stamps = []
    Scenario(meters=[MeterPlan(_type_keeping(entry))], days=40, end=END, seed=3, measures=[name],
             options=StoryOptions(timezone=ZONE)).build(recorder=lambda measure, record: stamps.append(record["Timestamp"]))
    assert stamps, f"{name}: no records"
    assert all(_on_cadence(entry.cadence, ts) for ts in stamps)
    if entry.cadence in (measures.DAY, measures.MONTH):   # every midnight / 1st of the 40 days: counted here
        first = END - dt.timedelta(days=40)
        days = [first + dt.timedelta(days=k) for k in range(41)]
        wanted = [d for d in days if entry.cadence == measures.DAY or d.day == 1]
        assert len(stamps) == len(wanted) - (1 if entry.consumption_of else 0)


def test_journals_asked_for_are_written():
    for name in measures.select(family=measures.JOURNAL, meter=measures.ELECTRIC):
        rows = Scenario(meters=[MeterPlan("SE303")], days=10, end=END, seed=3, measures=[name],
                        options=StoryOptions(timezone=ZONE, journals={name: 2}, outages_per_30_days=30,
                                            time_corrections_per_30_days=60)).build()
        assert rows.counts().get("JournalValues", 0) >= 2, name


# ---- a new measure in a scratch copy -----------------------------------------------------------
NEW_ENTRY = '''    Measure("ElHourEnergy", ELECTRIC, ELECTRIC, "ElectricEnergyValues", HOUR, cumulative=True, by_default=False,
            seed_class="ElHourEnergy", doc="Energy registers at the start of each local hour."),
'''
UNPRODUCIBLE_ENTRY = '''    Measure("ElDayPower", ELECTRIC, ELECTRIC, "ElectricPowerValues", DAY, by_default=False,
            doc="Not a table the electric story fills by day: no story produces it."),
'''
NEW_CLASS = '''class ElHourEnergy(_Measure):
    measure = "ElHourEnergy"


'''

SCRATCH_SCRIPT = '''
import datetime as dt, sys
from zoneinfo import ZoneInfo
import GenerateMeterData
from GenerateMeterData import InputError, LocalTarget, MeterPlan, Scenario, StoryOptions, seedapi
assert GenerateMeterData.__file__.startswith(sys.argv[1]), GenerateMeterData.__file__
zone = ZoneInfo("Europe/Berlin")
records = {}
Scenario(meters=[MeterPlan("SE303")], days=2, end=dt.date(2026, 3, 30), seed=3,
         measures=["ElHourEnergy", "ElDayEnergy"], options=StoryOptions(timezone="Europe/Berlin")).build(
    recorder=lambda m, r: records.setdefault(m, []).append(r))
hours = [r["Timestamp"] for r in records["ElHourEnergy"]]
# 28 March 00:00 .. 30 March 00:00 local: 24 + 23 (the DST day) hour starts and the last midnight
assert len(hours) == 48, len(hours)
assert all(dt.datetime.fromtimestamp(t, zone).minute == 0 for t in hours)
day = {r["Timestamp"]: r["A+0"] for r in records["ElDayEnergy"]}
hour = {r["Timestamp"]: r["A+0"] for r in records["ElHourEnergy"]}
assert day and all(hour[t] == value for t, value in day.items())   # the same register at a midnight
assert sorted(hour.values()) == [hour[t] for t in sorted(hour)]     # a register never goes down
target = LocalTarget(sys.argv[2])
target.init()
target.context = target.context.with_clock(int(dt.datetime(2026, 3, 10, 14, 20, tzinfo=ZoneInfo("Europe/Moscow")).timestamp()))
last = GenerateMeterData.ElHourEnergy(Count_timestamp=3, target=target).get("ElHourEnergy")
moscow = ZoneInfo("Europe/Moscow")
assert "ElHourEnergy" in GenerateMeterData.__all__
assert sorted({r["Timestamp"] for r in last}) == [int(dt.datetime(2026, 3, 10, h, 0, tzinfo=moscow).timestamp()) for h in (12, 13, 14)]
try:
    Scenario(meters=1, measures=["ElDayPower"])
except InputError as exc:
    print("REFUSED:", exc)
else:
    raise SystemExit("ElDayPower was accepted")
print("OK")
'''


def _count_changes(before: pathlib.Path, after: pathlib.Path):
    """(files changed, lines added) between two copies of the package."""
    files, added = 0, 0
    for path in sorted(after.rglob("*.py")):
        old = (before / path.relative_to(after)).read_text(encoding="utf-8").splitlines()
        new = path.read_text(encoding="utf-8").splitlines()
        diff = [line for line in difflib.unified_diff(old, new, lineterm="", n=0)
                if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        if diff:
            files += 1
            added += sum(1 for line in diff if line.startswith("+"))
    return files, added


def test_a_new_measure_on_an_existing_table_is_the_registry_entry_and_its_seed_class(tmp_path):
    scratch = tmp_path / "scratch"
    shutil.copytree(PACKAGE, scratch / "GenerateMeterData", ignore=shutil.ignore_patterns("__pycache__"))
    package = scratch / "GenerateMeterData"
    registry_file = package / "schema" / "measures.py"
    text = registry_file.read_text(encoding="utf-8")
    anchor = '    _journal("ElJrnlPwr", OFF_ON, by_default=True),\n'
    assert anchor in text
    registry_file.write_text(text.replace(anchor, NEW_ENTRY + anchor), encoding="utf-8")
    seed_file = package / "seedapi.py"
    text = seed_file.read_text(encoding="utf-8")
    text = text.replace("class ElMomentEnergy(_Measure):", NEW_CLASS + "class ElMomentEnergy(_Measure):", 1)
    text = text.replace('"ElMonthConsEnergy", ', '"ElMonthConsEnergy", "ElHourEnergy", ', 1)
    seed_file.write_text(text, encoding="utf-8")
    init_file = package / "__init__.py"
    text = init_file.read_text(encoding="utf-8")
    text = text.replace("ElDayEnergy, ElMomentEnergy,", "ElDayEnergy, ElHourEnergy, ElMomentEnergy,", 1)
    init_file.write_text(text.replace('"ElMonthConsEnergy", ', '"ElMonthConsEnergy", "ElHourEnergy", ', 1),
                         encoding="utf-8")

    # the measure: its registry entry (2 lines), its seed class (2 lines and 2 blank ones) and its
    # name in seedapi's __all__, the package's import and the package's __all__ (1 line each) --
    # no story code
    assert _count_changes(PACKAGE, package) == (3, 9)
    text = registry_file.read_text(encoding="utf-8")
    registry_file.write_text(text.replace(anchor, UNPRODUCIBLE_ENTRY + anchor), encoding="utf-8")
    script = tmp_path / "new_measure.py"
    script.write_text(textwrap.dedent(SCRATCH_SCRIPT), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(scratch))
    done = subprocess.run([sys.executable, str(script), str(package), str(tmp_path / "m.db")],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    refused = [line for line in done.stdout.splitlines() if line.startswith("REFUSED:")]
    assert len(refused) == 1 and "ElDayPower (ElectricPowerValues, cadence day)" in refused[0]
    assert done.stdout.splitlines()[-1] == "OK"


def test_a_measure_no_story_produces_is_refused_in_one_line(monkeypatch):
    """The check itself, with a registry entry added here for the test."""
    entry = measures.Measure("PlsProfilePulse", measures.PULSE, measures.PULSE, "PulseValues", measures.PROFILE,
                             cumulative=True, doc="a pulse profile: no story makes one")
    monkeypatch.setitem(measures.MEASURES, entry.name, entry)
    with pytest.raises(InputError) as caught:
        check_producible(["ElDayEnergy", "PlsProfilePulse"])
    message = str(caught.value)
    assert "\n" not in message and "PlsProfilePulse (PulseValues, cadence profile)" in message
    assert "ElDayEnergy" not in message


def test_per_family_config_defaults_are_data_and_are_written():
    from GenerateMeterData.generate.meters import CONFIG_DEFAULTS, FAMILY_CONFIG
    from GenerateMeterData.schema.layout import TABLE_COLUMNS

    assert set(CONFIG_DEFAULTS) == set(FAMILY_CONFIG) == set(measures.METER_FAMILIES)
    for family, defaults in CONFIG_DEFAULTS.items():
        table = FAMILY_CONFIG[family][1]
        assert set(defaults) <= set(TABLE_COLUMNS[table])
        type_name = next(name for name, kind in sorted(METER_KINDS.items()) if kind.family == family)
        rows = Scenario(meters=[MeterPlan(type_name)], days=1, end=END, measures=[]).build()
        (row,) = rows[table]
        written = dict(zip(TABLE_COLUMNS[table], row))
        assert {column: written[column] for column in defaults} == defaults


def test_a_measure_no_meter_of_the_scenario_records_is_refused_in_one_line():
    with pytest.raises(InputError) as caught:
        Scenario(meters=[MeterPlan("SE303")], measures=["ElDayEnergy", "PlsDayPulse"])
    message = str(caught.value)
    assert "\n" not in message and "PlsDayPulse" in message and "ElDayEnergy" not in message
    Scenario(meters=[MeterPlan("SE303"), MeterPlan(_type_keeping(measures.MEASURES["PlsDayPulse"]))],
             measures=["ElDayEnergy", "PlsDayPulse"])   # with a pulse concentrator: accepted
