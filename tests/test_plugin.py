"""The pytest plugin, exercised with pytest's own pytester in subprocesses (entry-point loading)."""
from __future__ import annotations

import datetime as dt

import pytest

from helpers import SEED_API_LOCAL, rows

END = dt.date(2026, 3, 1)

# Every pytest this file starts pins the seeders' "now" with the plugin's own option (through
# PYTEST_ADDOPTS, which the subprocesses inherit): what the inner tests seed does not depend on
# the date the suite runs.
PINNED_NOW = SEED_API_LOCAL


@pytest.fixture(autouse=True)
def _pinned_now_in_every_inner_pytest(request, monkeypatch):
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it empties PYTEST_ADDOPTS when it starts: set it after
        monkeypatch.setenv("PYTEST_ADDOPTS", f"--meterdata-now={PINNED_NOW}")


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
    import re
    kept = re.findall(r"^\[gw\d\] meterdata: kept \d+ load\(s\) on \S+ "
                      r"\(ledger GenerateMeterDataLedger, tokens: ([0-9a-f ]+)\)$",
                      result.stdout.str(), re.M)  # each worker's line, printed by the controller
    ledger = sorted(r[0] for r in rows(device.path, "SELECT Token FROM GenerateMeterDataLedger"))
    assert sorted(" ".join(kept).split()) == ledger


# ---- scopes -----------------------------------------------------------------------------------
SCOPE_HELPERS = '''
import sqlite3

def ledger(target):
    return [r[0] for r in sqlite3.connect(target.path).execute("SELECT Token FROM GenerateMeterDataLedger")]

def meter_ids(target):
    return sorted(r[0] for r in sqlite3.connect(target.path).execute("SELECT MeterId FROM MeterTable"))
'''

MODULE_SCOPE = '''
import pytest
from helpers_meterdata import ledger, meter_ids

seen = []

@pytest.fixture(scope="module")
def shared(meterdata_module):
    return meterdata_module.scenario(meters=2, days=1, seed=5)

def test_first(shared, meterdata_target):
    seen.append(shared.token)
    assert ledger(meterdata_target) == [shared.token]
    assert meter_ids(meterdata_target) == sorted(shared.meter_ids)

def test_second_adds_its_own(shared, meterdata, meterdata_target):
    own = meterdata.scenario(meters=1, days=1, seed=6)
    seen.append(shared.token)
    assert sorted(ledger(meterdata_target)) == sorted([shared.token, own.token])
    assert meter_ids(meterdata_target) == sorted(shared.meter_ids + own.meter_ids)

def test_third_sees_the_module_load_only(shared, meterdata_target):
    seen.append(shared.token)
    assert ledger(meterdata_target) == [shared.token]
    assert len(set(seen)) == 1 and len(seen) == 3  # one load for the three tests
'''

CLASS_SCOPE = '''
import pytest
from helpers_meterdata import ledger, meter_ids

def test_the_module_data_was_removed_after_its_module(meterdata_target):
    assert ledger(meterdata_target) == []
    assert meter_ids(meterdata_target) == []

class TestShared:
    seen = []

    @pytest.fixture(scope="class")
    def shared(self, meterdata_class):
        return meterdata_class.scenario(meters=1, days=1, seed=7)

    def test_one(self, shared, meterdata_target):
        self.seen.append(shared.token)
        assert ledger(meterdata_target) == [shared.token]

    def test_two(self, shared, meterdata_target):
        self.seen.append(shared.token)
        assert ledger(meterdata_target) == [shared.token]
        assert len(set(self.seen)) == 1 and len(self.seen) == 2

def test_after_the_class(meterdata_target):
    assert ledger(meterdata_target) == []
    assert meter_ids(meterdata_target) == []
'''


def test_module_and_class_scope_load_once_and_are_removed_after_their_scope(pytester):
    pytester.makepyfile(helpers_meterdata=SCOPE_HELPERS, test_a_module=MODULE_SCOPE, test_b_class=CLASS_SCOPE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=7)


