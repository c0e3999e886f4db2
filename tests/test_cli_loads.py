"""Loads as first-class things on the command line (issue 9 item 2): the seed summary names the
load and its MeterIds, ``loads`` lists the ledger, ``clear`` removes one load, one meter or
(only when asked) all of them; ``--json`` gives scripts one document."""
from __future__ import annotations

import json
import re

import pytest

from helpers import rows, table_checksums
from test_cli import END, assert_one_line_error, cli, seed_json as seed


def meter_ids(path):
    return [r[0] for r in rows(path, "SELECT MeterId FROM MeterTable ORDER BY MeterId")]


def test_seed_summary_names_the_load_and_its_meters(tmp_path):
    path = str(tmp_path / "m.db")
    result = cli("seed", "--db", path, "--meters", "3", "--days", "2", *END)
    assert result.returncode == 0, result.stderr
    token = rows(path, "SELECT Token FROM GenerateMeterDataLedger")[0][0]
    assert f"load   : {token} (clear --load {token[:8]} removes it)" in result.stdout
    assert "meters : 3 (MeterId 1001-1003)" in result.stdout


def test_seed_json_is_one_document_matching_the_database(tmp_path):
    path = str(tmp_path / "m.db")
    document = seed("--db", path, "--meters", "3")
    assert {"token", "meter_ids", "rows", "first", "last", "seconds", "target"} <= set(document)
    assert document["token"] == rows(path, "SELECT Token FROM GenerateMeterDataLedger")[0][0]
    assert document["meter_ids"] == meter_ids(path) == [1001, 1002, 1003]
    assert document["rows"]["MeterData"] == rows(path, "SELECT count(*) FROM MeterData")[0][0]
    assert document["first"] == "2026-01-08T00:00:00+03:00" and document["last"] == "2026-01-10T00:00:00+03:00"
    assert document["target"] == path


