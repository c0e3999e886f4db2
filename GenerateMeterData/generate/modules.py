"""Pulse concentrators (PulseValues: cumulative counters per channel) and discrete I/O modules
(DigitalValues: input states and the journal of their changes)."""
from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections import OrderedDict
from itertools import accumulate, islice
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

from ..model import timegrid
from ..model.consumption import spread
from ..model.rng import mix64, stream, stream_key
from ..schema import measures as registry
from ..schema.layout import CHANNELS
from ..schema.measures import DIGITAL, PULSE, journal_event
from .emit import Emitter, channel_values, journal_values
from .meters import MeterSpec, whole_number
from .polls import PollClock
from .story import (CALENDAR, KEEP_ALL_DAYS, OUTAGE_MARGIN, Story, StoryCache, StoryOptions, calendar_stamps,
                    poisson_times)

# What these stories produce, read from the registry (``PulseStory.produces``,
# ``DigitalStory.produces``): counters of PulseValues at any cadence but a profile or an event,
# the concentrator's clock corrections; input states at each poll (or by the calendar) and at
# each change.
PULSE_MEASURES = registry.by_cadence(m.name for m in registry.REGISTRY if m.family == PULSE and m.cumulative
                                     and m.cadence in (registry.MOMENT,) + CALENDAR)  # moment, hour, day, month
TIME_CORRECTIONS = "PlsJrnlTimeCorr"   # the concentrator's clock corrections (a Poisson process)
DIGITAL_MEASURES = registry.select(family=DIGITAL)
DIGITAL_SAMPLED = tuple(m.name for m in registry.REGISTRY if m.family == DIGITAL
                        and m.cadence in (registry.MOMENT,) + CALENDAR)
DIGITAL_CHANGES = registry.select(family=DIGITAL, cadence=registry.EVENT)


HOUR_SHAPE = [0.4 + 1.2 * math.exp(-0.5 * ((hour - 8) / 2) ** 2) + 1.0 * math.exp(-0.5 * ((hour - 20) / 2.5) ** 2)
              for hour in range(24)]  # water/gas/heat use over the day: a morning and an evening peak
DAY_SHAPE = sum(HOUR_SHAPE)
PULSE_DETAIL_DAYS = 60
STEP_RECORDS = 2000   # records of one measure between two steps of ``emit_steps``


def _batches(stamps: Iterable[int]) -> Iterator[List[int]]:
    """``stamps`` in lists of at most STEP_RECORDS."""
    it = iter(stamps)
    while True:
        batch = list(islice(it, STEP_RECORDS))
        if not batch:
            return
        yield batch


