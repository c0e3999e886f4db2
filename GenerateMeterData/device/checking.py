"""The shared shape of a check: one expected value, one mismatch, one interface."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Protocol, Sequence, Tuple


@dataclass(frozen=True)
class Value:
    """One value a load wrote: a cell of meter.db named by measure, meter, time and tag."""
    device_idx: int
    meter_id: int
    serial: str
    measure: str
    ts: int
    tag: str
    value: object
    period: Optional[int] = None


@dataclass(frozen=True)
class Mismatch:
    """One value the device served differently (``served`` None: not served at all)."""
    meter_id: int
    measure: str
    ts: int
    interface: str
    tag: str
    expected: object
    served: object


class Interface(Protocol):
    """One way of asking the device what it serves."""
    name: str

    def compare(self, expected: Sequence[Value]) -> Tuple[int, List[Mismatch]]:
        """(number of values compared, the mismatches) for the values this interface serves."""
        ...
