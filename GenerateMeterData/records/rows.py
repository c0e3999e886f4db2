"""Rows in memory: the ``RowSet`` every generator fills and every target writes, the id
allocator, and the name index that turns ArchTypes/MeterTypes/MeterIfaces names into ids."""
from __future__ import annotations

import sqlite3
import struct
from itertools import starmap
from operator import itemgetter
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, cast, overload

from ..errors import InputError, SchemaError
from ..schema.layout import FAMILIES, METER_ID_MAX, VALUE_TABLES, WRITE_ORDER, meter_ids_exhausted
from ..schema.reference import ARCH_TYPE_ALIASES, ARCH_TYPES, METER_IFACES, METER_TYPES


class RowSet:
    """Rows per table, each a tuple in ``layout.TABLE_COLUMNS`` order.

    ``id_offset``: what the writer adds to every record id (MeterData.Id and the value tables'
    Id) -- 0 but for rows made with ids relative to their meter (``Scenario.meters_apart``),
    to which ``staging.generated_ahead`` gives the offset where their meter lands."""

    __slots__ = ("tables", "id_offset")

    def __init__(self) -> None:
        self.tables: Dict[str, List[tuple]] = {table: [] for table in WRITE_ORDER}
        self.id_offset = 0

    def __getitem__(self, table: str) -> List[tuple]:
        return self.tables[table]

    def counts(self) -> Dict[str, int]:
        """Rows per non-empty table."""
        return {table: len(rows) for table, rows in self.tables.items() if rows}

    def total(self) -> int:
        """Rows in all tables."""
        return sum(len(rows) for rows in self.tables.values())

    def extend(self, other: "RowSet") -> None:
        """Append another RowSet's rows (numbered alike: the same ``id_offset``)."""
        if other.id_offset != self.id_offset:
            raise ValueError(f"rows with record id offset {other.id_offset} cannot join rows with {self.id_offset}")
        for table, rows in other.tables.items():
            self.tables[table].extend(rows)


    def packed(self, formats: Dict[str, str]) -> "RowSet":
        """The same rows, each record table's (MeterData, the value tables) that ``formats``
        gives a ``struct`` code per column as ``PackedRows`` where they fit it, the rest as they
        are: how the helper process hands a RowSet to the writer (``staging``)."""
        packed = type(self)()
        packed.id_offset = self.id_offset
        for table, rows in self.tables.items():
            code = formats.get(table) if rows and table in PACKED_TABLES else None
            made = PackedRows.pack(rows, code) if code else None
            # read, never appended to, by the writer: PackedRows reads as a list of tuples
            packed.tables[table] = rows if made is None else cast(List[tuple], made)
        return packed


#: The tables of many rows per meter, which a packed RowSet may hold as PackedRows.
PACKED_TABLES = frozenset(("MeterData",) + VALUE_TABLES)


class PackedRows(Sequence[tuple]):
    """Rows of one table packed by ``struct``: the columns that hold a value in the first row,
    ``q`` (an integer) or ``d`` (a float) each, row after row in one ``bytes``; the columns that
    are None in every row (``nulls``: a meter that does not measure A-) are not stored.  Read
    as a sequence of tuples (a ``d`` value reads back as a float).

    How the helper process hands its rows to the writer: pickling bytes costs nothing, and a
    many-row INSERT's parameters are one ``unpack_from`` away (``targets.bulk``), where a list
    of tuples is unpickled and flattened value by value (measured, 10 meters x 365 days: pack
    0.11-0.13 us a row, against pickling the tuples 0.17-0.25; unpickled 0.06-0.08 against
    0.23-0.26; inserted 0.95 against 1.30)."""

    __slots__ = ("width", "nulls", "format", "length", "data")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, width: int, nulls: Tuple[int, ...], format: str, length: int, data: bytes) -> None:
        if len(format) + len(nulls) != width or struct.calcsize("<" + format) * length != len(data):
            raise ValueError(f"{len(data)} bytes are not {length} rows of {format!r} and {len(nulls)} NULLs")
        self.width, self.nulls, self.format, self.length, self.data = width, nulls, format, length, data

    @classmethod
    def pack(cls, rows: Sequence[tuple], codes: str) -> Optional["PackedRows"]:
        """``rows`` packed, ``codes`` giving each column's ``struct`` code (``q`` or ``d``; any
        other: the column cannot be packed); None when they do not fit: a row of another width,
        a column that is None in the first row but not in all, a value a code refuses (a float
        or None where ``q``, None or a non-number where ``d``) or a column without a code."""
        width = len(codes)
        if not rows or set(map(len, rows)) != {width}:
            return None
        first = rows[0]
        nulls = tuple(i for i, value in enumerate(first) if value is None)
        for i in nulls:
            if list(map(itemgetter(i), rows)).count(None) != len(rows):
                return None
        kept = [i for i in range(width) if i not in nulls]
        format = "".join(codes[i] for i in kept)
        if len(kept) < 2 or set(format) - {"q", "d"}:
            return None
        try:
            row = struct.Struct("<" + format)
            source = map(itemgetter(*kept), rows) if nulls else rows
            return cls(width, nulls, format, len(rows), b"".join(starmap(row.pack, source)))
        except (struct.error, TypeError, OverflowError):
            return None

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[tuple]:
        stored = struct.Struct("<" + self.format).iter_unpack(self.data)
        if not self.nulls:
            return stored
        nulls = self.nulls

        def whole(values: tuple) -> tuple:
            row = list(values)
            for i in nulls:
                row.insert(i, None)
            return tuple(row)
        return map(whole, stored)

    @overload
    def __getitem__(self, index: int) -> tuple: ...

    @overload
    def __getitem__(self, index: slice) -> "PackedRows": ...

    def __getitem__(self, index):
        size = struct.calcsize("<" + self.format)
        if isinstance(index, slice):
            start, stop, step = index.indices(self.length)
            if step != 1:
                raise ValueError("PackedRows are sliced with a step of 1")
            stop = max(start, stop)
            return PackedRows(self.width, self.nulls, self.format, stop - start, self.data[start * size:stop * size])
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError("row index out of range")
        return next(iter(PackedRows(self.width, self.nulls, self.format, 1,
                                    self.data[index * size:(index + 1) * size])))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PackedRows, list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"PackedRows({list(self)!r})"

    def __reduce__(self):
        return PackedRows, (self.width, self.nulls, self.format, self.length, self.data)

    def column(self, index: int) -> list:
        """The values of one column, row after row."""
        if index in self.nulls:
            return [None] * self.length
        stored = index - sum(1 for i in self.nulls if i < index)
        return list(map(itemgetter(stored), struct.Struct("<" + self.format).iter_unpack(self.data)))


