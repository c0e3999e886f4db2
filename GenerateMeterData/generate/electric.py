"""One electricity meter's story: every electric measure derived from one simulated series.

Registers are integers in mWh; the profile, the day/month registers, the consumption records
and the moment readings are all sums of the same slot energies, so they agree exactly."""
from __future__ import annotations

import bisect
import datetime as dt
import math
from itertools import accumulate
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..errors import InputError
from ..model import timegrid
from ..model.consumption import LoadModel, Outage, SlotSeries, random_outages, simulate
from ..model.rng import stream
from ..model.tariffs import DEFAULT_SCHEDULE, TWO_ZONE_SCHEDULE, TariffSchedule
from ..schema.reference import JOURNAL_NAMES
from .emit import Emitter
from .meters import MeterSpec

ELECTRIC_MEASURES = ("ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy", "ElDayConsEnergy",
                     "ElMonthConsEnergy", "ElMomentQuality", "ElArr1ConsPower")
STORY_JOURNALS = ("ElJrnlPwr", "ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC", "ElJrnlTimeCorr")
NOMINAL_VOLTAGE = 230.0


@dataclass
class StoryOptions:
    """Knobs of the physical story shared by all meters of a run."""

    timezone: str = timegrid.DEFAULT_TIMEZONE
    schedule: Optional[TariffSchedule] = None   # None: 4-zone for 4-tariff meters, 2-zone otherwise
    moment_step_minutes: int = 60
    outages_per_30_days: float = 1.0
    time_corrections_per_30_days: float = 2.0
    journals: Dict[str, int] = field(default_factory=dict)  # extra events per meter per journal

    def __post_init__(self) -> None:
        self.tz = timegrid.zone(self.timezone)
        if not isinstance(self.moment_step_minutes, int) or self.moment_step_minutes <= 0 \
                or 1440 % self.moment_step_minutes:
            raise InputError(f"moment step {self.moment_step_minutes!r} min must divide a day (e.g. 5, 30, 60)")
        for name, count in self.journals.items():
            check_journal_name(name)
            if not isinstance(count, int) or count < 0:
                raise InputError(f"journal {name}: event count must be a whole number >= 0, got {count!r}")
        for label, rate in (("outages", self.outages_per_30_days),
                            ("time corrections", self.time_corrections_per_30_days)):
            if not isinstance(rate, (int, float)) or rate < 0:
                raise InputError(f"{label} per 30 days must be a number >= 0, got {rate!r}")


def schedule_for(tariffs: int) -> TariffSchedule:
    """The default switch table of a meter with this many tariff registers."""
    return DEFAULT_SCHEDULE if tariffs >= 4 else TWO_ZONE_SCHEDULE


def check_journal_name(name: str) -> str:
    """The name if it is a journal of meter.db; InputError listing them otherwise."""
    if name not in JOURNAL_NAMES and name != "ElJrnlRvr":
        raise InputError(f"unknown journal {name!r}; valid journals: {', '.join(JOURNAL_NAMES)}")
    return name


def journal_event(name: str, index: int) -> int:
    """The Event value of the index-th record of a journal (reference §4.4, Q10)."""
    if name in ("ElJrnlPwr", "ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC", "ElJrnlRelay"):
        return index % 2          # 0 = off, 1 = on, starting with an outage
    if name in ("ElJrnlTimeCorr", "PlsJrnlTimeCorr"):
        return 1
    if name in ("ElJrnlReset", "ElJrnlOpen", "ElJrnlUnAyth", "ElJrnlTrfCorr"):
        return 0
    return 1 - index % 2          # limits: 1 = entered, 0 = left


