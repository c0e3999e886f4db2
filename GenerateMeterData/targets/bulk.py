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
import struct
from functools import lru_cache
from itertools import chain
from typing import Dict, NamedTuple, Sequence, Tuple

from ..records.rows import PACKED_TABLES, PackedRows, RowSet
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


def affinity_code(declared: str) -> str:
    """The ``struct`` code a column of this declared type takes a value with, as SQLite would
    store it: ``q`` where its affinity is INTEGER, ``d`` where REAL (SQLite keeps a number
    there as a REAL, and a NaN as NULL), ``-`` otherwise (not packed).  SQLite's rules of column
    affinity, in their order (https://sqlite.org/datatype3.html, 3.1)."""
    declared = (declared or "").upper()
    if "INT" in declared:
        return "q"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT", "BLOB")) or not declared:
        return "-"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "d"
    return "-"   # NUMERIC


def struct_codes(conn: sqlite3.Connection) -> Dict[str, str]:
    """Per record table of the database ``conn`` writes, the ``struct`` code of each column
    (``TABLE_COLUMNS`` order) by its declared type there: what ``RowSet.packed`` packs with."""
    codes = {}
    for table in sorted(PACKED_TABLES):
        declared = {row[1]: row[2] for row in conn.execute(f"PRAGMA table_info({table})")}
        codes[table] = "".join(affinity_code(declared.get(column, "")) for column in TABLE_COLUMNS[table])
    return codes


@lru_cache(maxsize=None)
def _packed_statement(table: str, nulls: Tuple[int, ...], rows: int) -> str:
    """The INSERT of ``rows`` packed rows: their stored values numbered, the record id (first
    column) plus the last parameter, NULL in the columns in ``nulls``."""
    columns = TABLE_COLUMNS[table]
    kept = [c for c in range(len(columns)) if c not in nulls]
    numbered = ", ".join("(" + ", ".join(f"?{r * len(kept) + k + 1}" for k in range(len(kept))) + ")"
                         for r in range(rows))
    chosen = ["NULL" if c in nulls else f"column{kept.index(c) + 1}" for c in range(len(columns))]
    chosen[0] = f"column1 + ?{rows * len(kept) + 1}"
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(chosen)} FROM (VALUES {numbered})"


def _insert_packed(conn: sqlite3.Connection, table: str, batch: PackedRows, id_offset: int) -> None:
    """PackedRows of a record table: each statement's parameters one ``unpack_from`` of their
    bytes, the id offset after them."""
    per = (MAX_VARIABLES - 1) // len(batch.format)
    many = struct.Struct("<" + batch.format * per)
    statement = _packed_statement(table, batch.nulls, per)
    whole = batch.length - batch.length % per
    tail = (id_offset,)
    for start in range(0, whole * many.size // per, many.size):
        conn.execute(statement, many.unpack_from(batch.data, start) + tail)
    if whole < batch.length:
        rest = batch.length - whole
        last = struct.Struct("<" + batch.format * rest)
        conn.execute(_packed_statement(table, batch.nulls, rest), last.unpack_from(batch.data, whole * many.size // per)
                     + tail)


def insert_batch(conn: sqlite3.Connection, table: str, batch: Sequence[Sequence[object]], id_offset: int = 0) -> None:
    """``batch`` (rows in ``TABLE_COLUMNS[table]`` order) into ``table``, ``id_offset`` added to
    the record id of a ``RECORD_ID_TABLES`` row (by SQLite, as the row goes in).  A batch with
    a row of another width is refused as executemany always refused it (the many-row form
    would shift the values of every row after it)."""
    if (isinstance(batch, PackedRows) and table in RECORD_ID_TABLES and 0 not in batch.nulls
            and batch.width == len(TABLE_COLUMNS[table])):
        _insert_packed(conn, table, batch, id_offset)
        return
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