def test_session_scope_is_shared_by_modules_and_removed_at_the_end(pytester, tmp_path):
    from GenerateMeterData import LocalTarget
    db = tmp_path / "session.db"
    LocalTarget(str(db)).init()
    (pytester.path / "settings.ini").write_text(f"[Local]\ndb_path = {db}\n", encoding="utf-8")
    pytester.makeconftest('''
import pytest

@pytest.fixture(scope="session")
def everywhere(meterdata_session):
    return meterdata_session.scenario(meters=2, days=1, seed=8)
''')
    check = '''
import sqlite3

def test_shared(everywhere, meterdata_target, pytestconfig):
    tokens = [r[0] for r in sqlite3.connect(meterdata_target.path).execute("SELECT Token FROM GenerateMeterDataLedger")]
    assert tokens == [everywhere.token]
    with open(pytestconfig.rootpath / "tokens.txt", "a") as handle:
        handle.write(everywhere.token + "\\n")
'''
    pytester.makepyfile(test_one=check, test_two=check)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=2)
    tokens = (pytester.path / "tokens.txt").read_text().split()
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    assert rows(str(db), "SELECT count(*) FROM MeterTable")[0][0] == 0
    assert rows(str(db), "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 0


def test_a_per_test_seeder_in_a_module_fixture_is_pytests_scope_mismatch(pytester):
    pytester.makepyfile('''
import pytest

@pytest.fixture(scope="module")
def wrong(meterdata):
    return meterdata.scenario(meters=1, days=1)

@pytest.fixture(scope="module")
def right(meterdata_module):
    return meterdata_module.scenario(meters=1, days=1)

def test_wrong(wrong):
    pass

def test_right(right):
    assert len(right.meter_ids) == 1
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ScopeMismatch*function scoped fixture meterdata with a module scoped request*",
                                 "*def wrong(meterdata)*"])


# ---- what a load created, and reading it back ------------------------------------------------
def test_meter_ids_are_the_meters_the_loads_created_on_a_db_with_other_meters(pytester, tmp_path):
    from GenerateMeterData import LocalTarget, Scenario
    db = tmp_path / "busy.db"
    Scenario(meters=3, days=2, end=END, seed=1).create(LocalTarget(str(db)))
    others = rows(str(db), "SELECT MeterId, DeviceIdx FROM MeterTable")
    assert len(others) == 3
    (pytester.path / "settings.ini").write_text(f"[Local]\ndb_path = {db}\n", encoding="utf-8")
    pytester.makepyfile('''
import sqlite3

def meters(path):
    return set(sqlite3.connect(path).execute("SELECT MeterId, DeviceIdx FROM MeterTable"))

def test_ids(meterdata, meterdata_target):
    before = meters(meterdata_target.path)
    summary = meterdata.scenario(meters=2, days=1, seed=4)
    middle = meters(meterdata_target.path)
    mt = meterdata.MeterTable()
    after = meters(meterdata_target.path)
    assert set(zip(summary.meter_ids, summary.device_idxs)) == middle - before
    assert set(zip(meterdata.meter_ids, meterdata.device_idxs)) == after - before
    assert (mt.get("MeterTable")["MeterId"], mt.get("MeterTable")["DeviceIdx"]) in after - middle
    assert len(meterdata.meter_ids) == 3 and len(meterdata.summaries) == 2
    assert [m.meter_id for m in meterdata.created] == meterdata.meter_ids
    types = dict(sqlite3.connect(meterdata_target.path).execute(
        "SELECT m.MeterId, t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId"))
    assert [m.type_name for m in meterdata.created] == [types[i] for i in meterdata.meter_ids]
    assert meterdata.clear() == 1  # both loads: one run token (the test), now, in one transaction
    assert meters(meterdata_target.path) == before and meterdata.meter_ids == []
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=1)
    assert rows(str(db), "SELECT MeterId, DeviceIdx FROM MeterTable") == others  # cleaned up, others untouched


def _recipe(pytester):
    import os
    recipe = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recipes",
                          "test_09_pytest_plugin_example.py")
    pytester.makepyfile(test_recipe=open(recipe, encoding="utf-8").read())


