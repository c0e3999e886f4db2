"""What one read of a meter gave, as pure data: the wire layer's readers return it, the meter
layer's capture (``imitation.capture.capture_rows``) writes it into meter.db.  Values are keyed
by meter.db tag (``protocols.obis`` maps OBIS codes to them) in base units (Wh, varh, W, V, A)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Set, Tuple

#: Units a meter reports (lower case) -> the factor to the base unit a Reading holds (Wh, varh, W,
#: var, VA, V, A, Hz, degrees).
UNIT_FACTORS = {"wh": 1.0, "kwh": 1e3, "mwh": 1e6, "varh": 1.0, "kvarh": 1e3, "mvarh": 1e6, "w": 1.0,
                "kw": 1e3, "mw": 1e6, "var": 1.0, "kvar": 1e3, "va": 1.0, "kva": 1e3, "v": 1.0, "kv": 1e3,
                "a": 1.0, "ma": 1e-3, "hz": 1.0, "deg": 1.0, "°": 1.0}


@dataclass
class Reading:
    """What one read of a meter gave: identity, registers (Wh), quality (tags) and archives."""

    serial: str
    model: str
    manufacturer: str = ""
    timestamp: int = 0
    energy: Dict[str, float] = field(default_factory=dict)       # tags A+0 ... R-4, Wh/varh
    quality: Dict[str, float] = field(default_factory=dict)      # tags UA ... Freq
    profile: List[Tuple[int, float]] = field(default_factory=list)  # (slot end, average W) of P+
    day_registers: List[Tuple[int, List[float]]] = field(default_factory=list)  # (midnight, [T0..T4] Wh A+)
    month_registers: List[Tuple[int, List[float]]] = field(default_factory=list)  # (month start, [T0..T4] Wh A+)
    #: the other directions of a profile slot (slot end -> {"P-"|"Q+"|"Q-": average W/var}), for
    #: a meter whose profile has them (Mercury 230)
    profile_other: Dict[int, Dict[str, float]] = field(default_factory=dict)
    #: the profile slots (their ends) the meter flagged incomplete (an outage cut them): isPart
    profile_partial: Set[int] = field(default_factory=set)
    #: journal records read, oldest first: (meter.db journal, stamp, Event)
    journals: List[Tuple[str, int, int]] = field(default_factory=list)
