"""The one writer of local loads and stage files (targets/bulk.py) writes exactly what
sqlite3's executemany writes -- executemany of the same rows is the oracle -- in every split of
a batch into many-row INSERTs and the rows left over, and refuses what executemany refuses."""
import sqlite3

import pytest

from GenerateMeterData.schema.layout import TABLE_COLUMNS, insert_sql
from GenerateMeterData.targets import bulk


def _table(conn, table):
    conn.execute(f"CREATE TABLE {table} ({', '.join(TABLE_COLUMNS[table])})")


def _power_rows(count):
    # Id, Period, Pp, Pm, Qp, Qm, Partial, Overflow, Season: ints, floats, text, NULLs, big ints
    return [(i, 30, i * 0.1, None, 2 ** 62 - i, -i, "x" * (i % 3), 0, 1.5e-300) for i in range(1, count + 1)]


@pytest.mark.parametrize("count", [0, 1, 110, 111, 112, 333, 1000])
def test_same_rows_as_executemany(count):
    table = "ElectricPowerValues"
    rows = _power_rows(count)
    per = bulk.MAX_VARIABLES // len(TABLE_COLUMNS[table])
    assert per == 111  # 999 // 9: the splits above fall before, on and after a statement's end
    oracle, ours = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    _table(oracle, table)
    _table(ours, table)
    oracle.executemany(insert_sql(table), rows)
    bulk.insert_batch(ours, table, rows)
    query = f"SELECT rowid, *, typeof(Pm), typeof(Partial) FROM {table} ORDER BY rowid"
    assert ours.execute(query).fetchall() == oracle.execute(query).fetchall()
    assert len(ours.execute(query).fetchall()) == count


def test_a_row_of_another_width_is_refused_not_shifted():
    table = "MeterData"
    rows = [(i, 1, 2, 1000 + i, 1) for i in range(1, 400)]
    rows[150] = (151, 1, 2, 1151)          # one value short: every later row would shift by one
    rows[300] = (301, 1, 2, 1301, 1, 9)    # one too many: the total count matches again
    conn = sqlite3.connect(":memory:")
    _table(conn, table)
    oracle = sqlite3.connect(":memory:")
    _table(oracle, table)
    with pytest.raises(sqlite3.ProgrammingError):
        oracle.executemany(insert_sql(table), rows)
    with pytest.raises(sqlite3.ProgrammingError):
        bulk.insert_batch(conn, table, rows)
    assert conn.execute("SELECT count(*) FROM MeterData WHERE rowid > 150").fetchone() == (0,)


def test_a_constraint_stops_the_batch_as_executemany_does():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE MeterData (Id INTEGER PRIMARY KEY, DeviceIdx, RecordTypeId, Timestamp, Valid)")
    rows = [(i, 1, 2, 1000 + i, 1) for i in range(1, 500)] + [(7, 1, 2, 0, 1)]
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: MeterData.Id"):
        bulk.insert_batch(conn, "MeterData", rows)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM MeterData").fetchone() == (0,)
