"""SET-4TM frames, values and the meter's side (``answer``: the answer frame to one request from a
``Set4Meter``); see the package docstring for the protocol and where it differs from Mercury 230."""
from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Protocol, Sequence, Tuple

from ..mercury.v1 import bcd, from_bcd
from ..mercury import v2
from ..mercury.v2 import FROM_RESET, MONTH, THIS_YEAR, LAST_YEAR, TODAY, YESTERDAY, MercuryError, frame

OK, BAD_REQUEST, INTERNAL, ACCESS, CLOCK_TODAY, NOT_OPEN = range(6)
STATUS = {BAD_REQUEST: "invalid command or parameter", INTERNAL: "internal meter error",
          ACCESS: "access level too low", CLOCK_TODAY: "the clock was already corrected today",
          NOT_OPEN: "the channel is not open", 6: "repeat the request within 0.5 s",
          7: "the measurement is not ready", 8: "the meter is busy with the same process",
          9: "payment-unit register overflow", 10: "the control request cannot be done"}
USER, ADMIN = 1, 2
DEFAULT_PASSWORDS = {USER: b"000000", ADMIN: b"000000"}
#: the meter constant (impulses per kWh) by the low nibble of the variant's second byte
CONSTANTS = {0: 5000, 1: 2500, 2: 1250, 3: 6250, 4: 500, 5: 250, 6: 6400}
CONSTANT_CODE = {value: code for code, value in CONSTANTS.items()}
#: the largest count a profile slice holds (bit 15 flags the slice incomplete)
MAX_COUNT = 0x7FFF
#: the meter-type nibble (variant byte 3, bits 4-7)
TYPES = {1: "SET-4TM.03", 8: "SET-4TM.03M"}
ARRAYS = (FROM_RESET, THIS_YEAR, LAST_YEAR, MONTH, TODAY, YESTERDAY)
FLOAT_MODE = 0x02


class Set4Error(MercuryError):
    """A SET-4TM exchange failed (one line)."""


class StatusError(Set4Error):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Group:
    """One auxiliary-mode group read in float format: its quantity, its slots, the wire's unit."""
    name: str
    phases: Tuple[int, ...]
    unit: float = 1.0   # the meter's value (W, V, A) * unit = the float on the wire


#: BWRI (after 0x08 0x1B 0x02) -> the group; slot 0 is the sum (P/Q/S/cos) or unused (U/I)
GROUPS: Dict[int, Group] = {
    0x00: Group("P", (0, 1, 2, 3), 0.001), 0x04: Group("Q", (0, 1, 2, 3), 0.001),
    0x08: Group("S", (0, 1, 2, 3), 0.001), 0x10: Group("U", (0, 1, 2, 3)),
    0x20: Group("I", (0, 1, 2, 3)), 0x30: Group("cos", (0, 1, 2, 3)), 0x41: Group("F", (0,)),
}
GROUP_OF = {group.name: code for code, group in GROUPS.items()}
#: BWRI (after 0x08 0x1B 0x00) -> (the group's quantity, phase): one float
SINGLE: Dict[int, Tuple[Group, int]] = {
    **{base + p: (GROUPS[base], p) for base in (0x00, 0x04, 0x08, 0x30) for p in range(4)},
    **{base + p: (GROUPS[base], p) for base in (0x10, 0x20) for p in range(1, 4)},
    0x40: (GROUPS[0x41], 0), 0x70: (Group("T", (0,)), 0),
}
SINGLE_OF = {(group.name, phase): code for code, (group, phase) in SINGLE.items()}
SINGLE_MODE = 0x00

#: the profile memory (the first array of the power profile): the 0x06 read's memory number, its
#: size; a read takes 2-16 bytes (the document's bound for every type, as the Python poller quotes it)
PROFILE_MEMORY, PROFILE_BYTES, MIN_READ, MAX_READ = 3, 0x10000, 2, 16
#: an hour block is a header and one slice per integration period of the hour, 8 bytes each
HEADER_LENGTH = SLICE_LENGTH = 8
#: bit 15 of a slice's value: the slice is incomplete; bit 7 of the pointer's minutes: the array has wrapped
INCOMPLETE, OVERFLOW = 0x8000, 0x80
#: the journals (``04 JN``: J the journal, N the record 0-9, 0 the oldest): number -> its two times
JOURNALS: Dict[int, Tuple[str, str]] = {
    0x1: ("meter off", "meter on"), 0x7: ("phase 1 off", "phase 1 on"), 0x8: ("phase 2 off", "phase 2 on"),
    0x9: ("phase 3 off", "phase 3 on"), 0xA: ("cover opened", "cover closed"),
}
JOURNAL_RECORDS = 10


