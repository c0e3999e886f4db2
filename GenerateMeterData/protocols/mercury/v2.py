"""The Mercury 230/231/234/236 and 203.2TD three-phase protocol ("v2"): frames, the requests as data,
the meter's side (answers from a ``V2Meter``) and a client.

A request is ``network address (1 byte; 0 = any meter on the line) | request code | parameters |
CRC-16/Modbus``; an answer is ``address | data | CRC`` or, for a request that only needs a status,
``address | status | CRC`` (4 bytes).  Status 0 is OK; 1 invalid command or parameter, 2 internal
meter error, 3 access level too low, 4 the clock was already corrected today, 5 the channel is not
open.  Before anything but the channel test (code 0), a client opens the channel (code 1) at access
level 1 (user) or 2 (administrator) with that level's 6-byte password.

What is implemented, each from the public pollers named in ``protocols/mercury/__init__.py``:
- 0x00 test, 0x01 open (level, password), 0x02 close;
- 0x04 0x00 the clock: ss mm hh day-of-week DD MM YY season (BCD; season 1 = winter time);
- 0x05 energy arrays: parameter ``array << 4 | month`` and the tariff (0 = all tariffs): A+, A-,
  R+, R- in Wh, each 4 bytes in the meter's word order (bytes 1 0 3 2 of the big-endian value);
  ``FF FF FF FF`` for a direction the meter does not measure;
- 0x08 0x00 serial number (4 bytes, each two decimal digits, binary) and date of manufacture;
- 0x08 0x11 BWRI instantaneous values: 3 bytes, bits 0-5 of the first byte are the top of the
  magnitude, then byte 2, then byte 1; bit 7 of the first byte is the sign of active power, bit 6
  of reactive power; the temperature (BWRI 0x70) is 2 bytes big-endian.  Units: power 0.01 W/var/VA,
  voltage 0.01 V, current 0.001 A, cos phi 0.001, frequency 0.01 Hz, angles 0.01 degree.
- 0x08 0x13 the profile pointer: the address of the last record of the power profile (2 bytes,
  high byte first), then that record's status byte, hh mm DD MM YY (BCD) and period (minutes);
- 0x06 memory reads: ``memory | address high | address low | length``; memory 3 is the power
  profile, one record every 0x10 bytes (0x0000-0xFFF0, 4096 records: 85 days of 30-minute
  slots), a record read with length 0x0F: status, hh mm DD MM YY (BCD, the END of the slot),
  period (minutes, binary), then P+ P- Q+ Q- as 2-byte counts, low byte first, of pulses in the
  slot at ``2 * A`` pulses a kWh (``PULSE_CONSTANT`` A = 1000 here, so a count is the slot's
  average power in W at a 30-minute period).  A slot the meter did not record (off, or memory
  never written) reads all FF; the record before address 0x0000 is 0xFFF0 (the buffer wraps);
- 0x08 0x03 the firmware version (3 bytes BCD); Mercury 234/236 (version 7.1.0 and later) address
  the profile memory with 17 bits (0x00000-0x1FFF0, 8192 records): address bit 16 travels in bit 7
  of the memory number (``06 83 hi lo len``) and the pointer of 0x08 0x13 is the address / 16
  (``HIGH_ADDRESS_BIT``, ``profile_bits``);
- 0x04 JJ NN event journals: record NN (0-9, a ring of ten) of journal JJ: two times, each
  ss mm hh DD MM YY (BCD): switched off / on (JJ 1 the meter, 3-5 phases 1-3), before / after a
  clock correction (JJ 2), opened / closed (JJ 0x12, the cover); a record never written reads
  all zeros; a time still to come (not yet switched on) reads all zeros;
- energy arrays 0x0C / 0x0D (at the start of today / yesterday) and 0x0B with a month (at the
  start of that month) besides the consumptions of the arrays above.

The profile and journal layout follow the Incotex document "Протокол обмена счётчиков Меркурий
230/231/233/234/236" as the public poller ti-cortex-m4/tm4c1294ncpdt (devices/device_b.c,
automatic_b.c, extended_3_b.c; no licence stated: read, nothing copied) uses it: 0x08 0x13
answers 9 bytes, its first two the address big-endian; 0x06 0x03 hi lo 0x0F reads a 15-byte
record whose hours are byte 1; 0xFFFF values are "not recorded"; the walk back steps 0x10 and
wraps from 0x0000 to 0xFFF0; 0x04 JJ NN answers 12 bytes (two BCD times).  Meaning of the
record status byte is not in a public source found: it is 0 for a complete slot here.  Response
timing per baud rate (``RESPONSE_MS``) is the table wb-mqtt-serial's mercury230_device.cpp quotes
from the Incotex documentation (150 ms at 9600 baud and above, 180 at 4800, 250 at 2400, 400 at
1200, 800 at 600, 1600 at 300)."""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from ..stream import StreamService, incoming
from .v1 import MercuryError, crc_ok, crc16, with_crc

