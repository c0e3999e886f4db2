"""A scenario: "these meters over this period, all measures", generated in one pass.

``build()`` returns rows in memory (no I/O, ids as a fresh ``init`` database would number
them); ``create(target)`` streams meter after meter into a target inside one transaction."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Collection, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Type, Union

from ..errors import InputError
from ..model import timegrid
from ..model.rng import DEFAULT_SEED, stream
from ..schema import measures as registry
from .electric import ElectricStory
from .emit import Emitter, Recorder
from .meters import MeterSpec, check_period, make_meter, meter_seed_path, whole_number
from .modules import DigitalStory, PulseStory
from .overrides import Overrides
from .polls import PollClock
from ..records.producer import MeterByMeter, Producer, configured_target
from ..records.rows import IdAllocator, NameIndex, RowSet
from ..schema.layout import FAMILIES
from ..records.summary import LoadSummary
from .story import Story, StoryOptions

# The mix of a default scenario: mostly three-phase, some single-phase, a two-tariff meter.
DEFAULT_MIX = ("SE303", "Mercury23x", "Mercury200", "SETxTM", "NEVA1xx", "SEB2a", "PSCHxTM",
               "SE102M", "MILUR30x")
ALL_MEASURES = registry.select(records=True)
# What a default scenario writes for the meters of each family.
DEFAULT_MEASURES = {family: registry.select(meter=family, records=True, by_default=True)
                    for family in registry.METER_FAMILIES}
# A meter's rows are handed to the target in RowSets of about this many rows at most (a span of
# one measure more): a meter of a few hundred days is one RowSet, one over decades streams.
ROWS_PER_SET = 50_000
DEFAULT_PERIOD_MINUTES = 30   # a Scenario's load-profile period unless it is given
STORY_CLASSES: Dict[str, Type[Story]] = {registry.ELECTRIC: ElectricStory, registry.PULSE: PulseStory,
                                         registry.DIGITAL: DigitalStory}


@dataclass
class MeterPlan:
    """Meters of one type to generate; ``children`` hang behind this one (a hub)."""

    type: str = "SE303"
    count: int = 1
    interface: Optional[str] = None
    table: Dict[str, object] = field(default_factory=dict)     # MeterTable overrides
    config: Dict[str, object] = field(default_factory=dict)    # config overrides (tags)
    children: Sequence["MeterPlan"] = ()
    period_minutes: Optional[int] = None   # load-profile period; None: the Scenario's period_minutes
    pv: Optional[bool] = None          # rooftop PV (export, A-): None = the seed decides
    outages: Sequence[Tuple[object, object]] = ()  # (off, on) as datetimes or epoch seconds

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or self.count < 0:
            raise InputError(f"meter plan {self.type}: count must be a whole number >= 0, got {self.count!r}")


class Scenario(Producer, MeterByMeter):
    """N meters over a period with every measure, each meter one consistent story.

    Written to a target (``create``) it takes what it does not name itself from the target's
    context: the time zone of its calendar (midnights, month starts; ``StoryOptions(timezone=...)``
    wins), "today" from the target's clock when ``end`` is not given, the root seed when ``seed``
    is not given, the Faker locale when the options name none.  ``build()`` without a target
    uses Europe/Moscow, today and seed 20240601.  ``period_minutes`` is the load-profile period
    of every meter whose plan does not set its own."""

    def __init__(self, meters: Union[int, Sequence[MeterPlan]] = 1, days: int = 30,
                 end: Optional[dt.date] = None, seed: Optional[int] = None,
                 measures: Optional[Iterable[str]] = None,
                 overrides: Union[None, Overrides, Mapping, Iterable] = None,
                 options: Optional[StoryOptions] = None, period_minutes: int = DEFAULT_PERIOD_MINUTES,
                 depth: Union[None, str, Mapping[str, int]] = None) -> None:
        if isinstance(meters, bool) or not isinstance(meters, (int, list, tuple)):
            raise InputError(f"meters must be a count or a list of MeterPlan, got {meters!r}")
        if isinstance(meters, int) and meters < 0:
            raise InputError(f"meters must be >= 0, got {meters}")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise InputError(f"days must be a whole number >= 1, got {days!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InputError(f"seed must be an integer, got {seed!r}")
        if isinstance(end, dt.datetime):
            end = end.date()  # the day it falls on, as written (its own zone when it has one)
        elif end is not None and not isinstance(end, dt.date):
            raise InputError(f"end must be a date (datetime.date), got {end!r}")
        check_period(period_minutes, "Scenario period_minutes")
        self.options = options or StoryOptions()
        self._seed_given = seed is not None
        self.seed = DEFAULT_SEED if seed is None else seed
        self.days = days
        self.period_minutes = period_minutes
        self._end_given = end
        self._set_calendar()
        self._mix_count = meters if isinstance(meters, int) else None
        if isinstance(meters, int):
            self.plans = _default_mix(meters, self.seed)
        else:
            self.plans = list(meters)
            if not all(isinstance(plan, MeterPlan) for plan in self.plans):
                raise InputError("meters must be a count or a list of MeterPlan")
        for plan in self._all_plans():
            if plan.period_minutes is not None:
                check_period(plan.period_minutes, f"meter plan {plan.type}: period_minutes")
        # The default measures are each meter's as its type keeps them (no profile for a meter
        # without one); measures asked for by name -- measures=, StoryOptions.journals -- win.
        self.type_gated: Set[str] = set()
        if measures is None:
            self.type_gated = set(DEFAULT_MEASURES[registry.ELECTRIC]) - set(self.options.journals)
            self.measures: Set[str] = set(DEFAULT_MEASURES[registry.ELECTRIC]) | set(self.options.journals)
            families = {self._family(plan) for plan in self._all_plans()}
            for family in families & {registry.PULSE, registry.DIGITAL}:
                self.measures |= set(DEFAULT_MEASURES[family])
        else:
            self.measures = set(measures)
            unknown = self.measures - set(ALL_MEASURES) - set(registry.ALIASES)
            if unknown:
                raise InputError(f"unknown measure(s) {', '.join(sorted(unknown))}; valid: {', '.join(ALL_MEASURES)}")
            check_producible(self.measures)
            families = {self._family(plan) for plan in self._all_plans() if plan.count}
            unrecorded = sorted(m for m in self.measures if families and registry.measure(m).meter not in families)
            if unrecorded:
                raise InputError(f"no meter of the scenario records {', '.join(unrecorded)}: its meters are "
                                 f"{', '.join(sorted(families))}; add a MeterPlan of a "
                                 f"{'/'.join(sorted({registry.measure(m).meter for m in unrecorded}))} type")
        self.overrides = Overrides.coerce(overrides)
        if depth == "retention":
            self.depth: Optional[Dict[str, int]] = {m: registry.default_retention(m) for m in ALL_MEASURES}
        elif depth is None or isinstance(depth, Mapping):
            self.depth = dict(depth) if depth else None
        else:
            raise InputError(f"depth must be 'retention' or a dict of measure -> record count, got {depth!r}")

    def _set_calendar(self) -> None:
        """The period's end day and its first and last midnight, in the options' time zone."""
        self.tz = self.options.tz
        self.end = self._end_given or dt.datetime.now(self.tz).date()
        self.start_ts = timegrid.local_midnight(self.end - dt.timedelta(days=self.days), self.tz)
        self.end_ts = timegrid.local_midnight(self.end, self.tz)

    @property
    def timezone(self) -> str:
        """The IANA name of the time zone the scenario's calendar is in."""
        return self.options.timezone or timegrid.DEFAULT_TIMEZONE

    def in_zone(self, timezone: str) -> "Scenario":
        """This scenario with its calendar in ``timezone`` -- unless its options name a zone of
        their own, which wins (then the scenario itself)."""
        if self.options.timezone is not None:
            return self
        bound = copy.copy(self)
        bound.options = dataclasses.replace(self.options, timezone=timezone)
        bound._set_calendar()
        return bound

    def for_target(self, target) -> "Scenario":
        """This scenario as it is written to ``target``: in the target's time zone
        (``target.context``) unless the options name another, and -- without an ``end`` of its
        own -- ending on the local date of the target's clock (a pinned one: ``set_clock``,
        --meterdata-now)."""
        context = target.context
        bound = self.in_zone(context.timezone)
        if self._end_given is None and context.clock is not None:
            bound = copy.copy(bound)
            bound._end_given = timegrid.local_datetime(context.clock, bound.tz).date()
            bound._set_calendar()
        if not self._seed_given and context.seed != self.seed:
            bound = copy.copy(bound)
            bound.seed = context.seed
            if self._mix_count is not None:
                bound.plans = _default_mix(self._mix_count, context.seed)
        if self.options.locale is None and context.locale is not None:
            bound = copy.copy(bound)
            bound.options = dataclasses.replace(bound.options, locale=context.locale)
        return bound

    def period_of(self, plan: MeterPlan) -> int:
        """The load-profile period of a plan's meters: the plan's own, else the scenario's."""
        return self.period_minutes if plan.period_minutes is None else plan.period_minutes

    def _all_plans(self) -> Iterator[MeterPlan]:
        stack = list(self.plans)
        while stack:
            plan = stack.pop()
            yield plan
            stack.extend(plan.children)

    @staticmethod
    def _family(plan: MeterPlan) -> str:
        from .meters import kind_of
        return kind_of(plan.type).family

    @property
    def origin_day(self) -> dt.date:
        """The first day of the period."""
        return self.end - dt.timedelta(days=self.days)

    def meter_specs(self, ids: IdAllocator) -> List[MeterSpec]:
        """Every meter of the scenario, parents before their children."""
        specs: List[MeterSpec] = []
        ordinal = 0

        def add(plan: MeterPlan, parent: Optional[MeterSpec]) -> None:
            nonlocal ordinal
            for _ in range(plan.count):
                given = plan.table.get("MeterId", plan.table.get("id"))
                if given is None:
                    meter_id = ids.meter_id()
                else:  # a whole float (5.0) is claimed too: the allocator must not hand out 5 again
                    meter_id = whole_number("MeterId", given)
                    ids.claim_meter_id(meter_id)
                spec = make_meter(stream(self.seed, *meter_seed_path(ordinal, plan.type), "registry"), ordinal,
                                  meter_id, plan.type, interface=plan.interface,
                                  timestamp=PollClock(self.seed, ordinal, self.options.moment_step_minutes * 60)
                                  .at(self.start_ts),  # the first poll (contract: configs at poll time)
                                  parent_meter_id=parent.meter_id if parent else 0,
                                  period_minutes=self.period_of(plan),
                                  table_overrides=plan.table, config_overrides=plan.config,
                                  locale=self.options.locale)
                spec.device_idx = ids.device_idx()
                spec.pv = plan.pv
                spec.outages = [tuple(_epoch(t) for t in pair) for pair in plan.outages]
                specs.append(spec)
                ordinal += 1
                for child in plan.children:
                    add(child, spec)

        for plan in self.plans:
            add(plan, None)
        return specs

    def generate(self, ids: IdAllocator, names: NameIndex, recorder: Optional[Recorder] = None,
                 part: int = 0, parts: int = 1) -> Iterator[RowSet]:
        """Rows meter after meter, ids taken from ``ids``: one RowSet per meter, or for a meter
        of more than ``ROWS_PER_SET`` rows several (the registry and config rows in the first),
        so memory is bounded by a span of a meter, not by its whole history.  With ``parts``
        > 1 only every parts-th meter (from ``part``) is generated -- each part in its own process
        numbers the meters the same way, so the parts together are the whole scenario."""
        for spec in self.meter_specs(ids):
            if spec.ordinal % parts == part:
                yield from self._meter_rows(spec, ids, names, recorder)

    def meters_apart(self, ids: IdAllocator, names: NameIndex) -> List[Callable[[], Iterator[RowSet]]]:
        """One maker per meter, in ordinal order: DeviceIdx and MeterId as the whole scenario
        numbers them (taken from ``ids`` now), records numbered from 1 -- MeterData.Id relative
        to the meter's first record -- so meters can be made apart, in two processes, and
        written in ordinal order with the offset where each lands (``RowSet.id_offset``).
        Written so, the rows are ``generate``'s to the last cell."""
        def maker(spec: MeterSpec) -> Callable[[], Iterator[RowSet]]:
            def make() -> Iterator[RowSet]:   # one at a time: the meter's records are numbered in ids
                ids.next_header_id = 1
                yield from self._meter_rows(spec, ids, names, None)
            return make
        return [maker(spec) for spec in self.meter_specs(ids)]

    def relative_meters(self, ids: IdAllocator, names: NameIndex,
                        take: Callable[[int], bool]) -> Iterator[Tuple[int, RowSet]]:
        """(ordinal, RowSet) of each meter whose ordinal ``take`` accepts, made by
        ``meters_apart``."""
        for ordinal, make in enumerate(self.meters_apart(ids, names)):
            if take(ordinal):
                for rows in make():
                    yield ordinal, rows

    def _meter_rows(self, spec: MeterSpec, ids: IdAllocator, names: NameIndex,
                    recorder: Optional[Recorder]) -> Iterator[RowSet]:
        """The RowSets of one meter (a ContinuedRowSet after ``ROWS_PER_SET`` rows)."""
        limit = ROWS_PER_SET
        emitter = Emitter(RowSet(), ids, names, self.overrides, self.tz, recorder)
        for _ in emit_meter_steps(emitter, spec, self.seed, self.options, self.origin_day, self.start_ts,
                                  self.end_ts, self.measures, names, depth=self.depth,
                                  type_gated=self.type_gated):
            if emitter.rows.total() >= limit:
                yield emitter.take()
        if emitter.rows.total():
            yield emitter.take()

    def __call__(self, ids: IdAllocator, names: NameIndex) -> Iterator[RowSet]:
        """A scenario is a producer: targets call it with their ids and names."""
        return self.generate(ids, names)

    def split(self, part: int, parts: int) -> "ScenarioPart":
        """The producer of every parts-th meter from ``part`` (picklable, for another process)."""
        return ScenarioPart(self, part, parts)

    def build(self, recorder: Optional[Recorder] = None) -> RowSet:
        """All rows in memory, numbered as a fresh database would number them (no I/O)."""
        out = RowSet()
        for rows in self.generate(IdAllocator(), NameIndex.reference(), recorder):
            out.extend(rows)
        return out

    def create(self, target=None, progress=None) -> LoadSummary:
        """Write the scenario to ``target`` (default: the configured target) in one transaction."""
        target = target or configured_target()
        return target.load(self.for_target(target), progress=progress, expected_meters=self.meter_count())

    def rows_estimate(self) -> int:
        """About how many rows the scenario makes, from its meters, days, measures and
        cadences alone -- nothing is generated; rather more than fewer (a meter type that lacks
        a measure is counted as having it; events are not counted)."""
        per_day = {registry.MOMENT: 1440 / self.options.moment_step_minutes, registry.HOUR: 24,
                   registry.DAY: 1, registry.MONTH: 1 / 28}
        total = 0.0
        for plan in self._all_plans():
            family = self._family(plan)
            period = self.period_of(plan)
            for name in self.measures:
                measure = registry.measure(name)
                if measure.meter != family or measure.table not in FAMILIES:
                    continue
                records = (1440 / period) if measure.cadence == registry.PROFILE else per_day.get(measure.cadence or "", 0)
                total += plan.count * self.days * records * (1 + len(FAMILIES[measure.table].keys))
        return int(total) + self.meter_count() * 2   # registry and config rows

    def numbers_only(self) -> bool:
        """Without overrides its record tables hold the generator's numbers and None alone."""
        return not any(self.overrides.by_measure.values())

    def meter_count(self) -> int:
        """How many meters the scenario has (children included)."""
        return sum(plan.count for plan in self._all_plans())


