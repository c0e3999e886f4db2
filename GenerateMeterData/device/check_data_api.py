"""The check of a load against the device's JSON data API.

Every value of the load is asked for by measure, meter (DeviceIdx) and time and compared as the
device's testers compare the data API with meter.db (device-contract.md §2; smart40_tests
Template_checkup_from_Meter_db_data_API.py, lines 86-175): values pass 1:1, ``ts`` exactly,
floats within ``EPSILON`` (5.96e-8), the flags as JSON true/false, null as null.  A value whose
record or tag is not served is a Mismatch with ``served`` None.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple, Union

from . import data_api
from .checking import Mismatch, Value

#: The testers' float tolerance, an absolute difference as they apply it (a relative one is
#: commented out beside it).  Values pass 1:1 as doubles, so even a Wh register of 1e8 travels
#: exactly; a relative 6e-8 there would let a change of several Wh pass unseen.
EPSILON = 5.96e-08
#: Records asked for in one request at most (meters of one measure are grouped up to this).
RECORDS_PER_REQUEST = 20000


def same(expected: object, served: object, boolean: bool = False) -> bool:
    """Whether the data API served ``expected`` (a meter.db cell) as ``served`` (a JSON value)."""
    if expected is None or served is None:
        return expected is None and served is None
    if boolean:
        return isinstance(served, bool) and expected in (0, 1) and bool(expected) == served
    if isinstance(served, bool) or isinstance(expected, bool):
        return type(served) is type(expected) and served == expected
    if isinstance(expected, (int, float)) and isinstance(served, (int, float)):
        if isinstance(expected, float) or isinstance(served, float):
            if math.isnan(expected) or math.isnan(served):
                return math.isnan(expected) and math.isnan(served)
            return abs(served - expected) <= EPSILON
        return served == expected
    return type(served) is type(expected) and served == expected


class DataApiInterface:
    """The device's JSON data API as a check interface (``name`` "data-api")."""

    name = "data-api"

    def __init__(self, target, program: Union[None, str, Sequence[str]] = None, *,
                 timeout: float = data_api.DEFAULT_TIMEOUT, max_answer: int = data_api.DEFAULT_MAX_ANSWER,
                 records_per_request: int = RECORDS_PER_REQUEST,
                 client: Optional[data_api.DataApiClient] = None) -> None:
        self.client = client or data_api.DataApiClient.for_target(target, program, timeout=timeout,
                                                                  max_answer=max_answer)
        self.records_per_request = max(1, records_per_request)

    @property
    def requests(self) -> int:
        """Requests sent so far."""
        return self.client.requests

    def close(self) -> None:
        self.client.close()

    def compare(self, expected: Sequence[Value]) -> Tuple[int, List[Mismatch]]:
        """(values compared, mismatches) for the values the data API serves; the others (a
        ``Channels`` count, a header's ``Valid`` ...) are left to other interfaces."""
        # measure -> DeviceIdx -> [(value, api tag)]
        wanted: Dict[str, Dict[int, List[Tuple[Value, str]]]] = defaultdict(lambda: defaultdict(list))
        names: Dict[Tuple[str, str], Optional[str]] = {}  # (measure, tag) -> API tag, resolved once
        count = 0
        for value in expected:
            key = (value.measure, value.tag)
            if key not in names:
                names[key] = data_api.api_tag(*key)
            tag = names[key]
            if tag is None:
                continue
            wanted[value.measure][value.device_idx].append((value, tag))
            count += 1
        mismatches: List[Mismatch] = []
        for measure, by_device in wanted.items():
            boolean = {tag: cell.boolean for tag, cell in ((t, data_api.cell(measure, t)) for t in
                                                           {tag for pairs in by_device.values() for _, tag in pairs})
                       if cell is not None}
            for devices in self._groups(by_device):
                served = self._ask(measure, devices, by_device)
                for device in devices:
                    for value, tag in by_device[device]:
                        record = served.get((device, value.ts))
                        if record is None or tag not in record:
                            mismatches.append(self._mismatch(value, tag, None))
                        elif not same(value.value, record[tag], boolean[tag]):
                            mismatches.append(self._mismatch(value, tag, record[tag]))
        mismatches.sort(key=lambda m: (m.meter_id, m.measure, m.ts, m.tag))
        return count, mismatches

    def _groups(self, by_device: Dict[int, List[Tuple[Value, str]]]) -> List[List[int]]:
        """Meters in groups of about ``records_per_request`` records."""
        groups: List[List[int]] = []
        size = 0
        for device in sorted(by_device):
            records = len({value.ts for value, _ in by_device[device]})
            if groups and size + records <= self.records_per_request:
                groups[-1].append(device)
                size += records
            else:
                groups.append([device])
                size = records
        return groups

    def _ask(self, measure: str, devices: List[int],
             by_device: Dict[int, List[Tuple[Value, str]]]) -> Dict[Tuple[int, int], Dict[str, object]]:
        """{(DeviceIdx, ts): {tag: value}} of one GET covering ``devices``' values of ``measure``."""
        pairs = [pair for device in devices for pair in by_device[device]]
        stamps = [value.ts for value, _ in pairs]
        tags = sorted({tag for _, tag in pairs})
        answer = self.client.get([measure], devices=devices, tags=tags, time=[(min(stamps), max(stamps))])
        served: Dict[Tuple[int, int], Dict[str, object]] = {}
        for entry in answer:
            if entry.measure != measure or entry.device_idx is None or not entry.vals:
                continue
            for reading in entry.vals:
                served.setdefault((entry.device_idx, reading.ts), reading.tags)
        return served

    def _mismatch(self, value: Value, tag: str, served: object) -> Mismatch:
        return Mismatch(value.meter_id, value.measure, value.ts, self.name, tag, value.value, served)
