"""EN 13757-3 Annex A date and time types: F (CP32 date and time), G (CP16 date), I (CP48 date
and time with seconds) and J (CP24 time).

A ``TimePoint`` keeps every bit field of the wire form (including the reserved bits), so
``encode_time_point(decode_time_point(kind, data)) == data`` for any bytes at all; impossible
fields (month 0 or 13, day 0, minute 60 ...) never raise -- they make ``valid`` false.

Years: type F carries two hundred-year bits, year = 1900 + 100 * hundred_year + year field.
For meters with a circular two-digit year the standard recommends reading a hundred-year
value of 0 with year fields 00-80 as 2000-2080 (and 81-99 as 1981-1999); types G and I have no
hundred-year bits, so that rule is all they have.  All-ones fields (minute or second 63,
hour 31, month 15, year 127) mean "not specified" (every minute, every month ...).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Optional, Tuple, Union

from ...errors import ProtocolError

SIZES = {"F": 4, "G": 2, "I": 6, "J": 3}
NOT_SPECIFIED = {"second": 63, "minute": 63, "hour": 31, "month": 15, "year": 127}
FIELDS = {"F": ("minute", "hour", "day", "month", "year"), "G": ("day", "month", "year"),
          "I": ("second", "minute", "hour", "day", "month", "year"), "J": ("second", "minute", "hour")}
CLOCK_LIMITS = {"second": 59, "minute": 59, "hour": 23}
INVALID_TEXT = "1900-01-00T00:00:00Z"   # what libmbus prints for a date/time flagged invalid


class TimePointError(ProtocolError):
    """A date or time that cannot be expressed in the requested EN 13757-3 type."""

    category = "encode"


@dataclass(frozen=True)
class TimePoint:
    """The bit fields of one type F, G, I or J value as on the wire (``year`` is the 7-bit field)."""

    kind: str
    second: int = 0
    minute: int = 0
    hour: int = 0
    day: int = 0
    month: int = 0
    year: int = 0
    hundred_year: int = 0         # type F only
    invalid: bool = False         # IV: the meter says the time is not valid (types F and I)
    summer_time: bool = False     # SU (types F and I)
    leap_year: bool = False       # type I
    day_of_week: int = 0          # type I: 1 Monday ... 7 Sunday, 0 not specified
    week: int = 0                 # type I: 1-53, 0 not specified
    dst_offset: int = 0           # type I: daylight saving deviation in hours, with sign
    reserved: Tuple[int, ...] = field(default=(), compare=True)   # reserved bits per byte, kept for re-encoding

    # ---- meaning (computed once: a frozen instance never changes) ---------------------------
    @cached_property
    def not_specified(self) -> Tuple[str, ...]:
        """Fields holding the all-ones "not specified" value."""
        return tuple(name for name in FIELDS[self.kind] if getattr(self, name) == NOT_SPECIFIED.get(name))

    @property
    def full_year(self) -> Optional[int]:
        """The calendar year (hundred-year bits and the compatibility rule applied); None when
        the year is not specified or not a year at all (fields 100-126)."""
        if self.kind == "J" or self.year == 127 or self.year > 99:
            return None
        if self.hundred_year == 0 and self.year <= 80:
            return 2000 + self.year
        return 1900 + 100 * self.hundred_year + self.year

    @cached_property
    def impossible(self) -> Tuple[str, ...]:
        """Fields whose value no calendar or clock has (month 0 or 13, day 0, minute 60 ...)."""
        bad = []
        skip = self.not_specified
        for name in FIELDS[self.kind]:
            value = getattr(self, name)
            if name in skip:
                continue
            if name in CLOCK_LIMITS:
                if value > CLOCK_LIMITS[name]:
                    bad.append(name)
            elif name == "month":
                if not 1 <= value <= 12:
                    bad.append(name)
            elif name == "year":
                if value > 99:
                    bad.append(name)
            elif value == 0 or (value > 28 and "month" not in skip and 1 <= self.month <= 12
                                and value > calendar.monthrange(self.full_year or 2000, self.month)[1]):
                bad.append(name)   # the day: 0, or past the end of its month
        if self.kind == "I":
            if self.week > 53:
                bad.append("week")
        return tuple(bad)

    @property
    def valid(self) -> bool:
        """Not flagged invalid by the meter and no impossible field."""
        return not self.invalid and not self.impossible

    def text(self) -> str:
        """ISO-like text; not-specified fields as asterisks; an invalid-flagged F or I value as
        libmbus prints it (``1900-01-00T00:00:00Z``); impossible fields printed as they are."""
        if self.invalid and self.kind in ("F", "I"):
            return INVALID_TEXT
        unspecified = self.not_specified

        def part(name: str, width: int, value: int) -> str:
            return "*" * width if name in unspecified else f"{value:0{width}d}"

        time_part = ""
        if self.kind in ("F", "I", "J"):
            seconds = part("second", 2, self.second) if self.kind != "F" else "00"
            time_part = f"{part('hour', 2, self.hour)}:{part('minute', 2, self.minute)}:{seconds}"
            if self.kind == "J":
                return time_part
        year = self.full_year
        if year is None and "year" not in unspecified:   # 100-126: not a year; shown like libmbus
            year = 1900 + 100 * self.hundred_year + self.year if self.hundred_year else 2000 + self.year
        date_part = f"{part('year', 4, year or 0)}-{part('month', 2, self.month)}-{self.day:02d}"
        return f"{date_part}T{time_part}Z" if time_part else date_part

    def to_python(self) -> Union[dt.datetime, dt.date, dt.time, None]:
        """A ``datetime`` (F, I), ``date`` (G) or ``time`` (J); None unless valid and fully specified."""
        if not self.valid or self.not_specified:
            return None
        if self.kind == "J":
            return dt.time(self.hour, self.minute, self.second)
        year = self.full_year
        assert year is not None
        if self.kind == "G":
            return dt.date(year, self.month, self.day)
        return dt.datetime(year, self.month, self.day, self.hour, self.minute, self.second if self.kind == "I" else 0)


# ---- wire form --------------------------------------------------------------------------------
def _date_bytes(day: int, month: int, year: int) -> bytes:
    return bytes([(day & 0x1F) | ((year & 0x07) << 5), (month & 0x0F) | ((year & 0x78) << 1)])


def _date_fields(low: int, high: int) -> Tuple[int, int, int]:
    return low & 0x1F, high & 0x0F, ((low & 0xE0) >> 5) | ((high & 0xF0) >> 1)


def decode_time_point(kind: str, data: bytes) -> TimePoint:
    """The fields of a type F, G, I or J value; any bytes of the right length decode."""
    data = bytes(data)
    if kind not in SIZES or len(data) != SIZES[kind]:
        raise TimePointError(f"type {kind} needs {SIZES.get(kind, '?')} bytes, got {len(data)}")
    if kind == "G":
        day, month, year = _date_fields(data[0], data[1])
        return TimePoint("G", day=day, month=month, year=year)
    if kind == "F":
        day, month, year = _date_fields(data[2], data[3])
        return TimePoint("F", minute=data[0] & 0x3F, hour=data[1] & 0x1F, day=day, month=month, year=year,
                         hundred_year=(data[1] >> 5) & 0x03, invalid=bool(data[0] & 0x80),
                         summer_time=bool(data[1] & 0x80), reserved=(data[0] & 0x40,))
    if kind == "I":
        day, month, year = _date_fields(data[3], data[4])
        offset = (data[5] >> 6) & 0x03
        return TimePoint("I", second=data[0] & 0x3F, minute=data[1] & 0x3F, hour=data[2] & 0x1F, day=day,
                         month=month, year=year, invalid=bool(data[1] & 0x80), summer_time=bool(data[0] & 0x40),
                         leap_year=bool(data[0] & 0x80), day_of_week=(data[2] >> 5) & 0x07, week=data[5] & 0x3F,
                         dst_offset=offset if data[1] & 0x40 else -offset,
                         reserved=(1 if (data[1] & 0x40) and not offset else 0,))
    return TimePoint("J", second=data[0] & 0x3F, minute=data[1] & 0x3F, hour=data[2] & 0x1F,
                     reserved=(data[0] & 0xC0, data[1] & 0xC0, data[2] & 0xE0))


def encode_time_point(point: TimePoint) -> bytes:
    """The wire bytes of a TimePoint (exactly the bytes it was decoded from)."""
    kind = point.kind
    if kind == "G":
        return _date_bytes(point.day, point.month, point.year)
    if kind == "F":
        first = (point.minute & 0x3F) | (0x80 if point.invalid else 0) | (point.reserved[0] if point.reserved else 0)
        second = (point.hour & 0x1F) | ((point.hundred_year & 0x03) << 5) | (0x80 if point.summer_time else 0)
        return bytes([first, second]) + _date_bytes(point.day, point.month, point.year)
    if kind == "I":
        sign = point.dst_offset > 0 or bool(point.reserved and point.reserved[0])
        return bytes([(point.second & 0x3F) | (0x40 if point.summer_time else 0) | (0x80 if point.leap_year else 0),
                      (point.minute & 0x3F) | (0x40 if sign else 0) | (0x80 if point.invalid else 0),
                      (point.hour & 0x1F) | ((point.day_of_week & 0x07) << 5)]) \
            + _date_bytes(point.day, point.month, point.year) \
            + bytes([(point.week & 0x3F) | ((abs(point.dst_offset) & 0x03) << 6)])
    if kind == "J":
        extra = point.reserved if len(point.reserved) == 3 else (0, 0, 0)
        return bytes([(point.second & 0x3F) | extra[0], (point.minute & 0x3F) | extra[1], (point.hour & 0x1F) | extra[2]])
    raise TimePointError(f"unknown time type {kind!r} (F, G, I or J)")


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)   # 29 February takes the long way


def describe(kind: str, data: bytes) -> Tuple[str, bool, bool, Tuple[str, ...]]:
    """(text, valid, summer_time, not_specified) of a value: what the record decoder needs.  The
    common case (an unflagged F or G value with every field plainly in range) is read straight
    from the bytes; anything else goes through a TimePoint.  Both give the same answer."""
    if kind == "F" and len(data) == 4 and not data[0] & 0x80:
        minute, hour, day, month = data[0] & 0x3F, data[1] & 0x1F, data[2] & 0x1F, data[3] & 0x0F
        year = ((data[2] & 0xE0) >> 5) | ((data[3] & 0xF0) >> 1)
        if minute < 60 and hour < 24 and 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month] and year <= 99:
            hundred = (data[1] >> 5) & 0x03
            full = 2000 + year if hundred == 0 and year <= 80 else 1900 + 100 * hundred + year
            return f"{full:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00Z", True, bool(data[1] & 0x80), ()
    elif kind == "G" and len(data) == 2:
        day, month, year = data[0] & 0x1F, data[1] & 0x0F, ((data[0] & 0xE0) >> 5) | ((data[1] & 0xF0) >> 1)
        if 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month] and year <= 99:
            full = 2000 + year if year <= 80 else 1900 + year
            return f"{full:04d}-{month:02d}-{day:02d}", True, False, ()
    point = decode_time_point(kind, data)
    return point.text(), point.valid, point.summer_time, point.not_specified


def _year_fields(kind: str, year: int) -> Tuple[int, int]:
    """(year field, hundred-year bits) that decode back to ``year``; TimePointError otherwise."""
    if 1981 <= year <= 2080:   # the compatible form old masters (and libmbus) read right
        return year % 100, 0
    if kind == "F" and 2081 <= year <= 2299:
        return year % 100, (year - 1900) // 100
    reach = "1981-2299" if kind == "F" else "1981-2080"
    raise TimePointError(f"year {year} cannot be sent as type {kind}: it reaches {reach} (a hundred-year value "
                         "of 0 with year 00-80 means 2000-2080, so 1900-1980 is ambiguous on the wire)")


def time_point(kind: str, value: Union[dt.datetime, dt.date, dt.time], *, summer_time: bool = False,
               invalid: bool = False) -> TimePoint:
    """The TimePoint of a Python date/datetime/time in type F, G, I or J."""
    if kind == "J":
        if not isinstance(value, (dt.time, dt.datetime)):
            raise TimePointError("type J holds a time of day: give a datetime.time")
        return TimePoint("J", second=value.second, minute=value.minute, hour=value.hour)
    if not isinstance(value, dt.date):
        raise TimePointError(f"type {kind} holds a date: give a datetime.date or datetime.datetime")
    year, hundred = _year_fields(kind, value.year)
    point = TimePoint(kind, day=value.day, month=value.month, year=year, hundred_year=hundred,
                      invalid=invalid, summer_time=summer_time)
    if isinstance(value, dt.datetime):
        point = replace(point, minute=value.minute, hour=value.hour)
        if kind == "I":
            point = replace(point, second=value.second, leap_year=calendar.isleap(value.year),
                            day_of_week=value.isoweekday(), week=value.isocalendar()[1])
    return point


def encode_date_time(kind: str, value: Union[dt.datetime, dt.date, dt.time], **flags: bool) -> bytes:
    """Bytes of a Python date/datetime/time as type F, G, I or J."""
    return encode_time_point(time_point(kind, value, **flags))


__all__ = ["TimePoint", "TimePointError", "decode_time_point", "encode_time_point", "time_point",
           "encode_date_time", "describe", "SIZES"]