OK, BAD_REQUEST, INTERNAL, ACCESS, CLOCK_TODAY, NOT_OPEN = range(6)
STATUS = {BAD_REQUEST: "invalid command or parameter", INTERNAL: "internal meter error",
          ACCESS: "access level too low", CLOCK_TODAY: "the clock was already corrected today",
          NOT_OPEN: "the channel is not open"}
USER, ADMIN = 1, 2
DEFAULT_PASSWORDS = {USER: bytes([1] * 6), ADMIN: bytes([2] * 6)}
UNMEASURED = b"\xff\xff\xff\xff"
MAX_ANSWER = 64


class StatusError(MercuryError):
    """The meter answered with a status other than 0 (``status``: its code, 1-5)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


#: energy arrays (parameter high nibble)
FROM_RESET, THIS_YEAR, LAST_YEAR, MONTH, TODAY, YESTERDAY = 0, 1, 2, 3, 4, 5
#: energy arrays of registers at a start (of this year, last year, a month, today, yesterday)
AT_THIS_YEAR, AT_LAST_YEAR, AT_MONTH, AT_TODAY, AT_YESTERDAY = 0x9, 0xA, 0xB, 0xC, 0xD

#: the power profile: memory number, bytes a record takes, the memory's size, a record's length
PROFILE_MEMORY, RECORD_STEP, PROFILE_BYTES, RECORD_LENGTH = 3, 0x10, 0x10000, 15
#: 17-bit profile addressing (Mercury 234/236; firmware 7.1.0 and later as the public poller
#: ti-cortex-m4/tm4c1294ncpdt tells them apart, sensor2/device2.c TestVersionB710): the memory
#: holds 0x20000 bytes (8192 records); a read carries address bit 16 in bit 7 of the memory number
#: (``06 83 hi lo len``, profile2x17.c QueryHeaderBx17); the profile pointer (``08 13``) gives the
#: address divided by 16 (ReadTopBx17: ``b1 << 12 | b2 << 4``); the walk back wraps from 0x00000
#: to 0x1FFF0
HIGH_ADDRESS_BIT = 0x80
FIRST_17_BIT_VERSION = (7, 1, 0)


def profile_bytes(bits: int = 16) -> int:
    """The size of the profile memory with ``bits``-bit addresses (16: Mercury 230, 17: 234/236)."""
    return 1 << bits


def profile_bits(version: Optional[Tuple[int, int, int]]) -> int:
    """The profile's address width of a meter of firmware ``version`` (08 03; None: unknown, 16)."""
    return 17 if version is not None and tuple(version) >= FIRST_17_BIT_VERSION else 16
#: the meter constant A (pulses a kWh); a profile count is pulses at 2 * A a kWh
PULSE_CONSTANT = 1000
NOT_RECORDED = 0xFFFF
#: event journals (the parameter after 0x04): number -> what its two times are
JOURNALS: Dict[int, Tuple[str, str]] = {
    0x01: ("meter off", "meter on"), 0x02: ("clock before", "clock after"),
    0x03: ("phase 1 off", "phase 1 on"), 0x04: ("phase 2 off", "phase 2 on"),
    0x05: ("phase 3 off", "phase 3 on"), 0x12: ("cover opened", "cover closed"),
}
JOURNAL_RECORDS = 10
#: the longest the meter takes to answer, by baud rate (ms): wb-mqtt-serial quoting Incotex
RESPONSE_MS = {300: 1600, 600: 800, 1200: 400, 2400: 250, 4800: 180, 9600: 150}


