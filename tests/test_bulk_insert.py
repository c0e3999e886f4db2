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


@pytest.mark.parametrize("offset", [0, 7, -3, 2 ** 40])
@pytest.mark.parametrize("count", [0, 1, 109, 110, 111, 333, 1000])
def test_same_rows_as_executemany(count, offset):
    """With an offset the oracle is executemany of the rows with the offset added by hand."""
    table = "ElectricPowerValues"
    rows = _power_rows(count)
    per = (bulk.MAX_VARIABLES - 1) // len(TABLE_COLUMNS[table])
    assert per == 110  # 998 // 9: the splits above fall before, on and after a statement's end
    oracle, ours = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    _table(oracle, table)
    _table(ours, table)
    oracle.executemany(insert_sql(table), [(row[0] + offset,) + row[1:] for row in rows])
    bulk.insert_batch(ours, table, rows, offset)
    query = f"SELECT rowid, *, typeof(Pm), typeof(Partial) FROM {table} ORDER BY rowid"
    assert ours.execute(query).fetchall() == oracle.execute(query).fetchall()
    assert len(ours.execute(query).fetchall()) == count


def test_a_row_of_another_width_is_refused_not_shifted():
    table = "MeterData"
    rows = [(i, 1, 2, 1000 + i, 1) for i in range(1, 400)]
    rows[150] = (151, 1, 2, 1151)          # one value short: every later row would shift by one
    rows[300] = (301, 1, 2, 1301, 1, 9)    # one too many: the total count matches again
    oracle = sqlite3.connect(":memory:")
    _table(oracle, table)
    with pytest.raises(sqlite3.ProgrammingError):
        oracle.executemany(insert_sql(table), rows)
    for offset in (0, 1000):
        conn = sqlite3.connect(":memory:")
        _table(conn, table)
        with pytest.raises(sqlite3.ProgrammingError):
            bulk.insert_batch(conn, table, rows, offset)
        # what executemany leaves before the refused row (its caller rolls it back): nothing shifted
        assert conn.execute("SELECT * FROM MeterData").fetchall() == \
            oracle.execute("SELECT * FROM MeterData").fetchall() == rows[:150]


def test_the_offset_shifts_record_ids_only():
    """MeterTable's and the config tables' first columns are no record ids: never shifted."""
    conn = sqlite3.connect(":memory:")
    for table in ("MeterTable", "ElectricConfig", "MeterData", "JournalValues"):
        _table(conn, table)
    registry = [(5, 1001, 0, 5, "12", None, None, 1, None, 1, 0, 0)]
    bulk.insert_batch(conn, "MeterTable", registry, 100)
    assert conn.execute("SELECT DeviceIdx, MeterId FROM MeterTable").fetchall() == [(5, 1001)]
    bulk.insert_batch(conn, "MeterData", [(1, 5, 2, 1000, 1), (2, 5, 2, 2000, 1)], 100)
    bulk.insert_batch(conn, "JournalValues", [(2, 1, 1)], 100)
    assert conn.execute("SELECT Id, DeviceIdx FROM MeterData").fetchall() == [(101, 5), (102, 5)]
    assert conn.execute("SELECT Id, Event FROM JournalValues").fetchall() == [(102, 1)]


def test_a_constraint_stops_the_batch_as_executemany_does():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE MeterData (Id INTEGER PRIMARY KEY, DeviceIdx, RecordTypeId, Timestamp, Valid)")
    rows = [(i, 1, 2, 1000 + i, 1) for i in range(1, 500)] + [(7, 1, 2, 0, 1)]
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed: MeterData.Id"):
        bulk.insert_batch(conn, "MeterData", rows)
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM MeterData").fetchone() == (0,)
