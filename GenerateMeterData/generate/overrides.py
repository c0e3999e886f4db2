"""Overrides: a tester's values that land verbatim, and the derived values that follow them.

A value derived from an overridden one is re-derived (override ``A+1`` and ``A+0`` becomes the
new sum) unless it is overridden too.  ``None`` writes NULL.  Unknown tags and values of the
wrong type are refused with one line that names the valid choices."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from ..errors import OverrideError
from ..schema.layout import (CONFIG_MEASURE_TABLE, CONFIG_TAGS, ENERGY_QUANTITIES, FAMILIES,
                             HEADER_TAGS, MEASURE_TABLE, METER_TABLE_COLUMNS, TEXT_COLUMNS, integer_problem)
from ..schema.measures import TABLE_OF

When = Union[None, int, dt.datetime, dt.date, Callable[[int], bool]]

# The settings API's names for MeterTable columns, accepted beside the column names.
METER_TABLE_ALIASES = {"index": "DeviceIdx", "id": "MeterId", "pId": "ParentId", "type": "TypeId",
                       "addr": "Address", "passRd": "ReadPassword", "passWr": "WritePassword",
                       "ifaceCfg": "InterfaceConfig", "rtuObjType": "RTUObjType",
                       "rtuFider": "RTUFeederNum", "rtuObjNum": "RTUObjNum"}
METER_TABLE_NAME_TAGS = ("typeName", "ifaceName")  # resolved by name from the target


def valid_tags(measure: str) -> List[str]:
    """Every tag an override of ``measure`` may name."""
    if measure == "MeterTable":
        return list(METER_TABLE_COLUMNS) + list(METER_TABLE_ALIASES) + list(METER_TABLE_NAME_TAGS)
    if measure in CONFIG_MEASURE_TABLE:
        return list(CONFIG_TAGS[CONFIG_MEASURE_TABLE[measure]])
    if measure not in TABLE_OF:
        raise OverrideError(f"unknown measure {measure!r}; valid measures: MeterTable, "
                            + ", ".join(MEASURE_TABLE))
    return list(HEADER_TAGS) + FAMILIES[TABLE_OF[measure]].tag_names()


def _column_of(measure: str, tag: str) -> str:
    if measure == "MeterTable":
        return METER_TABLE_ALIASES.get(tag, tag)
    if measure in CONFIG_MEASURE_TABLE:
        return CONFIG_TAGS[CONFIG_MEASURE_TABLE[measure]][tag]
    if tag in HEADER_TAGS:
        return tag
    family = FAMILIES[TABLE_OF[measure]]
    return family.value_columns[family.tags[tag][1]]


def check_tags(measure: str, tags: Mapping[str, object], where: str = "") -> Dict[str, object]:
    """Validate override tags of one measure; returns them as a plain dict."""
    if not isinstance(tags, Mapping):
        raise OverrideError(f"{where or measure}: overrides must be a dict of tag -> value, "
                            f"not {type(tags).__name__}")
    allowed = valid_tags(measure)
    allowed_set = set(allowed)
    for tag, value in tags.items():
        if tag not in allowed_set:
            raise OverrideError(f"{where or measure}: unknown tag {tag!r}; valid tags: {', '.join(allowed)}")
        if value is None:
            continue
        column = _column_of(measure, tag) if tag not in METER_TABLE_NAME_TAGS else "Name"
        wants_text = column in TEXT_COLUMNS or column == "Name"
        if wants_text and not isinstance(value, str):
            raise OverrideError(f"{where or measure}: tag {tag!r} takes text or None, "
                                f"got {type(value).__name__} {value!r}")
        if not wants_text and (isinstance(value, str) or not isinstance(value, (int, float))):
            raise OverrideError(f"{where or measure}: tag {tag!r} takes a number or None, "
                                f"got {type(value).__name__} {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise OverrideError(f"{where or measure}: tag {tag!r} must be a finite number, got {value!r}")
        problem = integer_problem(column, value)
        if problem:
            raise OverrideError(f"{where or measure}: tag {tag!r} {problem}")
    return dict(tags)


@dataclass
class Override:
    """Tag values for records of one measure, optionally only at some timestamps.

    ``at`` is an epoch timestamp, a datetime, a date (any record stamped that local day), or a
    predicate on the record's timestamp; None means every record of the measure."""

    measure: str
    tags: Dict[str, object]
    at: When = None
    meters: Optional[Sequence[int]] = None  # MeterIds; None = every meter

    def __post_init__(self) -> None:
        self.tags = check_tags(self.measure, self.tags)

    def matches(self, timestamp: int, meter_id: Optional[int], tz: dt.tzinfo) -> bool:
        """Does this override apply to a record of this meter at this time?"""
        if self.meters is not None and meter_id not in self.meters:
            return False
        at = self.at
        if at is None:
            return True
        if callable(at):
            return bool(at(timestamp))
        if isinstance(at, dt.datetime):
            return int(at.timestamp()) == timestamp
        if isinstance(at, dt.date):
            return dt.datetime.fromtimestamp(timestamp, tz).date() == at
        return int(at) == timestamp


