"""The consumption model of one electricity meter, on two levels over a local time grid.

Everything a meter's rows say comes from a ``DayTable``: the energy of every day and tariff zone
and, for the days that are written, of every profile slot, in integer milliwatt-hours, so that
registers, day and month consumption and the profile are exact sums of the same integers and stay
consistent to the last written decimal."""
from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from dataclasses import dataclass
from itertools import accumulate
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from . import timegrid
from .rng import mix64
from .tariffs import TariffSchedule

Outage = Tuple[int, int]  # (power off, power on) epoch seconds


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


@dataclass(frozen=True)
class LoadModel:
    """Seeded parameters of one meter's load: daily/weekly/seasonal shape, noise, power factor,
    and an optional rooftop PV that makes the meter export (A-)."""

    phases: int
    mean_power_w: float
    commercial: bool
    season_amplitude: float
    weekend_factor: float
    noise_sigma: float
    power_factor: float
    pv_peak_w: float
    export_tan_phi: float
    phase_weights: Tuple[float, float, float]

    @classmethod
    def random(cls, rng: random.Random, phases: int, can_export: bool,
               pv: Optional[bool] = None) -> "LoadModel":
        """A meter's parameters drawn from ``rng``; ``pv`` forces a PV (True) or none (False)."""
        commercial = rng.random() < 0.3
        mean = rng.uniform(1500.0, 12000.0) if phases == 3 else rng.uniform(250.0, 1400.0)
        weights = [rng.uniform(0.8, 1.2) for _ in range(3)]
        total = sum(weights)
        return cls(
            phases=phases,
            mean_power_w=mean,
            commercial=commercial,
            season_amplitude=rng.uniform(0.12, 0.35),
            weekend_factor=rng.uniform(0.3, 0.5) if commercial else rng.uniform(1.05, 1.2),
            noise_sigma=rng.uniform(0.08, 0.2),
            power_factor=rng.uniform(0.86, 0.98),
            pv_peak_w=_pv_peak(rng, mean, pv if pv is not None else (can_export and rng.random() < 0.5),
                               oversized=bool(pv)),
            export_tan_phi=rng.uniform(0.02, 0.15),
            phase_weights=(3 * weights[0] / total, 3 * weights[1] / total, 3 * weights[2] / total),
        )

    @property
    def tan_phi(self) -> float:
        """tan(phi) of the meter's power factor (Q = P * tan phi)."""
        return math.tan(math.acos(self.power_factor))

    def shape(self, period_minutes: int) -> List[float]:
        """Relative load of each slot of the day (mean 1)."""
        values = []
        for minute in range(0, 1440, period_minutes):
            hour = (minute + period_minutes / 2) / 60.0
            if self.commercial:
                opening = 1 / (1 + math.exp(-(hour - 8.0) * 2.5)) - 1 / (1 + math.exp(-(hour - 19.0) * 2.5))
                values.append(0.25 + 1.1 * opening)
            else:
                values.append(0.45 + 0.9 * _bump(hour, 7.5, 1.2) + 1.6 * _bump(hour, 19.8, 2.2)
                              + 0.25 * _bump(hour, 13.0, 3.0))
        mean = sum(values) / len(values)
        return [v / mean for v in values]

    def season_factor(self, year_day: int) -> float:
        """Seasonal load factor of a day of the year (winter above 1)."""
        return 1.0 + self.season_amplitude * math.cos(2 * math.pi * (year_day - 15) / 365.25)


def _pv_peak(rng: random.Random, mean: float, present: bool, oversized: bool = False) -> float:
    peak = mean * rng.uniform(0.8, 2.0)  # drawn either way, so forcing PV moves no other parameter
    if oversized:  # a PV asked for explicitly exports on sunny days even in winter
        peak *= 3.0
    return peak if present else 0.0


@dataclass
class SlotSeries:
    """Per-slot results over a span: slot end stamps and energies (mWh) per quantity."""

    period_seconds: int
    ends: List[int]
    ap: List[int]
    am: List[int]
    rp: List[int]
    rm: List[int]
    tariff: List[int]
    partial: List[int]
    season: List[int]

    def extend(self, other: "SlotSeries") -> None:
        """Append the slots of ``other`` (a later span)."""
        for name in ("ends", "ap", "am", "rp", "rm", "tariff", "partial", "season"):
            getattr(self, name).extend(getattr(other, name))


