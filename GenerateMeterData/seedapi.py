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
import time
from typing import Any, Dict, List, Optional

from .errors import InputError
from .generate.electric import StoryOptions, check_journal_name
from .generate.emit import Emitter
from .generate.meters import FAMILY_CONFIG, MeterSpec, kind_of, make_meter
from .generate.overrides import Override, Overrides, check_tags
from .generate.rows import RowSet
from .generate.scenario import emit_meter
from .generate.windows import last_records
from .model import timegrid
from .model.rng import DEFAULT_SEED, stream
from .schema.layout import CONFIG_TAGS, METER_TABLE_COLUMNS, TABLE_COLUMNS
from .schema.reference import JOURNAL_NAMES
from .targets import default_target, set_default_target, target_for
from .targets.base import Target

JournalName = enum.Enum("JournalName", {name: name for name in JOURNAL_NAMES}, type=str)
JournalName.__doc__ = "Every journal archive type of meter.db (JournalName.ElJrnlPwr ... PlsJrnlTimeCorr)."
JournalName.__str__ = lambda self: self.value  # type: ignore[assignment]

HISTORY_MONTHS = 26  # how far back a seed-API meter's story starts (the 1st of that month)
SEED_MOMENT_STEP = 5  # minutes between moment records, as the seed generated them

_state: Dict[str, Any] = {"seed": DEFAULT_SEED, "timezone": timegrid.DEFAULT_TIMEZONE}


def configure(target: Optional[Target] = None, *, db: Optional[str] = None,
              settings: Optional[str] = None, section: Optional[str] = None,
              seed: Optional[int] = None, timezone: Optional[str] = None) -> Target:
    """Choose where the seed-compatible classes write, and the root seed and time zone."""
    from . import settings as settings_module

    if target is None and (db or settings or section):
        target = target_for(settings_module.resolve(settings, section, db))
    if target is not None:
        set_default_target(target)
    if seed is not None:
        if not isinstance(seed, int):
            raise InputError(f"seed must be an integer, got {seed!r}")
        _state["seed"] = seed
    if timezone is not None:
        timegrid.zone(timezone)
        _state["timezone"] = timezone
    return default_target()


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


def _now() -> int:
    return int(time.time())


def _options() -> StoryOptions:
    return StoryOptions(timezone=_state["timezone"])


def _meter_dict(spec: MeterSpec, names) -> Dict[str, Any]:
    row = dict(zip(METER_TABLE_COLUMNS, spec.meter_table_row(names)))
    row["typeName"] = spec.type_name
    row["ifaceName"] = names.interface_names.get(row["InterfaceId"], spec.table["InterfaceId"])
    return row


