"""Check the invariants of meter.db -- on data this tool generated or on data the device
collected itself -- and report each violation with meter, table, timestamp, expected vs found.

How it is built (issue 24: verify at the speed of a read -- SQLite does the row work in C):

- ``_prepare``: one pass of SQLite over each keyed value table pivots a record's rows into one row
  of ``work.verify_energy`` / ``work.verify_quality`` (which row keys it has, in 4-bit counts;
  the tags the rules read; for quality, which records a per-phase or untagged-cell check may fire
  on); the meters' newest config values and type facts go to ``work.verify_meters``.
- ``RULES``: the registry.  A rule is a name, a docstring (what it checks and why a device's data
  must obey it) and its check, defined once.  Scope "sql": a rule about a record's own rows (or a
  record and the one before it) is SQL over whole tables -- the SQL is its definition; Python only
  words the findings it returns and sorts them per meter in the order the rule states (measure,
  record, then tag or phase).  Scope "meter": a rule across records (profile vs registers,
  journals, calendars) is Python over one meter's ``MeterView`` -- its records as plain tuples
  (``Rec``; values by tag through ``POS``, which layout gives), every family but
  ElectricQualityValues, read by one query per meter and record type.  No rule depends on another
  or on the order they run in.  Which rules run on a meter follows from the measures the meter has
  records of (``Rule.measures``), and those sets come from the measure registry
  (``schema/measures.py``) and the layout's value tables -- not from name prefixes.
- ``verify()``: the database-wide rules, then per meter (DeviceIdx order) every rule that applies,
  in registry order.

Where a record has two rows of one key (a table without its primary key), the pivot holds the
larger value where the Python rules took the last row's; the row counts still see both.  A
record's rows are those of its measure's value table (a row of another table under its Id is not
counted as one of its rows, except by ``valid-0-without-values``).
"""
from __future__ import annotations

import bisect
import datetime as dt
import inspect
import math
import os
import re
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field, replace
from itertools import accumulate
from operator import itemgetter
from types import MappingProxyType
from typing import (TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, NamedTuple,
                    Optional, Sequence, Set, Tuple, TypeVar, Union, cast)

from .errors import SchemaError, VerificationFailed
from .records.rows import NameIndex
from .model import timegrid
from .model.context import check_timezone
from .schema.layout import (CONFIG_TABLES, CONFIG_TAGS, ENERGY_GATES, ENERGY_QUANTITIES, FAMILIES, MEASURE_TABLE,
                            ROW_TYPES, TABLE_COLUMNS, VALUE_TABLES, Family)
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


# ---- what the rules read ------------------------------------------------------------------
# A record is a plain tuple: (Id, Timestamp, Valid, number of rows in its value table, then the
# values of its family's tags in ``Family.tags`` order) -- one row per MeterData header, the rows
# of a keyed table (tariffs, phases) pivoted by SQLite into it.  ``POS`` says where a tag is.
R_ID, R_TS, R_VALID, R_ROWS = 0, 1, 2, 3
Rec = Tuple[Any, ...]
POS: Dict[str, Dict[str, int]] = {family.table: {tag: 4 + n for n, tag in enumerate(family.tags)}
                                  for family in FAMILIES.values()}


def _column(family: Family, tag: str) -> Tuple[object, str]:
    """(row key, column) of a tag."""
    key, position = family.tags[tag]
    return key, family.value_columns[position]


def _lit(value: object) -> str:
    """A row key as an SQL literal (a key comes from layout, never from the database)."""
    return f"'{value}'" if isinstance(value, str) else str(value)


def _key_count(family: Family, when: str = "") -> str:
    """SQL aggregate: the rows of one Id counted per row key, 4 bits per key (key n: bits 4n..4n+3;
    a key the family does not have: bits 40 and up) -- which keys a record has, and whether twice.
    ``when``: count only rows where it holds."""
    cases = " ".join(f"WHEN {_lit(key)} THEN {1 << 4 * n}" for n, key in enumerate(family.keys))
    bit = f"(CASE {family.key_column} {cases} ELSE {UNKNOWN_KEY} END)"
    return f"sum(CASE WHEN {when} THEN {bit} ELSE 0 END)" if when else f"sum({bit})"


UNKNOWN_KEY = 1 << 40


def _has(counts: str, family: Family, key: object) -> str:
    """SQL: whether the key counts (``_key_count``) hold a row of ``key``."""
    return f"(({counts} >> {4 * family.keys.index(key)}) & 15) > 0"


def _mask(keys: Iterable[object], family: Family) -> int:
    """Keys as a bit set, one bit per key (key n: bit n)."""
    return sum(1 << family.keys.index(key) for key in keys)


def _all_null(family: Family, alias: str = "") -> str:
    """SQL: every value cell of a row is NULL."""
    return "(" + " AND ".join(f"{alias}{column} IS NULL" for column in family.value_columns) + ")"


#: The tags pivoted into ``work.verify_energy`` / ``work.verify_quality`` (``_prepare``): column
#: t<n> holds the n-th.  Every energy tag (rules and views read them); of quality what the
#: record-wide rules read.
PIVOTED: Dict[str, Tuple[str, ...]] = {
    "ElectricEnergyValues": tuple(FAMILIES["ElectricEnergyValues"].tags),
    "ElectricQualityValues": ("PA", "PB", "PC", "PS", "QA", "QB", "QC", "QS", "Freq")}


def _pivoted(family: Family, tag: str, alias: str = "p") -> str:
    """SQL: the pivot column of a tag."""
    return f"{alias}.t{PIVOTED[family.table].index(tag)}"


def _pivot(family: Family, tags: Sequence[str]) -> str:
    """SQL: some tags, in order, from the rows of one Id (GROUP BY Id)."""
    if family.key_column is None:
        return ", ".join(_column(family, tag)[1] for tag in tags)
    return ", ".join(f"max({column}) FILTER (WHERE {family.key_column} = {_lit(key)})"
                     for key, column in (_column(family, tag) for tag in tags))


def _channel_tags(family: Family) -> List[str]:
    """Channel tags of a pulse or digital family, channel 1 first."""
    return [tag for tag, (_, index) in sorted(family.tags.items(), key=lambda item: item[1][1])
            if tag != "Channels"]


@dataclass(frozen=True)
class MeterView:
    """What the Python rules know about one meter, read once; rules only read it.  It holds every
    value family but ElectricQualityValues, whose rules all run in SQLite (``SqlRule``)."""

    device_idx: int
    meter_id: Optional[int]
    type_name: Optional[str]
    kind: Optional[MeterKind]
    configs: Mapping[str, Optional[Row]]            # config table -> newest row (named tuple)
    records: Mapping[str, Tuple[Rec, ...]]           # measure -> every record, oldest first
    tz: dt.tzinfo
    tolerance: float
    legacy_rows: Optional[str] = None                # _legacy_rows, found by SQL
    midnights: Dict[int, int] = field(default_factory=dict, compare=False)
    cache: Dict[str, Any] = field(default_factory=dict, compare=False)   # what several rules derive alike

    def config(self, tag: str, table: str = "ElectricConfig") -> Cell:
        """A config value by its tag (``isTrf``, ``cArrays``, ``chnl`` ...); None without a config row."""
        row = self.configs.get(table)
        return None if row is None else getattr(row, CONFIG_TAGS[table][tag])

    def present(self, names: FrozenSet[str]) -> List[str]:
        """The measures among ``names`` this meter has records of (RecordTypeId order)."""
        return [measure for measure in self.records if measure in names]

    def all(self, measure: str) -> Tuple[Rec, ...]:
        """Every record of a measure, Valid or not, oldest first."""
        return self.records.get(measure, ())

    def valid(self, measure: str) -> List[Rec]:
        """Valid = 1 records of a measure that carry rows, oldest first."""
        found = self.cache.get(measure)
        if found is None:
            found = self.cache[measure] = [r for r in self.records.get(measure, ()) if r[R_VALID] and r[R_ROWS]]
        return list(found)

    def by_ts(self, measure: str) -> Dict[int, Rec]:
        """Valid records of a measure by timestamp."""
        return {r[R_TS]: r for r in self.valid(measure)}

    def midnight(self, ts: int) -> int:
        """Local midnight of the day ``ts`` falls in.  Every time zone's offset is a multiple of
        15 minutes, so all instants of one 15-minute UTC block share their local day."""
        block = ts // 900
        found = self.midnights.get(block)
        if found is None:
            found = self.midnights[block] = timegrid.local_midnight(
                timegrid.local_datetime(ts, self.tz).date(), self.tz)
        return found

    def next_stamp(self, ts: int, cadence: Optional[str]) -> int:
        """The day's or month's following local midnight."""
        day = timegrid.local_datetime(ts, self.tz).date()
        following = timegrid.add_months(day, 1) if cadence == MONTH else day + dt.timedelta(days=1)
        return timegrid.local_midnight(following, self.tz)


def value(record: Rec, family: Family, tag: str) -> Cell:
    """The value of a tag (``A+0``, ``UB``, ``P+``, ``Pls3``, ``event``) of a record."""
    return record[POS[family.table][tag]]


@dataclass(frozen=True)
class DatabaseView:
    """The open database, for rules about the file as a whole."""

    conn: sqlite3.Connection
    names: NameIndex
    meter_ids: Mapping[int, int]                     # DeviceIdx -> MeterId

    def type_name(self, record_type_id: int) -> str:
        """ArchTypes.Name of an id (the id itself when unknown)."""
        return self.names.record_type_names.get(record_type_id, str(record_type_id))


@dataclass
class Scan:
    """The database as the SQL rules read it: the connection, which RecordTypeIds are which
    measure, and per meter its newest config values and type in ``work.verify_meters``
    (DeviceIdx, trf, the gates' flags g0.., single, phases, legacy).  Pivoted value rows are in
    ``work.verify_energy`` and ``work.verify_quality`` (``_scan``)."""

    conn: sqlite3.Connection
    measure_of: Dict[int, str]                       # RecordTypeId -> value measure
    tolerance: float
    cache: Dict[str, Any] = field(default_factory=dict)   # what several rules read in one pass

    def ids(self, names: Iterable[str]) -> str:
        """The RecordTypeIds of some measures, as an SQL list."""
        wanted = set(names)
        return ", ".join(str(rtid) for rtid, name in self.measure_of.items() if name in wanted) or "NULL"

    def query(self, sql: str, params: Any = ()) -> Iterator[Tuple[Any, ...]]:
        return iter(self.conn.execute(sql, params))


