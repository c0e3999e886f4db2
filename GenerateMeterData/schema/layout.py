"""Tables, columns and JSON tag names of meter.db, as data.

This module and ``meterdb.sql`` beside it are the one place that knows how meter.db is laid
out.  Everything else asks here: which value table a measure uses, the column order of every
INSERT, and which tag (``A+1``, ``UA``, ``P+`` ...) lands in which row and column.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from . import contract, measures

# Insert column order of every table the tool writes (Id / DeviceIdx first where present).
METER_TABLE_COLUMNS = ("DeviceIdx", "MeterId", "ParentId", "TypeId", "Address", "ReadPassword",
                       "WritePassword", "InterfaceId", "InterfaceConfig", "RTUObjType",
                       "RTUFeederNum", "RTUObjNum")
HEADER_COLUMNS = ("Id", "DeviceIdx", "RecordTypeId", "Timestamp", "Valid")
CHANNELS = 32
CHANNEL_COLUMNS = tuple(f"Chnl{i}" for i in range(1, CHANNELS + 1))

#: An SQLite INTEGER is 64-bit signed: a larger Python int cannot be bound (OverflowError), and
#: in SQL text it turns into a REAL.
SQLITE_INTEGER_MIN, SQLITE_INTEGER_MAX = -(2 ** 63), 2 ** 63 - 1
#: MeterTable.MeterId of a meter: an SQLite INTEGER above 0 -- ParentId 0 means "no parent", and a
#: load staged away from its device numbers its new meters -1, -2, ... until the merge maps them.
METER_ID_MIN, METER_ID_MAX = 1, SQLITE_INTEGER_MAX


def integer_problem(column: str, value: object) -> str:
    """Why an int ``value`` cannot be stored in ``column`` ("" when it can, or is no int): the
    one check of MeterId / ParentId ranges and of SQLite's INTEGER range."""
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    low, high, what = SQLITE_INTEGER_MIN, SQLITE_INTEGER_MAX, "an SQLite INTEGER is 64-bit signed"
    if column == "MeterId":
        low, high, what = METER_ID_MIN, METER_ID_MAX, "a MeterId: an SQLite INTEGER above 0"
    elif column == "ParentId":
        low, high, what = 0, METER_ID_MAX, "a ParentId: a MeterId, or 0 for none"
    if value < low:
        return f"must be >= {low} ({what}), got {value}"
    if value > high:
        return f"must be <= {high} ({what}), got {value}"
    return ""


def meter_ids_exhausted(highest: object) -> str:
    """The message when no MeterId is left above the highest one a target has."""
    return (f"no MeterId left above {highest}, the highest one the target has (MeterIds end at {METER_ID_MAX}); "
            "nothing was written: give the new meters MeterIds of their own (MeterPlan table={'MeterId': ...})")


TABLE_COLUMNS: Dict[str, Tuple[str, ...]] = {
    "MeterTable": METER_TABLE_COLUMNS,
    "ElectricConfig": ("DeviceIdx", "Timestamp", "Serial", "Model", "IntervalPowerArrays", "DST",
                       "Clock", "Tariff", "Reactive", "ActiveReverse", "ReactiveReverse",
                       "CurrentCoeff", "VoltageCoeff", "MeterConst"),
    "PulseConfig": ("DeviceIdx", "Timestamp", "Serial", "Model", "Channels", "DST"),
    "DigitalConfig": ("DeviceIdx", "Timestamp", "Serial", "Model", "ChannelsIn", "ChannelsOut", "DST"),
    "MeterData": HEADER_COLUMNS,
    "ElectricEnergyValues": ("Id", "Tariff", "Ap", "Am", "Rp", "Rm"),
    "ElectricQualityValues": ("Id", "Phase", "U", "I", "P", "Q", "S", "KP", "Angle", "F"),
    "ElectricPowerValues": ("Id", "Period", "Pp", "Pm", "Qp", "Qm", "Partial", "Overflow", "Season"),
    "PulseValues": ("Id", "Channels") + CHANNEL_COLUMNS,
    "DigitalValues": ("Id", "Channels") + CHANNEL_COLUMNS,
    "JournalValues": ("Id", "Event", "EventId"),
}

# Parents before children: the order rows are inserted in.
WRITE_ORDER = ("MeterTable", "ElectricConfig", "PulseConfig", "DigitalConfig", "MeterData",
               "ElectricEnergyValues", "ElectricQualityValues", "ElectricPowerValues",
               "PulseValues", "DigitalValues", "JournalValues")
VALUE_TABLES = WRITE_ORDER[5:]
CONFIG_TABLES = ("ElectricConfig", "PulseConfig", "DigitalConfig")
REFERENCE_TABLES = ("MeterTypes", "MeterIfaces", "ArchTypes", "ArchInfo")

TEXT_COLUMNS = frozenset({"Address", "ReadPassword", "WritePassword", "InterfaceConfig", "Serial",
                          "Model", "Phase"})


