"""Reference rows of meter.db (MeterTypes, MeterIfaces, ArchTypes, ArchInfo) and what is known
about each meter type, as data.

Every id here is only what a *fresh* database made by ``init`` gets.  Code that writes to a
database never uses these ids: it resolves names against the target (see ``targets.base``).
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

from . import measures
from .measures import REGISTRY


# The instantaneous quantities of an ElectricQualityValues row, in the generator's order.
QUALITY_QUANTITIES: Tuple[str, ...] = ("U", "I", "P", "Q", "S", "KP", "Angle", "F")
# A meter with a programmable integration time can hold any period a profile row can carry.
PROGRAMMABLE_PERIODS: Tuple[int, ...] = (1, 2, 3, 5, 10, 15, 20, 30, 60)


class MeterKind(NamedTuple):
    """What the generator needs to know about a MeterTypes.Type (not stored in meter.db): what
    the type's real meters measure and keep, with the evidence for it.

    The generator writes only these (``generate.meters.make_meter`` sets the ElConfig flags from
    them, ``generate.electric`` gates quality values, a default Scenario leaves out a profile or
    journal the type does not keep); config overrides and an explicit ``measures=`` still win."""

    family: str          # "electric", "pulse", "digital" or "hub"
    phases: int          # 3 or 1 for electric meters, 0 otherwise
    tariffs: int         # tariff registers the meter keeps (0 = total only, no tariff unit)
    export: bool         # measures A- (active energy exported): ElConfig.ActiveReverse
    model: str           # a plausible model string for ElConfig.Model
    reactive: bool = False           # measures R+ (reactive import): ElConfig.Reactive
    reactive_export: bool = False    # measures R- (reactive export): ElConfig.ReactiveReverse
    profile_periods: Tuple[int, ...] = ()   # integration periods of its load profile; () = no profile
    quality: Tuple[str, ...] = ()    # instantaneous quantities it reports (QUALITY_QUANTITIES)
    journals: Tuple[str, ...] = ()   # journals it keeps among those a default Scenario writes
    serial_digits: int = 8           # digits of its factory serial number (ElConfig.Serial)
    source: str = ""                 # where the row comes from
    confidence: str = "low"          # "high" (device evidence or type approval), "medium", "low"

    def keeps(self, measure: str) -> bool:
        """Whether the type's meters keep ``measure`` at all (a profile, quality readings, a
        journal); every other measure of its family is kept."""
        entry = measures.measure(measure)
        if self.family != measures.ELECTRIC or entry.meter != measures.ELECTRIC:
            return True
        if entry.table == "ElectricPowerValues":
            return bool(self.profile_periods)
        if entry.table == "ElectricQualityValues":
            return bool(self.quality)
        if entry.family == measures.JOURNAL:
            return entry.name in self.journals
        return True

    @property
    def serial_pattern(self) -> str:
        """A regular expression every serial of this type matches (digits only)."""
        return rf"\d{{{self.serial_digits}}}"


# What each kind of meter reports instantaneously.
QUALITY_ALL = QUALITY_QUANTITIES                      # U, I, P, Q, S, kP, angles, F
QUALITY_ACTIVE = ("U", "I", "P", "F")                 # an active-energy meter: no Q, S or kP
QUALITY_BASIC = ("U", "I", "P")                       # U, I, P only (Mercury 200's auxiliary read)


def _journals(phases: int) -> Tuple[str, ...]:
    # Every type here has a clock and an on/off journal; three-phase meters journal each phase.
    # No datasheet retrieved names the journals per type: confidence low for all.
    per_phase = ("ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC") if phases == 3 else ()
    return ("ElJrnlPwr",) + per_phase + ("ElJrnlTimeCorr",)


def _electric(phases: int, tariffs: int, model: str, *, active_export: bool, reactive: bool,
              reactive_export: bool, profile: Tuple[int, ...], quality: Tuple[str, ...], serial_digits: int,
              source: str, confidence: str) -> MeterKind:
    return MeterKind("electric", phases, tariffs, active_export, model, reactive, reactive_export, profile,
                     quality, _journals(phases), serial_digits, source, confidence)


# Sources (URLs as retrieved; "device evidence" = ../shared/reference/device-contract.md, which
# cites TR1GUN's repositories).  Serial lengths: Mercury meters read their serial as 4 bytes of
# two decimal digits (8 digits); the Frunze plant (SET-4TM, PSCh-4TM, SEB-2A) numbers 10 digits
# (a SET-4TM.03M passport: 0814200459); Energomera 15 (the CE303 the device's daemon polled:
# 009218054000006); MILUR 15 (a real SPODES_MILUR: 211500050411372).
SRC_MERCURY200 = ("type approval 64128-16 'Mercury 200': multi-tariff, active energy only "
                  "(https://pover.ru/spravochnik-sredstv-izmerenij/64128-16-schetchiki-vatt-chasov-aktivnoy-energii-peremennogo-t)")
SRC_MERCURY234 = ("type approval 75755-19 'Mercury 204/234': active and reactive energy, import and export; "
                  "P, Q, S, power factor, F, U, I "
                  "(https://pover.ru/spravochnik-sredstv-izmerenij/75755-19-schyotchiki-elektricheskoy-energii-staticheskie-merkuri)")
SRC_SET4TM = ("type approval 36697-17 'SET-4TM.03M': active and reactive energy in both directions, load profile "
              "with a programmable integration time, network and quality parameters; passport of serial 0814200459 "
              "(https://oei-analitika.ru/kurilka/pasport_mi.php?poverka_id=17223970)")
SRC_PSCH = ("Frunze plant, multifunction meters (PSCh-4TM.05 line): bidirectional active and reactive energy, load "
            "profile with a programmed integration time, network and quality parameters "
            "(http://www.zifnn.com/multifunction-meters/psch-4tm.05d.html); serial as SET-4TM (same plant)")
SRC_CE303 = ("device evidence: the CE303 the device's daemon polled (serial 009218054000006, profile period = the "
             "meter's TAVER); CE301 'active energy', CE303 'active and reactive energy' (manual quoted at "
             "https://gist.github.com/1dbf880ab547f9f9a608cc551b0a932e)")
SRC_CE102 = ("CE102 operation manual: 'single-phase multi-tariff active energy meter' "
             "(https://manuelutilisateur.fr/energomera/measuring-instrument/ce102/user-manual/1devu)")
SRC_MILUR104 = ("type approval 'Milur 104': active energy "
                "(https://fgisarshin.ru/schetchiki-elektricheskoj-energii-staticheskie-milur-104)")
SRC_SPODES_MILUR = ("device evidence: a real SPODES_MILUR's ElConfig (um40_smart_framework Setup.py): "
                    "isAm, isRm, isRp, isTrf = true, serial 211500050411372")
SRC_SOE55 = ("type approval 28267-08 'SOE-55': single-phase static meter of active energy "
             "(https://all-pribors.ru/opisanie/28267-08-soe-55-27190)")
SRC_A1140 = ("Elster A1120/40 users manual: programmable polyphase meter, load profiling option "
             "(https://manualslib.com/manual/1440182/Elster-A1140.html)")
SRC_NONE = "no datasheet retrieved: inferred from the type and model name"

# (Id, Type, Class, kind) -- ids from the reconstructed reference (schema reference §4.2).
METER_TYPES: List[Tuple[int, str, Optional[str], MeterKind]] = [
    (1, "Mercury200", None, _electric(
        1, 4, "Mercury 200.02", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_MERCURY200, confidence="high")),
    (2, "SEB2a", None, _electric(
        1, 2, "SEB-2A.07", active_export=False, reactive=False, reactive_export=False, profile=(30,),
        quality=QUALITY_ACTIVE, serial_digits=10, source=SRC_NONE + " (a household active-energy meter, two "
        "tariffs; Frunze plant numbering)", confidence="low")),
    (3, "Mercury23x", None, _electric(
        3, 4, "Mercury 234 ARTM-01", active_export=True, reactive=True, reactive_export=True,
        profile=PROGRAMMABLE_PERIODS, quality=QUALITY_ALL, serial_digits=8, source=SRC_MERCURY234,
        confidence="high")),
    (4, "SETxTM", None, _electric(
        3, 4, "SET-4TM.03M", active_export=True, reactive=True, reactive_export=True,
        profile=PROGRAMMABLE_PERIODS, quality=QUALITY_ALL, serial_digits=10, source=SRC_SET4TM,
        confidence="high")),
    (5, "SE303", None, _electric(
        3, 4, "CE303 S31 543-JAVZ", active_export=True, reactive=True, reactive_export=True,
        profile=PROGRAMMABLE_PERIODS, quality=QUALITY_ALL, serial_digits=15, source=SRC_CE303,
        confidence="medium")),
    (6, "SE301", None, _electric(
        3, 4, "CE301 R33 145-JAZ", active_export=False, reactive=False, reactive_export=False, profile=(30,),
        quality=QUALITY_ACTIVE, serial_digits=15, source=SRC_CE303, confidence="medium")),
    (8, "SE102", None, _electric(
        1, 4, "CE102 S7 145-JV", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=15, source=SRC_CE102, confidence="medium")),
    (9, "UMTV10", None, MeterKind("digital", 0, 0, False, "UMTV-10", serial_digits=8,
                                  source=SRC_NONE + " (a telesignalling / telecontrol module)")),
    (10, "PSCHxTM", None, _electric(
        3, 4, "PSCH-4TM.05MK", active_export=True, reactive=True, reactive_export=True,
        profile=PROGRAMMABLE_PERIODS, quality=QUALITY_ALL, serial_digits=10, source=SRC_PSCH,
        confidence="medium")),
    (11, "SE102M", None, _electric(
        1, 4, "CE102M S7 145-JV", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=15, source=SRC_CE102 + "; CE102M as CE102", confidence="medium")),
    (22, "SOE55_217", None, _electric(
        1, 2, "SOE-55/217", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_SOE55 + "; tariffs from the variant number, "
        "serial length unknown", confidence="low")),
    (23, "STE561", None, _electric(
        3, 4, "STE-561", active_export=False, reactive=False, reactive_export=False, profile=(30,),
        quality=QUALITY_ACTIVE, serial_digits=8, source=SRC_NONE + " (the three-phase sibling of SOE-55)",
        confidence="low")),
    (24, "SOE55_215", None, _electric(
        1, 2, "SOE-55/215", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_SOE55 + "; tariffs from the variant number, "
        "serial length unknown", confidence="low")),
    (25, "A1140", None, _electric(
        3, 4, "A1140-05-RAL-SW-4T", active_export=True, reactive=True, reactive_export=True,
        profile=PROGRAMMABLE_PERIODS, quality=QUALITY_ALL, serial_digits=8, source=SRC_A1140,
        confidence="medium")),
    (26, "NEVA1xx", None, _electric(
        1, 0, "NEVA 103 1SO", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_NONE + " (NEVA 103: single-tariff single-phase "
        "active-energy meter)", confidence="low")),
    (27, "NEVA3xx", None, _electric(
        3, 4, "NEVA MT 324 AR E4S", active_export=False, reactive=True, reactive_export=False, profile=(30,),
        quality=QUALITY_ALL, serial_digits=8, source=SRC_NONE + " ('AR' in the model: active and reactive)",
        confidence="low")),
    (28, "MILUR10x", None, _electric(
        1, 4, "MILUR 104.26", active_export=False, reactive=False, reactive_export=False, profile=(30,),
        quality=QUALITY_ACTIVE, serial_digits=15, source=SRC_MILUR104 + "; serial as SPODES_MILUR (same maker)",
        confidence="medium")),
    (29, "MILUR30x", None, _electric(
        3, 4, "MILUR 307.51", active_export=True, reactive=True, reactive_export=True, profile=(30,),
        quality=QUALITY_ALL, serial_digits=15, source=SRC_SPODES_MILUR + " (the SPODES model of the same "
        "meter)", confidence="medium")),
    (30, "SOE55_415", None, _electric(
        1, 4, "SOE-55/415", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_SOE55 + "; tariffs from the variant number, "
        "serial length unknown", confidence="low")),
    (31, "Mercury203", None, _electric(
        1, 4, "Mercury 203.2TD", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_NONE + " (a Mercury 200-line multi-tariff "
        "active-energy meter; Mercury serial numbering)", confidence="low")),
    (32, "Mercury206", None, _electric(
        1, 4, "Mercury 206 RN", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_ACTIVE, serial_digits=8, source=SRC_NONE + " (a Mercury multi-tariff active-energy "
        "meter with network parameters; Mercury serial numbering)", confidence="low")),
    (33, "TOPAZ", None, _electric(
        3, 4, "TOPAZ-01", active_export=True, reactive=True, reactive_export=True, profile=(30,),
        quality=QUALITY_ALL, serial_digits=8, source=SRC_NONE, confidence="low")),
    (34, "CASCAD", None, _electric(
        3, 4, "CASCAD-310", active_export=False, reactive=True, reactive_export=False, profile=(30,),
        quality=QUALITY_ALL, serial_digits=8, source=SRC_NONE, confidence="low")),
    (35, "INTEGRA10x", None, _electric(
        1, 4, "INTEGRA 103", active_export=False, reactive=False, reactive_export=False, profile=(),
        quality=QUALITY_BASIC, serial_digits=8, source=SRC_NONE + " (a single-phase household meter)",
        confidence="low")),
    (36, "SPODES", None, _electric(
        3, 4, "Mercury 234 SPODES", active_export=True, reactive=True, reactive_export=True,
        profile=PROGRAMMABLE_PERIODS, quality=QUALITY_ALL, serial_digits=8, source=SRC_MERCURY234,
        confidence="medium")),
    (42, "SPODES_MILUR", None, _electric(
        3, 4, "MILUR 307S", active_export=True, reactive=True, reactive_export=True, profile=(30,),
        quality=QUALITY_ALL, serial_digits=15, source=SRC_SPODES_MILUR, confidence="high")),
    (93, "Pulsar", None, MeterKind("pulse", 0, 0, False, "Pulsar 16M", serial_digits=8,
                                   source=SRC_NONE + " (a pulse counter addressed by its serial)",
                                   confidence="medium")),
    (94, "MILUR IC", "Hub", MeterKind("hub", 0, 0, False, "MILUR IC", serial_digits=15,
                                      source="device evidence: the hub of hub chains, on Ethernet with ip:port",
                                      confidence="medium")),
    (192, "ST410", None, _electric(
        3, 4, "ST410", active_export=True, reactive=True, reactive_export=True, profile=(30,),
        quality=QUALITY_ALL, serial_digits=8, source=SRC_NONE, confidence="low")),
]

# The meter type the seed API creates when a script passes no MeterTable, per meter family.
DEFAULT_METER_TYPE: Dict[str, str] = {"electric": "SE303", "pulse": "Pulsar", "digital": "UMTV10"}
#: The MeterTypes.Type of a captured meter by the 3-letter manufacturer of its identification (IEC
#: 62056-21 ``/XXX``, the M-Bus manufacturer code): (three-phase type, single-phase type); the
#: single-phase one for a reading with values on phase A only.  GMD is this project's imitator.
MANUFACTURER_TYPES: Dict[str, Tuple[str, str]] = {
    "TPC": ("NEVA3xx", "NEVA1xx"), "EKT": ("SE303", "SE102M"), "GMD": ("NEVA3xx", "NEVA1xx"),
    "INC": ("Mercury23x", "Mercury206"), "ELS": ("A1140", "SE102M"),
    "NZF": ("SETxTM", "SETxTM")}   # NZF: the Frunze plant (SET-4TM, PSCh-4TM; three-phase only)
#: The types of a meter whose manufacturer is not in ``MANUFACTURER_TYPES``.
UNKNOWN_MANUFACTURER_TYPES: Tuple[str, str] = ("SE303", "SE102M")

METER_KINDS: Dict[str, MeterKind] = {name: kind for _, name, _, kind in METER_TYPES}

# Ids of the interfaces are unknown on real devices ([?] in the reference); look them up by name.
METER_IFACES: List[Tuple[int, str]] = [
    (1, "Iface1"), (2, "Iface2"), (3, "Iface3"), (4, "Iface4"), (5, "Ethernet"), (6, "Hub"),
]
SERIAL_IFACES = ("Iface1", "Iface2", "Iface3", "Iface4")

# ArchTypes in registry order (ids 1..59 inferred from the order every public tool lists them).
# (Name, value table, meter family). DataType/MeterType contents on a real device are unknown
# (reference Q7): a fresh database stores the value table and the family there.
ARCH_TYPES: List[Tuple[str, str, str]] = [(m.name, m.table, m.arch_meter_type) for m in REGISTRY]

JOURNAL_NAMES: List[str] = list(measures.JOURNAL_NAMES)

# Other names a device uses for an ArchTypes name (ElJrnlRvr in the web UI); either resolves.
ARCH_TYPE_ALIASES: Dict[str, Tuple[str, ...]] = {m.name: m.aliases for m in REGISTRY if m.aliases}

default_retention = measures.default_retention
