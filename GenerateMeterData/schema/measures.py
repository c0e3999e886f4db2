"""What each measure (an ``ArchTypes.Name``) is, as data: one entry per measure.

In the spirit of dsmr_parser's telegram specifications, the rest of the package reads this table
instead of spelling measure names: the seed-API classes and the pytest plugin's factories, the
ArchTypes/ArchInfo reference rows and their default retention, the windows of "the last N
records", which measures a meter family writes, and the measures verify selects for each rule.
The stories read it too: each says which entries it can produce (``Story.produces``: its
tables and cadences) and stamps a measure by its cadence, so a measure on a table and cadence a
story already knows (an hourly energy register, say) is one entry here -- plus its seed class
in ``seedapi.py`` if it has one; a measure no story produces is refused in one line naming it.

The entries are in ArchTypes order: a fresh database made by ``init`` numbers them 1, 2, ...
This module imports only ``contract`` (which imports nothing), so every other module may import it.
"""
from __future__ import annotations

from typing import Dict, Iterable, NamedTuple, Optional, Tuple

from . import contract

# Cadence: when a record is stamped.
MOMENT = "moment"    # at each poll of the meter (every ``moment_step_minutes``, off the grid: contract)
HOUR = "hour"        # at the start of each local hour
DAY = "day"          # at local midnight
MONTH = "month"      # at local midnight of the 1st
PROFILE = "profile"  # at the end of each profile period (its Period; see contract.PROFILE_ARRAYS)
EVENT = "event"      # when something happens (journals, digital state changes)
CADENCES = (MOMENT, HOUR, DAY, MONTH, PROFILE, EVENT)

# Family: what kind of data a measure is.  ``meter`` says which meter family records it.
ELECTRIC, PULSE, DIGITAL, JOURNAL, CONFIG = "electric", "pulse", "digital", "journal", "config"
METER_FAMILIES = (ELECTRIC, PULSE, DIGITAL)

# Journals: how the Event column of successive records of one journal goes (reference §4.4, Q10).
OFF_ON = "off-on"              # 0 (off), 1 (on), 0, ... starting with the outage
ENTER_LEAVE = "enter-leave"    # 1 (state entered), 0 (state left), 1, ...
ALWAYS_1 = "always-1"
ALWAYS_0 = "always-0"


class Measure(NamedTuple):
    """One ArchTypes name and everything the package knows about it."""

    name: str
    family: str                            # electric / pulse / digital / journal / config
    meter: str                             # the meter family that records it
    table: str                             # value table (the config table for a config measure)
    cadence: Optional[str]                 # one of CADENCES; None for a config row
    cumulative: bool = False               # a running register or counter: never goes down
    consumption_of: Optional[str] = None   # the register this is the per-period difference of
    retention: int = 840                   # ArchInfo.Records factory default (reference §3.5)
    seed_class: Optional[str] = None       # the seed-API class that writes it
    doc: str = ""                          # one line: what a record holds
    by_default: bool = True                # written by a default Scenario of its meter family
    events: Optional[str] = None           # journals: OFF_ON, ENTER_LEAVE, ALWAYS_1 or ALWAYS_0
    aliases: Tuple[str, ...] = ()          # other names a device or its web UI uses

    @property
    def arch_meter_type(self) -> str:
        """What a fresh database stores in ArchTypes.MeterType ("Electric", "Pulse", "Digital")."""
        return self.meter.capitalize()

    @property
    def is_record(self) -> bool:
        """A MeterData record with a value table (every measure but the config rows)."""
        return self.family != CONFIG


def _journal(name: str, events: str = ENTER_LEAVE, *, meter: str = ELECTRIC, by_default: bool = False,
             doc: str = "", aliases: Tuple[str, ...] = ()) -> Measure:
    return Measure(name, JOURNAL, meter, "JournalValues", EVENT, retention=20, seed_class="Journal",
                   doc=doc or _JOURNAL_DOC[events], by_default=by_default, events=events, aliases=aliases)


_JOURNAL_DOC = {OFF_ON: "Journal: Event 0 (off) / 1 (on), starting with an off.",
                ENTER_LEAVE: "Journal: Event 1 (state entered) / 0 (state left).",
                ALWAYS_1: "Journal: Event is always 1.", ALWAYS_0: "Journal: Event is always 0."}

