"""Where the last N records of a measure start, for a story that ends at ``end_ts``: read from
the measure's cadence in the registry (``schema/measures.py``)."""
from __future__ import annotations

import datetime as dt
from typing import Dict, Optional, Tuple

from ..model import timegrid
from ..schema.measures import DAY, EVENT, HOUR, MOMENT, MONTH, PROFILE, measure as measure_entry
from .polls import PollClock


def last_records(measure: str, count: int, end_ts: int, tz: dt.tzinfo, period_minutes: int,
                 moment_step_minutes: int, history_start: int,
                 poll: Optional[PollClock] = None) -> Tuple[int, Optional[Dict[str, int]]]:
    """(window start, journal_last) that make a story emit the last ``count`` records of
    ``measure`` up to ``end_ts``; event measures are counted by event, from ``history_start``.

    A register of a day (month) is stamped at the midnight that starts it, so the last ``count``
    start ``count - 1`` days (months) before today; a consumption needs the register one period
    earlier as well.  Moment records are stamped at the meter's polls (``poll``: its clock for
    ``moment_step_minutes``; without one, on the grid)."""
    if count == 0:
        return end_ts, None
    entry = measure_entry(measure)
    today = timegrid.local_datetime(end_ts, tz).date()
    back = count if entry.consumption_of else count - 1
    if entry.cadence == EVENT:
        return history_start, {measure: count}
    if entry.cadence == DAY:
        return timegrid.local_midnight(today - dt.timedelta(days=back), tz), None
    if entry.cadence == MONTH:
        return timegrid.local_midnight(timegrid.add_months(today.replace(day=1), -back), tz), None
    if entry.cadence == HOUR:
        return timegrid.floor_to_step(end_ts, 3600, tz) - back * 3600, None
    if entry.cadence == MOMENT and poll is not None:
        return poll.last_window(count, end_ts, tz), None
    step = (period_minutes if entry.cadence == PROFILE else moment_step_minutes) * 60
    return timegrid.floor_to_step(end_ts, step, tz) - count * step, None
