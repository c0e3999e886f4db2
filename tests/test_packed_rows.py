"""How the helper hands its rows to the writer (issue 24, bulk): ``PackedRows`` -- a record table's
rows packed by ``struct`` by the columns' types in the target -- read back as the rows they were,
are refused where a value does not fit (the rows then travel as they are), and go into SQLite
exactly as executemany puts the rows themselves.  Oracles: the rows before packing, SQLite's own
column affinity (``typeof`` of what it stored), executemany of the same rows, and the plain
generator's load (``test_generated_ahead``'s oracle)."""
from __future__ import annotations

import math
import pickle
import sqlite3

import pytest

from GenerateMeterData import LocalTarget, Scenario
from GenerateMeterData.records.rows import PackedRows, RowSet, column
from GenerateMeterData.schema import create_schema
from GenerateMeterData.schema.layout import TABLE_COLUMNS, insert_sql
from GenerateMeterData.targets import bulk, staging

POWER = "ElectricPowerValues"
POWER_CODES = "qqddddqqq"   # Id, Period, Pp, Pm, Qp, Qm, Partial, Overflow, Season


def _power(count, pm=None):
    """Rows with Pm None in every row (a meter that does not measure it) unless ``pm``."""
    return [(i, 30, i * 0.25, pm, -1.5 * i, 0.0, 0, i % 2, 1) for i in range(1, count + 1)]


