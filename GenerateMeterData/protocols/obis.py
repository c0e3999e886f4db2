"""Electricity quantities by OBIS code and what each one is in meter.db: the one table capture,
the SPODES register list and the imitators (IEC readout and Neva programming mode, SPODES objects,
HAN push lists, M-Bus records) read.

A code here is the value groups C.D.E of IEC 62056-61 (C the quantity, D how it is processed,
E tariff or detail); the A, B and F groups are each protocol's business (a SPODES object is
1.0.C.D.E.255, a readout line C.D.E, a Neva register the same C.D.E in hex).  Parsing and
writing whole codes: ``dlms/obis.py`` (DLMS), ``meters.obis_code`` (IEC and Neva addresses).

* Instantaneous values (D = 7): the meter.db quality tag each one fills (``layout.QUALITY``
  gives its phase row and column), its kind (U, I, P, Q, S, kP, Ang, Freq) and the unit a
  readout prints.
* Energy registers (D = 8, time integral 1): C per direction of ``layout.ENERGY_QUANTITIES``
  (A+, A-, R+, R-), E the tariff (0 the total, 1-4), in Wh or varh as meter.db stores them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Tuple

from ..schema.layout import ENERGY, ENERGY_QUANTITIES, QUALITY, TARIFFS

Code = Tuple[int, int, int]


class Instantaneous(NamedTuple):
    """One instantaneous value: its OBIS C.D.E and the meter.db quality cell it fills."""

    code: Code
    tag: str              # the quality tag (UA ... Freq) of layout.QUALITY
    kind: str             # U, I, P, Q, S, kP, Ang or Freq
    unit: Optional[str]   # as a readout prints it (None: a ratio)
    phase: str            # row key of ElectricQualityValues (A, B, C, Summ)
    column: int           # index into layout.QUALITY.value_columns

    @property
    def address(self) -> str:
        """``C.D.E`` as a readout line writes it."""
        return ".".join(str(part) for part in self.code)

    def value_in(self, rows: Dict[str, Optional[list]]) -> Optional[float]:
        """This quantity's value in a quality record given as rows by phase (``layout.QUALITY``
        order, as a generated meter's ``quality()``); None when it is absent."""
        row = rows.get(self.phase)
        return None if not row else row[self.column]


#: C.D.E -> quality tag, kind, unit.  IEC 62056-61 value group C: 1/21/41/61 active power import
#: (sum, L1, L2, L3), 3/23/43/63 reactive power import, 9/29/49/69 apparent power import,
#: 13/33/53/73 power factor, 31/51/71 current, 32/52/72 voltage, 14 frequency; C 81 angles with
#: E = 10 x + y between quantities x and y (0, 1, 2: U(L1), U(L2), U(L3)).  D = 7: instantaneous.
_INSTANTANEOUS: Tuple[Tuple[Code, str, str, Optional[str]], ...] = (
    ((32, 7, 0), "UA", "U", "V"), ((52, 7, 0), "UB", "U", "V"), ((72, 7, 0), "UC", "U", "V"),
    ((31, 7, 0), "IA", "I", "A"), ((51, 7, 0), "IB", "I", "A"), ((71, 7, 0), "IC", "I", "A"),
    ((21, 7, 0), "PA", "P", "W"), ((41, 7, 0), "PB", "P", "W"), ((61, 7, 0), "PC", "P", "W"),
    ((1, 7, 0), "PS", "P", "W"),
    ((23, 7, 0), "QA", "Q", "var"), ((43, 7, 0), "QB", "Q", "var"), ((63, 7, 0), "QC", "Q", "var"),
    ((3, 7, 0), "QS", "Q", "var"),
    ((29, 7, 0), "SA", "S", "VA"), ((49, 7, 0), "SB", "S", "VA"), ((69, 7, 0), "SC", "S", "VA"),
    ((9, 7, 0), "SS", "S", "VA"),
    ((33, 7, 0), "kPA", "kP", None), ((53, 7, 0), "kPB", "kP", None), ((73, 7, 0), "kPC", "kP", None),
    ((13, 7, 0), "kPS", "kP", None),
    ((81, 7, 10), "AngAB", "Ang", "deg"), ((81, 7, 21), "AngBC", "Ang", "deg"), ((81, 7, 20), "AngAC", "Ang", "deg"),
    ((14, 7, 0), "Freq", "Freq", "Hz"),
)

