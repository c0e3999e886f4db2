"""The BDEW standard load profiles, read from ``data/bdew_slp.csv`` (the one home of the shapes).

Each profile (H0 households, G0-G6 commercial, L0-L2 agriculture) gives 96 quarter-hour values
for each of 3 seasons x 3 day types; H0 is used "dynamised" (times the BDEW day-of-year factor).
A meter's load follows its profile's cell for the day; the values' level carries the profile's
seasonal and day-type differences, so the mean of many meters converges on the profile."""
from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache
from importlib import resources
from typing import Dict, List, Tuple

from .daytypes import WORKDAY

SEASONS = ("winter", "transition", "summer")
DAY_TYPES = ("workday", "saturday", "sunday")
HOUSEHOLD = ("H0",)
COMMERCIAL = ("G0", "G1", "G2", "G3", "G4", "G5", "G6")
AGRICULTURE = ("L0", "L1", "L2")
PROFILES = HOUSEHOLD + COMMERCIAL + AGRICULTURE
DYNAMISED = ("H0",)
WINTER, TRANSITION, SUMMER = 0, 1, 2


@lru_cache(maxsize=None)
def table() -> Dict[str, Tuple[Tuple[float, ...], ...]]:
    """profile -> cell (season * 3 + day type) -> 96 quarter-hour values (relative power)."""
    text = resources.files(__package__).joinpath("data/bdew_slp.csv").read_text(encoding="utf-8")
    reader = csv.reader(line for line in io.StringIO(text) if not line.startswith("#"))
    header = next(reader)
    names = header[3:]
    cells: Dict[str, List[List[float]]] = {name: [[] for _ in range(9)] for name in names}
    for row in reader:
        cell = SEASONS.index(row[0]) * 3 + DAY_TYPES.index(row[1])
        for name, value in zip(names, row[3:]):
            cells[name][cell].append(float(value))
    for name, per_cell in cells.items():
        if any(len(values) != 96 for values in per_cell):
            raise ValueError(f"bdew_slp.csv: profile {name} needs 96 values in each of the 9 cells")
    return {name: tuple(tuple(values) for values in per_cell) for name, per_cell in cells.items()}


def season(day: dt.date) -> int:
    """BDEW season of a date: winter 1 Nov - 20 Mar, summer 15 May - 14 Sep, transition otherwise."""
    md = (day.month, day.day)
    if md >= (11, 1) or md <= (3, 20):
        return WINTER
    if (5, 15) <= md <= (9, 14):
        return SUMMER
    return TRANSITION


@lru_cache(maxsize=None)
def year_seasons(year: int) -> Tuple[int, ...]:
    """The season of every day of a year (index 0 = 1 January)."""
    first = dt.date(year, 1, 1)
    days = (dt.date(year + 1, 1, 1) - first).days
    return tuple(season(first + dt.timedelta(days=n)) for n in range(days))


@lru_cache(maxsize=None)
def dynamisation_table() -> Tuple[float, ...]:
    """``dynamisation`` of day of the year 0..366 (entry 0 unused)."""
    return tuple(dynamisation(t) for t in range(367))


def dynamisation(year_day: int) -> float:
    """The BDEW dynamisation factor of H0 on a day of the year (1..366)."""
    t = float(year_day)
    return -3.92e-10 * t ** 4 + 3.2e-7 * t ** 3 - 7.02e-5 * t ** 2 + 2.1e-3 * t + 1.24


@lru_cache(maxsize=None)
def annual_mean(profile: str) -> float:
    """Mean of a profile's power over a reference year (2023: no leap day; Mon-Fri workdays, no
    holidays), dynamised where the profile is: dividing by it gives a year of mean 1."""
    cells = table()[profile]
    means = [sum(values) / 96 for values in cells]
    total, day = 0.0, dt.date(2023, 1, 1)
    for n in range(365):
        date = day + dt.timedelta(days=n)
        kind = min(date.weekday() - 4, 2) if date.weekday() >= 5 else WORKDAY
        value = means[season(date) * 3 + kind]
        total += value * dynamisation(n + 1) if profile in DYNAMISED else value
    return total / 365


@lru_cache(maxsize=None)
def levels(profile: str) -> Tuple[float, ...]:
    """Mean of each cell relative to the profile's year (``annual_mean``): the level of a day of
    that season and day type, which carries the profile's seasonal and day-type differences."""
    return tuple(sum(values) / len(values) / annual_mean(profile) for values in table()[profile])


@lru_cache(maxsize=None)
def minute_sums(profile: str, cell: int) -> Tuple[float, ...]:
    """Running sums of a cell's values minute by minute over two days (2881 entries), so that the
    mean over any minute range of a day, shifted by up to a day, is two look-ups."""
    values = table()[profile][cell]
    out, running = [0.0], 0.0
    for minute in range(2880):
        running += values[(minute % 1440) // 15]
        out.append(running)
    return tuple(out)


def slot_means(profile: str, cell: int, period_minutes: int, shift_minutes: int) -> List[float]:
    """Mean value of each ``period_minutes`` slot of a day, the profile running ``shift_minutes``
    late (a meter whose day starts later)."""
    sums = minute_sums(profile, cell)
    start = (-shift_minutes) % 1440
    return [(sums[start + m + period_minutes] - sums[start + m]) / period_minutes
            for m in range(0, 1440, period_minutes)]

