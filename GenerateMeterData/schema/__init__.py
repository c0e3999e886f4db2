"""Everything GenerateMeterData assumes about meter.db: the DDL, the reference rows and the
table/column/tag layout.  Swap ``meterdb.sql`` for a real device's ``.schema`` dump and adjust
``layout.py`` if it disagrees -- nothing else in the package hard-codes the schema."""
from __future__ import annotations

import sqlite3
from importlib import resources

from .layout import TABLE_COLUMNS, WRITE_ORDER
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


__all__ = ["TABLE_COLUMNS", "WRITE_ORDER", "create_schema", "reference_ddl"]
