"""What an imitator reads from the meter it imitates: the interface every imitator of this
package takes its values through, so the protocol engines import nothing of the generator.
``GenerateMeterData.imitation.GeneratedMeter`` (a generated meter read at wall-clock time) is the
meter layer's implementation; a test may pass any object with these members."""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

try:
    from typing import Protocol
except ImportError:  # pragma: no cover - Python < 3.8
    Protocol = object  # type: ignore[assignment,misc]


class MeterValues(Protocol):
    """A meter's live values: identity, clock, energy registers, instantaneous values, archives."""

    tz: dt.tzinfo                   # the meter's time zone (its clock, midnights and archive)

    @property
    def serial(self) -> str: ...    # the meter's serial number

    @property
    def model(self) -> str: ...     # the model string it reports

    @property
    def tariffed(self) -> bool: ...  # keeps tariff registers 1-4 (else the total alone)

    @property
    def archive_days(self) -> int: ...  # how many days back its archives reach

    def now(self) -> int: ...       # epoch seconds by the meter's clock

    def local_now(self) -> dt.datetime: ...

    def midnight(self, day: dt.date) -> int: ...  # epoch seconds of the local midnight starting day

    def registers(self, ts: Optional[int] = None) -> List[List[int]]: ...  # [A+, A-, R+, R-][total, T1..T4] Wh

    def measured(self) -> List[bool]: ...  # which directions (obis.DIRECTIONS order) it measures

    def day_start(self, days_ago: int) -> List[List[int]]: ...  # registers at a past local midnight

    def profile(self, days_ago: int) -> List[int]: ...  # 48 half-hour average powers (W) of a day

    def quality(self) -> Dict[str, Optional[list]]: ...  # instantaneous values by quality tag

    def pin_quality(self) -> None: ...  # hold this minute's instantaneous values for one session

    def switch_table(self) -> str: ...  # the working-day tariff switch table (Neva HHMMTT entries)
