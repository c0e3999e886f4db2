"""``check``: does the device serve what a load wrote?

``expected_values`` reads what a load (by its ledger token) or a meter (by MeterId) holds in the
target's meter.db -- local file or device over SSH, through ``target.query`` -- as ``Value``s
named by the tag <-> column layout of ``schema/layout.py``.  ``run_check`` hands them to each
interface (RTU-327, the JSON data API), which asks the device for the same meters, measures and
times and compares every value it serves by the device's mapping.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..errors import InputError
from ..schema.layout import (CONFIG_TABLE_MEASURE, CONFIG_TABLES, CONFIG_TAGS, FAMILIES, MEASURE_TABLE,
                             METER_TABLE_COLUMNS, TABLE_COLUMNS)
from ..targets.ledger import LEDGER_TABLE, OWNED_TABLE
from .checking import Interface, Mismatch, Value

METER_MEASURE = "MeterTable"   # the MeterTable row of a meter a load created, as Values (ts 0)


# ---- what the load wrote -----------------------------------------------------------------------------
@dataclass
class _Selection:
    devices: Set[int] = field(default_factory=set)                       # whole meters
    records: Set[Tuple[int, int, int]] = field(default_factory=set)     # (DeviceIdx, RecordTypeId, Timestamp)
    configs: Set[Tuple[str, int, int, str]] = field(default_factory=set)  # (table, DeviceIdx, Timestamp, Serial)

    def touched(self) -> Set[int]:
        return self.devices | {r[0] for r in self.records} | {c[1] for c in self.configs}


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _tables(target) -> Set[str]:
    return {row[0] for row in target.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _select_loads(target, tokens: Sequence[str]) -> _Selection:
    if LEDGER_TABLE not in _tables(target):
        raise InputError("no load of this tool is recorded in this meter.db (no ledger): check by --meter ID")
    selection = _Selection()
    for token in tokens:
        text = str(token).strip().lower()
        rows = target.query(f"SELECT LoadId, Token FROM {LEDGER_TABLE} WHERE lower(Token) LIKE ?", (text + "%",))
        found = {row[1] for row in rows}
        if not found:
            raise InputError(f"--load {token}: no such load in the ledger ('loads' lists them)")
        if len(found) > 1:
            raise InputError(f"--load {token}: {len(found)} loads start with it; give more digits")
        load_ids = [row[0] for row in rows]
        owned = target.query(f"SELECT What, DeviceIdx, MeterId, RecordTypeId, Timestamp, Serial FROM {OWNED_TABLE} "
                             f"WHERE LoadId IN ({_marks(load_ids)})", tuple(load_ids))
        if not owned:
            raise InputError(f"--load {token}: the ledger names no rows of it (a load written by an older version, "
                             "or cleared): check by --meter ID")
        for what, device_idx, meter_id, type_id, stamp, serial in owned:
            if what == "MeterTable":
                still = target.query("SELECT 1 FROM MeterTable WHERE DeviceIdx = ? AND MeterId = ?",
                                     (device_idx, meter_id))
                if still:
                    selection.devices.add(int(device_idx))
            elif what == "MeterData":
                selection.records.add((int(device_idx), int(type_id), int(stamp)))
            elif what in CONFIG_TABLES:
                selection.configs.add((what, int(device_idx), int(stamp), serial))
    return selection


def _select_meters(target, meters: Sequence[int]) -> _Selection:
    selection = _Selection()
    for meter_id in meters:
        rows = target.query("SELECT DeviceIdx FROM MeterTable WHERE MeterId = ?", (int(meter_id),))
        if not rows:
            raise InputError(f"--meter {meter_id}: no meter with this MeterId in meter.db")
        selection.devices.add(int(rows[0][0]))
    return selection


def _column_tags(table: str) -> Dict[str, str]:
    """column -> the tag a config value is named by (the JSON API's, else the column's own name)."""
    tags: Dict[str, str] = {}
    for tag, column in CONFIG_TAGS[table].items():
        if tag != column:
            tags.setdefault(column, tag)
    return tags


def expected_values(target, tokens: Optional[Sequence[str]] = None,
                    meters: Optional[Sequence[int]] = None) -> List[Value]:
    """Every value the named loads (ledger tokens, or unique prefixes) or meters (MeterIds) hold in
    the target's meter.db now; with neither, every meter's."""
    if tokens and meters:
        raise InputError("give --load or --meter, not both")
    if tokens:
        selection = _select_loads(target, tokens)
    elif meters:
        selection = _select_meters(target, meters)
    else:
        selection = _Selection(devices={int(r[0]) for r in target.query("SELECT DeviceIdx FROM MeterTable")})
    devices = sorted(selection.touched())
    if not devices:
        return []
    meter_rows = {int(row[0]): row for row in target.query(
        f"SELECT {', '.join(METER_TABLE_COLUMNS)} FROM MeterTable WHERE DeviceIdx IN ({_marks(devices)})",
        tuple(devices))}
    serials: Dict[int, str] = {}
    for table in CONFIG_TABLES:
        for device_idx, serial in target.query(
                f"SELECT c.DeviceIdx, c.Serial FROM {table} c WHERE c.DeviceIdx IN ({_marks(devices)}) AND c.Timestamp = "
                f"(SELECT max(x.Timestamp) FROM {table} x WHERE x.DeviceIdx = c.DeviceIdx)", tuple(devices)):
            serials.setdefault(int(device_idx), str(serial or ""))

    def value(device_idx: int, measure: str, ts: int, tag: str, cell: object, period=None) -> Value:
        meter = meter_rows.get(device_idx)
        meter_id = int(meter[1]) if meter else 0
        return Value(device_idx, meter_id, serials.get(device_idx, ""), measure, int(ts), tag, cell, period)

    values: List[Value] = []
    whole = selection.devices
    # the MeterTable rows and config rows
    for device_idx in sorted(whole):
        row = meter_rows.get(device_idx)
        if row is not None:
            for column, cell in zip(METER_TABLE_COLUMNS[1:], row[1:]):
                values.append(value(device_idx, METER_MEASURE, 0, column, cell))
    for table in CONFIG_TABLES:
        columns = TABLE_COLUMNS[table]
        tags = _column_tags(table)
        measure = CONFIG_TABLE_MEASURE[table]
        for row in target.query(f"SELECT {', '.join(columns)} FROM {table} WHERE DeviceIdx IN ({_marks(devices)}) "
                                "ORDER BY DeviceIdx, Timestamp", tuple(devices)):
            device_idx, stamp, serial = int(row[0]), row[1], row[2]
            if device_idx not in whole and (table, device_idx, stamp, serial) not in selection.configs:
                continue
            for column, cell in zip(columns[2:], row[2:]):
                values.append(value(device_idx, measure, stamp, tags.get(column, column), cell))
    # the records
    types = {int(row[0]): row[1] for row in target.query("SELECT Id, Name FROM ArchTypes")}
    by_table: Dict[str, List[str]] = {}
    for name in types.values():
        family_table = MEASURE_TABLE.get(name)
        if family_table is not None and family_table in FAMILIES:
            by_table.setdefault(family_table, []).append(name)
    for table, names in by_table.items():
        family = FAMILIES[table]
        cells = {(key, i): tag for tag, (key, i) in family.tags.items()}
        lead = ["v." + family.key_column] if family.key_column else []
        period_index = family.value_columns.index("Period") if "Period" in family.value_columns else None
        sql = (f"SELECT d.DeviceIdx, d.RecordTypeId, d.Timestamp, {', '.join(lead + ['v.' + c for c in family.value_columns])} "
               f"FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId JOIN {table} v ON v.Id = d.Id "
               f"WHERE d.DeviceIdx IN ({_marks(devices)}) AND a.Name IN ({_marks(names)}) "
               "ORDER BY d.DeviceIdx, d.RecordTypeId, d.Timestamp")
        for row in target.query(sql, tuple(devices) + tuple(names)):
            device_idx, type_id, stamp = int(row[0]), int(row[1]), int(row[2])
            if device_idx not in whole and (device_idx, type_id, stamp) not in selection.records:
                continue
            key = row[3] if family.key_column else None
            cells_of_row = row[4:] if family.key_column else row[3:]
            period = cells_of_row[period_index] if period_index is not None else None
            for i, cell in enumerate(cells_of_row):
                tag = cells.get((key, i))
                if tag is not None:
                    values.append(value(device_idx, types[type_id], stamp, tag, cell, period))
    return values


# ---- the check ----------------------------------------------------------------------------------------
@dataclass
class InterfaceSummary:
    """What one interface compared."""

    name: str
    compared: int
    mismatches: int
    notes: List[str] = field(default_factory=list)


@dataclass
class CheckResult:
    """The outcome of ``run_check``: every mismatch, and a summary per interface."""

    values: int
    mismatches: List[Mismatch]
    summaries: List[InterfaceSummary]

    @property
    def ok(self) -> bool:
        """True when every interface served every value it serves as loaded."""
        return not self.mismatches

    def as_dict(self) -> Dict[str, object]:
        return {"values": self.values, "ok": self.ok,
                "interfaces": [{"name": s.name, "compared": s.compared, "mismatches": s.mismatches, "notes": s.notes}
                               for s in self.summaries],
                "mismatches": [{"meter": m.meter_id, "measure": m.measure, "ts": m.ts, "interface": m.interface,
                                "tag": m.tag, "expected": m.expected, "served": m.served} for m in self.mismatches]}


def run_check(target, interfaces: Sequence[Interface], tokens: Optional[Sequence[str]] = None,
              meters: Optional[Sequence[int]] = None) -> CheckResult:
    """Compare what the loads ``tokens`` (or the meters ``meters``; or every meter) hold in
    ``target`` with what each interface serves."""
    values = expected_values(target, tokens, meters)
    mismatches: List[Mismatch] = []
    summaries = []
    for interface in interfaces:
        compared, found = interface.compare(values)
        mismatches.extend(found)
        summaries.append(InterfaceSummary(interface.name, compared, len(found), list(getattr(interface, "notes", []))))
    return CheckResult(len(values), mismatches, summaries)


def _shown(value: object) -> str:
    if value is None:
        return "not served"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def mismatch_line(m: Mismatch, tz: Optional[dt.tzinfo] = None) -> str:
    """One line: meter, measure, time, interface, tag, expected, served."""
    when = "-" if not m.ts else dt.datetime.fromtimestamp(m.ts, tz or dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    expected = "NULL" if m.expected is None else _shown(m.expected)
    return (f"meter {m.meter_id}  {m.measure}  {when} ({m.ts})  {m.interface}  {m.tag}: expected {expected}, "
            f"served {_shown(m.served)}")


def summary_line(s: InterfaceSummary) -> str:
    verdict = "all served as loaded" if not s.mismatches else f"{s.mismatches} mismatch(es)"
    return f"{s.name}: {s.compared} value(s) compared, {verdict}" + "".join(f"; {note}" for note in s.notes)


def meters_of(values: Iterable[Value]) -> List[int]:
    """The MeterIds the values belong to."""
    return sorted({v.meter_id for v in values})