def test_loads_lists_token_when_who_command_meters_rows(tmp_path):
    path = str(tmp_path / "m.db")
    assert_one_line_error(cli("loads", "--db", path), 2, f"{path} does not exist; nothing to list")
    assert cli("init", "--db", path).returncode == 0
    assert "no loads of this tool in" in cli("loads", "--db", path).stdout
    first = seed("--db", path)
    second = seed("--db", path, "--meters", "3")
    listing = cli("loads", "--db", path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["TOKEN", "CREATED", "BY"] and len(lines) == 4
    assert lines[1].startswith(first["token"]) and lines[2].startswith(second["token"])
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d\s+\S+@\S+", lines[1])
    assert "1003-1005" in lines[2] and f"seed --meters 2 --days 2 --end 2026-01-10 --json --db {path} --meters 3" in lines[2]
    document = json.loads(cli("loads", "--db", path, "--json").stdout)
    assert [load["token"] for load in document["loads"]] == [first["token"], second["token"]]
    assert document["loads"][1]["meter_ids"] == [1003, 1004, 1005]
    assert document["loads"][0]["rows"] == sum(first["rows"].values())
    assert "@" in document["loads"][0]["created_by"]


def test_clear_one_load_one_meter_or_all(tmp_path):
    path = str(tmp_path / "m.db")
    first, second, third = seed("--db", path), seed("--db", path), seed("--db", path)
    result = cli("clear", "--db", path, "--load", second["token"][:6])  # a unique prefix is enough
    assert result.returncode == 0, result.stderr
    assert f"cleared 1 load(s) written by this tool: {second['token']}" in result.stdout
    assert meter_ids(path) == first["meter_ids"] + third["meter_ids"]
    document = json.loads(cli("clear", "--db", path, "--meter", str(third["meter_ids"][0]), "--json").stdout)
    assert document == {"target": path, "dry_run": False, "removed": 1, "meters": [third["meter_ids"][0]],
                        "children": [], "loads_removed": []}
    assert meter_ids(path) == first["meter_ids"] + third["meter_ids"][1:]
    document = json.loads(cli("clear", "--db", path, "--all", "--json").stdout)
    assert document["removed"] == 2 and {load["token"] for load in document["loads"]} == {first["token"], third["token"]}
    assert meter_ids(path) == []


def test_clear_several_loads_at_once(tmp_path):
    path = str(tmp_path / "m.db")
    first, second, third = seed("--db", path), seed("--db", path), seed("--db", path)
    result = cli("clear", "--db", path, "--load", first["token"], "--load", third["token"])
    assert result.returncode == 0 and "cleared 2 load(s)" in result.stdout, result.stderr
    assert meter_ids(path) == second["meter_ids"]


def test_the_ledger_records_the_command_without_secrets(tmp_path):
    from GenerateMeterData.cli import command_line

    assert command_line(["seed", "--meters", "10", "--days", "30"]) == "seed --meters 10 --days 30"
    masked = command_line(["capture", "iec", "--password", "s3cr3t", "--key=00ff", "--dlms-password", "x y"])
    assert "s3cr3t" not in masked and "00ff" not in masked and "x y" not in masked
    assert masked == "capture iec --password *** --key=*** --dlms-password ***"
    path = str(tmp_path / "m.db")
    seed("--db", path)
    assert rows(path, "SELECT Command FROM GenerateMeterDataLoads") == [
        (f"seed --meters 2 --days 2 --end 2026-01-10 --json --db {path}",)]


@pytest.mark.parametrize("args,fragment", [
    (("clear",), "clear needs a choice: --load TOKEN"),
    (("clear", "--load", "abcdef"), "load abcdef is not in the ledger of"),
    (("clear", "--load", "abcdef", "--all"), "not --load and --all"),
    (("clear", "--meter", "1001", "--load", "abcdef"), "not --load and --meter"),
    (("clear", "--load", "not-a-token"), "is not a load token"),
    (("clear", "--meter", "4242"), "meter 4242 is not in the database; nothing was removed"),
    (("clear", "--meter", "0"), "--meter: must be >= 1"),
    (("plot", "--json"), "unrecognized arguments: --json"),
])
def test_bad_selectors_remove_nothing_and_say_so(tmp_path, args, fragment):
    path = str(tmp_path / "m.db")
    seed("--db", path)
    before = table_checksums(path)
    assert_one_line_error(cli(*args, "--db", path), 2, fragment)
    assert table_checksums(path) == before


def test_an_unknown_token_among_known_ones_removes_nothing(tmp_path):
    path = str(tmp_path / "m.db")
    first = seed("--db", path)
    before = table_checksums(path)
    assert_one_line_error(cli("clear", "--db", path, "--load", first["token"], "--load", "0123456789"), 2,
                          "load 0123456789 is not in the ledger", "nothing was removed")
    assert table_checksums(path) == before


def test_meter_not_created_by_a_load_is_refused(tmp_path):
    import sqlite3

    path = str(tmp_path / "m.db")
    seed("--db", path)
    conn = sqlite3.connect(path)  # a meter the device made itself
    columns = [r[1] for r in conn.execute("PRAGMA table_info(MeterTable)")]
    row = list(conn.execute("SELECT * FROM MeterTable LIMIT 1").fetchone())
    row[columns.index("MeterId")], row[columns.index("DeviceIdx")] = 7, 99
    conn.execute(f"INSERT INTO MeterTable VALUES ({', '.join('?' * len(row))})", row)
    conn.commit()
    conn.close()
    before = table_checksums(path)
    assert_one_line_error(cli("clear", "--db", path, "--meter", "7"), 2, "meter 7 was not created by GenerateMeterData")
    assert_one_line_error(cli("clear", "--db", path, "--meter", "7", "--dry-run"), 2, "meter 7 was not created")
    assert table_checksums(path) == before


def test_loads_and_clear_on_a_device(device, tmp_path):
    (tmp_path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    before = table_checksums(device.path)
    assert_one_line_error(cli("clear", cwd=tmp_path), 2, "clear needs a choice", "--all")
    assert table_checksums(device.path) == before
    first, second = seed(cwd=tmp_path), seed("--meters", "3", cwd=tmp_path)
    assert first["target"].startswith("root@127.0.0.1:") and first["meter_ids"] == meter_ids(device.path)[:2]
    document = json.loads(cli("loads", "--json", cwd=tmp_path).stdout)
    assert [load["token"] for load in document["loads"]] == [first["token"], second["token"]]
    assert document["loads"][1]["meter_ids"] == second["meter_ids"]
    listing = cli("loads", cwd=tmp_path)
    assert listing.returncode == 0 and second["token"] in listing.stdout and "--meters 3" in listing.stdout
    assert_one_line_error(cli("clear", "--load", "feedfacefeedface", cwd=tmp_path), 2, "not in the ledger")
    result = cli("clear", "--load", first["token"], cwd=tmp_path)
    assert result.returncode == 0 and f"cleared 1 load(s) written by this tool: {first['token']}" in result.stdout
    assert meter_ids(device.path) == second["meter_ids"]
    result = cli("clear", "--meter", str(second["meter_ids"][2]), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert meter_ids(device.path) == second["meter_ids"][:2]
    assert cli("clear", "--all", cwd=tmp_path).returncode == 0
    assert meter_ids(device.path) == []