REGISTRY: Tuple[Measure, ...] = (
    Measure("ElConfig", CONFIG, ELECTRIC, "ElectricConfig", None, retention=1, seed_class="ElConfig",
            doc="Electricity meter config: serial, model, profile period, flags, coefficients."),
    Measure("PlsConfig", CONFIG, PULSE, "PulseConfig", None, retention=1, seed_class="PlsConfig",
            doc="Pulse concentrator config: serial, model, channels."),
    Measure("DigConfig", CONFIG, DIGITAL, "DigitalConfig", None, retention=1, seed_class="DigConfig",
            doc="Discrete I/O module config: serial, model, input and output channels."),
    Measure("ElMomentEnergy", ELECTRIC, ELECTRIC, "ElectricEnergyValues", MOMENT, cumulative=True,
            seed_class="ElMomentEnergy", doc="Moment energy registers (A+/A-/R+/R- per tariff), at each poll."),
    Measure("ElDayEnergy", ELECTRIC, ELECTRIC, "ElectricEnergyValues", DAY, cumulative=True, retention=35,
            seed_class="ElDayEnergy", doc="Energy registers at local midnight of each day."),
    Measure("ElMonthEnergy", ELECTRIC, ELECTRIC, "ElectricEnergyValues", MONTH, cumulative=True, retention=12,
            seed_class="ElMonthEnergy", doc="Energy registers at local midnight of each 1st."),
    Measure("ElDayConsEnergy", ELECTRIC, ELECTRIC, "ElectricEnergyValues", DAY, consumption_of="ElDayEnergy",
            retention=35, seed_class="ElDayConsEnergy", doc="Energy consumed per completed day."),
    Measure("ElMonthConsEnergy", ELECTRIC, ELECTRIC, "ElectricEnergyValues", MONTH,
            consumption_of="ElMonthEnergy", retention=12, seed_class="ElMonthConsEnergy",
            doc="Energy consumed per completed month."),
    Measure("ElMomentQuality", ELECTRIC, ELECTRIC, "ElectricQualityValues", MOMENT, seed_class="ElMomentQuality",
            doc="Voltages, currents, powers, power factor, angles, frequency."),
    Measure("ElArr1ConsPower", ELECTRIC, ELECTRIC, "ElectricPowerValues", PROFILE, retention=1680,
            seed_class="ElArr1ConsPower", doc="Load profile (average power in W per slot of its Period, 30 minutes by default)."),
    Measure("PlsMomentPulse", PULSE, PULSE, "PulseValues", MOMENT, cumulative=True, seed_class="PlsMomentPulse",
            doc="Pulse counters now, at each poll."),
    Measure("PlsDayPulse", PULSE, PULSE, "PulseValues", DAY, cumulative=True, retention=35,
            seed_class="PlsDayPulse", doc="Pulse counters at local midnight."),
    Measure("PlsMonthPulse", PULSE, PULSE, "PulseValues", MONTH, cumulative=True, retention=12,
            seed_class="PlsMonthPulse", doc="Pulse counters on the 1st of each month."),
    Measure("PlsHourPulse", PULSE, PULSE, "PulseValues", HOUR, cumulative=True, seed_class="PlsHourPulse",
            doc="Pulse counters at the start of each hour."),
    Measure("DigMomentState", DIGITAL, DIGITAL, "DigitalValues", MOMENT, seed_class="DigMomentState",
            doc="Discrete input states, at each poll."),
    Measure("DigJournalState", DIGITAL, DIGITAL, "DigitalValues", EVENT, seed_class="DigJournalState",
            doc="Discrete input states at each change."),
    _journal("ElJrnlPwr", OFF_ON, by_default=True),
    # contract.TIME_CORRECTION_EVENT: a correction is logged once, Event 0
    _journal("ElJrnlTimeCorr", ALWAYS_0 if contract.TIME_CORRECTION_EVENT == 0 else ALWAYS_1, by_default=True),
    _journal("ElJrnlReset", ALWAYS_0),
    _journal("ElJrnlC1Init"),
    _journal("ElJrnlC2Init"),
    _journal("ElJrnlTrfCorr", ALWAYS_0),
    _journal("ElJrnlOpen", ALWAYS_0),
    _journal("ElJrnlUnAyth", ALWAYS_0),
    _journal("ElJrnlPwrA", OFF_ON, by_default=True),
    _journal("ElJrnlPwrB", OFF_ON, by_default=True),
    _journal("ElJrnlPwrC", OFF_ON, by_default=True),
    _journal("ElJrnlProg"),
    _journal("ElJrnlRelay", OFF_ON),
    *(_journal(name) for name in (
        "ElJrnlLimESumm", "ElJrnlLimETrf", "ElJrnlLimETrf1", "ElJrnlLimETrf2", "ElJrnlLimETrf3",
        "ElJrnlLimETrf4", "ElJrnlLimUAMax", "ElJrnlLimUAMin", "ElJrnlLimUBMax", "ElJrnlLimUBMin",
        "ElJrnlLimUCMax", "ElJrnlLimUCMin", "ElJrnlLimUABMax", "ElJrnlLimUABMin", "ElJrnlLimUBCMax",
        "ElJrnlLimUBCMin", "ElJrnlLimUCAMax", "ElJrnlLimUCAMin", "ElJrnlLimIAMax", "ElJrnlLimIBMax",
        "ElJrnlLimICMax", "ElJrnlLimFreqMax", "ElJrnlLimFreqMin", "ElJrnlLimPwr", "ElJrnlLimPwrPP",
        "ElJrnlLimPwrPM", "ElJrnlLimPwrQP", "ElJrnlLimPwrQM")),
    # The web UI calls it ElJrnlRvr (reference §4.1 note); either name resolves.
    _journal("ElJrnlReverce", aliases=("ElJrnlRvr",)),
    _journal("PlsJrnlTimeCorr", ALWAYS_1, meter=PULSE),
)

