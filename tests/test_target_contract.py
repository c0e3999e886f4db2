"""The Target contract: a producer says what it makes (``Producer``), observers hear every load
and clear, a dry run is a target that counts (``CountingTarget``), and generate never imports
targets.  Against a real SQLite file; counts are read back from it with sqlite3."""
from __future__ import annotations

import ast
import datetime as dt
import os
import sqlite3

import pytest

import GenerateMeterData
from GenerateMeterData import LocalTarget, Scenario, TargetError
from GenerateMeterData.records.producer import Producer, RowsOf, as_producer
from GenerateMeterData.records.rows import RowSet
from GenerateMeterData.targets.base import LoadObserver
from GenerateMeterData.targets.counting import CountingTarget

END = dt.date(2026, 3, 1)
PACKAGE = os.path.dirname(GenerateMeterData.__file__)


def table_counts(path):
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


class Heard(LoadObserver):
    def __init__(self):
        self.events = []

    def committed(self, target, token):
        self.events.append(("committed", token))

    def loaded(self, target, summary):
        self.events.append(("loaded", summary.token))

    def cleared(self, target, plan):
        self.events.append(("cleared", tuple(plan.tokens), tuple(plan.meter_ids)))


@pytest.fixture
def target(tmp_path):
    local = LocalTarget(str(tmp_path / "meter.db"))
    local.init()
    return local


def test_a_scenario_and_its_parts_are_producers_whose_parts_add_up():
    scenario = Scenario(meters=5, days=1, end=END)
    assert isinstance(scenario, Producer) and as_producer(scenario) is scenario
    parts = [scenario.split(n, 2) for n in range(2)]
    assert [p.meter_count() for p in parts] == [3, 2]   # meters 0, 2, 4 and 1, 3
    assert all(p.split(0, 2) is None for p in parts)    # a part is not split again


def test_a_plain_function_is_loaded_as_a_producer_of_unknown_size(target):
    def one_meter(ids, names):
        yield Scenario(meters=1, days=1, end=END).build()

    producer = as_producer(one_meter)
    assert isinstance(producer, RowsOf) and producer.meter_count() is None and producer.split(0, 2) is None
    summary = target.load(one_meter)
    assert summary.meters == 1 and table_counts(target.path)["MeterTable"] == 1


def test_observers_hear_commit_load_and_clear_in_order(target):
    heard = Heard()
    target.observe(heard)
    first = target.load(Scenario(meters=2, days=1, end=END))
    assert heard.events == [("committed", first.token), ("loaded", first.token)]
    removed = target.clear(meters=[first.meter_ids[0]])
    assert removed == 1 and heard.events[-1] == ("cleared", (), (first.meter_ids[0],))
    target.clear([first.token])
    assert heard.events[-1] == ("cleared", (first.token,), (first.meter_ids[1],))
    target.unobserve(heard)
    target.load(Scenario(meters=1, days=1, end=END))
    assert len(heard.events) == 4


def test_an_observer_in_a_block_hears_only_that_block(target):
    heard = Heard()
    with target.observed(heard):
        inside = target.load(Scenario(meters=1, days=1, end=END))
    target.load(Scenario(meters=1, days=1, end=END))
    assert heard.events == [("committed", inside.token), ("loaded", inside.token)]
    assert target.observers == ()


def test_a_load_that_writes_nothing_is_heard_without_a_commit(target):
    heard = Heard()
    with target.observed(heard):
        summary = target.load(lambda ids, names: iter([RowSet()]))
    assert summary.token is None and heard.events == [("loaded", None)]


def test_counting_target_counts_what_a_load_writes_and_writes_nothing(target, tmp_path):
    before = table_counts(target.path)
    with open(target.path, "rb") as handle:
        image = handle.read()
    scenario = Scenario(meters=3, days=2, end=END, seed=11)
    dry = CountingTarget(target)
    counted = dry.load(scenario)
    with open(target.path, "rb") as handle:
        assert handle.read() == image                       # not a byte changed
    assert counted.token is None and counted.target == f"(dry run) {target.name}"
    assert dry.context is target.context
    # the real load of the same scenario, counted by SQLite
    written = target.load(scenario)
    after = table_counts(target.path)
    grown = {t: after[t] - before[t] for t in after if after[t] != before[t] and not t.startswith("GenerateMeterData")}  # not the ledger
    assert counted.meters == written.meters == 3
    assert {t: n for t, n in counted.rows.items() if n} == grown
    assert (counted.first_timestamp, counted.last_timestamp) == (written.first_timestamp, written.last_timestamp)


def test_counting_target_reads_through_and_refuses_to_write(target):
    dry = CountingTarget(target, name="(dry run) here")
    assert dry.fetch("SELECT count(*) FROM MeterTable") == [(0,)]
    for attempt in (lambda: dry.clear(), lambda: dry.init(), lambda: dry.restore(target.path)):
        with pytest.raises(TargetError, match="a dry run writes nothing"):
            attempt()
    with pytest.raises(TargetError, match="nothing to read"):
        CountingTarget().fetch("SELECT 1")


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


@pytest.mark.parametrize("layer", ["generate", "records"])
def test_generate_and_records_never_import_targets(layer):
    found = []
    for name in sorted(os.listdir(os.path.join(PACKAGE, layer))):
        if name.endswith(".py"):
            for module in _imports(os.path.join(PACKAGE, layer, name)):
                if "targets" in module.split(".") or module.lstrip(".").startswith("targets"):
                    found.append(f"{layer}/{name}: {module}")
    assert found == []


def test_no_target_module_probes_a_producer_or_story_with_getattr():
    probes = []
    for layer in ("targets", "generate"):
        for name in sorted(os.listdir(os.path.join(PACKAGE, layer))):
            if name.endswith(".py"):
                text = open(os.path.join(PACKAGE, layer, name), encoding="utf-8").read()
                for word in ("produce", "story", "producer"):
                    if f"getattr({word}," in text:
                        probes.append(f"{layer}/{name}: getattr({word}, ...)")
    assert probes == []


SEEDER_CLEARS_METERS = '''
import datetime as dt
import sqlite3

import pytest

from GenerateMeterData import InputError

def meter_ids(path):
    return sorted(r[0] for r in sqlite3.connect(path).execute("SELECT MeterId FROM MeterTable"))

def test_clear_some_meters(meterdata, meterdata_target):
    summary = meterdata.scenario(meters=3, days=1, end=dt.date(2026, 3, 1))
    first, *rest = summary.meter_ids
    with pytest.raises(InputError, match="not created by this seeder"):
        meterdata.clear(meters=[first, 999999])
    assert meterdata.clear(meters=[first]) == 1
    assert meter_ids(meterdata_target.path) == sorted(rest)
    assert meterdata.meter_ids == rest and meterdata.loads == [summary.token]

def test_teardown_removed_the_rest(meterdata_target):
    assert meter_ids(meterdata_target.path) == []
'''


def test_a_seeder_clears_some_of_its_meters_and_teardown_the_rest(pytester):
    pytester.makepyfile(SEEDER_CLEARS_METERS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "could not be removed" not in result.stdout.str()


def test_scenario_create_without_a_target_writes_to_the_configured_one(target):
    from GenerateMeterData.targets import current_default_target, set_default_target

    before = current_default_target()
    set_default_target(target)
    try:
        summary = Scenario(meters=2, days=1, end=END).create()
    finally:
        set_default_target(before)
    assert summary.target == target.path and table_counts(target.path)["MeterTable"] == 2
