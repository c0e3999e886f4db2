"""Tariff zones: which of tariffs 1-4 a moment of local time belongs to."""
from __future__ import annotations

import datetime as dt
from typing import Iterable, List, Optional, Sequence, Tuple

from ..errors import InputError

Zone = Tuple[str, int]  # ("HH:MM" the zone starts, tariff 1..4)


class TariffSchedule:
    """Daily switch tables for working days and for weekends/holidays.

    A zone runs from its start time to the next zone's start; the day's last zone wraps past
    midnight to the first start time, as a meter's switch table does."""

    def __init__(self, weekday: Sequence[Zone], weekend: Sequence[Zone] = (),
                 holidays: Iterable[dt.date] = ()) -> None:
        self.weekday = self._parse(weekday, "weekday")
        self.weekend = self._parse(weekend or weekday, "weekend")
        self.holidays = frozenset(holidays)
        self._maps: dict = {}

    @property
    def key(self) -> tuple:
        """Everything that decides the schedule's zones, as a hashable value."""
        return (tuple(self.weekday), tuple(self.weekend), tuple(sorted(self.holidays)))

    def is_rest_day(self, day: dt.date) -> bool:
        """Whether ``day`` follows the weekend table (Saturday, Sunday or a holiday)."""
        return day.weekday() >= 5 or day in self.holidays

    @staticmethod
    def _parse(zones: Sequence[Zone], which: str) -> List[Tuple[int, int]]:
        parsed = []
        for start, tariff in zones:
            try:
                hours, minutes = (int(part) for part in str(start).split(":"))
            except ValueError:
                raise InputError(f"tariff schedule {which}: zone start {start!r} is not HH:MM") from None
            if not (0 <= hours < 24 and 0 <= minutes < 60) or tariff not in (1, 2, 3, 4):
                raise InputError(f"tariff schedule {which}: zone ({start!r}, {tariff!r}) needs "
                                 "a time 00:00-23:59 and a tariff 1-4")
            parsed.append((hours * 60 + minutes, tariff))
        if not parsed:
            raise InputError(f"tariff schedule {which}: at least one zone is needed")
        return sorted(parsed)

    def tariff(self, day: dt.date, minute_of_day: int) -> int:
        """The tariff (1-4) at a local minute of a day."""
        return self._at(self.weekend if day.weekday() >= 5 or day in self.holidays else self.weekday, minute_of_day)

    @staticmethod
    def _at(zones: Sequence[Tuple[int, int]], minute_of_day: int) -> int:
        current = zones[-1][1]
        for start, tariff in zones:
            if start <= minute_of_day:
                current = tariff
            else:
                break
        return current

    def day_map(self, day: dt.date, period_minutes: int, rest: Optional[bool] = None) -> Tuple[int, ...]:
        """Tariff of each period slot of a 24-hour day, by the slot's start time (computed once
        per kind of day and period).  ``rest`` says whether the day follows the weekend table
        (the production calendar's verdict: a holiday does, a working Saturday does not); by
        default Saturdays, Sundays and the schedule's own holidays do."""
        if rest is None:
            rest = self.is_rest_day(day)
        key = (rest, period_minutes)
        found = self._maps.get(key)
        if found is None:
            zones = self.weekend if rest else self.weekday
            found = self._maps[key] = tuple(self._at(zones, minute) for minute in range(0, 1440, period_minutes))
        return found


# A realistic Russian three-zone tariff on working days (T1 peak, T2 night, T3 semi-peak) with a
# weekend day tariff T4, so all four registers move.
DEFAULT_SCHEDULE = TariffSchedule(
    weekday=[("07:00", 1), ("10:00", 3), ("17:00", 1), ("21:00", 3), ("23:00", 2)],
    weekend=[("07:00", 4), ("23:00", 2)],
)
TWO_ZONE_SCHEDULE = TariffSchedule(weekday=[("07:00", 1), ("23:00", 2)])
