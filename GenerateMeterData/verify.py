"""Check the invariants of meter.db -- on data this tool generated or on data the device
collected itself -- and report each violation with meter, table, timestamp, expected vs found."""
from __future__ import annotations

import bisect
import datetime as dt
import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from .errors import SchemaError
from .generate.rows import NameIndex
from .model import timegrid
from .schema.layout import ENERGY_QUANTITIES, FAMILIES, MEASURE_TABLE, VALUE_TABLES
from .schema.reference import METER_KINDS

CUMULATIVE = ("ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy")
PROFILE_OF = {"Ap": 0, "Am": 1, "Rp": 2, "Rm": 3}  # energy column -> Pp/Pm/Qp/Qm index
PROFILE_TAGS = ("P+", "P-", "Q+", "Q-")
VOLTAGE_RANGE = (0.8 * 230, 1.2 * 230)
FREQUENCY_RANGE = (49.0, 51.0)
ANGLE_RANGE = (110.0, 130.0)


@dataclass
class Violation:
    """One broken invariant."""

    meter_id: Optional[int]
    device_idx: Optional[int]
    table: str
    timestamp: Optional[int]
    rule: str
    expected: object = None
    found: object = None

    def format(self, tz: dt.tzinfo) -> str:
        """The violation as one line, with the timestamp in the device's local time."""
        who = f"meter {self.meter_id} (DeviceIdx {self.device_idx})" if self.device_idx is not None else "database"
        when = ""
        if self.timestamp is not None:
            when = " " + dt.datetime.fromtimestamp(self.timestamp, tz).strftime("%Y-%m-%d %H:%M:%S %z")
        text = f"{who} {self.table}{when}: {self.rule}"
        if self.expected is not None or self.found is not None:
            text += f": expected {_show(self.expected)}, found {_show(self.found)}"
        return text


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _close(a: Optional[float], b: Optional[float], tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance + 1e-9 * max(abs(a), abs(b))


class Verifier:
    """Runs every check over one meter.db file."""

    def __init__(self, path: str, timezone: str = timegrid.DEFAULT_TIMEZONE,
                 tolerance: float = 0.005) -> None:
        self.path = path
        self.tz = timegrid.zone(timezone)
        self.tolerance = tolerance
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise SchemaError(f"{path} cannot be opened: {exc}") from None
        self.names = NameIndex.from_connection(self.conn, path)
        self.type_of = self.names.record_type_names
        self.violations: List[Violation] = []

    def close(self) -> None:
        """Close the read-only connection."""
        self.conn.close()

    def run(self) -> List[Violation]:
        """Run every check; returns the violations found."""
        self._database_checks()
        meters = list(self.conn.execute(
            "SELECT m.DeviceIdx, m.MeterId, t.Type FROM MeterTable m LEFT JOIN MeterTypes t ON t.Id = m.TypeId "
            "ORDER BY m.DeviceIdx"))
        for device_idx, meter_id, type_name in meters:
            self._meter(device_idx, meter_id, type_name)
        return self.violations

    def add(self, *args, **kwargs) -> None:
        """Record one violation."""
        self.violations.append(Violation(*args, **kwargs))

    # ---- whole-database checks ----------------------------------------------------------
    def _database_checks(self) -> None:
        for device_idx, rtid, ts, count in self.conn.execute(
                "SELECT DeviceIdx, RecordTypeId, Timestamp, count(*) FROM MeterData "
                "GROUP BY DeviceIdx, RecordTypeId, Timestamp HAVING count(*) > 1"):
            self.add(self._meter_id(device_idx), device_idx, self.type_of.get(rtid, str(rtid)), ts,
                     "(DeviceIdx, RecordTypeId, Timestamp) is not unique", 1, count)
        for table in VALUE_TABLES:
            orphans = self.conn.execute(
                f"SELECT count(*) FROM {table} WHERE Id NOT IN (SELECT Id FROM MeterData)").fetchone()[0]
            if orphans:
                self.add(None, None, table, None, "rows whose Id has no MeterData header", 0, orphans)
        dangling = self.conn.execute(
            "SELECT count(*) FROM MeterData WHERE DeviceIdx NOT IN (SELECT DeviceIdx FROM MeterTable)").fetchone()[0]
        if dangling:
            self.add(None, None, "MeterData", None, "headers whose DeviceIdx is not in MeterTable", 0, dangling)
        retention = dict(self.conn.execute("SELECT RecordTypeId, Records FROM ArchInfo"))
        for rtid, most in self.conn.execute(
                "SELECT RecordTypeId, max(n) FROM (SELECT DeviceIdx, RecordTypeId, count(*) AS n "
                "FROM MeterData GROUP BY DeviceIdx, RecordTypeId) GROUP BY RecordTypeId"):
            if rtid in retention and retention[rtid] < most:
                self.add(None, None, "ArchInfo", None,
                         f"Records of {self.type_of.get(rtid, rtid)} is below what a meter holds", f">= {most}",
                         retention[rtid])

    def _meter_id(self, device_idx: int) -> Optional[int]:
        row = self.conn.execute("SELECT MeterId FROM MeterTable WHERE DeviceIdx = ?", (device_idx,)).fetchone()
        return row[0] if row else None

    # ---- per-meter checks ---------------------------------------------------------------
    def _meter(self, device_idx: int, meter_id: int, type_name: Optional[str]) -> None:
        kind = METER_KINDS.get(type_name or "")
        config = self.conn.execute(
            "SELECT IntervalPowerArrays, Tariff, Reactive, ActiveReverse, ReactiveReverse FROM ElectricConfig "
            "WHERE DeviceIdx = ? ORDER BY Timestamp DESC LIMIT 1", (device_idx,)).fetchone()
        headers: Dict[str, List[Tuple[int, int, int]]] = defaultdict(list)
        for record_id, rtid, ts, valid in self.conn.execute(
                "SELECT Id, RecordTypeId, Timestamp, Valid FROM MeterData WHERE DeviceIdx = ? "
                "ORDER BY RecordTypeId, Timestamp", (device_idx,)):
            headers[self.type_of.get(rtid, str(rtid))].append((record_id, ts, valid))
        children = self._children(device_idx)
        ctx = MeterContext(self, device_idx, meter_id, kind, config, headers, children)
        ctx.check_children()
        if any(MEASURE_TABLE.get(m, "").startswith("Electric") for m in headers):
            ctx.check_energy()
            ctx.check_profile()
            ctx.check_quality()
        ctx.check_journals()

    def _children(self, device_idx: int) -> Dict[str, Dict[int, list]]:
        out: Dict[str, Dict[int, list]] = {}
        for table in VALUE_TABLES:
            family = FAMILIES[table]
            rows: Dict[int, list] = defaultdict(list)
            for row in self.conn.execute(
                    f"SELECT v.* FROM {table} v JOIN MeterData m ON m.Id = v.Id WHERE m.DeviceIdx = ?",
                    (device_idx,)):
                rows[row[0]].append(row[1:])
            out[family.table] = rows
        return out


class MeterContext:
    """The rows of one meter and the checks that read them."""

    def __init__(self, verifier: Verifier, device_idx: int, meter_id: int, kind, config, headers, children):
        self.v = verifier
        self.tz = verifier.tz
        self.tol = verifier.tolerance
        self.device_idx = device_idx
        self.meter_id = meter_id
        self.kind = kind
        self.period = int(config[0]) if config and config[0] else None
        flags = config[1:] if config else (None, None, None, None)
        self.tariffed, self.reactive, self.active_reverse, self.reactive_reverse = flags
        self.headers = headers
        self.children = children

    def add(self, table: str, ts: Optional[int], rule: str, expected=None, found=None) -> None:
        """Record a violation of this meter."""
        self.v.add(self.meter_id, self.device_idx, table, ts, rule, expected, found)

    def records(self, measure: str) -> Iterator[Tuple[int, int, int, list]]:
        """(Id, timestamp, valid, child rows) of one measure, oldest first."""
        table = MEASURE_TABLE.get(measure)
        rows = self.children.get(table, {}) if table else {}
        for record_id, ts, valid in self.headers.get(measure, ()):
            yield record_id, ts, valid, rows.get(record_id, [])

    def energy(self, measure: str) -> Dict[int, Dict[int, tuple]]:
        """Valid energy records of a measure: ts -> tariff -> (Ap, Am, Rp, Rm)."""
        return {ts: {row[0]: row[1:] for row in rows}
                for _, ts, valid, rows in self.records(measure) if valid}

    def check_children(self) -> None:
        """Valid = 1 records have their full child rows, Valid = 0 records none."""
        for measure in self.headers:
            table = MEASURE_TABLE.get(measure)
            if table is None:
                continue
            family = FAMILIES[table]
            for _, ts, valid, rows in self.records(measure):
                if not valid:
                    if rows:
                        self.add(measure, ts, "Valid = 0 header has child rows", 0, len(rows))
                    continue
                if family.key_column is None:
                    expected = 1
                elif table == "ElectricEnergyValues":
                    expected = 1 if self.tariffed == 0 else 5
                else:
                    expected = 4
                if len(rows) != expected:
                    self.add(measure, ts, f"Valid = 1 record has {len(rows)} {table} rows", expected, len(rows))

    # ---- energy -------------------------------------------------------------------------
    def check_energy(self) -> None:
        """Totals, monotonic registers, config gating, calendar stamps and consumption."""
        gates = {"Am": self.active_reverse, "Rp": self.reactive, "Rm": self.reactive_reverse}
        columns = ("Ap", "Am", "Rp", "Rm")
        self.cache = {m: self.energy(m) for m in ("ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy",
                                                   "ElDayConsEnergy", "ElMonthConsEnergy")}
        for measure, records in self.cache.items():
            previous: Optional[Dict[int, tuple]] = None
            for ts in sorted(records):
                rows = records[ts]
                if self.tariffed == 0 and set(rows) - {0}:
                    self.add(measure, ts, "ElConfig.Tariff = 0 but tariff rows 1-4 exist", "{0}", sorted(rows))
                for c, column in enumerate(columns):
                    if gates.get(column) == 0:
                        for tariff, row in rows.items():
                            if row[c] is not None:
                                self.add(measure, ts, f"{ENERGY_QUANTITIES[c][0]}{tariff} must be NULL "
                                         f"(ElConfig flag for {column} is 0)", None, row[c])
                    if 0 in rows and all(t in rows for t in (1, 2, 3, 4)):
                        parts = [rows[t][c] for t in (1, 2, 3, 4)]
                        if rows[0][c] is not None and all(p is not None for p in parts):
                            total = sum(parts)
                            if not _close(rows[0][c], total, self.tol):
                                self.add(measure, ts, f"{ENERGY_QUANTITIES[c][0]}0 is not the sum of tariffs 1-4",
                                         total, rows[0][c])
                if measure in CUMULATIVE and previous is not None:
                    for tariff, row in rows.items():
                        before = previous.get(tariff)
                        if before is None:
                            continue
                        for c in range(4):
                            if row[c] is not None and before[c] is not None and row[c] < before[c] - self.tol:
                                self.add(measure, ts, f"register {ENERGY_QUANTITIES[c][0]}{tariff} decreased",
                                         f">= {before[c]:.3f}", row[c])
                previous = rows
        self._check_calendar()
        self._check_consumption("ElDayEnergy", "ElDayConsEnergy")
        self._check_consumption("ElMonthEnergy", "ElMonthConsEnergy")

    def _check_calendar(self) -> None:
        for measure in ("ElDayEnergy", "ElDayConsEnergy"):
            stamps = sorted(ts for _, ts, _, _ in self.records(measure))
            for ts in stamps:
                if timegrid.local_midnight(timegrid.local_datetime(ts, self.tz).date(), self.tz) != ts:
                    self.add(measure, ts, "not stamped at local midnight")
            days = [timegrid.local_datetime(ts, self.tz).date() for ts in stamps]
            for a, b in zip(days, days[1:]):
                if (b - a).days > 1:
                    self.add(measure, stamps[days.index(b)], "days missing before this record",
                             str(a + dt.timedelta(days=1)), str(b))
        for measure in ("ElMonthEnergy", "ElMonthConsEnergy"):
            stamps = sorted(ts for _, ts, _, _ in self.records(measure))
            for ts in stamps:
                local = timegrid.local_datetime(ts, self.tz)
                if local.day != 1 or timegrid.local_midnight(local.date(), self.tz) != ts:
                    self.add(measure, ts, "not stamped at local midnight of the 1st")
            months = [timegrid.local_datetime(ts, self.tz).date() for ts in stamps]
            for a, b in zip(months, months[1:]):
                if timegrid.add_months(a, 1) < b.replace(day=1):
                    self.add(measure, stamps[months.index(b)], "months missing before this record",
                             str(timegrid.add_months(a, 1)), str(b))

    def _next_stamp(self, ts: int, monthly: bool) -> int:
        day = timegrid.local_datetime(ts, self.tz).date()
        following = timegrid.add_months(day, 1) if monthly else day + dt.timedelta(days=1)
        return timegrid.local_midnight(following, self.tz)

    def _check_consumption(self, register_measure: str, cons_measure: str) -> None:
        registers, consumption = self.cache[register_measure], self.cache[cons_measure]
        monthly = register_measure == "ElMonthEnergy"
        for ts, rows in sorted(consumption.items()):
            later = registers.get(self._next_stamp(ts, monthly))
            current = registers.get(ts)
            if later is None or current is None:
                continue
            for tariff, row in rows.items():
                a, b = current.get(tariff), later.get(tariff)
                if a is None or b is None:
                    continue
                for c in range(4):
                    if row[c] is None or a[c] is None or b[c] is None:
                        continue
                    expected = b[c] - a[c]
                    if not _close(row[c], expected, self.tol):
                        self.add(cons_measure, ts, f"{ENERGY_QUANTITIES[c][0]}{tariff} is not the difference "
                                 f"of the {register_measure} readings", expected, row[c])

    # ---- load profile -------------------------------------------------------------------
    def check_profile(self) -> None:
        """Profile period, boundaries, daily energy and moment registers against the profile."""
        profile: List[Tuple[int, tuple]] = []
        for _, ts, valid, rows in self.records("ElArr1ConsPower"):
            if not valid or not rows:
                continue
            row = rows[0]
            period = row[0]
            if self.period and period != self.period:
                self.add("ElArr1ConsPower", ts, "Period differs from ElConfig.IntervalPowerArrays", self.period, period)
            if period:
                midnight = timegrid.local_midnight(timegrid.local_datetime(ts, self.tz).date(), self.tz)
                if (ts - midnight) % (int(period) * 60):
                    self.add("ElArr1ConsPower", ts, f"not on a {period}-minute boundary")
            for index, gate in ((2, self.active_reverse), (3, self.reactive), (4, self.reactive_reverse)):
                if gate == 0 and row[index] is not None:
                    self.add("ElArr1ConsPower", ts, f"{PROFILE_TAGS[index - 1]} must be NULL (ElConfig flag is 0)",
                             None, row[index])
            profile.append((ts, row))
        self.profile = profile
        if not profile:
            return
        ends = [ts for ts, _ in profile]
        day_cons = self.cache.get("ElDayConsEnergy", {})
        day_registers = self.cache.get("ElDayEnergy", {})
        for day_ts, rows in sorted(day_cons.items()):
            total = rows.get(0)
            next_ts = self._next_stamp(day_ts, False)
            lo, hi = bisect.bisect_right(ends, day_ts), bisect.bisect_right(ends, next_ts)
            slots = profile[lo:hi]
            if not slots or total is None:
                continue
            period = slots[0][1][0] or 30
            if len(slots) != (next_ts - day_ts) // (int(period) * 60):
                continue  # incomplete day: nothing to compare
            for c in range(4):
                if total[c] is None or any(s[1][1 + c] is None for s in slots):
                    continue
                energy = sum(s[1][1 + c] * s[1][0] / 60 for s in slots)
                if not _close(energy, total[c], self.tol + 1e-6 * len(slots)):
                    self.add("ElArr1ConsPower", day_ts, f"profile energy of the day ({PROFILE_TAGS[c]}) "
                             f"differs from ElDayConsEnergy {ENERGY_QUANTITIES[c][0]}0", total[c], energy)
        # moment registers against the day register plus the profile so far
        for ts, rows in sorted(self.cache.get("ElMomentEnergy", {}).items()):
            total = rows.get(0)
            midnight = timegrid.local_midnight(timegrid.local_datetime(ts, self.tz).date(), self.tz)
            base = day_registers.get(midnight, {}).get(0)
            if total is None or base is None:
                continue
            lo, hi = bisect.bisect_right(ends, midnight), bisect.bisect_right(ends, ts)
            slots = profile[lo:hi]
            period = (slots[0][1][0] if slots else self.period) or 30
            if len(slots) != (ts - midnight) // (int(period) * 60):
                continue
            following = profile[hi][1] if hi < len(profile) and ends[hi] - int(period) * 60 < ts else None
            for c in range(4):
                if total[c] is None or base[c] is None or any(s[1][1 + c] is None for s in slots):
                    continue
                low = base[c] + sum(s[1][1 + c] * s[1][0] / 60 for s in slots)
                high = low + (following[1 + c] * following[0] / 60 if following and following[1 + c] else 0.0)
                if total[c] < low - self.tol or total[c] > high + self.tol:
                    self.add("ElMomentEnergy", ts, f"{ENERGY_QUANTITIES[c][0]}0 is not the day register plus "
                             "the profile energy so far", f"{low:.3f}..{high:.3f}", total[c])

    # ---- quality ------------------------------------------------------------------------
    def check_quality(self) -> None:
        """S, kP and I per phase, sums of the phases, realistic ranges, single-phase rules."""
        single = self.kind is not None and self.kind.phases == 1
        tol = max(self.tol, 0.002)
        for _, ts, valid, rows in self.records("ElMomentQuality"):
            if not valid:
                continue
            by_phase = {row[0]: row[1:] for row in rows}
            summ = by_phase.get("Summ")
            phases = [by_phase.get(p) for p in ("A", "B", "C")]
            for name, row in zip(("A", "B", "C"), phases):
                if row is None:
                    continue
                u, i, p, q, s, kp, angle, f = row
                if single and name != "A":
                    if any(value is not None for value in row):
                        self.add("ElMomentQuality", ts, f"single-phase meter has phase {name} values", None, row)
                    continue
                if None in (p, q, s):
                    continue
                if abs(s - math.hypot(p, q)) > tol + 1e-6 * abs(s):
                    self.add("ElMomentQuality", ts, f"S{name}^2 != P{name}^2 + Q{name}^2", math.hypot(p, q), s)
                if s and kp is not None and abs(kp - p / s) > 5e-4:
                    self.add("ElMomentQuality", ts, f"kP{name} != P{name}/S{name}", p / s, kp)
                if u is not None and i is not None and kp is not None and abs(u * i * kp - p) > 0.01 * s + 0.0006 * u + tol:
                    self.add("ElMomentQuality", ts, f"P{name} != U{name}*I{name}*kP{name}", u * i * kp, p)
                if u is not None and not VOLTAGE_RANGE[0] <= u <= VOLTAGE_RANGE[1]:
                    self.add("ElMomentQuality", ts, f"U{name} outside {VOLTAGE_RANGE[0]:.0f}-{VOLTAGE_RANGE[1]:.0f} V", None, u)
                if angle is not None and not ANGLE_RANGE[0] <= angle <= ANGLE_RANGE[1]:
                    self.add("ElMomentQuality", ts, f"phase angle of {name} not near 120 degrees", None, angle)
            if summ is None:
                continue
            for index, label in ((2, "PS"), (3, "QS")):
                parts = [row[index] for row in phases if row is not None and row[index] is not None]
                if parts and summ[index] is not None and abs(sum(parts) - summ[index]) > tol:
                    self.add("ElMomentQuality", ts, f"{label} is not the sum of the phases", sum(parts), summ[index])
            freq = summ[7]
            if freq is not None and not FREQUENCY_RANGE[0] <= freq <= FREQUENCY_RANGE[1]:
                self.add("ElMomentQuality", ts, "Freq outside 49-51 Hz", None, freq)

    # ---- journals -----------------------------------------------------------------------
    def check_journals(self) -> None:
        """Increasing EventId, alternating power journal, outages visible in the profile."""
        for measure in self.headers:
            if MEASURE_TABLE.get(measure) != "JournalValues":
                continue
            events = [(ts, rows[0]) for _, ts, valid, rows in self.records(measure) if valid and rows]
            previous_id = None
            for ts, (event, event_id) in events:
                if previous_id is not None and event_id is not None and event_id <= previous_id:
                    self.add(measure, ts, "EventId does not increase", f"> {previous_id}", event_id)
                previous_id = event_id if event_id is not None else previous_id
            if measure == "ElJrnlPwr":
                for (ts_a, (ev_a, _)), (ts_b, (ev_b, _)) in zip(events, events[1:]):
                    if ev_a == ev_b:
                        self.add(measure, ts_b, "power journal does not alternate off/on", 1 - ev_a, ev_b)
                    elif ev_a == 0 and ev_b == 1:
                        self._check_outage(ts_a, ts_b)

    def _check_outage(self, off: int, on: int) -> None:
        for ts, row in getattr(self, "profile", []):
            period_s = int(row[0] or 30) * 60
            start = ts - period_s
            if start >= off and ts <= on:
                if (row[1] or 0) != 0 or (row[2] or 0) != 0:
                    self.add("ElArr1ConsPower", ts, "power during an outage of ElJrnlPwr", 0.0, row[1])
            elif start < on and ts > off and not row[5]:
                self.add("ElArr1ConsPower", ts, "slot cut by an outage is not marked isPart", 1, row[5])


def verify(path: str, timezone: str = timegrid.DEFAULT_TIMEZONE, tolerance: float = 0.005) -> List[Violation]:
    """Every violation of the invariants in the meter.db at ``path``."""
    verifier = Verifier(path, timezone, tolerance)
    try:
        return verifier.run()
    finally:
        verifier.close()
