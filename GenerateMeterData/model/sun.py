"""The sun's path over a PV panel, from astronomy: declination and equation of time of the day of
the year, the hour angle of local clock time at a latitude and longitude.

The panel faces the equator tilted at the latitude (the usual fixed mounting), so the cosine of
the incidence is cos(declination) x cos(hour angle); the clear-sky beam through the atmosphere
is 0.7^(air mass^0.678) (Meinel & Meinel), normalised to 1 for the sun at the zenith."""
from __future__ import annotations

import math
from typing import Dict, List, Tuple

_CACHE: Dict[Tuple[int, int, float, int], Tuple[List[float], int, int]] = {}


def declination(year_day: int) -> float:
    """Solar declination in radians (Cooper's formula)."""
    return math.radians(23.44) * math.sin(2 * math.pi * (284 + year_day) / 365.0)


def equation_of_time(year_day: int) -> float:
    """Apparent minus mean solar time in minutes."""
    b = 2 * math.pi * (year_day - 81) / 364.0
    return 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)


def solar_noon(year_day: int, longitude: float, utc_offset_minutes: int) -> float:
    """Local clock minute of solar noon at a longitude (degrees east) and UTC offset."""
    return 720.0 - 4.0 * longitude + utc_offset_minutes - equation_of_time(year_day)


_NOON: Dict[Tuple[int, float, int], int] = {}


def noon_minute(year_day: int, longitude: float, utc_offset_minutes: int) -> int:
    """``solar_noon`` rounded to a whole minute (kept once computed)."""
    key = (year_day, longitude, utc_offset_minutes)
    found = _NOON.get(key)
    if found is None:
        found = _NOON[key] = int(round(solar_noon(year_day, longitude, utc_offset_minutes)))
    return found


def clear_sky(year_day: int, period_minutes: int, latitude: float, noon_minute: int) -> Tuple[List[float], int, int]:
    """Relative clear-sky PV output of each slot of a day (0 at night, about 1 at a summer noon)
    and the range [first, stop) of the slots with sun; the same for every meter of a place, so
    computed once per process."""
    key = (year_day, period_minutes, round(latitude, 1), noon_minute)
    found = _CACHE.get(key)
    if found is None:
        phi, delta = math.radians(latitude), declination(year_day)
        sin_phi, cos_phi = math.sin(phi), math.cos(phi)
        sin_d, cos_d = math.sin(delta), math.cos(delta)
        values = []
        for minute in range(0, 1440, period_minutes):
            hour_angle = math.radians((minute + period_minutes / 2 - noon_minute) / 4.0)
            cos_h = math.cos(hour_angle)
            elevation = sin_phi * sin_d + cos_phi * cos_d * cos_h
            incidence = cos_d * cos_h
            if elevation <= 0.01 or incidence <= 0:
                values.append(0.0)
                continue
            beam = 0.7 ** ((1.0 / elevation) ** 0.678) / 0.7
            values.append(incidence * beam)
        lit = [k for k, v in enumerate(values) if v] or [0]
        found = _CACHE[key] = (values, lit[0], lit[-1] + 1)
    return found