def column(rows: Sequence[tuple], index: int) -> list:
    """The values of column ``index`` of ``rows`` (tuples or PackedRows), row after row."""
    if isinstance(rows, PackedRows):
        return rows.column(index)
    return list(map(itemgetter(index), rows))


class ContinuedRowSet(RowSet):
    """Rows that continue the meter of the RowSet before (a long meter comes in several): no
    MeterTable or config row.  A consumer that cuts a load into parts of whole meters cuts
    only before a RowSet that is not one of these."""

    __slots__ = ()


class NameIndex:
    """Ids of reference names as a particular database numbers them."""

    def __init__(self, record_types: Dict[str, int], meter_types: Dict[str, int],
                 meter_type_class: Dict[str, Optional[str]], interfaces: Dict[str, int]) -> None:
        self.record_types = dict(record_types)
        for name, aliases in ARCH_TYPE_ALIASES.items():
            for alias in aliases:
                if alias in self.record_types and name not in self.record_types:
                    self.record_types[name] = self.record_types[alias]
        self.meter_types = meter_types
        self.meter_type_class = meter_type_class
        self.interfaces = interfaces
        self.record_type_names = {v: k for k, v in self.record_types.items()}
        for name, aliases in ARCH_TYPE_ALIASES.items():  # and the other way: an alias resolves too
            for alias in aliases:
                if name in self.record_types:
                    self.record_types.setdefault(alias, self.record_types[name])
        self.meter_type_names = {v: k for k, v in meter_types.items()}
        self.interface_names = {v: k for k, v in interfaces.items()}

    def same_numbering(self, other: "NameIndex") -> bool:
        """Whether two databases number every reference name alike."""
        return (self.record_types, self.meter_types, self.meter_type_class, self.interfaces) == \
            (other.record_types, other.meter_types, other.meter_type_class, other.interfaces)

    @classmethod
    def reference(cls) -> "NameIndex":
        """The numbering of a fresh database made by ``init`` (used by ``build``, no I/O)."""
        return cls({name: i for i, (name, _, _) in enumerate(ARCH_TYPES, start=1)},
                   {name: i for i, name, _, _ in METER_TYPES},
                   {name: cls_ for _, name, cls_, _ in METER_TYPES},
                   {name: i for i, name in METER_IFACES})

    @classmethod
    def from_connection(cls, conn: sqlite3.Connection, where: str = "the database") -> "NameIndex":
        """The numbering of an open meter.db (SchemaError when it is not one)."""
        try:
            record_types = dict(conn.execute("SELECT Name, Id FROM ArchTypes"))
            meter_rows = list(conn.execute("SELECT Type, Id, Class FROM MeterTypes"))
            interfaces = dict(conn.execute("SELECT Name, Id FROM MeterIfaces"))
        except sqlite3.DatabaseError as exc:
            raise SchemaError(f"{where} is not a meter.db ({exc}); create one with "
                              "'python -m GenerateMeterData init --db PATH'") from None
        return cls(record_types, {t: i for t, i, _ in meter_rows},
                   {t: c for t, _, c in meter_rows}, interfaces)

    def record_type(self, name: str) -> int:
        """ArchTypes.Id of a name."""
        try:
            return self.record_types[name]
        except KeyError:
            raise SchemaError(f"archive type {name!r} is not in the target's ArchTypes table") from None

    def meter_type(self, name: str) -> int:
        """MeterTypes.Id of a type name."""
        try:
            return self.meter_types[name]
        except KeyError:
            raise SchemaError(f"meter type {name!r} is not in the target's MeterTypes table "
                              f"(it has: {', '.join(sorted(self.meter_types))})") from None

    def interface(self, name: str) -> int:
        """MeterIfaces.Id of an interface name."""
        try:
            return self.interfaces[name]
        except KeyError:
            raise SchemaError(f"interface {name!r} is not in the target's MeterIfaces table "
                              f"(it has: {', '.join(sorted(self.interfaces))})") from None