@dataclass
class Overrides:
    """All overrides of a generation run, grouped by measure."""

    by_measure: Dict[str, List[Override]] = field(default_factory=dict)

    @classmethod
    def coerce(cls, value: Union[None, "Overrides", Mapping, Iterable[Override]]) -> "Overrides":
        """Overrides from None, a dict {measure: tags}, or a list of Override."""
        if value is None:
            return cls()
        if isinstance(value, Overrides):
            return value
        items: List[Override] = []
        if isinstance(value, Mapping):
            for measure, tags in value.items():
                items.append(tags if isinstance(tags, Override) else Override(measure, tags))
        else:
            items = list(value)
        grouped: Dict[str, List[Override]] = {}
        for item in items:
            if not isinstance(item, Override):
                raise OverrideError(f"overrides: expected Override or dict, got {type(item).__name__}")
            grouped.setdefault(item.measure, []).append(item)
        return cls(grouped)

    def get(self, measure: str) -> List[Override]:
        """The overrides of one measure."""
        return self.by_measure.get(measure, [])

    def tags_for(self, measure: str, timestamp: int, meter_id: Optional[int],
                 tz: dt.tzinfo) -> Dict[str, object]:
        """The merged tags that apply to one record."""
        merged: Dict[str, object] = {}
        for item in self.by_measure.get(measure, ()):
            if item.matches(timestamp, meter_id, tz):
                merged.update(item.tags)
        return merged


def _sum(values: Sequence[object]) -> Optional[float]:
    if any(v is None for v in values):
        return None
    return round(sum(values), 3)  # type: ignore[arg-type]


def derive(table: str, tags: Dict[str, object], overridden: Iterable[str]) -> None:
    """Re-derive, in place, the values that follow the overridden tags of one record."""
    fixed = set(overridden)
    if table == "ElectricEnergyValues":
        for quantity, _ in ENERGY_QUANTITIES:
            parts = [f"{quantity}{t}" for t in (1, 2, 3, 4)]
            total = f"{quantity}0"
            if total not in fixed and fixed.intersection(parts) and all(p in tags for p in parts):
                if tags[parts[0]] is not None or any(tags[p] is not None for p in parts):
                    tags[total] = _sum([tags[p] for p in parts])
    elif table == "ElectricQualityValues":
        changed = set(fixed)
        for phase in ("A", "B", "C"):
            p, q, s, kp, u, i = (f"P{phase}", f"Q{phase}", f"S{phase}", f"kP{phase}",
                                 f"U{phase}", f"I{phase}")
            if changed & {p, q} and s not in fixed:
                tags[s] = _hypot(tags.get(p), tags.get(q))
                changed.add(s)
            if changed & {p, s} and kp not in fixed:
                tags[kp] = _ratio(tags.get(p), tags.get(s), 4)
            if changed & {s, u} and i not in fixed:
                tags[i] = _ratio(tags.get(s), tags.get(u), 3)
        for total, phases in (("PS", ("PA", "PB", "PC")), ("QS", ("QA", "QB", "QC"))):
            if changed.intersection(phases) and total not in fixed:
                present = [tags.get(part) for part in phases if tags.get(part) is not None]
                tags[total] = round(sum(present), 3) if present else None  # type: ignore[arg-type]
                changed.add(total)
        if changed & {"PS", "QS"} and "SS" not in fixed:
            tags["SS"] = _hypot(tags.get("PS"), tags.get("QS"))
            changed.add("SS")
        if changed & {"PS", "SS"} and "kPS" not in fixed:
            tags["kPS"] = _ratio(tags.get("PS"), tags.get("SS"), 4)


def _hypot(a: object, b: object) -> Optional[float]:
    if a is None or b is None:
        return None
    return round(math.hypot(a, b), 3)  # type: ignore[arg-type]


def _ratio(a: object, b: object, digits: int) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)  # type: ignore[operator]
