"""Capture mode (the meter layer): read a real (or imitated) meter and write what it says into
meter.db through the same writers as generated data -- ElConfig (serial, model), ElMomentEnergy (1.8.x, 2.8.x,
3.8.x, 4.8.x -> A+/A-/R+/R- per tariff), ElMomentQuality, and for a Neva MT 3xx the half-hour
profile and the day registers.  Units are converted (kWh -> Wh, kW -> W).

A capture joins the story of its meter (``plan_capture``): the meter's one ElectricConfig,
written by its first capture, decides what later ones write, so a plain readout and a Neva
archive capture in any order and repeated give rows that ``verify`` accepts."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import InputError
from ..generate.emit import Emitter, journal_values
from ..generate.meters import make_meter
from ..generate.overrides import Overrides
from ..records.rows import RowSet, tags_to_values
from ..generate.scenario import LoadSummary
from ..model import timegrid
from ..model.rng import stream
from ..protocols.iec62056.messages import DataSet
from ..protocols.mbus.electricity import ENERGY_SUBUNITS, KIND_OF_QUANTITY, PHASE_SUBUNITS
from ..protocols.obis import ENERGY_BY_CODE, QUALITY_BY_CODE, energy_code, instantaneous
from ..protocols.reading import UNIT_FACTORS, Reading
from ..schema.layout import ENERGY, ENERGY_GATES, ENERGY_QUANTITIES, POWER, QUALITY
from ..schema.reference import MANUFACTURER_TYPES, UNKNOWN_MANUFACTURER_TYPES
from ..targets.base import Target



def meter_type_of(reading: "Reading", given: Optional[str] = None) -> str:
    """The MeterTypes.Type a new meter is registered as: ``given``, else by manufacturer (a
    single-phase type when the reading has quality values on phase A only)."""
    if given:
        return given
    three_phase, single_phase = MANUFACTURER_TYPES.get(reading.manufacturer.upper(), UNKNOWN_MANUFACTURER_TYPES)
    phases = {QUALITY.tags[tag][0] for tag, value in reading.quality.items()
              if value is not None and tag in QUALITY.tags}
    if "A" in phases and not phases & {"B", "C"}:
        return single_phase   # the device writes no all-NULL phase row: a three-phase type would miss B and C
    return three_phase


def _scaled(data_set: DataSet, index: int = 0) -> Optional[float]:
    value = data_set.number(index)
    if value is None:
        return None
    unit = (data_set.values[index][1] or "").strip().lower()
    return value * UNIT_FACTORS.get(unit, 1.0)


def reading_from_data_sets(data_sets: List[DataSet], manufacturer: str, model: str,
                           timestamp: Optional[int] = None, *,
                           clock: Callable[[], float] = time.time) -> Reading:
    """Map OBIS data sets of a readout to a Reading stamped ``timestamp`` (default: ``clock()``
    when the readout was taken, the wall clock unless a test gives another)."""
    serial = ""
    reading = Reading("", model, manufacturer, int(clock() if timestamp is None else timestamp))
    for data_set in data_sets:
        code = data_set.obis()
        if code is None:
            continue
        _, _, c, d, e, _ = code
        if (c, d, e) in ((0, 0, 0), (96, 1, 0)) and data_set.value:
            serial = serial or data_set.value
        if c == 96 and d == 1 and e == 0 and data_set.value:
            serial = data_set.value
        if c == 96 and d == 1 and e == 1 and data_set.value:
            reading.model = data_set.value   # the model as the meter names it (the DLMS object of the same name)
        if (c, d, e) in ENERGY_BY_CODE:
            value = _scaled(data_set)
            if value is not None:
                reading.energy[ENERGY_BY_CODE[(c, d, e)].tag] = value
        elif (c, d, e) in QUALITY_BY_CODE:
            value = _scaled(data_set)
            if value is not None:
                reading.quality[QUALITY_BY_CODE[(c, d, e)].tag] = value
    for data_set in data_sets:  # C.1.0 is the manufacturer's serial number, preferred
        if data_set.address.startswith("C.1.0") or data_set.address.endswith("C.1.0*255"):
            serial = data_set.value or serial
    if not serial:
        raise InputError("the meter's readout has no serial number (0.0.0, C.1.0 or 96.1.0)")
    reading.serial = serial
    return reading


#: ElectricConfig flag columns -> (config tag, the reading's energy prefix)
#: The directions of energy an ElectricConfig flag switches (A-, R+, R-), in ENERGY_GATES order.
GATED = tuple(gate.energy for gate in ENERGY_GATES)
#: The profile period a Neva archive has (minutes).
NEVA_PERIOD = 30


class CaptureConflict(InputError):
    """A reading that cannot join the story the database already holds for its meter."""


@dataclass
class CapturePlan:
    """How a reading joins meter.db: a new meter with flags from the reading, or the existing
    meter (same MeterTable row, its one ElectricConfig) whose flags decide what is written."""

    reading: Reading
    device_idx: Optional[int]             # None: a new meter
    meter_id: Optional[int]
    tariffed: bool                        # energy rows for tariffs 0-4 (else tariff 0 alone)
    flags: Dict[str, int]                 # "A-"/"R+"/"R-" -> 0/1 as ElectricConfig says (or will say)
    period: Optional[int]                 # the Period of the meter's stored profile (None: none stored)
    existing: Dict[str, set] = field(default_factory=dict)  # measure -> stamps already stored
    last_event: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # journal -> (newest stamp, its EventId)
    notes: List[str] = field(default_factory=list)


def _reading_flags(reading: Reading) -> Tuple[bool, Dict[str, int]]:
    tariffed = any(k[-1] in "1234" and v for k, v in reading.energy.items())
    flags = {q: int(any(k.startswith(q) and v is not None for k, v in reading.energy.items()))
             for q in GATED}
    return tariffed, flags


def plan_capture(reading: Reading, target: Target) -> CapturePlan:
    """Find the reading's meter by its serial and decide what may be written (read only).

    A new meter is registered with the flags of what it reported.  A known meter keeps its one
    ElectricConfig: a quantity the config says it does not measure is written as NULL, tariffs
    1-4 only when it has a tariff unit (rows of tariffs 1-4 that the reading lacks are NULL),
    records already stored (same archive, same stamp) are not written again; a profile whose
    period is not that of the profile already stored (its rows' Period: IntervalPowerArrays is
    the number of profile arrays, see schema/contract.py) is refused (CaptureConflict), nothing
    written."""
    tariffed, flags = _reading_flags(reading)
    found = target.fetch(
        f"SELECT c.DeviceIdx, m.MeterId, c.Tariff, {', '.join('c.' + g.column for g in ENERGY_GATES)}, "
        "(SELECT p.Period FROM MeterData d JOIN ElectricPowerValues p ON p.Id = d.Id "
        " JOIN ArchTypes a ON a.Id = d.RecordTypeId WHERE d.DeviceIdx = c.DeviceIdx AND a.Name = 'ElArr1ConsPower' "
        " ORDER BY d.Timestamp DESC LIMIT 1) "
        "FROM ElectricConfig c LEFT JOIN MeterTable m ON m.DeviceIdx = c.DeviceIdx "
        "WHERE c.Serial = ? ORDER BY c.Timestamp DESC LIMIT 1", (reading.serial,))
    if not found:
        return CapturePlan(reading, None, None, tariffed, flags, None)
    device_idx, meter_id, has_tariff, *stored_flags, period = found[0]
    plan = CapturePlan(reading, device_idx, meter_id, bool(has_tariff),
                       {q: int(bool(v)) for q, v in zip(GATED, stored_flags)}, period)
    who = f"meter {meter_id if meter_id is not None else '?'} (serial {reading.serial})"
    if reading.profile and period and period != NEVA_PERIOD:
        raise CaptureConflict(f"capture: {who} has a stored profile of {period}-min slots (Period) but the meter's "
                              f"profile has {NEVA_PERIOD}-min slots; nothing was written (capture without --days, "
                              "or into another meter.db)")
    dropped = [q for q in GATED if flags[q] and not plan.flags[q]]
    if dropped:
        plan.notes.append(f"{who}: ElectricConfig says it does not measure {', '.join(dropped)}: written as NULL")
    if tariffed and not plan.tariffed:
        plan.notes.append(f"{who}: ElectricConfig says it has no tariff unit: tariffs 1-4 not written")
    measures = ("ElMomentEnergy", "ElMomentQuality", "ElDayEnergy", "ElMonthEnergy", "ElArr1ConsPower")
    for name, ts in target.fetch(
            "SELECT a.Name, m.Timestamp FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
            f"WHERE m.DeviceIdx = ? AND a.Name IN ({', '.join('?' * len(measures))})", (device_idx, *measures)):
        plan.existing.setdefault(name, set()).add(ts)
    journals = sorted({name for name, _, _ in reading.journals})
    if journals:
        for name, ts, event_id in target.fetch(
                "SELECT a.Name, m.Timestamp, j.EventId FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                "JOIN JournalValues j ON j.Id = m.Id "
                f"WHERE m.DeviceIdx = ? AND a.Name IN ({', '.join('?' * len(journals))}) ORDER BY m.Timestamp",
                (device_idx, *journals)):
            plan.last_event[name] = (ts, event_id if event_id is not None else -1)
    return plan


def capture_rows(reading: Reading, target: Target, timezone: Optional[str] = None,
                 meter_type: Optional[str] = None, *, dry_run: bool = False,
                 notes: Optional[List[str]] = None, plan: Optional[CapturePlan] = None) -> LoadSummary:
    """Write a Reading into the target (one transaction): the meter is found by its serial in
    ElectricConfig and the reading joins its story (see ``plan_capture``), or it is registered
    (MeterTable + ElectricConfig) when new.  ``dry_run``: count what would be written, write
    nothing (the summary has no token).  ``notes`` collects what was not written and why;
    ``plan``: one ``plan_capture`` made for this reading and target just before.  ``timezone``:
    the device's, by default the target's (``target.context``)."""
    tz = timegrid.zone(timezone or target.context.timezone)
    plan = plan or plan_capture(reading, target)
    if notes is not None:
        notes.extend(plan.notes)
    type_name = meter_type_of(reading, meter_type)
    skipped: List[str] = []

    def fresh(measure: str, ts: int) -> bool:
        if ts in plan.existing.get(measure, ()):
            skipped.append(measure)
            return False
        return True

    def energy_values(get) -> Dict[int, list]:
        keys = (0, 1, 2, 3, 4) if plan.tariffed else (0,)
        return tags_to_values(ENERGY.table, {f"{q}{t}": get(q, t) for t in keys for q, _ in ENERGY_QUANTITIES
                                             if q == "A+" or plan.flags[q]}, keys)

    def produce(ids, names):
        rows = RowSet()
        emitter = Emitter(rows, ids, names, Overrides(), tz)
        device_idx, meter_id = plan.device_idx, None
        if device_idx is None:
            meter_id = ids.meter_id()
            spec = make_meter(stream(0, "capture", reading.serial), meter_id, meter_id, type_name,
                              timestamp=reading.timestamp,
                              config_overrides={"serial": reading.serial, "model": reading.model,
                                                "isTrf": int(plan.tariffed),
                                                **{g.tag: plan.flags[g.energy] for g in ENERGY_GATES}},
                              period_minutes=NEVA_PERIOD)
            spec.device_idx = device_idx = ids.device_idx()
            rows["MeterTable"].append(spec.meter_table_row(names))
            rows["ElectricConfig"].append(spec.config_row())
        if reading.energy and fresh("ElMomentEnergy", reading.timestamp):
            emitter.record("ElMomentEnergy", device_idx, meter_id, reading.timestamp, 1,
                           energy_values(lambda q, t: reading.energy.get(f"{q}{t}")))
        if reading.quality and fresh("ElMomentQuality", reading.timestamp):
            emitter.record("ElMomentQuality", device_idx, meter_id, reading.timestamp, 1,
                           tags_to_values(QUALITY.table, reading.quality))  # no all-NULL phase row (contract)
        for measure, archive in (("ElDayEnergy", reading.day_registers), ("ElMonthEnergy", reading.month_registers)):
            for stamp, registers in archive:
                if fresh(measure, stamp):
                    emitter.record(measure, device_idx, meter_id, stamp, 1,
                                   energy_values(lambda q, t: registers[t] if q == "A+" else None))
        if reading.profile:
            other = {g.profile for g in ENERGY_GATES if plan.flags[g.energy]}
            emitter.records("ElArr1ConsPower", device_idx, meter_id,
                            ((end, 1, tags_to_values(POWER.table, {"cTime": NEVA_PERIOD, "P+": power,
                                                                   "isPart": int(end in reading.profile_partial),
                                                                   "isOvfl": 0, "isSummer": 0,
                                                                   **{tag: value for tag, value in
                                                                      reading.profile_other.get(end, {}).items()
                                                                      if tag in other}}))
                             for end, power in reading.profile if fresh("ElArr1ConsPower", end)))
        # journals: only records newer than the newest stored, numbered on from its EventId (the
        # meter's ring of records holds no running number: verify's journal-event-id-increases)
        last = dict(plan.last_event)
        for name, ts, event in sorted(reading.journals, key=lambda r: (r[0], r[1])):
            newest, event_id = last.get(name, (None, -1))
            if newest is not None and ts <= newest:
                skipped.append(name)
                continue
            emitter.record(name, device_idx, meter_id, ts, 1, journal_values(event, event_id + 1))
            last[name] = (ts, event_id + 1)
        yield rows

    from ..targets.counting import CountingTarget  # a dry run counts what the load would write

    summary = (CountingTarget(target) if dry_run else target).load(produce)
    if skipped and notes is not None:
        counts = {m: skipped.count(m) for m in dict.fromkeys(skipped)}
        notes.append("already stored, not written again: " + ", ".join(f"{m} {n}" for m, n in counts.items()))
    return summary


def neva_reading(session, meter_timezone: dt.tzinfo, days: int = 0) -> Reading:
    """Read a Neva MT 3xx in programming mode: identity, registers, quality, and ``days`` past
    days of the half-hour archive with their day-start registers.  Stamped by the meter's own
    clock (its date and time registers in ``meter_timezone``), as its archive is."""
    from ..protocols.iec62056.client import neva_half_hour_registers
    from ..protocols.iec62056.messages import IECError, obis_to_neva
    from ..protocols.overrides import NEVA_LISTS

    serial = (session.read("60.01.00*FF").value or "").lstrip("0") or session.read("60.01.01*FF").value or ""
    model = session.read("60.01.04*FF").value or ""
    date, clock = session.read("00.09.02*FF").value, session.read("00.09.01*FF").value
    moment = dt.datetime(2000 + int(date[0:2]), int(date[2:4]), int(date[4:6]), int(clock[0:2]), int(clock[2:4]),
                         int(clock[4:6]), tzinfo=meter_timezone)
    reading = Reading(serial, model, "TPC", int(moment.timestamp()))
    lists: Dict[str, Tuple[int, int, int]] = {}  # the first list register of each direction (0F for A+)
    for code, direction in NEVA_LISTS.items():
        lists.setdefault(direction, code)
    for direction, code in lists.items():
        try:
            values = session.read(obis_to_neva(*code)).value
        except IECError as exc:
            if exc.category != "meter-error":  # a dead link or a garbled answer fails the capture
                raise
            continue  # the meter said (ERRnn): it does not measure this quantity
        for tariff, value in enumerate((values or "").split(",")[:5]):
            reading.energy[ENERGY_BY_CODE[energy_code(direction, tariff)].tag] = float(value) * 1000
    for code, quantity in QUALITY_BY_CODE.items():
        try:
            value = session.read(obis_to_neva(*code)).value
        except IECError as exc:
            if exc.category != "meter-error":
                raise
            continue
        if value not in (None, ""):
            reading.quality[quantity.tag] = float(value)
    # --days N: N complete past days and today so far (its midnight registers and the half hours
    # completed by the meter's clock; the meter reads 0 for the slots still to come)
    for days_ago in range(days, -1 if days else 0, -1):
        day: Dict[str, Any] = neva_half_hour_registers(session, days_ago)
        midnight = timegrid.local_midnight(day["date"], meter_timezone)
        reading.day_registers.append((midnight, [float(v) for v in day["day_start_wh"]]))
        reading.profile.extend((midnight + 1800 * (i + 1), float(p)) for i, p in enumerate(day["powers_w"])
                               if days_ago or midnight + 1800 * (i + 1) <= reading.timestamp)
    return reading




def mbus_reading(telegrams, clock: Callable[[], float] = time.time) -> Reading:
    """The reading of an M-Bus meter's telegrams, stamped ``clock()`` when they were read (the
    wall clock unless a test gives another): instantaneous records of energy per tariff and
    subunit, voltage, current and power per phase.  A telegram whose status reports an
    application error, a permanent or a temporary error (``tables.STATUS_REFUSED``) is one
    error: nothing of the meter is taken (power low alone is read as usual)."""
    from ..protocols.mbus.records import DecodeError
    from ..protocols.mbus.tables import STATUS_REFUSED, status_text

    first = telegrams[0]
    for telegram in telegrams:   # a meter that reports an error: its values are not taken
        status = int(str(telegram.header.get("status", "00")), 16)
        if status & STATUS_REFUSED:
            raise DecodeError(f"M-Bus meter {first.header.get('id', '?')} reports status {status:02X}h "
                              f"({status_text(status)}); nothing was written", "status")
    reading = Reading(str(first.header.get("id", "")),
                      f"{first.header.get('manufacturer', '')} v{first.header.get('version', '')}",
                      str(first.header.get("manufacturer", "")), int(clock()))
    for telegram in telegrams:
        for record in telegram.records:
            if record.manufacturer_specific or record.storage_number or not isinstance(record.value, float):
                continue
            if record.function != "Instantaneous value":
                continue
            if record.quantity == "Energy" and record.unit == "Wh" and record.subunit < len(ENERGY_SUBUNITS) \
                    and record.tariff <= 4:
                code = energy_code(ENERGY_SUBUNITS[record.subunit], record.tariff)
                reading.energy[ENERGY_BY_CODE[code].tag] = record.value
            elif record.quantity in KIND_OF_QUANTITY and record.subunit < len(PHASE_SUBUNITS):
                quantity = instantaneous(KIND_OF_QUANTITY[record.quantity], PHASE_SUBUNITS[record.subunit])
                reading.quality[quantity.tag] = record.value
    return reading
