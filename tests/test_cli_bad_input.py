"""Bad input at the command line (issue 14 items 10, 13, 15): one line, exit 2, no traceback,
nothing written; with --all-sections every section's result is printed and the exit code is
the worst of them."""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from helpers import execute, rows, table_checksums
from test_cli import END, assert_one_line_error, cli
from test_cli_exit_codes import closed_port


@pytest.fixture
def good(tmp_path):
    path = str(tmp_path / "good.db")
    assert cli("seed", "--db", path, "--meters", "2", "--days", "2", *END).returncode == 0
    return path


@pytest.mark.parametrize("args,fragment", [
    (("--end", "9999-12-31"), "--end 9999-12-31 with --days 30: the period must lie between 1970-01-02 and 9998-12-31"),
    (("--end", "0001-01-02"), "the period must lie between 1970-01-02 and 9998-12-31"),
    (("--end", "1970-01-05", "--days", "5"), "the period must lie between"),
    (("--days", "1000000"), "--days: 1000000 is more than 3,660 days, the most the command line takes"),
    (("--meters", str(2 ** 70)), "is more than 100,000 meters"),
    (("--jobs", "1000"), "--jobs: 1000 is more than 64 jobs"),
    (("--seed", "x"), "--seed: invalid int value: 'x'"),
    (("--period", str(2 ** 70)), "profile period"),
])
def test_seed_values_out_of_range(tmp_path, good, args, fragment):
    before = table_checksums(good)
    assert_one_line_error(cli("seed", "--db", good, *args), 2, fragment)
    assert_one_line_error(cli("seed", "--db", good, "--dry-run", *args), 2, fragment)
    assert table_checksums(good) == before


def test_the_edges_of_the_period_are_accepted(tmp_path):
    for end, days in (("9998-12-31", "1"), ("1970-01-03", "1")):
        result = cli("seed", "--db", str(tmp_path / "x.db"), "--meters", "1", "--days", days, "--end", end,
                     "--dry-run", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["last"].startswith(end)
    result = cli("seed", "--db", str(tmp_path / "x.db"), "--meters", "1", "--days", "1", *END,
                 "--seed", str(2 ** 70), "--dry-run")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "-inf", "1e400", "x"])
def test_verify_tolerance_must_be_finite_and_not_negative(good, value):
    assert_one_line_error(cli("verify", "--db", good, "--tolerance", value), 2, "--tolerance")


def test_verify_of_a_db_that_is_not_a_meter_db_is_bad_input_not_violations(tmp_path, good):
    no_table = str(tmp_path / "no_table.db")
    shutil.copy(good, no_table)
    execute(no_table, "DROP TABLE JournalValues")
    assert_one_line_error(cli("verify", "--db", no_table), 2, "is not a meter.db (it has no table JournalValues)",
                          "nothing was verified")
    no_column = str(tmp_path / "no_column.db")
    shutil.copy(good, no_column)
    conn = sqlite3.connect(no_column)
    column = [r[1] for r in conn.execute("PRAGMA table_info(ElectricPowerValues)")][-1]
    conn.execute(f"ALTER TABLE ElectricPowerValues DROP COLUMN {column}")
    conn.commit()
    conn.close()
    assert_one_line_error(cli("verify", "--db", no_column), 2, "table ElectricPowerValues lacks column(s)")
    text = tmp_path / "text.db"
    text.write_text("not sqlite at all\n" * 100)
    assert_one_line_error(cli("verify", "--db", str(text)), 2, "is not a meter.db")


def test_backup_to_nothing_is_refused(tmp_path, good):
    for target, fragment in (("", "backup needs a file name"), ("   ", "backup needs a file name"),
                             (str(tmp_path), "is a directory"),
                             (str(tmp_path / "missing" / "b.db"), f"folder {tmp_path / 'missing'} does not exist"),
                             (good, "is the database itself")):
        before = sorted(p.name for p in tmp_path.iterdir())
        assert_one_line_error(cli("backup", target, "--db", good), 2, fragment)
        assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert rows(good, "SELECT count(*) FROM MeterTable")[0][0] == 2


def test_seed_zero_meters_writes_nothing_and_says_so(tmp_path, good):
    before = table_checksums(good)
    result = cli("seed", "--db", good, "--meters", "0", *END)
    assert result.returncode == 0, result.stderr
    assert "nothing to write" in result.stdout and "no ledger entry" in result.stdout
    assert table_checksums(good) == before
    document = json.loads(cli("seed", "--db", good, "--meters", "0", *END, "--json").stdout)
    assert document["token"] is None and document["meter_ids"] == [] and document["rows"] == {}
    missing = tmp_path / "never.db"
    assert cli("seed", "--db", str(missing), "--meters", "0", *END).returncode == 0
    assert not missing.exists()
    listing = cli("loads", "--db", good, "--json")
    assert len(json.loads(listing.stdout)["loads"]) == 1


def test_all_sections_prints_every_section_and_exits_with_the_worst(tmp_path):
    ini = ("[Good]\ndb_path = good.db\n\n[BadTimeout]\ndb_path = bad.db\nbusy_timeout = nan\n\n"
           "[BadZone]\ndb_path = zone.db\ntimezone = Mars/Olympus\n")
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    result = cli("seed", "--all-sections", "--meters", "1", "--days", "1", *END, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[Good] ok: 1 meters (MeterId 1001)")
    assert lines[1].startswith("[BadTimeout] FAILED:") and "busy_timeout must be a finite number" in lines[1]
    assert lines[2].startswith("[BadZone] FAILED:") and "Mars/Olympus" in lines[2]
    assert rows(str(tmp_path / "good.db"), "SELECT count(*) FROM MeterTable")[0][0] == 1
    assert not (tmp_path / "bad.db").exists() and not (tmp_path / "zone.db").exists()
    # an unreachable device is worse (3) than a bad value (2)
    ini += (f"\n[Away]\nIP_address = 127.0.0.1\nIP_port = {closed_port()}\nuser_login = tester\n"
            "user_password = secret\nconnect_timeout = 3\n")
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    result = cli("seed", "--all-sections", "--meters", "1", "--days", "1", *END, "--json", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert [(s["section"], s["exit"]) for s in document["sections"]] == [
        ("Good", 0), ("BadTimeout", 2), ("BadZone", 2), ("Away", 3)]
    assert document["sections"][0]["result"]["meter_ids"] == [1002]
    assert "cannot reach the device" in document["sections"][3]["error"]


def test_all_sections_checks_the_period_before_any_section(tmp_path):
    (tmp_path / "settings.ini").write_text("[A]\ndb_path = a.db\n", encoding="utf-8")
    assert_one_line_error(cli("seed", "--all-sections", "--end", "9999-12-31", cwd=tmp_path), 2, "the period must lie")
    assert not (tmp_path / "a.db").exists()