class ScenarioPart(Producer):
    """One share of a scenario's meters; together the parts are the whole scenario."""

    def __init__(self, scenario: Scenario, part: int, parts: int) -> None:
        self.scenario, self.part, self.parts = scenario, part, parts

    def __call__(self, ids: IdAllocator, names: NameIndex) -> Iterator[RowSet]:
        return self.scenario.generate(ids, names, part=self.part, parts=self.parts)

    def meter_count(self) -> int:
        """How many of the scenario's meters this part makes."""
        return len(range(self.part, self.scenario.meter_count(), self.parts))

    def split(self, part: int, parts: int) -> None:
        """A part is not split again."""
        return None


def emit_meter(emitter: Emitter, spec: MeterSpec, seed: int, options: StoryOptions,
               origin_day: dt.date, window_start: int, end_ts: int, measures: Set[str],
               names: NameIndex, *, write_registry: bool = True, write_config: bool = True,
               journal_last: Optional[Dict[str, int]] = None,
               moment_step_minutes: Optional[int] = None,
               depth: Optional[Dict[str, int]] = None, reuse_story: bool = False) -> None:
    """Registry row, config row and every requested measure of one meter; with ``depth``
    (measure -> count) only the last ``count`` records of each measure.  ``reuse_story`` takes
    the meter's model from the per-process cache (separate seed-API objects of one meter)."""
    for _ in emit_meter_steps(emitter, spec, seed, options, origin_day, window_start, end_ts, measures,
                              names, write_registry=write_registry, write_config=write_config,
                              journal_last=journal_last, moment_step_minutes=moment_step_minutes,
                              depth=depth, reuse_story=reuse_story):
        pass


