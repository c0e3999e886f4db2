"""What a tester met beside faults (issue 19): not-a-meter.db files for plot and loads, verify's
JSON and text, loads -q, the local lock wait, the plugin's relative settings path, MeterIds out of
SQLite's range, the plot extra in the docs."""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

import GenerateMeterData
from GenerateMeterData import LocalTarget, MeterPlan, Scenario
from GenerateMeterData.errors import InputError, OverrideError
from helpers import execute, rows, table_checksums
from test_cli import END, assert_one_line_error, cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIGGEST = 2 ** 63 - 1   # SQLite's INTEGER is 64-bit signed (sqlite.org/datatype3.html)
DAY = dt.date(2026, 3, 1)


@pytest.fixture
def not_meter_dbs(tmp_path):
    """A text file, and an SQLite file of another application."""
    text = tmp_path / "notes.db"
    text.write_text("not a database\n", encoding="utf-8")
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    return [str(text), str(foreign)]


# ---- plot and loads on a file that is not a meter.db: one line, exit 2 -----------------------------
def test_plot_of_a_file_that_is_not_a_meter_db(not_meter_dbs, tmp_path):
    for path in not_meter_dbs:
        before = open(path, "rb").read()
        result = cli("plot", "--db", path, "--out", str(tmp_path / "x.png"))
        assert_one_line_error(result, 2, f"{path} is not a meter.db", "nothing was plotted")
        assert "unexpected" not in result.stderr
        assert open(path, "rb").read() == before and not (tmp_path / "x.png").exists()


def test_loads_of_a_file_that_is_not_a_meter_db(not_meter_dbs):
    for path in not_meter_dbs:
        for extra in ((), ("--json",), ("-q",)):
            result = cli("loads", "--db", path, *extra)
            assert_one_line_error(result, 2, f"{path} is not a meter.db")
            assert result.stdout == ""


# ---- loads -q: the tokens alone ---------------------------------------------------------------------
def test_loads_quiet_prints_the_tokens_one_a_line(tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("init", "--db", path).returncode == 0
    empty = cli("loads", "--db", path, "-q")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "")
    tokens = []
    for seed in ("1", "2"):
        result = cli("seed", "--db", path, "--meters", "1", "--days", "1", *END, "--seed", seed, "--json")
        assert result.returncode == 0, result.stderr
        tokens.append(json.loads(result.stdout)["token"])
    quiet = cli("loads", "--db", path, "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout.splitlines() == tokens   # oldest first, as `loads` lists them


# ---- verify: the rule id in --json, no "expected None" in the text -----------------------------------
def test_verify_json_names_the_rule_id_the_text_shows(seeded):
    path = seeded(meters=1, days=2)
    # a frequency no grid has: the rule says the range itself, so there is no "expected" value
    execute(path, "UPDATE ElectricQualityValues SET F = 60.0 WHERE rowid = "
                  "(SELECT min(rowid) FROM ElectricQualityValues WHERE F IS NOT NULL)")
    text = cli("verify", "--db", path)
    document = json.loads(cli("verify", "--db", path, "--json").stdout)
    assert text.returncode == 1 and document["count"] == 1
    line = text.stdout.strip()
    assert "None" not in line and line.endswith("]")
    violation = document["violations"][0]
    assert line.endswith(f"Freq outside 49-51 Hz: found 60.000 [{violation['rule']}]")
    assert violation["message"] == "Freq outside 49-51 Hz"
    assert (violation["expected"], violation["found"]) == (None, 60.0)


def test_a_value_found_null_reads_null():
    from GenerateMeterData.verify import Violation

    line = Violation(1001, 1, "ElDayEnergy", None, "A+0 is not the sum of tariffs 1-4", 12.5, None,
                     "tariff-sum").format(dt.timezone.utc)
    assert line == "meter 1001 (DeviceIdx 1) ElDayEnergy: A+0 is not the sum of tariffs 1-4: expected 12.500, found NULL [tariff-sum]"


# ---- the local lock wait ------------------------------------------------------------------------------
class Writer:
    """Another process's long write: holds meter.db's write lock until released."""

    def __init__(self, path: str) -> None:
        self.ready, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(path,), daemon=True)

    def _hold(self, path: str) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.ready.set()
        self.release.wait(120)
        conn.execute("ROLLBACK")
        conn.close()

    def __enter__(self) -> "Writer":
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join()


def test_a_small_seed_waits_for_a_long_one_beside_it(tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("init", "--db", path).returncode == 0
    with Writer(path) as writer:
        small = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "seed", "--db", path, "--meters", "1",
                                  "--days", "1", *END, "-q"], env=dict(os.environ, PYTHONPATH=REPO),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:  # the long seed goes on for longer than the old 5 s wait, then commits
            small.wait(8)
        except subprocess.TimeoutExpired:
            pass
        writer.release.set()
    out, err = small.communicate(timeout=120)
    assert small.returncode == 0, err
    assert rows(path, "SELECT count(*) FROM MeterTable") == [(1,)]


