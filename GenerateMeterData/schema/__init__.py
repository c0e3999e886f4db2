"""Everything GenerateMeterData assumes about meter.db: the DDL, the reference rows and the
table/column/tag layout.  Swap ``meterdb.sql`` for a real device's ``.schema`` dump and adjust
``layout.py`` if it disagrees -- nothing else in the package hard-codes the schema."""
from __future__ import annotations

import sqlite3
from importlib import resources

from .layout import REFERENCE_TABLES, TABLE_COLUMNS, WRITE_ORDER
from .reference import ARCH_TYPES, METER_IFACES, METER_TYPES, default_retention


def reference_ddl() -> str:
    """The shipped DDL of meter.db."""
    return resources.files(__package__).joinpath("meterdb.sql").read_text(encoding="utf-8")


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table of meter.db and fill the reference tables, in the caller's transaction."""
    ddl = "\n".join(line.split("--", 1)[0] for line in reference_ddl().splitlines())
    for statement in ddl.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.executemany("INSERT INTO MeterTypes (Id, Type, Class) VALUES (?, ?, ?)",
                     [(i, name, cls) for i, name, cls, _ in METER_TYPES])
    conn.executemany("INSERT INTO MeterIfaces (Id, Name) VALUES (?, ?)", METER_IFACES)
    conn.executemany("INSERT INTO ArchTypes (Id, DataType, MeterType, Name) VALUES (?, ?, ?, ?)",
                     [(i, table, family, name)
                      for i, (name, table, family) in enumerate(ARCH_TYPES, start=1)])
    conn.executemany("INSERT INTO ArchInfo (RecordTypeId, Records) VALUES (?, ?)",
                     [(i, default_retention(name))
                      for i, (name, _, _) in enumerate(ARCH_TYPES, start=1)])


def quick_check_finding(text: str) -> str:
    """"" when the output of ``PRAGMA quick_check`` is "ok", else its first finding on one line
    (SQLite prefixes findings with "*** in database main ***")."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("*** in database")]
    if lines == ["ok"]:
        return ""
    return lines[0] if lines else "quick_check gave no answer"


def integrity_problem(conn: sqlite3.Connection) -> str:
    """"" when the database's pages pass ``PRAGMA quick_check``, else the first damage found.
    It reads every page: O(database), so callers do it once per file, not per load."""
    return quick_check_finding("\n".join(str(row[0]) for row in conn.execute("PRAGMA quick_check(1)")))


def meter_db_problem(path: str, integrity: bool = True) -> str:
    """Why the file at ``path`` is not a usable meter.db ("" when it is): not an SQLite file,
    damaged pages (``integrity``: skip it only when the caller just checked them), or a table or
    column the generator writes is missing."""
    import os

    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return "it is empty or not a file"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        check = integrity_problem(conn) if integrity else ""
        if check:
            return f"integrity check failed: {check}"
        for table in REFERENCE_TABLES + WRITE_ORDER:
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if not columns:
                return f"it has no table {table}"
            missing = [c for c in TABLE_COLUMNS.get(table, ()) if c not in columns]
            if missing:
                return f"table {table} lacks column(s) {', '.join(missing)}"
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return ""


__all__ = ["TABLE_COLUMNS", "WRITE_ORDER", "create_schema", "integrity_problem", "meter_db_problem",
           "quick_check_finding", "reference_ddl"]
