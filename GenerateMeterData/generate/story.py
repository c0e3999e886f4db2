"""What the stories of every meter family share: the run's options (``StoryOptions``), the base
``Story`` (emission in steps), the per-process cache of meter models (``StoryCache``) and the
event helpers.  ``electric.py`` tells an electricity meter's story, ``modules.py`` a pulse
concentrator's and a discrete I/O module's; the seed API and ``Scenario`` drive them all."""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Hashable, Iterator, List, Optional, Set

from ..errors import InputError
from ..model import timegrid
from ..model.tariffs import TariffSchedule
from ..schema import measures as registry
from ..schema.measures import JOURNAL_NAMES
from .emit import Emitter
from .meters import MeterSpec

KEEP_ALL_DAYS = 400    # a story up to this long keeps every day's slots; a longer one the last few
OUTAGE_MARGIN = 86400  # outages are drawn past the last day, so the last day's are complete


@dataclass
class StoryOptions:
    """Knobs of the physical story shared by all meters of a run."""

    timezone: Optional[str] = None   # None: the target's (Scenario.create), Europe/Moscow without one
    schedule: Optional[TariffSchedule] = None   # None: 4-zone for 4-tariff meters, 2-zone otherwise
    moment_step_minutes: int = 60
    outages_per_30_days: float = 1.0
    time_corrections_per_30_days: float = 2.0
    journals: Dict[str, int] = field(default_factory=dict)  # extra events per meter per journal
    locale: Optional[str] = None   # Faker locale of the registry's text (serials, addresses); None = Faker's default
    latitude: Optional[float] = None   # of the meters (the sun's path of PV); None: the time zone's (model/place.py)

    def __post_init__(self) -> None:
        self.tz = timegrid.zone(self.timezone or timegrid.DEFAULT_TIMEZONE)
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




def check_journal_name(name: str) -> str:
    """The name if it is a journal of meter.db; InputError listing them otherwise."""
    if name not in JOURNAL_NAMES and name not in registry.ALIASES:
        raise InputError(f"unknown journal {name!r}; valid journals: {', '.join(JOURNAL_NAMES)}")
    return name




class StoryCache:
    """A bounded LRU of meter models per process, keyed on everything that decides them."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: "OrderedDict[Hashable, object]" = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, build):
        """The cached value of ``key``, built by ``build()`` on a miss."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        value = build()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every cached model."""
        with self._lock:
            self._items.clear()




class Story:
    """What every meter family's story shares: ``emit_steps`` yields between spans of records
    (when the caller may take ``em.rows`` away); ``emit`` runs them all.

    Which measures a story writes is read from the registry: ``produces`` says whether it can
    produce a registry entry (its table, cadence, kind), and the entry's cadence decides the
    stamps (``cadence_stamps``) -- a new measure of a known table and cadence needs no code."""

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions, origin_day: dt.date,
                 end_ts: int, *, reuse: bool = False) -> None:
        """The story of the meter ``spec`` from ``origin_day`` to ``end_ts``; ``reuse`` keeps its
        model in the per-process cache."""
        raise NotImplementedError

    @classmethod
    def produces(cls, entry: registry.Measure) -> bool:
        """Whether this story can produce the records of ``entry``."""
        return False

    def emit(self, em: Emitter, window_start: int, measures: Set[str],
             journal_last: Optional[Dict[str, int]] = None,
             moment_step_minutes: Optional[int] = None) -> None:
        """Emit the records of ``measures`` stamped in [window_start, end_ts] (profile and
        moments: (window_start, end_ts]); ``journal_last`` emits the last N events instead."""
        for _ in self.emit_steps(em, window_start, measures, journal_last, moment_step_minutes):
            pass

    def emit_steps(self, em: Emitter, window_start: int, measures: Set[str],
                   journal_last: Optional[Dict[str, int]] = None,
                   moment_step_minutes: Optional[int] = None) -> Iterator[None]:
        raise NotImplementedError


# Cadences stamped by the calendar alone: a local hour start, a local midnight, the 1st.
CALENDAR = (registry.HOUR, registry.DAY, registry.MONTH)


def hour_stamps(window_start: int, end: int, tz: dt.tzinfo) -> List[int]:
    """Every local hour start in [window_start, end] (a DST day has 23 or 25 of them)."""
    first = timegrid.local_datetime(window_start, tz).date()
    last = timegrid.local_datetime(end, tz).date()
    midnights = timegrid.midnights(first, (last - first).days + 2, tz)
    return [t for a, b in zip(midnights, midnights[1:]) for t in range(a, b, 3600) if window_start <= t <= end]


def calendar_stamps(cadence: str, window_start: int, end: int, tz: dt.tzinfo) -> List[int]:
    """The stamps of a calendar cadence (``CALENDAR``) within [window_start, end]."""
    if cadence == registry.HOUR:
        return hour_stamps(window_start, end, tz)
    midnights, months = timegrid.window_stamps(window_start, end, tz)
    if cadence == registry.DAY:
        return midnights
    if cadence == registry.MONTH:
        return months
    raise ValueError(f"{cadence!r} is not a calendar cadence")


def poisson_times(rng, start: int, end: int, per_30_days: float) -> List[int]:
    """Instants in (start, end) of a Poisson process of ``per_30_days`` events per 30 days."""
    times, rate, t = [], per_30_days / (30 * 86400), start
    while rate > 0:
        t += max(1, int(rng.expovariate(rate)))
        if t >= end:
            break
        times.append(t)
    return times