def test_busy_timeout_from_the_command_line_and_the_settings(tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("init", "--db", path).returncode == 0
    (tmp_path / "settings.ini").write_text(f"[Local]\ndb_path = {path}\nbusy_timeout = 0.2\n", encoding="utf-8")
    before = table_checksums(path)
    with Writer(path):
        assert_one_line_error(cli("seed", "--db", path, "--meters", "1", "--days", "1", *END, "--busy-timeout", "0.3"),
                              3, "stayed locked by another process for 0.3 s", "--busy-timeout")
        assert_one_line_error(cli("seed", "--meters", "1", "--days", "1", *END, cwd=tmp_path),
                              3, "stayed locked by another process for 0.2 s")
        assert_one_line_error(cli("seed", "--meters", "1", "--days", "1", *END, "--busy-timeout", "0.4", cwd=tmp_path),
                              3, "for 0.4 s")   # the command line wins over the section
    assert table_checksums(path) == before
    for bad in ("0", "-1", "nan", "x", "1e9"):
        assert_one_line_error(cli("seed", "--db", path, "--busy-timeout", bad), 2, "--busy-timeout")


def test_the_default_lock_wait_outlasts_a_long_seed():
    from GenerateMeterData import settings

    assert LocalTarget("x.db").busy_timeout == settings.LocalSettings().busy_timeout == 120.0
    assert settings.DeviceSettings(name="d", host="h").busy_timeout == 10.0


# ---- the plugin's --meterdata-settings is relative to where pytest was started -----------------------
def test_meterdata_settings_relative_to_the_invocation_folder(pytester, tmp_path):
    db = tmp_path / "x.db"
    LocalTarget(str(db)).init()
    (pytester.path / "x").mkdir()
    (pytester.path / "x" / "settings.ini").write_text(f"[Local]\ndb_path = {db}\n", encoding="utf-8")
    project = pytester.path / "project"
    project.mkdir()
    (project / "test_where.py").write_text("def test_where(meterdata_target):\n"
                                           "    print('TARGET', meterdata_target.path)\n", encoding="utf-8")
    os.chdir(project)   # pytester restores the folder at teardown
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--meterdata-settings", "../x/settings.ini",
                                           "--meterdata-section", "Local", "test_where.py")
    result.assert_outcomes(passed=1)
    assert f"TARGET {db}" in result.stdout.str()


def test_meterdata_settings_ini_key_relative_to_the_ini_file(pytester, tmp_path):
    db = tmp_path / "y.db"
    LocalTarget(str(db)).init()
    (pytester.path / "conf").mkdir()
    (pytester.path / "conf" / "settings.ini").write_text(f"[Local]\ndb_path = {db}\n", encoding="utf-8")
    pytester.makeini("[pytest]\nmeterdata_settings = conf/settings.ini\nmeterdata_section = Local\n")
    tests = pytester.path / "tests"
    tests.mkdir()
    (tests / "test_where.py").write_text("def test_where(meterdata_target):\n"
                                         "    print('TARGET', meterdata_target.path)\n", encoding="utf-8")
    os.chdir(tests)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "test_where.py")
    result.assert_outcomes(passed=1)
    assert f"TARGET {db}" in result.stdout.str()


# ---- MeterIds: an SQLite INTEGER above 0, checked in one place -----------------------------------------
@pytest.mark.parametrize("value", [BIGGEST + 1, 2 ** 70, 0, -5])
def test_a_meter_id_out_of_range_is_refused(value, tmp_path):
    path = str(tmp_path / "m.db")
    with pytest.raises(OverrideError, match="tag 'MeterId' must be"):
        Scenario(meters=[MeterPlan("SE303", table={"MeterId": value})], days=1, end=DAY).create(
            LocalTarget(path))
    with pytest.raises(OverrideError, match="tag 'MeterId' must be"):
        GenerateMeterData.MeterTable(redefine_tag={"MeterId": value}, target=LocalTarget(path))
    assert not os.path.exists(path) or rows(path, "SELECT count(*) FROM MeterTable") == [(0,)]


