"""Every recipe runs, against a local meter.db (and the loopback SSH server where it targets a device).

The recipes are scripts run exactly as a user runs them, and they seed "up to today" (they take
no --end): that default is what is tested here.  So every check below holds on any date -- counts
of records per day or slot in Europe/Moscow (UTC+3 all year, no DST: 48 slots, 24 hours a day),
retention depths, the presence of the events a recipe injects relative to its own end date --
and none compares a date or a value that depends on the day the suite runs."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from GenerateMeterData import verify
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = os.path.join(REPO, "recipes")


def run(name, *args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, os.path.join(RECIPES, name), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_recipe_has_a_docstring_that_says_how_to_run_it():
    names = [n for n in os.listdir(RECIPES) if n[:2].isdigit() or n.startswith("test_")]
    assert len(names) >= 8
    for name in names:
        text = open(os.path.join(RECIPES, name), encoding="utf-8").read()
        assert text.lstrip().startswith('"""'), name
        assert "recipes/" in text.split('"""')[1], name


def test_01_each_kind_prints_the_newest_records_by_tag(tmp_path):
    out = run("01_each_kind_of_meter.py", "--db", "each.db", cwd=tmp_path)
    assert "verify: all invariants hold" in out
    path = str(tmp_path / "each.db")
    types = [r[0] for r in rows(path, "SELECT t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId")]
    assert types == ["SE303", "SEB2a", "SETxTM"]
    assert rows(path, "SELECT max(Pm) FROM ElectricPowerValues")[0][0] > 0  # the PV exports
    blocks = {block.split(")", 1)[0].split("(")[1]: block for block in out.split("\nmeter ")[1:]}
    assert set(blocks) == {"SE303", "SEB2a", "SETxTM"}
    single = blocks["SEB2a"]
    assert "isAm=0" in single and "A-0=NULL" in single and "UB=NULL" in single   # what ElConfig gates off
    assert "isAm=1" in blocks["SETxTM"] and "A-0=NULL" not in blocks["SETxTM"]
    newest_total = rows(path, "SELECT e.Ap FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                              "JOIN ElectricEnergyValues e ON e.Id = m.Id WHERE a.Name = 'ElDayEnergy' AND "
                              "m.DeviceIdx = 1 AND e.Tariff = 0 ORDER BY m.Timestamp DESC LIMIT 1")[0][0]
    assert f"A+0={newest_total:.3f} " in blocks["SE303"]
    for measure in ("ElConfig", "ElDayEnergy", "ElArr1ConsPower", "ElMomentQuality"):
        assert all(f"  {measure} " in block for block in blocks.values()), measure