class MeterTable(_Written):
    """One row of MeterTable (a new meter); ``redefine_tag`` overrides any column."""

    default_type = "SE303"

    def __init__(self, redefine_tag: Optional[Dict[str, Any]] = None, *, Type: Optional[str] = None,
                 target: Optional[Target] = None, Redefine_tag: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        tags = dict(redefine_tag or Redefine_tag or {})
        check_tags("MeterTable", tags, "MeterTable redefine_tag")
        type_name = tags.pop("typeName", None) or Type or self.default_type
        kind_of(type_name)
        target = target or default_target()
        holder: Dict[str, Any] = {}

        def produce(ids, names):
            meter_id = tags.get("MeterId", tags.get("id"))
            if meter_id is None:
                meter_id = ids.meter_id()
            # a target may number the meter only inside its transaction (a negative provisional
            # id here): the registry's randomness must still differ from meter to meter
            key = meter_id if isinstance(meter_id, int) and meter_id > 0 else _next_provisional()
            spec = make_meter(stream(_state["seed"], "seedapi", key, "registry"), int(meter_id)
                              if isinstance(meter_id, int) else 0, meter_id, type_name,
                              timestamp=_now(), table_overrides=tags)
            spec.device_idx = ids.device_idx()
            rows = RowSet()
            rows["MeterTable"].append(spec.meter_table_row(names))
            holder["row"] = _meter_dict(spec, names)
            yield rows

        summary = target.load(produce)
        if summary.created:  # the ids the target assigned inside its transaction
            holder["row"]["MeterId"] = summary.created[0].meter_id
            holder["row"]["DeviceIdx"] = summary.created[0].device_idx
        self._written["MeterTable"] = holder["row"]


_provisional = {"count": 0}


def _next_provisional() -> str:
    """A key no other meter of any process shares (the pid, the time, a counter)."""
    _provisional["count"] += 1
    return f"{os.getpid()}-{time.time_ns()}-{_provisional['count']}"


def _meter_from(value: Any, target: Target, default_type: str) -> Dict[str, Any]:
    """A MeterTable dict from what a script passed (None = create one)."""
    if value is None:
        cls = type("MeterTable", (MeterTable,), {"default_type": default_type})
        return cls(target=target).get("MeterTable")
    if isinstance(value, list):
        if len(value) != 1:
            raise InputError("MeterTable= takes one meter (the dict from .get('MeterTable'))")
        value = value[0]
    if not isinstance(value, dict) or "DeviceIdx" not in value:
        raise InputError("MeterTable= takes the dict returned by .get('MeterTable')")
    if "typeName" not in value:
        rows = target.fetch("SELECT t.Type FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId "
                            "WHERE m.DeviceIdx = ?", (value["DeviceIdx"],))
        if not rows:
            raise InputError(f"meter DeviceIdx {value['DeviceIdx']} is not in the target's MeterTable")
        value = dict(value, typeName=rows[0][0])
    return value


class _Config(_Written):
    measure = "ElConfig"
    default_type = "SE303"

    def __init__(self, MeterTable: Any = None, Config_tag: Optional[Dict[str, Any]] = None,
                 Redefine_tag: Optional[Dict[str, Any]] = None, *, target: Optional[Target] = None) -> None:
        super().__init__()
        target = target or default_target()
        tags = dict(Config_tag or {})
        tags.update(Redefine_tag or {})
        check_tags(self.measure, tags, f"{self.measure} Config_tag")
        meter = _meter_from(MeterTable, target, self.default_type)
        table = CONFIG_TAGS[FAMILY_CONFIG_TABLE[self.measure]]
        holder: Dict[str, Any] = {}

        def produce(ids, names):
            spec = make_meter(stream(_state["seed"], "seedapi", meter["MeterId"], "registry"),
                              meter["MeterId"], meter["MeterId"], meter["typeName"], timestamp=_now(),
                              config_overrides=tags)
            if spec.config_measure != self.measure:
                raise InputError(f"{self.measure}: meter {meter['MeterId']} is a {meter['typeName']} "
                                 f"({spec.kind.family}); it takes {spec.config_measure}")
            spec.device_idx = meter["DeviceIdx"]
            rows = RowSet()
            row = spec.config_row()
            rows[spec.config_table].append(row)
            columns = dict(zip(TABLE_COLUMNS[spec.config_table], row))
            holder["config"] = {tag: columns[column] for tag, column in table.items()
                                if tag[0].islower() or tag in ("DeviceIdx", "Timestamp")}
            yield rows

        target.load(produce)
        self._written["MeterTable"] = meter
        self._written[self.measure] = holder["config"]


FAMILY_CONFIG_TABLE = {measure: table for measure, table in FAMILY_CONFIG.values()}


class ElConfig(_Config):
    """ElectricConfig row of a meter (created when ``MeterTable`` is not given)."""

    measure, default_type = "ElConfig", "SE303"


class PlsConfig(_Config):
    """PulseConfig row of a pulse concentrator."""

    measure, default_type = "PlsConfig", "Pulsar"


class DigConfig(_Config):
    """DigitalConfig row of a discrete I/O module."""

    measure, default_type = "DigConfig", "UMTV10"


def _config_from(value: Any, meter: Dict[str, Any], target: Target, cls) -> Dict[str, Any]:
    if value is None:
        table = FAMILY_CONFIG_TABLE[cls.measure]
        columns = TABLE_COLUMNS[table]
        rows = target.fetch(f"SELECT {', '.join(columns)} FROM {table} WHERE DeviceIdx = ? "
                            "ORDER BY Timestamp DESC LIMIT 1", (meter["DeviceIdx"],))
        if rows:
            by_column = dict(zip(columns, rows[0]))
            return {tag: by_column[column] for tag, column in CONFIG_TAGS[table].items()}
        return cls(MeterTable=meter, target=target).get(cls.measure)
    if isinstance(value, list):
        value = value[-1]
    if not isinstance(value, dict):
        raise InputError(f"{cls.measure}= takes the dict returned by .get('{cls.measure}')")
    return value


class _Measure(_Written):
    """Records of one measure for one meter, the last ``Count_timestamp`` of its story."""

    measure = ""
    config_class = ElConfig

    def __init__(self, MeterTable: Any = None, ElConfig: Any = None, Count_timestamp: int = 1,
                 Redefine_tag: Optional[Dict[str, Any]] = None, *, PlsConfig: Any = None,
                 DigConfig: Any = None, RecordTypeId: Any = None, target: Optional[Target] = None) -> None:
        super().__init__()
        target = target or default_target()
        count = _count(Count_timestamp)
        measure = self._measure_name(RecordTypeId, target)
        tags = check_tags(measure, dict(Redefine_tag or {}), f"{measure} Redefine_tag")
        config_value = {"ElConfig": ElConfig, "PlsConfig": PlsConfig, "DigConfig": DigConfig}[self.config_class.measure]
        meter = _meter_from(MeterTable, target, self.config_class.default_type)
        config = _config_from(config_value, meter, target, self.config_class)
        config_table = FAMILY_CONFIG_TABLE[self.config_class.measure]
        spec = MeterSpec(meter["MeterId"], meter["typeName"], kind_of(meter["typeName"]),
                         {c: meter.get(c) for c in METER_TABLE_COLUMNS if c != "DeviceIdx"},
                         {CONFIG_TAGS[config_table][tag]: value for tag, value in config.items()
                          if tag in CONFIG_TAGS[config_table]}, meter["DeviceIdx"])
        options = _options()
        tz = options.tz
        now = _now()
        today = timegrid.local_datetime(now, tz).date()
        origin = timegrid.add_months(today.replace(day=1), -HISTORY_MONTHS)
        history_start = timegrid.local_midnight(origin, tz)
        window_start, journal_last = last_records(measure, count, now, tz, spec.period_minutes,
                                                  SEED_MOMENT_STEP, history_start)
        recorded: List[Dict[str, Any]] = []
        overrides = Overrides.coerce([Override(measure, tags)] if tags else None)

        first_id: Dict[str, int] = {}

        def produce(ids, names):
            first_id["Id"] = ids.next_header_id
            rows = RowSet()
            emitter = Emitter(rows, ids, names, overrides, tz,
                              lambda _measure, record: recorded.append(record))
            if count:
                emit_meter(emitter, spec, _state["seed"], options, origin, window_start, now, {measure},
                           names, write_registry=False, write_config=False, journal_last=journal_last,
                           moment_step_minutes=SEED_MOMENT_STEP, reuse_story=True)
            yield rows

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


def _measure_class(name: str, config_class, doc: str):
    return type(name, (_Measure,), {"measure": name, "config_class": config_class, "__doc__": doc})


ElMomentEnergy = _measure_class("ElMomentEnergy", ElConfig, "Moment energy registers (A+/A-/R+/R- per tariff), every 5 minutes.")
ElDayEnergy = _measure_class("ElDayEnergy", ElConfig, "Energy registers at local midnight of each day.")
ElMonthEnergy = _measure_class("ElMonthEnergy", ElConfig, "Energy registers at local midnight of each 1st.")
ElDayConsEnergy = _measure_class("ElDayConsEnergy", ElConfig, "Energy consumed per completed day.")
ElMonthConsEnergy = _measure_class("ElMonthConsEnergy", ElConfig, "Energy consumed per completed month.")
ElMomentQuality = _measure_class("ElMomentQuality", ElConfig, "Voltages, currents, powers, power factor, angles, frequency.")
ElArr1ConsPower = _measure_class("ElArr1ConsPower", ElConfig, "30-minute load profile (average power in W per slot).")
PlsMomentPulse = _measure_class("PlsMomentPulse", PlsConfig, "Pulse counters now, every 5 minutes.")
PlsDayPulse = _measure_class("PlsDayPulse", PlsConfig, "Pulse counters at local midnight.")
PlsMonthPulse = _measure_class("PlsMonthPulse", PlsConfig, "Pulse counters on the 1st of each month.")
PlsHourPulse = _measure_class("PlsHourPulse", PlsConfig, "Pulse counters at the start of each hour.")
DigMomentState = _measure_class("DigMomentState", DigConfig, "Discrete input states, every 5 minutes.")
DigJournalState = _measure_class("DigJournalState", DigConfig, "Discrete input states at each change.")


class Journal(_Measure):
    """Records of one journal: ``RecordTypeId`` is a JournalName (or its name or id)."""

    config_class = ElConfig

    def __init__(self, RecordTypeId: Any = None, Redefine_tag: Optional[Dict[str, Any]] = None,
                 Count_timestamp: int = 1, MeterTable: Any = None, ElConfig: Any = None, **kwargs: Any) -> None:
        if RecordTypeId is None:
            raise InputError("Journal needs RecordTypeId=JournalName.<journal>")
        if str(getattr(RecordTypeId, "value", RecordTypeId)) == "PlsJrnlTimeCorr":
            self.config_class = PlsConfig  # type: ignore[assignment]
            kwargs.setdefault("PlsConfig", ElConfig)
            ElConfig = None
        super().__init__(MeterTable=MeterTable, ElConfig=ElConfig, Count_timestamp=Count_timestamp,
                         Redefine_tag=Redefine_tag, RecordTypeId=RecordTypeId, **kwargs)

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


SEED_CLASSES = ["MeterTable", "ElConfig", "PlsConfig", "DigConfig", "ElMomentEnergy", "ElDayEnergy",
                "ElMonthEnergy", "ElDayConsEnergy", "ElMonthConsEnergy", "ElMomentQuality",
                "ElArr1ConsPower", "PlsMomentPulse", "PlsDayPulse", "PlsMonthPulse", "PlsHourPulse",
                "DigMomentState", "DigJournalState", "Journal", "JournalName", "configure"]