def emit_meter_steps(emitter: Emitter, spec: MeterSpec, seed: int, options: StoryOptions,
                     origin_day: dt.date, window_start: int, end_ts: int, measures: Set[str],
                     names: NameIndex, *, write_registry: bool = True, write_config: bool = True,
                     journal_last: Optional[Dict[str, int]] = None,
                     moment_step_minutes: Optional[int] = None,
                     depth: Optional[Dict[str, int]] = None, reuse_story: bool = False,
                     type_gated: Collection[str] = ()) -> Iterator[None]:
    """``emit_meter`` in steps: yields whenever ``emitter.rows`` may be taken away
    (``Emitter.take``) -- after the registry rows, and after every span of a measure.  A measure
    in ``type_gated`` is left out for a meter whose type does not keep it (``MeterKind.keeps``)."""
    rows = emitter.rows
    if write_registry:
        rows["MeterTable"].append(spec.meter_table_row(names))
    family = spec.kind.family
    if write_config and spec.config_table:
        config = emitter.overrides.tags_for(spec.config_measure, spec.config.get("Timestamp", 0),  # type: ignore[arg-type]
                                            spec.meter_id, emitter.tz)
        if config:
            from ..schema.layout import CONFIG_TAGS
            for tag, value in config.items():
                spec.config[CONFIG_TAGS[spec.config_table][tag]] = value
        config_row = spec.config_row()
        if config_row is not None:  # it is: the meter has a config table
            rows[spec.config_table].append(config_row)
    story_class = STORY_CLASSES.get(family)
    if story_class is None:
        return
    wanted = {m for m in measures if _belongs(m, family) and (m not in type_gated or spec.kind.keeps(m))}
    if not wanted:
        return
    story = story_class(spec, seed, options, origin_day, end_ts, reuse=reuse_story)
    if not depth:
        yield from _story_steps(story, emitter, window_start, wanted, journal_last, moment_step_minutes)
        return
    from .windows import last_records
    groups: Dict[Tuple[int, Tuple], Set[str]] = {}
    step = moment_step_minutes or options.moment_step_minutes
    for measure in sorted(wanted):
        if measure not in depth:
            start, last = window_start, None
        else:
            start, last = last_records(measure, depth[measure], end_ts, options.tz, spec.period_minutes,
                                       step, window_start, PollClock(seed, spec.ordinal, step * 60))
            start = max(start, window_start)
        key = (start, tuple(sorted((last or {}).items())))
        groups.setdefault(key, set()).add(measure)
    for (start, last_items), group in groups.items():
        yield from _story_steps(story, emitter, start, group, dict(last_items) or None, moment_step_minutes)