# ---- requests -----------------------------------------------------------------------------------
def open_request(address: int, password: bytes = DEFAULT_PASSWORDS[USER]) -> bytes:
    if len(password) != 6:
        raise Set4Error("a SET-4TM password has 6 bytes")
    return frame(address, b"\x01" + password)


def energy_request(address: int, array: int = FROM_RESET, month: int = 0, tariff: int = 0) -> bytes:
    return frame(address, bytes((0x05, array << 4 | month, tariff)))


def float_request(address: int, bwri: int, mode: int = FLOAT_MODE) -> bytes:
    """Auxiliary-mode values in float format: ``FLOAT_MODE`` a group (``GROUPS``), ``SINGLE_MODE``
    one value (``SINGLE``)."""
    return frame(address, bytes((0x08, 0x1B, mode, bwri)))


def journal_request(address: int, number: int, record: int) -> bytes:
    """Record ``record`` (0-9) of journal ``number`` (``JOURNALS``): ``04 JN``, one byte."""
    return frame(address, bytes((0x04, number << 4 | record)))


def memory_request(address: int, start: int, length: int, memory: int = PROFILE_MEMORY) -> bytes:
    """``length`` bytes (``MIN_READ``-``MAX_READ``) of memory ``memory`` from ``start``."""
    return frame(address, bytes((0x06, memory, start >> 8, start & 0xFF, length)))


#: request code -> length; 0x08's length depends on its parameter number (``request_length``);
#: 0x04 takes one byte (array << 4 | record: 00 the clock, JN a journal record)
REQUEST_LENGTHS = {0x00: 4, 0x01: 10, 0x02: 4, 0x04: 5, 0x05: 6, 0x06: 8, 0x08: 5}


def request_length(head: bytes) -> Optional[int]:
    """The length of the request that starts with ``head`` (3 bytes), or None (not a request)."""
    if head[1] == 0x08 and head[2] == 0x1B:
        return 7
    return REQUEST_LENGTHS.get(head[1])


# ---- values <-> bytes ---------------------------------------------------------------------------
def encode_serial(serial: str, made: dt.date) -> bytes:
    number = int(serial)
    if not 0 <= number < 1 << 32:
        raise Set4Error(f"a SET-4TM serial number fits 4 bytes, not {serial}")
    return number.to_bytes(4, "big") + bcd(made.day, 1) + bcd(made.month, 1) + bcd(made.year % 100, 1)


def decode_serial(data: bytes) -> Tuple[str, dt.date]:
    if len(data) != 7:
        raise Set4Error(f"a SET-4TM serial answer has 7 data bytes, got {len(data)}")
    try:
        made = dt.date(2000 + from_bcd(data[6:7]), from_bcd(data[5:6]), from_bcd(data[4:5]))
    except (ValueError, MercuryError) as exc:
        raise Set4Error(f"the date of manufacture {data[4:].hex(' ')} is not a BCD date: {exc}") from None
    return str(int.from_bytes(data[:4], "big")), made


def encode_variant(constant: int, meter_type: int = 8, one_direction: bool = False) -> bytes:
    """3 variant bytes as the document's example (5 A, 120-230 V, three phases, the -40 degree range,
    two RS-485 interfaces, a reserve supply) with the meter constant, directions and type."""
    if constant not in CONSTANT_CODE:
        raise Set4Error(f"no SET-4TM meter constant {constant} (one of {sorted(CONSTANT_CODE)})")
    return bytes((0x64, 0x40 | CONSTANT_CODE[constant] | (0x80 if one_direction else 0), meter_type << 4))


def decode_variant(data: bytes) -> Tuple[int, str]:
    """(the meter constant in impulses per kWh, the meter type)."""
    constant = CONSTANTS.get(data[1] & 0x0F)
    if constant is None:
        raise Set4Error(f"variant {data.hex(' ')}: unknown meter-constant code {data[1] & 0x0F}")
    return constant, TYPES.get(data[2] >> 4, f"type {data[2] >> 4}")


def impulses(wh: float, constant: int) -> int:
    """Wh -> the energy register's count, N = E[kWh] * 2A."""
    return min(round(wh * 2 * constant / 1000), 0xFFFFFFFF)


def watt_hours(count: int, constant: int) -> float:
    return count * 1000 / (2 * constant)


