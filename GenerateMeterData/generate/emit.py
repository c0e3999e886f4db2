"""The one path every generated record takes into a RowSet: header, overrides, derived values,
Valid gating, child rows."""
from __future__ import annotations

import collections.abc
import datetime as dt
from itertools import repeat
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from ..schema.layout import CHANNEL_COLUMNS, FAMILIES, arranger
from ..schema.measures import TABLE_OF as MEASURE_TABLE  # aliases (ElJrnlRvr) included
from .overrides import Overrides, derive
from ..records.rows import ContinuedRowSet, IdAllocator, NameIndex, RowSet, family_rows, tags_to_values, values_to_tags

Recorder = Callable[[str, Dict[str, object]], None]
Cells = Sequence[object]  # the value cells of one child row
#: a record's values (``family_rows``): its child row's cells, or for a keyed family (energy by
#: tariff, quality by phase) the rows by key, None for a key without a row
RecordValues = Union[Cells, Mapping[int, Optional[Cells]], Mapping[str, Optional[Cells]]]
V = TypeVar("V", bound=Optional[RecordValues])

# The order in which the stories give journal and channel cells; layout.arranger maps it onto
# the tables' insert columns (None: the orders agree).
JOURNAL_ORDER = ("Event", "EventId")
CHANNEL_ORDER = ("Channels",) + CHANNEL_COLUMNS
_JOURNAL = arranger("JournalValues", JOURNAL_ORDER)
_CHANNELS = {table: arranger(table, CHANNEL_ORDER) for table in ("PulseValues", "DigitalValues")}


def journal_values(event: int, event_id: int) -> list:
    """The cells of one JournalValues row."""
    row = [event, event_id]  # JOURNAL_ORDER
    return row if _JOURNAL is None else _JOURNAL(row)


def channel_values(measure: str, channels: int, cells: List[Optional[int]]) -> list:
    """The cells of one PulseValues/DigitalValues row: the channel count, then channel 1, 2, ..."""
    row = [channels] + cells  # CHANNEL_ORDER
    arrange = _CHANNELS[MEASURE_TABLE[measure]]
    return row if arrange is None else arrange(row)