def _story_steps(story, emitter: Emitter, window_start: int, measures: Set[str],
                 journal_last: Optional[Dict[str, int]], moment_step_minutes: Optional[int]) -> Iterator[None]:
    """A story's records in steps (``Story.emit_steps``: every family's story has them)."""
    yield from story.emit_steps(emitter, window_start, measures, journal_last=journal_last,
                                moment_step_minutes=moment_step_minutes)


def check_producible(names: Iterable[str]) -> None:
    """InputError in one line naming every measure of ``names`` that is in the registry but
    that no story produces (its meter family's story does not know its table and cadence):
    such a measure would otherwise be written as no rows at all."""
    missing = []
    for name in names:
        entry = registry.measure(name)
        story = STORY_CLASSES.get(entry.meter)
        if entry.is_record and (story is None or not story.produces(entry)):
            missing.append(f"{entry.name} ({entry.table}, cadence {entry.cadence})")
    if missing:
        raise InputError(f"no story produces measure {', '.join(missing)}: the registry has it, but "
                         "its meter family's story (generate/electric.py, generate/modules.py) does not "
                         "know that table and cadence")


def _default_mix(count: int, seed: int) -> List[MeterPlan]:
    """The plans of ``count`` meters of a default scenario: DEFAULT_MIX, then drawn from it."""
    rng = stream(seed, "mix")
    return [MeterPlan(DEFAULT_MIX[i % len(DEFAULT_MIX)] if i < len(DEFAULT_MIX) else rng.choice(DEFAULT_MIX))
            for i in range(count)]


def _epoch(value: object) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise InputError(f"outage time {value} needs a time zone (tzinfo)")
        return int(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise InputError(f"outage times are datetimes or epoch seconds, got {value!r}")


def _belongs(measure: str, family: str) -> bool:
    """Is ``measure`` a record a meter of ``family`` writes?"""
    entry = registry.MEASURES.get(measure) or registry.MEASURES.get(registry.ALIASES.get(measure, ""))
    return entry is not None and entry.is_record and entry.meter == family