def spread(total: int, weights: Sequence[float]) -> List[int]:
    """``total`` split into integers proportional to ``weights`` that add up to it exactly.

    Cumulative rounding: item k gets round(total * W_k / W) - round(total * W_(k-1) / W) with W_k
    the running sum, so every item is within 1 of its share, none is negative and an item of
    weight 0 gets 0."""
    whole = sum(weights)
    if not whole:
        if total:
            raise ValueError(f"cannot spread {total} over weights that are all 0")
        return [0] * len(weights)
    ratio, running, before, out = total / whole, 0.0, 0, []
    for w in weights:
        running += w
        now = min(int(running * ratio + 0.5), total)
        out.append(now - before)
        before = now
    if before != total:  # a last ulp of the running sum: give it to the last weighted item
        last = max(k for k, w in enumerate(weights) if w)
        out[last] += total - before
    return out


def _spread_zones(weights: List[float], zones: Sequence[int], energy: Sequence[int],
                  reactive: Sequence[int]) -> Tuple[List[int], List[int]]:
    """Slot energies and reactive energies of one day: each zone's integer totals (index = tariff
    - 1) spread over the zone's slots in proportion to ``weights`` (see ``spread``)."""
    whole = [0.0, 0.0, 0.0, 0.0]
    for w, z in zip(weights, zones):
        whole[z] += w
    ratio_e = [e / w if w else 0.0 for e, w in zip(energy, whole)]
    ratio_r = [r / w if w else 0.0 for r, w in zip(reactive, whole)]
    running = [0.0, 0.0, 0.0, 0.0]
    before_e, before_r = [0, 0, 0, 0], [0, 0, 0, 0]
    last = [-1, -1, -1, -1]
    out_e: List[int] = []
    out_r: List[int] = []
    for k, (w, z) in enumerate(zip(weights, zones)):
        if not w:
            out_e.append(0)
            out_r.append(0)
            continue
        c = running[z] = running[z] + w
        now_e = int(c * ratio_e[z] + 0.5)
        now_r = int(c * ratio_r[z] + 0.5)
        if now_e > energy[z]:   # never, short of a rounding freak: keeps every slot >= 0
            now_e = energy[z]
        if now_r > reactive[z]:
            now_r = reactive[z]
        out_e.append(now_e - before_e[z])
        out_r.append(now_r - before_r[z])
        before_e[z], before_r[z], last[z] = now_e, now_r, k
    for z in range(4):  # exact by construction; this only absorbs a last-ulp difference
        for out, before, totals in ((out_e, before_e, energy), (out_r, before_r, reactive)):
            if before[z] != totals[z]:
                if last[z] < 0:
                    raise ValueError(f"tariff {z + 1}: {totals[z]} mWh for a zone with no powered slot")
                out[last[z]] += totals[z] - before[z]
    return out_e, out_r


_SUN: Dict[Tuple[int, int], Tuple[List[float], int, int]] = {}


def sun_shape(year_day: int, period_minutes: int) -> Tuple[List[float], int, int]:
    """Relative PV output of each slot of a day of the year (0 at night, 1 at a clear summer
    noon) and the range [first, stop) of the slots with sun; the same for every meter, so
    computed once per process."""
    key = (year_day, period_minutes)
    found = _SUN.get(key)
    if found is None:
        angle = 2 * math.pi * (year_day - 172) / 365.25
        half_day = 6.2 + 2.6 * math.cos(angle)
        strength = 0.65 + 0.35 * math.cos(angle)
        values = []
        for minute in range(0, 1440, period_minutes):
            hour = (minute + period_minutes / 2) / 60.0
            x = (hour - (12.5 - half_day)) / (2 * half_day)
            values.append(strength * math.sin(math.pi * x) ** 1.5 if 0 < x < 1 else 0.0)
        lit = [k for k, v in enumerate(values) if v] or [0]
        found = _SUN[key] = (values, lit[0], lit[-1] + 1)
    return found


class _Day(NamedTuple):
    """What the day level draws for one day (a pure function of the meter's key and the date)."""

    index: int
    date: dt.date
    year_day: int
    midnight: int
    slots: int
    zones: Tuple[int, ...]      # tariff - 1 of each slot
    zone_shape: List[float]     # load shape summed per zone
    load_w: float               # mean load of the day (season, weekday, day noise)
    cloud: float                # share of clear-sky PV output
    tan_import: float
    tan_export: float
    hash: int                   # the day's mix64 draw (the slot level seeds from it)


