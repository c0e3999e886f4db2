"""One electricity meter's story: every electric measure derived from one two-level model.

Registers are integers in mWh; the profile, the day/month registers, the consumption records
and the moment readings are all sums of the same slot energies, so they agree exactly.  The day
level (``DayTable``) fixes every midnight register; slot detail is computed only for the days a
record needs, and a meter's model can be kept per process (``reuse``) so that separate seed-API
objects of one meter pay for it once."""
from __future__ import annotations

import bisect
import datetime as dt
import math
import threading
from collections import OrderedDict
from itertools import repeat
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from ..errors import InputError
from ..model import timegrid
from ..model.consumption import DayTable, LoadModel, Outage, SlotSeries, random_outages
from ..model.rng import stream, stream_key
from ..model.tariffs import DEFAULT_SCHEDULE, TWO_ZONE_SCHEDULE, TariffSchedule
from ..schema import measures as registry
from ..schema.measures import ELECTRIC, JOURNAL, journal_event
from ..schema import layout
from .emit import Cells, Emitter, RecordValues, journal_values
from .meters import MeterSpec, meter_seed_path
from .polls import PollClock
from .story import (CALENDAR, KEEP_ALL_DAYS, OUTAGE_MARGIN, Story, StoryCache, StoryOptions, calendar_stamps,
                    poisson_times)

ELECTRIC_MEASURES = registry.select(family=ELECTRIC)
# The journals a default electric story writes: the outages' (off/on; per phase on a three-phase
# meter), then the clock corrections.
POWER_JOURNALS = tuple(name for name in registry.select(family=JOURNAL, meter=ELECTRIC, by_default=True)
                       if registry.MEASURES[name].events == registry.OFF_ON)
STORY_JOURNALS = POWER_JOURNALS + tuple(name for name in registry.select(family=JOURNAL, meter=ELECTRIC, by_default=True)
                                        if name not in POWER_JOURNALS)
NOMINAL_VOLTAGE = 230.0
# What this story can produce, read from the registry (``ElectricStory.produces``): registers of
# ENERGY_TABLE kept by the calendar or read at each poll, the consumption between two calendar
# registers, quality read at each poll, the load profile, and every electric journal.
ENERGY_TABLE, QUALITY_TABLE, PROFILE_TABLE = "ElectricEnergyValues", "ElectricQualityValues", "ElectricPowerValues"
CALENDAR_REGISTERS = registry.select(family=ELECTRIC, table=ENERGY_TABLE, cumulative=True, cadence=CALENDAR)
POLLED = tuple(m.name for m in registry.REGISTRY if m.family == ELECTRIC and m.cadence == registry.MOMENT
               and ((m.table == ENERGY_TABLE and m.cumulative) or m.table == QUALITY_TABLE))
PROFILES = registry.select(family=ELECTRIC, table=PROFILE_TABLE, cadence=registry.PROFILE)


def schedule_for(tariffs: int) -> TariffSchedule:
    """The default switch table of a meter with this many tariff registers."""
    return DEFAULT_SCHEDULE if tariffs >= 4 else TWO_ZONE_SCHEDULE


STORIES = StoryCache(8)
DETAIL_DAYS = 120      # slot details a meter model keeps (a reused model stays small)
CHUNK_DAYS = 31        # days of one measure between two steps of ``ElectricStory.emit_steps``

# The order in which this story computes each value table's cells.  layout.arranger maps it onto
# the table's insert columns: None when the orders agree (lists are then written as computed).
ENERGY_ORDER = ("Ap", "Am", "Rp", "Rm")
QUALITY_ORDER = ("U", "I", "P", "Q", "S", "KP", "Angle", "F")
PROFILE_ORDER = ("Period", "Pp", "Pm", "Qp", "Qm", "Partial", "Overflow", "Season")
_ENERGY = layout.arranger("ElectricEnergyValues", ENERGY_ORDER)
_QUALITY = layout.arranger("ElectricQualityValues", QUALITY_ORDER)
_PROFILE = layout.arranger("ElectricPowerValues", PROFILE_ORDER)
QUALITY_COLUMNS = layout.FAMILIES["ElectricQualityValues"].value_columns  # the table's order


