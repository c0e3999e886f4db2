"""One meter over many years streams: the target gets its rows in RowSets of a bounded size, so a
load's memory does not grow with the length of a meter's history, and the rows are the very
rows of a load that held each meter in one RowSet."""
from __future__ import annotations

import datetime as dt
import sqlite3
import tracemalloc

import pytest

from GenerateMeterData import LocalTarget, MeterPlan, Scenario, verify
from GenerateMeterData.generate import scenario as scenario_module
from GenerateMeterData.records.rows import ContinuedRowSet
from GenerateMeterData.records.rows import IdAllocator, NameIndex

END = dt.date(2026, 1, 10)
ONE_ROWSET_PER_METER = 10 ** 12   # ROWS_PER_SET that never splits a meter (the rows before streaming)


def every_row(path):
    """Every row of every table of a meter.db, in rowid order (the ledger's clock and command aside)."""
    conn = sqlite3.connect(path)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'GenerateMeterData%' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def peak_of_load(tmp_path, days):
    """Peak traced Python memory of writing 1 meter x ``days`` to a new local file."""
    path = tmp_path / f"peak{days}.db"
    tracemalloc.start()
    try:
        Scenario(meters=[MeterPlan("SE303")], days=days, end=END, seed=11).create(LocalTarget(str(path)))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_of_one_long_meter_does_not_grow_with_its_history(tmp_path):
    # warm up: every lazy import and cache a load touches is in place before measuring
    Scenario(meters=[MeterPlan("SE303")], days=2, end=END, seed=11).create(LocalTarget(str(tmp_path / "warm.db")))
    short = peak_of_load(tmp_path, 300)
    long = peak_of_load(tmp_path, 3000)
    # holding the meter's rows (ten times as many) would peak near 10 x the short load
    assert long < 3 * short, (short, long)
    conn = sqlite3.connect(tmp_path / "peak3000.db")
    days = conn.execute("SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                        "WHERE a.Name = 'ElDayEnergy'").fetchone()[0]
    conn.close()
    assert days == 3001


def test_a_long_meter_comes_in_bounded_rowsets_registry_first():
    rowsets = list(Scenario(meters=[MeterPlan("SE303"), MeterPlan("Mercury200")], days=2000, end=END,
                            seed=2).generate(IdAllocator(), NameIndex.reference()))
    assert len(rowsets) > 4
    limit = scenario_module.ROWS_PER_SET
    # a RowSet closes at the first step past the limit: a span of one measure more at most
    assert max(r.total() for r in rowsets) < 2 * limit
    starts = [i for i, r in enumerate(rowsets) if r["MeterTable"]]
    assert starts[0] == 0 and len(starts) == 2 and all(len(rowsets[i]["MeterTable"]) == 1 for i in starts)
    config_rows = [i for i, r in enumerate(rowsets) if r["ElectricConfig"]]
    assert config_rows == starts
    # the RowSets that continue a meter say so (a load cut into parts of whole meters needs it)
    assert [i for i, r in enumerate(rowsets) if not isinstance(r, ContinuedRowSet)] == starts
    headers = [h[0] for r in rowsets for h in r["MeterData"]]
    assert headers == list(range(1, len(headers) + 1))   # ids run on across RowSets


PLANS = [MeterPlan("SE303"), MeterPlan("Mercury23x", period_minutes=15), MeterPlan("Pulsar"),
         MeterPlan("UMTV10"), MeterPlan("MILUR IC", children=[MeterPlan("SE102M")])]


@pytest.mark.parametrize("extra", [
    {},
    {"depth": {"ElDayConsEnergy": 100, "ElArr1ConsPower": 5000, "ElMomentQuality": 2000, "PlsHourPulse": 3000}},
    {"overrides": {"ElDayEnergy": {"A+1": 5.0}, "ElMomentEnergy": {"A+0": 1.0}}},
], ids=["plain", "depth", "overrides"])
def test_rows_cut_at_every_span_are_the_rows_of_one_rowset_per_meter(tmp_path, monkeypatch, extra):
    """Cut after every step (every span of every measure) or never: the same rows, ids and
    all -- the consumption record at a span's last day still reads the next span's register."""
    files = {}
    for name, limit in (("whole", ONE_ROWSET_PER_METER), ("cut", 1)):
        monkeypatch.setattr(scenario_module, "ROWS_PER_SET", limit)
        path = tmp_path / f"{name}.db"
        Scenario(meters=PLANS, days=100, end=END, seed=5, **extra).create(LocalTarget(str(path)))
        files[name] = str(path)
    assert every_row(files["cut"]) == every_row(files["whole"])
    if "overrides" not in extra:   # overrides write what the user asked, consistent or not
        assert verify(files["cut"]) == []


def test_a_story_longer_than_its_kept_days_gives_the_same_rows(monkeypatch):
    """Past KEEP_ALL_DAYS a meter keeps only its last days' slots and recomputes the rest:
    the rows (profile, moments, quality noise, journals) stay those of a story that keeps all."""
    from GenerateMeterData.generate import electric
    plans = [MeterPlan("SE303"), MeterPlan("Pulsar")]
    a = Scenario(meters=plans, days=120, end=END, seed=9).build()
    monkeypatch.setattr(electric, "KEEP_ALL_DAYS", 10)
    monkeypatch.setattr(scenario_module, "ROWS_PER_SET", 1000)
    b = Scenario(meters=plans, days=120, end=END, seed=9).build()
    assert a.tables == b.tables