class DayTable:
    """Two levels of one meter's consumption over local days ``first_day`` .. ``last_day``.

    Day level, a few microseconds a day: per day and tariff zone the integer mWh of A+, A-, R+ and
    R-, from a hash of the meter's key and the date (``mix64``) -- so every midnight register is an
    exact prefix sum, whatever the history's length.  Slot level, only for a day that is written:
    the day's slots, their energies spread over each zone by load shape x slot noise x power
    coverage (``spread``) so that they add up exactly to the day's zone totals."""

    def __init__(self, model: LoadModel, key: int, first_day: dt.date, last_day: dt.date,
                 period_minutes: int, tz: dt.tzinfo, schedule: TariffSchedule,
                 outages: Sequence[Outage]) -> None:
        self.model, self.key, self.tz, self.schedule = model, key, tz, schedule
        self.period_minutes = period_minutes
        self.period_s = period_minutes * 60
        self.first_day = first_day
        self.first_ordinal = first_day.toordinal()
        self.count = max(0, (last_day - first_day).days + 1)
        self.midnights = timegrid.midnights(first_day, self.count + 1, tz)
        self.outages = sorted(outages)
        self.shape = model.shape(period_minutes)
        self._mean_w, self._weekend = model.mean_power_w, model.weekend_factor
        self._day_noise = 1.5 * model.noise_sigma
        self._tan_import, self._tan_export = model.tan_phi, model.export_tan_phi
        self._year_starts: Dict[int, int] = {}
        self._holidays = schedule.holidays
        self._kinds: Dict[Tuple[bool, int], Tuple[Tuple[int, ...], List[float]]] = {}
        self._night_cache: Dict[Tuple[int, int, int], Tuple[List[float], List[Tuple[int, int, int]]]] = {}
        self._zone_cache: Dict[Tuple[int, int], Tuple[Tuple[int, ...], List[float]]] = {}
        self.outage_days = self._outage_days()
        # totals[q][t][i]: mWh of quantity q (A+, A-, R+, R-) in tariff zone t + 1 on day i
        self.totals = [[[0] * self.count for _ in range(4)] for _ in range(4)]
        self._fill()

    # ---- day level -------------------------------------------------------------------------
    def _outage_days(self) -> Set[int]:
        days: Set[int] = set()
        mids = self.midnights
        for off, on in self.outages:
            i = max(0, bisect.bisect_right(mids, off) - 1)
            while i < self.count and mids[i] < on:
                if mids[i + 1] > off:
                    days.add(i)
                i += 1
        return days

    def _zones(self, day_map: Tuple[int, ...], slots: int) -> Tuple[Tuple[int, ...], List[float]]:
        """Zone (tariff - 1) of each slot of a day with ``slots`` slots, and the load shape summed
        per zone; a 23- or 25-hour day drops or repeats the last slot's shape and tariff."""
        found = self._zone_cache.get((id(day_map), slots))  # the schedule keeps its day maps
        if found is None:
            last = len(day_map) - 1
            zones = tuple(day_map[min(k, last)] - 1 for k in range(slots))
            sums = [0.0, 0.0, 0.0, 0.0]
            for k, z in enumerate(zones):
                sums[z] += self.shape[min(k, last)]
            found = self._zone_cache[(id(day_map), slots)] = (zones, sums)
        return found

    def day(self, i: int) -> _Day:
        """The day-level draws of day index ``i``."""
        model = self.model
        ordinal = self.first_ordinal + i
        date = dt.date.fromordinal(ordinal)
        midnight = self.midnights[i]
        slots = (self.midnights[i + 1] - midnight) // self.period_s
        weekend = date.weekday() >= 5
        kind = (weekend or date in self._holidays, slots)
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = self._zones(self.schedule.day_map(date, self.period_minutes), slots)
        zones, zone_shape = found
        h = mix64(self.key ^ ordinal)
        year_start = self._year_starts.get(date.year)
        if year_start is None:
            year_start = self._year_starts[date.year] = dt.date(date.year, 1, 1).toordinal()
        year_day = ordinal - year_start + 1
        load = self._mean_w * model.season_factor(year_day) * (self._weekend if weekend else 1.0) \
            * (1.0 + self._day_noise * ((h >> 40) / 8388608.0 - 1.0))
        u_phi = (h & 0xFFFF) / 65536.0
        return _Day(i, date, year_day, midnight, slots, zones, zone_shape, load,
                    0.2 + 0.8 * ((h >> 16) & 0xFFFFFF) / 16777216.0,
                    self._tan_import * (0.97 + 0.06 * u_phi), self._tan_export * (0.9 + 0.2 * u_phi), h)

    def _means(self, day: _Day) -> Tuple[List[float], List[float], List[int]]:
        """Mean import and export power (W) of each slot of a day, times the share of the slot the
        meter had power, and the slots an outage cut part of (isPart)."""
        shape, last = self.shape, len(self.shape) - 1
        load = day.load_w
        sun = None
        if self.model.pv_peak_w:
            sun = sun_shape(day.year_day, self.period_minutes)[0]
            pv = self.model.pv_peak_w * day.cloud
        coverage, partial = self._coverage(day)
        imports: List[float] = []
        exports: List[float] = []
        for k in range(day.slots):
            index = k if k < last else last
            net = load * shape[index] - (pv * sun[index] if sun is not None else 0.0)
            c = coverage[k]
            if net >= 0:
                imports.append(net * c)
                exports.append(0.0)
            else:
                imports.append(0.0)
                exports.append(-net * c)
        return imports, exports, partial

    def _coverage(self, day: _Day) -> Tuple[List[float], List[int]]:
        slots, ps, midnight = day.slots, self.period_s, day.midnight
        coverage, partial = [1.0] * slots, [0] * slots
        if day.index not in self.outage_days:
            return coverage, partial
        following = midnight + slots * ps
        for off, on in self.outages:
            if on <= midnight or off >= following:
                continue
            for k in range(max(0, (off - midnight) // ps), min(slots, (on - midnight - 1) // ps + 1)):
                start = midnight + k * ps
                overlap = min(start + ps, on) - max(start, off)
                if overlap > 0:
                    coverage[k] -= overlap / ps
                    partial[k] = 1
        for k in range(slots):
            if coverage[k] < 1e-9:
                coverage[k], partial[k] = 0.0, 0
        return coverage, partial

    def _fill(self) -> None:
        mwh = self.period_s / 3.6
        pv = bool(self.model.pv_peak_w)
        outage_days = self.outage_days
        days = [self.day(i) for i in range(self.count)]
        imports: List[List[float]] = []   # per day: W summed per zone (shape units on plain days)
        scales: List[float] = []          # per day: what turns that sum into mWh
        exports: List[List[float]] = []
        none = [0.0, 0.0, 0.0, 0.0]
        for day in days:
            if day.index in outage_days:
                means_in, means_out, _ = self._means(day)
                sums_in, sums_out = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]
                for z, a, b in zip(day.zones, means_in, means_out):
                    sums_in[z] += a
                    sums_out[z] += b
                imports.append(sums_in)
                scales.append(mwh)
                exports.append(sums_out)
            elif pv:
                sums_in, sums_out = self._sunny_sums(day)
                imports.append(sums_in)
                scales.append(mwh)
                exports.append(sums_out)
            else:  # the load times the shape summed per zone, no per-slot work
                imports.append(day.zone_shape)
                scales.append(day.load_w * mwh)
                exports.append(none)
        tan_import = [day.tan_import for day in days]
        tan_export = [day.tan_export for day in days]
        ap, am, rp, rm = self.totals
        for z in range(4):
            ap[z] = [int(sums[z] * scale + 0.5) for sums, scale in zip(imports, scales)]
            rp[z] = [int(e * t + 0.5) for e, t in zip(ap[z], tan_import)]
            if pv or outage_days:
                am[z] = [int(sums[z] * mwh + 0.5) for sums in exports]
                rm[z] = [int(e * t + 0.5) for e, t in zip(am[z], tan_export)]

    def _sunny_sums(self, day: _Day) -> Tuple[List[float], List[float]]:
        """Import and export power summed per zone on a day with PV and no outage.

        The slots without sun import their load (a sum cached per kind of day); the sunny ones
        are summed per run of one zone with C-level sums: positive part = (sum + sum of
        magnitudes) / 2.  Each slot's direction is that of the same ``net`` the slot level
        computes, so a zone has import (export) energy only if one of its slots imports (exports)."""
        sun, first, stop = sun_shape(day.year_day, self.period_minutes)
        stop = min(stop, day.slots)
        key = (id(day.zones), first, stop)
        found = self._night_cache.get(key)
        if found is None:
            shape, zones, last = self.shape, day.zones, len(self.shape) - 1
            night = [0.0, 0.0, 0.0, 0.0]
            for k, z in enumerate(zones):
                if not first <= k < stop:
                    night[z] += shape[min(k, last)]
            runs: List[Tuple[int, int, int]] = []
            for k in range(first, stop):
                if runs and runs[-1][0] == zones[k]:
                    runs[-1] = (zones[k], runs[-1][1], k + 1 - first)
                else:
                    runs.append((zones[k], k - first, k + 1 - first))
            found = self._night_cache[key] = (night, runs)
        night, runs = found
        load, pv = day.load_w, self.model.pv_peak_w * day.cloud
        nets = [load * s - pv * g for s, g in zip(self.shape[first:stop], sun[first:stop])]
        sums_in = [load * x for x in night]
        sums_out = [0.0, 0.0, 0.0, 0.0]
        for z, lo, hi in runs:
            segment = nets[lo:hi]
            total, magnitude = sum(segment), sum(map(abs, segment))
            sums_in[z] += (magnitude + total) / 2
            sums_out[z] += (magnitude - total) / 2
        return sums_in, sums_out

    def cumulative(self) -> List[List[List[int]]]:
        """[quantity][tariff 0..4] running sums of the day totals: entry i is the energy of days
        before day i (count + 1 entries; tariff 0 is the sum of the zones)."""
        out = []
        for per_zone in self.totals:
            day_sums = [a + b + c + d for a, b, c, d in zip(*per_zone)]
            out.append([list(accumulate(day_sums, initial=0))]
                       + [list(accumulate(zone, initial=0)) for zone in per_zone])
        return out

    # ---- slot level ------------------------------------------------------------------------
    def slots(self, i: int) -> SlotSeries:
        """Every slot of day index ``i``: energies that add up exactly to the day's zone totals."""
        day = self.day(i)
        gauss = random.Random(mix64(day.hash ^ 0x5EED)).gauss
        sigma, exp = self.model.noise_sigma, math.exp
        noise = [exp(gauss(0.0, sigma)) for _ in range(day.slots)]
        if self.model.pv_peak_w or i in self.outage_days:
            imports, exports, partial = self._means(day)
        else:
            shape, last = self.shape, len(self.shape) - 1
            imports = [shape[k if k < last else last] for k in range(day.slots)]
            exports, partial = [], [0] * day.slots
        zones = day.zones
        ap, am, rp, rm = self.totals
        a_plus, r_plus = _spread_zones([a * n for a, n in zip(imports, noise)], zones,
                                       [ap[z][i] for z in range(4)], [rp[z][i] for z in range(4)])
        if any(exports):
            a_minus, r_minus = _spread_zones([b * n for b, n in zip(exports, noise)], zones,
                                             [am[z][i] for z in range(4)], [rm[z][i] for z in range(4)])
        else:
            a_minus = r_minus = [0] * day.slots
        ps, midnight = self.period_s, day.midnight
        season = timegrid.is_dst(midnight, self.tz)
        return SlotSeries(ps, [midnight + (k + 1) * ps for k in range(day.slots)], a_plus, a_minus,
                          r_plus, r_minus, [z + 1 for z in zones], partial, [season] * day.slots)

    def index_of(self, ts: int) -> int:
        """Index of the day whose local midnight is the latest at or before ``ts`` (-1 before the
        first day, ``count`` from the midnight after the last)."""
        return bisect.bisect_right(self.midnights, ts) - 1


def random_outages(rng: random.Random, start: int, end: int, per_30_days: float = 1.0) -> List[Outage]:
    """Power outages as a Poisson process: 10 minutes to 4 hours each, never overlapping."""
    outages: List[Outage] = []
    rate = per_30_days / (30 * 86400)
    t = start
    while rate > 0:
        t += int(rng.expovariate(rate))
        if t >= end:
            break
        duration = int(rng.uniform(600, 4 * 3600))
        on = t + duration
        if on >= end:
            break
        outages.append((t, on))
        t = on + 3600
    return outages
