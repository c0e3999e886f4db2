"""When the device polls a meter: the stamps of moment records and config rows.

The device stamps a moment reading (``ElMoment*``, ``PlsMomentPulse``, ``DigMomentState``) and a
config row at the time it polled the meter, by the meter's clock -- not on a round grid
(``schema/contract.py``, point ``moment-stamps``).  A poll cycle starts every
``moment_step_minutes`` from local midnight; each meter has its own place in the cycle (a fixed
offset) and each poll a small jitter.  Poll ``k`` of a day is at grid point ``k`` plus both, so it
never comes before the period it reports and never reaches the next grid point.

The jitter of a poll is a hash of the meter's key and the grid point: the same poll has the same
stamp however a story is cut into spans, and whichever records of it are asked for.
"""
from __future__ import annotations

import datetime as dt
from typing import List

from ..model import timegrid
from ..model.rng import stream
from ..schema.contract import POLL_JITTER_S, POLL_OFFSET_MAX_S


class PollClock:
    """The poll instants of one meter for one poll cycle length (``step_seconds``)."""

    __slots__ = ("step", "offset", "jitter", "key")

    def __init__(self, root_seed: int, ordinal: int, step_seconds: int) -> None:
        rng = stream(root_seed, "meter", ordinal, "poll")
        self.step = step_seconds
        self.offset = 1 + rng.randrange(max(1, min(POLL_OFFSET_MAX_S, step_seconds // 2)))
        self.jitter = min(POLL_JITTER_S, step_seconds // 4)
        self.key = rng.getrandbits(32)

    def at(self, grid_ts: int) -> int:
        """The instant of the poll that starts at grid point ``grid_ts``."""
        if not self.jitter:
            return grid_ts + self.offset
        mixed = ((grid_ts ^ self.key) * 0x9E3779B1) & 0xFFFFFFFF
        return grid_ts + self.offset + (mixed >> 11) % (self.jitter + 1)

    def instants(self, start_exclusive: int, end_inclusive: int, tz: dt.tzinfo) -> List[int]:
        """Every poll instant in (start_exclusive, end_inclusive], oldest first."""
        return [p for p in map(self.at, grid(start_exclusive - self.step, end_inclusive, self.step, tz))
                if start_exclusive < p <= end_inclusive]

    def last_window(self, count: int, end_inclusive: int, tz: dt.tzinfo) -> int:
        """The start (exclusive) of the window that holds exactly the last ``count`` polls up
        to ``end_inclusive``."""
        last = timegrid.floor_to_step(end_inclusive, self.step, tz)
        if self.at(last) > end_inclusive:
            last = timegrid.floor_to_step(last - 1, self.step, tz)
        first = last
        for _ in range(count - 1):
            first = timegrid.floor_to_step(first - 1, self.step, tz)
        return self.at(first) - 1


def grid(start_exclusive: int, end_inclusive: int, step: int, tz: dt.tzinfo) -> List[int]:
    """The poll cycle's grid points in (start_exclusive, end_inclusive]: every ``step`` seconds
    from each local midnight (a day's last cycle ends at the next midnight)."""
    day = timegrid.local_datetime(start_exclusive, tz).date()
    out: List[int] = []
    while True:
        midnight = timegrid.local_midnight(day, tz)
        if midnight > end_inclusive:
            return out
        following = timegrid.local_midnight(day + dt.timedelta(days=1), tz)
        t = midnight
        while t < following:
            if start_exclusive < t <= end_inclusive:
                out.append(t)
            t += step
        day += dt.timedelta(days=1)
