"""Issue 20: a new meter type is one data entry.  On a copy of the package with one entry added to
``schema/reference.py`` ``METER_TYPES`` (and nothing else), a scenario of that type loads into a
real meter.db, verify finds nothing to say, the MeterTypes row is the entry's, the rows follow its
kind (three phases, two tariffs in use, no reverse energy), and the reference docs regenerate with it."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRY = ('    (193, "ScratchMeter", None, _electric(\n'
         '        3, 2, "Scratch 3x2", active_export=False, reactive=True, reactive_export=False, profile=(30,),\n'
         '        quality=QUALITY_ALL, serial_digits=9, source=SRC_NONE, confidence="low")),\n')

SCRIPT = r'''
import sqlite3, sys
from GenerateMeterData import LocalTarget, Scenario, verify
from GenerateMeterData.generate.scenario import MeterPlan
path = sys.argv[1]
LocalTarget(path).init()
Scenario(meters=[MeterPlan("ScratchMeter", 2)], days=3, seed=7).create(LocalTarget(path))
print(len(verify(path)))
db = sqlite3.connect(path)
print(db.execute("SELECT Id, Type FROM MeterTypes WHERE Type = 'ScratchMeter'").fetchall())
print(db.execute("SELECT count(DISTINCT q.Phase) FROM ElectricQualityValues q").fetchone()[0])
print(db.execute("SELECT count(DISTINCT d.DeviceIdx || ':' || e.Ap) FROM ElectricEnergyValues e JOIN MeterData d "
                 "ON d.Id = e.Id JOIN ArchTypes a ON a.Id = d.RecordTypeId WHERE a.Name = 'ElDayEnergy' "
                 "AND e.Tariff > 2").fetchone()[0])
print(db.execute("SELECT count(*) FROM ElectricEnergyValues WHERE Am IS NOT NULL").fetchone()[0])
print(db.execute("SELECT min(length(Serial)), max(length(Serial)) FROM ElectricConfig").fetchone())
'''


def test_a_new_meter_type_is_one_entry(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(os.path.join(REPO, "GenerateMeterData"), site / "GenerateMeterData",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(REPO, "docs"), site / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    reference = site / "GenerateMeterData" / "schema" / "reference.py"
    text = reference.read_text(encoding="utf-8")
    end = text.index("\n]\n", text.index("METER_TYPES: List["))
    reference.write_text(text[:end + 1] + ENTRY + text[end + 1:], encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(site))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "meter.db")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    violations, types, phases, tariffs, reverse, serial_lengths = done.stdout.strip().splitlines()
    assert violations == "0"
    assert types == "[(193, 'ScratchMeter')]"
    assert phases == "4"           # the sum row and phases A, B, C (schema: Phase 0..3)
    assert tariffs == "4"          # two tariffs in use: registers 3 and 4 never move (2 meters x 2, one value each)
    assert reverse == "0"          # no A- register: the entry says active_export=False
    assert serial_lengths == "(9, 9)"
    docs = subprocess.run([sys.executable, str(site / "docs" / "gen_reference.py")], env=env, cwd=site,
                          capture_output=True, text=True, timeout=300)
    assert docs.returncode == 0, docs.stderr
    assert "ScratchMeter" in (site / "docs" / "reference" / "meter-types.md").read_text(encoding="utf-8")