def response_ms(baudrate: int) -> int:
    """How long the meter may take before it answers at ``baudrate`` (ms): the table's entry for
    the first rate at or above it (150 ms above 9600 baud)."""
    for baud in sorted(RESPONSE_MS):
        if baudrate <= baud:
            return RESPONSE_MS[baud]
    return RESPONSE_MS[9600]


def answer_delay(baudrate: int) -> float:
    """How long an imitated meter takes before it answers at ``baudrate`` (seconds): half the
    longest the table allows (a choice: the documentation gives the bound, not the typical time)."""
    return response_ms(baudrate) / 2000


@dataclass(frozen=True)
class Quantity:
    """One BWRI instantaneous quantity: its name, phase (0 = sum or none), scale and sign bit."""
    name: str
    phase: int
    scale: float
    signed: Optional[str] = None   # "active" (bit 7) or "reactive" (bit 6)


#: BWRI (the byte after 0x08 0x11) -> the quantity it reads
BWRI: Dict[int, Quantity] = {
    **{0x00 + p: Quantity("P", p, 0.01, "active") for p in range(4)},
    **{0x04 + p: Quantity("Q", p, 0.01, "reactive") for p in range(4)},
    **{0x08 + p: Quantity("S", p, 0.01) for p in range(4)},
    **{0x10 + p: Quantity("U", p, 0.01) for p in range(1, 4)},
    **{0x20 + p: Quantity("I", p, 0.001) for p in range(1, 4)},
    **{0x30 + p: Quantity("cos", p, 0.001, "active") for p in range(4)},
    0x40: Quantity("F", 0, 0.01),
    **{0x50 + p: Quantity("angle", p, 0.01) for p in range(1, 4)},
    0x70: Quantity("T", 0, 1.0),
}
BWRI_OF = {(q.name, q.phase): code for code, q in BWRI.items()}


# ---- frames -------------------------------------------------------------------------------------
def frame(address: int, body: bytes) -> bytes:
    return with_crc(bytes((address,)) + body)


def decode(raw: bytes) -> Tuple[int, bytes]:
    """(address, data) of a whole frame."""
    if len(raw) < 4:
        raise MercuryError(f"a Mercury 230 frame has at least 4 bytes, got {len(raw)}")
    if not crc_ok(raw):
        raise MercuryError(f"CRC error in {raw.hex(' ')}")
    return raw[0], bytes(raw[1:-2])


def open_request(address: int, level: int = USER, password: Optional[bytes] = None) -> bytes:
    password = DEFAULT_PASSWORDS[level] if password is None else password
    if len(password) != 6:
        raise MercuryError("a Mercury 230 password has 6 bytes")
    return frame(address, bytes((0x01, level)) + password)


def energy_parameter(array: int, month: int = 0) -> int:
    return array << 4 | month


# ---- values <-> bytes ---------------------------------------------------------------------------
def word_order(value: int) -> bytes:
    """A 4-byte energy value in the meter's order: bytes 1 0 3 2 of the big-endian value."""
    b = value.to_bytes(4, "big")
    return bytes((b[1], b[0], b[3], b[2]))


def from_word_order(data: bytes) -> Optional[int]:
    if data == UNMEASURED:
        return None
    return data[1] << 24 | data[0] << 16 | data[3] << 8 | data[2]


def encode_quantity(quantity: Quantity, value: float) -> bytes:
    if quantity.name == "T":
        return round(value).to_bytes(2, "big", signed=True)
    magnitude = min(round(abs(value) / quantity.scale), 0x3FFFFF)
    first = magnitude >> 16
    if quantity.signed == "active" and value < 0:
        first |= 0x80
    if quantity.signed == "reactive" and value < 0:
        first |= 0x40
    return bytes((first, magnitude & 0xFF, (magnitude >> 8) & 0xFF))


def decode_quantity(quantity: Quantity, data: bytes) -> float:
    if quantity.name == "T":
        return float(int.from_bytes(data[:2], "big", signed=True))
    magnitude = (data[0] & 0x3F) << 16 | data[2] << 8 | data[1]
    negative = bool(data[0] & 0x80) if quantity.signed == "active" else \
        bool(data[0] & 0x40) if quantity.signed == "reactive" else False
    value = magnitude * quantity.scale
    return round(-value if negative else value, 6)


