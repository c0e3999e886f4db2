"""The pytest plugin, exercised with pytest's own pytester in subprocesses (entry-point loading)."""
from __future__ import annotations

from helpers import rows

SEEDING_TESTS = '''
import sqlite3

def count(target, table):
    with target.readable_copy() as path:
        return sqlite3.connect(path).execute(f"SELECT count(*) FROM {table}").fetchone()[0]

def test_scenario_seeds(meterdata, meterdata_target):
    summary = meterdata.scenario(meters=2, days=2, seed=3)
    assert summary.meters == 2
    assert count(meterdata_target, "MeterTable") == 2

def test_previous_test_was_cleaned_up(meterdata_target, el_day_energy_factory, meter_table_factory):
    assert count(meterdata_target, "MeterTable") == 0
    mt = meter_table_factory()
    days = el_day_energy_factory(MeterTable=mt.get("MeterTable"), Count_timestamp=3)
    assert len(days.get("ElDayEnergy")) == 3
    assert count(meterdata_target, "MeterData") == 3

def test_and_again(meterdata_target, meterdata_scenario):
    assert count(meterdata_target, "MeterData") == 0
    meterdata_scenario(meters=1, days=1)
'''


def test_fixtures_seed_and_clean_up_on_a_local_meter_db(pytester):
    pytester.makepyfile(SEEDING_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_keep_option_keeps_the_data(pytester, tmp_path):
    db = tmp_path / "kept.db"
    from GenerateMeterData import LocalTarget
    LocalTarget(str(db)).init()
    (pytester.path / "settings.ini").write_text(f"[Local]\ndb_path = {db}\n", encoding="utf-8")
    pytester.makepyfile("def test_seed(meterdata):\n    meterdata.scenario(meters=2, days=1)\n")
    result = pytester.runpytest_subprocess("--meterdata-settings", "settings.ini", "--meterdata-section", "Local",
                                           "--meterdata-keep")
    result.assert_outcomes(passed=1)
    assert rows(str(db), "SELECT count(*) FROM MeterTable")[0][0] == 2
    result = pytester.runpytest_subprocess("--meterdata-settings", "settings.ini", "--meterdata-section", "Local")
    result.assert_outcomes(passed=1)
    assert rows(str(db), "SELECT count(*) FROM MeterTable")[0][0] == 2  # the second run cleaned up its own


def test_ini_keys_and_command_line_precedence(pytester, tmp_path):
    from GenerateMeterData import LocalTarget
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    for path in (first, second):
        LocalTarget(str(path)).init()
    (pytester.path / "settings.ini").write_text(f"[First]\ndb_path = {first}\n\n[Second]\ndb_path = {second}\n",
                                                encoding="utf-8")
    pytester.makeini("[pytest]\nmeterdata_settings = settings.ini\nmeterdata_section = First\nmeterdata_keep = true\n")
    pytester.makepyfile("def test_seed(meterdata):\n    meterdata.scenario(meters=1, days=1)\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    pytester.runpytest_subprocess("--meterdata-section", "Second").assert_outcomes(passed=1)
    assert rows(str(first), "SELECT count(*) FROM MeterTable")[0][0] == 1
    assert rows(str(second), "SELECT count(*) FROM MeterTable")[0][0] == 1


def test_device_marker_skips_with_a_reason_without_a_device(pytester):
    pytester.makepyfile("import pytest\n\n@pytest.mark.meterdata_device\ndef test_needs_device(meterdata):\n    pass\n")
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs a real device: no settings.ini given*"])


def test_device_from_settings_ini_and_xdist_workers_do_not_collide(pytester, device):
    (pytester.path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    body = '''
@pytest.mark.meterdata_device
@pytest.mark.parametrize("n", range(4))
def test_seed_on_device(meterdata, n):
    summary = meterdata.scenario(meters=2, days=2, seed=n)
    assert summary.meters == 2
'''
    pytester.makepyfile("import pytest\n" + body)
    result = pytester.runpytest_subprocess("--meterdata-settings", "settings.ini", "--meterdata-keep", "-n", "2")
    result.assert_outcomes(passed=4)
    meter_ids = [r[0] for r in rows(device.path, "SELECT MeterId FROM MeterTable")]
    assert len(meter_ids) == 8 == len(set(meter_ids))
    assert {m // 100_000 for m in meter_ids} == {0, 1}  # worker gw0 and gw1 ranges
    assert rows(device.path, "SELECT count(*) FROM (SELECT 1 FROM MeterData GROUP BY DeviceIdx, RecordTypeId, "
                             "Timestamp HAVING count(*) > 1)")[0][0] == 0
    from GenerateMeterData import verify
    assert verify(device.path) == []