class Family(NamedTuple):
    """How one value table stores a record: its rows' key column and the tags of each cell."""

    table: str
    key_column: Optional[str]          # "Tariff", "Phase" or None (one row per record)
    keys: Tuple                        # row keys in write order ((None,) for one-row families)
    value_columns: Tuple[str, ...]     # columns after Id and the key column
    tags: Dict[str, Tuple[object, int]]  # tag -> (row key, index into value_columns)

    def tag_names(self) -> List[str]:
        """Every tag of this value table."""
        return list(self.tags)


def _family(table: str, key_column: Optional[str], keys: Tuple, tags: Dict[str, Tuple[object, str]]) -> Family:
    """A value table's Family from its insert columns and {tag: (row key, column name)}: the
    positions follow TABLE_COLUMNS, so the columns may be listed in any order after Id and the
    row key (the writers build a child row as (Id, key, *values))."""
    columns = TABLE_COLUMNS[table]
    lead = ("Id", key_column) if key_column else ("Id",)
    if columns[:len(lead)] != lead:
        raise ValueError(f"layout: the insert columns of {table} must start with {', '.join(lead)}")
    value_columns = columns[len(lead):]
    return Family(table, key_column, keys, value_columns,
                  {tag: (key, value_columns.index(column)) for tag, (key, column) in tags.items()})


ENERGY_QUANTITIES = (("A+", "Ap"), ("A-", "Am"), ("R+", "Rp"), ("R-", "Rm"))  # tag prefix, column
TARIFFS = (0, 1, 2, 3, 4)
ENERGY = _family("ElectricEnergyValues", "Tariff", TARIFFS,
                 {f"{q}{t}": (t, column) for t in TARIFFS for q, column in ENERGY_QUANTITIES})

PHASES = ("A", "B", "C", "Summ")
_QUALITY_TAGS: Dict[str, Tuple[object, str]] = {}
for _phase, _angle in (("A", "AngAB"), ("B", "AngBC"), ("C", "AngAC")):
    for _prefix, _col in (("U", "U"), ("I", "I"), ("P", "P"), ("Q", "Q"), ("S", "S"), ("kP", "KP")):
        _QUALITY_TAGS[_prefix + _phase] = (_phase, _col)
    _QUALITY_TAGS[_angle] = (_phase, "Angle")
_QUALITY_TAGS.update({"PS": ("Summ", "P"), "QS": ("Summ", "Q"), "SS": ("Summ", "S"), "kPS": ("Summ", "KP"),
                      "Freq": ("Summ", "F")})
QUALITY = _family("ElectricQualityValues", "Phase", PHASES, _QUALITY_TAGS)

POWER = _family("ElectricPowerValues", None, (None,), {
    "cTime": (None, "Period"), "P+": (None, "Pp"), "P-": (None, "Pm"), "Q+": (None, "Qp"), "Q-": (None, "Qm"),
    "isPart": (None, "Partial"), "isOvfl": (None, "Overflow"), "isSummer": (None, "Season")})
PULSE = _family("PulseValues", None, (None,),
                dict([("Channels", (None, "Channels"))] +
                     [(f"Pls{i}", (None, column)) for i, column in enumerate(CHANNEL_COLUMNS, start=1)]))
DIGITAL = _family("DigitalValues", None, (None,),
                  dict([("Channels", (None, "Channels"))] +
                       [(f"Chnl{i}", (None, column)) for i, column in enumerate(CHANNEL_COLUMNS, start=1)]))
JOURNAL = _family("JournalValues", None, (None,), {"event": (None, "Event"), "eventId": (None, "EventId")})

FAMILIES: Dict[str, Family] = {f.table: f for f in (ENERGY, QUALITY, POWER, PULSE, DIGITAL, JOURNAL)}

# Measure name -> value table (config table for a config measure), for every ArchTypes name.
MEASURE_TABLE: Dict[str, str] = measures.MEASURE_TABLE

HEADER_TAGS = ("DeviceIdx", "Timestamp", "RecordTypeId", "Valid")

# Config tags (the JSON API's names) -> columns.  The three direction flags go by position as the
# device's data API maps them (contract.CONFIG_FLAG_TAGS: isAm = Reactive, isRm = ActiveReverse,
# isRp = ReactiveReverse); the values are gated by the columns' meaning (ENERGY_GATES).  Column
# names are accepted as tags too.
CONFIG_TAGS: Dict[str, Dict[str, str]] = {
    "ElectricConfig": {"serial": "Serial", "model": "Model", "cArrays": "IntervalPowerArrays",
                       "isDst": "DST", "isClock": "Clock", "isTrf": "Tariff", **contract.CONFIG_FLAG_TAGS,
                       "kI": "CurrentCoeff", "kU": "VoltageCoeff", "const": "MeterConst", "Timestamp": "Timestamp",
                       "DeviceIdx": "DeviceIdx"},
    "PulseConfig": {"serial": "Serial", "model": "Model", "chnl": "Channels", "isDst": "DST",
                    "Timestamp": "Timestamp", "DeviceIdx": "DeviceIdx"},
    "DigitalConfig": {"serial": "Serial", "model": "Model", "chnlIn": "ChannelsIn",
                      "chnlOut": "ChannelsOut", "isDst": "DST", "Timestamp": "Timestamp",
                      "DeviceIdx": "DeviceIdx"},
}
for _table, _tags in CONFIG_TAGS.items():
    for _column in TABLE_COLUMNS[_table]:
        _tags.setdefault(_column, _column)