def test_the_plugin_example_passes_on_a_local_db_that_holds_other_meters(pytester, tmp_path):
    from GenerateMeterData import LocalTarget, Scenario
    db = tmp_path / "busy.db"
    Scenario(meters=4, days=35, end=END, seed=2).create(LocalTarget(str(db)))  # other meters with day records
    before = rows(str(db), "SELECT count(*) FROM MeterData")[0][0]
    (pytester.path / "settings.ini").write_text(f"[Local]\ndb_path = {db}\n", encoding="utf-8")
    _recipe(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=2, skipped=1)
    assert rows(str(db), "SELECT count(*) FROM MeterData")[0][0] == before


def test_the_plugin_example_passes_on_a_device_that_holds_other_meters(pytester, device):
    from GenerateMeterData import LocalTarget, Scenario
    Scenario(meters=3, days=35, end=END, seed=3).create(LocalTarget(device.path))
    before = rows(device.path, "SELECT MeterId FROM MeterTable ORDER BY MeterId")
    (pytester.path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    _recipe(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=3)
    assert rows(device.path, "SELECT MeterId FROM MeterTable ORDER BY MeterId") == before


QUERY_TEST = '''
import sqlite3

def test_query(meterdata, meterdata_query, meterdata_target, pytestconfig):
    summary = meterdata.scenario(meters=2, days=3, seed=5)
    path = {path!r} or meterdata_target.path
    sql = ("SELECT m.DeviceIdx, count(*), max(v.Ap) FROM MeterData m JOIN ElectricEnergyValues v ON v.Id = m.Id "
           "WHERE m.DeviceIdx IN (?, ?) AND v.Tariff = ? GROUP BY m.DeviceIdx ORDER BY m.DeviceIdx")
    params = (*summary.device_idxs, 0)
    trips = getattr(meterdata_target, "round_trips", 0)
    got = meterdata_query(sql, params)
    assert getattr(meterdata_target, "round_trips", 0) - trips == {commands!r}  # no copy of the database
    expected = sqlite3.connect(path).execute(sql, params).fetchall()
    assert got == expected and len(got) == 2 and all(n > 0 for _, n, _ in got)
    assert meterdata.query("SELECT count(*) FROM MeterTable WHERE MeterId = ?", summary.meter_ids[:1]) == [(1,)]
'''


def test_query_fixture_reads_the_local_file(pytester):
    pytester.makepyfile(QUERY_TEST.format(path="", commands=0))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_query_fixture_reads_the_device_in_one_command(pytester, device):
    (pytester.path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    pytester.makepyfile(QUERY_TEST.format(path=device.path, commands=1))
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings",
                                  "settings.ini").assert_outcomes(passed=1)


# ---- one connection per session, and a device that cannot be used ------------------------------
def test_one_ssh_login_shared_by_every_scope(pytester, device):
    (pytester.path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    pytester.makeconftest('''
import json
import pytest
from GenerateMeterData.pytest_plugin import session_state

@pytest.fixture(scope="session")
def everywhere(meterdata_session):
    return meterdata_session.scenario(meters=1, days=1)

def pytest_unconfigure(config):
    target = session_state(config).target
    with open(config.rootpath / "costs.json", "w") as handle:
        json.dump({"logins": target.logins, "commands": target.commands}, handle)
''')
    pytester.makepyfile('''
import pytest

@pytest.fixture(scope="module")
def per_module(meterdata_module):
    return meterdata_module.scenario(meters=1, days=1)

class TestClass:
    @pytest.fixture(scope="class")
    def per_class(self, meterdata_class):
        return meterdata_class.scenario(meters=1, days=1)

    def test_in_class(self, everywhere, per_module, per_class, meterdata):
        meterdata.scenario(meters=1, days=1)

def test_function(everywhere, per_module, meterdata):
    meterdata.scenario(meters=1, days=1)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=2)
    import json
    costs = json.loads((pytester.path / "costs.json").read_text())
    assert costs["logins"] == 1
    assert costs["commands"] <= 1 + 2 * 5  # the device's state once, then one per load and one per clear
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 0
    assert rows(device.path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 0


UNUSABLE = '''
import pytest

def test_before():
    pass

def test_seeds(meterdata):
    meterdata.scenario(meters=1, days=1)

@pytest.fixture(scope="module")
def shared(meterdata_module):
    return meterdata_module.scenario(meters=1, days=1)

def test_module_data(shared):
    pass

def test_queries(meterdata_query):
    meterdata_query("SELECT 1")

def test_after():
    pass
'''


def _one_line_and_stop(result, what):
    text = result.stdout.str()
    lines = [line for line in text.splitlines() if line.startswith("meterdata: the target from")]
    assert len(lines) == 1, text  # the error of the one test that tried, nothing else
    assert what in lines[0] and "Traceback" not in text and "During handling" not in text, text
    result.stdout.fnmatch_lines(["!*meterdata: the target from*cannot be used*!"])  # the session stopped
    assert result.ret == 1


def test_unreachable_device_fails_the_session_once_with_one_line(pytester, device):
    import sshd
    closed = sshd.free_port()
    (pytester.path / "settings.ini").write_text(device.ini().replace(f"IP_port = {device.server.port}",
                                                                     f"IP_port = {closed}"), encoding="utf-8")
    pytester.makepyfile(UNUSABLE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=1, errors=1)  # test_before ran; the session stopped at test_seeds
    _one_line_and_stop(result, f"127.0.0.1:{closed}: cannot reach the device")


def test_misconfigured_device_fails_the_session_once_with_one_line(pytester, device):
    ini = device.ini().replace(f"db_path = {device.path}", "db_path = /nonexistent/meter.db")
    (pytester.path / "settings.ini").write_text(ini, encoding="utf-8")
    pytester.makepyfile(UNUSABLE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=1, errors=1)
    _one_line_and_stop(result, "db_path /nonexistent/meter.db does not exist on the device")


def test_wrong_settings_section_fails_the_session_once_with_one_line(pytester, device):
    (pytester.path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    pytester.makepyfile(UNUSABLE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini",
                                           "--meterdata-section", "Bench")
    result.assert_outcomes(passed=1, errors=1)
    _one_line_and_stop(result, "section [Bench] not found")


def test_unreachable_device_under_xdist_stops_every_worker(pytester, device):
    import sshd
    closed = sshd.free_port()
    (pytester.path / "settings.ini").write_text(device.ini().replace(f"IP_port = {device.server.port}",
                                                                     f"IP_port = {closed}"), encoding="utf-8")
    pytester.makepyfile("import pytest\n\n@pytest.mark.parametrize('n', range(20))\n"
                        "def test_seeds(meterdata, n):\n    meterdata.scenario(meters=1, days=1)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini",
                                           "-n", "2")
    outcomes = result.parseoutcomes()
    assert 1 <= outcomes.get("errors", outcomes.get("error", 0)) <= 2  # one per worker at most
    assert outcomes.get("passed", 0) == 0
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*meterdata: the target from*cannot reach the device*"])


# ---- --meterdata-keep says where the data stayed ---------------------------------------------
def test_keep_prints_the_local_files_path(pytester):
    import re
    pytester.makepyfile("def test_seed(meterdata):\n    meterdata.scenario(meters=2, days=1)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-keep")
    result.assert_outcomes(passed=1)
    match = re.search(r"^meterdata: kept 1 load\(s\) in (\S+)$", result.stdout.str(), re.M)
    assert match, result.stdout.str()
    assert rows(match.group(1), "SELECT count(*) FROM MeterTable")[0][0] == 2


def test_keep_prints_the_device_and_its_tokens(pytester, device):
    import re
    (pytester.path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    pytester.makepyfile("def test_seed(meterdata):\n    meterdata.scenario(meters=1, days=1)\n"
                        "    meterdata.scenario(meters=1, days=1)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini",
                                           "--meterdata-keep")
    result.assert_outcomes(passed=1)
    # the test's two loads: two ledger entries under the test's one token
    match = re.search(r"^meterdata: kept 1 load\(s\) on (\S+) "
                      r"\(ledger GenerateMeterDataLedger, tokens: ([0-9a-f ]+)\)$", result.stdout.str(), re.M)
    assert match, result.stdout.str()
    assert match.group(1) == f"root@127.0.0.1:{device.server.port}:{device.path}"
    ledger = sorted(r[0] for r in rows(device.path, "SELECT Token FROM GenerateMeterDataLedger"))
    assert match.group(2).split() == ledger[:1] and len(ledger) == 2 and len(set(ledger)) == 1
    commands = {r[0] for r in rows(device.path, "SELECT Command FROM GenerateMeterDataLoads")}
    assert commands == {"pytest test_keep_prints_the_device_and_its_tokens.py::test_seed"}


def test_nothing_is_printed_without_keep(pytester):
    pytester.makeconftest("import pytest\n\n@pytest.fixture(scope='session')\ndef shared(meterdata_session):\n"
                          "    return meterdata_session.scenario(meters=1, days=1)\n")
    pytester.makepyfile("import pytest\n\n@pytest.mark.parametrize('n', range(4))\n"
                        "def test_seed(meterdata, shared, n):\n    meterdata.scenario(meters=1, days=1)\n")
    for args in ((), ("-n", "2")):  # and under xdist, where the workers report to the controller
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        result.assert_outcomes(passed=4)
        assert "meterdata:" not in result.stdout.str()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--meterdata-keep")
    assert result.stdout.str().count("] meterdata: kept ") == 2  # one line per worker


def test_a_load_that_could_not_be_removed_is_reported_with_where_it_stayed(pytester):
    import re
    pytester.makepyfile('''
def test_breaks_the_database(meterdata, meterdata_target):
    meterdata.scenario(meters=1, days=1)
    with open(meterdata_target.path, "wb") as handle:  # the file is no meter.db any more
        handle.write(b"not a database" * 100)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)  # the teardown's clear failed
    assert re.search(r"^meterdata: 1 load\(s\) could not be removed and stayed in \S+meter\.db$",
                     result.stdout.str(), re.M), result.stdout.str()


PINNED_TESTS = """
import datetime as dt


def test_scenario_without_end_ends_on_the_pinned_date(meterdata):
    summary = meterdata.scenario(meters=1, days=2, measures=["ElDayEnergy"])
    rows = meterdata.query("SELECT max(d.Timestamp) FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                           "WHERE a.Name = 'ElDayEnergy' AND d.DeviceIdx = ?", (summary.device_idxs[0],))
    assert rows[0][0] == {midnight}


def test_seed_api_records_end_at_the_pinned_moment(meterdata):
    day = meterdata.ElMomentEnergy(Count_timestamp=3)
    stamps = sorted(record["Timestamp"] for record in day.get("ElMomentEnergy"))
    assert stamps[-1] <= {moment} and {moment} - stamps[-1] < 1800
"""


def test_meterdata_now_pins_the_seeders_clock(pytester):
    import zoneinfo

    moscow = zoneinfo.ZoneInfo("Europe/Moscow")  # the default time zone, UTC+3 all year
    # by hand: 2026-03-10 14:20 MSK = 11:20 UTC; the last day register is stamped at the end
    # date's local midnight, 2026-03-10 00:00 MSK = 2026-03-09 21:00 UTC
    midnight = int(dt.datetime(2026, 3, 9, 21, 0, tzinfo=dt.timezone.utc).timestamp())
    moment = int(dt.datetime(2026, 3, 10, 11, 20, tzinfo=dt.timezone.utc).timestamp())
    assert midnight == int(dt.datetime(2026, 3, 10, tzinfo=moscow).timestamp())
    pytester.makepyfile(PINNED_TESTS.format(midnight=midnight, moment=moment))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-now=tomorrow")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--meterdata-now / meterdata_now: 'tomorrow' is not YYYY-MM-DD" in result.stderr.str()
