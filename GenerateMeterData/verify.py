"""Check the invariants of meter.db -- on data this tool generated or on data the device
collected itself -- and report each violation with meter, table, timestamp, expected vs found.

How it is built:

- ``MeterView``: one meter's rows, read once and never changed -- its newest config rows and, per
  measure, its records oldest first.  Rows are named tuples built from ``schema.layout``; rules
  read values by the device's tag names (``A+0``, ``UA``, ``P+``, ``Pls3``), which layout maps to
  columns, so a renamed column is a layout change, not a change here.
- ``RULES``: the registry.  A rule is a name, a docstring (what it checks and why a device's data
  must obey it) and a function from a view to findings.  A rule reads the view only: no rule
  depends on another or on the order they run in.  Which rules run on a meter follows from the
  measures the meter has records of (``Rule.measures``), and those sets come from the measure
  registry (``schema/measures.py``) and the layout's value tables -- not from name prefixes.
- ``verify()``: the database-wide rules, then every meter's view through every rule that applies.
"""
from __future__ import annotations

import bisect
import datetime as dt
import inspect
import math
import os
import sqlite3
from dataclasses import dataclass, replace
from itertools import accumulate
from types import MappingProxyType
from typing import (TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, NamedTuple,
                    Optional, Sequence, Tuple, TypeVar, Union, cast)

from .errors import SchemaError, VerificationFailed
from .records.rows import NameIndex
from .model import timegrid
from .model.context import check_timezone
from .schema.layout import (CONFIG_TABLES, CONFIG_TAGS, ENERGY_GATES, ENERGY_QUANTITIES, FAMILIES, MEASURE_TABLE,
                            ROW_TYPES, TABLE_COLUMNS, VALUE_TABLES, Family, index)
from .schema import contract
from .schema.measures import ALIASES, ALWAYS_0, DAY, HOUR, MONTH, PROFILE, select
from .schema.measures import measure as measure_entry
from .schema.reference import METER_KINDS, MeterKind

if TYPE_CHECKING:  # for the annotations only: verify reads a target, it does not import the targets
    from .targets.base import Target

#: A cell's value as SQLite gives it (int, float, str, bytes or None): the column decides which,
#: so the rules, not the type checker, know what they read.
Cell = Any
#: A row as a named tuple of ``schema.layout.ROW_TYPES``: its fields exist only at run time.
Row = Any

VOLTAGE_RANGE = (0.8 * 230, 1.2 * 230)
FREQUENCY_RANGE = (49.0, 51.0)
ANGLE_RANGE = (110.0, 130.0)


# ---- which measures a rule reads: from the measure registry (schema/measures.py) ------------
VALUE_MEASURES = tuple(name for name in select(records=True) if MEASURE_TABLE[name] in FAMILIES)


def measures(table: Optional[str] = None, *, cadence: Optional[Iterable[str]] = None,
             cumulative: Optional[bool] = None, consumption: Optional[bool] = None) -> FrozenSet[str]:
    """Names of the value measures that match every criterion given (the registry's ``select``)."""
    return frozenset(name for name in select(table=table, cadence=cadence, cumulative=cumulative,
                                             consumption=consumption, records=True)
                     if name in VALUE_MEASURES)


def cadence_of(name: str) -> Optional[str]:
    """When a measure is stamped (the registry's cadence)."""
    return measure_entry(name).cadence


def _tag(family: Family, key: object, column: str) -> Optional[str]:
    """The tag of one cell (row key, column), None when no tag maps to it."""
    return _TAG_OF[family.table].get((key, column))


_TAG_OF: Dict[str, Dict[Tuple[object, str], str]] = {
    family.table: {(key, family.value_columns[position]): tag for tag, (key, position) in family.tags.items()}
    for family in FAMILIES.values()}
# tag -> (row key, position of its column in the row): looked up once by column name in layout's
# TABLE_COLUMNS, so Record.value reads a named row without getattr per cell (verify's hot path)
_TAG_CELLS: Dict[str, Dict[str, Tuple[object, int]]] = {
    family.table: {tag: (key, index(family.table, family.value_columns[position]))
                   for tag, (key, position) in family.tags.items()}
    for family in FAMILIES.values()}
ENERGY, QUALITY, POWER, PULSE, DIGITAL, JOURNAL = (FAMILIES[t] for t in (
    "ElectricEnergyValues", "ElectricQualityValues", "ElectricPowerValues", "PulseValues",
    "DigitalValues", "JournalValues"))
ENERGY_PREFIXES = tuple(prefix for prefix, _ in ENERGY_QUANTITIES)           # A+, A-, R+, R-
PROFILE_POWER_TAGS = ("P+", "P-", "Q+", "Q-")                                    # same order


# ---- results ------------------------------------------------------------------------------
@dataclass
class Violation:
    """One broken invariant: where, what (``rule``, a sentence), expected vs found, and the name
    of the registered rule that found it (``rule_name``, see ``RULES``)."""

    meter_id: Optional[int]
    device_idx: Optional[int]
    table: str
    timestamp: Optional[int]
    rule: str
    expected: object = None
    found: object = None
    rule_name: str = ""

    def format(self, tz: dt.tzinfo) -> str:
        """The violation as one line, with the timestamp in the device's local time."""
        who = f"meter {self.meter_id} (DeviceIdx {self.device_idx})" if self.device_idx is not None else "database"
        when = ""
        if self.timestamp is not None:
            when = " " + dt.datetime.fromtimestamp(self.timestamp, tz).strftime("%Y-%m-%d %H:%M:%S %z")
        text = f"{who} {self.table}{when}: {self.rule}"
        if self.expected is not None:  # None: the message says what was expected ("must be NULL")
            text += f": expected {_show(self.expected)}, found {_show(self.found)}"
        elif self.found is not None:
            text += f": found {_show(self.found)}"
        if self.rule_name:
            text += f" [{self.rule_name}]"
        return text


class Finding(NamedTuple):
    """What a meter rule reports; ``verify`` adds the meter and the rule's name."""

    table: str
    timestamp: Optional[int]
    message: str
    expected: object = None
    found: object = None


