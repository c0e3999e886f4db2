"""Rows into an SQLite connection of this machine, the one writer of the local target and of
the stage files.

``executemany`` steps a statement once per row from Python: per row the module resets the
statement, binds each value and steps it.  An INSERT of many rows (``VALUES (?, ..), (?, ..)``)
does that loop in SQLite: the same rows go in about 1.7x as fast (measured: 599,195 rows of a
10-meter, 200-day scenario, executemany 1.16-1.27 s, 100+ rows per statement 0.71-0.72 s,
``bench/bench_local.py``).  Each statement binds at most ``MAX_VARIABLES`` values -- 999, the
lowest SQLITE_MAX_VARIABLE_NUMBER of any SQLite (it is 32,766 since 3.32.0) -- and the rows
left over go through ``executemany``.
"""
from __future__ import annotations

import sqlite3
from itertools import chain
from typing import Dict, Sequence, Tuple

from ..records.rows import RowSet
from ..schema.layout import TABLE_COLUMNS, WRITE_ORDER, insert_sql

MAX_VARIABLES = 999


def _statements(table: str) -> Tuple[str, str, int]:
    """(one-row INSERT, many-row INSERT, rows per many-row INSERT) of ``table``."""
    single = insert_sql(table)
    width = len(TABLE_COLUMNS[table])
    per = max(1, MAX_VARIABLES // width)
    head, values = single.split(" VALUES ")
    return single, f"{head} VALUES {', '.join([values] * per)}", per


_STATEMENTS: Dict[str, Tuple[str, str, int]] = {table: _statements(table) for table in WRITE_ORDER}


def insert_batch(conn: sqlite3.Connection, table: str, batch: Sequence[Sequence[object]]) -> None:
    """``batch`` (rows in ``TABLE_COLUMNS[table]`` order) into ``table``.  A batch with a row of
    another width goes through ``executemany`` whole, which refuses it as it always has (the
    many-row form would shift the values of every row after it)."""
    single, many, per = _STATEMENTS[table]
    width = len(TABLE_COLUMNS[table])
    whole = len(batch) - len(batch) % per
    if whole and set(map(len, batch)) != {width}:
        whole = 0
    for start in range(0, whole, per):
        conn.execute(many, tuple(chain.from_iterable(batch[start:start + per])))
    if whole < len(batch):
        conn.executemany(single, batch[whole:])


def insert_rows(conn: sqlite3.Connection, rows: RowSet) -> None:
    """Every table of ``rows``, parents first (``WRITE_ORDER``)."""
    tables = rows.tables
    for table in WRITE_ORDER:
        batch = tables[table]
        if batch:
            insert_batch(conn, table, batch)
