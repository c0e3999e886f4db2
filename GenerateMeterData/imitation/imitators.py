"""The imitators of ``protocols`` serving a generated meter of the core by default: the wire
engines (``protocols.iec62056.imitator``, ``protocols.mbus.slave``, ``protocols.dlms.imitator``)
take their values through ``protocols.values.MeterValues``; these give them a ``GeneratedMeter``
when none is passed, so an imitated meter reads the very values the generator would write."""
from __future__ import annotations

from typing import Any, Optional

from ..protocols.dlms import imitator as _dlms
from ..protocols.iec62056 import imitator as _iec
from ..protocols.mbus import slave as _mbus
from .meter import GeneratedMeter


class IECImitator(_iec.IECImitator):
    """``protocols.iec62056.imitator.IECImitator`` of a generated meter unless given a meter or a
    register lookup."""

    def __init__(self, lookup: Optional[_iec.Lookup] = None, *, meter: Any = None, **options: Any) -> None:
        if lookup is None and meter is None:
            meter = GeneratedMeter()
        super().__init__(lookup, meter=meter, **options)


class MBusSlave(_mbus.MBusSlave):
    """``protocols.mbus.slave.MBusSlave`` of a generated meter unless given a meter or telegrams."""

    def __init__(self, meter: Any = None, primary_address: int = 1, telegrams: Optional[list] = None,
                 **options: Any) -> None:
        if meter is None and telegrams is None:
            meter = GeneratedMeter()
        super().__init__(meter, primary_address, telegrams, **options)


class DLMSImitator(_dlms.DLMSImitator):
    """``protocols.dlms.imitator.DLMSImitator`` of a generated meter unless given one."""

    def __init__(self, meter: Any = None, **options: Any) -> None:
        super().__init__(GeneratedMeter() if meter is None else meter, **options)


MBusBus = _mbus.MBusBus