def test_packed_rows_read_back_as_the_rows_they_were():
    rows = _power(250)
    packed = PackedRows.pack(rows, POWER_CODES)
    assert packed is not None and packed.nulls == (3,) and packed.format == "qqdddqqq"
    assert list(packed) == rows and packed == rows and len(packed) == 250
    assert packed[0] == rows[0] and packed[-1] == rows[-1] and packed[117] == rows[117]
    assert list(packed[10:20]) == rows[10:20] and list(packed[240:999]) == rows[240:]
    assert list(packed[5:5]) == [] and len(packed[200:100]) == 0
    assert column(packed, 3) == [None] * 250 and column(packed, 2) == [row[2] for row in rows]
    assert column(packed, 7) == [row[7] for row in rows] and column(rows, 7) == column(packed, 7)
    again = pickle.loads(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(again, PackedRows) and list(again) == rows
    with pytest.raises(IndexError):
        packed[250]
    whole = PackedRows.pack(_power(3, pm=2.5), POWER_CODES)
    assert whole is not None and whole.nulls == () and list(whole) == _power(3, pm=2.5)


@pytest.mark.parametrize("rows, why", [
    ([(1, 30, 1.0, None, 1.0, 1.0, 0, 0, 1), (2, 30, 1.0, 7.5, 1.0, 1.0, 0, 0, 1)],
     "None in the first row only: the column is not NULL throughout"),
    ([(1, 30, 1.0, 2.0, 1.0, 1.0, 0, 0, 1), (2, 30, 1.0, None, 1.0, 1.0, 0, 0, 1)], "None where d"),
    ([(1, 30.5, 1.0, 2.0, 1.0, 1.0, 0, 0, 1)], "a float where q"),
    ([(1, 30, 1.0, 2.0, 1.0, 1.0, None, 0, 1), (2, 30, 1.0, 2.0, 1.0, 1.0, 1, 0, 1)], "None then an int where q"),
    ([(1, 30, "1.0", 2.0, 1.0, 1.0, 0, 0, 1)], "text where d"),
    ([(1, 30, 1.0, 2.0, 1.0, 1.0, 0, 0, 2 ** 63)], "an integer past 64 bits"),
    ([(1, 30, 1.0, 2.0, 1.0, 1.0, 0, 0, 1), (2, 30, 1.0, 2.0, 1.0, 1.0, 0, 0)], "a row of another width"),
    ([], "no rows"),
])
def test_rows_that_do_not_fit_are_not_packed(rows, why):
    assert PackedRows.pack(rows, POWER_CODES) is None, why


def test_a_column_without_a_code_is_never_packed():
    rows = [(1, "A", 230.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 50.0)]
    assert PackedRows.pack(rows, "q-dddddddd") is None


DECLARED = ["INTEGER", "INT", "BIGINT", "UNSIGNED BIG INT", "REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT",
            "TEXT", "VARCHAR(10)", "CLOB", "BLOB", "", "NUMERIC", "DECIMAL(10,5)", "BOOLEAN", "DATE",
            "FLOATING POINT", "CHARINT", "POINT"]


def _stored_types(declared: str):
    """typeof() of an integer, a real and a numeric text as SQLite stores them in such a column."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f'CREATE TABLE t (c {declared})')
    conn.executemany("INSERT INTO t VALUES (?)", [(5,), (5.5,), ("5",)])
    return tuple(row[0] for row in conn.execute("SELECT typeof(c) FROM t ORDER BY rowid"))


@pytest.mark.parametrize("declared", DECLARED)
def test_a_column_is_packed_with_the_code_its_affinity_stores_alike(declared):
    """``d`` only where SQLite keeps every number as a REAL (so an int packed as a float is stored
    alike); ``q`` only where it keeps an integer an integer and a real a real."""
    code, stored = bulk.affinity_code(declared), _stored_types(declared)
    assert (code == "d") == (stored == ("real", "real", "real")), stored
    if code == "q":
        assert stored == ("integer", "real", "integer")


def test_the_codes_of_a_meter_db_are_its_declared_types():
    conn = sqlite3.connect(":memory:")
    create_schema(conn)
    codes = bulk.struct_codes(conn)
    for table, code in codes.items():
        types = [_stored_types(row[2]) for row in conn.execute(f"PRAGMA table_info({table})")]
        names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        by_name = dict(zip(names, types))
        for column_name, c in zip(TABLE_COLUMNS[table], code):
            assert c in "qd-" and (c == "d") == (by_name[column_name] == ("real", "real", "real"))
    assert codes[POWER] == POWER_CODES and codes["ElectricQualityValues"][1] == "-"  # Phase is TEXT


@pytest.mark.parametrize("offset", [0, 9, 2 ** 40])
@pytest.mark.parametrize("count", [1, 141, 142, 143, 284, 1000])
@pytest.mark.parametrize("pm", [None, 3.25, math.nan])
def test_packed_rows_go_in_as_executemany_puts_the_rows(count, offset, pm):
    """Per statement 998 // 7 = 142 rows of Pm-less power rows (124 with Pm): the splits fall
    before, on and after a statement's end; a NaN is stored as NULL, as executemany stores it."""
    rows = _power(count, pm)
    packed = PackedRows.pack(rows, POWER_CODES)
    assert packed is not None
    oracle, ours = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for conn in (oracle, ours):
        create_schema(conn)
    oracle.executemany(insert_sql(POWER), [(row[0] + offset,) + row[1:] for row in rows])
    bulk.insert_batch(ours, POWER, packed, offset)  # type: ignore[arg-type]
    query = f"SELECT rowid, *, typeof(Pm), typeof(Pp), typeof(Partial) FROM {POWER} ORDER BY rowid"
    assert ours.execute(query).fetchall() == oracle.execute(query).fetchall()
    assert len(ours.execute(query).fetchall()) == count


def test_a_packed_rowset_keeps_its_kind_offset_and_the_rows_that_do_not_fit():
    rows = RowSet()
    rows.id_offset = 12
    rows.tables["MeterData"] = [(1, 1, 5, 1000, 1), (2, 1, 5, 2000, 1)]
    rows.tables[POWER] = [(1, 30, 1.0, None, 1.0, 1.0, 0, 0, 1), (2, 30, 1.5, 2.0, 1.0, 1.0, 0, 0, 1)]
    rows.tables["MeterTable"] = [(1, 1001, None, 1, "1", "", "", 1, "")]
    packed = rows.packed(bulk.struct_codes(_schema()))
    assert type(packed) is RowSet and packed.id_offset == 12
    assert isinstance(packed["MeterData"], PackedRows) and packed["MeterData"] == rows["MeterData"]
    assert packed[POWER] is rows[POWER]            # None in the first row only: as it was
    assert packed["MeterTable"] is rows["MeterTable"]  # no record table: as it was
    assert packed.counts() == rows.counts()


def _schema():
    conn = sqlite3.connect(":memory:")
    create_schema(conn)
    return conn


@pytest.mark.parametrize("overridden", [False, True])
def test_a_load_the_helper_packed_is_the_load_made_here(overridden, monkeypatch, tmp_path):
    """Meters with NULL columns (a single-phase meter measures no A-), pulse and 15-minute meters,
    made by the helper and packed -- or, with an override (a value a user gave), sent as they are
    -- land as the plain generator puts them; the spy sees which."""
    from GenerateMeterData.generate.scenario import MeterPlan
    from helpers import table_checksums
    from test_generated_ahead import DATA_TABLES, _loaded_by_hand, main_claims

    monkeypatch.setattr(staging, "AHEAD_MIN_ROWS", 1)
    main_claims(monkeypatch, set())   # every meter is the helper's
    seen = {"packed": 0, "plain": 0}
    real = staging._AheadReader.next

    def spy(self, block=True):
        answer = real(self, block)
        if answer is not None and answer[0] == "rows":
            for rows in answer[1][1].tables.values():  # (meter, RowSet, last)
                if rows:
                    seen["packed" if isinstance(rows, PackedRows) else "plain"] += 1
        return answer

    monkeypatch.setattr(staging._AheadReader, "next", spy)
    overrides = {"ElArr1ConsPower": {"P+": 1.25}} if overridden else None
    big = Scenario(meters=[MeterPlan("SE102", 3), MeterPlan("Pulsar", 2), MeterPlan("Mercury23x", 4)],
                   days=10, end=staging_end(), seed=4, overrides=overrides)
    ours, oracle = str(tmp_path / "ours.db"), str(tmp_path / "oracle.db")
    for path in (ours, oracle):
        LocalTarget(path).init()
    big.create(LocalTarget(ours))
    _loaded_by_hand(oracle, big.for_target(LocalTarget(oracle)))
    mine, theirs = table_checksums(ours), table_checksums(oracle)
    assert {t: mine[t] for t in DATA_TABLES} == {t: theirs[t] for t in DATA_TABLES}
    if overridden:
        assert seen["packed"] == 0 and seen["plain"] > 0
    else:
        assert seen["packed"] > 0


def staging_end():
    import datetime as dt

    return dt.date(2026, 5, 1)