def encode_clock(now: dt.datetime, winter: bool) -> bytes:
    weekday = (now.weekday() + 1) % 7
    return bytes.fromhex(now.strftime("%S%M%H") + f"{weekday:02d}" + now.strftime("%d%m%y")) + bytes((int(winter),))


def decode_clock(data: bytes) -> Tuple[dt.datetime, bool]:
    text = data[:7].hex()
    if not text.isdigit():
        raise MercuryError(f"the meter's clock {data.hex(' ')} is not BCD")
    ss, mm, hh, _, day, month, year = (int(text[i:i + 2]) for i in range(0, 14, 2))
    try:
        return dt.datetime(2000 + year, month, day, hh, mm, ss), data[7] == 1
    except ValueError as exc:
        raise MercuryError(f"the meter's clock {data.hex(' ')} is not a time: {exc}") from None


@dataclass(frozen=True)
class ProfileRecord:
    """One power-profile record: the slot's end (the meter's local time), its period (minutes),
    the status byte and the P+ P- Q+ Q- pulse counts (None: not recorded, FF FF)."""
    end: dt.datetime
    period: int
    counts: Tuple[Optional[int], Optional[int], Optional[int], Optional[int]]
    status: int = 0


def _bcd(*numbers: int) -> bytes:
    return bytes(int(str(n % 100), 16) for n in numbers)


def _from_bcd(data: bytes, what: str) -> List[int]:
    text = data.hex()
    if not text.isdigit():
        raise MercuryError(f"{what} {data.hex(' ')} is not BCD")
    return [int(text[i:i + 2]) for i in range(0, len(text), 2)]


def encode_record(record: Optional[ProfileRecord]) -> bytes:
    """A record's 15 bytes; all FF for a slot not recorded."""
    if record is None:
        return b"\xff" * RECORD_LENGTH
    e = record.end
    return (bytes((record.status,)) + _bcd(e.hour, e.minute, e.day, e.month, e.year) + bytes((record.period,))
            + b"".join(NOT_RECORDED.to_bytes(2, "little") if c is None else min(c, 0xFFFE).to_bytes(2, "little")
                       for c in record.counts))


def decode_record(data: bytes) -> Optional[ProfileRecord]:
    """A 15-byte record (None: not recorded, all FF or an empty header of zeros)."""
    if len(data) != RECORD_LENGTH:
        raise MercuryError(f"a profile record has {RECORD_LENGTH} bytes, got {len(data)}")
    if data[:7] == b"\xff" * 7 or data[1:6] == bytes(5):
        return None
    hh, mm, day, month, year = _from_bcd(data[1:6], "the profile record's time")
    try:
        end = dt.datetime(2000 + year, month, day) + dt.timedelta(hours=hh, minutes=mm)
    except ValueError as exc:
        raise MercuryError(f"the profile record's time {data[1:6].hex(' ')} is not a time: {exc}") from None
    if not 1 <= data[6] <= 60:
        raise MercuryError(f"the profile record's period {data[6]} is not 1-60 minutes")
    counts = tuple(None if v == NOT_RECORDED else v
                   for v in (int.from_bytes(data[i:i + 2], "little") for i in range(7, 15, 2)))
    return ProfileRecord(end, data[6], counts, data[0])  # type: ignore[arg-type]


def watts(count: Optional[int], period: int, constant: int = PULSE_CONSTANT) -> Optional[float]:
    """A profile count as the slot's average power in W (``count / 2A`` kWh over ``period`` minutes)."""
    return None if count is None else count / (2 * constant) * 1000 * 60 / period


def pulses(power_w: float, period: int, constant: int = PULSE_CONSTANT) -> int:
    """The profile count of an average power (W) over a slot."""
    return max(0, round(power_w * period / 60 / 1000 * 2 * constant))


def encode_event_time(moment: Optional[dt.datetime]) -> bytes:
    if moment is None:
        return bytes(6)
    return _bcd(moment.second, moment.minute, moment.hour, moment.day, moment.month, moment.year)


def decode_event_time(data: bytes) -> Optional[dt.datetime]:
    if data in (bytes(6), b"\xff" * 6):
        return None
    ss, mm, hh, day, month, year = _from_bcd(data, "the journal record's time")
    try:
        return dt.datetime(2000 + year, month, day, hh, mm, ss)
    except ValueError as exc:
        raise MercuryError(f"the journal record's time {data.hex(' ')} is not a time: {exc}") from None


