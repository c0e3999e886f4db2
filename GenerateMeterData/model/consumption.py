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
from operator import sub
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from . import daytypes, profiles, sun, timegrid
from .place import place_of
from .rng import mix64
from .tariffs import TariffSchedule

Outage = Tuple[int, int]  # (power off, power on) epoch seconds


# The consumer classes a meter is drawn from: (profile, weight) -- households most, then the
# commercial kinds of the BDEW profiles (G0 general, G1 weekdays 8-18, G2 evenings, G3 around the
# clock, G4 shops, G5 bakeries, G6 weekend), then agriculture (L0-L2).
CLASSES: Tuple[Tuple[str, float], ...] = (
    ("H0", 0.70), ("G0", 0.08), ("G1", 0.05), ("G2", 0.03), ("G3", 0.03), ("G4", 0.04), ("G5", 0.015),
    ("G6", 0.015), ("L0", 0.02), ("L1", 0.01), ("L2", 0.01))
VACATION_LOAD = 0.35   # share of its usual load a household draws while away
# per day of the year (1..366): cosine of the seasonal tilt (1 in mid-January) and the chance
# of a clear day for PV (0.6 at midsummer, 0.1 at midwinter)
_SEASON_COS = tuple(math.cos(2 * math.pi * (d - 15) / 365.25) for d in range(367))
_CLEAR = tuple(0.35 + 0.25 * math.cos(2 * math.pi * (d - 172) / 365.25) for d in range(367))