# ---- the registry -------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One invariant: ``check`` maps a view to findings; ``measures`` are the measures it reads
    (it runs on a meter holding records of any of them).  Scope "meter": a function of one
    meter's ``MeterView``; "sql": one pass of SQLite over whole tables (``Scan``) yielding
    (DeviceIdx, order, Finding), the order that of the findings within one meter; "database":
    violations of the file as a whole."""

    name: str
    scope: str                      # "meter", "sql" or "database"
    measures: FrozenSet[str]
    check: Callable[..., Iterable[Any]]

    @property
    def doc(self) -> str:
        """What the rule checks and why a device's data must obey it."""
        return inspect.getdoc(self.check) or ""

    @property
    def summary(self) -> str:
        """What the rule checks: the docstring's first paragraph, on one line."""
        return " ".join(self.doc.split("\n\n", 1)[0].split())

    def applies_to(self, present: Iterable[str]) -> bool:
        """Whether a meter with records of these measures has records this rule reads."""
        return not self.measures.isdisjoint(present)


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


def sql_rule(name: str, reads: Iterable[str]) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule run by SQLite over whole tables (scope "sql")."""
    return rule(name, reads, scope="sql")


SqlFindings = Iterator[Tuple[int, Tuple[Any, ...], Finding]]


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


def _family_measures(family: Family, names: Iterable[str] = ALL_MEASURES) -> FrozenSet[str]:
    return frozenset(name for name in names if MEASURE_TABLE[name] == family.table)


@sql_rule("valid-0-without-values", reads=ALL_MEASURES)
def valid_0_without_values(scan: Scan) -> SqlFindings:
    """A Valid = 0 header has no value rows.

    Valid = 0 is how the device records a reading it could not take; the data API reports such
    a record as invalid and ignores its values, so values under it are a contradiction."""
    rows = " + ".join(f"(SELECT count(*) FROM {table} v WHERE v.Id = m.Id)" for table in VALUE_TABLES)
    for device, rtid, ts, record_id, count in scan.query(
            f"SELECT * FROM (SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, {rows} AS n FROM MeterData m "
            f"WHERE m.Valid = 0 AND m.RecordTypeId IN ({scan.ids(ALL_MEASURES)})) WHERE n > 0"):
        yield device, (rtid, ts, record_id), Finding(scan.measure_of[rtid], ts, "Valid = 0 header has child rows",
                                                     0, count)


@sql_rule("valid-1-rows", reads=ALL_MEASURES)
def valid_1_rows(scan: Scan) -> SqlFindings:
    """A Valid = 1 record has the rows its value table defines for this meter, each once.

    Energy: tariff 0, with tariffs 1-4 only when ElConfig.Tariff = 1 (a tariff the meter did not
    report has no row); quality: phases A, B and C on a three-phase meter, A on a single-phase
    one, and Summ when the meter reports totals (any of them on a meter of unknown type); every
    other table: one row.  The
    APIs build a reading's tags from these rows, so a missing or extra row is a tag that is
    missing or has two values.  (A row whose values are all NULL is not counted here: that is
    ``no-all-null-rows``.)"""
    for family in FAMILIES.values():
        ids = scan.ids(_family_measures(family))
        if family.key_column is None:
            for device, rtid, ts, record_id, count in scan.query(
                    f"SELECT * FROM (SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, "
                    f"(SELECT count(*) FROM {family.table} v WHERE v.Id = m.Id) AS n FROM {METERS} "
                    f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({ids})) WHERE n <> 1"):
                yield device, (rtid, ts, record_id), Finding(
                    scan.measure_of[rtid], ts, f"Valid = 1 record has {count} {family.table} rows", 1, count)
            continue
        everything = _mask(family.keys, family)
        if family is ENERGY:   # tariff 0 only without a tariff unit
            allowed_sql, required_sql = f"CASE WHEN t.trf = 0 THEN 1 ELSE {everything} END", "1"
        else:                  # quality: the meter's phases (none required on a type not known)
            allowed_sql = str(everything)
            required_sql = (f"CASE t.phases WHEN 3 THEN {_mask(('A', 'B', 'C'), family)} "
                            f"WHEN 1 THEN {_mask(('A',), family)} ELSE 0 END")
        pivot = "work.verify_energy" if family is ENERGY else "work.verify_quality"
        found_keys = [f"((fcount >> {4 * n}) & 15)" for n in range(len(family.keys))]
        wrong = " OR ".join([f"fcount >= {UNKNOWN_KEY}"] + [f"{k} > 1" for k in found_keys]
                            + [f"((required >> {n}) & 1 AND {k} = 0)" for n, k in enumerate(found_keys)]
                            + [f"((allowed >> {n}) & 1 = 0 AND {k} > 0)" for n, k in enumerate(found_keys)])
        for device, rtid, ts, record_id, allowed_mask, required_mask in scan.query(
                f"SELECT DeviceIdx, RecordTypeId, Timestamp, Id, allowed, required FROM ("
                f"SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, {allowed_sql} AS allowed, "
                f"{required_sql} AS required, coalesce(p.fcount, 0) AS fcount "
                f"FROM {METERS} LEFT JOIN {pivot} p ON p.Id = m.Id "
                f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({ids})) WHERE {wrong}"):
            allowed = [key for n, key in enumerate(family.keys) if allowed_mask >> n & 1]
            required = [key for n, key in enumerate(family.keys) if required_mask >> n & 1]
            found = [row[0] for row in scan.query(
                f"SELECT {family.key_column} FROM {family.table} WHERE Id = ? AND NOT {_all_null(family)}",
                (record_id,))]
            expected = list(required) if required == allowed else f"{list(required)} .. {list(allowed)}"
            yield device, (rtid, ts, record_id), Finding(
                scan.measure_of[rtid], ts, f"Valid = 1 record's {family.key_column} rows are not those of its table",
                expected, sorted(found, key=str))


LOAD_PROFILE = "ElArr1ConsPower"


def _legacy_arrays(view: MeterView) -> Optional[str]:
    """The old tool's config (contract.LEGACY_CONVENTION): IntervalPowerArrays holding the
    profile's period -- what it says, None when the config is not that."""
    arrays = view.config("cArrays")
    period = POS[POWER.table]["cTime"]
    periods = {slot[period] for slot in view.valid(LOAD_PROFILE)}
    if isinstance(arrays, int) and arrays > contract.PROFILE_ARRAYS and periods <= {arrays}:
        return f"IntervalPowerArrays = {arrays} = the profile's Period"
    return None


def _legacy_rows(conn: sqlite3.Connection, measure_ids: str, single_phase: Iterable[int]) -> Dict[int, str]:
    """The old tool's single-phase rows (contract.LEGACY_CONVENTION): meters (DeviceIdx) of a
    single-phase type whose every quality record has all-NULL rows B and C -- what it says."""
    meters = ", ".join(map(str, single_phase))
    if not meters:
        return {}
    return {device: f"all-NULL rows B and C in {records} quality records" for device, records, legacy in conn.execute(
        f"SELECT m.DeviceIdx, count(*), sum((q.bc & 15) > 0 AND (q.bc >> 4) > 0) FROM MeterData m JOIN work.verify_quality q ON q.Id = m.Id "
        f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({measure_ids}) AND m.DeviceIdx IN ({meters}) "
        "GROUP BY m.DeviceIdx") if records and records == legacy}


def legacy_convention(view: MeterView) -> List[str]:
    """What of the old tool's convention this meter's rows follow (``_legacy_arrays``,
    ``_legacy_rows``); empty for a meter written as the device writes."""
    return [found for found in (_legacy_arrays(view), view.legacy_rows) if found]


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


@sql_rule("no-all-null-rows", reads=ALL_MEASURES)
def no_all_null_rows(scan: Scan) -> SqlFindings:
    """No tariff or phase row has all its values NULL.

    The device's data API leaves out a row whose values are all null (schema/contract.py,
    ``no-all-null-rows``); such a row is data no device writes.  (A meter whose every
    single-phase record has them is reported once, as ``legacy-convention``.)"""
    for family in FAMILIES.values():
        if family.key_column is None:
            continue
        legacy = " AND NOT (t.legacy AND v.Phase IN ('B', 'C'))" if family is QUALITY else ""
        for device, rtid, ts, record_id, key in scan.query(
                f"SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, v.{family.key_column} "
                f"FROM {family.table} v JOIN MeterData m ON m.Id = v.Id "
                f"LEFT JOIN work.verify_meters t ON t.DeviceIdx = m.DeviceIdx "
                f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({scan.ids(_family_measures(family))}) "
                f"AND {_all_null(family, 'v.')}{legacy}"):
            yield device, (rtid, ts, record_id, key), Finding(
                scan.measure_of[rtid], ts, f"{family.key_column} {key} row has only NULL values", "no row", "all NULL")


