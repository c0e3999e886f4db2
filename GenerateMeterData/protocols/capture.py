"""Capture mode: read a real (or imitated) meter and write what it says into meter.db through
the same writers as generated data -- ElConfig (serial, model), ElMomentEnergy (1.8.x, 2.8.x,
3.8.x, 4.8.x -> A+/A-/R+/R- per tariff), ElMomentQuality, and for a Neva MT 3xx the half-hour
profile and the day registers.  Units are converted (kWh -> Wh, kW -> W)."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..errors import InputError
from ..generate.emit import Emitter
from ..generate.meters import make_meter
from ..generate.overrides import Overrides
from ..generate.rows import RowSet
from ..generate.scenario import LoadSummary
from ..model import timegrid
from ..model.rng import stream
from ..schema.layout import ENERGY_QUANTITIES
from ..targets.base import Target
from .iec62056.messages import DataSet

UNIT_FACTORS = {"wh": 1.0, "kwh": 1e3, "mwh": 1e6, "varh": 1.0, "kvarh": 1e3, "mvarh": 1e6, "w": 1.0,
                "kw": 1e3, "mw": 1e6, "var": 1.0, "kvar": 1e3, "va": 1.0, "kva": 1e3, "v": 1.0, "kv": 1e3,
                "a": 1.0, "ma": 1e-3, "hz": 1.0, "deg": 1.0, "°": 1.0}
QUALITY_OBIS: Dict[Tuple[int, int, int], str] = {
    (32, 7, 0): "UA", (52, 7, 0): "UB", (72, 7, 0): "UC", (31, 7, 0): "IA", (51, 7, 0): "IB", (71, 7, 0): "IC",
    (21, 7, 0): "PA", (41, 7, 0): "PB", (61, 7, 0): "PC", (1, 7, 0): "PS", (23, 7, 0): "QA", (43, 7, 0): "QB",
    (63, 7, 0): "QC", (3, 7, 0): "QS", (29, 7, 0): "SA", (49, 7, 0): "SB", (69, 7, 0): "SC", (9, 7, 0): "SS",
    (33, 7, 0): "kPA", (53, 7, 0): "kPB", (73, 7, 0): "kPC", (13, 7, 0): "kPS", (14, 7, 0): "Freq",
    (81, 7, 10): "AngAB", (81, 7, 21): "AngBC", (81, 7, 20): "AngAC",
}
MANUFACTURER_TYPES = {"TPC": "NEVA3xx", "EKT": "SE303", "GMD": "NEVA3xx", "INC": "Mercury23x", "ELS": "A1140"}


@dataclass
class Reading:
    """What one read of a meter gave: identity, registers (Wh), quality (tags) and archives."""

    serial: str
    model: str
    manufacturer: str = ""
    timestamp: int = 0
    energy: Dict[str, float] = field(default_factory=dict)       # tags A+0 ... R-4, Wh/varh
    quality: Dict[str, float] = field(default_factory=dict)      # tags UA ... Freq
    profile: List[Tuple[int, float]] = field(default_factory=list)  # (slot end, average W) of P+
    day_registers: List[Tuple[int, List[float]]] = field(default_factory=list)  # (midnight, [T0..T4] Wh A+)
    month_registers: List[Tuple[int, List[float]]] = field(default_factory=list)  # (month start, [T0..T4] Wh A+)


def _scaled(data_set: DataSet, index: int = 0) -> Optional[float]:
    value = data_set.number(index)
    if value is None:
        return None
    unit = (data_set.values[index][1] or "").strip().lower()
    return value * UNIT_FACTORS.get(unit, 1.0)


def reading_from_data_sets(data_sets: List[DataSet], manufacturer: str, model: str,
                           timestamp: Optional[int] = None) -> Reading:
    """Map OBIS data sets of a readout to a Reading."""
    serial = ""
    reading = Reading("", model, manufacturer, int(timestamp or time.time()))
    for data_set in data_sets:
        code = data_set.obis()
        if code is None:
            continue
        _, _, c, d, e, _ = code
        if (c, d, e) in ((0, 0, 0), (96, 1, 0)) and data_set.value:
            serial = serial or data_set.value
        if c == 96 and d == 1 and e == 0 and data_set.value:
            serial = data_set.value
        if c in (1, 2, 3, 4) and d == 8 and 0 <= e <= 4:
            value = _scaled(data_set)
            if value is not None:
                reading.energy[f"{ENERGY_QUANTITIES[c - 1][0]}{e}"] = value
        elif (c, d, e) in QUALITY_OBIS:
            value = _scaled(data_set)
            if value is not None:
                reading.quality[QUALITY_OBIS[(c, d, e)]] = value
    for data_set in data_sets:  # C.1.0 is the manufacturer's serial number, preferred
        if data_set.address.startswith("C.1.0") or data_set.address.endswith("C.1.0*255"):
            serial = data_set.value or serial
    if not serial:
        raise InputError("the meter's readout has no serial number (0.0.0, C.1.0 or 96.1.0)")
    reading.serial = serial
    return reading


def capture_rows(reading: Reading, target: Target, timezone: str = timegrid.DEFAULT_TIMEZONE,
                 meter_type: Optional[str] = None) -> LoadSummary:
    """Write a Reading into the target (one transaction): the meter is found by its serial in
    ElectricConfig, or registered (MeterTable + ElectricConfig) when new."""
    tz = timegrid.zone(timezone)
    existing = target.fetch("SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ? ORDER BY Timestamp DESC LIMIT 1",
                            (reading.serial,))
    type_name = meter_type or MANUFACTURER_TYPES.get(reading.manufacturer.upper(), "SE303")
    has = {q: any(k.startswith(q) for k in reading.energy) for q in ("A-", "R+", "R-")}
    tariffed = any(k[-1] in "1234" and v for k, v in reading.energy.items())

    def produce(ids, names):
        rows = RowSet()
        emitter = Emitter(rows, ids, names, Overrides(), tz)
        if existing:
            device_idx, meter_id = existing[0][0], None
        else:
            meter_id = ids.meter_id()
            spec = make_meter(stream(0, "capture", reading.serial), meter_id, meter_id, type_name,
                              timestamp=reading.timestamp,
                              config_overrides={"serial": reading.serial, "model": reading.model,
                                                "isTrf": 1 if tariffed else 0, "isRp": int(has["R+"]),
                                                "isAm": int(has["A-"]), "isRm": int(has["R-"]), "cArrays": 30})
            spec.device_idx = device_idx = ids.device_idx()
            rows["MeterTable"].append(spec.meter_table_row(names))
            rows["ElectricConfig"].append(spec.config_row())
        if reading.energy:
            keys = (0, 1, 2, 3, 4) if tariffed else (0,)
            values = {t: [reading.energy.get(f"{q}{t}") for q, _ in ENERGY_QUANTITIES] for t in keys}
            emitter.record("ElMomentEnergy", device_idx, meter_id, reading.timestamp, 1, values)
        if reading.quality:
            q = reading.quality
            values = {phase: [q.get(f"U{phase}"), q.get(f"I{phase}"), q.get(f"P{phase}"), q.get(f"Q{phase}"),
                              q.get(f"S{phase}"), q.get(f"kP{phase}"), q.get(angle), None]
                      for phase, angle in (("A", "AngAB"), ("B", "AngBC"), ("C", "AngAC"))}
            values["Summ"] = [None, None, q.get("PS"), q.get("QS"), q.get("SS"), q.get("kPS"), None, q.get("Freq")]
            emitter.record("ElMomentQuality", device_idx, meter_id, reading.timestamp, 1, values)
        for midnight, registers in reading.day_registers:
            emitter.record("ElDayEnergy", device_idx, meter_id, midnight, 1,
                           {t: [registers[t], None, None, None] for t in range(5)})
        for month_start, registers in reading.month_registers:
            emitter.record("ElMonthEnergy", device_idx, meter_id, month_start, 1,
                           {t: [registers[t], None, None, None] for t in range(5)})
        if reading.profile:
            emitter.records("ElArr1ConsPower", device_idx, meter_id,
                            ((end, 1, (30, power, None, None, None, 0, 0, 0)) for end, power in reading.profile))
        yield rows

    return target.load(produce)


def neva_reading(session, meter_timezone: dt.tzinfo, days: int = 0) -> Reading:
    """Read a Neva MT 3xx in programming mode: identity, registers, quality, and ``days`` past
    days of the half-hour archive with their day-start registers."""
    from .iec62056.client import neva_half_hour_registers

    serial = (session.read("60.01.00*FF").value or "").lstrip("0") or session.read("60.01.01*FF").value or ""
    model = session.read("60.01.04*FF").value or ""
    date, clock = session.read("00.09.02*FF").value, session.read("00.09.01*FF").value
    moment = dt.datetime(2000 + int(date[0:2]), int(date[2:4]), int(date[4:6]), int(clock[0:2]), int(clock[2:4]),
                         int(clock[4:6]), tzinfo=meter_timezone)
    reading = Reading(serial, model, "TPC", int(moment.timestamp()))
    for group, quantity in (("0F", "A+"), ("02", "A-"), ("03", "R+"), ("04", "R-")):
        try:
            values = session.read(f"{group}.08.80*FF").value
        except Exception:
            continue
        for tariff, value in enumerate((values or "").split(",")[:5]):
            reading.energy[f"{quantity}{tariff}"] = float(value) * 1000
    for (c, d, e), tag in QUALITY_OBIS.items():
        try:
            value = session.read(f"{c:02X}.{d:02X}.{e:02X}*FF").value
        except Exception:
            continue
        if value not in (None, ""):
            reading.quality[tag] = float(value)
    for days_ago in range(1, days + 1):
        day = neva_half_hour_registers(session, days_ago)
        midnight = timegrid.local_midnight(day["date"], meter_timezone)
        reading.day_registers.append((midnight, [float(v) for v in day["day_start_wh"]]))
        reading.profile.extend((midnight + 1800 * (i + 1), float(p)) for i, p in enumerate(day["powers_w"]))
    return reading
