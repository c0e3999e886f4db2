"""What an imitated meter reads: the live values of a generated meter of the core, so an
imitated meter reports exactly what the generator would write for it.  ``GeneratedMeter`` is
what the imitators of ``protocols`` read through their ``protocols.values.MeterValues``
interface; they never import it."""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..generate.electric import ENERGY_ORDER, ElectricStory
from ..generate.story import StoryOptions
from ..generate.meters import make_meter
from ..model import timegrid
from ..model.rng import DEFAULT_SEED, stream
from ..schema.layout import ENERGY_GATES
from ..protocols.obis import DIRECTIONS

# A meter's register lists (``registers()``, ``day_start()``) are the story's, in its ENERGY_ORDER;
# the imitators index them by obis.Direction.index: the two orders must be one.
if [d.column for d in DIRECTIONS] != list(ENERGY_ORDER):
    raise ImportError("protocols.obis DIRECTIONS and generate.electric ENERGY_ORDER disagree")

ARCHIVE_DAYS = 130  # the Neva archive reaches 127 days back
PIN_SECONDS = 120   # how long a session's quality snapshot is held (GeneratedMeter.pin_quality)


class GeneratedMeter:
    """A meter of the core's model, read at wall-clock time: registers rounded to whole Wh per
    tariff with the total their sum (as a meter keeps them), quality as the story has it."""

    def __init__(self, type_name: str = "NEVA3xx", seed: int = DEFAULT_SEED, meter_id: int = 1001,
                 timezone: str = timegrid.DEFAULT_TIMEZONE, clock=time.time, outages_per_30_days: float = 0.0,
                 outages: Optional[Sequence[Tuple[int, int]]] = None) -> None:
        """``outages``: (off, on) epoch seconds the meter's power failed, instead of random ones at
        ``outages_per_30_days`` (its power journals and the profile slots it did not record)."""
        self.clock = clock
        self.options = StoryOptions(timezone=timezone, outages_per_30_days=outages_per_30_days)
        self.tz = self.options.tz
        today = timegrid.local_datetime(int(clock()), self.tz).date()
        self.spec = make_meter(stream(seed, "imitator", meter_id), meter_id, meter_id, type_name,
                               timestamp=int(clock()))
        self.spec.device_idx = 0
        end = timegrid.local_midnight(today + dt.timedelta(days=2), self.tz)
        self.story = ElectricStory(self.spec, seed, self.options, today - dt.timedelta(days=ARCHIVE_DAYS), end,
                                   outages)
        self._quality: Optional[Tuple[int, Dict[str, Any]]] = None
        self._pinned: Optional[tuple] = None
        self._slot_index: Optional[Dict[int, int]] = None

    def pin_quality(self) -> None:
        """Hold the instantaneous values of this minute for the session that starts now (at
        most ``PIN_SECONDS``): a client reading register after register across a minute's end
        still gets values that agree with each other, as a meter's one measurement does."""
        now = self.now()
        self._pinned = (now // 60 * 60, now)

    @property
    def tariffed(self) -> bool:
        """Whether the meter keeps tariff registers 1-4 (else the total alone)."""
        return bool(self.story.tariffed)

    @property
    def archive_days(self) -> int:
        """How many days back the meter's archives reach."""
        return ARCHIVE_DAYS

    def midnight(self, day: dt.date) -> int:
        """Epoch seconds of local midnight starting ``day`` in the meter's time zone."""
        return timegrid.local_midnight(day, self.tz)

    @property
    def serial(self) -> str:
        """The meter's serial number."""
        return str(self.spec.config.get("Serial"))

    @property
    def model(self) -> str:
        """The meter's model string."""
        return str(self.spec.config.get("Model") or "")

    def now(self) -> int:
        """Epoch seconds now (the clock can be replaced in tests)."""
        return int(self.clock())

    def local_now(self) -> dt.datetime:
        """Now in the meter's time zone."""
        return timegrid.local_datetime(self.now(), self.tz)

    def registers(self, ts: Optional[int] = None) -> List[List[int]]:
        """[quantity A+, A-, R+, R-][tariff 0..4] in whole Wh; total = sum of tariffs."""
        ts = self.now() if ts is None else ts
        raw = self.story.registers_at([ts])[ts]
        out = []
        for row in raw:
            tariffs = [int(v / 1000 + 0.5) for v in row[1:]]
            out.append([sum(tariffs) if self.story.tariffed else int(row[0] / 1000 + 0.5)] + tariffs)
        return out

    def measured(self) -> List[bool]:
        """Whether the meter measures each direction of energy (``obis.DIRECTIONS`` order: A+ always;
        A-, R+, R- as its config says)."""
        gates = {gate.energy: self.spec.flag(gate.column) for gate in ENERGY_GATES}
        return [bool(gates.get(d.tag, True)) for d in DIRECTIONS]

    def day_start(self, days_ago: int) -> List[List[int]]:
        """Registers at local midnight ``days_ago`` days back."""
        day = self.local_now().date() - dt.timedelta(days=days_ago)
        return self.registers(timegrid.local_midnight(day, self.tz))

    def profile(self, days_ago: int, direction: int = 0) -> List[int]:
        """48 half-hour average powers (W, whole) of a day; slots not yet complete read 0.
        ``direction``: 0-3 = P+, P-, Q+, Q- (``obis.DIRECTIONS`` order; Q in var)."""
        day = self.local_now().date() - dt.timedelta(days=days_ago)
        midnight = timegrid.local_midnight(day, self.tz)
        series, now = self.story.series, self.now()
        channel = (series.ap, series.am, series.rp, series.rm)[direction]
        index = {end: i for i, end in enumerate(series.ends)}
        out = []
        for slot in range(1, 49):
            end = midnight + slot * 1800
            i = index.get(end)
            out.append(0 if i is None or end > now else int(channel[i] * 2 / 1000 + 0.5))
        return out

    def slot_powers(self, end: int, off_too: bool = False) -> Optional[List[float]]:
        """The average powers (W; P+, P-, Q+, Q- in ``obis.DIRECTIONS`` order) of the half-hour
        slot ending at ``end``; None for a slot the story has not (before its start, still to
        come) or one the meter was off in (an outage overlaps it) unless ``off_too`` (a meter
        that records such slots too, as ``profile`` serves them)."""
        counted = self.slot_counted(end)
        if counted is None or (counted[1] and not off_too):
            return None
        return counted[0]

    def slot_counted(self, end: int) -> Optional[Tuple[List[float], bool]]:
        """What a meter counted over the half-hour slot ending at ``end``: the average powers (W;
        P+, P-, Q+, Q- in ``obis.DIRECTIONS`` order) of the energy it measured -- an outage's part
        of the slot counts nothing, a slot an outage covers whole reads 0 -- and whether an outage
        overlaps the slot; None for a slot the story has not (before its start, still to come)."""
        series = self.story.series
        if self._slot_index is None:
            self._slot_index = {e: i for i, e in enumerate(series.ends)}
        i = self._slot_index.get(end)
        if i is None or end > self.now():
            return None
        cut = any(off < end and on > end - 1800 for off, on in self.story.outages)
        return [channel[i] * 2 / 1000 for channel in (series.ap, series.am, series.rp, series.rm)], cut

    def quality(self) -> Dict[str, Optional[list]]:
        """Instantaneous values, one snapshot per minute: registers read one by one within a
        minute agree with each other (S^2 = P^2 + Q^2, sums of the phases ...)."""
        now = self.now()
        minute = now // 60 * 60
        pinned = self._pinned
        if pinned is not None and 0 <= now - pinned[1] <= PIN_SECONDS:
            minute = pinned[0]
        if self._quality is None or self._quality[0] != minute:
            self._quality = (minute, self.quality_at(minute))
        return self._quality[1]

    def quality_at(self, minute: int) -> Dict[str, Optional[list]]:
        """The instantaneous values the meter measures in the minute starting at ``minute``: the
        story's, their noise drawn from a stream of that minute, so a minute reads the same
        whenever it is computed (the poll check recomputes what a meter served)."""
        self.story.quality_rng.seed(f"{self.story.root_seed}:{self.spec.meter_id}:{minute}")
        return self.story.quality_values(minute)

    def switch_table(self) -> str:
        """The working-day tariff switch table as Neva ``HHMMTT`` entries."""
        schedule = self.story.options.schedule
        from ..generate.electric import schedule_for
        schedule = schedule or schedule_for(self.spec.kind.tariffs)
        entries = [f"{minute // 60:02d}{minute % 60:02d}{tariff:02d}" for minute, tariff in schedule.weekday]
        return ",".join((entries + ["000000"] * 8)[:8])


def meter_from_arguments(args) -> GeneratedMeter:
    """The generated meter of an ``imitate`` command line: ``--meter-type``, ``--meter-seed`` and
    its time zone -- ``--timezone``, else settings.ini's ``timezone`` (the bench's device), else
    Europe/Moscow."""
    from ..settings import context_for, from_arguments
    from .registry import meter_type

    kwargs: Dict[str, object] = {"type_name": meter_type(args),
                                 "timezone": context_for(args, from_arguments(args)).timezone}
    if args.meter_seed is not None:
        kwargs["seed"] = args.meter_seed
    return GeneratedMeter(**kwargs)  # type: ignore[arg-type]
