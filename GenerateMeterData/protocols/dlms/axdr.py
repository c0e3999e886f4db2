"""A-XDR encoding of COSEM data (IEC 62056-6-2 / -5-3): every data type, both ways, with
``Data`` (type tag + value) so a decoded value re-encodes to the same bytes."""
from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .errors import DLMSError

NULL, ARRAY, STRUCTURE, BOOLEAN, BIT_STRING = 0, 1, 2, 3, 4
DOUBLE_LONG, DOUBLE_LONG_UNSIGNED, OCTET_STRING, VISIBLE_STRING = 5, 6, 9, 10
UTF8_STRING, BCD, INTEGER, LONG, UNSIGNED, LONG_UNSIGNED = 12, 13, 15, 16, 17, 18
COMPACT_ARRAY, LONG64, LONG64_UNSIGNED, ENUM, FLOAT32, FLOAT64 = 19, 20, 21, 22, 23, 24
DATE_TIME, DATE, TIME, DONT_CARE = 25, 26, 27, 255

TYPE_NAMES = {NULL: "null_data", ARRAY: "array", STRUCTURE: "structure", BOOLEAN: "boolean",
              BIT_STRING: "bit_string", DOUBLE_LONG: "double_long", DOUBLE_LONG_UNSIGNED: "double_long_unsigned",
              OCTET_STRING: "octet_string", VISIBLE_STRING: "visible_string", UTF8_STRING: "utf8_string",
              BCD: "bcd", INTEGER: "integer", LONG: "long", UNSIGNED: "unsigned", LONG_UNSIGNED: "long_unsigned",
              COMPACT_ARRAY: "compact_array", LONG64: "long64", LONG64_UNSIGNED: "long64_unsigned", ENUM: "enum",
              FLOAT32: "float32", FLOAT64: "float64", DATE_TIME: "date_time", DATE: "date", TIME: "time",
              DONT_CARE: "dont_care"}

# fixed-size types: tag -> struct format (big endian)
_FIXED = {BOOLEAN: ">B", DOUBLE_LONG: ">i", DOUBLE_LONG_UNSIGNED: ">I", INTEGER: ">b", LONG: ">h",
          UNSIGNED: ">B", LONG_UNSIGNED: ">H", LONG64: ">q", LONG64_UNSIGNED: ">Q", ENUM: ">B",
          FLOAT32: ">f", FLOAT64: ">d", BCD: ">B"}
_FIXED_STRUCTS = {tag: struct.Struct(fmt) for tag, fmt in _FIXED.items()}
_FIXED_SIZES = {tag: s.size for tag, s in _FIXED_STRUCTS.items()}
_DATE_SIZES = {DATE_TIME: 12, DATE: 5, TIME: 4}


def _axdr_error(message: str) -> DLMSError:
    return DLMSError(message, "axdr")