class Gate(NamedTuple):
    """An ElectricConfig flag that says whether the meter measures one direction of energy:
    when it is 0, that direction's energy registers and profile column are NULL."""

    column: str   # ElectricConfig column
    energy: str   # the direction it switches: tag prefix of ENERGY (A-, R+, R-)
    profile: str  # the POWER tag of that direction (P-, Q+, Q-)

    @property
    def tag(self) -> str:
        """The column's config tag (isAm, isRp, isRm), from CONFIG_TAGS."""
        return next(tag for tag, column in CONFIG_TAGS["ElectricConfig"].items()
                    if column == self.column and tag != column)


# What the columns mean (not contradicted by the device evidence, see contract.py): Reactive = R+,
# ActiveReverse = A-, ReactiveReverse = R-.  A+ is always measured.
ENERGY_GATES: Tuple[Gate, ...] = (Gate("ActiveReverse", "A-", "P-"), Gate("Reactive", "R+", "Q+"),
                                  Gate("ReactiveReverse", "R-", "Q-"))
CONFIG_MEASURE_TABLE: Dict[str, str] = measures.CONFIG_MEASURE_TABLE
CONFIG_TABLE_MEASURE: Dict[str, str] = {table: measure for measure, table in CONFIG_MEASURE_TABLE.items()}

METER_TABLE_TAGS = {column: column for column in METER_TABLE_COLUMNS}


def insert_sql(table: str) -> str:
    """The parameterised INSERT of one table, with explicit columns."""
    columns = TABLE_COLUMNS[table]
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})")


# ---- rows by name ---------------------------------------------------------------------------
# Rows travel as plain tuples in TABLE_COLUMNS order (the hot path stays cheap); code outside
# schema/ never writes a position: it asks for it here, or reads a row as a named tuple.

_POSITIONS: Dict[str, Dict[str, int]] = {table: {c: i for i, c in enumerate(columns)}
                                         for table, columns in TABLE_COLUMNS.items()}
# One named-tuple class per table, made from the column lists at import: their fields exist only at
# run time, so a type checker sees the rows as Any (mypy wants namedtuple's name as a literal).
ROW_TYPES: Dict[str, Any] = {table: namedtuple(table + "Row", columns, rename=True)  # type: ignore[misc]
                             for table, columns in TABLE_COLUMNS.items()}


def index(table: str, column: str) -> int:
    """The position of ``column`` in the rows of ``table`` (KeyError naming both otherwise)."""
    try:
        return _POSITIONS[table][column]
    except KeyError:
        raise KeyError(f"table {table} has no column {column!r}") from None


def indexes(table: str, *columns: str) -> Tuple[int, ...]:
    """The positions of several columns of ``table``."""
    return tuple(index(table, column) for column in columns)


def named(table: str, row: Sequence[Any]) -> Any:
    """A row of ``table`` as a named tuple (``named("MeterTable", row).MeterId``)."""
    return ROW_TYPES[table]._make(row)


def as_dict(table: str, row: Sequence[Any]) -> Dict[str, Any]:
    """A row of ``table`` as {column: value}."""
    return dict(zip(TABLE_COLUMNS[table], row))


def arranger(table: str, columns: Sequence[str]) -> Optional[Callable[[Sequence[Any]], List[Any]]]:
    """How a producer's values, listed in ``columns`` order, become the value cells of ``table``
    (its insert columns after Id and the row key): None when the two orders agree -- the
    producer's lists are then written as they are, at no cost on the hot path -- else a function
    that rearranges one list (a value column the producer does not name gets None).  A column
    the table lacks fails at once, naming both."""
    value_columns = FAMILIES[table].value_columns
    unknown = [column for column in columns if column not in value_columns]
    if unknown:
        raise KeyError(f"table {table} has no column {', '.join(map(repr, unknown))}")
    if tuple(columns) == value_columns:
        return None
    positions = [columns.index(column) if column in columns else None for column in value_columns]

    def arrange(values: Sequence[Any]) -> List[Any]:
        return [None if position is None else values[position] for position in positions]

    return arrange


def make_row(table: str, values: Mapping[str, Any]) -> tuple:
    """A row of ``table`` in column order from {column: value} (a missing column is None)."""
    return tuple(values.get(column) for column in TABLE_COLUMNS[table])
