"""A tester's plain script -- module-level code, no ``if __name__ == "__main__":`` guard --
loading several meters into a device (staged by two processes) returns, and its rows land once.
The script runs as a real subprocess: from a file, as ``python -c`` and from stdin (where
``__main__`` has no file, as in a notebook), over the test sshd and into a local file."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from GenerateMeterData import LocalTarget, MeterPlan, Scenario
from GenerateMeterData.records.rows import NameIndex
from GenerateMeterData.targets import staging
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = "GenerateMeterDataLedger"

#: The tester's script: what the issue quotes, with a fixed end day and seed.
SCRIPT = """\
import datetime as dt
from GenerateMeterData import Scenario, settings, target_for
summary = Scenario(meters=4, days=30, end=dt.date(2026, 3, 1), seed=5).create(target_for(settings.load("settings.ini")))
print("LOADED", summary.token, summary.total_rows, flush=True)
"""


def expected_counts(tmp_path) -> dict:
    """The same scenario loaded into a local file (LocalTarget writes in this process, no staging)."""
    path = str(tmp_path / "reference.db")
    Scenario(meters=4, days=30, end=dt.date(2026, 3, 1), seed=5).create(LocalTarget(path))
    return landed(path)


def run_script(how: str, workdir) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO)
    if how == "file":
        (workdir / "tester.py").write_text(SCRIPT, encoding="utf-8")
        command, stdin = [sys.executable, "tester.py"], None
    elif how == "-c":
        command, stdin = [sys.executable, "-c", SCRIPT], None
    else:  # a script read from stdin: __main__ has no file, as in a notebook
        command, stdin = [sys.executable, "-"], SCRIPT
    # the timeout only ends a hang (the bug this file is about); it judges no speed
    return subprocess.run(command, cwd=workdir, env=env, input=stdin, capture_output=True, text=True,
                          timeout=300)


def landed(path: str) -> dict:
    return {table: rows(path, f"SELECT count(*) FROM {table}")[0][0]
            for table in ("MeterTable", "MeterData", "ElectricEnergyValues", "ElectricPowerValues", "JournalValues")}


@pytest.mark.parametrize("how", ["file", "-c", "stdin"])
def test_an_unguarded_script_loads_into_a_device_once(device, tmp_path, how):
    (tmp_path / "settings.ini").write_text(device.ini(), encoding="utf-8")  # the device fixture has its own stage_dir
    result = run_script(how, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bootstrapping" not in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.count("LOADED") == 1
    token = result.stdout.split()[1]
    assert rows(device.path, f"SELECT Token FROM {LEDGER}") == [(token,)]  # one load, not two
    assert landed(device.path) == expected_counts(tmp_path)
    assert expected_counts(tmp_path)["MeterData"] > 0


def test_an_unguarded_script_loads_into_a_local_file_once(tmp_path):
    (tmp_path / "settings.ini").write_text(f"[Test]\ndb_path = {tmp_path / 'meter.db'}\n", encoding="utf-8")
    result = run_script("file", tmp_path)
    assert result.returncode == 0, result.stderr
    assert rows(str(tmp_path / "meter.db"), f"SELECT count(*) FROM {LEDGER}")[0][0] == 1
    assert landed(str(tmp_path / "meter.db")) == expected_counts(tmp_path)


def test_a_scenario_of_several_meters_is_staged_in_two_parts(tmp_path):
    """The helper process stages every other meter: two stage files, together the whole load."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: staged by one process")
    scenario = Scenario(meters=3, days=2, end=dt.date(2026, 3, 1), seed=5)
    staged = staging.stage(scenario, NameIndex.reference(), str(tmp_path))
    assert len(staged.paths) == 2
    meters = [rows(path, "SELECT count(*) FROM MeterTable")[0][0] for path in staged.paths]
    assert meters == [2, 1]  # meters 0 and 2 here, meter 1 in the helper
    assert staged.summary.meters == 3


class ScriptPlan(MeterPlan):
    """A class the helper could only get by importing the user's script."""


ScriptPlan.__module__ = "__main__"


def test_a_producer_with_a_class_of_the_users_script_is_staged_here(tmp_path):
    scenario = Scenario(meters=[ScriptPlan("SE303", count=3)], days=2, end=dt.date(2026, 3, 1), seed=5)
    assert staging.shippable((str(tmp_path / "x.db"), scenario.split(1, 2), NameIndex.reference())) is None
    staged = staging.stage(scenario, NameIndex.reference(), str(tmp_path), max_text_rows=0)
    assert len(staged.paths) == 1 and staged.summary.meters == 3
    assert rows(staged.paths[0], "SELECT count(*) FROM MeterTable")[0][0] == 3
