"""Reference rows of meter.db (MeterTypes, MeterIfaces, ArchTypes, ArchInfo) and what is known
about each meter type, as data.

Every id here is only what a *fresh* database made by ``init`` gets.  Code that writes to a
database never uses these ids: it resolves names against the target (see ``targets.base``).
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

from . import measures
from .measures import REGISTRY


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

# The meter type the seed API creates when a script passes no MeterTable, per meter family.
DEFAULT_METER_TYPE: Dict[str, str] = {"electric": "SE303", "pulse": "Pulsar", "digital": "UMTV10"}

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
