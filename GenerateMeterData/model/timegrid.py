"""Local-time calendar of the device: midnights, month starts and period boundaries as Unix
epoch seconds, computed in the device's time zone (Europe/Moscow unless configured)."""
from __future__ import annotations

import datetime as dt
from typing import Iterator, List, Tuple

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9 is not supported
    raise

from ..errors import InputError

DEFAULT_TIMEZONE = "Europe/Moscow"


def zone(name: str) -> dt.tzinfo:
    """The tzinfo of an IANA zone name, or one clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {name!r}: give an IANA name such as Europe/Moscow") from exc


def local_midnight(day: dt.date, tz: dt.tzinfo) -> int:
    """Epoch seconds of local 00:00 of ``day``."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def local_datetime(ts: int, tz: dt.tzinfo) -> dt.datetime:
    """Epoch seconds -> aware local datetime."""
    return dt.datetime.fromtimestamp(ts, tz)


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every date from start to end inclusive."""
    for n in range((end - start).days + 1):
        yield start + dt.timedelta(days=n)


def midnights(first_day: dt.date, count: int, tz: dt.tzinfo) -> List[int]:
    """Local midnights of ``count`` days from ``first_day``, a week at a time: a week whose length
    in seconds is 7 whole days has its midnights 86,400 s apart, so only the week's ends are
    converted (assumes no zone changes its offset and back within one week; none does)."""
    out: List[int] = []
    start = local_midnight(first_day, tz)
    done = 0
    while done < count:
        step = min(7, count - done)
        stop = local_midnight(first_day + dt.timedelta(days=done + step), tz)
        if stop - start == step * 86400:
            out.extend(range(start, stop, 86400))
        else:
            out.extend(local_midnight(first_day + dt.timedelta(days=done + n), tz) for n in range(step))
        start, done = stop, done + step
    return out


def month_starts(start: dt.date, end: dt.date) -> List[dt.date]:
    """Every 1st of a month in [start, end]."""
    first = dt.date(start.year, start.month, 1)
    if first < start:
        first = _next_month(first)
    out = []
    while first <= end:
        out.append(first)
        first = _next_month(first)
    return out


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The 1st of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def window_stamps(window_start: int, end_ts: int, tz: dt.tzinfo) -> Tuple[List[int], List[int]]:
    """Local midnights and local midnights of the 1st of a month within [window_start, end_ts]."""
    first = local_datetime(window_start, tz).date()
    last = local_datetime(end_ts, tz).date()
    midnights = [m for m in (local_midnight(d, tz) for d in days(first, last)) if window_start <= m <= end_ts]
    months = [m for m in (local_midnight(d, tz) for d in month_starts(first, last)) if window_start <= m <= end_ts]
    return midnights, months


def is_dst(ts: int, tz: dt.tzinfo) -> int:
    """1 when ts falls in summer (DST) time, else 0."""
    offset = local_datetime(ts, tz).dst()
    return 1 if offset else 0


def minute_of_day(ts: int, tz: dt.tzinfo) -> int:
    """Local minutes since midnight at ts."""
    local = local_datetime(ts, tz)
    return local.hour * 60 + local.minute


def floor_to_step(ts: int, step_seconds: int, tz: dt.tzinfo) -> int:
    """The latest local step boundary (counted from local midnight) at or before ts."""
    midnight = local_midnight(local_datetime(ts, tz).date(), tz)
    return midnight + (ts - midnight) // step_seconds * step_seconds
