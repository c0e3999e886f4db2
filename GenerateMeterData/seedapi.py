"""The seed-compatible classes: the API existing test scripts call, kept verbatim.

    mt = GenerateMeterData.MeterTable()
    cfg = GenerateMeterData.ElConfig(MeterTable=mt.get('MeterTable'))
    j = GenerateMeterData.Journal(RecordTypeId=GenerateMeterData.JournalName.ElJrnlLimPwr,
                                  MeterTable=cfg.get('MeterTable'), ElConfig=cfg.get('ElConfig'),
                                  Redefine_tag={"Valid": 0})

Constructing an object writes to the configured target (``configure()``, settings.ini, or a
local Meter.db) in one transaction; ``.get(name)`` returns what was written, by the seed's tag
names.  Records of one meter come from that meter's story, so separate calls agree with each
other (the day consumption is the difference of the day registers, and so on)."""
from __future__ import annotations

import enum
import os
import uuid
from typing import Any, ContextManager, Dict, Iterator, List, Optional, Type, Union, cast

from .errors import InputError
from .generate.story import StoryOptions, check_journal_name
from .generate.emit import Emitter
from .generate.meters import MeterSpec, kind_of, make_meter, whole_number
from .generate.overrides import Override, Overrides, check_tags
from .generate.polls import PollClock
from .records.rows import IdAllocator, NameIndex, RowSet
from .generate.scenario import check_producible, emit_meter
from .generate.windows import last_records
from .model import timegrid
from .model.rng import faker_for, stream
from .schema import layout, measures
from .schema.layout import CONFIG_MEASURE_TABLE, CONFIG_TAGS, METER_TABLE_COLUMNS, TABLE_COLUMNS
from .schema.reference import DEFAULT_METER_TYPE
from .model.context import check_clock, check_timezone
from .targets import current_default_target, default_target, set_default_target, target_for
from .targets.base import Target

class JournalName(str, enum.Enum):
    """Every journal archive type of meter.db (JournalName.ElJrnlPwr ... PlsJrnlTimeCorr), in
    registry order; written out for type checkers, tests/test_seed_classes.py checks it is the
    registry's JOURNAL_NAMES."""

    ElJrnlPwr = "ElJrnlPwr"
    ElJrnlTimeCorr = "ElJrnlTimeCorr"
    ElJrnlReset = "ElJrnlReset"
    ElJrnlC1Init = "ElJrnlC1Init"
    ElJrnlC2Init = "ElJrnlC2Init"
    ElJrnlTrfCorr = "ElJrnlTrfCorr"
    ElJrnlOpen = "ElJrnlOpen"
    ElJrnlUnAyth = "ElJrnlUnAyth"
    ElJrnlPwrA = "ElJrnlPwrA"
    ElJrnlPwrB = "ElJrnlPwrB"
    ElJrnlPwrC = "ElJrnlPwrC"
    ElJrnlProg = "ElJrnlProg"
    ElJrnlRelay = "ElJrnlRelay"
    ElJrnlLimESumm = "ElJrnlLimESumm"
    ElJrnlLimETrf = "ElJrnlLimETrf"
    ElJrnlLimETrf1 = "ElJrnlLimETrf1"
    ElJrnlLimETrf2 = "ElJrnlLimETrf2"
    ElJrnlLimETrf3 = "ElJrnlLimETrf3"
    ElJrnlLimETrf4 = "ElJrnlLimETrf4"
    ElJrnlLimUAMax = "ElJrnlLimUAMax"
    ElJrnlLimUAMin = "ElJrnlLimUAMin"
    ElJrnlLimUBMax = "ElJrnlLimUBMax"
    ElJrnlLimUBMin = "ElJrnlLimUBMin"
    ElJrnlLimUCMax = "ElJrnlLimUCMax"
    ElJrnlLimUCMin = "ElJrnlLimUCMin"
    ElJrnlLimUABMax = "ElJrnlLimUABMax"
    ElJrnlLimUABMin = "ElJrnlLimUABMin"
    ElJrnlLimUBCMax = "ElJrnlLimUBCMax"
    ElJrnlLimUBCMin = "ElJrnlLimUBCMin"
    ElJrnlLimUCAMax = "ElJrnlLimUCAMax"
    ElJrnlLimUCAMin = "ElJrnlLimUCAMin"
    ElJrnlLimIAMax = "ElJrnlLimIAMax"
    ElJrnlLimIBMax = "ElJrnlLimIBMax"
    ElJrnlLimICMax = "ElJrnlLimICMax"
    ElJrnlLimFreqMax = "ElJrnlLimFreqMax"
    ElJrnlLimFreqMin = "ElJrnlLimFreqMin"
    ElJrnlLimPwr = "ElJrnlLimPwr"
    ElJrnlLimPwrPP = "ElJrnlLimPwrPP"
    ElJrnlLimPwrPM = "ElJrnlLimPwrPM"
    ElJrnlLimPwrQP = "ElJrnlLimPwrQP"
    ElJrnlLimPwrQM = "ElJrnlLimPwrQM"
    ElJrnlReverce = "ElJrnlReverce"
    PlsJrnlTimeCorr = "PlsJrnlTimeCorr"

    def __str__(self) -> str:
        return self.value