#: Direction of energy (a tag of layout.ENERGY_QUANTITIES) -> OBIS C and unit.  IEC 62056-61:
#: C 1 active import (+A), 2 active export (-A), 3 reactive import (+R), 4 reactive export (-R).
_DIRECTIONS: Dict[str, Tuple[int, str]] = {"A+": (1, "Wh"), "A-": (2, "Wh"), "R+": (3, "varh"), "R-": (4, "varh")}
#: D of an energy register: time integral 1 (from the start of counting to now).
ENERGY_D = 8



def _instantaneous(code: Code, tag: str, kind: str, unit: Optional[str]) -> Instantaneous:
    phase, column = QUALITY.tags[tag]
    assert isinstance(phase, str)  # ElectricQualityValues' rows are keyed by phase name
    return Instantaneous(code, tag, kind, unit, phase, column)


#: Every instantaneous value, in the order a readout lists them.
INSTANTANEOUS: Tuple[Instantaneous, ...] = tuple(
    _instantaneous(code, tag, kind, unit) for code, tag, kind, unit in _INSTANTANEOUS)
QUALITY_BY_CODE: Dict[Code, Instantaneous] = {q.code: q for q in INSTANTANEOUS}
QUALITY_BY_TAG: Dict[str, Instantaneous] = {q.tag: q for q in INSTANTANEOUS}


def instantaneous(kind: str, phase: str) -> Instantaneous:
    """The instantaneous value of one kind on one phase (``instantaneous("U", "A")``: 32.7.0)."""
    for quantity in INSTANTANEOUS:
        if quantity.kind == kind and quantity.phase == phase:
            return quantity
    raise KeyError(f"no OBIS code of {kind} on phase {phase}")


@dataclass(frozen=True)
class Direction:
    """One direction of energy: its place among a meter's registers and its OBIS C.  (A frozen
    dataclass, not a NamedTuple: the field ``index`` would hide tuple.index.)"""

    index: int     # position in layout.ENERGY_QUANTITIES (and in a meter's register lists)
    tag: str       # A+, A-, R+, R-
    column: str    # its ElectricEnergyValues column (Ap ...)
    c: int         # OBIS value group C
    unit: str      # Wh or varh


class EnergyRegister(NamedTuple):
    """One energy register: OBIS C.8.E and the meter.db energy tag it fills."""

    code: Code
    tag: str             # A+0 ... R-4 of layout.ENERGY
    direction: Direction
    tariff: int          # 0 the total, 1-4

    @property
    def address(self) -> str:
        """``C.D.E`` as a readout line writes it."""
        return ".".join(str(part) for part in self.code)


DIRECTIONS: Tuple[Direction, ...] = tuple(Direction(i, tag, column, *_DIRECTIONS[tag])
                                          for i, (tag, column) in enumerate(ENERGY_QUANTITIES))
DIRECTION: Dict[str, Direction] = {d.tag: d for d in DIRECTIONS}


def energy_code(direction: str, tariff: int) -> Code:
    """C.8.E of a direction (A+ ...) and tariff (0 the total, 1-4)."""
    return (DIRECTION[direction].c, ENERGY_D, tariff)


def _energy_registers() -> List[EnergyRegister]:
    tag_of = {(tariff, ENERGY.value_columns[cell]): tag for tag, (tariff, cell) in ENERGY.tags.items()}
    return [EnergyRegister(energy_code(d.tag, tariff), tag_of[(tariff, d.column)], d, tariff)
            for d in DIRECTIONS for tariff in TARIFFS]


#: Every energy register, direction by direction (A+0 ... A+4, A-0 ...).
ENERGY_REGISTERS: Tuple[EnergyRegister, ...] = tuple(_energy_registers())
ENERGY_BY_CODE: Dict[Code, EnergyRegister] = {r.code: r for r in ENERGY_REGISTERS}