def previous_record(address: int, records: int = 1, bits: int = 16) -> int:
    """The address ``records`` records before ``address`` (the buffer wraps from 0x0000 to 0xFFF0;
    with 17-bit addresses from 0x00000 to 0x1FFF0)."""
    return (address - records * RECORD_STEP) % profile_bytes(bits)


def memory_request(address: int, at: int, length: int = RECORD_LENGTH, memory: int = PROFILE_MEMORY) -> bytes:
    """``06 MEMORY hi lo LENGTH``: a read of ``length`` bytes at ``at``; address bit 16 (17-bit
    addressing) in bit 7 of the memory number."""
    high = HIGH_ADDRESS_BIT if at > 0xFFFF else 0
    return frame(address, bytes((0x06, memory | high, (at >> 8) & 0xFF, at & 0xFF, length)))


def encode_pointer(pointer: int, bits: int = 16) -> bytes:
    """The 2 address bytes of the ``08 13`` answer: the address (16 bits) or the address / 16 (17)."""
    return (pointer >> 4 if bits == 17 else pointer).to_bytes(2, "big")


def decode_pointer(data: bytes, bits: int = 16) -> int:
    value = data[0] << 8 | data[1]
    return value << 4 if bits == 17 else value


# ---- the meter's side ---------------------------------------------------------------------------
class V2Meter(Protocol):
    """What a three-phase Mercury reports; an imitator gives one per network address."""
    address: int
    serial: str            # 8 digits
    made: dt.date
    passwords: Dict[int, bytes]
    directions: Tuple[bool, bool, bool, bool]   # A+, A-, R+, R- measured

    def clock(self) -> Tuple[dt.datetime, bool]: ...

    def energy_wh(self, array: int, month: int, tariff: int) -> Optional[Sequence[int]]: ...

    def instant(self, name: str, phase: int) -> Optional[float]: ...

    # optional: ``opened()``, called when a client opens the channel (a meter layer that holds one
    # measurement for the session, so values read one by one agree with each other);
    # ``profile_pointer() -> (address, ProfileRecord)``, ``profile_record(address) -> ProfileRecord
    # or None`` (not recorded), ``journal(number, record) -> (first, second) local times or None``;
    # ``fault(body) -> None | "silent" | "crc" | status code``: what to do with a request instead;
    # ``version`` (firmware, 3 numbers: 08 03) and ``profile_bits`` (16 or 17: the profile's addresses)


@dataclass
class Session:
    """One line's open channels: network address -> the access level opened."""
    levels: Dict[int, int] = field(default_factory=dict)


def _status(address: int, code: int) -> bytes:
    return frame(address, bytes((code,)))


def answer(meters: Dict[int, V2Meter], session: Session, raw: bytes) -> Optional[bytes]:
    """The answer to one request frame, or None (no meter at that address)."""
    address, body = raw[0], raw[1:-2]
    if address == 0 and len(meters) == 1:   # address 0: whichever meter is on the line
        address = next(iter(meters))
    meter = meters.get(address)
    if meter is None or not body:
        return None
    code, params = body[0], body[1:]
    if code == 0x00:
        return _status(raw[0], OK)
    if code == 0x01:
        if len(params) != 7 or params[0] not in (USER, ADMIN):
            return _status(raw[0], BAD_REQUEST)
        if meter.passwords.get(params[0]) != params[1:]:
            return _status(raw[0], NOT_OPEN)
        session.levels[address] = params[0]
        opened = getattr(meter, "opened", None)   # optional: a meter that takes one measurement a session
        if opened is not None:
            opened()
        return _status(raw[0], OK)
    if code == 0x02:
        session.levels.pop(address, None)
        return _status(raw[0], OK)
    if address not in session.levels:
        return _status(raw[0], NOT_OPEN)
    if code == 0x04 and params[:1] == b"\x00":
        return frame(raw[0], encode_clock(*meter.clock()))
    if code == 0x04 and len(params) == 2:
        return _journal_answer(meter, raw[0], params)
    if code == 0x08 and params[:1] == b"\x13" and hasattr(meter, "profile_pointer"):
        pointer, record = meter.profile_pointer()   # type: ignore[attr-defined]
        return frame(raw[0], encode_pointer(pointer, getattr(meter, "profile_bits", 16)) + encode_record(record)[:7])
    if code == 0x08 and params[:1] == b"\x03" and hasattr(meter, "version"):
        return frame(raw[0], _bcd(*meter.version))   # type: ignore[attr-defined]
    if code == 0x06 and len(params) == 4:
        return _memory_answer(meter, raw[0], params)
    if code == 0x05 and len(params) == 2:
        values = meter.energy_wh(params[0] >> 4, params[0] & 0x0F, params[1])
        if values is None:
            return _status(raw[0], BAD_REQUEST)
        return frame(raw[0], b"".join(word_order(v) if measured else UNMEASURED
                                      for v, measured in zip(values, meter.directions)))
    if code == 0x08 and params[:1] == b"\x00":
        serial = meter.serial.rjust(8, "0")[-8:]
        return frame(raw[0], bytes(int(serial[i:i + 2]) for i in range(0, 8, 2))
                     + bytes((meter.made.day, meter.made.month, meter.made.year % 100)))
    if code == 0x08 and params[:1] == b"\x11" and len(params) == 2 and params[1] in BWRI:
        quantity = BWRI[params[1]]
        value = meter.instant(quantity.name, quantity.phase)
        if value is None:
            return _status(raw[0], BAD_REQUEST)
        return frame(raw[0], encode_quantity(quantity, value))
    return _status(raw[0], BAD_REQUEST)


