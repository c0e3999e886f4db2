"""The command line: exit codes, one-line errors, the resulting database."""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from helpers import execute, rows, table_checksums

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# every seed names its last day: what a test checks must not depend on the date it runs (the one
# test of the default "up to today" is test_seed_without_end_ends_at_todays_local_midnight)
END = ("--end", "2026-01-10")


def cli(*args, cwd=None, env=None):
    full_env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


def seed_json(*args, cwd=None):
    """``seed --meters 2 --days 2 --end 2026-01-10 --json ARGS``: its document (the seed must succeed)."""
    result = cli("seed", "--meters", "2", "--days", "2", *END, "--json", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result, code, *fragments):
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # usage errors too: one line and a hint to --help
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_init_seed_verify(tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("init", "--db", path).returncode == 0
    result = cli("seed", "--db", path, "--meters", "3", "--days", "5", "--end", "2026-01-10", "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "meters : 3" in result.stdout and "ElectricPowerValues" in result.stdout
    assert rows(path, "SELECT count(*) FROM MeterTable")[0][0] == 3
    result = cli("verify", "--db", path)
    assert result.returncode == 0 and "all invariants hold" in result.stdout


def test_verify_reports_violations_and_exits_1(tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("seed", "--db", path, "--meters", "1", "--days", "3", "--end", "2026-01-10").returncode == 0
    execute(path, "UPDATE ElectricEnergyValues SET Ap = Ap + 1000 WHERE Tariff = 2 AND Id = "
                  "(SELECT min(Id) FROM MeterData WHERE RecordTypeId = 5)")
    result = cli("verify", "--db", path)
    assert result.returncode == 1
    assert "meter 1001 (DeviceIdx 1) ElDayEnergy 2026-01-07 00:00:00 +0300: A+0 is not the sum of tariffs 1-4" in result.stdout
    assert "expected" in result.stdout and "found" in result.stdout


def test_seed_without_end_ends_at_todays_local_midnight(tmp_path):
    """The default period (no --end): it ends at the local midnight that starts today, in the
    default time zone Europe/Moscow (UTC+3 all year).  "Today" is read from the clock just before
    and just after the run, so the expectation holds on any date, even if the run spans a
    midnight."""
    msk = ZoneInfo("Europe/Moscow")
    before = dt.datetime.now(msk).date()
    result = cli("seed", "--db", str(tmp_path / "m.db"), "--meters", "1", "--days", "2", "--json", cwd=tmp_path)
    after = dt.datetime.now(msk).date()
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    first, last = dt.datetime.fromisoformat(document["first"]), dt.datetime.fromisoformat(document["last"])
    assert last.date() in (before, after)
    assert (last.time(), last.utcoffset()) == (dt.time(0), dt.timedelta(hours=3))
    assert first == last - dt.timedelta(days=2)
    newest_day = rows(str(tmp_path / "m.db"), "SELECT max(m.Timestamp) FROM MeterData m JOIN ArchTypes a "
                      "ON a.Id = m.RecordTypeId WHERE a.Name = 'ElDayEnergy'")[0][0]
    assert newest_day == int(last.timestamp())


def test_no_settings_means_meter_db_in_current_folder(tmp_path):
    result = cli("seed", "--meters", "1", "--days", "2", *END, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert rows(str(tmp_path / "Meter.db"), "SELECT count(*) FROM MeterTable")[0][0] == 1


def test_settings_section_with_db_path_is_a_local_file(tmp_path):
    (tmp_path / "settings.ini").write_text("[Bench]\ndb_path = bench.db\ntimezone = Europe/Moscow\n", encoding="utf-8")
    result = cli("seed", "--section", "Bench", "--meters", "1", "--days", "2", *END, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "bench.db").exists() and not (tmp_path / "Meter.db").exists()


def test_dry_run_writes_nothing(tmp_path):
    path = str(tmp_path / "m.db")
    cli("init", "--db", path)
    before = table_checksums(path)
    result = cli("seed", "--db", path, "--meters", "2", "--days", "2", *END, "--dry-run")
    assert result.returncode == 0 and "nothing was written" in result.stdout
    assert table_checksums(path) == before


@pytest.mark.parametrize("args,code,fragment", [
    (("seed", "--meters", "-2"), 2, "--meters: '-2' must be >= 0"),
    (("seed", "--end", "2026-13-01"), 2, "is not a date"),
    (("seed", "--timezone", "Mars/Olympus"), 2, "unknown time zone 'Mars/Olympus'"),
    (("seed", "--period", "7"), 2, "profile period 7 min"),
    (("verify", "--db", "missing.db"), 2, "missing.db does not exist"),
    (("seed", "--section", "Nope"), 2, "section [Nope] not found"),
])
def test_bad_input_is_one_line(tmp_path, args, code, fragment):
    (tmp_path / "settings.ini").write_text("[Test]\ndb_path = t.db\n", encoding="utf-8")
    assert_one_line_error(cli(*args, cwd=tmp_path), code, fragment)


def test_not_a_meter_db_and_locked_database(tmp_path):
    other = tmp_path / "other.db"
    other.write_bytes(b"x" * 4096)
    assert_one_line_error(cli("seed", "--db", str(other), *END), 2, "is not a meter.db")
    path = str(tmp_path / "m.db")
    cli("init", "--db", path)
    (tmp_path / "settings.ini").write_text(f"[Test]\ndb_path = {path}\nbusy_timeout = 0.2\n", encoding="utf-8")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert_one_line_error(cli("seed", "--meters", "1", "--days", "1", *END, cwd=tmp_path), 3, "stayed locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rows(path, "SELECT count(*) FROM MeterTable")[0][0] == 0


def test_quiet_and_verbose(tmp_path):
    path = str(tmp_path / "m.db")
    quiet = cli("seed", "--db", path, "--meters", "1", "--days", "1", *END, "-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    verbose = cli("seed", "--db", str(tmp_path / "v.db"), "--meters", "1", "--days", "1", *END, "-v")
    assert verbose.returncode == 0 and "target: db_path=" in verbose.stderr and "scenario: 1 meters" in verbose.stderr
    assert "meters : 1" in verbose.stdout