class PulseModel:
    """Two levels of a pulse concentrator's counters over local days ``origin_day`` .. ``last_day``.

    Day level: per connected channel the day's pulses (a hash of the day, ``mix64``), so a
    counter at any midnight is an exact prefix sum.  Hour level, only for a day that is read: the
    day's pulses spread over its hours by the usage shape x hourly noise, adding up exactly."""

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, last_day: dt.date, keep_days: Optional[int] = None) -> None:
        tz = self.tz = options.tz
        self.keep_days = keep_days
        self.channels = max(0, min(CHANNELS, whole_number("Channels", spec.config.get("Channels") or CHANNELS)))
        rng = stream(root_seed, "meter", spec.ordinal, "pulses")
        connected = rng.randint(1, min(8, self.channels)) if self.channels else 0
        self.rates = [rng.uniform(5, 200) if c < connected else 0.0 for c in range(self.channels)]
        self.start = [rng.randrange(0, 10 ** 6) if c < connected else 0 for c in range(self.channels)]
        self.connected = connected
        self.key = stream_key(root_seed, "meter", spec.ordinal, "pulse-days")
        self.first_ordinal = origin_day.toordinal()
        self.count = max(0, (last_day - origin_day).days + 1)
        self.midnights = timegrid.midnights(origin_day, self.count + 1, tz)
        self.totals = [[0] * self.count for _ in range(connected)]
        for i in range(self.count):
            h = mix64(self.key ^ (self.first_ordinal + i))
            shape = sum(HOUR_SHAPE[hour] for hour in self.hours(i)[1]) if \
                self.midnights[i + 1] - self.midnights[i] != 86400 else DAY_SHAPE
            for c in range(connected):
                self.totals[c][i] = int(self.rates[c] * shape * (0.9 + 0.2 * ((h >> (8 * c)) & 0xFF) / 255))
        self.at_midnight = [list(accumulate(self.totals[c], initial=self.start[c])) for c in range(connected)]
        self._details: "OrderedDict[int, Tuple[List[int], List[List[int]]]]" = OrderedDict()

    def hours(self, i: int) -> Tuple[List[int], List[int]]:
        """Start stamps of the hours of day index ``i`` and their local hour of the day."""
        midnight, following = self.midnights[i], self.midnights[i + 1]
        stamps = list(range(midnight, following, 3600))
        if following - midnight == 86400:
            return stamps, list(range(24))
        return stamps, [timegrid.local_datetime(t, self.tz).hour for t in stamps]

    def detail(self, i: int) -> Tuple[List[int], List[List[int]]]:
        """Hour stamps of day index ``i`` (and the next midnight), and per connected channel the
        counter at each of them."""
        found = self._details.get(i)
        if found is not None:
            return found
        stamps, hours = self.hours(i)
        rng = random.Random(mix64(mix64(self.key ^ (self.first_ordinal + i)) ^ 0x5EED))
        uniform = rng.uniform
        values = []
        for c in range(self.connected):
            pulses = spread(self.totals[c][i], [HOUR_SHAPE[hour] * uniform(0.5, 1.5) for hour in hours])
            values.append(list(accumulate(pulses, initial=self.at_midnight[c][i])))
        found = self._details[i] = (stamps + [self.midnights[i + 1]], values)
        while self.keep_days is not None and len(self._details) > self.keep_days:
            self._details.popitem(last=False)
        return found

    def counters_at(self, ts: int) -> List[int]:
        """Counters of the connected channels at ``ts`` (clamped to the story), linear within an hour."""
        i = bisect.bisect_right(self.midnights, ts) - 1
        if i < 0:
            return [self.at_midnight[c][0] for c in range(self.connected)]
        if i >= self.count:
            return [self.at_midnight[c][-1] for c in range(self.connected)]
        if ts == self.midnights[i]:
            return [self.at_midnight[c][i] for c in range(self.connected)]
        stamps, values = self.detail(i)
        k = bisect.bisect_right(stamps, ts) - 1
        span, into = stamps[k + 1] - stamps[k], ts - stamps[k]
        return [row[k] + (row[k + 1] - row[k]) * into // span for row in values]


PULSE_MODELS = StoryCache()


class PulseStory(Story):
    """Counters of water/gas/heat meters wired to a pulse concentrator, read at ``end_ts``."""

    @classmethod
    def produces(cls, entry: registry.Measure) -> bool:
        """Whether ``entry`` is one of the records this story knows how to produce."""
        return entry.name in PULSE_MEASURES or entry.name == TIME_CORRECTIONS

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, end_ts: int, *, reuse: bool = False) -> None:
        self.spec, self.options, self.tz, self.end_ts = spec, options, options.tz, end_ts
        self.root_seed = root_seed
        self.origin_ts = timegrid.local_midnight(origin_day, self.tz)
        last_day = timegrid.local_datetime(end_ts, self.tz).date()
        arguments = (spec, root_seed, options, origin_day, last_day)
        if reuse:
            key = (root_seed, spec.ordinal, spec.config.get("Channels"), options.timezone, origin_day, last_day)
            self.core = PULSE_MODELS.get(key, lambda: PulseModel(*arguments, PULSE_DETAIL_DAYS))
        else:
            span = (last_day - origin_day).days + 1
            self.core = PulseModel(*arguments, None if span <= KEEP_ALL_DAYS else PULSE_DETAIL_DAYS)
        self.channels = self.core.channels

    def counters_at(self, ts: int) -> List[Optional[int]]:
        """Counter values of every channel at ts (None beyond the channel count)."""
        core = self.core
        live = core.counters_at(ts)
        return live + [0] * (self.channels - core.connected) + [None] * (CHANNELS - self.channels)

    def emit_steps(self, em: Emitter, window_start: int, measures: Set[str],
                   journal_last: Optional[Dict[str, int]] = None,
                   moment_step_minutes: Optional[int] = None) -> Iterator[None]:
        """``emit`` in steps of at most STEP_RECORDS records (same records, same order)."""
        tz, end = self.tz, self.end_ts
        device, meter_id = self.spec.device_idx, self.spec.meter_id
        step = (moment_step_minutes or self.options.moment_step_minutes) * 60
        for measure in PULSE_MEASURES:  # the stamps are the measure's cadence (the registry's)
            if measure in measures:
                cadence = registry.MEASURES[measure].cadence
                stamps = (PollClock(self.root_seed, self.spec.ordinal, step).instants(window_start, end, tz)
                          if cadence == registry.MOMENT else calendar_stamps(cadence, window_start, end, tz))  # type: ignore[arg-type]
                for batch in _batches(stamps):
                    for ts in batch:
                        em.record(measure, device, meter_id, ts, 1, channel_values(measure, self.channels,
                                                                                    self.counters_at(ts)))
                    yield None
        journal = TIME_CORRECTIONS
        if journal in measures:
            rng = stream(self.root_seed, "meter", self.spec.ordinal, "journal", journal)
            times = poisson_times(rng, self.origin_ts, end, self.options.time_corrections_per_30_days)
            numbered = list(enumerate(times))
            last = (journal_last or {}).get(journal)
            numbered = numbered[-last:] if last else [(i, t) for i, t in numbered if t >= window_start]
            for event_id, ts in numbered:
                em.record(journal, device, meter_id, ts, 1, journal_values(journal_event(journal, event_id), event_id))
        yield None