def _journal_answer(meter: V2Meter, address: int, params: bytes) -> bytes:
    journal = getattr(meter, "journal", None)
    if journal is None or params[0] not in JOURNALS or params[1] >= JOURNAL_RECORDS:
        return _status(address, BAD_REQUEST)
    times = journal(params[0], params[1])
    return frame(address, b"".join(encode_event_time(t) for t in (times or (None, None))))


def _memory_answer(meter: V2Meter, address: int, params: bytes) -> bytes:
    record_at = getattr(meter, "profile_record", None)
    bits = getattr(meter, "profile_bits", 16)
    high = params[0] & HIGH_ADDRESS_BIT
    start, length = (0x10000 if high else 0) | params[1] << 8 | params[2], params[3]
    if record_at is None or params[0] & ~HIGH_ADDRESS_BIT != PROFILE_MEMORY or not 1 <= length <= RECORD_STEP \
            or (high and bits < 17):
        return _status(address, BAD_REQUEST)
    data = b""
    for at in range(start, start + length):   # byte by byte: a read may start inside a record
        base = at % profile_bytes(bits) // RECORD_STEP * RECORD_STEP
        if len(data) == 0 or at % RECORD_STEP == 0:
            record = encode_record(record_at(base)) + b"\xff"
        data += record[at % RECORD_STEP:at % RECORD_STEP + 1]
    return frame(address, data)


def answer_with_faults(meters: Dict[int, V2Meter], session: Session, raw: bytes,
                       answer_request: Callable[..., Optional[bytes]] = answer) -> Optional[bytes]:
    """``answer_request`` (``answer``, or another protocol of the frame family's, SET-4TM's), unless
    the meter at the request's address has a ``fault`` for this request: no answer ("silent"), the
    answer with its CRC broken ("crc"), or a status code (an int)."""
    meter = meters.get(raw[0]) or (next(iter(meters.values())) if raw[0] == 0 and len(meters) == 1 else None)
    fault = getattr(meter, "fault", None)
    action = fault(bytes(raw[1:-2])) if fault is not None else None
    if action == "silent":
        return None
    if isinstance(action, int) and not isinstance(action, bool):
        return _status(raw[0], action)
    out = answer_request(meters, session, raw)
    if action == "crc" and out is not None:
        return out[:-1] + bytes((out[-1] ^ 0xFF,))
    return out


#: the length of each request the meter's side understands, by request code; 0x08 (parameters)
#: takes one more byte (the BWRI) after the parameter numbers in ``WITH_BWRI``
REQUEST_LENGTHS = {0x00: 4, 0x01: 11, 0x02: 4, 0x04: 5, 0x05: 6, 0x06: 8, 0x08: 5}
WITH_BWRI = (0x11, 0x16)