@sql_rule("device-defaults", reads=ALL_MEASURES)
def device_defaults(scan: Scan) -> SqlFindings:
    """Cells the device never leaves NULL are not NULL: profile Period, isPart, isOvfl,
    isSummer; the config's Serial, Model, IntervalPowerArrays and flags; a journal's Event;
    digital channels up to the channel count.

    The device stores a null the meter gave there as 0 ('' for text) (schema/contract.py,
    ``device-defaults``)."""
    tables = list(contract.DEVICE_DEFAULTS)
    for table, columns in contract.DEVICE_DEFAULTS.items():
        if table in CONFIG_TABLES:   # the newest config row of each meter
            names = list(columns)
            for row in scan.query(
                    f"SELECT c.DeviceIdx, c.Timestamp, {', '.join('c.' + name for name in names)} FROM {table} c "
                    f"JOIN work.verify_meters t ON t.DeviceIdx = c.DeviceIdx AND t.{table} = c.rowid "
                    f"WHERE {' OR '.join(f'c.{name} IS NULL' for name in names)}"):
                for n, name in enumerate(names):
                    if row[2 + n] is None:
                        yield row[0], (0, tables.index(table), n), Finding(table, row[1], f"{name} is NULL",
                                                                            columns[name], None)
    for family in (POWER, JOURNAL):
        names = list(contract.DEVICE_DEFAULTS[family.table])
        for row in scan.query(
                f"SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, {', '.join('v.' + n for n in names)} "
                f"FROM {family.table} v JOIN MeterData m ON m.Id = v.Id "
                f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({scan.ids(_family_measures(family))}) "
                f"AND ({' OR '.join(f'v.{name} IS NULL' for name in names)})"):
            for n, name in enumerate(names):
                if row[4 + n] is None:
                    yield row[0], (1, row[1], row[2], row[3], n), Finding(
                        scan.measure_of[row[1]], row[2], f"{name} is NULL", contract.DEVICE_DEFAULTS[family.table][name],
                        None)
    count = _column(DIGITAL, "Channels")[1]
    channels = [_column(DIGITAL, tag)[1] for tag in _channel_tags(DIGITAL)]
    within = " OR ".join(f"(v.{count} >= {n} AND v.{column} IS NULL)" for n, column in enumerate(channels, start=1))
    for device, rtid, ts, record_id in scan.query(
            f"SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id FROM {DIGITAL.table} v JOIN MeterData m "
            f"ON m.Id = v.Id WHERE m.Valid <> 0 AND m.RecordTypeId IN ({scan.ids(_family_measures(DIGITAL))}) "
            f"AND typeof(v.{count}) = 'integer' AND ({within})"):
        yield device, (1, rtid, ts, record_id, 0), Finding(scan.measure_of[rtid], ts, "a channel within Channels is NULL",
                                                           contract.DIGITAL_NULL_CHANNEL, None)


UNTAGGED_CELLS = {family.table: [(key, column) for key in family.keys for column in family.value_columns
                                 if _tag(family, key, column) is None] for family in FAMILIES.values()}


def _untagged(family: Family, alias: str = "") -> str:
    """SQL: a row of the family has a value in a cell no tag names."""
    key_column = family.key_column or "NULL"
    return "(" + (" OR ".join(f"({alias}{key_column} = {_lit(key)} AND {alias}{column} IS NOT NULL)"
                              if key is not None else f"{alias}{column} IS NOT NULL"
                              for key, column in UNTAGGED_CELLS[family.table]) or "0") + ")"


@sql_rule("untagged-cells-null", reads=ALL_MEASURES)
def untagged_cells_null(scan: Scan) -> SqlFindings:
    """A cell that no JSON tag names is NULL (U, I and Angle of the Summ row; F of phases A-C).

    The device's APIs read and write values only through tags; a cell without a tag is one the
    device never fills, so a value there is not something a real meter reported."""
    for family in FAMILIES.values():
        untagged = UNTAGGED_CELLS[family.table]
        if not untagged:
            continue
        key_column = family.key_column or "NULL"
        columns = ", ".join(f"v.{column}" for column in family.value_columns)
        # the quality pivot counts the rows with such cells (``_prepare``): only those records are read
        source = (f"work.verify_quality p CROSS JOIN {family.table} v ON v.Id = p.Id AND p.untagged > 0"
                  if family is QUALITY else f"{family.table} v")
        for row in scan.query(
                f"SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, v.{key_column}, {columns} "
                f"FROM {source} CROSS JOIN MeterData m ON m.Id = v.Id "
                f"WHERE m.RecordTypeId IN ({scan.ids(_family_measures(family))}) AND {_untagged(family, 'v.')}"):
            for n, (key, column) in enumerate(untagged):
                found = row[5 + family.value_columns.index(column)]
                if row[4] == key and found is not None:
                    label = f"{column} of {key}" if key is not None else column
                    yield row[0], (row[1], row[2], row[3], n), Finding(
                        scan.measure_of[row[1]], row[2], f"{label} has no tag and must be NULL", None, found)


GRID_MEASURES = measures(cadence=(DAY, MONTH, HOUR, PROFILE))


