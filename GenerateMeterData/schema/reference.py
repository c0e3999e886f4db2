"""Reference rows of meter.db (MeterTypes, MeterIfaces, ArchTypes, ArchInfo) and what is known
about each meter type, as data.

Every id here is only what a *fresh* database made by ``init`` gets.  Code that writes to a
database never uses these ids: it resolves names against the target (see ``targets.base``).
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple


class MeterKind(NamedTuple):
    """What the generator needs to know about a MeterTypes.Type (not stored in meter.db)."""

    family: str          # "electric", "pulse", "digital" or "hub"
    phases: int          # 3 or 1 for electric meters, 0 otherwise
    tariffs: int         # tariff registers the meter keeps (0 = no tariff unit)
    export: bool         # can measure A- (bidirectional)
    model: str           # a plausible model string for ElConfig.Model


# (Id, Type, Class, kind) -- ids from the reconstructed reference (schema reference §4.2).
METER_TYPES: List[Tuple[int, str, Optional[str], MeterKind]] = [
    (1, "Mercury200", None, MeterKind("electric", 1, 4, False, "Mercury 200.02")),
    (2, "SEB2a", None, MeterKind("electric", 1, 2, False, "SEB-2A.07")),
    (3, "Mercury23x", None, MeterKind("electric", 3, 4, True, "Mercury 234 ARTM-01")),
    (4, "SETxTM", None, MeterKind("electric", 3, 4, True, "SET-4TM.03M")),
    (5, "SE303", None, MeterKind("electric", 3, 4, True, "CE303 S31 543-JAVZ")),
    (6, "SE301", None, MeterKind("electric", 3, 4, False, "CE301 R33 145-JAZ")),
    (8, "SE102", None, MeterKind("electric", 1, 4, False, "CE102 S7 145-JV")),
    (9, "UMTV10", None, MeterKind("digital", 0, 0, False, "UMTV-10")),
    (10, "PSCHxTM", None, MeterKind("electric", 3, 4, True, "PSCH-4TM.05MK")),
    (11, "SE102M", None, MeterKind("electric", 1, 4, False, "CE102M S7 145-JV")),
    (22, "SOE55_217", None, MeterKind("electric", 3, 4, False, "SOE-55/217")),
    (23, "STE561", None, MeterKind("electric", 3, 4, False, "STE-561")),
    (24, "SOE55_215", None, MeterKind("electric", 1, 4, False, "SOE-55/215")),
    (25, "A1140", None, MeterKind("electric", 3, 4, True, "A1140-05-RAL-SW-4T")),
    (26, "NEVA1xx", None, MeterKind("electric", 1, 4, False, "NEVA 103 1SO")),
    (27, "NEVA3xx", None, MeterKind("electric", 3, 4, False, "NEVA MT 324 AR E4S")),
    (28, "MILUR10x", None, MeterKind("electric", 1, 4, False, "MILUR 104.26")),
    (29, "MILUR30x", None, MeterKind("electric", 3, 4, True, "MILUR 307.51")),
    (30, "SOE55_415", None, MeterKind("electric", 3, 4, False, "SOE-55/415")),
    (31, "Mercury203", None, MeterKind("electric", 1, 4, False, "Mercury 203.2TD")),
    (32, "Mercury206", None, MeterKind("electric", 1, 4, False, "Mercury 206 RN")),
    (33, "TOPAZ", None, MeterKind("electric", 3, 4, True, "TOPAZ-01")),
    (34, "CASCAD", None, MeterKind("electric", 3, 4, False, "CASCAD-310")),
    (35, "INTEGRA10x", None, MeterKind("electric", 1, 4, False, "INTEGRA 103")),
    (36, "SPODES", None, MeterKind("electric", 3, 4, True, "Mercury 234 SPODES")),
    (42, "SPODES_MILUR", None, MeterKind("electric", 3, 4, True, "MILUR 307S")),
    (93, "Pulsar", None, MeterKind("pulse", 0, 0, False, "Pulsar 16M")),
    (94, "MILUR IC", "Hub", MeterKind("hub", 0, 0, False, "MILUR IC")),
    (192, "ST410", None, MeterKind("electric", 3, 4, True, "ST410")),
]

METER_KINDS: Dict[str, MeterKind] = {name: kind for _, name, _, kind in METER_TYPES}

# Ids of the interfaces are unknown on real devices ([?] in the reference); look them up by name.
METER_IFACES: List[Tuple[int, str]] = [
    (1, "Iface1"), (2, "Iface2"), (3, "Iface3"), (4, "Iface4"), (5, "Ethernet"), (6, "Hub"),
]
SERIAL_IFACES = ("Iface1", "Iface2", "Iface3", "Iface4")

# ArchTypes in the order every public tool lists them (ids 1..59 inferred from that order).
# (Name, value table, meter family). DataType/MeterType contents on a real device are unknown
# (reference Q7): a fresh database stores the value table and the family there.
ARCH_TYPES: List[Tuple[str, str, str]] = [
    ("ElConfig", "ElectricConfig", "Electric"),
    ("PlsConfig", "PulseConfig", "Pulse"),
    ("DigConfig", "DigitalConfig", "Digital"),
    ("ElMomentEnergy", "ElectricEnergyValues", "Electric"),
    ("ElDayEnergy", "ElectricEnergyValues", "Electric"),
    ("ElMonthEnergy", "ElectricEnergyValues", "Electric"),
    ("ElDayConsEnergy", "ElectricEnergyValues", "Electric"),
    ("ElMonthConsEnergy", "ElectricEnergyValues", "Electric"),
    ("ElMomentQuality", "ElectricQualityValues", "Electric"),
    ("ElArr1ConsPower", "ElectricPowerValues", "Electric"),
    ("PlsMomentPulse", "PulseValues", "Pulse"),
    ("PlsDayPulse", "PulseValues", "Pulse"),
    ("PlsMonthPulse", "PulseValues", "Pulse"),
    ("PlsHourPulse", "PulseValues", "Pulse"),
    ("DigMomentState", "DigitalValues", "Digital"),
    ("DigJournalState", "DigitalValues", "Digital"),
] + [(name, "JournalValues", "Electric") for name in (
    "ElJrnlPwr", "ElJrnlTimeCorr", "ElJrnlReset", "ElJrnlC1Init", "ElJrnlC2Init", "ElJrnlTrfCorr",
    "ElJrnlOpen", "ElJrnlUnAyth", "ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC", "ElJrnlProg",
    "ElJrnlRelay", "ElJrnlLimESumm", "ElJrnlLimETrf", "ElJrnlLimETrf1", "ElJrnlLimETrf2",
    "ElJrnlLimETrf3", "ElJrnlLimETrf4", "ElJrnlLimUAMax", "ElJrnlLimUAMin", "ElJrnlLimUBMax",
    "ElJrnlLimUBMin", "ElJrnlLimUCMax", "ElJrnlLimUCMin", "ElJrnlLimUABMax", "ElJrnlLimUABMin",
    "ElJrnlLimUBCMax", "ElJrnlLimUBCMin", "ElJrnlLimUCAMax", "ElJrnlLimUCAMin", "ElJrnlLimIAMax",
    "ElJrnlLimIBMax", "ElJrnlLimICMax", "ElJrnlLimFreqMax", "ElJrnlLimFreqMin", "ElJrnlLimPwr",
    "ElJrnlLimPwrPP", "ElJrnlLimPwrPM", "ElJrnlLimPwrQP", "ElJrnlLimPwrQM", "ElJrnlReverce",
)] + [("PlsJrnlTimeCorr", "JournalValues", "Pulse")]

JOURNAL_NAMES: List[str] = [name for name, table, _ in ARCH_TYPES if table == "JournalValues"]

# The web UI calls ElJrnlReverce "ElJrnlRvr"; either name resolves (reference §4.1 note).
ARCH_TYPE_ALIASES: Dict[str, Tuple[str, ...]] = {"ElJrnlReverce": ("ElJrnlRvr",)}


def default_retention(name: str) -> int:
    """ArchInfo.Records factory default for an archive type (reference §3.5)."""
    if name.endswith("Config"):
        return 1
    if "Jrnl" in name:
        return 20
    if name in ("ElDayEnergy", "ElDayConsEnergy", "PlsDayPulse"):
        return 35
    if name in ("ElMonthEnergy", "ElMonthConsEnergy", "PlsMonthPulse"):
        return 12
    if name == "ElArr1ConsPower":
        return 1680
    return 840