def request_length(head: bytes) -> Optional[int]:
    """The length of the request that starts with ``head`` (at least 3 bytes), or None."""
    length = REQUEST_LENGTHS.get(head[1])
    if head[1] == 0x08 and head[2] in WITH_BWRI:
        return 6
    if head[1] == 0x04 and head[2] != 0x00:
        return 6   # a journal record: 0x04 JJ NN (a journal the meter does not keep: status 1)
    return length


class RequestReader:
    """Requests out of a byte stream, found by their CRC at the length their code takes; what comes
    before a request is dropped and counted; the buffer keeps at most 32 bytes.  ``lengths``: the
    length of a request from its first 3 bytes (another protocol of the frame family, e.g. SET-4TM)."""

    def __init__(self, lengths: Callable[[bytes], Optional[int]] = request_length) -> None:
        self.buffer = bytearray()
        self.dropped = 0
        self.lengths = lengths

    def feed(self, data: bytes) -> List[bytes]:
        self.buffer += data
        found: List[bytes] = []
        start = 0
        while start + 4 <= len(self.buffer):
            length = self.lengths(bytes(self.buffer[start:start + 3]))
            if length and start + length <= len(self.buffer) and crc_ok(bytes(self.buffer[start:start + length])):
                self.dropped += start
                found.append(bytes(self.buffer[start:start + length]))
                del self.buffer[:start + length]
                start = 0
                continue
            if length and start + length > len(self.buffer):
                break   # maybe the rest is on its way
            start += 1
        if len(self.buffer) > 32:
            self.dropped += len(self.buffer) - 32
            del self.buffer[:-32]
        return found


def serve(meters: Dict[int, V2Meter], receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
          stop: threading.Event, keep_open: bool = False, delay: float = 0.0) -> None:
    """Answer requests on one byte stream until it closes, each answer in one write, ``delay``
    seconds after the request (a meter's response time, ``answer_delay``)."""
    reader, session = RequestReader(), Session()
    for chunk in incoming(receive, stop, keep_open):
        for request in reader.feed(chunk):
            out = answer_with_faults(meters, session, request)
            if out is not None:
                if delay > 0:
                    stop.wait(delay)
                send(out)


class V2Imitator(StreamService):
    """Three-phase Mercury meters on one line (one ``V2Meter`` per network address), served by URL;
    each connection (or the pty/serial port) has its own open channels."""

    def __init__(self, meters: Sequence[V2Meter], delay: float = 0.0) -> None:
        super().__init__()
        self.meters = {meter.address: meter for meter in meters}
        self.delay = delay

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        serve(self.meters, receive, send, self._stop, keep_open, self.delay)