@rule("stamp-on-grid", reads=GRID_MEASURES)
def stamp_on_grid(view: MeterView) -> Iterator[Finding]:
    """Day records are stamped at local midnight, month records at local midnight of the 1st,
    hour records at the start of a local hour, profile slots on a Period boundary from midnight.

    The device closes these archives at those instants and the APIs select them by date; a
    record off the grid is a day or slot that no query for a date finds."""
    period_at = POS[POWER.table]["cTime"]
    midnights = view.midnights   # view.midnight's cache, read here directly: a profile has many slots
    for measure in view.present(GRID_MEASURES):
        records = view.all(measure)
        cadence = cadence_of(measure)
        for record in records:
            ts = record[R_TS]
            if cadence == PROFILE:
                if record[R_VALID] and record[R_ROWS]:
                    period = record[period_at]
                    midnight = midnights.get(ts // 900)
                    if midnight is None:
                        midnight = view.midnight(ts)
                    if period and (ts - midnight) % (int(period) * 60):
                        yield Finding(measure, ts, f"not on a {period}-minute boundary")
                continue
            local = timegrid.local_datetime(ts, view.tz)
            if cadence == DAY and view.midnight(ts) != ts:
                yield Finding(measure, ts, "not stamped at local midnight")
            elif cadence == MONTH and (local.day != 1 or view.midnight(ts) != ts):
                yield Finding(measure, ts, "not stamped at local midnight of the 1st")
            elif cadence == HOUR and (local.minute, local.second) != (0, 0):
                yield Finding(measure, ts, "not stamped at the start of a local hour")


CALENDAR_MEASURES = measures(cadence=(DAY, MONTH))


@rule("calendar-gap", reads=CALENDAR_MEASURES)
def calendar_gap(view: MeterView) -> Iterator[Finding]:
    """A day (month) archive has a record for every day (month) between its first and last.

    The device writes these archives every day (month) whether or not it could read the meter
    (Valid = 0 when not); a missing record means the archive itself lost data."""
    for measure in view.present(CALENDAR_MEASURES):
        records = view.all(measure)
        cadence = cadence_of(measure)
        stamps = sorted(r[R_TS] for r in records)
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


#: SQL: the records of the meters in MeterTable, read by MeterDataRecord (DeviceIdx first) -- a
#: rule's records of a few record types without a pass over every header.
METERS = "work.verify_meters t CROSS JOIN MeterData m ON m.DeviceIdx = t.DeviceIdx"


def _records_sql(scan: Scan, family: Family, names: Iterable[str]) -> str:
    """SQL: the Valid records of some measures that carry rows, as h_dev (DeviceIdx), h_type
    (RecordTypeId), h_ts (Timestamp), h_id (Id) and c0, c1 ... (the tags, ``Family.tags`` order)."""
    where = f"m.RecordTypeId IN ({scan.ids(_family_measures(family, names))}) AND m.Valid <> 0"
    if family is ENERGY:
        tags = ", ".join(f"{_pivoted(family, tag)} AS c{n}" for n, tag in enumerate(family.tags))
        source = "work.verify_energy p ON p.Id = m.Id"
    else:
        tags = ", ".join(f"v.{_column(family, tag)[1]} AS c{n}" for n, tag in enumerate(family.tags))
        source = f"{family.table} v ON v.Id = m.Id"
    return (f"SELECT m.DeviceIdx AS h_dev, m.RecordTypeId AS h_type, m.Timestamp AS h_ts, m.Id AS h_id, {tags} "
            f"FROM {METERS} CROSS JOIN {source} WHERE {where}")


def _cumulative_sequence(scan: Scan, family: Family) -> str:
    """A temp table of the family's valid cumulative records with rows (``_records_sql``) in
    order (DeviceIdx, RecordTypeId, Timestamp, Id), numbered by rowid: a record's previous one
    is rowid - 1 of its meter and measure.  Made once per scan."""
    table = f"temp.verify_sequence_{family.table}"
    if table not in scan.cache:
        scan.conn.execute(f"DROP TABLE IF EXISTS {table}")
        scan.conn.execute(f"CREATE TABLE {table} AS {_records_sql(scan, family, CUMULATIVE_MEASURES)} "
                          "ORDER BY h_dev, h_type, h_ts, h_id")
        scan.cache[table] = True
    return table


@sql_rule("cumulative-decreases", reads=CUMULATIVE_MEASURES)
def cumulative_decreases(scan: Scan) -> SqlFindings:
    """An energy register or a pulse counter never decreases from one record to the next.

    Registers and counters only count up; a lower value later means a reset, a swapped meter or
    data from another meter -- each of which the device journals and tests must not fake."""
    for family in (ENERGY, PULSE):
        word = "register" if family is ENERGY else "counter"
        tags = _counter_tags(family)
        at = [list(family.tags).index(tag) for tag in tags]
        sequence = _cumulative_sequence(scan, family)
        pairs = ", ".join(f"b.c{n}, a.c{n}" for n in at)
        fell = [f"a.c{n} < b.c{n} - :tol" for n in at]
        for row in scan.query(
                f"SELECT a.h_dev, a.h_type, a.h_ts, a.h_id, {pairs}, {', '.join(fell)} FROM {sequence} a "
                f"JOIN {sequence} b ON b.rowid = a.rowid - 1 AND b.h_dev = a.h_dev AND b.h_type = a.h_type "
                f"WHERE {' OR '.join(fell)}", {"tol": scan.tolerance}):
            for k, tag in enumerate(tags):
                if row[4 + 2 * len(at) + k]:
                    old, now = row[4 + 2 * k], row[5 + 2 * k]
                    yield row[0], (row[1], row[2], row[3], k), Finding(
                        scan.measure_of[row[1]], row[2], f"{word} {tag} decreased", f">= {_show(old)}", now)


# ---- electric rules -----------------------------------------------------------------------
ENERGY_MEASURES = measures(ENERGY.table)
CONFIG_GATES = tuple((gate.tag, gate.energy, gate.profile) for gate in ENERGY_GATES)  # flag, energy, profile


GATED_MEASURES = ENERGY_MEASURES | measures(POWER.table)


@sql_rule("config-gates-values", reads=GATED_MEASURES)
def config_gates_values(scan: Scan) -> SqlFindings:
    """A quantity ElConfig says the meter does not measure (isAm/isRp/isRm = 0) is NULL in the
    energy registers (A-, R+, R-) and in the profile (P-, Q+, Q-).

    The device reads only what the config enables; a value there is one no such meter could give."""
    gated = " OR ".join(f"t.g{n} = 0" for n in range(len(CONFIG_GATES)))
    for family in (ENERGY, POWER):
        # per gate, the tags it switches off in this family (energy: one per tariff)
        tags = [[profile_tag] if family is POWER else [f"{energy_prefix}{key}" for key in ENERGY.keys]
                for _, energy_prefix, profile_tag in CONFIG_GATES]
        cells = [[_pivoted(family, tag) if family is ENERGY else "v." + _column(family, tag)[1] for tag in gate]
                 for gate in tags]
        fired = ", ".join(f"(t.g{n} = 0 AND ({' OR '.join(c + ' IS NOT NULL' for c in gate)})) AS f{n}"
                          for n, gate in enumerate(cells))
        source = "work.verify_energy p ON p.Id = m.Id" if family is ENERGY else f"{family.table} v ON v.Id = m.Id"
        for row in scan.query(   # the meters with a gate at 0 only, their records by MeterDataRecord
                f"SELECT * FROM (SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, "
                f"{', '.join(c for gate in cells for c in gate)}, {fired} FROM work.verify_meters t "
                f"CROSS JOIN MeterData m ON m.DeviceIdx = t.DeviceIdx CROSS JOIN {source} "
                f"WHERE ({gated}) AND m.RecordTypeId IN ({scan.ids(_family_measures(family, GATED_MEASURES))}) "
                f"AND m.Valid <> 0) WHERE {' OR '.join(f'f{n}' for n in range(len(cells)))}"):
            at = 4
            flags = 4 + sum(len(gate) for gate in cells)
            for n, (flag, _, _) in enumerate(CONFIG_GATES):
                if row[flags + n]:
                    for k, tag in enumerate(tags[n]):
                        if row[at + k] is not None:
                            yield row[0], (n, row[1], row[2], row[3], k), Finding(
                                scan.measure_of[row[1]], row[2], f"{tag} must be NULL (ElConfig {flag} is 0)", None,
                                row[at + k])
                at += len(tags[n])


TARIFF_TAGS = tuple((prefix, f"{prefix}0", tuple(f"{prefix}{t}" for t in ENERGY.keys[1:]))
                    for prefix in ENERGY_PREFIXES)


@sql_rule("tariff-sum", reads=ENERGY_MEASURES)
def tariff_sum(scan: Scan) -> SqlFindings:
    """The total (tariff 0) of every energy quantity is the sum of tariffs 1-4.

    A meter with a tariff unit accumulates each kWh into exactly one tariff register and into
    the total; a total that differs from the sum is energy counted twice or not at all."""
    at = {tag: _pivoted(ENERGY, tag) for tag in ENERGY.tags}
    checks = []
    for prefix, total_tag, part_tags in TARIFF_TAGS:
        total, parts = at[total_tag], " + ".join(at[tag] for tag in part_tags)
        checks.append(f"{total}, {parts}, ({total} IS NOT NULL AND {' AND '.join(at[t] + ' IS NOT NULL' for t in part_tags)}"
                      f" AND abs({total} - ({parts})) > :tol + 1e-9 * max(abs({total}), abs({parts})))")
    flags = [f"f{k}" for k in range(len(TARIFF_TAGS))]
    for row in scan.query(
            f"SELECT * FROM (SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, "
            + ", ".join(check + f" AS {flag}" for check, flag in zip(checks, flags))
            + f" FROM work.verify_energy p CROSS JOIN MeterData m ON m.Id = p.Id WHERE m.Valid <> 0 "
            f"AND m.RecordTypeId IN ({scan.ids(ENERGY_MEASURES)}) AND "
            + " AND ".join(_has("p.count", ENERGY, key) for key in ENERGY.keys) + f") WHERE {' OR '.join(flags)}", {"tol": scan.tolerance}):
        for k, (prefix, _, _) in enumerate(TARIFF_TAGS):
            total, parts, fired = row[4 + 3 * k: 7 + 3 * k]
            if fired:
                yield row[0], (row[1], row[2], row[3], k), Finding(
                    scan.measure_of[row[1]], row[2], f"{prefix}0 is not the sum of tariffs 1-4", parts, total)


CONSUMPTION_MEASURES = measures(consumption=True)


@rule("consumption-difference", reads=CONSUMPTION_MEASURES)
def consumption_difference(view: MeterView) -> Iterator[Finding]:
    """A day (month) consumption is the difference of the register at the next midnight (1st)
    and the register at its own stamp, per quantity and tariff.

    The device derives consumption from its registers; a consumption that differs from them is
    energy that was used but never counted (or the reverse)."""
    tags = [(tag, POS[ENERGY.table][tag]) for tag in ENERGY.tags]
    for measure in view.present(CONSUMPTION_MEASURES):
        facts = measure_entry(measure)
        if facts.consumption_of is None:
            continue
        registers = view.by_ts(facts.consumption_of)
        for record in view.valid(measure):
            ts = record[R_TS]
            current, later = registers.get(ts), registers.get(view.next_stamp(ts, facts.cadence))
            if current is None or later is None:
                continue
            for tag, at in tags:
                used, a, b = record[at], current[at], later[at]
                if used is None or a is None or b is None:
                    continue
                if not _close(used, b - a, view.tolerance):
                    yield Finding(measure, ts, f"{tag} is not the difference of the "
                                  f"{facts.consumption_of} readings", b - a, used)


@sql_rule("same-instant", reads=CUMULATIVE_MEASURES)
def same_instant(scan: Scan) -> SqlFindings:
    """Readings of one instant agree between archives: a moment, hour, day or month record of
    registers (counters) stamped at the same time holds the same values.

    They are one reading of one register filed in several archives (the 1st's midnight is a
    month, a day, an hour and a moment record); two values for one instant cannot both be true."""
    for family in (ENERGY, PULSE):
        tags = _counter_tags(family)
        at = [list(family.tags).index(tag) for tag in tags]
        sequence = _cumulative_sequence(scan, family)
        ids = scan.ids(_family_measures(family, CUMULATIVE_MEASURES))
        pairs = ", ".join(f"f.c{n}, a.c{n}" for n in at)
        differ = [f"abs(f.c{n} - a.c{n}) > :tol + 1e-9 * max(abs(f.c{n}), abs(a.c{n}))" for n in at]
        # per meter with two such measures or more, each record against the first (measure, then Id)
        # of its meter's records of that instant
        for row in scan.query(
                f"SELECT a.h_dev, a.h_type, a.h_ts, a.h_id, f.h_type, {pairs}, {', '.join(differ)} FROM ("
                f"SELECT rowid AS k, h_dev, h_ts, first_value(rowid) OVER w AS first FROM {sequence} "
                f"WHERE h_dev IN (SELECT DeviceIdx FROM MeterData WHERE RecordTypeId IN ({ids}) "
                f"GROUP BY DeviceIdx HAVING count(DISTINCT RecordTypeId) > 1) "
                f"WINDOW w AS (PARTITION BY h_dev, h_ts ORDER BY h_type, h_id)) AS x "
                f"CROSS JOIN {sequence} a ON a.rowid = x.k CROSS JOIN {sequence} f ON f.rowid = x.first "
                f"WHERE x.k <> x.first AND ({' OR '.join(differ)})", {"tol": scan.tolerance}):
            for k, tag in enumerate(tags):
                if row[5 + 2 * len(at) + k]:
                    first, found = row[5 + 2 * k], row[6 + 2 * k]
                    yield row[0], (row[1], row[2], row[3], k), Finding(
                        scan.measure_of[row[1]], row[2],
                        f"{tag} differs from {scan.measure_of[row[4]]} of the same instant", first, found)


def _profile(view: MeterView) -> Tuple[List[int], List[Rec]]:
    """Valid profile slots (oldest first) and their end stamps."""
    slots = view.valid(LOAD_PROFILE)
    return [s[R_TS] for s in slots], slots


PERIOD_AT = POS[POWER.table]["cTime"]
#: A profile slot's energy per tag, power x period (None without either): SQL of the view's power
#: rows (``_meter_views``), at SLOT_ENERGY_AT after the tags in a slot's record.
SLOT_ENERGY = {tag: f"CASE WHEN v.{_column(POWER, 'cTime')[1]} <> 0 THEN v.{_column(POWER, tag)[1]} * "
                    f"v.{_column(POWER, 'cTime')[1]} / 60.0 END" for tag in PROFILE_POWER_TAGS}
SLOT_ENERGY_AT = {tag: 4 + len(POWER.tags) + n for n, tag in enumerate(SLOT_ENERGY)}


def _slot_energies(view: MeterView) -> Dict[str, List[Optional[float]]]:
    """Per profile tag, the energy of each valid slot (power x period; None without either),
    in ``_profile`` order -- computed once per meter."""
    found = view.cache.get("slot energies")
    if found is None:
        slots = view.valid(LOAD_PROFILE)
        found = view.cache["slot energies"] = {tag: [slot[at] for slot in slots] for tag, at in SLOT_ENERGY_AT.items()}
    return cast("Dict[str, List[Optional[float]]]", found)


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
        day_ts, next_ts = view.midnight(cons[R_TS]), view.next_stamp(cons[R_TS], DAY)  # the day, whatever its stamp
        lo, hi = bisect.bisect_right(ends, day_ts), bisect.bisect_right(ends, next_ts)
        day = slots[lo:hi]
        period = day[0][PERIOD_AT] if day else None
        if not period or len(day) != (next_ts - day_ts) // (int(period) * 60):
            continue  # incomplete day: nothing to compare
        for prefix, tag in zip(ENERGY_PREFIXES, PROFILE_POWER_TAGS):
            total = value(cons, ENERGY, f"{prefix}0")
            energies = _slot_energies(view)[tag][lo:hi]
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
    energy = _slot_energies(view)
    running_sum = {tag: list(accumulate((e or 0.0 for e in values), initial=0.0)) for tag, values in energy.items()}
    running_nulls = {tag: list(accumulate((e is None for e in values), initial=0)) for tag, values in energy.items()}
    quantities = [(prefix, tag, POS[ENERGY.table][f"{prefix}0"], energy[tag], running_sum[tag], running_nulls[tag])
                  for prefix, tag in zip(ENERGY_PREFIXES, PROFILE_POWER_TAGS)]
    tolerance, count = view.tolerance, len(slots)
    first_of_day: Dict[int, int] = {}   # midnight -> index of its day's first slot
    bisect_right = bisect.bisect_right
    for moment in view.valid("ElMomentEnergy"):
        ts = moment[R_TS]
        midnight = view.midnight(ts)
        base = days.get(midnight)
        if base is None:
            continue
        lo = first_of_day.get(midnight)
        if lo is None:
            lo = first_of_day[midnight] = bisect_right(ends, midnight)
        hi = bisect_right(ends, ts)
        period = slots[lo][PERIOD_AT] if lo < count else None
        if not period:
            continue
        period_s = int(period) * 60
        if hi - lo != (ts - midnight) // period_s:
            continue
        on_boundary = (ts - midnight) % period_s == 0
        running = hi if hi < count and ends[hi] - period_s < ts else None
        for prefix, tag, at, energies, sums, nulls in quantities:
            total, start = moment[at], base[at]
            if total is None or start is None or nulls[hi] != nulls[lo]:
                continue
            low = start + sums[hi] - sums[lo]
            if on_boundary:
                high: Optional[float] = low
            elif running is not None and energies[running] is not None:
                high = low + energies[running]
            else:
                high = None  # the running slot is not stored yet: no upper bound is known
            if total < low - tolerance or (high is not None and total > high + tolerance):
                shown = f"{low:.3f}..{high:.3f}" if high is not None else f">= {low:.3f}"
                yield Finding("ElMomentEnergy", ts, f"{prefix}0 is not the day register plus the profile "
                              "energy so far", shown, total)


@rule("outage-in-profile", reads=frozenset({"ElJrnlPwr"}))
def outage_in_profile(view: MeterView) -> Iterator[Finding]:
    """Between a power-off and the next power-on in ElJrnlPwr, profile slots wholly inside the
    outage have zero power, and slots the outage cuts are marked isPart.

    A meter without supply measures nothing, and it flags the slots it could not fill."""
    event = POS[JOURNAL.table]["event"]
    events = [(r[R_TS], r[event]) for r in view.valid("ElJrnlPwr")]
    outages = [(a[0], b[0]) for a, b in zip(events, events[1:]) if a[1] == 0 and b[1] == 1]
    if not outages:
        return
    p_plus, p_minus, part = (POS[POWER.table][tag] for tag in ("P+", "P-", "isPart"))
    for slot in view.valid(LOAD_PROFILE):
        ts = slot[R_TS]
        start = ts - int(slot[PERIOD_AT] or 30) * 60
        for off, on in outages:
            if start >= off and ts <= on:
                if (slot[p_plus] or 0) != 0 or (slot[p_minus] or 0) != 0:
                    yield Finding(LOAD_PROFILE, ts, "power during an outage of ElJrnlPwr", 0.0, slot[p_plus])
            elif start < on and ts > off and not slot[part]:
                yield Finding(LOAD_PROFILE, ts, "slot cut by an outage is not marked isPart", 1, slot[part])


QUALITY_MEASURES = measures(QUALITY.table)
ANGLE_TAG = {"A": "AngAB", "B": "AngBC", "C": "AngAC"}
THREE_PHASES = ("A", "B", "C")


PHASE_TAGS = {phase: dict({q: f"{q}{phase}" for q in ("U", "I", "P", "Q", "S", "kP")}, Ang=ANGLE_TAG[phase])
              for phase in THREE_PHASES}


#: The per-phase rules' checks: rule name -> (SQL, true where the rule fires, over the phase's
#: quantities named as in ``PHASE_TAGS`` -- U, I, P, Q, S, kP, Ang -- and :qtol (the quality
#: tolerance); the SQL values the rule reports).  ``_phases`` runs them all in one pass.
PHASE_CHECKS: Dict[str, Tuple[str, Tuple[str, ...]]] = {}


def _phase_quantities(alias: str = "") -> Dict[str, str]:
    """quantity (``PHASE_TAGS``) -> its column in a phase row; one column per quantity, whatever the
    phase (checked here)."""
    columns = {quantity: _column(QUALITY, tag)[1] for quantity, tag in PHASE_TAGS["A"].items()}
    for phase in THREE_PHASES:
        assert all(_column(QUALITY, tag) == (phase, columns[q]) for q, tag in PHASE_TAGS[phase].items())
    return {quantity: alias + column for quantity, column in columns.items()}


def _phase_prefilter() -> str:
    """SQL over a row of ElectricQualityValues: it is a phase row where a check of PHASE_CHECKS
    may hold (whatever the record's validity and meter) -- the records ``_phases`` reads."""
    quantities = _phase_quantities()
    checks = []
    for check, _ in PHASE_CHECKS.values():
        for quantity in sorted(quantities, key=len, reverse=True):   # kP before P
            check = re.sub(rf"\b{quantity}\b", quantities[quantity], check)
        checks.append(f"({check})")
    return (f"({QUALITY.key_column} IN ({', '.join(map(_lit, THREE_PHASES))}) AND "
            f"({' OR '.join(checks) or '0'}))")


def _phases(scan: Scan, name: str) -> List[Tuple[Tuple[Any, ...], List[Any]]]:
    """The measured phase rows of valid quality records (phases B and C of a single-phase meter
    left out: ``quality-single-phase`` owns them) where the check of rule ``name`` holds:
    ((DeviceIdx, RecordTypeId, Timestamp, Id, phase), [the values it reports]).  One pass over
    ElectricQualityValues for every rule of ``PHASE_CHECKS``, kept in ``scan.cache``."""
    if "phases" not in scan.cache:
        named = ", ".join(f"{column} AS {quantity}" for quantity, column in _phase_quantities("v.").items())
        phases = ", ".join(map(_lit, THREE_PHASES))
        checks = list(PHASE_CHECKS.items())
        flags = ", ".join(f"({check}) AS c{n}" for n, (_, (check, _)) in enumerate(checks))
        values = [value for _, (_, reported) in checks for value in reported]
        found: Dict[str, List[Tuple[Tuple[Any, ...], List[Any]]]] = {rule_name: [] for rule_name, _ in checks}
        for row in scan.query(
                f"SELECT * FROM (SELECT h_dev, h_type, h_ts, h_id, h_key, {flags}, {', '.join(values)} FROM ("
                f"SELECT m.DeviceIdx AS h_dev, m.RecordTypeId AS h_type, m.Timestamp AS h_ts, m.Id AS h_id, "
                f"v.{QUALITY.key_column} AS h_key, {named} FROM work.verify_quality p "
                f"CROSS JOIN {QUALITY.table} v ON v.Id = p.Id AND p.phased > 0 CROSS JOIN MeterData m ON m.Id = v.Id "
                f"LEFT JOIN work.verify_meters t ON t.DeviceIdx = m.DeviceIdx "
                f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({scan.ids(QUALITY_MEASURES)}) "
                f"AND (v.{QUALITY.key_column} = {_lit(THREE_PHASES[0])} OR "
                f"(v.{QUALITY.key_column} IN ({phases}) AND coalesce(t.single, 0) = 0)))) "
                f"WHERE {' OR '.join(f'c{n}' for n in range(len(checks)))}",
                {"qtol": _quality_tolerance(scan.tolerance)}):
            at = 5 + len(checks)
            for n, (rule_name, (_, reported)) in enumerate(checks):
                if row[5 + n]:
                    found[rule_name].append((row[:5], list(row[at:at + len(reported)])))
                at += len(reported)
        scan.cache["phases"] = found
    return cast("Dict[str, List[Tuple[Tuple[Any, ...], List[Any]]]]", scan.cache["phases"])[name]


def _at_phase(where: Tuple[Any, ...], scan: Scan, message: str, expected: object, found: object,
              n: int = 0) -> Tuple[int, Tuple[Any, ...], Finding]:
    device, rtid, ts, record_id, phase = where
    return device, (rtid, ts, record_id, THREE_PHASES.index(phase), n), Finding(
        scan.measure_of[rtid], ts, message, expected, found)


def _quality_tolerance(tolerance: float) -> float:
    return max(tolerance, 0.002)


PHASE_CHECKS["quality-apparent-power"] = ("abs(S - sqrt(P * P + Q * Q)) > :qtol + 1e-6 * abs(S)",
                                         ("hypot(P, Q)", "S"))


@sql_rule("quality-apparent-power", reads=QUALITY_MEASURES)
def quality_apparent_power(scan: Scan) -> SqlFindings:
    """Per phase, S^2 = P^2 + Q^2.

    Apparent power is the length of the (P, Q) vector; a meter computes S from P and Q."""
    for where, (hypot, s) in _phases(scan, "quality-apparent-power"):
        phase = where[4]
        yield _at_phase(where, scan, f"S{phase}^2 != P{phase}^2 + Q{phase}^2", hypot, s)


PHASE_CHECKS["quality-power-factor"] = ("S <> 0 AND abs(kP - CAST(P AS REAL) / S) > 5e-4",
                                       ("CAST(P AS REAL) / S", "kP"))


@sql_rule("quality-power-factor", reads=QUALITY_MEASURES)
def quality_power_factor(scan: Scan) -> SqlFindings:
    """Per phase, kP = P / S.

    The power factor is defined as active over apparent power."""
    for where, (ratio, kp) in _phases(scan, "quality-power-factor"):
        phase = where[4]
        yield _at_phase(where, scan, f"kP{phase} != P{phase}/S{phase}", ratio, kp)


PHASE_CHECKS["quality-active-power"] = ("abs(U * I * kP - P) > 0.01 * coalesce(S, 0) + 0.0006 * U + :qtol",
                                       ("U * I * kP", "P"))


@sql_rule("quality-active-power", reads=QUALITY_MEASURES)
def quality_active_power(scan: Scan) -> SqlFindings:
    """Per phase, P = U x I x kP (within 1 % of S, the meter's accuracy).

    Active power is voltage times current times power factor."""
    for where, (product, p) in _phases(scan, "quality-active-power"):
        phase = where[4]
        yield _at_phase(where, scan, f"P{phase} != U{phase}*I{phase}*kP{phase}", product, p)


PHASE_CHECKS["quality-voltage-range"] = (f"NOT U BETWEEN {VOLTAGE_RANGE[0]!r} AND {VOLTAGE_RANGE[1]!r}", ("U",))


@sql_rule("quality-voltage-range", reads=QUALITY_MEASURES)
def quality_voltage_range(scan: Scan) -> SqlFindings:
    """Phase voltage within 230 V +-20 % (184-276 V).

    Outside that band a low-voltage network is in fault and the meter journals it; ordinary
    readings never show it."""
    for where, (u,) in _phases(scan, "quality-voltage-range"):
        yield _at_phase(where, scan, f"U{where[4]} outside {VOLTAGE_RANGE[0]:.0f}-{VOLTAGE_RANGE[1]:.0f} V", None, u)


PHASE_CHECKS["quality-angle-range"] = (f"NOT Ang BETWEEN {ANGLE_RANGE[0]!r} AND {ANGLE_RANGE[1]!r}", ("Ang",))


@sql_rule("quality-angle-range", reads=QUALITY_MEASURES)
def quality_angle_range(scan: Scan) -> SqlFindings:
    """The angle between phase voltages is near 120 degrees (110-130).

    A three-phase network's voltages are 120 degrees apart; far from that is a wiring fault."""
    for where, (angle,) in _phases(scan, "quality-angle-range"):
        yield _at_phase(where, scan, f"phase angle of {where[4]} not near 120 degrees", None, angle)


def _quality_records(scan: Scan, tags: Sequence[str], checks: Sequence[str], reported: Sequence[str] = (),
                     params: Optional[Dict[str, float]] = None) -> Iterator[Tuple[Any, ...]]:
    """Valid quality records where one of ``checks`` (SQL over ``tags``, named q0, q1 ...) is true:
    DeviceIdx, RecordTypeId, Timestamp, Id, each check's value, each of ``reported`` (SQL over the
    same), then each tag's."""
    named = ", ".join(f"{_pivoted(QUALITY, tag)} AS q{n}" for n, tag in enumerate(tags))
    values = ", ".join([f"({check}) AS c{n}" for n, check in enumerate(checks)] + list(reported)
                       + [f"q{n}" for n in range(len(tags))])
    return scan.query(
        f"SELECT * FROM (SELECT h_dev, h_type, h_ts, h_id, {values} "
        f"FROM (SELECT m.DeviceIdx AS h_dev, m.RecordTypeId AS h_type, m.Timestamp AS h_ts, m.Id AS h_id, {named} "
        f"FROM work.verify_quality p CROSS JOIN MeterData m ON m.Id = p.Id "
        f"WHERE m.Valid <> 0 AND m.RecordTypeId IN ({scan.ids(QUALITY_MEASURES)}))) "
        f"WHERE {' OR '.join(f'c{n}' for n in range(len(checks)))}", params or {})


@sql_rule("quality-phase-sum", reads=QUALITY_MEASURES)
def quality_phase_sum(scan: Scan) -> SqlFindings:
    """PS and QS (the Summ row) are the sums of the phases' P and Q.

    Total active and reactive power of a three-phase meter is the sum over its phases."""
    sums: List[str] = []
    checks: List[str] = []
    tags: List[str] = []
    for k, (quantity, total_tag) in enumerate((("P", "PS"), ("Q", "QS"))):
        parts = [f"q{len(tags) + n}" for n in range(len(THREE_PHASES))]
        tags += [f"{quantity}{phase}" for phase in THREE_PHASES] + [total_tag]
        total = f"q{len(tags) - 1}"
        some = " OR ".join(f"{part} IS NOT NULL" for part in parts)
        added = " + ".join(f"coalesce({part}, 0)" for part in parts)
        sums.append(added)
        checks.append(f"({some}) AND {total} IS NOT NULL AND abs(({added}) - {total}) > :tol")
    for row in _quality_records(scan, tags, checks, sums, {"tol": _quality_tolerance(scan.tolerance)}):
        for k, total_tag in enumerate(("PS", "QS")):
            if row[4 + k]:
                yield row[0], (row[1], row[2], row[3], k), Finding(
                    scan.measure_of[row[1]], row[2], f"{total_tag} is not the sum of the phases", row[6 + k],
                    row[8 + 4 * k + 3])


@sql_rule("quality-frequency-range", reads=QUALITY_MEASURES)
def quality_frequency_range(scan: Scan) -> SqlFindings:
    """Network frequency within 49-51 Hz.

    The grid holds 50 Hz far tighter than that; outside it is an islanded or faulty supply."""
    for row in _quality_records(scan, ["Freq"], ["NOT q0 BETWEEN :low AND :high"], (),
                                {"low": FREQUENCY_RANGE[0], "high": FREQUENCY_RANGE[1]}):
        yield row[0], (row[1], row[2], row[3]), Finding(scan.measure_of[row[1]], row[2], "Freq outside 49-51 Hz",
                                                        None, row[5])


@sql_rule("quality-single-phase", reads=QUALITY_MEASURES)
def quality_single_phase(scan: Scan) -> SqlFindings:
    """A single-phase meter (MeterTypes) has no values on phases B and C.

    It has one measuring element; what it cannot measure it cannot report."""
    columns = ", ".join(f"v.{column}" for column in QUALITY.value_columns)
    for row in scan.query(
            f"SELECT m.DeviceIdx, m.RecordTypeId, m.Timestamp, m.Id, v.{QUALITY.key_column}, {columns} "
            f"FROM {QUALITY.table} v JOIN MeterData m ON m.Id = v.Id "
            f"JOIN work.verify_meters t ON t.DeviceIdx = m.DeviceIdx "
            f"WHERE t.single AND m.Valid <> 0 AND m.RecordTypeId IN ({scan.ids(QUALITY_MEASURES)}) "
            f"AND v.{QUALITY.key_column} IN ('B', 'C') AND NOT {_all_null(QUALITY, 'v.')}"):
        phase = row[4]
        yield row[0], (row[1], row[2], row[3], phase), Finding(
            scan.measure_of[row[1]], row[2], f"single-phase meter has phase {phase} values", None, tuple(row[5:]))


# ---- journals -----------------------------------------------------------------------------
JOURNAL_MEASURES = measures(JOURNAL.table)
EVENT_AT, EVENT_ID_AT = POS[JOURNAL.table]["event"], POS[JOURNAL.table]["eventId"]


@rule("journal-event-id-increases", reads=JOURNAL_MEASURES)
def journal_event_id_increases(view: MeterView) -> Iterator[Finding]:
    """Within one journal, EventId increases with time.

    EventId is the record's index in the meter's journal buffer, numbered as events happen."""
    for measure in view.present(JOURNAL_MEASURES):
        previous = None
        for record in view.valid(measure):
            event_id = record[EVENT_ID_AT]
            if previous is not None and event_id is not None and event_id <= previous:
                yield Finding(measure, record[R_TS], "EventId does not increase", f"> {previous}", event_id)
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
            event = record[EVENT_AT]
            if event is not None and event not in allowed:
                yield Finding(measure, record[R_TS], "Event is not a value the device logs here",
                              " or ".join(map(str, allowed)), event)


@rule("power-journal-alternates", reads=frozenset({"ElJrnlPwr"}))
def power_journal_alternates(view: MeterView) -> Iterator[Finding]:
    """The power journal alternates off (0) and on (1).

    Supply can only come back after it was lost; two offs in a row mean a lost event."""
    events = view.valid("ElJrnlPwr")
    for a, b in zip(events, events[1:]):
        ev_a, ev_b = a[EVENT_AT], b[EVENT_AT]
        if ev_a is not None and ev_a == ev_b:
            yield Finding("ElJrnlPwr", b[R_TS], "power journal does not alternate off/on", 1 - ev_a, ev_b)


# ---- pulse and digital modules ------------------------------------------------------------
CHANNEL_FAMILIES = {PULSE.table: ("PulseConfig", "chnl"), DIGITAL.table: ("DigitalConfig", "chnlIn")}
CHANNEL_MEASURES = measures(PULSE.table) | measures(DIGITAL.table)


def _channel_positions(family: Family) -> List[Tuple[str, int]]:
    """(tag, position in a record) of the channels of a pulse or digital family, channel 1 first."""
    return [(tag, POS[family.table][tag]) for tag in _channel_tags(family)]


@rule("channel-count", reads=CHANNEL_MEASURES)
def channel_count(view: MeterView) -> Iterator[Finding]:
    """A pulse (digital) record's Channels equals the module's channel count in PulseConfig.Channels
    (DigitalConfig.ChannelsIn).

    The module reports as many channels as it has; another count is another module's record."""
    for measure in view.present(CHANNEL_MEASURES):
        table = MEASURE_TABLE[measure]
        config_table, tag = CHANNEL_FAMILIES[table]
        configured = view.config(tag, config_table)
        if configured is None:
            continue
        at = POS[table]["Channels"]
        for record in view.valid(measure):
            channels = record[at]
            if channels is not None and channels != configured:
                yield Finding(measure, record[R_TS], f"Channels differs from {config_table}", configured, channels)


@rule("channels-beyond-count-null", reads=CHANNEL_MEASURES)
def channels_beyond_count_null(view: MeterView) -> Iterator[Finding]:
    """Channels above a record's channel count are NULL.

    A module with 8 inputs has no 9th; a value there was not read from it."""
    for measure in view.present(CHANNEL_MEASURES):
        family = FAMILIES[MEASURE_TABLE[measure]]
        at, positions = POS[family.table]["Channels"], _channel_positions(family)
        for record in view.valid(measure):
            channels = record[at]
            if channels is None:
                continue
            for number, (tag, position) in enumerate(positions, start=1):
                if number > channels and record[position] is not None:
                    yield Finding(measure, record[R_TS], f"{tag} is beyond Channels = {channels}", None,
                                  record[position])


DIGITAL_MEASURES = measures(DIGITAL.table)


def _states(record: Rec) -> Tuple[object, ...]:
    return tuple(record[position] for _, position in _channel_positions(DIGITAL))


@rule("digital-states-binary", reads=DIGITAL_MEASURES)
def digital_states_binary(view: MeterView) -> Iterator[Finding]:
    """A discrete input's state is 0 or 1.

    An input is open or closed; the device stores nothing else for it."""
    positions = _channel_positions(DIGITAL)
    for measure in view.present(DIGITAL_MEASURES):
        for record in view.valid(measure):
            for tag, position in positions:
                state = record[position]
                if state is not None and state not in (0, 1):
                    yield Finding(measure, record[R_TS], f"{tag} is not a state", "0 or 1", state)


@rule("digital-journal-changes", reads=frozenset({"DigJournalState"}))
def digital_journal_changes(view: MeterView) -> Iterator[Finding]:
    """Each DigJournalState record differs from the one before it in at least one input.

    The journal records changes of state; an entry that changes nothing is not an event."""
    entries = view.valid("DigJournalState")
    for a, b in zip(entries, entries[1:]):
        if _states(a) == _states(b):
            yield Finding("DigJournalState", b[R_TS], "journal entry changes no input", "a change", "none")


@rule("digital-moment-follows-journal", reads=frozenset({"DigMomentState"}))
def digital_moment_follows_journal(view: MeterView) -> Iterator[Finding]:
    """A DigMomentState reading equals the state of the latest DigJournalState entry at or before it.

    Inputs change only by events the journal records; between two entries the state is that of
    the first.  Readings before the first entry are not checked (their state is not journaled)."""
    entries = view.valid("DigJournalState")
    stamps = [e[R_TS] for e in entries]
    positions = _channel_positions(DIGITAL)
    for moment in view.valid("DigMomentState"):
        i = bisect.bisect_right(stamps, moment[R_TS]) - 1
        if i < 0:
            continue
        entry = entries[i]
        for tag, position in positions:
            want, got = entry[position], moment[position]
            if want is not None and got is not None and want != got:
                yield Finding("DigMomentState", moment[R_TS], f"{tag} differs from the DigJournalState entry "
                              f"of {timegrid.local_datetime(entry[R_TS], view.tz):%Y-%m-%d %H:%M:%S}", want, got)


# ---- running the rules --------------------------------------------------------------------
VIEW_FAMILIES = tuple(family for family in FAMILIES.values() if family is not QUALITY)
#: Measures whose records a view holds with some tags only (the others NULL): what the Python
#: rules read of them (moment-register-profile: the moment registers' totals).  Any other
#: measure's records hold every tag.
VIEW_TAGS: Dict[str, FrozenSet[str]] = {"ElMomentEnergy": frozenset(f"{prefix}0" for prefix in ENERGY_PREFIXES)}


def _functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the rules use, and the cache a pass needs, on one connection."""
    for schema in ("main", "temp"):   # the pages a pass reads twice stay in memory (64 MB at most)
        conn.execute(f"PRAGMA {schema}.cache_size = -65536")
    # hypot: Python's, for the value a finding reports (the check, on every row, is SQLite's sqrt)
    conn.create_function("hypot", 2, lambda x, y: None if x is None or y is None else math.hypot(x, y),
                         deterministic=True)
    if not any(name == "sqrt" for (name,) in conn.execute("SELECT name FROM pragma_function_list")):
        conn.create_function("sqrt", 1, lambda x: None if x is None else math.sqrt(x) if x >= 0 else None,
                             deterministic=True)


def _measure_of(names: NameIndex) -> Dict[int, str]:
    """Which RecordTypeId is which value measure."""
    measure_of: Dict[int, str] = {}
    for rtid, record_type in sorted(names.record_type_names.items()):
        measure = ALIASES.get(record_type, record_type)  # e.g. ElJrnlRvr, the web UI's ElJrnlReverce
        if measure in MEASURE_TABLE and MEASURE_TABLE[measure] in FAMILIES:
            measure_of[rtid] = measure
    return measure_of


#: Each pivoted family's table (``_pivot_into``), in the pass's own file (schema ``work``).
PIVOT_TABLES = {ENERGY.table: "verify_energy", QUALITY.table: "verify_quality"}


def _pivot_into(conn: sqlite3.Connection, family: Family, tolerance: float) -> None:
    """One pass over a keyed value table: its rows pivoted per Id (``PIVOTED`` tags), with the
    counts of its keys, into its ``PIVOT_TABLES`` table."""
    table = PIVOT_TABLES[family.table]
    empty = _all_null(family)
    values = ", ".join(f"t{n}" for n in range(len(PIVOTED[family.table])))
    extra, extra_sql = "", ""
    if family is QUALITY:   # the old tool's all-NULL rows B and C (legacy-convention)
        extra = ", bc, untagged, phased"
        extra_sql = f", sum(CASE WHEN {empty} THEN (CASE {family.key_column} WHEN 'B' THEN 1 WHEN 'C' THEN 16 " \
                    f"ELSE 0 END) ELSE 0 END), sum(CASE WHEN {_untagged(family)} THEN 1 ELSE 0 END), " \
                    f"sum(CASE WHEN {_phase_prefilter()} THEN 1 ELSE 0 END)"
    conn.execute(f"DROP TABLE IF EXISTS work.{table}")
    # energy: n (rows) for the views, count (keys of every row) for tariff-sum
    counts, counts_sql = ("n, count, ", f"count(*), {_key_count(family)}, ") if family is ENERGY else ("", "")
    conn.execute(f"CREATE TABLE work.{table} (Id INTEGER PRIMARY KEY, {counts}fcount{extra}, {values})")
    if family is ENERGY and _unique_keys(conn, family):
        select = _joined_pivot(family)
    else:
        select = (f"SELECT Id, {counts_sql}{_key_count(family, 'NOT ' + empty)}{extra_sql}, "
                  f"{_pivot(family, PIVOTED[family.table])} FROM {family.table} GROUP BY Id")
    conn.execute(f"INSERT INTO work.{table} {select}",
                 {"qtol": _quality_tolerance(tolerance)} if family is QUALITY else {})
    conn.commit()


def _unique_keys(conn: sqlite3.Connection, family: Family) -> bool:
    """Whether the database holds a family's rows unique by (Id, key) through an index of those
    columns in that order (meter.db's primary key): then ``_joined_pivot`` may read it."""
    for (name,) in conn.execute("SELECT name FROM pragma_index_list(?, 'main') WHERE \"unique\"", (family.table,)):
        columns = [column for (column,) in conn.execute(
            "SELECT name FROM pragma_index_info(?, 'main') ORDER BY seqno", (name,))]
        if columns == ["Id", family.key_column]:
            return True
    return False


def _joined_pivot(family: Family) -> str:
    """SQL: what the GROUP BY pivot of ``_pivot_into`` gives for an energy-like family (Id, n,
    count, fcount, the tags), as one index lookup per Id and key -- for a table whose (Id, key)
    is unique (``_unique_keys``): the rows of keys the family lacks are the rows no lookup
    matched, and only for an Id that has some is the table read again for them."""
    keys = list(family.keys)
    joined = [f"k{n}" for n in range(len(keys))]
    joins = " ".join(f"LEFT JOIN {family.table} {alias} ON {alias}.Id = i.Id AND {alias}.{family.key_column} = "
                     f"{_lit(key)}" for alias, key in zip(joined, keys))
    matched = "(" + " + ".join(f"({alias}.Id IS NOT NULL)" for alias in joined) + ")"
    count = " + ".join(f"({alias}.Id IS NOT NULL) * {1 << 4 * n}" for n, alias in enumerate(joined))
    filled = " + ".join(f"({alias}.Id IS NOT NULL AND NOT {_all_null(family, alias + '.')}) * {1 << 4 * n}"
                        for n, alias in enumerate(joined))
    known = ", ".join(_lit(key) for key in keys)
    other_filled = (f"CASE WHEN i.n > {matched} THEN (SELECT count(*) FROM {family.table} u WHERE u.Id = i.Id AND "
                    f"(u.{family.key_column} NOT IN ({known}) OR u.{family.key_column} IS NULL) AND NOT "
                    f"{_all_null(family, 'u.')}) ELSE 0 END")
    tags = ", ".join(f"{joined[keys.index(key)]}.{column}"
                     for key, column in (_column(family, tag) for tag in PIVOTED[family.table]))
    return (f"SELECT i.Id, i.n, {count} + (i.n - {matched}) * {UNKNOWN_KEY}, {filled} + ({other_filled}) * "
            f"{UNKNOWN_KEY}, {tags} FROM (SELECT Id, count(*) AS n FROM {family.table} GROUP BY Id) i {joins}")


def _prepare(conn: sqlite3.Connection, names: NameIndex, tolerance: float) -> Tuple[Scan, List[Tuple[Any, ...]]]:
    """The scan of an open database: which RecordTypeIds are which measure, the energy and
    quality rows pivoted into ``work.verify_energy`` and ``work.verify_quality`` (one pass over
    each table), the meters and their newest config values in ``work.verify_meters``.  Also
    returned: the meters (DeviceIdx, MeterId, type name, kind, configs, legacy rows), DeviceIdx order."""
    scan = Scan(conn, _measure_of(names), tolerance)
    _functions(conn)
    for family in (ENERGY, QUALITY):
        _pivot_into(conn, family, tolerance)
    meters = list(conn.execute(
        "SELECT m.DeviceIdx, m.MeterId, t.Type FROM MeterTable m LEFT JOIN MeterTypes t ON t.Id = m.TypeId "
        "ORDER BY m.DeviceIdx"))
    configs: Dict[str, Dict[int, Tuple[int, Row]]] = {}
    for table in CONFIG_TABLES:   # the newest row of each meter (the first one of a Timestamp)
        newest: Dict[int, Tuple[int, Row]] = {}
        make = ROW_TYPES[table]._make
        for rowid, *row in conn.execute(f"SELECT rowid, {', '.join(TABLE_COLUMNS[table])} FROM {table} "
                                        "ORDER BY DeviceIdx, Timestamp DESC, rowid DESC"):
            named = make(row)
            newest[named.DeviceIdx] = (rowid, named)
        configs[table] = newest
    kinds = {device: METER_KINDS.get(type_name or "") for device, _, type_name in meters}
    single = [device for device, kind in kinds.items() if kind is not None and kind.phases == 1]
    legacy = _legacy_rows(conn, scan.ids(QUALITY_MEASURES), single)
    conn.execute("DROP TABLE IF EXISTS work.verify_meters")
    gates = [f"g{n}" for n in range(len(CONFIG_GATES))]
    conn.execute(f"CREATE TABLE work.verify_meters (DeviceIdx INTEGER PRIMARY KEY, trf, {', '.join(gates)}, "
                 f"single, phases, legacy, {', '.join(CONFIG_TABLES)})")
    rows = []
    for device, _, _ in meters:
        kind = kinds[device]
        electric = configs["ElectricConfig"].get(device)

        def flag(tag: str) -> Cell:
            return None if electric is None else getattr(electric[1], CONFIG_TAGS["ElectricConfig"][tag])
        phases = (3 if kind.phases == 3 else 1) if kind is not None and kind.family == "electric" else None
        rows.append((device, flag("isTrf"), *(flag(tag) for tag, _, _ in CONFIG_GATES),
                     int(device in single), phases, int(device in legacy),
                     *(configs[table][device][0] if device in configs[table] else None for table in CONFIG_TABLES)))
    conn.executemany(f"INSERT INTO work.verify_meters VALUES ({', '.join('?' * len(rows[0]))})" if rows else
                     "SELECT 1", rows if rows else [])
    return scan, [(device, meter_id, type_name, kinds[device],
                   {table: configs[table].get(device, (None, None))[1] for table in CONFIG_TABLES}, legacy.get(device))
                  for device, meter_id, type_name in meters]


def _meter_views(scan: Scan, meters: List[Tuple[Any, ...]], types: Mapping[int, Sequence[int]],
                 tz: dt.tzinfo) -> Iterator[MeterView]:
    """One view per MeterTable row, DeviceIdx order, of the RecordTypeIds ``types`` says the meter
    has records of: one query per meter and record type (MeterDataRecord's order), its rows the
    records as they are (``Rec``), every family but ElectricQualityValues."""
    queries: Dict[str, str] = {}
    for narrowed, wanted in VIEW_TAGS.items():   # a measure whose view holds only some tags
        family = FAMILIES[MEASURE_TABLE[narrowed]]
        assert family is ENERGY, "VIEW_TAGS narrows energy measures only"
        values = ", ".join(_pivoted(family, tag) if tag in wanted else "NULL" for tag in family.tags)
        queries[narrowed] = (f"SELECT m.Id, m.Timestamp, m.Valid, coalesce(p.n, 0), {values} FROM MeterData m "
                            "LEFT JOIN work.verify_energy p ON p.Id = m.Id WHERE m.DeviceIdx = ? AND "
                            "m.RecordTypeId = ? ORDER BY m.Timestamp, m.Id")
    for family in VIEW_FAMILIES:
        if family is ENERGY:
            values = ", ".join(_pivoted(family, tag) for tag in family.tags)
            source, rows = "work.verify_energy p ON p.Id = m.Id", "coalesce(p.n, 0)"
        else:
            values = ", ".join([f"v.{_column(family, tag)[1]}" for tag in family.tags]
                               + (list(SLOT_ENERGY.values()) if family is POWER else []))
            source, rows = f"{family.table} v ON v.Id = m.Id", "v.Id IS NOT NULL"
        queries[family.table] = (f"SELECT m.Id, m.Timestamp, m.Valid, {rows}, {values} FROM MeterData m "
                                 f"LEFT JOIN {source} WHERE m.DeviceIdx = ? AND m.RecordTypeId = ? "
                                 "ORDER BY m.Timestamp, m.Id")
    measure_of = scan.measure_of
    midnights: Dict[int, int] = {}
    for device, meter_id, type_name, kind, configs, legacy in meters:
        records: Dict[str, List[Rec]] = {}
        for rtid in types.get(device, ()):
            measure = measure_of.get(rtid)
            if measure is None:
                continue
            query = queries.get(measure) or queries.get(MEASURE_TABLE[measure])
            if query is not None:
                records.setdefault(measure, []).extend(scan.conn.execute(query, (device, rtid)).fetchall())
        yield MeterView(device, meter_id, type_name, kind, MappingProxyType(configs),
                        MappingProxyType({m: tuple(rs) for m, rs in records.items()}), tz, scan.tolerance,
                        legacy, midnights)


class MeterKey(NamedTuple):
    """What a meter's violations name of it."""
    device_idx: int
    meter_id: Any


def run_python_rules(view: MeterView, present: Iterable[str]) -> Dict[str, List[Finding]]:
    """The findings of the Python meter rules that apply to a meter, by rule name."""
    present = frozenset(present)
    return {item.name: list(item.check(view)) for item in RULES.values()
            if item.scope == "meter" and item.applies_to(present)}


def run_rules(view: Union[MeterView, MeterKey], present: Iterable[str], found: Mapping[str, Mapping[int, List[Any]]],
              rules: Optional[Sequence[Rule]] = None,
              python_found: Optional[Mapping[str, List[Finding]]] = None) -> List[Violation]:
    """The violations of one meter under the meter rules that apply to it (those with records of
    ``present``): the Python rules run on its view (or their findings, ``python_found``), the
    SQL rules' findings (``found``: rule name -> DeviceIdx -> (order, Finding)) taken in their
    order."""
    present = frozenset(present)
    out: List[Violation] = []
    for item in rules if rules is not None else RULES.values():
        if item.scope == "database" or not item.applies_to(present):
            continue
        if item.scope == "sql":
            findings: Iterable[Finding] = [finding for _, finding in sorted(
                found.get(item.name, {}).get(view.device_idx, ()), key=itemgetter(0))]
        elif python_found is not None:
            findings = python_found.get(item.name, ())
        else:
            findings = item.check(cast(MeterView, view))
        for finding in findings:
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
    with tempfile.TemporaryDirectory(prefix="gmd-verify-") as workdir:
        return _verify_file(file, tz, tolerance, workdir, raise_on_violation)


def _open(file: str) -> sqlite3.Connection:
    """The database, read-only."""
    try:
        return sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SchemaError(f"{file} cannot be opened: {exc}") from None


def _attach(conn: sqlite3.Connection, schema: str, path: str, writing: bool) -> None:
    """The pass's own file (``work``: its pivot and meter tables), written by this connection or read."""
    conn.execute(f"ATTACH ? AS {schema}", (f"file:{path}?mode={'rwc' if writing else 'ro'}",))
    if writing:
        conn.execute(f"PRAGMA {schema}.journal_mode = OFF")
        conn.execute(f"PRAGMA {schema}.synchronous = OFF")
    conn.execute(f"PRAGMA {schema}.cache_size = -65536")


class _SqlSide:
    """The SQL rules on a second connection, in a thread, once ``work`` is built (``ready``):
    SQLite runs them without the GIL, beside the Python rules of the first connection."""

    def __init__(self, file: str, work: str, names: NameIndex, tolerance: float) -> None:
        self.file, self.work, self.names, self.tolerance = file, work, names, tolerance
        self.found: Dict[str, Dict[int, List[Tuple[Tuple[Any, ...], Finding]]]] = {}
        self.failed: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="gmd-verify-sql", daemon=True)

    def ready(self) -> None:
        """``work`` is committed: run the rules."""
        self.thread.start()

    def _run(self) -> None:
        try:
            conn = _open(self.file)
            try:
                _attach(conn, "work", self.work, writing=False)
                _functions(conn)
                scan = Scan(conn, _measure_of(self.names), self.tolerance)
                for item in RULES.values():
                    if item.scope == "sql":
                        per_meter = self.found.setdefault(item.name, {})
                        for device, order, finding in item.check(scan):
                            per_meter.setdefault(device, []).append((order, finding))
            finally:
                conn.close()
        except BaseException as exc:  # raised in the caller's thread
            self.failed.append(exc)

    def findings(self) -> Dict[str, Dict[int, List[Tuple[Tuple[Any, ...], Finding]]]]:
        """The SQL rules' findings (rule name -> DeviceIdx -> (order, Finding))."""
        self.thread.join()
        if self.failed:
            raise self.failed[0]
        return self.found

    def stop(self) -> None:
        """Wait for the rules' thread if it was started (an error here: its connection closes)."""
        if self.thread.is_alive():
            self.thread.join()


def _verify_file(file: str, tz: dt.tzinfo, tolerance: float, workdir: str,
                 raise_on_violation: bool) -> List[Violation]:
    """``verify`` of a file: the database rules; the pass's tables built once (``_prepare``);
    then the SQL rules on a second connection (``_SqlSide``) while the Python rules run here
    meter by meter; each meter's violations in rule order."""
    conn = _open(file)
    try:
        names = NameIndex.from_connection(conn, file)
        work = os.path.join(workdir, "work.db")
        _attach(conn, "work", work, writing=True)
        side = _SqlSide(file, work, names, tolerance)
        try:
            meter_ids = dict(conn.execute("SELECT DeviceIdx, MeterId FROM MeterTable"))
            database = DatabaseView(conn, names, MappingProxyType(meter_ids))
            violations: List[Violation] = []
            for item in RULES.values():
                if item.scope == "database":
                    violations.extend(replace(v, rule_name=item.name) for v in item.check(database))
            scan, meters = _prepare(conn, names, tolerance)
            conn.commit()   # the pass's tables, for the other connection to read
            side.ready()
            present: Dict[int, Set[str]] = {}
            types: Dict[int, List[int]] = {}
            for device, rtid in conn.execute("SELECT DISTINCT DeviceIdx, RecordTypeId FROM MeterData "
                                             "ORDER BY DeviceIdx, RecordTypeId"):
                if rtid in scan.measure_of:
                    present.setdefault(device, set()).add(scan.measure_of[rtid])
                    types.setdefault(device, []).append(rtid)
            # per meter its key and findings only: a view (every record of the meter) is let go at once
            python_found = [(MeterKey(view.device_idx, view.meter_id),
                             run_python_rules(view, present.get(view.device_idx, ())))
                            for view in _meter_views(scan, meters, types, tz)]
            found = side.findings()
        finally:
            side.stop()
        for key, own in python_found:
            violations.extend(run_rules(key, present.get(key.device_idx, ()), found, python_found=own))
    finally:
        conn.close()
    if violations and raise_on_violation:
        raise VerificationFailed(file, violations, tz)
    return violations