def encode_energy(values_wh: Sequence[float], constant: int) -> bytes:
    return b"".join(impulses(v, constant).to_bytes(4, "big") for v in values_wh)


def decode_energy(data: bytes, constant: int) -> List[float]:
    if len(data) != 16:
        raise Set4Error(f"an energy answer has 16 data bytes, got {len(data)}")
    return [watt_hours(int.from_bytes(data[i:i + 4], "big"), constant) for i in range(0, 16, 4)]


def encode_floats(values: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def decode_floats(data: bytes) -> Tuple[float, ...]:
    """The floats of ``data``, each at a single float's 7 significant digits (230.42, not the
    double nearest the float, 230.419998)."""
    return tuple(float(f"{v:.7g}") for v in struct.unpack(f"<{len(data) // 4}f", data[:len(data) // 4 * 4]))


def encode_clock(now: dt.datetime, winter: bool) -> bytes:
    """The clock's 8 bytes: Mercury 230's layout (ss mm hh weekday DD MM YY season, BCD) with
    SET-4TM's weekday, Monday 1 ... Sunday 7 (the public firmware's clock setting for SET-4TM
    sends day-of-week + 1 counting Monday 0; Mercury's numbering has Sunday 0)."""
    raw = v2.encode_clock(now, winter)
    return raw[:3] + bytes((now.isoweekday(),)) + raw[4:]


def decode_clock(data: bytes) -> Tuple[dt.datetime, bool]:
    """(the meter's local time, winter time) of the clock's 8 bytes (the weekday is not checked)."""
    try:
        return v2.decode_clock(data)
    except MercuryError as exc:
        raise Set4Error(str(exc)) from None


def encode_event_time(moment: Optional[dt.datetime]) -> bytes:
    """A journal time: the clock's first 7 bytes (ss mm hh weekday DD MM YY); zeros for none."""
    return bytes(7) if moment is None else encode_clock(moment, False)[:7]


def decode_event_time(data: bytes) -> Optional[dt.datetime]:
    """A journal time of 7 bytes (None: zeros or FF, a record never written)."""
    if data in (bytes(7), b"\xff" * 7):
        return None
    try:
        return v2.decode_clock(data + b"\x00")[0]
    except MercuryError as exc:
        raise Set4Error(f"the journal record's time {data.hex(' ')} is not a time: {exc}") from None


def encode_journal_record(first: Optional[dt.datetime], second: Optional[dt.datetime]) -> bytes:
    return encode_event_time(first) + encode_event_time(second)


def decode_journal_record(data: bytes) -> Tuple[Optional[dt.datetime], Optional[dt.datetime]]:
    """A journal record's 14 bytes: its two times (``JOURNALS``), None for none."""
    if len(data) != 14:
        raise Set4Error(f"a journal record has 14 bytes, got {len(data)}")
    return decode_event_time(data[:7]), decode_event_time(data[7:])


def block_length(period: int) -> int:
    """The bytes an hour block takes at an integration period of ``period`` minutes (30: 24)."""
    return HEADER_LENGTH + SLICE_LENGTH * (60 // period)


def block_count(period: int) -> int:
    """The hour blocks the memory holds (30 minutes: 2730); the bytes after the last whole block
    are not used (the document, as the Python poller quotes it: the next hour starts at 0000h)."""
    return PROFILE_BYTES // block_length(period)


@dataclass(frozen=True)
class HourHeader:
    """An hour block's header: the hour's start (the meter's local time) and the integration period
    (minutes); the hour's slices follow it, the first from the hour's start."""
    start: dt.datetime
    period: int


@dataclass(frozen=True)
class Slice:
    """One slice of the power profile: the P+ P- Q+ Q- counts of 1/(2A) kWh over the period
    (at most 0x7FFF) and whether the slice is incomplete (bit 15 of its values)."""
    counts: Tuple[int, int, int, int]
    incomplete: bool = False


@dataclass(frozen=True)
class Pointer:
    """The 0x08 0x04 answer: the address of the slice being formed, its start (the meter's local
    time) and whether the array has wrapped (its oldest record is then at the pointer)."""
    address: int
    start: dt.datetime
    overflow: bool


def _checksum(data: bytes) -> int:
    return sum(data[:6]) & 0xFF


def encode_header(header: HourHeader) -> bytes:
    """hh DD MM YY (BCD), 00, the period (binary), the sum of bytes 0-5 (low byte), 00."""
    h = header.start
    head = b"".join(bcd(v, 1) for v in (h.hour, h.day, h.month, h.year % 100)) + bytes((0, header.period))
    return head + bytes((_checksum(head), 0))


def decode_header(data: bytes) -> Optional[HourHeader]:
    """An hour block's 8-byte header; None when it is not one (its sum does not check: memory never
    written reads FF), or is all zeros; a header whose sum checks but whose time or period does not
    is a protocol error."""
    if len(data) != HEADER_LENGTH:
        raise Set4Error(f"a profile header has {HEADER_LENGTH} bytes, got {len(data)}")
    if _checksum(data) != data[6] or data[:7] == bytes(7):
        return None
    text = data[:4].hex()
    try:
        if not text.isdigit():
            raise ValueError("not BCD")
        hour, day, month, year = (int(text[i:i + 2]) for i in range(0, 8, 2))
        start = dt.datetime(2000 + year, month, day, hour)
    except ValueError as exc:
        raise Set4Error(f"the profile header's hour {data[:4].hex(' ')} is not a time: {exc}") from None
    period = data[5]
    if not 1 <= period <= 60 or 60 % period:
        raise Set4Error(f"the profile header's period {period} is not a divisor of 60 minutes")
    return HourHeader(start, period)


def encode_slice(piece: Optional[Slice]) -> bytes:
    """A slice's 8 bytes, each value big-endian with bit 15 the incomplete flag; FF for none."""
    if piece is None:
        return b"\xff" * SLICE_LENGTH
    flag = INCOMPLETE if piece.incomplete else 0
    return b"".join((min(max(c, 0), MAX_COUNT) | flag).to_bytes(2, "big") for c in piece.counts)


def decode_slice(data: bytes) -> Optional[Slice]:
    """A slice of 8 bytes (None: all FF, never written)."""
    if len(data) != SLICE_LENGTH:
        raise Set4Error(f"a profile slice has {SLICE_LENGTH} bytes, got {len(data)}")
    if data == b"\xff" * SLICE_LENGTH:
        return None
    words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, SLICE_LENGTH, 2)]
    return Slice((words[0] & 0x7FFF, words[1] & 0x7FFF, words[2] & 0x7FFF, words[3] & 0x7FFF),
                 any(w & INCOMPLETE for w in words))


def encode_pointer(pointer: Pointer) -> bytes:
    """mm (BCD, bit 7 the overflow flag) hh DD MM YY (BCD), the address high byte first."""
    s = pointer.start
    minutes = bcd(s.minute, 1)[0] | (OVERFLOW if pointer.overflow else 0)
    return (bytes((minutes,)) + b"".join(bcd(v, 1) for v in (s.hour, s.day, s.month, s.year % 100))
            + pointer.address.to_bytes(2, "big"))


def decode_pointer(data: bytes) -> Pointer:
    if len(data) != 7:
        raise Set4Error(f"a profile pointer answer has 7 data bytes, got {len(data)}")
    text = bytes((data[0] & 0x7F,)).hex() + data[1:5].hex()
    try:
        if not text.isdigit():
            raise ValueError("not BCD")
        minute, hour, day, month, year = (int(text[i:i + 2]) for i in range(0, 10, 2))
        start = dt.datetime(2000 + year, month, day, hour, minute)
    except ValueError as exc:
        raise Set4Error(f"the profile pointer's time {data[:5].hex(' ')} is not a time: {exc}") from None
    return Pointer(data[5] << 8 | data[6], start, bool(data[0] & OVERFLOW))


# ---- the meter's side ---------------------------------------------------------------------------
class Set4Meter(Protocol):
    """What a SET-4TM reports; an imitator gives one per network address."""
    address: int
    serial: str            # up to 10 digits, < 2**32
    made: dt.date
    constant: int          # impulses per kWh (a key of CONSTANT_CODE)
    passwords: Dict[int, bytes]

    def clock(self) -> Tuple[dt.datetime, bool]: ...

    def energy_wh(self, array: int, month: int, tariff: int) -> Optional[Sequence[float]]: ...

    def instant(self, name: str, phase: int) -> Optional[float]: ...

    # optional: ``profile_period`` (minutes), ``profile_top() -> Pointer`` and ``profile_block(number)
    # -> bytes`` (the ``block_length`` bytes of hour block ``number`` as the memory holds them now);
    # ``journal_times(number, record) -> (first, second) local times (None: none) or None`` (a
    # journal the meter does not keep)


# the line's open channels and the status answer are Mercury 230's (v2.Session, v2._status)
Session = v2.Session
_status = v2._status


def answer(meters: Dict[int, Set4Meter], session: Session, raw: bytes) -> Optional[bytes]:
    """The answer to one request frame (CRC already checked), or None (no meter at that address)."""
    address, body = raw[0], raw[1:-2]
    if address == 0 and len(meters) == 1:
        address = next(iter(meters))
    meter = meters.get(address)
    if meter is None or not body:
        return None
    to, code, params = raw[0], body[0], body[1:]
    if code == 0x00:
        return _status(to, OK)
    if code == 0x01:
        levels = [level for level in (ADMIN, USER) if meter.passwords.get(level) == params]
        if not levels:
            return _status(to, NOT_OPEN)
        session.levels[address] = levels[0]
        opened = getattr(meter, "opened", None)
        if opened is not None:
            opened()
        return _status(to, OK)
    if code == 0x02:
        session.levels.pop(address, None)
        return _status(to, OK)
    if address not in session.levels:
        return _status(to, NOT_OPEN)
    if code == 0x04 and params == b"\x00":
        return frame(to, encode_clock(*meter.clock()))
    if code == 0x04 and len(params) == 1:
        return _journal_answer(meter, to, params[0] >> 4, params[0] & 0x0F)
    if code == 0x08 and params == b"\x04" and hasattr(meter, "profile_top"):
        return frame(to, encode_pointer(meter.profile_top()))  # type: ignore[attr-defined]
    if code == 0x06 and len(params) == 4:
        data = memory_bytes(meter, params[0], params[1] << 8 | params[2], params[3])
        return _status(to, BAD_REQUEST) if data is None else frame(to, data)
    if code == 0x05 and len(params) == 2 and params[0] >> 4 in ARRAYS:
        values = meter.energy_wh(params[0] >> 4, params[0] & 0x0F, params[1])
        if values is None:
            return _status(to, BAD_REQUEST)
        return frame(to, encode_energy(values, meter.constant))
    if code == 0x08 and params == b"\x00":
        return frame(to, encode_serial(meter.serial, meter.made))
    if code == 0x08 and params == b"\x12":
        return frame(to, encode_variant(meter.constant))
    if code == 0x08 and params[:2] == bytes((0x1B, SINGLE_MODE)) and len(params) == 3 and params[2] in SINGLE:
        single, phase = SINGLE[params[2]]
        value = meter.instant(single.name, phase)
        if value is None:
            return _status(to, BAD_REQUEST)
        return frame(to, encode_floats([value * single.unit]))
    if code == 0x08 and params[:2] == bytes((0x1B, FLOAT_MODE)) and len(params) == 3 and params[2] in GROUPS:
        group = GROUPS[params[2]]
        read = [meter.instant(group.name, phase) for phase in group.phases]
        if all(v is None for v in read):
            return _status(to, BAD_REQUEST)
        return frame(to, encode_floats([(v or 0.0) * group.unit for v in read]))
    return _status(to, BAD_REQUEST)


def _journal_answer(meter: Set4Meter, to: int, number: int, record: int) -> bytes:
    times_of = getattr(meter, "journal_times", None)
    times = times_of(number, record) if times_of is not None and number in JOURNALS \
        and record < JOURNAL_RECORDS else None
    if times is None:
        return _status(to, BAD_REQUEST)
    return frame(to, encode_journal_record(*times))


def memory_bytes(meter: Set4Meter, memory: int, start: int, length: int) -> Optional[bytes]:
    """``length`` bytes of the meter's profile memory from ``start`` as its hour blocks hold them
    (a read may start anywhere and span blocks); None (status 1) for another memory, a length out
    of 2-16, or bytes after the last whole block (not used, "not to be read")."""
    block_of = getattr(meter, "profile_block", None)
    period = getattr(meter, "profile_period", None)
    if block_of is None or period is None or memory != PROFILE_MEMORY or not MIN_READ <= length <= MAX_READ:
        return None
    size = block_length(period)
    if start + length > block_count(period) * size:
        return None
    blocks: Dict[int, bytes] = {}
    for at in range(start // size, (start + length - 1) // size + 1):
        blocks[at] = block_of(at)
    image = b"".join(blocks[at] for at in sorted(blocks))
    offset = start - start // size * size
    return image[offset:offset + length]


__all__ = ["answer", "request_length", "Set4Meter", "Session", "Set4Error", "StatusError", "GROUPS",
           "decode_clock", "encode_clock", "HourHeader", "Slice", "Pointer", "memory_bytes"]
