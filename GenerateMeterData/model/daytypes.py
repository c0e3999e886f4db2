"""Day types from the production calendar, read from ``data/calendar_ru.json`` (its one home).

A public holiday or a moved day off is a Sunday, a Saturday or Sunday made a working day is a
workday; the day type decides a day's load shape and whether it follows the weekend tariff
table.  Russia's calendar is shipped for the years in the file (2015-2027); a later or earlier
year falls back to the fixed-date holidays of the Labour Code (art. 112) without moved days.
Time zones of other countries get Saturdays and Sundays only (their holidays are not covered)."""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from importlib import resources
from typing import Dict, FrozenSet, Optional, Tuple

from .place import country_of

WORKDAY, SATURDAY, SUNDAY = 0, 1, 2


@lru_cache(maxsize=None)
def _russia() -> Tuple[Dict[int, Tuple[FrozenSet[dt.date], FrozenSet[dt.date]]], Tuple[Tuple[int, int], ...]]:
    text = resources.files(__package__).joinpath("data/calendar_ru.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    years = {int(year): (frozenset(dt.date.fromisoformat(d) for d in entry["off"]),
                         frozenset(dt.date.fromisoformat(d) for d in entry["work"]))
             for year, entry in doc["years"].items()}
    fixed = tuple((int(md[:2]), int(md[3:])) for md in doc["fixed_holidays"])
    return years, fixed


class Calendar:
    """The day types of one country (``None``: weekends only)."""

    def __init__(self, country: Optional[str]) -> None:
        self.country = country
        self._years: Dict[int, Tuple[FrozenSet[dt.date], FrozenSet[dt.date]]] = {}
        self._fixed: Tuple[Tuple[int, int], ...] = ()
        if country == "RU":
            self._years, self._fixed = _russia()
        self._cache: Dict[int, Tuple[FrozenSet[dt.date], FrozenSet[dt.date]]] = {}
        self._types: Dict[int, Tuple[int, ...]] = {}

    @property
    def years(self) -> Tuple[int, ...]:
        """The years whose moved days are shipped."""
        return tuple(sorted(self._years))

    def _year(self, year: int) -> Tuple[FrozenSet[dt.date], FrozenSet[dt.date]]:
        found = self._cache.get(year)
        if found is None:
            found = self._years.get(year)
            if found is None:  # beyond the shipped years: the fixed-date holidays alone
                found = (frozenset(dt.date(year, m, d) for m, d in self._fixed), frozenset())
            self._cache[year] = found
        return found

    def day_type(self, day: dt.date) -> int:
        """WORKDAY, SATURDAY or SUNDAY; a holiday is a Sunday, a working weekend day a workday."""
        off, work = self._year(day.year)
        if day in off:
            return SUNDAY
        if day in work:
            return WORKDAY
        weekday = day.weekday()
        return WORKDAY if weekday < 5 else (SATURDAY if weekday == 5 else SUNDAY)

    def year_types(self, year: int) -> Tuple[int, ...]:
        """The day type of every day of a year (index 0 = 1 January), computed once."""
        found = self._types.get(year)
        if found is None:
            first = dt.date(year, 1, 1)
            days = (dt.date(year + 1, 1, 1) - first).days
            found = self._types[year] = tuple(self.day_type(first + dt.timedelta(days=n)) for n in range(days))
        return found

    def is_rest_day(self, day: dt.date) -> bool:
        """Whether ``day`` is not a working day (weekend or holiday)."""
        return self.day_type(day) != WORKDAY


@lru_cache(maxsize=None)
def calendar(country: Optional[str]) -> Calendar:
    """The (shared) calendar of a country code."""
    return Calendar(country)


def calendar_for(tz: dt.tzinfo) -> Calendar:
    """The calendar of the country of a time zone (by its IANA name)."""
    return calendar(country_of(tz))