def _show(value: object) -> str:
    if value is None:
        return "NULL"  # a value found is a column's: None is its NULL
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _close(a: Optional[float], b: Optional[float], tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance + 1e-9 * max(abs(a), abs(b))


# ---- the per-meter view -------------------------------------------------------------------
class Record:
    """One MeterData header of a meter and its value rows (named tuples), values read by tag."""

    __slots__ = ("measure", "id", "ts", "valid", "rows", "family", "_by_key", "_cells")

    def __init__(self, measure: str, record_id: int, ts: int, valid: int, rows: Tuple[Row, ...]) -> None:
        self.measure, self.id, self.ts, self.valid, self.rows = measure, record_id, ts, valid, rows
        self.family: Family = FAMILIES[MEASURE_TABLE[measure]]
        self._cells = _TAG_CELLS[self.family.table]
        key = self.family.key_column
        self._by_key = {getattr(row, key) if key else None: row for row in rows}

    def keys(self) -> List[object]:
        """Row keys present (tariffs, phases; ``[None]`` for a one-row record)."""
        key = self.family.key_column
        return [getattr(row, key) if key else None for row in self.rows]

    def value(self, tag: str) -> Cell:
        """The value of a tag (``A+0``, ``UB``, ``P+``, ``Pls3``, ``event``); None when absent."""
        key, position = self._cells[tag]
        row = self._by_key.get(key)
        return None if row is None else row[position]

    def cell(self, key: object, column: str) -> Cell:
        """The value of one cell by row key and column name (for cells no tag names)."""
        row = self._by_key.get(key)
        return None if row is None else getattr(row, column)

    def has(self, key: object) -> bool:
        """Whether the row with this key exists."""
        return key in self._by_key


@dataclass(frozen=True)
class MeterView:
    """Everything verify knows about one meter, read once; rules only read it."""

    device_idx: int
    meter_id: Optional[int]
    type_name: Optional[str]
    kind: Optional[MeterKind]
    configs: Mapping[str, Optional[Row]]            # config table -> newest row (named tuple)
    records: Mapping[str, Tuple[Record, ...]]        # measure -> every record, oldest first
    tz: dt.tzinfo
    tolerance: float

    def config(self, tag: str, table: str = "ElectricConfig") -> Cell:
        """A config value by its tag (``isTrf``, ``cArrays``, ``chnl`` ...); None without a config row."""
        row = self.configs.get(table)
        return None if row is None else getattr(row, CONFIG_TAGS[table][tag])

    def present(self, names: FrozenSet[str]) -> List[str]:
        """The measures among ``names`` this meter has records of (RecordTypeId order)."""
        return [measure for measure in self.records if measure in names]

    def all(self, measure: str) -> Tuple[Record, ...]:
        """Every record of a measure, Valid or not, oldest first."""
        return self.records.get(measure, ())

    def valid(self, measure: str) -> List[Record]:
        """Valid = 1 records of a measure that carry rows, oldest first."""
        return [r for r in self.records.get(measure, ()) if r.valid and r.rows]

    def by_ts(self, measure: str) -> Dict[int, Record]:
        """Valid records of a measure by timestamp."""
        return {r.ts: r for r in self.valid(measure)}

    def midnight(self, ts: int) -> int:
        """Local midnight of the day ``ts`` falls in."""
        return timegrid.local_midnight(timegrid.local_datetime(ts, self.tz).date(), self.tz)

    def next_stamp(self, ts: int, cadence: Optional[str]) -> int:
        """The day's or month's following local midnight."""
        day = timegrid.local_datetime(ts, self.tz).date()
        following = timegrid.add_months(day, 1) if cadence == MONTH else day + dt.timedelta(days=1)
        return timegrid.local_midnight(following, self.tz)


@dataclass(frozen=True)
class DatabaseView:
    """The open database, for rules about the file as a whole."""

    conn: sqlite3.Connection
    names: NameIndex
    meter_ids: Mapping[int, int]                     # DeviceIdx -> MeterId

    def type_name(self, record_type_id: int) -> str:
        """ArchTypes.Name of an id (the id itself when unknown)."""
        return self.names.record_type_names.get(record_type_id, str(record_type_id))


# ---- the registry -------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One invariant: ``check`` maps a view to findings; ``measures`` are the measures it reads
    (it runs on a meter holding records of any of them)."""

    name: str
    scope: str                      # "meter" or "database"
    measures: FrozenSet[str]
    check: Callable[..., Iterable[Any]]   # a view -> Findings (meter) or Violations (database)

    @property
    def doc(self) -> str:
        """What the rule checks and why a device's data must obey it."""
        return inspect.getdoc(self.check) or ""

    @property
    def summary(self) -> str:
        """What the rule checks: the docstring's first paragraph, on one line."""
        return " ".join(self.doc.split("\n\n", 1)[0].split())

    def applies_to(self, view: MeterView) -> bool:
        """Whether the meter has records this rule reads."""
        return any(view.records.get(m) for m in self.measures)


RULES: Dict[str, Rule] = {}


RuleCheck = TypeVar("RuleCheck", bound=Callable[..., Iterable[Any]])


def rule(name: str, reads: Iterable[str] = (), scope: str = "meter") -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule function under ``name``."""
    def register(check: RuleCheck) -> RuleCheck:
        if name in RULES:
            raise ValueError(f"rule {name!r} registered twice")
        if not inspect.getdoc(check):
            raise ValueError(f"rule {name!r} needs a docstring")
        RULES[name] = Rule(name, scope, frozenset(reads), check)
        return check
    return register


# ---- database rules -----------------------------------------------------------------------
@rule("unique-record", scope="database")
def unique_record(db: DatabaseView) -> Iterator[Violation]:
    """(DeviceIdx, RecordTypeId, Timestamp) is unique in MeterData.

    The device's APIs and its poller look a record up by that triple; two headers for one
    reading make the answer depend on which row SQLite happens to return."""
    for device_idx, rtid, ts, count in db.conn.execute(
            "SELECT DeviceIdx, RecordTypeId, Timestamp, count(*) FROM MeterData "
            "GROUP BY DeviceIdx, RecordTypeId, Timestamp HAVING count(*) > 1"):
        yield Violation(db.meter_ids.get(device_idx), device_idx, db.type_name(rtid), ts,
                        "(DeviceIdx, RecordTypeId, Timestamp) is not unique", 1, count)


@rule("orphan-values", scope="database")
def orphan_values(db: DatabaseView) -> Iterator[Violation]:
    """Every value row's Id is a MeterData header.

    Values are reached only through their header (meter, measure, time); a row without one is
    data no API can return and no cleanup by meter removes."""
    for table in VALUE_TABLES:
        orphans = db.conn.execute(
            f"SELECT count(*) FROM {table} WHERE Id NOT IN (SELECT Id FROM MeterData)").fetchone()[0]
        if orphans:
            yield Violation(None, None, table, None, "rows whose Id has no MeterData header", 0, orphans)


@rule("header-without-meter", scope="database")
def header_without_meter(db: DatabaseView) -> Iterator[Violation]:
    """Every MeterData header's DeviceIdx is a meter in MeterTable.

    The device deletes a meter's data by cascading from MeterTable; headers of a meter that is
    not there belong to nobody and survive every cleanup."""
    dangling = db.conn.execute(
        "SELECT count(*) FROM MeterData WHERE DeviceIdx NOT IN (SELECT DeviceIdx FROM MeterTable)").fetchone()[0]
    if dangling:
        yield Violation(None, None, "MeterData", None, "headers whose DeviceIdx is not in MeterTable", 0, dangling)


@rule("retention-holds-records", scope="database")
def retention_holds_records(db: DatabaseView) -> Iterator[Violation]:
    """ArchInfo.Records of a measure is at least the number of records any one meter holds.

    The device trims each meter's archive to Records on its next write, so data beyond it is
    about to vanish: a test that relies on it would pass once and then fail."""
    retention = dict(db.conn.execute("SELECT RecordTypeId, Records FROM ArchInfo"))
    for rtid, most in db.conn.execute(
            "SELECT RecordTypeId, max(n) FROM (SELECT DeviceIdx, RecordTypeId, count(*) AS n "
            "FROM MeterData GROUP BY DeviceIdx, RecordTypeId) GROUP BY RecordTypeId"):
        if rtid in retention and retention[rtid] < most:
            yield Violation(None, None, "ArchInfo", None,
                            f"Records of {db.type_name(rtid)} is below what a meter holds", f">= {most}",
                            retention[rtid])


# ---- rules for every value family ---------------------------------------------------------
ALL_MEASURES = frozenset(VALUE_MEASURES)


@rule("valid-0-without-values", reads=ALL_MEASURES)
def valid_0_without_values(view: MeterView) -> Iterator[Finding]:
    """A Valid = 0 header has no value rows.

    Valid = 0 is how the device records a reading it could not take; the data API reports such
    a record as invalid and ignores its values, so values under it are a contradiction."""
    for measure in view.present(ALL_MEASURES):
        records = view.all(measure)
        for record in records:
            if not record.valid and record.rows:
                yield Finding(measure, record.ts, "Valid = 0 header has child rows", 0, len(record.rows))


@rule("valid-1-rows", reads=ALL_MEASURES)
def valid_1_rows(view: MeterView) -> Iterator[Finding]:
    """A Valid = 1 record has the rows its value table defines for this meter, each once.

    Energy: tariff 0, with tariffs 1-4 only when ElConfig.Tariff = 1 (a tariff the meter did not
    report has no row); quality: phases A, B and C on a three-phase meter, A on a single-phase
    one, and Summ when the meter reports totals (any of them on a meter of unknown type); every
    other table: one row.  The
    APIs build a reading's tags from these rows, so a missing or extra row is a tag that is
    missing or has two values.  (A row whose values are all NULL is not counted here: that is
    ``no-all-null-rows``.)"""
    tariff_unit = view.config("isTrf")
    phases = _expected_phases(view)
    for measure in view.present(ALL_MEASURES):
        records = view.all(measure)
        for record in records:
            if not record.valid:
                continue
            family = record.family
            empty = _all_null_rows(record)
            found = [key for key in record.keys() if key not in empty]
            if family.key_column is None:
                if found != [None]:
                    yield Finding(measure, record.ts, f"Valid = 1 record has {len(found)} {family.table} rows",
                                  1, len(found))
                continue
            allowed: Tuple[object, ...]
            required: Tuple[object, ...]
            if family is ENERGY:
                allowed, required = ((0,), (0,)) if tariff_unit == 0 else (family.keys, (0,))
            elif family is QUALITY and phases is not None:
                # values on B/C of one phase: quality-single-phase; no Summ: a meter without totals
                allowed, required = family.keys, tuple(p for p in phases if p != "Summ")
            else:
                allowed, required = family.keys, ()
            if len(set(found)) != len(found) or not set(required) <= set(found) or not set(found) <= set(allowed):
                expected = list(required) if required == allowed else f"{list(required)} .. {list(allowed)}"
                yield Finding(measure, record.ts, f"Valid = 1 record's {family.key_column} rows are not "
                              f"those of its table", expected, sorted(found, key=str))


def _expected_phases(view: MeterView) -> Optional[Tuple[str, ...]]:
    """The quality rows a meter of this type writes (None: type unknown)."""
    if view.kind is None or view.kind.family != "electric":
        return None
    return QUALITY.keys if view.kind.phases == 3 else ("A", "Summ")


def _all_null_rows(record: Record) -> List[object]:
    """Keys of a record's keyed rows whose value cells are all NULL."""
    family = record.family
    if family.key_column is None:
        return []
    return [row[1] for row in record.rows if all(value is None for value in row[2:])]


def _legacy_arrays(view: MeterView) -> Optional[str]:
    """The old tool's config (contract.LEGACY_CONVENTION): IntervalPowerArrays holding the
    profile's period -- what it says, None when the config is not that."""
    arrays = view.config("cArrays")
    periods = {slot.value("cTime") for slot in view.valid(LOAD_PROFILE)}
    if isinstance(arrays, int) and arrays > contract.PROFILE_ARRAYS and periods <= {arrays}:
        return f"IntervalPowerArrays = {arrays} = the profile's Period"
    return None


def _legacy_rows(view: MeterView) -> Optional[str]:
    """The old tool's single-phase rows (contract.LEGACY_CONVENTION): every quality record with
    all-NULL rows B and C -- what it says, None when the meter's records are not that."""
    if view.kind is None or view.kind.phases != 1:
        return None
    quality = [r for m in view.present(QUALITY_MEASURES) for r in view.valid(m)]
    if quality and all({"B", "C"} <= set(_all_null_rows(r)) for r in quality):
        return f"all-NULL rows B and C in {len(quality)} quality records"
    return None


def legacy_convention(view: MeterView) -> List[str]:
    """What of the old tool's convention this meter's rows follow (``_legacy_arrays``,
    ``_legacy_rows``); empty for a meter written as the device writes."""
    return [found for found in (_legacy_arrays(view), _legacy_rows(view)) if found]


@rule("legacy-convention", reads=ALL_MEASURES)
def legacy_convention_rule(view: MeterView) -> Iterator[Finding]:
    """The meter's rows follow the convention of GenerateMeterData 0.1, which a device never
    writes: IntervalPowerArrays holding the profile period (e.g. 30), single-phase quality
    records with all-NULL rows B and C.  Reported once per meter; ``clear`` removes such loads
    as any other.

    The device stores the number of profile arrays (1) in IntervalPowerArrays and leaves out a
    row whose values are all NULL (schema/contract.py); a head-end reading these rows through
    the device would take a 30-minute profile for 30 arrays and see empty phases."""
    found = legacy_convention(view)
    if found:
        yield Finding("ElectricConfig", None, "follows the " + contract.LEGACY_CONVENTION.split(":")[0]
                      + " (" + "; ".join(found) + "), not the device's", None, None)


@rule("no-all-null-rows", reads=ALL_MEASURES)
def no_all_null_rows(view: MeterView) -> Iterator[Finding]:
    """No tariff or phase row has all its values NULL.

    The device's data API leaves out a row whose values are all null (schema/contract.py,
    ``no-all-null-rows``); such a row is data no device writes.  (A meter whose every
    single-phase record has them is reported once, as ``legacy-convention``.)"""
    legacy_rows = _legacy_rows(view) is not None
    for measure in view.present(ALL_MEASURES):
        for record in view.valid(measure):
            empty = _all_null_rows(record)
            if legacy_rows and record.family is QUALITY:
                empty = [key for key in empty if key not in ("B", "C")]
            for key in empty:
                yield Finding(measure, record.ts, f"{record.family.key_column} {key} row has only NULL values",
                              "no row", "all NULL")


@rule("device-defaults", reads=ALL_MEASURES)
def device_defaults(view: MeterView) -> Iterator[Finding]:
    """Cells the device never leaves NULL are not NULL: profile Period, isPart, isOvfl,
    isSummer; the config's Serial, Model, IntervalPowerArrays and flags; a journal's Event;
    digital channels up to the channel count.

    The device stores a null the meter gave there as 0 ('' for text) (schema/contract.py,
    ``device-defaults``)."""
    for table, columns in contract.DEVICE_DEFAULTS.items():
        if table in CONFIG_TABLES:
            row = view.configs.get(table)
            for column in columns:
                if row is not None and getattr(row, column) is None:
                    yield Finding(table, row.Timestamp, f"{column} is NULL", columns[column], None)
    checks = {table: list(contract.DEVICE_DEFAULTS[table].items()) for table in (POWER.table, JOURNAL.table)}
    for measure in view.present(ALL_MEASURES):
        records = view.valid(measure)
        if not records:
            continue
        family = records[0].family
        if family.table in checks:
            for record in records:
                row = record.rows[0]
                for column, default in checks[family.table]:
                    if getattr(row, column) is None:
                        yield Finding(measure, record.ts, f"{column} is NULL", default, None)
        elif family is DIGITAL:
            for record in records:
                count = record.value("Channels")
                if isinstance(count, int) and any(record.value(f"Chnl{i}") is None for i in range(1, count + 1)):
                    yield Finding(measure, record.ts, "a channel within Channels is NULL",
                                  contract.DIGITAL_NULL_CHANNEL, None)


UNTAGGED_CELLS = {family.table: [(key, column) for key in family.keys for column in family.value_columns
                                 if _tag(family, key, column) is None] for family in FAMILIES.values()}


@rule("untagged-cells-null", reads=ALL_MEASURES)
def untagged_cells_null(view: MeterView) -> Iterator[Finding]:
    """A cell that no JSON tag names is NULL (U, I and Angle of the Summ row; F of phases A-C).

    The device's APIs read and write values only through tags; a cell without a tag is one the
    device never fills, so a value there is not something a real meter reported."""
    for measure in view.present(ALL_MEASURES):
        records = view.all(measure)
        untagged = UNTAGGED_CELLS[MEASURE_TABLE[measure]]
        if not untagged:
            continue
        for record in records:
            for key, column in untagged:
                value = record.cell(key, column)
                if value is not None:
                    label = f"{column} of {key}" if key is not None else column
                    yield Finding(measure, record.ts, f"{label} has no tag and must be NULL", None, value)


GRID_MEASURES = measures(cadence=(DAY, MONTH, HOUR, PROFILE))


@rule("stamp-on-grid", reads=GRID_MEASURES)
def stamp_on_grid(view: MeterView) -> Iterator[Finding]:
    """Day records are stamped at local midnight, month records at local midnight of the 1st,
    hour records at the start of a local hour, profile slots on a Period boundary from midnight.

    The device closes these archives at those instants and the APIs select them by date; a
    record off the grid is a day or slot that no query for a date finds."""
    for measure in view.present(GRID_MEASURES):
        records = view.all(measure)
        cadence = cadence_of(measure)
        for record in records:
            ts = record.ts
            local = timegrid.local_datetime(ts, view.tz)
            if cadence == DAY and view.midnight(ts) != ts:
                yield Finding(measure, ts, "not stamped at local midnight")
            elif cadence == MONTH and (local.day != 1 or view.midnight(ts) != ts):
                yield Finding(measure, ts, "not stamped at local midnight of the 1st")
            elif cadence == HOUR and (local.minute, local.second) != (0, 0):
                yield Finding(measure, ts, "not stamped at the start of a local hour")
            elif cadence == PROFILE and record.valid and record.rows:
                period = record.value("cTime")
                if period and (ts - view.midnight(ts)) % (int(period) * 60):
                    yield Finding(measure, ts, f"not on a {period}-minute boundary")


CALENDAR_MEASURES = measures(cadence=(DAY, MONTH))


@rule("calendar-gap", reads=CALENDAR_MEASURES)
def calendar_gap(view: MeterView) -> Iterator[Finding]:
    """A day (month) archive has a record for every day (month) between its first and last.

    The device writes these archives every day (month) whether or not it could read the meter
    (Valid = 0 when not); a missing record means the archive itself lost data."""
    for measure in view.present(CALENDAR_MEASURES):
        records = view.all(measure)
        cadence = cadence_of(measure)
        stamps = sorted(r.ts for r in records)
        dates = [timegrid.local_datetime(ts, view.tz).date() for ts in stamps]
        for ts, a, b in zip(stamps[1:], dates, dates[1:]):
            if cadence == DAY and (b - a).days > 1:
                yield Finding(measure, ts, "days missing before this record", str(a + dt.timedelta(days=1)), str(b))
            elif cadence == MONTH and timegrid.add_months(a.replace(day=1), 1) < b.replace(day=1):
                yield Finding(measure, ts, "months missing before this record",
                              str(timegrid.add_months(a.replace(day=1), 1)), str(b))


def _counter_tags(family: Family) -> List[str]:
    """Tags of a family that hold counted quantities (every tag but the channel count)."""
    return [tag for tag in family.tags if tag != "Channels"]


CUMULATIVE_MEASURES = measures(cumulative=True)


@rule("cumulative-decreases", reads=CUMULATIVE_MEASURES)
def cumulative_decreases(view: MeterView) -> Iterator[Finding]:
    """An energy register or a pulse counter never decreases from one record to the next.

    Registers and counters only count up; a lower value later means a reset, a swapped meter or
    data from another meter -- each of which the device journals and tests must not fake."""
    for measure in view.present(CUMULATIVE_MEASURES):
        records = view.all(measure)
        word = "register" if MEASURE_TABLE[measure] == ENERGY.table else "counter"
        previous: Optional[Record] = None
        for record in records:
            if not record.valid or not record.rows:
                continue
            if previous is not None:
                for tag in _counter_tags(record.family):
                    before, now = previous.value(tag), record.value(tag)
                    if before is not None and now is not None and now < before - view.tolerance:
                        yield Finding(measure, record.ts, f"{word} {tag} decreased", f">= {_show(before)}", now)
            previous = record


# ---- electric rules -----------------------------------------------------------------------
ENERGY_MEASURES = measures(ENERGY.table)
CONFIG_GATES = tuple((gate.tag, gate.energy, gate.profile) for gate in ENERGY_GATES)  # flag, energy, profile


GATED_MEASURES = ENERGY_MEASURES | measures(POWER.table)


@rule("config-gates-values", reads=GATED_MEASURES)
def config_gates_values(view: MeterView) -> Iterator[Finding]:
    """A quantity ElConfig says the meter does not measure (isAm/isRp/isRm = 0) is NULL in the
    energy registers (A-, R+, R-) and in the profile (P-, Q+, Q-).

    The device reads only what the config enables; a value there is one no such meter could give."""
    for flag, energy_prefix, profile_tag in CONFIG_GATES:
        if view.config(flag) != 0:
            continue
        for measure in view.present(GATED_MEASURES):
            table = MEASURE_TABLE[measure]
            for record in view.valid(measure):
                tags = [profile_tag] if table == POWER.table else \
                    [f"{energy_prefix}{t}" for t in ENERGY.keys]
                for tag in tags:
                    value = record.value(tag)
                    if value is not None:
                        yield Finding(measure, record.ts, f"{tag} must be NULL (ElConfig {flag} is 0)", None, value)


TARIFF_TAGS = tuple((prefix, f"{prefix}0", tuple(f"{prefix}{t}" for t in ENERGY.keys[1:]))
                    for prefix in ENERGY_PREFIXES)


@rule("tariff-sum", reads=ENERGY_MEASURES)
def tariff_sum(view: MeterView) -> Iterator[Finding]:
    """The total (tariff 0) of every energy quantity is the sum of tariffs 1-4.

    A meter with a tariff unit accumulates each kWh into exactly one tariff register and into
    the total; a total that differs from the sum is energy counted twice or not at all."""
    for measure in view.present(ENERGY_MEASURES):
        for record in view.valid(measure):
            if not all(record.has(t) for t in ENERGY.keys):
                continue
            for prefix, total_tag, part_tags in TARIFF_TAGS:
                total = record.value(total_tag)
                parts = [record.value(tag) for tag in part_tags]
                if total is None or any(p is None for p in parts):
                    continue
                if not _close(total, sum(parts), view.tolerance):
                    yield Finding(measure, record.ts, f"{prefix}0 is not the sum of tariffs 1-4", sum(parts), total)


CONSUMPTION_MEASURES = measures(consumption=True)


@rule("consumption-difference", reads=CONSUMPTION_MEASURES)
def consumption_difference(view: MeterView) -> Iterator[Finding]:
    """A day (month) consumption is the difference of the register at the next midnight (1st)
    and the register at its own stamp, per quantity and tariff.

    The device derives consumption from its registers; a consumption that differs from them is
    energy that was used but never counted (or the reverse)."""
    for measure in view.present(CONSUMPTION_MEASURES):
        facts = measure_entry(measure)
        if facts.consumption_of is None:
            continue
        registers = view.by_ts(facts.consumption_of)
        for record in view.valid(measure):
            current, later = registers.get(record.ts), registers.get(view.next_stamp(record.ts, facts.cadence))
            if current is None or later is None:
                continue
            for tag in ENERGY.tags:
                used, a, b = record.value(tag), current.value(tag), later.value(tag)
                if used is None or a is None or b is None:
                    continue
                if not _close(used, b - a, view.tolerance):
                    yield Finding(measure, record.ts, f"{tag} is not the difference of the "
                                  f"{facts.consumption_of} readings", b - a, used)


@rule("same-instant", reads=CUMULATIVE_MEASURES)
def same_instant(view: MeterView) -> Iterator[Finding]:
    """Readings of one instant agree between archives: a moment, hour, day or month record of
    registers (counters) stamped at the same time holds the same values.

    They are one reading of one register filed in several archives (the 1st's midnight is a
    month, a day, an hour and a moment record); two values for one instant cannot both be true."""
    by_family: Dict[str, List[str]] = {}
    for measure in view.present(CUMULATIVE_MEASURES):
        by_family.setdefault(MEASURE_TABLE[measure], []).append(measure)
    for names in by_family.values():
        if len(names) < 2:
            continue
        seen: Dict[int, Record] = {}
        for measure in names:
            for record in view.valid(measure):
                first = seen.setdefault(record.ts, record)
                if first is record:
                    continue
                for tag in _counter_tags(record.family):
                    a, b = first.value(tag), record.value(tag)
                    if a is not None and b is not None and not _close(a, b, view.tolerance):
                        yield Finding(measure, record.ts, f"{tag} differs from {first.measure} of the same instant",
                                      a, b)


LOAD_PROFILE = "ElArr1ConsPower"


def _profile(view: MeterView) -> Tuple[List[int], List[Record]]:
    """Valid profile slots (oldest first) and their end stamps."""
    slots = view.valid(LOAD_PROFILE)
    return [s.ts for s in slots], slots


def _slot_energy(slot: Record, tag: str) -> Optional[float]:
    power, period = slot.value(tag), slot.value("cTime")
    return None if power is None or not period else power * period / 60


@rule("config-profile-arrays", reads=frozenset({LOAD_PROFILE}))
def config_profile_arrays(view: MeterView) -> Iterator[Finding]:
    """ElConfig.IntervalPowerArrays of a meter with a load profile is the number of profile
    arrays, 1 (or 0 where the meter did not report it); the period is each slot's Period.

    The device stores the meter's number of profile archives there ("currently always 1") and
    takes the period from the profile rows (schema/contract.py, ``interval-power-arrays``).  A
    config that holds the period as GenerateMeterData 0.1 wrote it is ``legacy-convention``."""
    arrays = view.config("cArrays")
    config = view.configs.get("ElectricConfig")
    if config is None or arrays in (contract.PROFILE_ARRAYS, contract.NO_PROFILE_ARRAYS):
        return  # 0: the meter did not report it (the device stores a null cArrays as 0)
    if _legacy_arrays(view) is not None:
        return
    yield Finding("ElectricConfig", config.Timestamp,
                  "IntervalPowerArrays is not the number of profile arrays", contract.PROFILE_ARRAYS, arrays)


@rule("profile-day-energy", reads=frozenset({LOAD_PROFILE}))
def profile_day_energy(view: MeterView) -> Iterator[Finding]:
    """The profile's energy over a complete day (sum of power x period) equals that day's
    consumption (ElDayConsEnergy, tariff 0), for P+/A+, P-/A-, Q+/R+, Q-/R-.

    Both come from the same metering element; the profile is the day's energy cut into slots."""
    ends, slots = _profile(view)
    if not slots:
        return
    for cons in view.valid("ElDayConsEnergy"):
        day_ts, next_ts = view.midnight(cons.ts), view.next_stamp(cons.ts, DAY)  # the day, whatever its stamp
        day = slots[bisect.bisect_right(ends, day_ts):bisect.bisect_right(ends, next_ts)]
        period = day[0].value("cTime") if day else None
        if not period or len(day) != (next_ts - day_ts) // (int(period) * 60):
            continue  # incomplete day: nothing to compare
        for prefix, tag in zip(ENERGY_PREFIXES, PROFILE_POWER_TAGS):
            total = cons.value(f"{prefix}0")
            energies = [_slot_energy(s, tag) for s in day]
            if total is None or any(e is None for e in energies):
                continue
            energy = sum(energies)  # type: ignore[arg-type]
            if not _close(energy, total, view.tolerance + 1e-6 * len(day)):
                yield Finding(LOAD_PROFILE, day_ts, f"profile energy of the day ({tag}) differs from "
                              f"ElDayConsEnergy {prefix}0", total, energy)


@rule("moment-register-profile", reads=frozenset({"ElMomentEnergy"}))
def moment_register_profile(view: MeterView) -> Iterator[Finding]:
    """A moment register (tariff 0) is the day register at its midnight plus the profile energy
    of the day's slots that ended by then, plus part of the slot still running.

    The slot still running is not in the profile yet: its energy so far is unknown, so the
    register is only bounded below (the registers only count up) unless that slot is already
    stored, which bounds it above too.  Days whose profile misses a completed slot are skipped."""
    ends, slots = _profile(view)
    days = view.by_ts("ElDayEnergy")
    if not slots or not days:
        return
    energy = {tag: [_slot_energy(s, tag) for s in slots] for tag in PROFILE_POWER_TAGS}
    running_sum = {tag: list(accumulate((e or 0.0 for e in values), initial=0.0)) for tag, values in energy.items()}
    running_nulls = {tag: list(accumulate((e is None for e in values), initial=0)) for tag, values in energy.items()}
    for moment in view.valid("ElMomentEnergy"):
        ts = moment.ts
        midnight = view.midnight(ts)
        base = days.get(midnight)
        if base is None:
            continue
        lo, hi = bisect.bisect_right(ends, midnight), bisect.bisect_right(ends, ts)
        period = slots[lo].value("cTime") if lo < len(slots) else None
        if not period:
            continue
        period_s = int(period) * 60
        if hi - lo != (ts - midnight) // period_s:
            continue
        on_boundary = (ts - midnight) % period_s == 0
        running = hi if hi < len(slots) and ends[hi] - period_s < ts else None
        for prefix, tag in zip(ENERGY_PREFIXES, PROFILE_POWER_TAGS):
            total, start = moment.value(f"{prefix}0"), base.value(f"{prefix}0")
            if total is None or start is None or running_nulls[tag][hi] != running_nulls[tag][lo]:
                continue
            low = start + running_sum[tag][hi] - running_sum[tag][lo]
            if on_boundary:
                high: Optional[float] = low
            elif running is not None and energy[tag][running] is not None:
                high = low + energy[tag][running]
            else:
                high = None  # the running slot is not stored yet: no upper bound is known
            if total < low - view.tolerance or (high is not None and total > high + view.tolerance):
                shown = f"{low:.3f}..{high:.3f}" if high is not None else f">= {low:.3f}"
                yield Finding("ElMomentEnergy", ts, f"{prefix}0 is not the day register plus the profile "
                              "energy so far", shown, total)


@rule("outage-in-profile", reads=frozenset({"ElJrnlPwr"}))
def outage_in_profile(view: MeterView) -> Iterator[Finding]:
    """Between a power-off and the next power-on in ElJrnlPwr, profile slots wholly inside the
    outage have zero power, and slots the outage cuts are marked isPart.

    A meter without supply measures nothing, and it flags the slots it could not fill."""
    events = [(r.ts, r.value("event")) for r in view.valid("ElJrnlPwr")]
    outages = [(a[0], b[0]) for a, b in zip(events, events[1:]) if a[1] == 0 and b[1] == 1]
    if not outages:
        return
    for slot in view.valid(LOAD_PROFILE):
        start = slot.ts - int(slot.value("cTime") or 30) * 60
        for off, on in outages:
            if start >= off and slot.ts <= on:
                if (slot.value("P+") or 0) != 0 or (slot.value("P-") or 0) != 0:
                    yield Finding(LOAD_PROFILE, slot.ts, "power during an outage of ElJrnlPwr", 0.0, slot.value("P+"))
            elif start < on and slot.ts > off and not slot.value("isPart"):
                yield Finding(LOAD_PROFILE, slot.ts, "slot cut by an outage is not marked isPart", 1, slot.value("isPart"))


QUALITY_MEASURES = measures(QUALITY.table)
ANGLE_TAG = {"A": "AngAB", "B": "AngBC", "C": "AngAC"}
THREE_PHASES = ("A", "B", "C")


PHASE_TAGS = {phase: dict({q: f"{q}{phase}" for q in ("U", "I", "P", "Q", "S", "kP")}, Ang=ANGLE_TAG[phase])
              for phase in THREE_PHASES}


class _PhaseValues:
    """The values of one phase of one quality record, by quantity (``v["P"]``)."""

    __slots__ = ("record", "tags")

    def __init__(self, record: Record, tags: Dict[str, str]) -> None:
        self.record, self.tags = record, tags

    def __getitem__(self, quantity: str) -> Cell:
        return self.record.value(self.tags[quantity])


def _phases(view: MeterView) -> Iterator[Tuple[Record, str, _PhaseValues]]:
    """(record, phase, values) of every measured phase of every valid quality record; phases B
    and C of a single-phase meter are left out (``quality-single-phase`` owns them)."""
    single = view.kind is not None and view.kind.phases == 1
    phases = ("A",) if single else THREE_PHASES
    for measure in view.present(QUALITY_MEASURES):
        for record in view.valid(measure):
            for phase in phases:
                yield record, phase, _PhaseValues(record, PHASE_TAGS[phase])


def _quality_tolerance(view: MeterView) -> float:
    return max(view.tolerance, 0.002)


@rule("quality-apparent-power", reads=QUALITY_MEASURES)
def quality_apparent_power(view: MeterView) -> Iterator[Finding]:
    """Per phase, S^2 = P^2 + Q^2.

    Apparent power is the length of the (P, Q) vector; a meter computes S from P and Q."""
    tol = _quality_tolerance(view)
    for record, phase, v in _phases(view):
        p, q, s = v["P"], v["Q"], v["S"]
        if None not in (p, q, s) and abs(s - math.hypot(p, q)) > tol + 1e-6 * abs(s):
            yield Finding(record.measure, record.ts, f"S{phase}^2 != P{phase}^2 + Q{phase}^2", math.hypot(p, q), s)


@rule("quality-power-factor", reads=QUALITY_MEASURES)
def quality_power_factor(view: MeterView) -> Iterator[Finding]:
    """Per phase, kP = P / S.

    The power factor is defined as active over apparent power."""
    for record, phase, v in _phases(view):
        p, s, kp = v["P"], v["S"], v["kP"]
        if p is not None and s and kp is not None and abs(kp - p / s) > 5e-4:
            yield Finding(record.measure, record.ts, f"kP{phase} != P{phase}/S{phase}", p / s, kp)


@rule("quality-active-power", reads=QUALITY_MEASURES)
def quality_active_power(view: MeterView) -> Iterator[Finding]:
    """Per phase, P = U x I x kP (within 1 % of S, the meter's accuracy).

    Active power is voltage times current times power factor."""
    tol = _quality_tolerance(view)
    for record, phase, v in _phases(view):
        u, i, p, s, kp = v["U"], v["I"], v["P"], v["S"], v["kP"]
        if None in (u, i, p, kp):
            continue
        if abs(u * i * kp - p) > 0.01 * (s or 0) + 0.0006 * u + tol:
            yield Finding(record.measure, record.ts, f"P{phase} != U{phase}*I{phase}*kP{phase}", u * i * kp, p)


@rule("quality-voltage-range", reads=QUALITY_MEASURES)
def quality_voltage_range(view: MeterView) -> Iterator[Finding]:
    """Phase voltage within 230 V +-20 % (184-276 V).

    Outside that band a low-voltage network is in fault and the meter journals it; ordinary
    readings never show it."""
    for record, phase, v in _phases(view):
        u = v["U"]
        if u is not None and not VOLTAGE_RANGE[0] <= u <= VOLTAGE_RANGE[1]:
            yield Finding(record.measure, record.ts,
                          f"U{phase} outside {VOLTAGE_RANGE[0]:.0f}-{VOLTAGE_RANGE[1]:.0f} V", None, u)


@rule("quality-angle-range", reads=QUALITY_MEASURES)
def quality_angle_range(view: MeterView) -> Iterator[Finding]:
    """The angle between phase voltages is near 120 degrees (110-130).

    A three-phase network's voltages are 120 degrees apart; far from that is a wiring fault."""
    for record, phase, v in _phases(view):
        angle = v["Ang"]
        if angle is not None and not ANGLE_RANGE[0] <= angle <= ANGLE_RANGE[1]:
            yield Finding(record.measure, record.ts, f"phase angle of {phase} not near 120 degrees", None, angle)


@rule("quality-phase-sum", reads=QUALITY_MEASURES)
def quality_phase_sum(view: MeterView) -> Iterator[Finding]:
    """PS and QS (the Summ row) are the sums of the phases' P and Q.

    Total active and reactive power of a three-phase meter is the sum over its phases."""
    tol = _quality_tolerance(view)
    for measure in view.present(QUALITY_MEASURES):
        for record in view.valid(measure):
            for quantity, total_tag in (("P", "PS"), ("Q", "QS")):
                parts = [record.value(f"{quantity}{p}") for p in THREE_PHASES]
                parts = [x for x in parts if x is not None]
                total = record.value(total_tag)
                if parts and total is not None and abs(sum(parts) - total) > tol:
                    yield Finding(measure, record.ts, f"{total_tag} is not the sum of the phases", sum(parts), total)


@rule("quality-frequency-range", reads=QUALITY_MEASURES)
def quality_frequency_range(view: MeterView) -> Iterator[Finding]:
    """Network frequency within 49-51 Hz.

    The grid holds 50 Hz far tighter than that; outside it is an islanded or faulty supply."""
    for measure in view.present(QUALITY_MEASURES):
        for record in view.valid(measure):
            freq = record.value("Freq")
            if freq is not None and not FREQUENCY_RANGE[0] <= freq <= FREQUENCY_RANGE[1]:
                yield Finding(measure, record.ts, "Freq outside 49-51 Hz", None, freq)


@rule("quality-single-phase", reads=QUALITY_MEASURES)
def quality_single_phase(view: MeterView) -> Iterator[Finding]:
    """A single-phase meter (MeterTypes) has no values on phases B and C.

    It has one measuring element; what it cannot measure it cannot report."""
    if view.kind is None or view.kind.phases != 1:
        return
    for measure in view.present(QUALITY_MEASURES):
        for record in view.valid(measure):
            for phase in ("B", "C"):
                values = [record.cell(phase, column) for column in QUALITY.value_columns]
                if any(value is not None for value in values):
                    yield Finding(measure, record.ts, f"single-phase meter has phase {phase} values", None,
                                  tuple(values))


# ---- journals -----------------------------------------------------------------------------
JOURNAL_MEASURES = measures(JOURNAL.table)


@rule("journal-event-id-increases", reads=JOURNAL_MEASURES)
def journal_event_id_increases(view: MeterView) -> Iterator[Finding]:
    """Within one journal, EventId increases with time.

    EventId is the record's index in the meter's journal buffer, numbered as events happen."""
    for measure in view.present(JOURNAL_MEASURES):
        previous = None
        for record in view.valid(measure):
            event_id = record.value("eventId")
            if previous is not None and event_id is not None and event_id <= previous:
                yield Finding(measure, record.ts, "EventId does not increase", f"> {previous}", event_id)
            previous = event_id if event_id is not None else previous


ZERO_EVENT_JOURNALS = frozenset(name for name in JOURNAL_MEASURES if measure_entry(name).events == ALWAYS_0
                                and name != "ElJrnlTimeCorr")


@rule("journal-event-values", reads=JOURNAL_MEASURES)
def journal_event_values(view: MeterView) -> Iterator[Finding]:
    """A journal's Event is a state bit, 0 or 1; Reset, Open, UnAyth and TrfCorr log 0.

    The device stores the record's state (on/off, entered/left) there; the journals without a
    state are 0 in both device test suites, and a clock correction is 0 or 1 (RTU-327 maps them
    to 'time before' / 'time after') (schema/contract.py, ``journal-values``,
    ``time-correction-event``)."""
    for measure in view.present(JOURNAL_MEASURES):
        allowed = (0,) if measure in ZERO_EVENT_JOURNALS else (0, 1)
        for record in view.valid(measure):
            event = record.value("event")
            if event is not None and event not in allowed:
                yield Finding(measure, record.ts, "Event is not a value the device logs here",
                              " or ".join(map(str, allowed)), event)


@rule("power-journal-alternates", reads=frozenset({"ElJrnlPwr"}))
def power_journal_alternates(view: MeterView) -> Iterator[Finding]:
    """The power journal alternates off (0) and on (1).

    Supply can only come back after it was lost; two offs in a row mean a lost event."""
    events = view.valid("ElJrnlPwr")
    for a, b in zip(events, events[1:]):
        ev_a, ev_b = a.value("event"), b.value("event")
        if ev_a is not None and ev_a == ev_b:
            yield Finding("ElJrnlPwr", b.ts, "power journal does not alternate off/on", 1 - ev_a, ev_b)


# ---- pulse and digital modules ------------------------------------------------------------
CHANNEL_FAMILIES = {PULSE.table: ("PulseConfig", "chnl"), DIGITAL.table: ("DigitalConfig", "chnlIn")}
CHANNEL_MEASURES = measures(PULSE.table) | measures(DIGITAL.table)


def _channel_tags(family: Family) -> List[str]:
    """Channel tags of a pulse or digital family, channel 1 first."""
    return [tag for tag, (_, index) in sorted(family.tags.items(), key=lambda item: item[1][1])
            if tag != "Channels"]


@rule("channel-count", reads=CHANNEL_MEASURES)
def channel_count(view: MeterView) -> Iterator[Finding]:
    """A pulse (digital) record's Channels equals the module's channel count in PulseConfig.Channels
    (DigitalConfig.ChannelsIn).

    The module reports as many channels as it has; another count is another module's record."""
    for measure in view.present(CHANNEL_MEASURES):
        config_table, tag = CHANNEL_FAMILIES[MEASURE_TABLE[measure]]
        configured = view.config(tag, config_table)
        if configured is None:
            continue
        for record in view.valid(measure):
            channels = record.value("Channels")
            if channels is not None and channels != configured:
                yield Finding(measure, record.ts, f"Channels differs from {config_table}", configured, channels)


@rule("channels-beyond-count-null", reads=CHANNEL_MEASURES)
def channels_beyond_count_null(view: MeterView) -> Iterator[Finding]:
    """Channels above a record's channel count are NULL.

    A module with 8 inputs has no 9th; a value there was not read from it."""
    for measure in view.present(CHANNEL_MEASURES):
        for record in view.valid(measure):
            channels = record.value("Channels")
            if channels is None:
                continue
            for number, tag in enumerate(_channel_tags(record.family), start=1):
                if number > channels and record.value(tag) is not None:
                    yield Finding(measure, record.ts, f"{tag} is beyond Channels = {channels}", None, record.value(tag))


DIGITAL_MEASURES = measures(DIGITAL.table)


def _states(record: Record) -> Tuple[object, ...]:
    return tuple(record.value(tag) for tag in _channel_tags(record.family))


@rule("digital-states-binary", reads=DIGITAL_MEASURES)
def digital_states_binary(view: MeterView) -> Iterator[Finding]:
    """A discrete input's state is 0 or 1.

    An input is open or closed; the device stores nothing else for it."""
    for measure in view.present(DIGITAL_MEASURES):
        for record in view.valid(measure):
            for tag in _channel_tags(record.family):
                value = record.value(tag)
                if value is not None and value not in (0, 1):
                    yield Finding(measure, record.ts, f"{tag} is not a state", "0 or 1", value)


@rule("digital-journal-changes", reads=frozenset({"DigJournalState"}))
def digital_journal_changes(view: MeterView) -> Iterator[Finding]:
    """Each DigJournalState record differs from the one before it in at least one input.

    The journal records changes of state; an entry that changes nothing is not an event."""
    entries = view.valid("DigJournalState")
    for a, b in zip(entries, entries[1:]):
        if _states(a) == _states(b):
            yield Finding("DigJournalState", b.ts, "journal entry changes no input", "a change", "none")


@rule("digital-moment-follows-journal", reads=frozenset({"DigMomentState"}))
def digital_moment_follows_journal(view: MeterView) -> Iterator[Finding]:
    """A DigMomentState reading equals the state of the latest DigJournalState entry at or before it.

    Inputs change only by events the journal records; between two entries the state is that of
    the first.  Readings before the first entry are not checked (their state is not journaled)."""
    entries = view.valid("DigJournalState")
    stamps = [e.ts for e in entries]
    for moment in view.valid("DigMomentState"):
        i = bisect.bisect_right(stamps, moment.ts) - 1
        if i < 0:
            continue
        entry = entries[i]
        for tag in _channel_tags(moment.family):
            want, got = entry.value(tag), moment.value(tag)
            if want is not None and got is not None and want != got:
                yield Finding("DigMomentState", moment.ts, f"{tag} differs from the DigJournalState entry "
                              f"of {timegrid.local_datetime(entry.ts, view.tz):%Y-%m-%d %H:%M:%S}", want, got)


# ---- running the rules --------------------------------------------------------------------
def _meter_views(conn: sqlite3.Connection, names: NameIndex, tz: dt.tzinfo,
                 tolerance: float) -> Iterator[MeterView]:
    """One view per MeterTable row, DeviceIdx order."""
    meters = list(conn.execute(
        "SELECT m.DeviceIdx, m.MeterId, t.Type FROM MeterTable m LEFT JOIN MeterTypes t ON t.Id = m.TypeId "
        "ORDER BY m.DeviceIdx"))
    type_of = names.record_type_names
    for device_idx, meter_id, type_name in meters:
        configs: Dict[str, Optional[Row]] = {}
        for table in CONFIG_TABLES:
            row = conn.execute(f"SELECT {', '.join(TABLE_COLUMNS[table])} FROM {table} WHERE DeviceIdx = ? "
                               "ORDER BY Timestamp DESC LIMIT 1", (device_idx,)).fetchone()
            configs[table] = ROW_TYPES[table]._make(row) if row else None
        children: Dict[int, List[Row]] = {}
        for table in VALUE_TABLES:
            make = ROW_TYPES[table]._make
            columns = ", ".join(f"v.{c}" for c in TABLE_COLUMNS[table])
            for row in conn.execute(f"SELECT {columns} FROM {table} v JOIN MeterData m ON m.Id = v.Id "
                                    "WHERE m.DeviceIdx = ?", (device_idx,)):
                named = make(row)
                children.setdefault(named.Id, []).append(named)
        records: Dict[str, List[Record]] = {}
        for record_id, rtid, ts, valid in conn.execute(
                "SELECT Id, RecordTypeId, Timestamp, Valid FROM MeterData WHERE DeviceIdx = ? "
                "ORDER BY RecordTypeId, Timestamp, Id", (device_idx,)):
            record_type = type_of.get(rtid)
            if record_type is None:
                continue  # a record type the database does not name
            measure = ALIASES.get(record_type, record_type)  # e.g. ElJrnlRvr, the web UI's ElJrnlReverce
            if measure not in MEASURE_TABLE or MEASURE_TABLE[measure] not in FAMILIES:
                continue
            records.setdefault(measure, []).append(
                Record(measure, record_id, ts, valid, tuple(children.get(record_id, ()))))
        yield MeterView(device_idx, meter_id, type_name, METER_KINDS.get(type_name or ""),
                        MappingProxyType(configs),
                        MappingProxyType({m: tuple(rs) for m, rs in records.items()}), tz, tolerance)


def run_rules(view: MeterView, rules: Optional[Sequence[Rule]] = None) -> List[Violation]:
    """The violations of one meter's view under the meter rules that apply to it."""
    out: List[Violation] = []
    for item in rules if rules is not None else RULES.values():
        if item.scope != "meter" or not item.applies_to(view):
            continue
        for finding in item.check(view):
            out.append(Violation(view.meter_id, view.device_idx, finding.table, finding.timestamp,
                                 finding.message, finding.expected, finding.found, item.name))
    return out


def verify(path: Union[str, "os.PathLike[str]", "Target"], timezone: Optional[str] = None, tolerance: float = 0.005, *,
           raise_on_violation: bool = False) -> List[Violation]:
    """Every violation of the invariants in the meter.db at ``path``: the database-wide rules
    first, then each meter (DeviceIdx order) under every rule of ``RULES`` that applies to it.

    ``path`` may be a target (``LocalTarget``, ``DeviceTarget``): its database is read through a
    consistent copy and its time zone (``target.context``) is the default of ``timezone``; for a
    file the default is Europe/Moscow.

    With ``raise_on_violation=True`` a non-empty result raises ``VerificationFailed`` (carrying
    ``path`` and ``violations``) instead of being returned -- for scripts and tests that want a
    failure rather than a list."""
    context = getattr(path, "context", None)
    if context is not None:  # a target: its copy, in its time zone
        with cast("Target", path).readable_copy() as copy:
            return verify(copy, timezone or context.timezone, tolerance, raise_on_violation=raise_on_violation)
    file = os.fspath(cast("Union[str, os.PathLike[str]]", path))  # not a target: a file's path
    tz = timegrid.zone(check_timezone(timezone, "verify timezone") if timezone else timegrid.DEFAULT_TIMEZONE)
    try:
        conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SchemaError(f"{file} cannot be opened: {exc}") from None
    try:
        names = NameIndex.from_connection(conn, file)
        meter_ids = dict(conn.execute("SELECT DeviceIdx, MeterId FROM MeterTable"))
        database = DatabaseView(conn, names, MappingProxyType(meter_ids))
        violations: List[Violation] = []
        for item in RULES.values():
            if item.scope == "database":
                violations.extend(replace(v, rule_name=item.name) for v in item.check(database))
        for view in _meter_views(conn, names, tz, tolerance):
            violations.extend(run_rules(view))
    finally:
        conn.close()
    if violations and raise_on_violation:
        raise VerificationFailed(file, violations, tz)
    return violations