# ---- lengths ------------------------------------------------------------------------------
def encode_length(n: int) -> bytes:
    """A-XDR/BER length: one byte below 0x80, else 0x8N and N bytes."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def decode_length(data: bytes, pos: int) -> Tuple[int, int]:
    """(length, position after it)."""
    if pos >= len(data):
        raise _axdr_error("data ends where a length was expected")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(data):
        raise _axdr_error(f"bad length encoding 0x{first:02X} at byte {pos}")
    return int.from_bytes(data[pos + 1:pos + 1 + count], "big"), pos + 1 + count


# ---- date and time ------------------------------------------------------------------------
DEVIATION_UNSPECIFIED = -0x8000


@dataclass(frozen=True)
class CosemDateTime:
    """A COSEM date-time (or date, or time): 0xFF/0xFFFF fields mean "not specified";
    ``deviation`` is minutes local time to UTC as the Blue Book defines it (UTC = local +
    deviation; -180 for Moscow), None when unspecified; ``status`` the clock status byte."""

    year: Optional[int] = None
    month: Optional[int] = None
    day: Optional[int] = None
    weekday: Optional[int] = None
    hour: Optional[int] = None
    minute: Optional[int] = None
    second: Optional[int] = None
    hundredths: Optional[int] = None
    deviation: Optional[int] = None
    status: Optional[int] = None
    kind: int = DATE_TIME

    @classmethod
    def decode(cls, raw: bytes, kind: int = DATE_TIME) -> "CosemDateTime":
        """From the 12 (date-time), 5 (date) or 4 (time) bytes."""
        if len(raw) != _DATE_SIZES[kind]:
            raise _axdr_error(f"{TYPE_NAMES[kind]} needs {_DATE_SIZES[kind]} bytes, got {len(raw)}")

        def field(value: int, unspecified: int = 0xFF) -> Optional[int]:
            return None if value == unspecified else value

        if kind == TIME:
            return cls(hour=field(raw[0]), minute=field(raw[1]), second=field(raw[2]), hundredths=field(raw[3]),
                       kind=TIME)
        year = field((raw[0] << 8) | raw[1], 0xFFFF)
        month, day, weekday = field(raw[2]), field(raw[3]), field(raw[4])
        if kind == DATE:
            return cls(year=year, month=month, day=day, weekday=weekday, kind=DATE)
        deviation = struct.unpack(">h", raw[9:11])[0]
        return cls(year=year, month=month, day=day, weekday=weekday, hour=field(raw[5]), minute=field(raw[6]), second=field(raw[7]),
                   hundredths=field(raw[8]), deviation=None if deviation == DEVIATION_UNSPECIFIED else deviation,
                   status=field(raw[11]))

    def encode(self) -> bytes:
        """The 12, 5 or 4 bytes."""
        def b(value: Optional[int]) -> int:
            return 0xFF if value is None else value

        time_part = bytes((b(self.hour), b(self.minute), b(self.second), b(self.hundredths)))
        if self.kind == TIME:
            return time_part
        year = 0xFFFF if self.year is None else self.year
        date_part = bytes((year >> 8, year & 0xFF, b(self.month), b(self.day), b(self.weekday)))
        if self.kind == DATE:
            return date_part
        deviation = DEVIATION_UNSPECIFIED if self.deviation is None else self.deviation
        return date_part + time_part + struct.pack(">h", deviation) + bytes((b(self.status),))

    @classmethod
    def from_datetime(cls, moment: dt.datetime, status: int = 0, with_deviation: bool = True) -> "CosemDateTime":
        """From an aware (or naive, deviation unspecified) datetime."""
        offset = moment.utcoffset()
        deviation = None if offset is None or not with_deviation else -int(offset.total_seconds() // 60)
        return cls(moment.year, moment.month, moment.day, moment.isoweekday(), moment.hour, moment.minute,
                   moment.second, moment.microsecond // 10000, deviation, status)

    def to_datetime(self) -> Optional[dt.datetime]:
        """A datetime (aware when the deviation is given), None when a field is unspecified."""
        if None in (self.year, self.month, self.day) or self.kind != DATE_TIME:
            return None
        try:
            moment = dt.datetime(self.year, self.month, self.day, self.hour or 0, self.minute or 0,  # type: ignore[arg-type]
                                 self.second or 0, (self.hundredths or 0) * 10000 if (self.hundredths or 0) < 100 else 0)
        except ValueError:
            return None
        if self.deviation is not None:
            if not -24 * 60 < self.deviation < 24 * 60:
                return None   # a deviation no time zone has: not a usable moment
            moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=-self.deviation)))
        return moment

    def isoformat(self) -> str:
        """ISO text when complete, else the fields with ``*`` for unspecified ones."""
        moment = self.to_datetime()
        if moment is not None:
            return moment.replace(microsecond=0).isoformat() if not moment.microsecond else moment.isoformat()

        def f(value: Optional[int], width: int) -> str:
            return "*" * width if value is None else f"{value:0{width}d}"

        date = f"{f(self.year, 4)}-{f(self.month, 2)}-{f(self.day, 2)}"
        clock = f"{f(self.hour, 2)}:{f(self.minute, 2)}:{f(self.second, 2)}"
        return {DATE: date, TIME: clock}.get(self.kind, f"{date}T{clock}")

    def as_dict(self) -> Dict[str, Any]:
        """JSON form."""
        out: Dict[str, Any] = {"text": self.isoformat()}
        if self.kind == DATE_TIME:
            out.update(deviation=self.deviation, status=self.status)
        return out


def parse_datetime_octets(raw: bytes) -> Optional[CosemDateTime]:
    """A date-time sent as a 12-byte octet-string (the usual COSEM practice), else None."""
    if len(raw) != 12:
        return None
    try:
        return CosemDateTime.decode(raw)
    except DLMSError:
        return None


# ---- the typed value ----------------------------------------------------------------------
class Data:
    """One A-XDR value: ``tag`` (data type) and ``value`` (int, float, bool, bytes, str, a bit
    string as "0101", a list of Data, a CosemDateTime, or a CompactArray)."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: int, value: Any = None) -> None:
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Data) and other.tag == self.tag and other.value == self.value

    def __repr__(self) -> str:
        return f"Data({TYPE_NAMES.get(self.tag, self.tag)}, {self.value!r})"

    @property
    def type_name(self) -> str:
        """The data type's name (double_long_unsigned, structure, ...)."""
        return TYPE_NAMES.get(self.tag, str(self.tag))

    def plain(self) -> Any:
        """The value as plain Python/JSON: lists for arrays and structures, hex for octet strings,
        ISO text for dates."""
        tag, value = self.tag, self.value
        if tag in (ARRAY, STRUCTURE):
            return [item.plain() for item in value]
        if tag == OCTET_STRING:
            return value.hex()
        if tag in (DATE_TIME, DATE, TIME):
            return value.isoformat()
        if tag == COMPACT_ARRAY:
            return [item.plain() for item in value.items]
        return value

    def encode(self) -> bytes:
        """Tag and content."""
        out = bytearray()
        _encode_into(self, out, True)
        return bytes(out)