def test_recipes_write_into_recipes_out_by_default(tmp_path):
    """Run from a copy of recipes/ so the checkout stays clean: the file lands in recipes/out/."""
    import shutil

    copy = tmp_path / "clone" / "recipes"
    shutil.copytree(RECIPES, copy, ignore=shutil.ignore_patterns("out", "__pycache__"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, str(copy / "04_hub_with_meters.py")], cwd=work, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (copy / "out" / "hub.db").exists() and os.listdir(work) == []
    assert "recipes/out/" in open(os.path.join(REPO, ".gitignore"), encoding="utf-8").read().split()


def test_02_full_archive_at_retention_depth(tmp_path):
    run("02_full_archive_default_retention.py", "--db", "full.db", "--meters", "5", cwd=tmp_path)
    path = str(tmp_path / "full.db")
    depth = dict(rows(path, "SELECT a.Name, max(n) FROM (SELECT DeviceIdx, RecordTypeId, count(*) n FROM MeterData "
                            "GROUP BY 1, 2) c JOIN ArchTypes a ON a.Id = c.RecordTypeId GROUP BY a.Name"))
    assert depth["ElArr1ConsPower"] == 1680 and depth["ElMomentEnergy"] == 840 and depth["ElDayEnergy"] == 35
    assert depth["ElMonthEnergy"] == 12 and depth["ElMonthConsEnergy"] == 12 and depth["ElJrnlOpen"] == 20
    assert verify(path) == []


def test_03_outage(tmp_path):
    out = run("03_power_outage.py", "--db", "o.db", cwd=tmp_path)
    assert "event=0" in out and "event=1" in out and "isPart=1" in out and "P+=    0.000" in out


def test_04_hub_05_modules(tmp_path):
    run("04_hub_with_meters.py", "--db", "hub.db", cwd=tmp_path)
    assert rows(str(tmp_path / "hub.db"), "SELECT count(*) FROM MeterTable WHERE ParentId <> 0")[0][0] == 3
    run("05_pulse_and_digital.py", "--db", "m.db", cwd=tmp_path)
    assert rows(str(tmp_path / "m.db"), "SELECT count(*) FROM PulseValues")[0][0] > 0
    assert rows(str(tmp_path / "m.db"), "SELECT count(*) FROM DigitalValues")[0][0] > 0


def test_06_verify_names_each_injected_fault_by_its_rule(tmp_path):
    from zoneinfo import ZoneInfo

    out = run("06_invalid_data.py", "--db", "bad.db", cwd=tmp_path)
    path = str(tmp_path / "bad.db")
    problems = verify(path)
    msk = ZoneInfo("Europe/Moscow")
    first = {}
    for v in problems:
        first.setdefault((v.rule_name, v.table), v.format(msk))
    lines = out.splitlines()
    fault_lines = [line.strip()[3:] for line in lines if line.strip().startswith("-> meter ")]
    assert len(fault_lines) == 2
    decreased, total = fault_lines
    assert "ElDayEnergy" in decreased and "register A+1 decreased" in decreased and decreased.endswith("[cumulative-decreases]")
    assert total == first[("tariff-sum", "ElMonthEnergy")] and "A+0 is not the sum of tariffs 1-4" in total
    assert decreased in [v.format(msk) for v in problems]
    assert "MISSED" not in out
    valid_0 = rows(path, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                         "WHERE a.Name = 'ElMomentQuality' AND m.Valid = 0")[0][0]
    assert valid_0 == 24 and "ElMomentQuality Valid = 0 on " in out and f": {valid_0} records" in out
    assert "[valid-0-without-values] passed" in out
    assert rows(path, "SELECT count(*) FROM ElectricQualityValues q JOIN MeterData m ON m.Id = q.Id "
                      "WHERE m.Valid = 0")[0][0] == 0
    consequences = next(line for line in lines if line.startswith("consequences of the same faults"))
    assert sum(int(part.rsplit(" ", 1)[1]) for part in consequences.split(": ", 1)[1].split(", ")) == len(problems) - 2


def test_07_capture_from_imitated_meter(tmp_path):
    if not os.path.exists(os.path.join(RECIPES, "07_capture_from_imitated_meter.py")):
        pytest.skip("capture mode (issue 4) is not there yet")
    run("07_capture_from_imitated_meter.py", "--db", "cap.db", cwd=tmp_path)
    assert verify(str(tmp_path / "cap.db")) == []


def test_08_several_devices_local_and_over_ssh(tmp_path, device):
    run("08_several_devices.py", "--meters", "1", "--days", "1", "--out", "made", cwd=tmp_path)
    assert rows(str(tmp_path / "made" / "bench1.db"), "SELECT count(*) FROM MeterTable")[0][0] == 1
    assert rows(str(tmp_path / "made" / "bench2.db"), "SELECT count(*) FROM MeterTable")[0][0] == 1
    (tmp_path / "devices.ini").write_text(device.ini(section="USPD1") + "\n[Local]\ndb_path = local.db\n", encoding="utf-8")
    run("08_several_devices.py", "--settings", "devices.ini", "--meters", "2", "--days", "1", cwd=tmp_path)
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 2


def test_09_pytest_recipe(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                             os.path.join(RECIPES, "test_09_pytest_plugin_example.py")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 1 skipped" in result.stdout
    assert "needs a real device" in result.stdout