class DigitalStory(Story):
    """Discrete inputs (doors, breakers, alarms) that change state now and then."""

    @classmethod
    def produces(cls, entry: registry.Measure) -> bool:
        """Whether ``entry`` is one of the records this story knows how to produce."""
        return entry.name in DIGITAL_SAMPLED or entry.name in DIGITAL_CHANGES

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, end_ts: int, *, reuse: bool = False) -> None:
        self.spec, self.options, self.tz, self.end_ts = spec, options, options.tz, end_ts
        self.root_seed = root_seed
        self.origin_ts = timegrid.local_midnight(origin_day, self.tz)
        # changes are drawn to past the last day, so "now" within that day moves none of them
        horizon = timegrid.local_midnight(timegrid.local_datetime(end_ts, self.tz).date()
                                          + dt.timedelta(days=1), self.tz) + OUTAGE_MARGIN
        self.channels = max(0, min(CHANNELS, whole_number("ChannelsIn", spec.config.get("ChannelsIn") or CHANNELS)))
        rng = stream(root_seed, "meter", spec.ordinal, "inputs")
        state = [1 if rng.random() < 0.2 else 0 for _ in range(self.channels)]
        self.initial = state[:]
        changes = []
        for channel in range(self.channels):
            if rng.random() < 0.25:  # a quarter of the inputs are wired to something that moves
                for t in poisson_times(rng, self.origin_ts, horizon, rng.uniform(2, 20)):
                    changes.append((t, channel))
        changes.sort()
        self.change_times: List[int] = []
        self.states: List[List[int]] = []
        for t, channel in changes:
            if self.change_times and self.change_times[-1] == t:
                continue
            state = state[:]
            state[channel] ^= 1
            self.change_times.append(t)
            self.states.append(state)

    def state_at(self, ts: int) -> List[Optional[int]]:
        """Input states at ts (None beyond the channel count)."""
        i = bisect.bisect_right(self.change_times, ts) - 1
        state = self.states[i] if i >= 0 else self.initial
        return list(state) + [None] * (CHANNELS - self.channels)

    def emit_steps(self, em: Emitter, window_start: int, measures: Set[str],
                   journal_last: Optional[Dict[str, int]] = None,
                   moment_step_minutes: Optional[int] = None) -> Iterator[None]:
        """``emit`` in steps of at most STEP_RECORDS records (same records, same order)."""
        tz, end = self.tz, self.end_ts
        device, meter_id = self.spec.device_idx, self.spec.meter_id
        step = (moment_step_minutes or self.options.moment_step_minutes) * 60
        for sampled in (m for m in DIGITAL_SAMPLED if m in measures):  # stamps: the registry's cadence
            cadence = registry.MEASURES[sampled].cadence
            stamps = (PollClock(self.root_seed, self.spec.ordinal, step).instants(window_start, end, tz)
                      if cadence == registry.MOMENT else calendar_stamps(cadence, window_start, end, tz))  # type: ignore[arg-type]
            for batch in _batches(stamps):
                for ts in batch:
                    em.record(sampled, device, meter_id, ts, 1, channel_values(sampled, self.channels, self.state_at(ts)))
                yield None
        for changes in (m for m in DIGITAL_CHANGES if m in measures):
            pairs = [(t, s) for t, s in zip(self.change_times, self.states) if t <= end]
            last = (journal_last or {}).get(changes)
            pairs = pairs[-last:] if last else [(t, s) for t, s in pairs if window_start <= t <= end]
            for ts, state in pairs:
                em.record(changes, device, meter_id, ts, 1, channel_values(
                    changes, self.channels, list(state) + [None] * (CHANNELS - self.channels)))
        yield None