@dataclass(frozen=True)
class TypeDescription:
    """A compact array's type: a simple tag, an array (count, element) or a structure (elements)."""

    tag: int
    count: int = 0
    elements: Tuple["TypeDescription", ...] = ()

    def encode(self) -> bytes:
        if self.tag == ARRAY:
            return bytes((ARRAY,)) + self.count.to_bytes(2, "big") + self.elements[0].encode()
        if self.tag == STRUCTURE:
            return bytes((STRUCTURE,)) + encode_length(len(self.elements)) + b"".join(e.encode() for e in self.elements)
        return bytes((self.tag,))


@dataclass
class CompactArray:
    """compact-array: one type description and the elements without their tags."""

    description: TypeDescription
    items: List[Data]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompactArray) and self.description == other.description and self.items == other.items


def _decode_type_description(data: bytes, pos: int, depth: int) -> Tuple[TypeDescription, int]:
    if depth > 16:
        raise _axdr_error("compact-array type description nested too deeply")
    if pos >= len(data):
        raise _axdr_error("data ends inside a compact-array type description")
    tag = data[pos]
    pos += 1
    if tag == ARRAY:
        if pos + 2 > len(data):
            raise _axdr_error("data ends inside a compact-array type description")
        count = int.from_bytes(data[pos:pos + 2], "big")
        element, pos = _decode_type_description(data, pos + 2, depth + 1)
        return TypeDescription(ARRAY, count, (element,)), pos
    if tag == STRUCTURE:
        n, pos = decode_length(data, pos)
        if n == 0:
            raise _axdr_error("compact-array type description holds an empty structure")
        elements = []
        for _ in range(n):
            element, pos = _decode_type_description(data, pos, depth + 1)
            elements.append(element)
        return TypeDescription(STRUCTURE, n, tuple(elements)), pos
    if tag not in TYPE_NAMES or tag in (COMPACT_ARRAY, NULL, DONT_CARE):
        # every element of a compact array takes at least one byte: no empty types in it
        raise _axdr_error(f"data type {tag} cannot be an element of a compact array")
    return TypeDescription(tag), pos


def _decode_untagged(description: TypeDescription, data: bytes, pos: int, depth: int) -> Tuple[Data, int]:
    tag = description.tag
    if tag == ARRAY:
        if description.count > len(data) - pos:
            raise _axdr_error(f"compact array of {description.count} elements in {len(data) - pos} bytes")
        items = []
        for _ in range(description.count):
            item, pos = _decode_untagged(description.elements[0], data, pos, depth + 1)
            items.append(item)
        return Data(ARRAY, items), pos
    if tag == STRUCTURE:
        items = []
        for element in description.elements:
            item, pos = _decode_untagged(element, data, pos, depth + 1)
            items.append(item)
        return Data(STRUCTURE, items), pos
    return _decode_content(tag, data, pos, depth)


MAX_DEPTH = 32


def decode_data(data: bytes, pos: int = 0, depth: int = 0) -> Tuple[Data, int]:
    """One tagged value at ``pos``: (Data, position after it)."""
    if pos >= len(data):
        raise _axdr_error("data ends where a value was expected")
    return _decode_content(data[pos], data, pos + 1, depth)