class Emitter:
    """Turns generated values into rows with final ids, applying the run's overrides."""

    def __init__(self, rows: RowSet, ids: IdAllocator, names: NameIndex, overrides: Overrides,
                 tz: dt.tzinfo, recorder: Optional[Recorder] = None) -> None:
        self.rows = rows
        self.ids = ids
        self.names = names
        self.overrides = overrides
        self.tz = tz
        self.recorder = recorder
        self.headers = rows["MeterData"]
        self._type_ids: Dict[str, int] = {}

    def take(self) -> RowSet:
        """The rows emitted so far; later records (the same meter's) go into a fresh
        ``ContinuedRowSet``."""
        rows = self.rows
        self.rows = ContinuedRowSet()
        self.headers = self.rows["MeterData"]
        return rows

    def record_type_id(self, measure: str) -> int:
        """ArchTypes.Id of a measure in the target (cached)."""
        rtid = self._type_ids.get(measure)
        if rtid is None:
            rtid = self._type_ids[measure] = self.names.record_type(measure)
        return rtid

    def record(self, measure: str, device_idx: int, meter_id: Optional[int], timestamp: int,
               valid: int, values: V) -> Optional[V]:
        """Emit one record; returns the values as written (after overrides), or None if the
        record carries no values (Valid = 0)."""
        table = MEASURE_TABLE[measure]
        rtid = self.record_type_id(measure)
        if self.overrides.by_measure.get(measure):
            tags = self.overrides.tags_for(measure, timestamp, meter_id, self.tz)
            if tags:
                return self._record_overridden(measure, table, rtid, device_idx, timestamp,
                                               valid, values, tags)
        record_id = self.ids.next_header_id
        self.ids.next_header_id = record_id + 1
        self.headers.append((record_id, device_idx, rtid, timestamp, valid))
        if valid and values is not None:
            self.rows[table].extend(family_rows(table, record_id, values))
        if self.recorder is not None:
            self._record_tags(measure, table, record_id, device_idx, rtid, timestamp, valid, values)
        return values if valid else None

    def records(self, measure: str, device_idx: int, meter_id: Optional[int],
                items: Iterable[Tuple[int, int, Optional[RecordValues]]]) -> None:
        """Emit many records of one measure: ``items`` yields (timestamp, valid, values).

        Without overrides or a recorder this is the hot path of a load: rows are appended
        directly, with no per-record tag dicts."""
        if self.recorder is not None or self.overrides.by_measure.get(measure):
            for timestamp, valid, values in items:
                self.record(measure, device_idx, meter_id, timestamp, valid, values)
            return
        table = MEASURE_TABLE[measure]
        rtid = self.record_type_id(measure)
        header_append = self.headers.append
        child_append = self.rows[table].append
        record_id = self.ids.next_header_id
        if FAMILIES[table].key_column is None:
            for timestamp, valid, values in items:
                header_append((record_id, device_idx, rtid, timestamp, valid))
                if valid and values is not None:   # as in ``record``: no values, no child row
                    child_append((record_id, *values))
                record_id += 1
        else:
            for timestamp, valid, values in items:
                header_append((record_id, device_idx, rtid, timestamp, valid))
                if valid and values is not None:
                    if type(values) is not dict and not isinstance(values, collections.abc.Mapping):
                        raise TypeError(f"{measure}: a record of {table} takes its rows by "
                                        f"{FAMILIES[table].key_column}, got {type(values).__name__}")
                    for key, row in values.items():
                        if row is not None:
                            child_append((record_id, key, *row))
                record_id += 1
        self.ids.next_header_id = record_id

    def columns(self, measure: str, device_idx: int, meter_id: Optional[int], stamps: Sequence[int],
                cells: Sequence[Iterable[object]]) -> None:
        """Emit one valid record of a one-row measure (profile, pulse, digital, journal) per
        stamp: ``cells`` holds the child rows' columns (the table's value columns in order, each
        as long as ``stamps`` or endless, e.g. ``itertools.repeat``).  The same rows as
        ``records`` of (stamp, 1, row) -- which it is when overrides or a recorder are in play
        -- made a column at a time: the hot path of a long profile."""
        table = MEASURE_TABLE[measure]
        if FAMILIES[table].key_column is not None or len(cells) != len(FAMILIES[table].value_columns):
            raise TypeError(f"{measure}: {table} is not written by columns of {len(cells)} value cells")
        if self.recorder is not None or self.overrides.by_measure.get(measure):
            self.records(measure, device_idx, meter_id, zip(stamps, repeat(1), zip(*cells)))
            return
        rtid = self.record_type_id(measure)
        first = self.ids.next_header_id
        ids = range(first, first + len(stamps))
        self.headers.extend(zip(ids, repeat(device_idx), repeat(rtid), stamps, repeat(1)))
        self.rows[table].extend(zip(ids, *cells))
        self.ids.next_header_id = first + len(stamps)

    def _record_overridden(self, measure, table, rtid, device_idx, timestamp, valid, values, tags):
        header = {"DeviceIdx": device_idx, "Timestamp": timestamp, "RecordTypeId": rtid, "Valid": valid}
        for key in header:
            if key in tags:
                header[key] = tags[key]
        value_tags = values_to_tags(table, values) if values is not None else {}
        overridden = [tag for tag in tags if tag not in header]
        for tag in overridden:
            value_tags[tag] = tags[tag]
        derive(table, value_tags, overridden)
        present = tuple(values) if isinstance(values, dict) else ()
        new_values = tags_to_values(table, value_tags, present)
        record_id = self.ids.next_header_id
        self.ids.next_header_id = record_id + 1
        self.headers.append((record_id, header["DeviceIdx"], header["RecordTypeId"],
                             header["Timestamp"], header["Valid"]))
        if header["Valid"]:
            self.rows[table].extend(family_rows(table, record_id, new_values))
        if self.recorder is not None:
            self._record_tags(measure, table, record_id, header["DeviceIdx"], header["RecordTypeId"],
                              header["Timestamp"], header["Valid"], new_values)
        return new_values if header["Valid"] else None

    def _record_tags(self, measure: str, table: str, record_id: int, device_idx: object, rtid: object,
                     timestamp: object, valid: object, values: object) -> None:
        """Tell the recorder the record as written (header cells as the overrides left them)."""
        if self.recorder is None:
            return
        tags: Dict[str, object] = {"Id": record_id, "DeviceIdx": device_idx, "Timestamp": timestamp,
                                   "RecordTypeId": rtid, "Valid": valid}
        if valid and values is not None:
            tags.update(values_to_tags(table, values))
        self.recorder(measure, tags)

