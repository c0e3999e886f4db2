"""Where a time zone is: its country and the latitude and longitude of its principal city, read
from ``data/zones.csv`` (zone.tab of the IANA tz database, public domain; the one home of them).

The country picks the production calendar (``daytypes``), the latitude and longitude the sun's
path over a meter's PV (``sun``).  A zone not in the table (``UTC``, ``Etc/GMT-3``) has no
country, latitude 50 degrees north and the longitude of its UTC offset."""
from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache
from importlib import resources
from typing import Dict, NamedTuple, Optional

DEFAULT_LATITUDE = 50.0


class Place(NamedTuple):
    country: Optional[str]
    latitude: float
    longitude: Optional[float]   # None: from the zone's UTC offset on the day asked


@lru_cache(maxsize=None)
def _zones() -> Dict[str, Place]:
    text = resources.files(__package__).joinpath("data/zones.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    return {row["zone"]: Place(row["country"], float(row["latitude"]), float(row["longitude"])) for row in reader}


def zone_name(tz: dt.tzinfo) -> Optional[str]:
    """The IANA name of a tzinfo (``ZoneInfo.key``), None for another kind."""
    return getattr(tz, "key", None)


def place_of(tz: dt.tzinfo) -> Place:
    """The place of a time zone (see the module's note for a zone not in the table)."""
    found = _zones().get(zone_name(tz) or "")
    return found if found is not None else Place(None, DEFAULT_LATITUDE, None)


def country_of(tz: dt.tzinfo) -> Optional[str]:
    """ISO 3166 code of a time zone's country, None when unknown."""
    return place_of(tz).country
