"""Every recipe runs, against a local meter.db (and the loopback SSH server where it targets a device)."""
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


def test_01_each_kind(tmp_path):
    out = run("01_each_kind_of_meter.py", "--db", "each.db", cwd=tmp_path)
    assert "verify: all invariants hold" in out
    types = [r[0] for r in rows(str(tmp_path / "each.db"), "SELECT t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId")]
    assert types == ["SE303", "SEB2a", "SETxTM"]
    assert rows(str(tmp_path / "each.db"), "SELECT max(Pm) FROM ElectricPowerValues")[0][0] > 0  # the PV exports


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


def test_06_invalid_data_is_found_by_verify(tmp_path):
    out = run("06_invalid_data.py", "--db", "bad.db", cwd=tmp_path)
    assert "register A+1 decreased" in out and "A+0 is not the sum of tariffs 1-4" in out
    path = str(tmp_path / "bad.db")
    assert rows(path, "SELECT count(*) FROM ElectricQualityValues")[0][0] == 0


def test_07_capture_from_imitated_meter(tmp_path):
    if not os.path.exists(os.path.join(RECIPES, "07_capture_from_imitated_meter.py")):
        pytest.skip("capture mode (issue 4) is not there yet")
    run("07_capture_from_imitated_meter.py", "--db", "cap.db", cwd=tmp_path)
    assert verify(str(tmp_path / "cap.db")) == []


def test_08_several_devices_local_and_over_ssh(tmp_path, device):
    run("08_several_devices.py", "--meters", "1", "--days", "1", cwd=tmp_path)
    assert rows(str(tmp_path / "bench1.db"), "SELECT count(*) FROM MeterTable")[0][0] == 1
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
