"""Rows into an SQLite connection of this machine, the one writer of the local target and of
the stage files.

``executemany`` steps a statement once per row from Python: per row the module resets the
statement, binds each value and steps it.  An INSERT of many rows (``VALUES (?, ..), (?, ..)``)
does that loop in SQLite: the same rows go in about 1.7x as fast (measured: 599,195 rows of a
10-meter, 200-day scenario, executemany 1.16-1.27 s, 100+ rows per statement 0.71-0.72 s,
``bench/bench_local.py``).  Each statement binds at most ``MAX_VARIABLES`` values -- 999, the
lowest SQLITE_MAX_VARIABLE_NUMBER of any SQLite (it is 32,766 since 3.32.0), one kept for a
record id offset -- and the rows left over go through ``executemany``.
"""
from __future__ import annotations

import sqlite3
from itertools import chain
from typing import Dict, NamedTuple, Sequence

from ..records.rows import RowSet
from ..schema.layout import TABLE_COLUMNS, VALUE_TABLES, WRITE_ORDER, insert_sql

MAX_VARIABLES = 999

#: Tables whose first column is a record id (MeterData.Id, the value tables' Id).
RECORD_ID_TABLES = frozenset(("MeterData",) + VALUE_TABLES)


class _Statements(NamedTuple):
    single: str      # one row
    many: str        # ``per`` rows
    per: int
    shifted: str     # ``per`` rows, the record id (first column) plus the last parameter
    shifted_one: str  # one row, likewise


def _statements(table: str) -> _Statements:
    single = insert_sql(table)
    columns = TABLE_COLUMNS[table]
    width = len(columns)
    per = max(1, (MAX_VARIABLES - 1) // width)
    head, values = single.split(" VALUES ")

    def shifted(rows: int) -> str:
        numbered = ", ".join("(" + ", ".join(f"?{r * width + c + 1}" for c in range(width)) + ")" for r in range(rows))
        chosen = ", ".join([f"column1 + ?{rows * width + 1}"] + [f"column{c}" for c in range(2, width + 1)])
        return f"{head} SELECT {chosen} FROM (VALUES {numbered})"

    return _Statements(single, f"{head} VALUES {', '.join([values] * per)}", per, shifted(per), shifted(1))


_STATEMENTS: Dict[str, _Statements] = {table: _statements(table) for table in WRITE_ORDER}


def insert_batch(conn: sqlite3.Connection, table: str, batch: Sequence[Sequence[object]], id_offset: int = 0) -> None:
    """``batch`` (rows in ``TABLE_COLUMNS[table]`` order) into ``table``, ``id_offset`` added to
    the record id of a ``RECORD_ID_TABLES`` row (by SQLite, as the row goes in).  A batch with
    a row of another width is refused as executemany always refused it (the many-row form
    would shift the values of every row after it)."""
    statements = _STATEMENTS[table]
    per, width = statements.per, len(TABLE_COLUMNS[table])
    shift = id_offset and table in RECORD_ID_TABLES
    if batch and set(map(len, batch)) != {width}:
        conn.executemany(statements.single, batch)  # refused at the row of another width
        raise AssertionError(f"{table}: a row of another width than {width} was taken")  # pragma: no cover
    whole = len(batch) - len(batch) % per
    many = statements.shifted if shift else statements.many
    tail = (id_offset,) if shift else ()
    for start in range(0, whole, per):
        conn.execute(many, tuple(chain.from_iterable(batch[start:start + per])) + tail)
    if whole < len(batch):
        if shift:
            conn.executemany(statements.shifted_one, [(*row, id_offset) for row in batch[whole:]])
        else:
            conn.executemany(statements.single, batch[whole:])


def insert_rows(conn: sqlite3.Connection, rows: RowSet) -> None:
    """Every table of ``rows``, parents first (``WRITE_ORDER``), record ids shifted by
    ``rows.id_offset``."""
    tables = rows.tables
    for table in WRITE_ORDER:
        batch = tables[table]
        if batch:
            insert_batch(conn, table, batch, rows.id_offset)