class ElectricModel:
    """What stays fixed for a meter whatever "now" is within its last day: load parameters,
    outages, the registers at the origin, the day table and the slot details computed so far."""

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions, origin_day: dt.date,
                 last_day: dt.date, outages: Optional[Sequence[Outage]],
                 keep_days: Optional[int] = None) -> None:
        tz = options.tz
        self.keep_days = keep_days
        self.tariffed = spec.flag("Tariff")
        active_reverse = spec.flag("ActiveReverse")
        seed_path = meter_seed_path(spec.ordinal, spec.type_name)
        self.model = LoadModel.random(stream(root_seed, *seed_path, "load"), spec.kind.phases or 1,
                                      spec.kind.export and active_reverse, pv=spec.pv)
        self._lock = threading.RLock()
        self.origin_ts = timegrid.local_midnight(origin_day, tz)
        horizon = timegrid.local_midnight(last_day + dt.timedelta(days=1), tz) + OUTAGE_MARGIN
        if outages is None:
            outages = random_outages(stream(root_seed, *seed_path, "outages"), self.origin_ts,
                                     horizon, options.outages_per_30_days)
        self.outages = sorted(outages)
        self.outage_offs = [off for off, _ in self.outages]
        schedule = options.schedule or schedule_for(spec.kind.tariffs)
        self._table_arguments = (self.model, stream_key(root_seed, *seed_path, "days"), origin_day, last_day,
                                 spec.period_minutes, tz, schedule, self.outages,
                                 options.latitude)  # None: the time zone's
        self._days: Optional[DayTable] = None
        start = stream(root_seed, *seed_path, "registers")
        scale = self.model.mean_power_w * 8760 * start.uniform(0.5, 6.0)  # Wh: some years of use
        ap = int(scale * 1000)
        pv = self.model.pv_peak_w
        self.initial = [self._split(ap, start),
                        self._split(int(ap * start.uniform(0, 0.05)) if pv else 0, start),
                        self._split(int(ap * self.model.tan_phi * start.uniform(0.8, 1.0)), start),
                        self._split(int(ap * start.uniform(0, 0.01)) if pv else 0, start)]
        self._cumulative: Optional[List[List[List[int]]]] = None
        self._details: "OrderedDict[int, SlotSeries]" = OrderedDict()

    @property
    def days(self) -> DayTable:
        """The day table (built on first use: a journal of limits needs none)."""
        if self._days is None:
            with self._lock:
                if self._days is None:
                    self._days = DayTable(*self._table_arguments)
        return self._days

    @staticmethod
    def key(spec: MeterSpec, root_seed: int, options: StoryOptions, origin_day: dt.date,
            last_day: dt.date, outages: Optional[Sequence[Outage]]) -> tuple:
        """Everything the model depends on."""
        schedule = options.schedule or schedule_for(spec.kind.tariffs)
        flags = tuple(spec.flag(f) for f in ("Tariff", "Reactive", "ActiveReverse", "ReactiveReverse"))
        return (root_seed, spec.ordinal, spec.type_name, spec.kind.phases, spec.kind.export, spec.kind.tariffs, flags,
                spec.pv, None if outages is None else tuple(sorted(tuple(o) for o in outages)),
                options.timezone, schedule.key, options.outages_per_30_days, spec.period_minutes,
                origin_day, last_day, options.latitude)

    def _split(self, total: int, rng) -> List[int]:
        if not self.tariffed:
            return [total, 0, 0, 0, 0]
        weights = [rng.uniform(0.5, 1.5), rng.uniform(0.3, 1.0), rng.uniform(0.5, 1.2), rng.uniform(0.1, 0.4)]
        parts = [int(total * w / sum(weights)) for w in weights]
        return [sum(parts)] + parts

    def registers_at_day(self, i: int) -> List[List[int]]:
        """Registers [quantity][tariff] (mWh) at the midnight starting day index ``i`` (clamped
        to 0 .. count): the registers at the origin plus the day totals before that day."""
        days = self.days
        if self._cumulative is None:
            with self._lock:
                if self._cumulative is None:
                    self._cumulative = days.cumulative()
        i = min(max(i, 0), days.count)
        if self.tariffed:
            return [[base[t] + per_tariff[t][i] for t in range(5)]
                    for base, per_tariff in zip(self.initial, self._cumulative)]
        return [[base[0] + per_tariff[0][i], 0, 0, 0, 0] for base, per_tariff in zip(self.initial, self._cumulative)]

    def detail(self, i: int) -> SlotSeries:
        """The slots of day index ``i`` (kept: all, or the last ``keep_days`` asked)."""
        with self._lock:
            found = self._details.get(i)
            if found is not None:
                self._details.move_to_end(i)
                return found
        found = self.days.slots(i)
        with self._lock:
            self._details[i] = found
            while self.keep_days is not None and len(self._details) > self.keep_days:
                self._details.popitem(last=False)
        return found