def test_a_meter_id_given_as_a_float_is_a_whole_number_or_refused(tmp_path):
    """MeterId 1001.0 is MeterId 1001: it is taken, so the next meter gets another one (it was
    left unclaimed and the load failed on a duplicate MeterId); 1001.5 is refused in one line
    (it was written as a REAL)."""
    path = str(tmp_path / "m.db")
    Scenario(meters=[MeterPlan("SE303", table={"MeterId": 1001.0}), MeterPlan("SE303")], days=1, end=DAY,
             measures=["ElDayEnergy"]).create(LocalTarget(path))
    assert rows(path, "SELECT MeterId, typeof(MeterId) FROM MeterTable ORDER BY MeterId") == \
        [(1001, "integer"), (1002, "integer")]
    with pytest.raises(OverrideError, match="tag 'MeterId' takes a whole number, got 1001.5"):
        Scenario(meters=[MeterPlan("SE303", table={"MeterId": 1001.5})], days=1, end=DAY).create(LocalTarget(path))
    with pytest.raises(OverrideError, match="tag 'MeterId' takes a whole number, got 2001.5"):
        GenerateMeterData.MeterTable(redefine_tag={"MeterId": 2001.5}, target=LocalTarget(path))
    assert rows(path, "SELECT count(*) FROM MeterTable") == [(2,)]


def test_no_meter_id_left_above_the_largest_is_one_line_and_writes_nothing(tmp_path):
    path = str(tmp_path / "m.db")
    target = LocalTarget(path)
    summary = Scenario(meters=[MeterPlan("SE303", table={"MeterId": BIGGEST})], days=1,
                       end=DAY).create(target)
    assert summary.meter_ids == [BIGGEST]
    before = table_checksums(path)
    with pytest.raises(InputError, match=f"no MeterId left above {BIGGEST}"):
        Scenario(meters=1, days=1, end=DAY, seed=2).create(target)
    assert table_checksums(path) == before
    result = cli("seed", "--db", path, "--meters", "1", "--days", "1", *END)
    assert_one_line_error(result, 2, f"no MeterId left above {BIGGEST}", "nothing was written")
    assert table_checksums(path) == before


@pytest.mark.parametrize("command", ["plot", "clear"])
def test_meter_option_out_of_range_is_a_usage_error(command, tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("init", "--db", path).returncode == 0
    result = cli(command, "--db", path, "--meter", str(2 ** 64), "--out" if command == "plot" else "--dry-run",
                 *([str(tmp_path / "x.png")] if command == "plot" else []))
    assert_one_line_error(result, 2, f"--meter: must be <= {BIGGEST}")


# ---- docs ------------------------------------------------------------------------------------------
def test_the_docs_say_plot_needs_the_plot_extra():
    text = open(os.path.join(REPO, "docs", "cli.md"), encoding="utf-8").read()
    assert "pip install 'GenerateMeterData[plot]'" in text
    help_text = cli("plot", "--help").stdout
    assert "GenerateMeterData[plot]" in " ".join(help_text.split())


# ---- over SSH: the same lines from a device ---------------------------------------------------------
@pytest.mark.parametrize("upload", ["sql", "staged"])
def test_no_meter_id_left_on_a_device_writes_no_real_meter_id(device, upload):
    from GenerateMeterData.targets.ssh import DeviceTarget

    Scenario(meters=[MeterPlan("SE303", table={"MeterId": BIGGEST})], days=1, end=DAY).create(LocalTarget(device.path))
    before = table_checksums(device.path)
    with DeviceTarget(device.settings(upload=upload)) as target:
        with pytest.raises(InputError, match=f"no MeterId left above {BIGGEST}.*nothing was written"):
            Scenario(meters=2, days=1, end=DAY, seed=2).create(target)
    assert table_checksums(device.path) == before
    assert rows(device.path, "SELECT count(*) FROM MeterTable WHERE typeof(MeterId) <> 'integer'") == [(0,)]


def test_no_meter_id_left_on_a_device_at_the_command_line(device, tmp_path):
    Scenario(meters=[MeterPlan("SE303", table={"MeterId": BIGGEST})], days=1, end=DAY).create(LocalTarget(device.path))
    (tmp_path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    before = table_checksums(device.path)
    assert_one_line_error(cli("seed", "--meters", "1", "--days", "1", *END, cwd=tmp_path), 2,
                          f"no MeterId left above {BIGGEST}")
    assert table_checksums(device.path) == before


def test_loads_of_a_foreign_sqlite_file_on_a_device(device, not_meter_dbs, tmp_path):
    for path in not_meter_dbs:
        (tmp_path / "settings.ini").write_text(device.ini().replace(f"db_path = {device.path}", f"db_path = {path}"),
                                               encoding="utf-8")
        result = cli("loads", cwd=tmp_path)
        assert_one_line_error(result, 2, "is not a meter.db")
        assert result.stdout == ""


def test_scenario_end_takes_a_datetime_as_its_day_and_refuses_other_types():
    import datetime as dt

    from GenerateMeterData import Scenario
    # a datetime is a date (a subclass): it used to pass the check and fail deep inside with a
    # TypeError; now it stands for the day it falls on, as a tester writing one expects
    assert Scenario(days=2, end=dt.datetime(2026, 3, 1, 17, 30)).end == dt.date(2026, 3, 1)
    with pytest.raises(InputError, match="end must be a date"):
        Scenario(days=2, end="2026-03-01")