# What the classes take, as a type checker sees it: tags by name, a meter (the dict of
# .get('MeterTable'), or a one-item list of it), a config (its dict, or a list: the last one), a
# journal (a JournalName, its name, or its ArchTypes.Id).
Tags = Dict[str, object]
MeterArgument = Union[None, Dict[str, object], List[Dict[str, object]]]
ConfigArgument = Union[None, Dict[str, object], List[Dict[str, object]]]
RecordType = Union[None, "JournalName", str, int]

HISTORY_MONTHS = 26  # how far back a seed-API meter's story starts (the 1st of that month)
SEED_MOMENT_STEP = 5  # minutes between moment records, as the seed generated them

# A token for every load of this process's seed-compatible objects: derived from the pid, so a
# forked child has a run of its own (an immutable value, not state).
_RUN_SALT = uuid.uuid4().hex


def set_clock(now: Optional[int] = None) -> Optional[int]:
    """Pin the moment the seed-compatible classes take as "now" (Unix seconds) -- their records
    end there -- so a suite seeds the same rows whatever day it runs; None: the real clock.

    The clock belongs to the default target's context (``default_target().context.clock``; a
    target configured later inherits it); a target of one's own takes
    ``target.context.with_clock(now)``.  Returns the setting it replaced, to put back
    (``set_clock(previous)``)."""
    check_clock(now)
    target = default_target()
    previous = target.context.clock
    target.context = target.context.with_clock(now)
    return previous


def configure(target: Optional[Target] = None, *, db: Optional[str] = None,
              settings: Optional[str] = None, section: Optional[str] = None,
              seed: Optional[int] = None, timezone: Optional[str] = None,
              locale: Optional[str] = None) -> Target:
    """Choose where the seed-compatible classes write, the root seed, the time zone and the
    Faker locale of the meters' text columns (serials, addresses).

    All three belong to the target (``target.context``): settings.ini's ``timezone`` key sets
    its zone, ``timezone=`` here overrides it; ``seed=`` and ``locale=`` set the others -- for
    the target configured in this call, else the current one -- and they stay in force when a
    later call configures another target (a zone only when that target's was not given
    explicitly).  Everything is checked before anything changes."""
    import dataclasses

    from . import settings as settings_module
    from .model.context import CONFIGURED

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(f"seed must be an integer, got {seed!r}")
    if timezone is not None:
        check_timezone(timezone, "configure(timezone=...)")
    if locale is not None:
        faker_for(stream(0), locale)  # an unknown locale fails here, not at the first meter
    if target is None and (db or settings or section):
        target = target_for(settings_module.resolve(settings, section, db))
    if target is not None:
        previous = current_default_target()
        if previous is not None and previous is not target:
            target.context = target.context.inherit(previous.context)
        set_default_target(target)
    chosen = default_target()
    if timezone is not None:
        chosen.context = chosen.context.with_timezone(timezone, CONFIGURED, "configure(timezone=...)")
    if seed is not None:
        chosen.context = dataclasses.replace(chosen.context, seed=seed)
    if locale is not None:
        chosen.context = dataclasses.replace(chosen.context, locale=locale)
    return chosen


def _count(value: Any, name: str = "Count_timestamp") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{name} must be a whole number >= 0, got {value!r}")
    return value


