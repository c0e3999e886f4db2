"""Pulse concentrators (PulseValues: cumulative counters per channel) and discrete I/O modules
(DigitalValues: input states and the journal of their changes)."""
from __future__ import annotations

import bisect
import datetime as dt
import math
from typing import Dict, List, Optional, Set

from ..model import timegrid
from ..model.rng import stream
from ..schema.layout import CHANNELS
from .electric import StoryOptions, _poisson, journal_event
from .emit import Emitter
from .meters import MeterSpec

PULSE_MEASURES = ("PlsMomentPulse", "PlsHourPulse", "PlsDayPulse", "PlsMonthPulse")
DIGITAL_MEASURES = ("DigMomentState", "DigJournalState")


class PulseStory:
    """Counters of water/gas/heat meters wired to a pulse concentrator, hour by hour."""

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, end_ts: int) -> None:
        self.spec, self.options, self.tz, self.end_ts = spec, options, options.tz, end_ts
        self.root_seed = root_seed
        self.origin_ts = timegrid.local_midnight(origin_day, self.tz)
        self.channels = max(0, min(CHANNELS, int(spec.config.get("Channels") or CHANNELS)))
        rng = stream(root_seed, "meter", spec.ordinal, "pulses")
        connected = rng.randint(1, min(8, self.channels)) if self.channels else 0
        self.rates = [rng.uniform(5, 200) if c < connected else 0.0 for c in range(self.channels)]
        self.start = [rng.randrange(0, 10 ** 6) if c < connected else 0 for c in range(self.channels)]
        # hourly increments from the origin to the end of the last day
        noise = stream(root_seed, "meter", spec.ordinal, "pulse-noise")
        self.hours: List[int] = []
        self.cumulative: List[List[int]] = []
        cum = list(self.start)
        t = self.origin_ts
        last = timegrid.local_midnight(timegrid.local_datetime(end_ts, self.tz).date() + dt.timedelta(days=1), self.tz)
        while t <= last:
            self.hours.append(t)
            self.cumulative.append(cum[:])
            hour = timegrid.local_datetime(t, self.tz).hour
            shape = 0.4 + 1.2 * math.exp(-0.5 * ((hour - 8) / 2) ** 2) + 1.0 * math.exp(-0.5 * ((hour - 20) / 2.5) ** 2)
            cum = [value + int(rate * shape * noise.uniform(0.5, 1.5)) if rate else value
                   for value, rate in zip(cum, self.rates)]
            t += 3600

    def counters_at(self, ts: int) -> List[Optional[int]]:
        """Counter values of every channel at ts (None beyond the channel count)."""
        i = bisect.bisect_right(self.hours, ts) - 1
        values = self.cumulative[i]
        if self.hours[i] != ts and i + 1 < len(self.cumulative):
            frac_num = ts - self.hours[i]
            following = self.cumulative[i + 1]
            values = [v + (f - v) * frac_num // 3600 for v, f in zip(values, following)]
        return list(values) + [None] * (CHANNELS - self.channels)

    def emit(self, em: Emitter, window_start: int, measures: Set[str],
             journal_last: Optional[Dict[str, int]] = None,
             moment_step_minutes: Optional[int] = None) -> None:
        """Emit the pulse measures of the window."""
        tz, end = self.tz, self.end_ts
        device, meter_id = self.spec.device_idx, self.spec.meter_id
        midnights, months = timegrid.window_stamps(window_start, end, tz)
        step = (moment_step_minutes or self.options.moment_step_minutes) * 60
        stamps = {
            "PlsDayPulse": midnights,
            "PlsMonthPulse": months,
            "PlsHourPulse": [h for h in self.hours if window_start <= h <= end],
            "PlsMomentPulse": [t for t in range(timegrid.floor_to_step(window_start, step, tz) + step, end + 1, step)],
        }
        for measure in PULSE_MEASURES:
            if measure in measures:
                for ts in stamps[measure]:
                    em.record(measure, device, meter_id, ts, 1, [self.channels] + self.counters_at(ts))
        if "PlsJrnlTimeCorr" in measures:
            rng = stream(self.root_seed, "meter", self.spec.ordinal, "journal", "PlsJrnlTimeCorr")
            times = _poisson(rng, self.origin_ts, end, self.options.time_corrections_per_30_days)
            numbered = list(enumerate(times))
            last = (journal_last or {}).get("PlsJrnlTimeCorr")
            numbered = numbered[-last:] if last else [(i, t) for i, t in numbered if t >= window_start]
            for event_id, ts in numbered:
                em.record("PlsJrnlTimeCorr", device, meter_id, ts, 1,
                          [journal_event("PlsJrnlTimeCorr", event_id), event_id])


class DigitalStory:
    """Discrete inputs (doors, breakers, alarms) that change state now and then."""

    def __init__(self, spec: MeterSpec, root_seed: int, options: StoryOptions,
                 origin_day: dt.date, end_ts: int) -> None:
        self.spec, self.options, self.tz, self.end_ts = spec, options, options.tz, end_ts
        self.origin_ts = timegrid.local_midnight(origin_day, self.tz)
        self.channels = max(0, min(CHANNELS, int(spec.config.get("ChannelsIn") or CHANNELS)))
        rng = stream(root_seed, "meter", spec.ordinal, "inputs")
        state = [1 if rng.random() < 0.2 else 0 for _ in range(self.channels)]
        self.initial = state[:]
        changes = []
        for channel in range(self.channels):
            if rng.random() < 0.25:  # a quarter of the inputs are wired to something that moves
                for t in _poisson(rng, self.origin_ts, end_ts, rng.uniform(2, 20)):
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

    def emit(self, em: Emitter, window_start: int, measures: Set[str],
             journal_last: Optional[Dict[str, int]] = None,
             moment_step_minutes: Optional[int] = None) -> None:
        """Emit the digital measures of the window."""
        tz, end = self.tz, self.end_ts
        device, meter_id = self.spec.device_idx, self.spec.meter_id
        step = (moment_step_minutes or self.options.moment_step_minutes) * 60
        if "DigMomentState" in measures:
            for ts in range(timegrid.floor_to_step(window_start, step, tz) + step, end + 1, step):
                em.record("DigMomentState", device, meter_id, ts, 1, [self.channels] + self.state_at(ts))
        if "DigJournalState" in measures:
            pairs = list(zip(self.change_times, self.states))
            last = (journal_last or {}).get("DigJournalState")
            pairs = pairs[-last:] if last else [(t, s) for t, s in pairs if window_start <= t <= end]
            for ts, state in pairs:
                em.record("DigJournalState", device, meter_id, ts, 1,
                          [self.channels] + list(state) + [None] * (CHANNELS - self.channels))
