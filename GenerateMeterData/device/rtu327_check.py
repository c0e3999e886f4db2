"""The RTU-327 side of ``check``: asks a concentrator (or the stand-in) for every value of a load
it serves and compares them by the device's mapping (``rtu327_mapping``).

Requests per meter: one GETSHPRM; one GETPOK per energy record (the Tariff 0 row); GETAUTOREAD
per channel for the day and month registers, up to ``batch`` records a round trip; GETTESTS for
the quality records, ``batch`` a round trip; one GETLP per meter-day of profile; one GETMTRLOG
for the journals.  Values RTU-327 does not carry (consumption archives, pulse, digital, reactive
quality, other journals, eventId, isSummer ...) are not counted.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from ..protocols.rtu327 import commands as c
from ..protocols.rtu327.frames import Result, ResultError
from . import rtu327_mapping as m
from .checking import Mismatch, Value

DAY = 86400


class Rtu327Interface:
    """``Rtu327Interface(client)``: implements ``checking.Interface`` over an Rtu327Client."""

    name = "rtu327"

    def __init__(self, client, batch: int = 100) -> None:
        self.client = client
        self.batch = max(1, min(batch, 127))   # GETAUTOREAD's Kk and GETTESTS' NumTests are INT8
        self.notes: List[str] = []
        self._compared = 0
        self._mismatches: List[Mismatch] = []

    # ---- bookkeeping --------------------------------------------------------------------------------
    def _check(self, v: Value, expected_wire: float, served_wire: Optional[float], to_db: float = 1.0,
               tag: Optional[str] = None) -> None:
        """Compare one value on the wire's scale; a mismatch shows both on meter.db's scale."""
        self._compared += 1
        if served_wire is not None and m.same(expected_wire, served_wire):
            return
        served = None if served_wire is None or served_wire == c.NO_VALUE else served_wire * to_db
        self._mismatches.append(Mismatch(v.meter_id, v.measure, v.ts, self.name, tag or v.tag, v.value, served))

    def _check_exact(self, v: Value, expected: object, served: object) -> None:
        self._compared += 1
        if expected != served:
            self._mismatches.append(Mismatch(v.meter_id, v.measure, v.ts, self.name, v.tag, v.value, served))

    def _missing(self, values: Sequence[Value]) -> None:
        for v in values:
            self._compared += 1
            self._mismatches.append(Mismatch(v.meter_id, v.measure, v.ts, self.name, v.tag, v.value, None))

    # ---- the interface --------------------------------------------------------------------------------
    def compare(self, expected: Sequence[Value]) -> Tuple[int, List[Mismatch]]:
        self._compared, self._mismatches, self.notes = 0, [], []
        by_meter: Dict[int, List[Value]] = defaultdict(list)
        for v in expected:
            by_meter[v.device_idx].append(v)
        addresses: Dict[str, List[int]] = defaultdict(list)
        for device_idx, values in by_meter.items():
            serial = values[0].serial.strip()
            if serial.isdigit() and serial.isascii() and any(self._served(v) for v in values):
                addresses[c.address_digits(serial)].append(device_idx)
        for device_idx, values in sorted(by_meter.items()):
            serial = values[0].serial.strip()
            meter_id = values[0].meter_id
            if not any(self._served(v) for v in values):
                continue      # a pulse or digital module: no ElectricConfig, not an RTU-327 meter
            if not (serial.isdigit() and serial.isascii()):
                self.notes.append(f"meter {meter_id} not checked: serial {serial!r} is not numeric, "
                                  "RTU-327 addresses meters by a BCD serial")
                continue
            if len(addresses[c.address_digits(serial)]) > 1:
                self.notes.append(f"meter {meter_id} not checked: another meter of the check has the same last "
                                  f"{c.NSH_DIGITS} serial digits ({c.address_digits(serial)})")
                continue
            self._meter(serial, values)
        return self._compared, self._mismatches

    @staticmethod
    def _served(v: Value) -> bool:
        """A value of an electricity meter's measure RTU-327 carries (MeterTable rows only go along)."""
        return (v.measure in m.POK_MEASURES or v.measure in (m.PROFILE_MEASURE, m.TESTS_MEASURE)
                or v.measure in m.EVENT_TYPES or v.measure == m.CONFIG_MEASURE)

    def _meter(self, serial: str, values: List[Value]) -> None:
        by_measure: Dict[str, List[Value]] = defaultdict(list)
        for v in values:
            by_measure[v.measure].append(v)
        parameters = self._shprm(serial, by_measure)
        for measure in m.POK_MEASURES:
            self._pok(serial, by_measure.get(measure, []))
        self._autoread(serial, [v for name in m.AUTOREAD_MEASURES for v in by_measure.get(name, [])])
        self._tests(serial, by_measure.get(m.TESTS_MEASURE, []))
        self._lp(serial, by_measure.get(m.PROFILE_MEASURE, []), parameters)
        self._mtrlog(serial, [v for name in m.EVENT_TYPES for v in by_measure.get(name, [])])

    # ---- GETSHPRM ---------------------------------------------------------------------------------------
    def _shprm(self, serial: str, by_measure: Dict[str, List[Value]]) -> Optional[c.MeterParameters]:
        config = [v for v in by_measure.get(m.CONFIG_MEASURE, []) if v.tag in m.SHPRM_CONFIG_TAGS.values()]
        if config:   # GETSHPRM serves the newest config row
            newest = max(v.ts for v in config)
            config = [v for v in config if v.ts == newest]
        meter = [v for v in by_measure.get(m.METER_MEASURE, []) if v.tag in m.SHPRM_METER_TAGS.values()]
        needs_period = any(v.tag == m.PERIOD_TAG for v in by_measure.get(m.PROFILE_MEASURE, []))
        if not (config or meter or needs_period):
            return None
        try:
            p = self.client.get_shprm(serial)
        except ResultError as exc:
            if exc.code not in (Result.NO_MORE_DATA, Result.BAD_PARAMETERS):
                raise
            self._missing(config + meter)
            return None
        fields = {"Kt": p.Kt, "Kn": p.Kn, "M": p.M}
        for name, tag in m.SHPRM_CONFIG_TAGS.items():
            for v in config:
                if v.tag == tag:
                    self._check(v, m.scaled(v.value, 1.0), fields[name])  # type: ignore[arg-type]
        numbers = {"Syb_Rnk": p.Syb_Rnk, "N_Ob": p.N_Ob, "N_Fid": p.N_Fid}
        for name, tag in m.SHPRM_METER_TAGS.items():
            for v in meter:
                if v.tag == tag:
                    self._check_exact(v, int(v.value or 0), numbers[name])  # type: ignore[call-overload]
        return p

    # ---- GETPOK ------------------------------------------------------------------------------------------
    def _pok(self, serial: str, values: List[Value]) -> None:
        by_time: Dict[int, Dict[str, Value]] = defaultdict(dict)
        tag_channel = {tag: channel for channel, tag in m.POK_TAGS.items()}
        for v in values:
            if v.tag in tag_channel:
                by_time[v.ts][tag_channel[v.tag]] = v
        for ts, channels in sorted(by_time.items()):
            try:
                served = self.client.get_pok(serial, ts, tuple(channels))
            except ResultError as exc:
                if exc.code not in (Result.NO_MORE_DATA, Result.BAD_PARAMETERS):
                    raise
                self._missing(list(channels.values()))
                continue
            for channel, v in channels.items():
                self._check(v, m.kwh(v.value), served.get(channel), 1000.0)  # type: ignore[arg-type]

    # ---- GETAUTOREAD ------------------------------------------------------------------------------------
    def _autoread(self, serial: str, values: List[Value]) -> None:
        # a day and a month register may share a stamp (the 1st's midnight): one served record for both
        wanted: Dict[str, Dict[int, List[Tuple[int, Value]]]] = defaultdict(lambda: defaultdict(list))
        for v in values:
            channel, tariff = v.tag[:2], v.tag[2:]
            if channel in c.AUTOREAD_CHANNELS and tariff.isdigit() and int(tariff) in m.AUTOREAD_TARIFFS:
                wanted[channel][v.ts].append((int(tariff), v))
        for channel, by_time in wanted.items():
            stamps = sorted(by_time)
            served: Dict[int, c.AutoRead] = {}
            i = 0
            while i < len(stamps):
                asked = min(self.batch, len(stamps) - i)
                try:
                    records = self.client.get_autoread(serial, stamps[i] - 1, channel, asked)
                except ResultError as exc:
                    if exc.code != Result.BAD_PARAMETERS:
                        raise
                    records = []
                if not records:
                    break
                for record in records:
                    served.setdefault(record.time, record)
                last = records[-1].time
                while i < len(stamps) and stamps[i] <= last:
                    i += 1
                if len(records) < asked:
                    break
            for ts, tariffs in by_time.items():
                record = served.get(ts)
                for number, v in tariffs:
                    if record is None:
                        self._missing([v])
                    else:
                        self._check(v, m.kwh(v.value), record.kwh[number - 1], 1000.0)  # type: ignore[arg-type]

    # ---- GETTESTS ----------------------------------------------------------------------------------------
    def _tests(self, serial: str, values: List[Value]) -> None:
        tag_field = {tag: (name, divisor) for name, (tag, divisor) in m.TESTS_TAGS.items()}
        by_time: Dict[int, List[Value]] = defaultdict(list)
        for v in values:
            if v.tag in tag_field:
                by_time[v.ts].append(v)
        stamps = sorted(by_time)
        served: Dict[int, c.TestRecord] = {}
        i = 0
        while i < len(stamps):
            asked = min(self.batch, len(stamps) - i)
            try:
                records = self.client.get_tests(serial, stamps[i], asked).records
            except ResultError as exc:
                if exc.code != Result.BAD_PARAMETERS:
                    raise
                records = ()
            if not records:
                break
            for record in records:
                served.setdefault(record.time, record)
            last = records[-1].time
            while i < len(stamps) and stamps[i] <= last:
                i += 1
            if len(records) < asked:
                break
        for ts, vs in by_time.items():
            record = served.get(ts)
            for v in vs:
                name, divisor = tag_field[v.tag]
                if record is None or name not in record.values:
                    self._missing([v])
                else:
                    self._check(v, m.scaled(v.value, divisor), record.values[name], divisor)  # type: ignore[arg-type]

    # ---- GETLP -------------------------------------------------------------------------------------------
    def _lp(self, serial: str, values: List[Value], parameters: Optional[c.MeterParameters]) -> None:
        by_time: Dict[int, Dict[str, Value]] = defaultdict(dict)
        for v in values:
            by_time[v.ts][v.tag] = v
        stamps = sorted(by_time)
        i = 0
        while i < len(stamps):   # one round trip per meter-day
            first = stamps[i]
            period = next((v.period for v in by_time[first].values() if v.period), None) or 30
            day = [t for t in stamps[i:] if t < first + DAY]
            count = (day[-1] - first) // (period * 60) + 1
            i += len(day)
            try:
                profile = self.client.get_lp(serial, first, count)
            except ResultError as exc:
                if exc.code != Result.BAD_PARAMETERS:
                    raise
                profile = c.Profile(c.LP_CHANNELS, 0, 0, ())
            slots = dict(zip(profile.times(period), profile.slots))
            for ts in day:
                self._slot(by_time[ts], slots.get(ts), period, parameters)

    def _slot(self, tags: Dict[str, Value], slot: Optional[c.ProfileSlot], period: int,
              parameters: Optional[c.MeterParameters]) -> None:
        present = slot is not None and not slot.stat & c.STAT_NO_READINGS
        for tag, v in tags.items():
            if tag in m.LP_TAGS.values():
                if not present:
                    self._missing([v])
                    continue
                channel = next(ch for ch, t in m.LP_TAGS.items() if t == tag)
                served = slot.values[c.LP_CHANNELS.index(channel)]  # type: ignore[union-attr]
                slot_period = v.period or period
                self._check(v, m.slot_kwh(v.value, slot_period), served,  # type: ignore[arg-type]
                            60.0 / slot_period * 1000.0)
            elif tag in m.LP_FLAG_BITS:
                if not present:
                    self._missing([v])
                    continue
                self._check_exact(v, 1 if v.value else 0, 1 if slot.stat & m.LP_FLAG_BITS[tag] else 0)  # type: ignore[union-attr]
            elif tag == m.PERIOD_TAG and parameters is not None:
                self._check_exact(v, v.value, parameters.Interv)

    # ---- GETMTRLOG ---------------------------------------------------------------------------------------
    def _mtrlog(self, serial: str, values: List[Value]) -> None:
        events = [v for v in values if v.tag == m.JOURNAL_TAG
                  and _number(v.value) in m.EVENT_TYPES[v.measure]]   # an Event with no evType is not sent
        if not events:
            return
        start = min(v.ts for v in events)
        limit = (0xFFFF - 9) // 6
        try:
            served_events = self.client.get_meter_log(serial, start, limit)
        except ResultError as exc:
            if exc.code != Result.BAD_PARAMETERS:
                raise
            served_events = []
        if len(served_events) >= limit:
            self.notes.append(f"GETMTRLOG of serial {serial} filled a whole answer: events past it were not compared")
        served: Dict[Tuple[str, int], int] = {}
        for when, code in served_events:
            journal_event = m.EVENT_OF_TYPE.get(code)
            if journal_event is not None:
                served.setdefault((journal_event[0], when), journal_event[1])
        for v in events:
            got = served.get((v.measure, v.ts))
            self._check_exact(v, _number(v.value), got)


def _number(value: object) -> int:
    """A journal Event cell as the integer it is (NULL: 0, as the device stores it)."""
    return int(value or 0)  # type: ignore[call-overload]  # an INTEGER cell or None
