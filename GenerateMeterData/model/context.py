"""The context of one target: what every writer and reader of that meter.db shares.

A target (a local file or a device) owns one ``TargetContext``; the seed-compatible classes,
``Scenario.create``, the plugin's seeders, ``verify``, ``plot``, ``capture`` and the imitators
read the device's time zone from it, so it is held in one place only.  The seed-compatible
classes also take their root seed and Faker locale from it (``configure(seed=..., locale=...)``),
and everything that writes "up to now" takes "now" from its clock: a fixed moment
(``set_clock``, the plugin's ``--meterdata-now``) or the wall clock.

Where the time zone comes from, strongest first (``source`` records which one won):

1. ``--timezone`` on the command line, ``configure(timezone=...)`` in a script, or the
   ``timezone=`` argument of a target made in code;
2. ``timezone`` in the target's section of settings.ini;
3. ``Europe/Moscow``."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass

from typing import Optional

from ..errors import InputError
from . import timegrid
from .rng import DEFAULT_SEED

# Where a context's time zone came from (weakest first): EXPLICIT is --timezone or a target's
# timezone= argument; CONFIGURED is configure(timezone=...), which a target configured later
# without a zone of its own inherits.
DEFAULT, SETTINGS, EXPLICIT, CONFIGURED = "default", "settings", "explicit", "configure"
SOURCES = (DEFAULT, SETTINGS, EXPLICIT, CONFIGURED)


def check_timezone(name: object, setting: str) -> str:
    """``name`` if it is an IANA time zone; otherwise InputError in one line naming the
    ``setting`` it was given as (``--timezone``, ``configure(timezone=...)``) and the value."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{setting}: {name!r} is not a time zone name; give an IANA name such as "
                         "Europe/Moscow or Asia/Yekaterinburg")
    try:
        timegrid.zone(name)
    except InputError:
        raise InputError(f"{setting}: unknown time zone {name!r}; give an IANA name such as "
                         "Europe/Moscow or Asia/Yekaterinburg") from None
    return name


def check_clock(now: object) -> Optional[int]:
    """``now`` if it is a moment in Unix seconds (an int) or None; InputError in one line otherwise."""
    if now is not None and (isinstance(now, bool) or not isinstance(now, int)):
        raise InputError(f"the clock must be Unix seconds (an int) or None, got {now!r}")
    return now


@dataclass(frozen=True)
class TargetContext:
    """The device's time zone (an IANA name) and where that choice came from; the root seed and
    the Faker locale (None: Faker's default) of the seed-compatible classes; the clock ("now" as
    Unix seconds, None: the wall clock)."""

    timezone: str = timegrid.DEFAULT_TIMEZONE
    source: str = DEFAULT
    seed: int = DEFAULT_SEED
    locale: Optional[str] = None
    clock: Optional[int] = None

    def __post_init__(self) -> None:
        check_timezone(self.timezone, "timezone")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer, got {self.seed!r}")
        check_clock(self.clock)
        if self.source not in SOURCES:
            raise ValueError(f"TargetContext source must be one of {', '.join(SOURCES)}, got {self.source!r}")

    def now(self) -> int:
        """"Now" in Unix seconds: the fixed clock, else the wall clock."""
        return self.clock if self.clock is not None else int(time.time())

    def today(self) -> dt.date:
        """The local date of ``now()`` in the context's time zone."""
        return timegrid.local_datetime(self.now(), self.tz).date()

    def with_clock(self, clock: Optional[int]) -> "TargetContext":
        """This context with its clock fixed at ``clock`` (Unix seconds; None: the wall clock)."""
        return dataclasses.replace(self, clock=check_clock(clock))

    @property
    def tz(self) -> dt.tzinfo:
        """The tzinfo of the time zone (ZoneInfo keeps one object per name)."""
        return timegrid.zone(self.timezone)

    def with_timezone(self, timezone: str, source: str = EXPLICIT, setting: str = "timezone") -> "TargetContext":
        """This context in another time zone (checked, an unknown name named by ``setting``)."""
        return dataclasses.replace(self, timezone=check_timezone(timezone, setting), source=source)

    def inherit(self, previous: "TargetContext") -> "TargetContext":
        """This context for a target configured after one with ``previous``: the seed, the
        locale and the clock carry over, and a zone set by configure() wins over this one unless this one was
        given explicitly."""
        context = dataclasses.replace(self, seed=previous.seed, locale=previous.locale, clock=previous.clock)
        if previous.source == CONFIGURED and self.source not in (EXPLICIT, CONFIGURED):
            context = dataclasses.replace(context, timezone=previous.timezone, source=CONFIGURED)
        return context

    def __str__(self) -> str:
        return f"{self.timezone} ({self.source})"