class _Written:
    """What one constructor wrote, by name (``.get('MeterTable')``, ``.get('ElConfig')``, ...)."""

    def __init__(self) -> None:
        self._written: Dict[str, Any] = {}

    def get(self, name: Optional[str] = None) -> Any:
        """The rows written under ``name`` (a dict for MeterTable/configs, a list of record
        dicts for measures); every name with no argument."""
        if name is None:
            return dict(self._written)
        if name not in self._written:
            raise InputError(f"{type(self).__name__}.get({name!r}): nothing by that name; "
                             f"available: {', '.join(self._written)}")
        return self._written[name]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {', '.join(self._written)}>"


def _now(target: Target) -> int:
    """"Now" for a record of ``target``: its context's clock; for a target without one, the
    clock ``set_clock()`` pinned (the default target's: it spoke for every seed-API object),
    else the wall clock."""
    if target.context.clock is None:
        default = current_default_target()
        if default is not None and default.context.clock is not None:
            return default.context.clock
    return target.context.now()


def _options(target: Target) -> StoryOptions:
    """The story options of a meter written to ``target``: the target's time zone."""
    return StoryOptions(timezone=target.context.timezone, locale=target.context.locale)


def _meter_dict(spec: MeterSpec, names: NameIndex) -> Dict[str, Any]:
    row = layout.as_dict("MeterTable", spec.meter_table_row(names))
    row["typeName"] = spec.type_name
    row["ifaceName"] = names.interface_names.get(row["InterfaceId"], spec.table["InterfaceId"])
    return row


class MeterTable(_Written):
    """One row of MeterTable (a new meter); ``redefine_tag`` overrides any column."""

    default_type = DEFAULT_METER_TYPE[measures.ELECTRIC]

    def __init__(self, redefine_tag: Optional[Tags] = None, *, Type: Optional[str] = None,
                 target: Optional[Target] = None, Redefine_tag: Optional[Tags] = None) -> None:
        super().__init__()
        tags = dict(redefine_tag or Redefine_tag or {})
        check_tags("MeterTable", tags, "MeterTable redefine_tag")
        type_name = cast(str, tags.pop("typeName", None) or Type or self.default_type)
        kind_of(type_name)
        target = target or default_target()
        holder: Dict[str, Any] = {}

        def produce(ids: IdAllocator, names: NameIndex) -> Iterator[RowSet]:
            meter_id = tags.get("MeterId", tags.get("id"))
            if meter_id is None:
                meter_id = ids.meter_id()
            # a target may number the meter only inside its transaction (a negative provisional
            # id here): the registry's randomness must still differ from meter to meter
            key = meter_id if isinstance(meter_id, int) and meter_id > 0 else _next_provisional()
            spec = make_meter(stream(target.context.seed, "seedapi", key, "registry"), int(meter_id)
                              if isinstance(meter_id, int) else 0, whole_number("MeterId", meter_id), type_name,
                              timestamp=_now(target), table_overrides=tags, locale=target.context.locale)
            spec.device_idx = ids.device_idx()
            rows = RowSet()
            rows["MeterTable"].append(spec.meter_table_row(names))
            holder["row"] = _meter_dict(spec, names)
            yield rows

        with _run(target):
            summary = target.load(produce)
        if summary.created:  # the ids the target assigned inside its transaction
            holder["row"]["MeterId"] = summary.created[0].meter_id
            holder["row"]["DeviceIdx"] = summary.created[0].device_idx
        self._written["MeterTable"] = holder["row"]


def _run(target: Target) -> ContextManager[Target]:
    """Every load of this process's seed-compatible objects under one token (one line in
    'loads', one 'clear --load'); a target that already has a run token (a test's) keeps it."""
    if target.run_token is not None:
        return target.recording()
    return target.recording(token=uuid.uuid5(uuid.NAMESPACE_OID, f"{_RUN_SALT}-{os.getpid()}").hex)


def _next_provisional() -> str:
    """A key no other meter of any process shares."""
    return uuid.uuid4().hex