class ElectricStory:
    """The simulated life of one electricity meter from ``origin_day`` to ``end_ts``."""

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, end_ts: int,
                 outages: Optional[Sequence[Outage]] = None) -> None:
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
        seed_path = ("meter", spec.ordinal)
        self.model = LoadModel.random(stream(root_seed, *seed_path, "load"), spec.kind.phases or 1,
                                      spec.kind.export and self.active_reverse, pv=spec.pv)
        self.quality_rng = stream(root_seed, *seed_path, "quality")
        self.root_seed = root_seed
        if outages is None and spec.outages:
            outages = spec.outages
        if outages is None:
            outages = random_outages(stream(root_seed, *seed_path, "outages"), self.origin_ts,
                                     end_ts, options.outages_per_30_days)
        self.outages = sorted(outages)
        schedule = options.schedule or schedule_for(spec.kind.tariffs)
        self.series: SlotSeries = simulate(self.model, stream(root_seed, *seed_path, "noise"),
                                           origin_day, last_day, self.period_minutes, tz,
                                           schedule, self.outages)
        start = stream(root_seed, *seed_path, "registers")
        scale = self.model.mean_power_w * 8760 * start.uniform(0.5, 6.0)  # Wh: some years of use
        ap = int(scale * 1000)
        self.initial = [self._split(ap, start), self._split(int(ap * start.uniform(0, 0.05)) if self.model.pv_peak_w else 0, start),
                        self._split(int(ap * self.model.tan_phi * start.uniform(0.8, 1.0)), start),
                        self._split(int(ap * start.uniform(0, 0.01)) if self.model.pv_peak_w else 0, start)]

    def _split(self, total: int, rng) -> List[int]:
        if not self.tariffed:
            return [total, 0, 0, 0, 0]
        weights = [rng.uniform(0.5, 1.5), rng.uniform(0.3, 1.0), rng.uniform(0.5, 1.2), rng.uniform(0.1, 0.4)]
        parts = [int(total * w / sum(weights)) for w in weights]
        return [sum(parts)] + parts

    # ---- registers -------------------------------------------------------------------------
    def registers_at(self, requests: Sequence[int]) -> Dict[int, List[List[int]]]:
        """Cumulative registers [quantity][tariff] (mWh) at each requested epoch second.

        Per quantity and tariff the slot energies are summed once with ``accumulate`` (C speed);
        a request inside a slot adds the elapsed share of that slot's energy."""
        series = self.series
        ends, ps = series.ends, series.period_seconds
        tariffs = series.tariff if self.tariffed else [0] * len(ends)
        quantities = (series.ap, series.am, series.rp, series.rm)
        keys = (1, 2, 3, 4) if self.tariffed else ()
        n = len(ends)
        cumulative = []
        for q, energies in enumerate(quantities):
            per_tariff = [list(accumulate(energies, initial=self.initial[q][0]))]
            for t in (1, 2, 3, 4):
                if t in keys:
                    masked = [e if tariff == t else 0 for e, tariff in zip(energies, tariffs)]
                    per_tariff.append(list(accumulate(masked, initial=self.initial[q][t])))
                else:
                    per_tariff.append([self.initial[q][t]] * (n + 1))
            cumulative.append(per_tariff)
        out: Dict[int, List[List[int]]] = {}
        right = bisect.bisect_right
        for ts in requests:
            k = right(ends, ts)  # slots complete at ts
            snapshot = [[c0[k], c1[k], c2[k], c3[k], c4[k]] for c0, c1, c2, c3, c4 in cumulative]
            if k < n and ts > ends[k] - ps:
                tariff = tariffs[k]
                for q in range(4):
                    part = quantities[q][k] * (ts - ends[k] + ps) // ps
                    snapshot[q][0] += part
                    if tariff:
                        snapshot[q][tariff] += part
            out[ts] = snapshot
        return out

    def energy_values(self, registers: List[List[int]]) -> Dict[int, Optional[list]]:
        """Registers (mWh) -> ElectricEnergyValues values (Wh), gated by the config flags."""
        ap, am, rp, rm = registers
        am_on, rp_on, rm_on = self.active_reverse, self.reactive, self.reactive_reverse
        return {t: [ap[t] / 1000, am[t] / 1000 if am_on else None, rp[t] / 1000 if rp_on else None,
                    rm[t] / 1000 if rm_on else None]
                for t in ((0, 1, 2, 3, 4) if self.tariffed else (0,))}

    # ---- emission --------------------------------------------------------------------------
    def emit(self, em: Emitter, window_start: int, measures: Set[str],
             journal_last: Optional[Dict[str, int]] = None,
             moment_step_minutes: Optional[int] = None) -> None:
        """Emit the records of ``measures`` stamped in [window_start, end_ts] (profile and
        moments: (window_start, end_ts]); ``journal_last`` emits the last N events instead."""
        spec, tz, end_ts = self.spec, self.tz, self.end_ts
        device, meter_id = spec.device_idx, spec.meter_id
        if window_start < self.origin_ts:
            raise InputError("the requested history starts before the meter's story: ask for fewer records")
        midnights, months = timegrid.window_stamps(window_start, end_ts, tz)
        step = (moment_step_minutes or self.options.moment_step_minutes) * 60
        moments = self._grid(window_start, end_ts, step) if measures & {"ElMomentEnergy", "ElMomentQuality"} else []
        requests = set()
        if measures & {"ElDayEnergy", "ElDayConsEnergy"}:
            requests.update(midnights)
        if measures & {"ElMonthEnergy", "ElMonthConsEnergy"}:
            requests.update(months)
        if "ElMomentEnergy" in measures:
            requests.update(moments)
        registers = self.registers_at(sorted(requests)) if requests else {}

        for measure, stamps in (("ElDayEnergy", midnights), ("ElMonthEnergy", months)):
            cons_measure = measure.replace("Energy", "ConsEnergy")
            if not measures & {measure, cons_measure}:
                continue
            written: List[Tuple[int, Dict]] = []
            for ts in stamps:
                model_values = self.energy_values(registers[ts])
                values = em.record(measure, device, meter_id, ts, 1, model_values) \
                    if measure in measures else model_values
                written.append((ts, values if values is not None else model_values))
            if cons_measure in measures:
                for (ts, current), (_, following) in zip(written, written[1:]):
                    em.record(cons_measure, device, meter_id, ts, 1, _difference(following, current))

        outage_offs = [off for off, _ in self.outages]
        in_outage = self._in_outage
        if "ElMomentEnergy" in measures:
            energy = self.energy_values
            em.records("ElMomentEnergy", device, meter_id, (
                (ts, 0, None) if in_outage(ts, outage_offs) else (ts, 1, energy(registers[ts]))
                for ts in moments))
        if "ElMomentQuality" in measures:
            hours, quality = self._hours, self.quality_values
            em.records("ElMomentQuality", device, meter_id, (
                (ts, 0, None) if in_outage(ts, outage_offs) else (ts, 1, quality(ts, hours.get(ts)))
                for ts in moments))
        if "ElArr1ConsPower" in measures:
            self._emit_profile(em, window_start)
        self._emit_journals(em, window_start, measures, journal_last or {})

    def _in_outage(self, ts: int, outage_offs: List[int]) -> bool:
        i = bisect.bisect_right(outage_offs, ts) - 1
        return i >= 0 and self.outages[i][0] < ts < self.outages[i][1]

    def _grid(self, start_exclusive: int, end_inclusive: int, step: int) -> List[int]:
        tz = self.tz
        day = timegrid.local_datetime(start_exclusive, tz).date()
        out: List[int] = []
        self._hours: Dict[int, float] = {}
        while True:
            midnight = timegrid.local_midnight(day, tz)
            if midnight > end_inclusive:
                break
            next_midnight = timegrid.local_midnight(day + dt.timedelta(days=1), tz)
            t = midnight
            while t < next_midnight:
                if start_exclusive < t <= end_inclusive:
                    out.append(t)
                    self._hours[t] = (t - midnight) / 3600.0
                t += step
            day += dt.timedelta(days=1)
        return out

    def _emit_profile(self, em: Emitter, window_start: int) -> None:
        series = self.series
        end_ts, device, meter_id = self.end_ts, self.spec.device_idx, self.spec.meter_id
        factor = 3600 // self.period_s if 3600 % self.period_s == 0 else 3600 / self.period_s
        period = self.period_minutes
        pm_on, qp_on, qm_on = self.active_reverse, self.reactive, self.reactive_reverse
        ends = series.ends
        first = bisect.bisect_right(ends, window_start)
        last = bisect.bisect_right(ends, end_ts)
        ap, am, rp, rm, partial, season = series.ap, series.am, series.rp, series.rm, series.partial, series.season
        em.records("ElArr1ConsPower", device, meter_id, (
            (ends[i], 1, (period, ap[i] * factor / 1000,
                          am[i] * factor / 1000 if pm_on else None,
                          rp[i] * factor / 1000 if qp_on else None,
                          rm[i] * factor / 1000 if qm_on else None,
                          partial[i], 0, season[i]))
            for i in range(first, last)))

    def quality_values(self, ts: int, hour: Optional[float] = None) -> Dict[str, Optional[list]]:
        """Instantaneous quality at ts, from the power of the slot that contains it.

        Per phase: S = sqrt(P^2 + Q^2), KP = P/S, I = S/U; Summ P and Q are the sums of the
        phases.  Values are rounded half-up to 2-4 decimals with floor(), which is several
        times faster than round() on this hot path."""
        series, model, floor = self.series, self.model, math.floor
        noise = self.quality_rng.random
        i = min(bisect.bisect_left(series.ends, ts), len(series.ends) - 1)
        net = (series.ap[i] - series.am[i]) * 3.6 / self.period_s
        tan_phi = model.tan_phi if net >= 0 else model.export_tan_phi
        if hour is None:
            hour = timegrid.minute_of_day(ts, self.tz) / 60.0
        drop = 1.0 + 0.015 * math.sin(2 * math.pi * (hour - 4) / 24) \
            - 0.02 * min(abs(net) / (model.mean_power_w * 3), 2.0)
        three = model.phases == 3
        values: Dict[str, Optional[list]] = {}
        total_p = total_q = 0.0
        for phase, weight in zip(("A", "B", "C") if three else ("A",),
                                 model.phase_weights if three else (3.0,)):
            u = floor(NOMINAL_VOLTAGE * (drop + 0.012 * (noise() - 0.5)) * 100 + 0.5) / 100
            p = floor(net * weight * (0.98 + 0.04 * noise()) / 3 * 1000 + 0.5) / 1000
            q = floor(abs(p) * tan_phi * 1000 + 0.5) / 1000
            s = floor(math.hypot(p, q) * 1000 + 0.5) / 1000
            values[phase] = [u, floor(s / u * 1000 + 0.5) / 1000, p, q, s,
                             floor(p / s * 10000 + 0.5) / 10000 if s else 1.0,
                             floor((119.5 + noise()) * 100 + 0.5) / 100 if three else None, None]
            total_p += p
            total_q += q
        if not three:
            values["B"] = values["C"] = [None] * 8
        ps, qs = floor(total_p * 1000 + 0.5) / 1000, floor(total_q * 1000 + 0.5) / 1000
        ss = floor(math.hypot(ps, qs) * 1000 + 0.5) / 1000
        values["Summ"] = [None, None, ps, qs, ss, floor(ps / ss * 10000 + 0.5) / 10000 if ss else 1.0,
                          None, floor((49.95 + 0.1 * noise()) * 100 + 0.5) / 100]
        return values

    def journal_events(self, name: str, at_least: int = 0,
                       window_start: Optional[int] = None) -> List[Tuple[int, int]]:
        """(timestamp, Event) of every record of a journal over the story, oldest first.

        Power journals come from the story's outages (off = 0, on = 1); time corrections are a
        Poisson process; any other journal gets ``at_least`` events (or the run's configured
        count) spread over the window."""
        if name in ("ElJrnlPwr", "ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC"):
            if name != "ElJrnlPwr" and self.model.phases != 3:
                return []
            return [(t, e) for off, on in self.outages for t, e in ((off, 0), (on, 1))]
        rng = stream(self.root_seed, "meter", self.spec.ordinal, "journal", name)
        if name == "ElJrnlTimeCorr" and not at_least:
            times = _poisson(rng, self.origin_ts, self.end_ts, self.options.time_corrections_per_30_days)
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
        for name in sorted(m for m in measures if "Jrnl" in m):
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
                em.record(name, device, meter_id, ts, 1, [event, event_id])

def _difference(following: Dict, current: Dict) -> Dict[int, Optional[list]]:
    out: Dict[int, Optional[list]] = {}
    for key, row in current.items():
        later = following.get(key)
        if row is None or later is None:
            out[key] = None
            continue
        out[key] = [None if a is None or b is None else round(b - a, 3) for a, b in zip(row, later)]
    return out


def _poisson(rng, start: int, end: int, per_30_days: float) -> List[int]:
    times, rate, t = [], per_30_days / (30 * 86400), start
    while rate > 0:
        t += max(1, int(rng.expovariate(rate)))
        if t >= end:
            break
        times.append(t)
    return times