class IdAllocator:
    """Hands out DeviceIdx, MeterData.Id and MeterId values above those a target already has."""

    def __init__(self, next_device_idx: int = 1, next_header_id: int = 1,
                 next_meter_id: int = 1001, taken_meter_ids: Iterable[int] = ()) -> None:
        self.next_device_idx = next_device_idx
        self.next_header_id = next_header_id
        self.next_meter_id = next_meter_id
        self.taken_meter_ids = set(taken_meter_ids)

    @classmethod
    def from_connection(cls, conn: sqlite3.Connection) -> "IdAllocator":
        """Start above what an open meter.db has."""
        device, meter = conn.execute(
            "SELECT coalesce(max(DeviceIdx), 0), coalesce(max(MeterId), 1000) FROM MeterTable").fetchone()
        header = conn.execute("SELECT coalesce(max(Id), 0) FROM MeterData").fetchone()[0]
        taken = [row[0] for row in conn.execute("SELECT MeterId FROM MeterTable")]
        return cls(device + 1, header + 1, max(meter, 1000) + 1, taken)

    def device_idx(self) -> int:
        """The next DeviceIdx."""
        value = self.next_device_idx
        self.next_device_idx += 1
        return value

    def meter_id(self) -> int:
        """The next free MeterId."""
        while self.next_meter_id in self.taken_meter_ids:
            self.next_meter_id += 1
        value = self.next_meter_id
        if value > METER_ID_MAX:
            raise InputError(meter_ids_exhausted(value - 1))
        self.taken_meter_ids.add(value)
        self.next_meter_id += 1
        return value

    def confine(self, floor: int, span: Optional[int]) -> "IdAllocator":
        """Hand out MeterIds above the highest one already in [floor, floor + span) -- so
        pytest-xdist workers with disjoint ranges never pick the same id."""
        inside = [m for m in self.taken_meter_ids
                  if isinstance(m, int) and m >= floor and (span is None or m < floor + span)]
        self.next_meter_id = max(inside, default=floor - 1) + 1
        return self

    def claim_meter_id(self, meter_id: int) -> None:
        """Mark a MeterId as taken (given by an override)."""
        self.taken_meter_ids.add(meter_id)


class ProvisionalIds(IdAllocator):
    """Ids for rows staged away from their target, mapped by the target inside its transaction:
    new meters get DeviceIdx -1, -2, ... and (unless an override fixes it) MeterId -1, -2, ...;
    records are numbered 1, 2, ...  So ids never depend on a state read before the load."""

    def __init__(self) -> None:
        super().__init__(1, 1, 1)

    def device_idx(self) -> int:
        """The next provisional DeviceIdx (negative)."""
        return -super().device_idx()

    def meter_id(self) -> int:
        """The next provisional MeterId (negative)."""
        value = self.next_meter_id
        self.next_meter_id += 1
        return -value

    def confine(self, floor: int, span: Optional[int]) -> "ProvisionalIds":
        """The MeterId range is applied by the target when it maps the ids."""
        return self


def family_rows(table: str, record_id: int, values) -> List[tuple]:
    """Child rows of one record: ``values`` is a column list for one-row families, or a dict
    row key -> column list (None = no row) for energy (by tariff) and quality (by phase)."""
    family = FAMILIES[table]
    if family.key_column is None:
        return [(record_id, *values)]
    return [(record_id, key, *values[key]) for key in family.keys
            if values.get(key) is not None]


def values_to_tags(table: str, values) -> Dict[str, object]:
    """Family values -> {tag: value}."""
    family = FAMILIES[table]
    tags = {}
    for tag, (key, index) in family.tags.items():
        row = values if key is None else values.get(key)
        tags[tag] = None if row is None else row[index]
    return tags


def tags_to_values(table: str, tags: Dict[str, object], present: Tuple = ()):
    """Inverse of ``values_to_tags``; keyed rows whose cells are all None are dropped unless
    their key is in ``present`` (rows the generator wrote with NULL cells stay)."""
    family = FAMILIES[table]
    width = len(family.value_columns)
    if family.key_column is None:
        row: List[object] = [None] * width
        for tag, (_, index) in family.tags.items():
            row[index] = tags.get(tag)
        return row
    rows: Dict[object, List[object]] = {key: [None] * width for key in family.keys}
    for tag, (key, index) in family.tags.items():
        rows[key][index] = tags.get(tag)
    if family.table == "ElectricQualityValues":  # the sum row has no voltage, current or angle
        for column in ("U", "I", "Angle"):
            rows["Summ"][family.value_columns.index(column)] = None
    return {key: row for key, row in rows.items()
            if key in present or any(value is not None for value in row)}