def _decode_content(tag: int, data: bytes, pos: int, depth: int) -> Tuple[Data, int]:
    fixed = _FIXED_STRUCTS.get(tag)
    if fixed is not None:
        end = pos + fixed.size
        if end > len(data):
            raise _axdr_error(f"data ends inside a {TYPE_NAMES[tag]}")
        value = fixed.unpack_from(data, pos)[0]
        if tag == BOOLEAN:
            value = bool(value)
        elif tag == BCD:
            value = (value >> 4) * 10 + (value & 0x0F)
        return Data(tag, value), end
    if tag in (ARRAY, STRUCTURE):
        if depth >= MAX_DEPTH:
            raise _axdr_error("arrays/structures nested too deeply")
        count, pos = decode_length(data, pos)
        if count > len(data) - pos and count > 0:
            raise _axdr_error(f"{TYPE_NAMES[tag]} of {count} elements in {len(data) - pos} bytes")
        items = []
        for _ in range(count):
            item, pos = _decode_content(data[pos], data, pos + 1, depth + 1) if pos < len(data) else decode_data(data, pos)
            items.append(item)
        return Data(tag, items), pos
    if tag in (OCTET_STRING, VISIBLE_STRING, UTF8_STRING):
        n, pos = decode_length(data, pos)
        end = pos + n
        if end > len(data):
            raise _axdr_error(f"{TYPE_NAMES[tag]} of {n} bytes runs past the end of the data")
        raw = bytes(data[pos:end])
        if tag == OCTET_STRING:
            return Data(tag, raw), end
        try:
            return Data(tag, raw.decode("utf-8" if tag == UTF8_STRING else "latin-1")), end
        except UnicodeDecodeError:
            raise _axdr_error("utf8-string is not valid UTF-8") from None
    if tag == NULL:
        return Data(NULL, None), pos
    if tag in _DATE_SIZES:
        end = pos + _DATE_SIZES[tag]
        if end > len(data):
            raise _axdr_error(f"data ends inside a {TYPE_NAMES[tag]}")
        return Data(tag, CosemDateTime.decode(bytes(data[pos:end]), tag)), end
    if tag == BIT_STRING:
        bits, pos = decode_length(data, pos)
        end = pos + (bits + 7) // 8
        if end > len(data):
            raise _axdr_error("bit-string runs past the end of the data")
        text = "".join(f"{b:08b}" for b in data[pos:end])[:bits]
        return Data(BIT_STRING, text), end
    if tag == COMPACT_ARRAY:
        description, pos = _decode_type_description(data, pos, depth)
        n, pos = decode_length(data, pos)
        end = pos + n
        if end > len(data):
            raise _axdr_error("compact-array contents run past the end of the data")
        contents = bytes(data[pos:end])
        items, inner = [], 0
        while inner < len(contents):
            item, inner = _decode_untagged(description, contents, inner, depth + 1)
            items.append(item)
        return Data(COMPACT_ARRAY, CompactArray(description, items)), end
    if tag == DONT_CARE:
        return Data(DONT_CARE, None), pos
    raise _axdr_error(f"unknown data type tag {tag} (0x{tag:02X}) at byte {pos - 1}")


def _encode_into(item: Data, out: bytearray, tagged: bool) -> None:
    tag, value = item.tag, item.value
    if tagged:
        out.append(tag)
    fixed = _FIXED_STRUCTS.get(tag)
    if fixed is not None:
        if tag == BCD:
            value = ((value // 10) << 4) | (value % 10)
        try:
            out += fixed.pack(int(value) if tag not in (FLOAT32, FLOAT64) else value)
        except struct.error:
            raise _axdr_error(f"{value!r} does not fit a {TYPE_NAMES[tag]}") from None
    elif tag in (ARRAY, STRUCTURE):
        out += encode_length(len(value))
        for element in value:
            _encode_into(element, out, True)
    elif tag in (OCTET_STRING, VISIBLE_STRING, UTF8_STRING):
        raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode(
            "utf-8" if tag == UTF8_STRING else "latin-1")
        out += encode_length(len(raw)) + raw
    elif tag in _DATE_SIZES:
        out += value.encode()
    elif tag == BIT_STRING:
        bits = value
        out += encode_length(len(bits))
        padded = bits + "0" * (-len(bits) % 8)
        out += bytes(int(padded[i:i + 8], 2) for i in range(0, len(padded), 8))
    elif tag == COMPACT_ARRAY:
        out += value.description.encode()
        contents = bytearray()
        for element in value.items:
            _encode_untagged(element, contents)
        out += encode_length(len(contents)) + contents
    elif tag in (NULL, DONT_CARE):
        pass
    else:
        raise _axdr_error(f"cannot encode data type {tag}")


def _encode_untagged(item: Data, out: bytearray) -> None:
    if item.tag in (ARRAY, STRUCTURE):
        for element in item.value:
            _encode_untagged(element, out)
    else:
        _encode_into(item, out, False)


def decode_all(data: bytes) -> Data:
    """Exactly one value filling ``data``."""
    value, pos = decode_data(data, 0)
    if pos != len(data):
        raise _axdr_error(f"{len(data) - pos} bytes left over after the value")
    return value


def decode_sequence(data: bytes) -> List[Data]:
    """Every value of a run of concatenated values (a buffer sent in blocks, test vectors)."""
    items, pos = [], 0
    while pos < len(data):
        item, pos = decode_data(data, pos)
        items.append(item)
    return items


# ---- constructors used by the client and the imitator -------------------------------------
def structure(*items: Data) -> Data:
    """A structure of the given values."""
    return Data(STRUCTURE, list(items))


def array(items: List[Data]) -> Data:
    """An array of the given values."""
    return Data(ARRAY, list(items))


def octets(raw: bytes) -> Data:
    """An octet-string."""
    return Data(OCTET_STRING, bytes(raw))


def date_time(moment: CosemDateTime) -> Data:
    """A date-time as the 12-byte octet-string COSEM objects use."""
    return Data(OCTET_STRING, moment.encode())
