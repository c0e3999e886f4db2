"""The consumption model of one electricity meter and its simulation over a local time grid.

Everything a meter's rows say comes from ``simulate``: the energy of every profile slot, in
integer milliwatt-hours, so that registers, day and month consumption and the profile are exact
sums of the same integers and stay consistent to the last written decimal."""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from . import timegrid
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

    def season_factor(self, day: dt.date) -> float:
        """Seasonal load factor of a day (winter above 1)."""
        return 1.0 + self.season_amplitude * math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)

    def sun(self, day: dt.date, period_minutes: int) -> List[float]:
        """Relative PV output of each slot of the day (0 at night, 1 at a clear summer noon)."""
        angle = 2 * math.pi * (day.timetuple().tm_yday - 172) / 365.25
        half_day = 6.2 + 2.6 * math.cos(angle)
        strength = 0.65 + 0.35 * math.cos(angle)
        out = []
        for minute in range(0, 1440, period_minutes):
            hour = (minute + period_minutes / 2) / 60.0
            x = (hour - (12.5 - half_day)) / (2 * half_day)
            out.append(strength * math.sin(math.pi * x) ** 1.5 if 0 < x < 1 else 0.0)
        return out


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


def simulate(model: LoadModel, rng: random.Random, first_day: dt.date, last_day: dt.date,
             period_minutes: int, tz: dt.tzinfo, schedule: TariffSchedule,
             outages: Sequence[Outage]) -> SlotSeries:
    """Every slot from local midnight of ``first_day`` to local midnight after ``last_day``."""
    period_s = period_minutes * 60
    shape = model.shape(period_minutes)
    tan_phi, tan_export = model.tan_phi, model.export_tan_phi
    mwh_per_w = period_s / 3.6  # W over one slot -> mWh
    series = SlotSeries(period_s, [], [], [], [], [], [], [], [])
    ends, ap, am, rp, rm = series.ends, series.ap, series.am, series.rp, series.rm
    tariffs, partial, season = series.tariff, series.partial, series.season
    gauss, outage_list, outage_index = rng.gauss, sorted(outages), 0
    sigma = model.noise_sigma
    for day in timegrid.days(first_day, last_day):
        midnight = timegrid.local_midnight(day, tz)
        next_midnight = timegrid.local_midnight(day + dt.timedelta(days=1), tz)
        day_factor = model.mean_power_w * model.season_factor(day) * (
            model.weekend_factor if day.weekday() >= 5 else 1.0)
        sun = model.sun(day, period_minutes) if model.pv_peak_w else None
        cloud = rng.uniform(0.2, 1.0) if sun else 0.0
        tariff_map = schedule.day_map(day, period_minutes)
        dst = timegrid.is_dst(midnight, tz)
        slots = (next_midnight - midnight) // period_s
        for k in range(slots):
            start = midnight + k * period_s
            end = start + period_s
            index = min(k, len(shape) - 1)
            load = day_factor * shape[index] * math.exp(gauss(0.0, sigma))
            if sun is not None:
                load -= model.pv_peak_w * sun[index] * cloud * (1.0 + 0.1 * gauss(0.0, 1.0))
            coverage, cut = 1.0, 0
            while outage_index < len(outage_list) and outage_list[outage_index][1] <= start:
                outage_index += 1
            j = outage_index
            while j < len(outage_list) and outage_list[j][0] < end:
                off, on = outage_list[j]
                overlap = min(end, on) - max(start, off)
                if overlap > 0:
                    coverage -= overlap / period_s
                    cut = 1
                j += 1
            if coverage < 1e-9:
                coverage, part = 0.0, 0
            else:
                part = cut
            if load >= 0:
                e = int(load * coverage * mwh_per_w + 0.5)
                ap.append(e)
                am.append(0)
                rp.append(int(e * tan_phi + 0.5))
                rm.append(0)
            else:
                e = int(-load * coverage * mwh_per_w + 0.5)
                ap.append(0)
                am.append(e)
                rp.append(0)
                rm.append(int(e * tan_export + 0.5))
            ends.append(end)
            tariffs.append(tariff_map[min((start - midnight) // 60 // period_minutes, len(tariff_map) - 1)])
            partial.append(part)
            season.append(dst)
    return series


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