MEASURES: Dict[str, Measure] = {m.name: m for m in REGISTRY}
ALIASES: Dict[str, str] = {alias: m.name for m in REGISTRY for alias in m.aliases}


def measure(name: str) -> Measure:
    """The entry of a measure name or alias (KeyError naming it otherwise)."""
    found = MEASURES.get(name) or MEASURES.get(ALIASES.get(name, ""))
    if found is None:
        raise KeyError(f"unknown measure {name!r}")
    return found


def select(*, family: Optional[str] = None, meter: Optional[str] = None, table: Optional[str] = None,
           cadence: Optional[Iterable[str]] = None, cumulative: Optional[bool] = None,
           consumption: Optional[bool] = None, by_default: Optional[bool] = None,
           records: Optional[bool] = None) -> Tuple[str, ...]:
    """Names of the measures matching every criterion given, in ArchTypes order.

    ``cadence`` is one cadence or several; ``consumption=True`` keeps the measures that are the
    difference of a register (``consumption_of`` set); ``records=True`` drops the config rows."""
    cadences = None if cadence is None else ({cadence} if isinstance(cadence, str) else set(cadence))
    return tuple(m.name for m in REGISTRY
                 if (family is None or m.family == family) and (meter is None or m.meter == meter)
                 and (table is None or m.table == table)
                 and (cadences is None or m.cadence in cadences)
                 and (cumulative is None or m.cumulative == cumulative)
                 and (consumption is None or (m.consumption_of is not None) == consumption)
                 and (by_default is None or m.by_default == by_default)
                 and (records is None or m.is_record == records))


def by_cadence(names: Iterable[str]) -> Tuple[str, ...]:
    """``names`` ordered by cadence, the most frequent first (moment, hour, day, month, profile,
    event), keeping the registry order within a cadence."""
    return tuple(sorted(names, key=lambda name: CADENCES.index(measure(name).cadence or EVENT)))


def measures_of_family(family: str) -> Tuple[str, ...]:
    """Names of one family's measures (electric / pulse / digital / journal / config)."""
    return select(family=family)


def recorded_by(meter: str) -> Tuple[str, ...]:
    """Every record measure (journals included, configs not) a meter family writes."""
    return select(meter=meter, records=True)


def consumption_of(name: str) -> Optional[str]:
    """The register a consumption measure is the difference of (ElDayConsEnergy -> ElDayEnergy)."""
    return measure(name).consumption_of


def consumption_measure(register: str) -> Optional[str]:
    """The consumption measure that is the difference of ``register`` (ElDayEnergy -> ElDayConsEnergy)."""
    return next((m.name for m in REGISTRY if m.consumption_of == register), None)


def config_measure(meter: str) -> Optional[str]:
    """The config measure of a meter family (electric -> ElConfig); None for a hub."""
    return next((m.name for m in REGISTRY if m.family == CONFIG and m.meter == meter), None)


def default_retention(name: str) -> int:
    """ArchInfo.Records factory default of an archive type (840 for a name not in the registry)."""
    entry = MEASURES.get(name) or MEASURES.get(ALIASES.get(name, ""))
    return entry.retention if entry else 840


JOURNAL_NAMES: Tuple[str, ...] = measures_of_family(JOURNAL)
CONFIG_MEASURE_TABLE: Dict[str, str] = {m.name: m.table for m in REGISTRY if m.family == CONFIG}
MEASURE_TABLE: Dict[str, str] = {m.name: m.table for m in REGISTRY}
TABLE_OF: Dict[str, str] = {**MEASURE_TABLE, **{alias: MEASURE_TABLE[name] for alias, name in ALIASES.items()}}
# The seed-API classes the registry names, in registry order, each once.
SEED_MEASURE_CLASSES: Tuple[str, ...] = tuple(dict.fromkeys(m.seed_class for m in REGISTRY if m.seed_class))


def journal_event(name: str, index: int) -> int:
    """The Event value of the index-th record of a journal."""
    events = measure(name).events
    if events == OFF_ON:
        return index % 2
    if events == ALWAYS_1:
        return 1
    if events == ALWAYS_0:
        return 0
    return 1 - index % 2