def _meter_from(value: Any, target: Target, default_type: str) -> Dict[str, Any]:
    """A MeterTable dict from what a script passed (None = create one)."""
    if value is None:
        cls = type("MeterTable", (MeterTable,), {"default_type": default_type})
        created: Dict[str, Any] = cls(target=target).get("MeterTable")
        return created
    if isinstance(value, list):
        if len(value) != 1:
            raise InputError("MeterTable= takes one meter (the dict from .get('MeterTable'))")
        value = value[0]
    if not isinstance(value, dict) or "DeviceIdx" not in value:
        raise InputError("MeterTable= takes the dict returned by .get('MeterTable')")
    meter: Dict[str, Any] = value
    if "typeName" not in meter:
        rows = target.fetch("SELECT t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId "
                            "WHERE m.DeviceIdx = ?", (meter["DeviceIdx"],))
        if not rows:
            raise InputError(f"meter DeviceIdx {meter['DeviceIdx']} is not in the target's MeterTable")
        meter = dict(meter, typeName=rows[0][0])
    return meter


class _Config(_Written):
    measure = ""        # the config measure (ElConfig, PlsConfig, DigConfig): see the registry
    family = ""         # the meter family it configures
    default_type = ""   # the meter type created when MeterTable is not given

    def __init_subclass__(cls, family: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if family:  # measure and default meter type from the registry
            cls.family, cls.measure = family, measures.config_measure(family) or ""
            cls.default_type = DEFAULT_METER_TYPE[family]
            if measures.MEASURES[cls.measure].seed_class != cls.__name__:
                raise TypeError(f"{cls.__name__}: the registry names {cls.measure}'s seed class "
                                f"{measures.MEASURES[cls.measure].seed_class}")

    def __init__(self, MeterTable: MeterArgument = None, Config_tag: Optional[Tags] = None,
                 Redefine_tag: Optional[Tags] = None, *, target: Optional[Target] = None) -> None:
        super().__init__()
        target = target or default_target()
        tags = dict(Config_tag or {})
        tags.update(Redefine_tag or {})
        check_tags(self.measure, tags, f"{self.measure} Config_tag")
        meter = _meter_from(MeterTable, target, self.default_type)
        table = CONFIG_TAGS[CONFIG_MEASURE_TABLE[self.measure]]
        holder: Dict[str, Any] = {}

        def produce(ids: IdAllocator, names: NameIndex) -> Iterator[RowSet]:
            spec = make_meter(stream(target.context.seed, "seedapi", meter["MeterId"], "registry"),
                              meter["MeterId"], meter["MeterId"], meter["typeName"], timestamp=_now(target),
                              config_overrides=tags, locale=target.context.locale)
            if spec.config_measure != self.measure:
                raise InputError(f"{self.measure}: meter {meter['MeterId']} is a {meter['typeName']} "
                                 f"({spec.kind.family}); it takes {spec.config_measure}")
            spec.device_idx = meter["DeviceIdx"]
            rows = RowSet()
            config_table, row = spec.config_table, spec.config_row()
            if config_table is None or row is None:  # never: the meter's family has this config
                raise InputError(f"{self.measure}: meter {meter['MeterId']} has no config table")
            rows[config_table].append(row)
            columns = layout.as_dict(config_table, row)
            holder["config"] = {tag: columns[column] for tag, column in table.items()
                                if tag[0].islower() or tag in ("DeviceIdx", "Timestamp")}
            yield rows

        with _run(target):
            target.load(produce)
        self._written["MeterTable"] = meter
        self._written[self.measure] = holder["config"]


class ElConfig(_Config, family=measures.ELECTRIC):
    """ElectricConfig row of a meter (created when ``MeterTable`` is not given)."""


class PlsConfig(_Config, family=measures.PULSE):
    """PulseConfig row of a pulse concentrator."""


class DigConfig(_Config, family=measures.DIGITAL):
    """DigitalConfig row of a discrete I/O module."""


CONFIG_CLASSES = {cls.family: cls for cls in (ElConfig, PlsConfig, DigConfig)}


def _config_from(value: Any, meter: Dict[str, Any], target: Target, cls: Type[_Config]) -> Dict[str, Any]:
    if value is None:
        table = CONFIG_MEASURE_TABLE[cls.measure]
        columns = TABLE_COLUMNS[table]
        rows = target.fetch(f"SELECT {', '.join(columns)} FROM {table} WHERE DeviceIdx = ? "
                            "ORDER BY Timestamp DESC LIMIT 1", (meter["DeviceIdx"],))
        if rows:
            by_column = layout.as_dict(table, rows[0])
            return {tag: by_column[column] for tag, column in CONFIG_TAGS[table].items()}
        created: Dict[str, Any] = cls(MeterTable=meter, target=target).get(cls.measure)
        return created
    if isinstance(value, list):
        value = value[-1]
    if not isinstance(value, dict):
        raise InputError(f"{cls.measure}= takes the dict returned by .get('{cls.measure}')")
    return value


class _Measure(_Written):
    """Records of one measure for one meter, the last ``Count_timestamp`` of its story."""

    measure = ""
    config_class: Type[_Config] = ElConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A class that declares ``measure``: the registry's seed class of it (checked), with
        the config class of its meter family and the registry's one-line doc."""
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("measure")
        if not name:
            return
        entry = measures.MEASURES.get(name)
        if entry is None or entry.seed_class != cls.__name__:
            raise TypeError(f"{cls.__name__}: the registry has no measure {name!r} with that seed class")
        cls.config_class = CONFIG_CLASSES[entry.meter]
        if cls.__doc__ is None:
            cls.__doc__ = entry.doc

    def __init__(self, MeterTable: MeterArgument = None, ElConfig: ConfigArgument = None, Count_timestamp: int = 1,
                 Redefine_tag: Optional[Tags] = None, *, PlsConfig: ConfigArgument = None,
                 DigConfig: ConfigArgument = None, RecordTypeId: RecordType = None,
                 target: Optional[Target] = None) -> None:
        super().__init__()
        target = target or default_target()
        count = _count(Count_timestamp)
        measure = self._measure_name(RecordTypeId, target)
        check_producible([measure])
        tags = check_tags(measure, dict(Redefine_tag or {}), f"{measure} Redefine_tag")
        given = dict(zip(measures.METER_FAMILIES, (ElConfig, PlsConfig, DigConfig)))  # the seed's keywords
        config_value = given[self.config_class.family]
        meter = _meter_from(MeterTable, target, self.config_class.default_type)
        config = _config_from(config_value, meter, target, self.config_class)
        config_table = CONFIG_MEASURE_TABLE[self.config_class.measure]
        spec = MeterSpec(meter["MeterId"], meter["typeName"], kind_of(meter["typeName"]),
                         {c: meter.get(c) for c in METER_TABLE_COLUMNS if c != "DeviceIdx"},
                         {CONFIG_TAGS[config_table][tag]: value for tag, value in config.items()
                          if tag in CONFIG_TAGS[config_table]}, meter["DeviceIdx"])
        options = _options(target)
        tz = options.tz
        now = _now(target)
        today = timegrid.local_datetime(now, tz).date()
        origin = timegrid.add_months(today.replace(day=1), -HISTORY_MONTHS)
        history_start = timegrid.local_midnight(origin, tz)
        window_start, journal_last = last_records(measure, count, now, tz, spec.period_minutes,
                                                  SEED_MOMENT_STEP, history_start,
                                                  PollClock(target.context.seed, spec.ordinal, SEED_MOMENT_STEP * 60))
        recorded: List[Dict[str, Any]] = []
        overrides = Overrides.coerce([Override(measure, tags)] if tags else None)

        first_id: Dict[str, int] = {}

        def produce(ids: IdAllocator, names: NameIndex) -> Iterator[RowSet]:
            first_id["Id"] = ids.next_header_id
            rows = RowSet()
            emitter = Emitter(rows, ids, names, overrides, tz,
                              lambda _measure, record: recorded.append(record))
            if count:
                emit_meter(emitter, spec, target.context.seed, options, origin, window_start, now, {measure},
                           names, write_registry=False, write_config=False, journal_last=journal_last,
                           moment_step_minutes=SEED_MOMENT_STEP, reuse_story=True)
            yield rows

        with _run(target):
            summary = target.load(produce)
        if summary.first_record_id is not None and recorded:  # ids as the target numbered them
            shift = summary.first_record_id - first_id["Id"]
            for record in recorded:
                record["Id"] += shift
        self._written["MeterTable"] = meter
        self._written[self.config_class.measure] = config
        self._written[measure] = recorded
        self.Count_timestamp = count

    def _measure_name(self, record_type: Any, target: Target) -> str:
        return self.measure


# The seed class of every registry entry whose seed class is its own name, declared here (not
# made at import) so that type checkers and IDEs see them; each takes its config class and
# docstring from the registry (``_Measure.__init_subclass__``), and tests/test_seed_classes.py
# checks that this list is the registry's.
class ElMomentEnergy(_Measure):
    measure = "ElMomentEnergy"


class ElDayEnergy(_Measure):
    measure = "ElDayEnergy"


class ElMonthEnergy(_Measure):
    measure = "ElMonthEnergy"


class ElDayConsEnergy(_Measure):
    measure = "ElDayConsEnergy"


class ElMonthConsEnergy(_Measure):
    measure = "ElMonthConsEnergy"


class ElMomentQuality(_Measure):
    measure = "ElMomentQuality"


class ElArr1ConsPower(_Measure):
    measure = "ElArr1ConsPower"


class PlsMomentPulse(_Measure):
    measure = "PlsMomentPulse"


class PlsDayPulse(_Measure):
    measure = "PlsDayPulse"


class PlsMonthPulse(_Measure):
    measure = "PlsMonthPulse"


class PlsHourPulse(_Measure):
    measure = "PlsHourPulse"


class DigMomentState(_Measure):
    measure = "DigMomentState"


class DigJournalState(_Measure):
    measure = "DigJournalState"


# measure -> its seed class, in registry order
MEASURE_CLASSES: Dict[str, Type[_Measure]] = {
    entry.name: cls for entry in measures.REGISTRY for cls in _Measure.__subclasses__() if cls.measure == entry.name}


class Journal(_Measure):
    """Records of one journal: ``RecordTypeId`` is a JournalName (or its name or id)."""

    def __init__(self, RecordTypeId: RecordType = None, Redefine_tag: Optional[Tags] = None,
                 Count_timestamp: int = 1, MeterTable: MeterArgument = None, ElConfig: ConfigArgument = None,
                 *, PlsConfig: ConfigArgument = None, DigConfig: ConfigArgument = None,
                 target: Optional[Target] = None) -> None:
        if RecordTypeId is None:
            raise InputError("Journal needs RecordTypeId=JournalName.<journal>")
        name = str(getattr(RecordTypeId, "value", RecordTypeId))
        meter = measures.MEASURES[name].meter if name in measures.MEASURES else measures.ELECTRIC
        configs = {"PlsConfig": PlsConfig, "DigConfig": DigConfig}
        if meter != measures.ELECTRIC:  # a pulse journal: the config given is that meter's
            self.config_class = CONFIG_CLASSES[meter]
            if configs[self.config_class.measure] is None:
                configs[self.config_class.measure] = ElConfig
            ElConfig = None
        super().__init__(MeterTable=MeterTable, ElConfig=ElConfig, Count_timestamp=Count_timestamp,
                         Redefine_tag=Redefine_tag, RecordTypeId=RecordTypeId, target=target, **configs)

    def _measure_name(self, record_type: Any, target: Target) -> str:
        value = getattr(record_type, "value", record_type)
        if isinstance(value, int) and not isinstance(value, bool):
            rows = target.fetch("SELECT Name FROM ArchTypes WHERE Id = ?", (value,))
            if not rows:
                raise InputError(f"RecordTypeId {value} is not in the target's ArchTypes")
            value = rows[0][0]
        if not isinstance(value, str):
            raise InputError(f"RecordTypeId must be a JournalName, got {record_type!r}")
        return check_journal_name(value)


# Every seed-API name: the registry's seed classes (in registry order) between MeterTable and
# JournalName/configure -- the plugin's factories and the package's __all__ read this list.
SEED_RECORD_CLASSES = ["MeterTable", *measures.SEED_MEASURE_CLASSES]   # classes that write rows
SEED_CLASSES = [*SEED_RECORD_CLASSES, "JournalName", "configure"]
# Written out for type checkers (``from GenerateMeterData.seedapi import *``); tests/test_seed_classes.py
# checks it is SEED_CLASSES.
__all__ = [
    "MeterTable", "ElConfig", "PlsConfig", "DigConfig", "ElMomentEnergy", "ElDayEnergy",
    "ElMonthEnergy", "ElDayConsEnergy", "ElMonthConsEnergy", "ElMomentQuality", "ElArr1ConsPower",
    "PlsMomentPulse", "PlsDayPulse", "PlsMonthPulse", "PlsHourPulse", "DigMomentState",
    "DigJournalState", "Journal", "JournalName", "configure",
]
