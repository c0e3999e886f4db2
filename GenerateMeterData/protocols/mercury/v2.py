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
Profiles and journals are not implemented yet (issue 22)."""
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
    # measurement for the session, so values read one by one agree with each other)


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


#: the length of each request the meter's side understands, by request code; 0x08 (parameters)
#: takes one more byte (the BWRI) after the parameter numbers in ``WITH_BWRI``
REQUEST_LENGTHS = {0x00: 4, 0x01: 11, 0x02: 4, 0x04: 5, 0x05: 6, 0x08: 5}
WITH_BWRI = (0x11, 0x16)


def request_length(head: bytes) -> Optional[int]:
    """The length of the request that starts with ``head`` (at least 3 bytes), or None."""
    length = REQUEST_LENGTHS.get(head[1])
    if head[1] == 0x08 and head[2] in WITH_BWRI:
        return 6
    if head[1] == 0x04 and head[2] != 0x00:
        return None
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
          stop: threading.Event, keep_open: bool = False) -> None:
    """Answer requests on one byte stream until it closes, each answer in one write."""
    reader, session = RequestReader(), Session()
    for chunk in incoming(receive, stop, keep_open):
        for request in reader.feed(chunk):
            out = answer(meters, session, request)
            if out is not None:
                send(out)


class V2Imitator(StreamService):
    """Three-phase Mercury meters on one line (one ``V2Meter`` per network address), served by URL;
    each connection (or the pty/serial port) has its own open channels."""

    def __init__(self, meters: Sequence[V2Meter]) -> None:
        super().__init__()
        self.meters = {meter.address: meter for meter in meters}

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        serve(self.meters, receive, send, self._stop, keep_open)


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
        self.timeout = timeout
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

    def instant(self, address: int, name: str, phase: int = 0) -> float:
        code = BWRI_OF[(name, phase)]
        quantity = BWRI[code]
        return decode_quantity(quantity, self.exchange(frame(address, bytes((0x08, 0x11, code))),
                                                      2 if quantity.name == "T" else 3))


__all__ = ["V2Client", "StatusError", "V2Imitator", "V2Meter", "answer", "serve", "RequestReader", "BWRI", "Quantity", "crc16"]
