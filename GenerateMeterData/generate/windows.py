"""Where the last N records of a measure start, for a story that ends at ``end_ts``."""
from __future__ import annotations

import datetime as dt
from typing import Dict, Optional, Tuple

from ..model import timegrid


def last_records(measure: str, count: int, end_ts: int, tz: dt.tzinfo, period_minutes: int,
                 moment_step_minutes: int, history_start: int) -> Tuple[int, Optional[Dict[str, int]]]:
    """(window start, journal_last) that make a story emit the last ``count`` records of
    ``measure`` up to ``end_ts``; journals are counted by event, from ``history_start``."""
    if count == 0:
        return end_ts, None
    today = timegrid.local_datetime(end_ts, tz).date()
    if "Jrnl" in measure or measure == "DigJournalState":
        return history_start, {measure: count}
    if measure in ("ElDayEnergy", "PlsDayPulse"):
        return timegrid.local_midnight(today - dt.timedelta(days=count - 1), tz), None
    if measure == "ElDayConsEnergy":
        return timegrid.local_midnight(today - dt.timedelta(days=count), tz), None
    if measure in ("ElMonthEnergy", "PlsMonthPulse"):
        return timegrid.local_midnight(timegrid.add_months(today.replace(day=1), -(count - 1)), tz), None
    if measure == "ElMonthConsEnergy":
        return timegrid.local_midnight(timegrid.add_months(today.replace(day=1), -count), tz), None
    if measure == "PlsHourPulse":
        return timegrid.floor_to_step(end_ts, 3600, tz) - (count - 1) * 3600, None
    step = (period_minutes if measure == "ElArr1ConsPower" else moment_step_minutes) * 60
    return timegrid.floor_to_step(end_ts, step, tz) - count * step, None