# ---- the client ---------------------------------------------------------------------------------
class V2Client:
    """A master for three-phase Mercury meters (any pyserial URL, e.g. ``socket://host:port``);
    every answer has its own deadline and a size cap; a status answer other than 0 raises.
    ``echo``: the line repeats what we send (a two-wire converter); the echo is skipped.  It is
    off by default because the answer to the channel test is byte for byte the request."""

    def __init__(self, url: Optional[str] = None, *, port=None, baudrate: int = 9600, timeout: float = 1.0,
                 echo: bool = False) -> None:
        if port is None:
            import serial
            try:
                port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
            except (serial.SerialException, ValueError) as exc:
                raise MercuryError(f"cannot open {url}: {exc}") from None
        self.port = port
        # at least the meter's response time at this baud rate and the longest answer's transfer
        self.timeout = max(timeout, response_ms(baudrate) / 1000 + (3 + MAX_ANSWER) * 11 / baudrate)
        self.echo = echo

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "V2Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def exchange(self, request: bytes, size: int) -> bytes:
        """Send ``request``; the data of an answer of ``size`` data bytes (or of a status answer)."""
        address = request[0]
        self.port.reset_input_buffer()
        self.port.write(request)
        buffer = b""
        echoed = 0
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and len(buffer) < MAX_ANSWER:
            buffer += self.port.read(self.port.in_waiting or 1)
            if self.echo and echoed < len(request) and len(buffer) >= len(request) - echoed:
                buffer, echoed = buffer[len(request) - echoed:], len(request)
            if self.echo and echoed < len(request):
                continue
            if len(buffer) >= 3 + size or (len(buffer) == 4 and size != 1 and crc_ok(buffer)):
                break
        if not buffer:
            raise MercuryError(f"meter {address}: no answer within {self.timeout:g} s")
        if len(buffer) == 4 and crc_ok(buffer) and size != 1:
            status = buffer[1] & 0x0F
            raise StatusError(f"meter {address}: status {status}: {STATUS.get(status, 'unknown status')}", status)
        if len(buffer) < 3 + size:
            raise MercuryError(f"meter {address}: answer cut short ({len(buffer)} of {3 + size} bytes)")
        got, data = decode(buffer[:3 + size])
        if got != address and address != 0:
            raise MercuryError(f"meter {address}: answer from address {got}")
        if size == 1 and data[0] & 0x0F:
            raise StatusError(f"meter {address}: status {data[0] & 0x0F}: {STATUS.get(data[0] & 0x0F, 'unknown')}",
                              data[0] & 0x0F)
        return data

    def open(self, address: int, level: int = USER, password: Optional[bytes] = None) -> None:
        self.exchange(open_request(address, level, password), 1)

    def test(self, address: int) -> None:
        self.exchange(frame(address, b"\x00"), 1)

    def close_channel(self, address: int) -> None:
        self.exchange(frame(address, b"\x02"), 1)

    def clock(self, address: int) -> Tuple[dt.datetime, bool]:
        return decode_clock(self.exchange(frame(address, b"\x04\x00"), 8))

    def energy(self, address: int, array: int = FROM_RESET, month: int = 0,
               tariff: int = 0) -> List[Optional[int]]:
        """A+, A-, R+, R- in Wh (None: not measured)."""
        data = self.exchange(frame(address, bytes((0x05, energy_parameter(array, month), tariff))), 16)
        return [from_word_order(data[i:i + 4]) for i in range(0, 16, 4)]

    def serial(self, address: int) -> Tuple[str, dt.date]:
        data = self.exchange(frame(address, b"\x08\x00"), 7)
        return "".join(f"{b:02d}" for b in data[:4]), dt.date(2000 + data[6], data[5], data[4])

    def version(self, address: int) -> Tuple[int, int, int]:
        """The firmware version (08 03: three BCD numbers)."""
        major, minor, patch = _from_bcd(self.exchange(frame(address, b"\x08\x03"), 3), "the firmware version")
        return major, minor, patch

    def profile_pointer(self, address: int, bits: int = 16) -> Tuple[int, Optional[ProfileRecord]]:
        """The address of the last profile record and its header (None: the meter has none);
        ``bits``: the meter's profile addressing (17: the answer holds the address / 16)."""
        data = self.exchange(frame(address, b"\x08\x13"), 9)
        pointer = decode_pointer(data, bits)
        if pointer % RECORD_STEP or pointer >= profile_bytes(bits):
            raise MercuryError(f"meter {address}: profile pointer 0x{pointer:04X} is not a record address "
                               f"(outside the profile memory's records, every 0x{RECORD_STEP:02X})")
        return pointer, decode_record(data[2:9] + b"\xff" * 8)

    def profile_record(self, address: int, at: int, bits: int = 16) -> Optional[ProfileRecord]:
        """The profile record at memory address ``at`` (None: not recorded)."""
        if not 0 <= at < profile_bytes(bits) or at % RECORD_STEP:
            raise MercuryError(f"meter {address}: 0x{at:X} is not a profile record address")
        return decode_record(self.exchange(memory_request(address, at), RECORD_LENGTH))

    def journal(self, address: int, number: int, record: int) -> Tuple[Optional[dt.datetime], Optional[dt.datetime]]:
        """Record ``record`` (0-9) of journal ``number``: its two times (None: none)."""
        data = self.exchange(frame(address, bytes((0x04, number, record))), 12)
        return decode_event_time(data[:6]), decode_event_time(data[6:12])

    def instant(self, address: int, name: str, phase: int = 0) -> float:
        code = BWRI_OF[(name, phase)]
        quantity = BWRI[code]
        return decode_quantity(quantity, self.exchange(frame(address, bytes((0x08, 0x11, code))),
                                                      2 if quantity.name == "T" else 3))


__all__ = ["V2Client", "StatusError", "V2Imitator", "V2Meter", "answer", "answer_with_faults", "serve", "RequestReader",
           "BWRI", "Quantity", "ProfileRecord", "crc16"]
