"""--dry-run writes nothing, on every command that writes, locally and on a device (issue 9
item 1), and a dry run counts meter by meter instead of holding every row (issue 14 item 9)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import rows, table_checksums
from test_cli import END, REPO, cli, seed_json as seed


def test_seed_dry_run_counts_exactly_what_the_load_writes(tmp_path):
    path = str(tmp_path / "m.db")
    cli("init", "--db", path)
    before = table_checksums(path)
    dry = cli("seed", "--db", path, "--meters", "3", "--days", "2", *END, "--json", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert table_checksums(path) == before
    counted = json.loads(dry.stdout)
    assert counted["dry_run"] is True and counted["token"] is None and counted["meters"] == 3
    written = seed("--db", path, "--meters", "3")
    assert counted["rows"] == written["rows"]
    assert (counted["first"], counted["last"]) == (written["first"], written["last"])


def test_seed_dry_run_does_not_create_a_missing_file(tmp_path):
    result = cli("seed", "--db", str(tmp_path / "new.db"), "--meters", "1", "--days", "1", *END, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "nothing was written (--dry-run)" in result.stdout
    assert os.listdir(tmp_path) == []


def test_clear_dry_run_removes_nothing_whatever_the_selector(tmp_path):
    path = str(tmp_path / "m.db")
    first = seed("--db", path)
    seed("--db", path)
    before = table_checksums(path)
    for selector, expected in ((("--all",), "would remove 2 load(s)"),
                               (("--load", first["token"][:8]), f"would remove 1 load(s) written by this tool: {first['token']}"),
                               (("--meter", str(first["meter_ids"][0])), f"would remove 1 meter(s): MeterId {first['meter_ids'][0]}")):
        result = cli("clear", "--db", path, "--dry-run", *selector)
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout and "nothing was removed (--dry-run)" in result.stdout
        assert table_checksums(path) == before, selector
    # a dry run refuses what the real clear would refuse, with the same exit code
    stranger = cli("clear", "--db", path, "--dry-run", "--meter", "999")
    assert stranger.returncode == 2 and "meter 999 is not in the database" in stranger.stderr
    assert table_checksums(path) == before


def test_restore_and_init_force_dry_run_change_nothing(tmp_path):
    path = str(tmp_path / "m.db")
    seed("--db", path)
    backup = str(tmp_path / "backup.db")
    assert cli("backup", backup, "--db", path).returncode == 0
    seed("--db", path)
    before = table_checksums(path)
    result = cli("restore", backup, "--db", path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would replace the content of" in result.stdout and "(2 meters)" in result.stdout
    assert "nothing was restored (--dry-run)" in result.stdout
    assert table_checksums(path) == before
    result = cli("init", "--db", path, "--force", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would replace" in result.stdout and "nothing was written" in result.stdout
    assert table_checksums(path) == before
    # without --force the dry run says what the real init would say, and still writes nothing
    refused = cli("init", "--db", path, "--dry-run")
    assert refused.returncode == 3 and "already exists; use --force" in refused.stderr
    assert table_checksums(path) == before


def test_all_sections_dry_run_writes_to_no_section(device, tmp_path):
    """The defect of issue 9: ``seed --all-sections --dry-run`` wrote to every section."""
    local = str(tmp_path / "local.db")
    seed("--db", local)
    ini = device.ini(section="Device") + f"\n[Local]\ndb_path = {local}\n\n[Fresh]\ndb_path = {tmp_path / 'fresh.db'}\n"
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    device_before, local_before = table_checksums(device.path), table_checksums(local)
    result = cli("seed", "--all-sections", "--dry-run", "--meters", "3", "--days", "2", *END, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and all("dry run: 3 meters" in line and "nothing was written" in line for line in lines)
    assert table_checksums(device.path) == device_before
    assert table_checksums(local) == local_before
    assert not (tmp_path / "fresh.db").exists()
    # the same command without --dry-run does write to every section (so the test can fail)
    assert cli("seed", "--all-sections", "--meters", "1", "--days", "1", *END, cwd=tmp_path).returncode == 0
    assert table_checksums(device.path) != device_before and (tmp_path / "fresh.db").exists()


def test_every_dry_run_on_a_device_writes_nothing(device, tmp_path):
    (tmp_path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    first = seed(cwd=tmp_path)
    seed(cwd=tmp_path)
    backup = str(tmp_path / "backup.db")
    assert cli("backup", backup, cwd=tmp_path).returncode == 0
    before = table_checksums(device.path)
    runs = [
        (("seed", "--meters", "4", "--days", "2", *END, "--dry-run"), "nothing was written"),
        (("clear", "--all", "--dry-run"), "would remove 2 load(s)"),
        (("clear", "--load", first["token"], "--dry-run"), f"would remove 1 load(s) written by this tool: {first['token']}"),
        (("clear", "--meter", str(first["meter_ids"][1]), "--dry-run"), "would remove 1 meter(s)"),
        (("restore", backup, "--dry-run"), "nothing was restored"),
        (("init", "--force", "--dry-run"), "would replace"),
    ]
    for args, expected in runs:
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert expected in result.stdout, (args, result.stdout)
        assert table_checksums(device.path) == before, args
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 4


def test_init_dry_run_on_a_device_without_a_database(device, tmp_path):
    missing = os.path.join(os.path.dirname(device.path), "absent.db")
    (tmp_path / "settings.ini").write_text(device.ini().replace(f"db_path = {device.path}", f"db_path = {missing}"),
                                           encoding="utf-8")
    result = cli("init", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"would create root@127.0.0.1:{device.server.port}:{missing}" in result.stdout
    assert not os.path.exists(missing)


MEMORY_SCRIPT = """
import sys, tracemalloc
from GenerateMeterData import cli

def peak(meters):
    tracemalloc.reset_peak()
    code = cli.main(["seed", "--db", sys.argv[1], "--meters", str(meters), "--days", "20", "--end", "2026-01-10",
                     "--dry-run", "-q"])
    assert code == 0, code
    return tracemalloc.get_traced_memory()[1]

tracemalloc.start()
peak(1)  # imports and caches
print(peak(1), peak(16))
"""


def test_dry_run_holds_one_meter_at_a_time(tmp_path):
    """Counting 16 meters must not cost 16 meters' rows (it did: scenario.build() held them all)."""
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / "none.db")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    one, sixteen = (int(n) for n in result.stdout.split())
    assert sixteen < 3 * one, (one, sixteen)
