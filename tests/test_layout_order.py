"""The insert column order of the value tables is a schema fact, kept in two places only: the
DDL (``schema/meterdb.sql``) and ``schema/layout.py`` (TABLE_COLUMNS).  A copy of the package with
those two reordered must write the same values into the same named columns, and verify them
clean -- so no story, writer or rule knows a column's position."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import GenerateMeterData
from helpers import rows

REORDERED = {  # table: (its insert columns as shipped, the order the copy uses)
    "ElectricEnergyValues": (("Id", "Tariff", "Ap", "Am", "Rp", "Rm"), ("Id", "Tariff", "Rm", "Rp", "Am", "Ap")),
    "ElectricQualityValues": (("Id", "Phase", "U", "I", "P", "Q", "S", "KP", "Angle", "F"),
                              ("Id", "Phase", "F", "KP", "S", "U", "I", "P", "Q", "Angle")),
    "ElectricPowerValues": (("Id", "Period", "Pp", "Pm", "Qp", "Qm", "Partial", "Overflow", "Season"),
                            ("Id", "Season", "Period", "Pp", "Pm", "Qp", "Qm", "Partial", "Overflow")),
    "JournalValues": (("Id", "Event", "EventId"), ("Id", "EventId", "Event")),
}
SEED = """
import datetime as dt, sys
import GenerateMeterData
from GenerateMeterData import LocalTarget, MeterPlan, Scenario, verify
target = LocalTarget(sys.argv[1])
Scenario(meters=[MeterPlan("SE303"), MeterPlan("NEVA1xx"), MeterPlan("Mercury23x")], days=3, seed=11,
         end=dt.date(2026, 3, 1)).create(target)
Scenario(meters=6, days=2, seed=12, end=dt.date(2026, 3, 1)).create(target)  # every family
problems = verify(sys.argv[1])
print(len(problems), "problems")
if problems:
    sys.exit(1)
"""


def _reordered_copy(root: Path) -> Path:
    package = root / "GenerateMeterData"
    shutil.copytree(Path(GenerateMeterData.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    layout = package / "schema" / "layout.py"
    ddl = package / "schema" / "meterdb.sql"
    layout_text, ddl_text = layout.read_text(), ddl.read_text()
    for table, (shipped, wanted) in REORDERED.items():
        written = "(" + ", ".join(f'"{c}"' for c in shipped) + ")"
        assert written in layout_text, f"layout.py no longer lists {table} as {written}"
        layout_text = layout_text.replace(written, "(" + ", ".join(f'"{c}"' for c in wanted) + ")")
        match = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", ddl_text, re.S)
        lines = match.group(1).strip("\n").split("\n")
        by_column = {line.split()[0]: line.rstrip(",") for line in lines if line.split()[0] in wanted}
        rest = [line.rstrip(",") for line in lines if line.split()[0] not in wanted]
        body = ",\n".join([by_column[c] for c in wanted] + rest)
        ddl_text = ddl_text.replace(match.group(1), "\n" + body)
    layout.write_text(layout_text)
    ddl.write_text(ddl_text)
    return root


def _seed(python_path: Path, db: Path) -> subprocess.CompletedProcess:
    # run from the db's folder: "python -c" puts the working directory first on sys.path
    return subprocess.run([sys.executable, "-c", SEED + f"\nassert GenerateMeterData.__file__.startswith({str(python_path)!r})",
                           str(db)], capture_output=True, text=True, cwd=str(db.parent),
                          env={"PYTHONPATH": str(python_path), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_reordered_value_columns_write_the_same_values_by_name(tmp_path):
    copy = _reordered_copy(tmp_path / "copy")
    shipped = Path(GenerateMeterData.__file__).parent.parent
    for where, db in ((shipped, tmp_path / "shipped.db"), (copy, tmp_path / "reordered.db")):
        result = _seed(where, db)
        assert result.returncode == 0, result.stderr + result.stdout  # loaded, and verify found nothing
    columns = rows(str(tmp_path / "reordered.db"), "SELECT name FROM pragma_table_info('ElectricQualityValues')")
    assert [c for (c,) in columns][:3] == ["Id", "Phase", "F"]  # the copy really has the new order
    for table, (shipped_columns, _) in REORDERED.items():
        sql = f"SELECT {', '.join(shipped_columns)} FROM {table} ORDER BY {shipped_columns[0]}, {shipped_columns[1]}"
        before, after = rows(str(tmp_path / "shipped.db"), sql), rows(str(tmp_path / "reordered.db"), sql)
        assert before and before == after, table