@dataclass(frozen=True)
class LoadModel:
    """Seeded parameters of one meter's load: its standard profile and the meter's own deviations
    from it (timing, amplitude, habits, season and day-type tilt, vacations), noise, reactive
    power, phase split, and an optional rooftop PV that makes the meter export (A-).

    Every deviation has mean zero over meters (or is renormalised), so the mean of many meters
    of one class converges on the class's profile."""

    phases: int
    mean_power_w: float
    profile: str
    shift_minutes: int                     # the meter's day runs this late (negative: early)
    peakiness: float                       # > 0: peaks higher and nights lower than the profile
    habits: Tuple[float, ...]              # 24 hourly factors of this household's own habits
    season_amplitude: float                # extra winter (> 0) or summer (< 0) load
    day_factors: Tuple[float, float, float]   # workday, Saturday, Sunday/holiday
    vacations: Tuple[Tuple[int, int], ...]    # (first, last) day of the year away
    noise_sigma: float
    power_factor: float                    # of the load-proportional part of the reactive power
    reactive_base: float                   # reactive power present at any load, share of the mean load
    reactive_phase: float                  # hour at which the reactive base peaks
    pv_peak_w: float
    export_tan_phi: float
    phase_weights: Tuple[float, float, float]
    phase_reactive: Tuple[float, float, float]  # share of the reactive power per phase (x3)
    voltage_level: float                   # the supply's voltage at no load, share of nominal

    @classmethod
    def random(cls, rng: random.Random, phases: int, can_export: bool,
               pv: Optional[bool] = None, profile: Optional[str] = None) -> "LoadModel":
        """A meter's parameters drawn from ``rng``; ``pv`` forces a PV (True) or none (False),
        ``profile`` a consumer class (one of ``profiles.PROFILES``).  Every parameter is drawn
        either way, so forcing one moves no other."""
        pick, running, drawn = rng.random(), 0.0, CLASSES[-1][0]
        for name, weight in CLASSES:
            running += weight
            if pick < running:
                drawn = name
                break
        if profile is not None and profile not in profiles.PROFILES:
            raise ValueError(f"unknown load profile {profile!r}; one of {', '.join(profiles.PROFILES)}")
        profile = profile or drawn
        household = profile in profiles.HOUSEHOLD
        mean = rng.uniform(1500.0, 12000.0) if phases == 3 else rng.uniform(250.0, 1400.0)
        weights = [rng.uniform(0.75, 1.25) for _ in range(3)]
        reactive = [w * rng.uniform(0.8, 1.2) for w in weights]
        shift = max(-75, min(75, int(round(rng.gauss(0.0, 30.0)))))
        peakiness = rng.uniform(-0.2, 0.2)
        habits = tuple(math.exp(rng.gauss(0.0, 0.12)) for _ in range(24))
        tilt = rng.uniform(-0.1, 0.1)
        day_factors = tuple(rng.uniform(0.94, 1.06) for _ in range(3))
        away = []
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            first = rng.randrange(1, 360)
            away.append((first, first + rng.randrange(6, 14)))
        noise = rng.uniform(0.06, 0.16)
        pf = rng.uniform(0.90, 0.98)
        base = rng.uniform(0.06, 0.22)
        base_hour = rng.uniform(0.0, 24.0)
        pv_peak = _pv_peak(rng, mean, pv if pv is not None else (can_export and rng.random() < 0.5),
                           oversized=bool(pv))
        export_tan = rng.uniform(0.02, 0.15)
        voltage = rng.uniform(0.985, 1.025)
        return cls(
            phases=phases, mean_power_w=mean, profile=profile, shift_minutes=shift if household else shift // 3,
            peakiness=peakiness if household else peakiness / 2, habits=habits if household else tuple(
                1.0 + (h - 1.0) / 3 for h in habits),
            season_amplitude=tilt, day_factors=(day_factors[0], day_factors[1], day_factors[2]),
            vacations=tuple(sorted(away)) if household else (),
            noise_sigma=noise, power_factor=pf, reactive_base=base, reactive_phase=base_hour,
            pv_peak_w=pv_peak, export_tan_phi=export_tan,
            phase_weights=_norm3(weights), phase_reactive=_norm3(reactive), voltage_level=voltage,
        )

    @property
    def commercial(self) -> bool:
        """Whether the meter follows a commercial or agricultural profile (not H0)."""
        return self.profile not in profiles.HOUSEHOLD

    @property
    def tan_proportional(self) -> float:
        """tan(phi) of the load-proportional reactive power (Q = Q0 + P * tan phi)."""
        return math.tan(math.acos(self.power_factor))

    @property
    def tan_phi(self) -> float:
        """tan(phi) at the meter's mean load: reactive over active energy in the long run."""
        return self.tan_proportional + self.reactive_base

    def shape(self, period_minutes: int, cell: int) -> List[float]:
        """Relative load of each slot of a day of a profile cell (season * 3 + day type), mean 1:
        the profile shifted by the meter's timing, its peaks scaled by its peakiness and each
        hour weighted by its habits."""
        values = profiles.slot_means(self.profile, cell, period_minutes, self.shift_minutes)
        mean = sum(values) / len(values)
        a, habits = 1.0 + self.peakiness, self.habits
        shaped = [max(mean + a * (v - mean), 0.05 * mean) * habits[(k * period_minutes) // 60]
                  for k, v in enumerate(values)]
        total = sum(shaped) / len(shaped)
        return [v / total for v in shaped]

    def reactive_drift(self, period_minutes: int) -> List[float]:
        """Factor of the reactive base in each slot of the day (mean 1, +-25 % over the day)."""
        return [1.0 + 0.25 * math.cos(2 * math.pi * ((k + 0.5) * period_minutes / 60 - self.reactive_phase) / 24)
                for k in range(1440 // period_minutes)]

    def season_factor(self, year_day: int) -> float:
        """The meter's own seasonal tilt on top of its profile's (winter above 1 when > 0)."""
        return 1.0 + self.season_amplitude * math.cos(2 * math.pi * (year_day - 15) / 365.25)


def _norm3(weights: Sequence[float]) -> Tuple[float, float, float]:
    total = sum(weights)
    return (3 * weights[0] / total, 3 * weights[1] / total, 3 * weights[2] / total)


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


def _spread_zones(weights: Sequence[float], r_weights: Sequence[float], zones: Sequence[int],
                  energy: Sequence[int], reactive: Sequence[int]) -> Tuple[List[int], List[int]]:
    """Slot energies and reactive energies of one day: each zone's integer totals (index = tariff
    - 1) spread over the zone's slots in proportion to ``weights`` and ``r_weights`` (``spread``
    of each zone's slots, in slot order)."""
    runs: Dict[int, List[Tuple[int, int]]] = {}   # zone -> its runs of slots [lo, hi)
    lo = 0
    for hi in range(1, len(zones) + 1):
        if hi == len(zones) or zones[hi] != zones[lo]:
            runs.setdefault(zones[lo], []).append((lo, hi))
            lo = hi
    return _spread_runs(weights, runs, energy), _spread_runs(r_weights, runs, reactive)


def _spread_runs(weights: Sequence[float], runs: Dict[int, List[Tuple[int, int]]],
                 totals: Sequence[int]) -> List[int]:
    """``spread`` of ``totals[z]`` over the slots of zone z's runs, for every zone, a zone at a
    time: the running sum is the zone's weights added in slot order (``accumulate``), so each
    slot gets what the one-slot-at-a-time loop gives it to the last bit."""
    out = [0] * len(weights)
    for z, total in enumerate(totals):
        if total and z not in runs:
            raise ValueError(f"tariff {z + 1}: {total} mWh for a zone with no powered slot")
    for z, spans in runs.items():
        own = [w for a, b in spans for w in weights[a:b]]
        running = list(accumulate(own))
        total = totals[z]
        whole = running[-1]
        ratio = total / whole if whole else 0.0
        nows = [int(c * ratio + 0.5) for c in running]
        if max(nows) > total:   # never, short of a rounding freak: keeps every slot >= 0
            nows = [min(now, total) for now in nows]
        gains = list(map(sub, nows, [0] + nows[:-1]))
        if nows[-1] != total:   # exact by construction; this only absorbs a last-ulp difference
            weighted = [k for k, w in enumerate(own) if w]
            if not weighted:
                raise ValueError(f"tariff {z + 1}: {total} mWh for a zone with no powered slot")
            gains[weighted[-1]] += total - nows[-1]
        k = 0
        for a, b in spans:
            out[a:b] = gains[k:k + b - a]
            k += b - a
    return out


def lognormal_noise(uniform: Callable[[], float], count: int, sigma: float) -> List[float]:
    """``count`` draws of exp(N(0, sigma)), the same as ``exp(rng.gauss(0.0, sigma))`` drawn
    ``count`` times from a fresh ``random.Random`` whose ``random`` is ``uniform`` (the standard
    library's Box-Muller: two uniforms make two normals, cosine first), drawn a pair at a time."""
    draws = [uniform() for _ in range(2 * ((count + 1) // 2))]
    sqrt, log, cos, sin, exp = math.sqrt, math.log, math.cos, math.sin, math.exp
    out: List[float] = []
    for x, y in zip(draws[0::2], draws[1::2]):
        angle, radius = x * _TWO_PI, sqrt(-2.0 * log(1.0 - y))
        out.append(exp(0.0 + cos(angle) * radius * sigma))
        out.append(exp(0.0 + sin(angle) * radius * sigma))
    del out[count:]
    return out


_TWO_PI = 2.0 * math.pi


class _Kind(NamedTuple):
    """What every day of one kind (profile cell, tariff table, length) shares."""

    cell: int
    rest: bool                  # the weekend tariff table applies
    zones: Tuple[int, ...]      # tariff - 1 of each slot
    shape: List[float]          # the meter's relative load of each slot
    zone_shape: List[float]     # ``shape`` summed per zone
    zone_base: List[float]      # the reactive base's drift summed per zone
    drift: List[float]          # the reactive base's drift of each slot


class _Day(NamedTuple):
    """What the day level draws for one day (a pure function of the meter's key and the date)."""

    number: int                 # days since ``first_day`` (not ``index``: that is tuple's method)
    date: dt.date
    year_day: int
    midnight: int
    slots: int
    kind: _Kind
    load_w: float               # mean load of the day (profile level, season, day type, noise)
    cloud: float                # share of clear-sky PV output
    tan_import: float
    tan_export: float
    hash: int                   # the day's mix64 draw (the slot level seeds from it)

    @property
    def zones(self) -> Tuple[int, ...]:
        return self.kind.zones


class DayTable:
    """Two levels of one meter's consumption over local days ``first_day`` .. ``last_day``.

    Day level, a few microseconds a day: per day and tariff zone the integer mWh of A+, A-, R+ and
    R-, from a hash of the meter's key and the date (``mix64``) -- so every midnight register is an
    exact prefix sum, whatever the history's length.  Slot level, only for a day that is written:
    the day's slots, their energies spread over each zone by load shape x slot noise x power
    coverage (``spread``) so that they add up exactly to the day's zone totals.

    The day's shape and level come from the meter's standard profile for the season and day type
    (``profiles``); the day type from the production calendar of the time zone's country
    (``daytypes``: a holiday is a Sunday and follows the weekend tariff table, a working Saturday
    a workday); PV output from the sun's path at the zone's latitude (``sun``, or ``latitude``).
    Reactive import is a base that drifts over the day plus a part proportional to the load, so
    the power factor is lower at light load."""

    def __init__(self, model: LoadModel, key: int, first_day: dt.date, last_day: dt.date,
                 period_minutes: int, tz: dt.tzinfo, schedule: TariffSchedule,
                 outages: Sequence[Outage], latitude: Optional[float] = None) -> None:
        self.model, self.key, self.tz, self.schedule = model, key, tz, schedule
        self.period_minutes = period_minutes
        self.period_s = period_minutes * 60
        self.first_day = first_day
        self.first_ordinal = first_day.toordinal()
        self.count = max(0, (last_day - first_day).days + 1)
        self.midnights = timegrid.midnights(first_day, self.count + 1, tz)
        self.outages = sorted(outages)
        self.calendar = daytypes.calendar_for(tz)
        place = place_of(tz)
        self.latitude = place.latitude if latitude is None else latitude
        self.longitude = place.longitude
        self._mean_w = model.mean_power_w
        self._day_factors = model.day_factors
        self._dynamised = model.profile in profiles.DYNAMISED
        self._levels = profiles.levels(model.profile)
        self._day_noise = 1.5 * model.noise_sigma
        self._tan_import, self._tan_export = model.tan_proportional, model.export_tan_phi
        self._base_w = model.reactive_base * model.mean_power_w
        self._drift = model.reactive_drift(period_minutes)
        self._holidays = schedule.holidays
        self._shapes: Dict[int, List[float]] = {}
        self._kinds: Dict[Tuple[int, bool, int], _Kind] = {}
        self._runs: Dict[Tuple[bool, int, int, int], List[Tuple[int, int, int]]] = {}  # sunny runs of one zone
        self._pv = bool(model.pv_peak_w)
        self._suns: Dict[Tuple[int, int], Tuple[List[float], int, int]] = {}
        self._calendar()
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

    def _kind(self, cell: int, rest: bool, slots: int, date: dt.date) -> _Kind:
        """Zone (tariff - 1) of each slot of a day with ``slots`` slots, the load shape and its
        per-zone sums; a 23- or 25-hour day drops or repeats the last slot's shape and tariff."""
        shape = self._shapes.get(cell)
        if shape is None:
            shape = self._shapes[cell] = self.model.shape(self.period_minutes, cell)
        day_map = self.schedule.day_map(date, self.period_minutes, rest)
        last = len(day_map) - 1
        zones = tuple(day_map[min(k, last)] - 1 for k in range(slots))
        sums, base = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]
        drift = self._drift
        for k, z in enumerate(zones):
            sums[z] += shape[min(k, last)]
            base[z] += drift[min(k, last)]
        return _Kind(cell, rest, zones, [shape[min(k, last)] for k in range(slots)], sums, base,
                     [drift[min(k, last)] for k in range(slots)])

    def _calendar(self) -> None:
        """Per day index: the profile cell, whether the weekend tariff table applies, the day of
        the year and the day's load before its noise (the profile level of the cell, the
        dynamisation, the meter's mean, day-type factor, seasonal tilt and vacations)."""
        model, calendar = self.model, self.calendar
        levels, day_factors, mean = self._levels, self._day_factors, self._mean_w
        dyn = profiles.dynamisation_table() if self._dynamised else None
        amplitude = model.season_amplitude
        away = {d for first, last in model.vacations for d in range(first, last + 1)}
        holidays = self._holidays
        cells, rests, year_days, loads = [], [], [], []
        date = self.first_day
        year_day = date.timetuple().tm_yday
        types, seasons = calendar.year_types(date.year), profiles.year_seasons(date.year)
        year = date.year
        for i in range(self.count):
            if year_day > len(types):
                year, year_day = year + 1, 1
                types, seasons = calendar.year_types(year), profiles.year_seasons(year)
            kind = types[year_day - 1]
            if holidays and self.first_day + dt.timedelta(days=i) in holidays:
                kind = daytypes.SUNDAY   # a holiday of the tariff schedule's own is one too
            cell = seasons[year_day - 1] * 3 + kind
            cells.append(cell)
            rests.append(kind != daytypes.WORKDAY)
            year_days.append(year_day)
            load = mean * levels[cell] * day_factors[kind] * (1.0 + amplitude * _SEASON_COS[year_day])
            if dyn is not None:
                load *= dyn[year_day]
            if year_day in away:
                load *= VACATION_LOAD
            loads.append(load)
            year_day += 1
        self._cells, self._rests, self._year_days, self._loads = cells, rests, year_days, loads

    def day_type(self, date: dt.date) -> int:
        """The calendar's day type of a date (``daytypes.WORKDAY``, ``SATURDAY``, ``SUNDAY``)."""
        return self.calendar.day_type(date)

    def day(self, i: int) -> _Day:
        """The day-level draws of day index ``i``."""
        ordinal = self.first_ordinal + i
        date = dt.date.fromordinal(ordinal)
        midnight = self.midnights[i]
        slots = (self.midnights[i + 1] - midnight) // self.period_s
        cell, rest = self._cells[i], self._rests[i]
        key = (cell, rest, slots)
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = self._kind(cell, rest, slots, date)
        h = mix64(self.key ^ ordinal)
        year_day = self._year_days[i]
        load = self._loads[i] * (1.0 + self._day_noise * ((h >> 40) / 8388608.0 - 1.0))
        u_phi = (h & 0xFFFF) / 65536.0
        cloud = 0.0
        if self._pv:  # clear days (most in summer) or overcast ones; one draw decides both
            u_cloud, clear = ((h >> 16) & 0xFFFFFF) / 16777216.0, _CLEAR[year_day]
            cloud = 0.82 + 0.18 * u_cloud / clear if u_cloud < clear else 0.08 + 0.5 * (u_cloud - clear) / (1.0 - clear)
        return _Day(i, date, year_day, midnight, slots, kind, load, cloud,
                    self._tan_import * (0.97 + 0.06 * u_phi), self._tan_export * (0.9 + 0.2 * u_phi), h)

    def sun(self, day: _Day) -> Tuple[List[float], int, int]:
        """The clear-sky PV output of each slot of a day at the meter's place (``sun.clear_sky``)."""
        offset_minutes = ((self.first_ordinal + day.number - 719163) * 86400 - day.midnight) // 60
        key = (day.year_day, offset_minutes)
        found = self._suns.get(key)
        if found is None:
            longitude = self.longitude if self.longitude is not None else offset_minutes / 4.0
            noon = sun.noon_minute(day.year_day, longitude, offset_minutes)
            found = self._suns[key] = sun.clear_sky(day.year_day, self.period_minutes, self.latitude, noon)
        return found

    def _means(self, day: _Day) -> Tuple[List[float], List[float], List[float], List[int]]:
        """Mean import and export power (W) of each slot of a day, times the share of the slot the
        meter had power, the share itself (coverage) and the slots an outage cut part of (isPart)."""
        shape = day.kind.shape
        load = day.load_w
        sun_values = None
        if self.model.pv_peak_w:
            sun_values = self.sun(day)[0]
            pv = self.model.pv_peak_w * day.cloud
        coverage, partial = self._coverage(day)
        imports: List[float] = []
        exports: List[float] = []
        for k in range(day.slots):
            net = load * shape[k] - (pv * sun_values[min(k, len(sun_values) - 1)] if sun_values is not None else 0.0)
            c = coverage[k]
            if net >= 0:
                imports.append(net * c)
                exports.append(0.0)
            else:
                imports.append(0.0)
                exports.append(-net * c)
        return imports, exports, coverage, partial

    def _coverage(self, day: _Day) -> Tuple[List[float], List[int]]:
        slots, ps, midnight = day.slots, self.period_s, day.midnight
        coverage, partial = [1.0] * slots, [0] * slots
        if day.number not in self.outage_days:
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
        bases: List[List[float]] = []     # per day: the reactive base's drift x coverage per zone
        none = [0.0, 0.0, 0.0, 0.0]
        for day in days:
            if day.number in outage_days:
                means_in, means_out, coverage, _ = self._means(day)
                sums_in, sums_out, base = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]
                for z, a, b, c, d in zip(day.zones, means_in, means_out, coverage, day.kind.drift):
                    sums_in[z] += a
                    sums_out[z] += b
                    base[z] += d * c
                imports.append(sums_in)
                scales.append(mwh)
                exports.append(sums_out)
                bases.append(base)
            elif pv:
                sums_in, sums_out = self._sunny_sums(day)
                imports.append(sums_in)
                scales.append(mwh)
                exports.append(sums_out)
                bases.append(day.kind.zone_base)
            else:  # the load times the shape summed per zone, no per-slot work
                imports.append(day.kind.zone_shape)
                scales.append(day.load_w * mwh)
                exports.append(none)
                bases.append(day.kind.zone_base)
        tan_import = [day.tan_import for day in days]
        tan_export = [day.tan_export for day in days]
        base_mwh = self._base_w * mwh
        ap, am, rp, rm = self.totals
        for z in range(4):
            energy = [sums[z] * scale for sums, scale in zip(imports, scales)]
            ap[z] = [int(e + 0.5) for e in energy]
            rp[z] = [int(e * t + b[z] * base_mwh + 0.5) for e, t, b in zip(energy, tan_import, bases)]
            if pv or outage_days:
                am[z] = [int(sums[z] * mwh + 0.5) for sums in exports]
                rm[z] = [int(e * t + 0.5) for e, t in zip(am[z], tan_export)]

    def _sunny_sums(self, day: _Day) -> Tuple[List[float], List[float]]:
        """Import and export power summed per zone on a day with PV and no outage.

        The slots without sun import their load (the day's load less that of the sunny slots);
        the sunny ones are summed per run of one zone with C-level sums: positive part = (sum + sum of
        magnitudes) / 2.  Each slot's direction is that of the same ``net`` the slot level
        computes, so a zone has import (export) energy only if one of its slots imports (exports)."""
        sun_values, first, stop = self.sun(day)
        stop = min(stop, day.slots)
        kind = day.kind
        key = (kind.rest, day.slots, first, stop)
        runs = self._runs.get(key)
        if runs is None:
            zones = kind.zones
            runs = []
            for k in range(first, stop):
                if runs and runs[-1][0] == zones[k]:
                    runs[-1] = (zones[k], runs[-1][1], k + 1 - first)
                else:
                    runs.append((zones[k], k - first, k + 1 - first))
            self._runs[key] = runs
        load, pv = day.load_w, self.model.pv_peak_w * day.cloud
        lit = kind.shape[first:stop]
        nets = [load * s - pv * g for s, g in zip(lit, sun_values[first:stop])]
        sums_in = [load * x for x in kind.zone_shape]   # every slot's load, less the sunny ones'
        sums_out = [0.0, 0.0, 0.0, 0.0]
        for z, lo, hi in runs:
            segment = nets[lo:hi]
            total, magnitude = sum(segment), sum(map(abs, segment))
            sums_in[z] += (magnitude + total) / 2 - load * sum(lit[lo:hi])
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
        """Every slot of day index ``i``: energies that add up exactly to the day's zone totals.

        Each slot's weight is the load shape x a lognormal slot noise x a few appliance switch-ons
        (kettle, oven, washing machine: a slot drawing 1-3 times more) of the day; reactive
        import is spread by the base's drift x coverage plus tan(phi) x the import weight."""
        day = self.day(i)
        draw = random.Random(mix64(day.hash ^ 0x5EED))
        uniform = draw.random
        noise = lognormal_noise(uniform, day.slots, self.model.noise_sigma)
        for _ in range(2 if self.model.commercial else 5):  # appliances switched on
            k = int(uniform() * day.slots)
            noise[k] *= 1.0 + 2.0 * uniform()
        coverage: Sequence[float]
        if self.model.pv_peak_w or i in self.outage_days:
            imports, exports, coverage, partial = self._means(day)
        else:
            imports, exports, partial = day.kind.shape, [], [0] * day.slots
            coverage = partial  # unused: every slot powered
        zones = day.zones
        ap, am, rp, rm = self.totals
        weights = [a * n for a, n in zip(imports, noise)]
        tan, drift = day.tan_import, day.kind.drift
        if exports:  # weights in W: the base in W, where the meter had power
            base = self._base_w
            r_weights = [w * tan + base * d * c for w, d, c in zip(weights, drift, coverage)]
        else:        # weights in units of the day's load
            base = self._base_w / day.load_w
            r_weights = [w * tan + base * d for w, d in zip(weights, drift)]
        a_plus, r_plus = _spread_zones(weights, r_weights, zones, [ap[z][i] for z in range(4)],
                                       [rp[z][i] for z in range(4)])
        if any(exports):
            e_weights = [b * n for b, n in zip(exports, noise)]
            a_minus, r_minus = _spread_zones(e_weights, e_weights, zones, [am[z][i] for z in range(4)],
                                             [rm[z][i] for z in range(4)])
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