class ElectricStory(Story):
    """The life of one electricity meter from ``origin_day`` to ``end_ts``: a view at ``end_ts``
    of its ``ElectricModel`` (shared between stories of one meter with ``reuse=True``)."""

    @classmethod
    def produces(cls, entry: registry.Measure) -> bool:
        """Whether ``entry`` is one of the records this story knows how to produce."""
        if entry.meter != ELECTRIC:
            return False
        if entry.family == JOURNAL:
            return True
        register = registry.MEASURES.get(entry.consumption_of or "")
        if register is not None:  # a consumption: the difference of a calendar register
            return register.name in CALENDAR_REGISTERS and register.cadence == entry.cadence
        return entry.name in CALENDAR_REGISTERS or entry.name in POLLED or entry.name in PROFILES

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, end_ts: int,
                 outages: Optional[Sequence[Outage]] = None, *, reuse: bool = False) -> None:
        self.spec = spec
        self.options = options
        tz = self.tz = options.tz
        self.period_minutes = spec.period_minutes
        self.period_s = self.period_minutes * 60
        self.origin_ts = timegrid.local_midnight(origin_day, tz)
        self.end_ts = end_ts
        self.origin_day = origin_day
        last_day = timegrid.local_datetime(end_ts, tz).date()
        self.tariffed = spec.flag("Tariff")
        self.reactive = spec.flag("Reactive")
        self.active_reverse = spec.flag("ActiveReverse")
        self.reactive_reverse = spec.flag("ReactiveReverse")
        if outages is None and spec.outages:
            outages = spec.outages
        arguments = (spec, root_seed, options, origin_day, last_day, outages)
        if reuse:
            self.core = STORIES.get(ElectricModel.key(*arguments), lambda: ElectricModel(*arguments, DETAIL_DAYS))
        else:
            span = (last_day - origin_day).days + 1
            self.core = ElectricModel(*arguments, None if span <= KEEP_ALL_DAYS else 2 * CHUNK_DAYS)
        self.model = self.core.model
        self.outages = self.core.outages
        self.initial = self.core.initial
        self.quality_rng = stream(root_seed, *meter_seed_path(spec.ordinal, spec.type_name), "quality")
        # the quantities the type does not report are NULL (schema.reference.MeterKind.quality)
        self.quality_gate = tuple(column in spec.kind.quality for column in QUALITY_COLUMNS)
        self.root_seed = root_seed
        self._series: Optional[SlotSeries] = None

    @property
    def series(self) -> SlotSeries:
        """Every slot of the story (built on first use: the slot level of every day)."""
        if self._series is None:
            days = self.core.days
            series = SlotSeries(self.period_s, [], [], [], [], [], [], [], [])
            for i in range(days.count):
                series.extend(self.core.detail(i))
            self._series = series
        return self._series

    # ---- registers -------------------------------------------------------------------------
    def registers_at(self, requests: Sequence[int]) -> Dict[int, List[List[int]]]:
        """Cumulative registers [quantity][tariff] (mWh) at each requested epoch second.

        A midnight reads the day table; any other moment adds the slots of its day completed by
        then and the elapsed share of the slot it falls in."""
        core, days = self.core, self.core.days
        out: Dict[int, List[List[int]]] = {}
        by_day: Dict[int, List[int]] = {}
        for ts in sorted(requests):
            i = days.index_of(ts)
            if i < 0 or i >= days.count or ts == days.midnights[i]:
                out[ts] = core.registers_at_day(i)
            else:
                by_day.setdefault(i, []).append(ts)
        for i, stamps in by_day.items():
            out.update(self._within_day(i, stamps))
        return out

    def _within_day(self, i: int, stamps: List[int]) -> Iterator[Tuple[int, List[List[int]]]]:
        running = self.core.registers_at_day(i)
        slots = self.core.detail(i)
        ends, ps, n = slots.ends, slots.period_seconds, len(slots.ends)
        quantities = (slots.ap, slots.am, slots.rp, slots.rm)
        tariffs = slots.tariff if self.tariffed else [0] * n
        k = 0
        for ts in stamps:
            while k < n and ends[k] <= ts:
                tariff = tariffs[k]
                for q in range(4):
                    e = quantities[q][k]
                    if e:
                        running[q][0] += e
                        if tariff:
                            running[q][tariff] += e
                k += 1
            snapshot = [row[:] for row in running]
            if k < n and ts > ends[k] - ps:
                tariff = tariffs[k]
                for q in range(4):
                    part = quantities[q][k] * (ts - ends[k] + ps) // ps
                    snapshot[q][0] += part
                    if tariff:
                        snapshot[q][tariff] += part
            yield ts, snapshot

    def energy_values(self, registers: List[List[int]]) -> Dict[int, Optional[list]]:
        """Registers (mWh) -> ElectricEnergyValues values (Wh), gated by the config flags."""
        ap, am, rp, rm = registers
        am_on, rp_on, rm_on = self.active_reverse, self.reactive, self.reactive_reverse
        rows: Dict[int, Optional[list]] = {t: [ap[t] / 1000, am[t] / 1000 if am_on else None, rp[t] / 1000 if rp_on else None,
                    rm[t] / 1000 if rm_on else None]  # ENERGY_ORDER
                for t in ((0, 1, 2, 3, 4) if self.tariffed else (0,))}
        return rows if _ENERGY is None else {t: None if row is None else _ENERGY(row) for t, row in rows.items()}

    # ---- emission --------------------------------------------------------------------------
    def emit_steps(self, em: Emitter, window_start: int, measures: Set[str],
                   journal_last: Optional[Dict[str, int]] = None,
                   moment_step_minutes: Optional[int] = None) -> Iterator[None]:
        """``emit`` in steps: yields after every ``CHUNK_DAYS`` days of one measure, when the
        caller may take ``em.rows`` away (``Emitter.take``).  The records, their order and so
        their ids are those of one ``emit``; what a step needs of a later span (the register of
        the following midnight, a journal's numbering) is recomputed, never held."""
        spec, tz, end_ts = self.spec, self.tz, self.end_ts
        device, meter_id = spec.device_idx, spec.meter_id
        if window_start < self.origin_ts:
            raise InputError("the requested history starts before the meter's story: ask for fewer records")
        midnights = timegrid.window_stamps(window_start, end_ts, tz)[0]
        step = (moment_step_minutes or self.options.moment_step_minutes) * 60

        # the registers the meter keeps by the calendar (day, month, ...), each followed by the
        # consumption that is its difference: the stamps are the registry's cadence
        for measure in CALENDAR_REGISTERS:
            cons_measure = registry.consumption_measure(measure)
            if not measures & {measure, cons_measure}:
                continue
            cadence = registry.MEASURES[measure].cadence
            stamps = calendar_stamps(cadence, window_start, end_ts, tz)  # type: ignore[arg-type]
            per_step = CHUNK_DAYS * (24 if cadence == registry.HOUR else 1)
            # overrides may change what a register record holds; the consumption record is the
            # difference of the registers as written, so those are kept (only then)
            kept: Optional[List[Dict]] = [] if measure in measures and cons_measure in measures \
                and em.overrides.by_measure.get(measure) else None
            if measure in measures:
                for lo in range(0, len(stamps), per_step):
                    chunk = stamps[lo:lo + per_step]
                    registers = self.registers_at(chunk)
                    for ts in chunk:
                        model_values = self.energy_values(registers[ts])
                        values = em.record(measure, device, meter_id, ts, 1, model_values)
                        if kept is not None:
                            kept.append(values if values is not None else model_values)
                    yield None
            if cons_measure in measures:
                for lo in range(0, len(stamps) - 1, per_step):
                    chunk = stamps[lo:lo + per_step + 1]  # and the following register
                    if kept is not None:
                        written = kept[lo:lo + per_step + 1]
                    else:
                        registers = self.registers_at(chunk)
                        written = [self.energy_values(registers[ts]) for ts in chunk]
                    for k in range(len(chunk) - 1):
                        em.record(cons_measure, device, meter_id, chunk[k], 1,
                                  _difference(written[k + 1], written[k]))
                    yield None

        # spans (a, b] that partition (window_start, end_ts], CHUNK_DAYS local days each
        bounds = [window_start] + [m for m in midnights[CHUNK_DAYS::CHUNK_DAYS] if window_start < m < end_ts] + [end_ts]
        spans = list(zip(bounds, bounds[1:]))
        outage_offs = self.core.outage_offs
        in_outage = self._in_outage
        polls = PollClock(self.root_seed, spec.ordinal, step)
        # what the meter is read for at each poll (Valid = 0 while it is off)
        energy, quality = self.energy_values, self.reported_quality_values
        for measure in (m for m in POLLED if m in measures):
            quality_record = registry.MEASURES[measure].table == QUALITY_TABLE
            for a, b in spans:
                moments = polls.instants(a, b, tz)
                value_at: Callable[[int], RecordValues] = quality
                if not quality_record:
                    value_at = _registers_read(energy, self.registers_at(moments))
                em.records(measure, device, meter_id, (
                    (ts, 0, None) if in_outage(ts, outage_offs) else (ts, 1, value_at(ts))
                    for ts in moments))
                yield None
        for measure in (m for m in PROFILES if m in measures):
            for a, b in spans:
                self._profile(em, measure, device, meter_id, a, b)
                yield None
        self._emit_journals(em, window_start, measures, journal_last or {})
        yield None

    def _in_outage(self, ts: int, outage_offs: List[int]) -> bool:
        i = bisect.bisect_right(outage_offs, ts) - 1
        return i >= 0 and self.outages[i][0] < ts < self.outages[i][1]

    def _profile(self, em: Emitter, measure: str, device: int, meter_id: Optional[int],
                 window_start: int, end_ts: int) -> None:
        """A profile record (the slot's powers) for every slot ending in (window_start, end_ts],
        a day's slots at a time (``Emitter.columns``)."""
        core, days = self.core, self.core.days
        factor = 3600 // self.period_s if 3600 % self.period_s == 0 else 3600 / self.period_s
        unused = repeat(None)
        first = max(0, days.index_of(window_start))
        last = min(days.count - 1, days.index_of(end_ts - 1))
        for d in range(first, last + 1):
            series = core.detail(d)
            ends = series.ends
            lo, hi = bisect.bisect_right(ends, window_start), bisect.bisect_right(ends, end_ts)
            if lo >= hi:
                continue

            def power(energies: List[int], on: bool = True) -> Iterable[object]:
                return [e * factor / 1000 for e in energies[lo:hi]] if on else unused

            columns: List[Iterable[object]] = [  # PROFILE_ORDER
                repeat(self.period_minutes), power(series.ap), power(series.am, self.active_reverse),
                power(series.rp, self.reactive), power(series.rm, self.reactive_reverse),
                series.partial[lo:hi], repeat(0), series.season[lo:hi]]
            if _PROFILE is not None:
                columns = [unused if column is None else column for column in _PROFILE(columns)]
            em.columns(measure, device, meter_id, ends[lo:hi], columns)

    def slot_at(self, ts: int) -> Tuple[SlotSeries, int]:
        """The day's slots and the index of the slot that contains ``ts`` (start < ts <= end;
        clamped to the story)."""
        days = self.core.days
        d = bisect.bisect_left(days.midnights, ts) - 1
        if d < 0:
            return self.core.detail(0), 0
        if d >= days.count:
            series = self.core.detail(days.count - 1)
            return series, len(series.ends) - 1
        series = self.core.detail(d)
        k = -(-(ts - days.midnights[d]) // self.period_s) - 1
        return series, min(max(k, 0), len(series.ends) - 1)

    def quality_values(self, ts: int, hour: Optional[float] = None) -> Dict[str, Optional[list]]:
        """Instantaneous quality at ts, from the active and reactive power of the slot that
        contains it.

        Each phase takes a share of the slot's P and Q that drifts over the day (the phases'
        loads and power factors differ and change); the voltage sags with the phase's load and
        follows the network's daily swing; the frequency is the grid's, wandering around 50 Hz
        the same for every meter at one instant.  Per phase: S = sqrt(P^2 + Q^2), KP = P/S,
        I = S/U; Summ P and Q are the sums of the phases.  Values are rounded half-up to 2-4
        decimals with floor(), which is several times faster than round() on this hot path."""
        model, floor, sin = self.model, math.floor, math.sin
        noise = self.quality_rng.random
        series, i = self.slot_at(ts)
        scale = 3.6 / self.period_s
        net = (series.ap[i] - series.am[i]) * scale
        reactive = (series.rp[i] if net >= 0 else series.rm[i]) * scale
        if hour is None:
            hour = timegrid.minute_of_day(ts, self.tz) / 60.0
        angle = 2 * math.pi * hour / 24
        swing = 1.0 + 0.015 * sin(angle - 2 * math.pi * 4 / 24)
        three = model.phases == 3
        if three:
            turn = model.reactive_phase
            shares = [w * (1.0 + 0.12 * sin(angle + 2.1 * j + turn)) for j, w in enumerate(model.phase_weights)]
            q_shares = [w * (1.0 + 0.15 * sin(angle + 1.7 * j - turn)) for j, w in enumerate(model.phase_reactive)]
            total, q_total = sum(shares) / 3, sum(q_shares) / 3
            phases = zip(("A", "B", "C"), [w / total for w in shares], [w / q_total for w in q_shares])
        else:
            phases = zip(("A",), (3.0,), (3.0,))
        full = model.mean_power_w * 3
        level = NOMINAL_VOLTAGE * model.voltage_level
        values: Dict[str, Optional[list]] = {}
        total_p = total_q = 0.0
        for phase, weight, q_weight in phases:
            p = floor(net * weight * (0.98 + 0.04 * noise()) / 3 * 1000 + 0.5) / 1000
            q = floor(reactive * q_weight * (0.97 + 0.06 * noise()) / 3 * 1000 + 0.5) / 1000
            s = floor(math.hypot(p, q) * 1000 + 0.5) / 1000
            sag = 0.025 * min(abs(p) * (3 if three else 1) / full, 2.0)
            u = floor(level * (swing - sag + 0.006 * (noise() - 0.5)) * 100 + 0.5) / 100
            values[phase] = [u, floor(s / u * 1000 + 0.5) / 1000, p, q, s,  # QUALITY_ORDER
                             floor(p / s * 10000 + 0.5) / 10000 if s else 1.0,
                             floor((119.5 + noise()) * 100 + 0.5) / 100 if three else None, None]
            total_p += p
            total_q += q
        # a single-phase meter has no rows B and C: the device never writes an all-NULL row (contract)
        ps, qs = floor(total_p * 1000 + 0.5) / 1000, floor(total_q * 1000 + 0.5) / 1000
        ss = floor(math.hypot(ps, qs) * 1000 + 0.5) / 1000
        frequency = 50.0 + 0.035 * sin(2 * math.pi * ts / 5400.0) + 0.02 * sin(2 * math.pi * ts / 1260.0 + 1.0) \
            + 0.01 * (noise() - 0.5)
        values["Summ"] = [None, None, ps, qs, ss, floor(ps / ss * 10000 + 0.5) / 10000 if ss else 1.0,
                          None, floor(frequency * 100 + 0.5) / 100]
        return values if _QUALITY is None else {phase: None if row is None else _QUALITY(row)
                                                for phase, row in values.items()}

    def reported_quality_values(self, ts: int, hour: Optional[float] = None) -> Dict[str, Optional[list]]:
        """``quality_values`` with what the meter's type does not report set to NULL."""
        values = self.quality_values(ts, hour)
        gate = self.quality_gate
        if all(gate):
            return values
        return {phase: None if row is None else [value if keep else None for value, keep in zip(row, gate)]
                for phase, row in values.items()}

    def journal_events(self, name: str, at_least: int = 0,
                       window_start: Optional[int] = None) -> List[Tuple[int, int]]:
        """(timestamp, Event) of every record of a journal over the story, oldest first.

        Power journals come from the story's outages (off = 0, on = 1); time corrections are a
        Poisson process; any other journal gets ``at_least`` events (or the run's configured
        count) spread over the window."""
        if name in POWER_JOURNALS:
            if name != POWER_JOURNALS[0] and self.model.phases != 3:
                return []
            return [(t, e) for off, on in self.outages for t, e in ((off, 0), (on, 1)) if t <= self.end_ts]
        rng = stream(self.root_seed, *meter_seed_path(self.spec.ordinal, self.spec.type_name), "journal", name)
        if name == "ElJrnlTimeCorr" and not at_least:
            times = poisson_times(rng, self.origin_ts, self.end_ts, self.options.time_corrections_per_30_days)
        else:
            count = max(at_least, self.options.journals.get(name, 0))
            if not count:
                return []
            low = max(self.origin_ts, window_start if window_start is not None else self.origin_ts)
            if at_least:
                low = max(self.origin_ts, self.end_ts - count * 86400)
            times = sorted(set(rng.randrange(low, self.end_ts) for _ in range(count)))
            while len(times) < count:
                times = sorted(set(times) | {rng.randrange(low, self.end_ts)})
        return [(t, journal_event(name, i)) for i, t in enumerate(times)]

    def _emit_journals(self, em: Emitter, window_start: int, measures: Set[str],
                       journal_last: Dict[str, int]) -> None:
        device, meter_id = self.spec.device_idx, self.spec.meter_id
        for name in sorted(m for m in measures if registry.measure(m).family == JOURNAL):
            last = journal_last.get(name)
            events = self.journal_events(name, last or 0, window_start)
            numbered = list(enumerate(events))
            if last is not None:
                if len(numbered) < last:
                    raise InputError(f"{name}: the meter's story has only {len(numbered)} events "
                                     f"up to now; ask for at most that many")
                numbered = numbered[len(numbered) - last:]
            else:
                numbered = [(i, ev) for i, ev in numbered if window_start <= ev[0] <= self.end_ts]
            for event_id, (ts, event) in numbered:
                em.record(name, device, meter_id, ts, 1, journal_values(event, event_id))

def _registers_read(energy: Callable[[List[List[int]]], Dict[int, Optional[list]]],
                    registers: Dict[int, List[List[int]]]) -> Callable[[int], Dict[int, Optional[list]]]:
    """The energy values at a moment of ``registers`` (a poll's registers, read once per span)."""
    return lambda ts: energy(registers[ts])


def _difference(following: Dict, current: Dict) -> Dict[int, Optional[list]]:
    out: Dict[int, Optional[list]] = {}
    for key, row in current.items():
        later = following.get(key)
        if row is None or later is None:
            out[key] = None
            continue
        out[key] = [None if a is None or b is None else round(b - a, 3) for a, b in zip(row, later)]
    return out
