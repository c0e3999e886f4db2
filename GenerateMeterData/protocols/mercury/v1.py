"""The Mercury 200/201/203/206 single-phase protocol ("v1"): frames, the commands as data, the
meter's side (answers from a ``V1Meter``) and a client.

A request is ``address (4 bytes, big-endian) | command | [sub-command / data] | CRC-16/Modbus``
(the CRC over everything before it, low byte first); the answer repeats address and command, then
the command's data, then the CRC.  Frames are delimited by silence on the line, not by a length
field: the meter's side finds a request in a byte stream by its CRC (``RequestReader``), the client
knows the size of each answer (``COMMANDS``).

Numbers are BCD unless said otherwise.  Units as the meters send them: energy in 0.01 kWh, voltage
in 0.1 V, current in 0.01 A, active power in W, battery in 0.01 V, cos phi in 0.001 with the sign in
the first nibble.  The 0x86 family takes a sub-command byte and echoes it first in the answer."""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from ...errors import ProtocolError
from ..crc import CRC_TABLE, MODBUS_INIT, crc16_a001
from ..stream import StreamService, incoming

#: the longest request the meter's side looks for (reads are 7 or 8 bytes; writes are short too)
MAX_REQUEST = 32
#: the largest answer a client accepts before giving up on a frame (the longest is 21 bytes)
MAX_ANSWER = 64


class MercuryError(ProtocolError):
    """A Mercury frame that does not decode, or an exchange that went wrong."""


def crc16(data: bytes, crc: int = MODBUS_INIT) -> int:
    """CRC-16/Modbus; pass ``crc`` to go on from an earlier part."""
    return crc16_a001(data, crc)


def with_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


def crc_ok(raw: bytes) -> bool:
    return len(raw) >= 3 and crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little")


# ---- BCD ----------------------------------------------------------------------------------------
def bcd(value: int, size: int) -> bytes:
    """``value`` as ``size`` bytes of BCD (two digits a byte, most significant first)."""
    digits = f"{value:0{size * 2}d}"
    if value < 0 or len(digits) > size * 2:
        raise MercuryError(f"{value} does not fit {size} BCD bytes")
    return bytes.fromhex(digits)


def from_bcd(data: bytes) -> int:
    text = data.hex()
    if not text.isdigit():
        raise MercuryError(f"not BCD: {data.hex(' ')}")
    return int(text)


# ---- frames -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One request or answer: the 4-byte address, the command byte and the data (no CRC)."""
    address: int
    command: int
    data: bytes = b""

    def encode(self) -> bytes:
        return with_crc(self.address.to_bytes(4, "big") + bytes((self.command,)) + self.data)


def decode(raw: bytes) -> Frame:
    """A whole frame (address, command, data, CRC) into a ``Frame``."""
    if len(raw) < 7:
        raise MercuryError(f"a Mercury frame has at least 7 bytes, got {len(raw)}")
    if not crc_ok(raw):
        raise MercuryError(f"CRC error in {raw.hex(' ')}")
    return Frame(int.from_bytes(raw[:4], "big"), raw[4], bytes(raw[5:-2]))


# ---- the commands, as data ----------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str
    code: int
    sub: Optional[int]   # the 0x86 family's sub-command byte (sent after the command, echoed back)
    size: int            # bytes of answer data (the sub-command echo included)
    doc: str


COMMANDS: Dict[str, Command] = {c.name: c for c in (
    Command("serial", 0x2F, None, 4, "serial number, 4 bytes binary, big-endian"),
    Command("time", 0x21, None, 7, "day of week (0 = Sunday), hh, mm, ss, DD, MM, YY"),
    Command("energy", 0x27, None, 16, "active energy by tariff 1..4, 4 BCD bytes each, 0.01 kWh"),
    Command("uip", 0x63, None, 7, "voltage 0.1 V (2 bytes), current 0.01 A (2), active power W (3)"),
    Command("firmware", 0x28, None, 6, "version major, minor, 0, date DD MM YY"),
    Command("battery", 0x29, None, 2, "battery voltage, 0.01 V"),
    Command("tariffs", 0x2E, None, 1, "number of tariffs in use (binary)"),
    Command("tariff", 0x60, None, 1, "the tariff now in force, 0-based (binary)"),
    Command("model", 0x86, 0xFF, 3, "echo, model code (2: 200, 4: 203.2T, 6: 203.2TR, 8: 206, 10: 201.8TLO), variant"),
    Command("relay", 0x86, 0x01, 2, "echo, relay state (0x55 closed: load on; 0xAA open)"),
    Command("power_factor", 0x86, 0x02, 6, "echo, cos phi (sign nibble + 3 digits, 0.001), apparent power 0.001 kVA (3)"),
)}
BY_CODE: Dict[Tuple[int, Optional[int]], Command] = {(c.code, c.sub): c for c in COMMANDS.values()}
#: the data length of each request (after the command byte), for the meter's side reader
REQUEST_DATA = {code: (1 if sub is not None else 0) for code, sub in BY_CODE}
MODEL_CODES = {"200": 2, "203.2T": 4, "203.2TR": 6, "206": 8, "201.8TLO": 10}
RELAY_ON, RELAY_OFF = 0x55, 0xAA


def request(address: int, name: str) -> bytes:
    """The request frame of command ``name`` to ``address``."""
    command = COMMANDS[name]
    return Frame(address, command.code, b"" if command.sub is None else bytes((command.sub,))).encode()


# ---- values <-> data ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Instant:
    """What 0x63 and 0x86 02 report: U (V), I (A), P (W), cos phi, S (VA)."""
    voltage: float
    current: float
    power: float
    cos_phi: float = 1.0
    apparent: float = 0.0


def encode_time(now: dt.datetime) -> bytes:
    weekday = (now.weekday() + 1) % 7  # Monday 0 in Python; Sunday 0 on the meter
    return bytes((weekday,)) + bytes.fromhex(now.strftime("%H%M%S%d%m%y"))


def decode_time(data: bytes) -> dt.datetime:
    hh, mm, ss, day, month, year = (from_bcd(data[i:i + 1]) for i in range(1, 7))
    try:
        return dt.datetime(2000 + year, month, day, hh, mm, ss)
    except ValueError as exc:
        raise MercuryError(f"the meter's time {data.hex(' ')} is not a time: {exc}") from None


def encode_cos(cos_phi: float) -> bytes:
    """The first nibble is the sign (0: +), then three digits: 1.000 is sent as 0.999."""
    thousandths = min(999, round(abs(cos_phi) * 1000))
    digits = f"{'0' if cos_phi >= 0 else '8'}{thousandths:03d}"
    return bytes.fromhex(digits)


def decode_cos(data: bytes) -> float:
    text = data.hex()
    if not text[1:].isdigit():
        raise MercuryError(f"cos phi {data.hex(' ')} is not a sign nibble and 3 BCD digits")
    value = int(text[1:]) / 1000
    return -value if text[0] != "0" else value


def encode(name: str, meter: "V1Meter") -> bytes:
    """The answer data of command ``name`` from ``meter``'s state now."""
    if name == "serial":
        return (meter.serial % 2 ** 32).to_bytes(4, "big")
    if name == "time":
        return encode_time(meter.clock())
    if name == "energy":
        registers = (list(meter.energy_wh()) + [0, 0, 0, 0])[:4]
        return b"".join(bcd(round(wh / 10) % 10 ** 8, 4) for wh in registers)
    if name in ("uip", "power_factor"):
        instant = meter.instant()
        if name == "uip":
            return (bcd(round(instant.voltage * 10), 2) + bcd(round(instant.current * 100), 2)
                    + bcd(round(abs(instant.power)), 3))
        return bytes((0x02,)) + encode_cos(instant.cos_phi) + bcd(round(instant.apparent), 3)
    if name == "firmware":
        major, minor, made = meter.firmware
        return bytes((major, minor, 0)) + bytes.fromhex(made.strftime("%d%m%y"))
    if name == "battery":
        return bcd(round(meter.battery * 100), 2)
    if name == "tariffs":
        return bytes((meter.tariffs,))
    if name == "tariff":
        return bytes((meter.current_tariff(),))
    if name == "model":
        return bytes((0xFF, MODEL_CODES.get(meter.model, 2), meter.variant))
    if name == "relay":
        return bytes((0x01, RELAY_ON if meter.relay_on else RELAY_OFF))
    raise MercuryError(f"no encoder for {name}")


def decode_answer(name: str, data: bytes):
    """The values in the answer data of command ``name``."""
    command = COMMANDS[name]
    if len(data) != command.size:
        raise MercuryError(f"{name}: {len(data)} data bytes, expected {command.size}")
    if name == "serial":
        return int.from_bytes(data, "big")
    if name == "time":
        return decode_time(data)
    if name == "energy":
        return [from_bcd(data[i:i + 4]) * 10 for i in range(0, 16, 4)]   # Wh
    if name == "uip":
        return Instant(from_bcd(data[0:2]) / 10, from_bcd(data[2:4]) / 100, float(from_bcd(data[4:7])))
    if name == "power_factor":
        return decode_cos(data[1:3]), float(from_bcd(data[3:6]))
    if name == "firmware":
        try:
            made = dt.date(2000 + from_bcd(data[5:6]), from_bcd(data[4:5]), from_bcd(data[3:4]))
        except ValueError as exc:
            raise MercuryError(f"firmware date {data[3:6].hex(' ')} is not a date: {exc}") from None
        return (data[0], data[1], made)
    if name == "battery":
        return from_bcd(data) / 100
    if name in ("tariffs", "tariff"):
        return data[0]
    if name == "model":
        return {code: model for model, code in MODEL_CODES.items()}.get(data[1], f"code {data[1]}"), data[2]
    if name == "relay":
        return data[1] == RELAY_ON
    raise MercuryError(f"no decoder for {name}")


# ---- the meter's side ---------------------------------------------------------------------------
class V1Meter(Protocol):
    """What a single-phase Mercury reports; an imitator gives one per address."""
    address: int
    serial: int
    model: str
    variant: int
    firmware: Tuple[int, int, dt.date]
    battery: float
    tariffs: int
    relay_on: bool

    def clock(self) -> dt.datetime: ...

    def energy_wh(self) -> Sequence[int]: ...

    def instant(self) -> Instant: ...

    def current_tariff(self) -> int: ...


class RequestReader:
    """Requests out of a byte stream.  A request is found by its CRC, at the length its command
    takes (any length up to ``MAX_REQUEST`` for an unknown command), starting at any byte: what
    comes before it (noise, a torn request) is dropped and counted.  The buffer keeps at most the
    last ``MAX_REQUEST`` bytes."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> List[Frame]:
        self.buffer += data
        frames = []
        while True:
            found = self._first_frame()
            if found is None:
                break
            start, length = found
            self.dropped += start
            frames.append(decode(bytes(self.buffer[start:start + length])))
            del self.buffer[:start + length]
        if len(self.buffer) > MAX_REQUEST:
            self.dropped += len(self.buffer) - MAX_REQUEST
            del self.buffer[:-MAX_REQUEST]
        return frames

    def _first_frame(self) -> Optional[Tuple[int, int]]:
        buffer = bytes(self.buffer)
        table = CRC_TABLE
        for start in range(0, len(buffer) - 6):
            known = REQUEST_DATA.get(buffer[start + 4])
            if known is not None:
                if start + 7 + known <= len(buffer) and crc_ok(buffer[start:start + 7 + known]):
                    return start, 7 + known
                continue
            # an unknown command: any length; the CRC-16/Modbus of a frame with its CRC is 0, carried
            # along byte by byte (the table step inline: this loop runs for every byte of junk)
            crc = MODBUS_INIT
            for end in range(start, min(len(buffer), start + MAX_REQUEST)):
                crc = (crc >> 8) ^ table[(crc ^ buffer[end]) & 0xFF]
                if crc == 0 and end - start >= 6:
                    return start, end + 1 - start
        return None


def answer(meters: Dict[int, V1Meter], frame: Frame) -> Optional[bytes]:
    """The answer frame to one request, or None (not our address, an unknown command)."""
    meter = meters.get(frame.address)
    if meter is None:
        return None
    command = BY_CODE.get((frame.command, frame.data[0] if frame.data else None)) \
        or BY_CODE.get((frame.command, None))
    if command is None:
        return None
    return Frame(frame.address, frame.command, encode(command.name, meter)).encode()


def answer_with_faults(meters: Dict[int, V1Meter], frame: Frame) -> Optional[bytes]:
    """``answer``, unless the meter at the frame's address has a ``fault`` (optional, as in v2)
    for this request (its command and data): no answer ("silent") or the answer with its CRC
    broken ("crc")."""
    fault = getattr(meters.get(frame.address), "fault", None)
    action = fault(bytes((frame.command,)) + frame.data) if fault is not None else None
    if action == "silent":
        return None
    out = answer(meters, frame)
    if action == "crc" and out is not None:
        return out[:-1] + bytes((out[-1] ^ 0xFF,))
    return out


def serve(meters: Dict[int, V1Meter], receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
          stop: threading.Event, keep_open: bool = False) -> None:
    """Answer requests on one byte stream until it closes: each answer in one write (a TCP
    converter sends a frame in one segment; some clients read one segment)."""
    reader = RequestReader()
    for chunk in incoming(receive, stop, keep_open):
        for frame in reader.feed(chunk):
            out = answer_with_faults(meters, frame)
            if out is not None:
                send(out)


class V1Imitator(StreamService):
    """Single-phase Mercury meters on one line (one ``V1Meter`` per network address), served by
    URL (``start("tcp://HOST:PORT")``, ``pty://``, a serial port)."""

    def __init__(self, meters: Sequence[V1Meter]) -> None:
        super().__init__()
        self.meters = {meter.address: meter for meter in meters}

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        serve(self.meters, receive, send, self._stop, keep_open)


# ---- the client ---------------------------------------------------------------------------------
class V1Client:
    """A master for single-phase Mercury meters on one line (any pyserial URL, e.g.
    ``socket://host:port``).  Every answer has its own deadline and size cap."""

    def __init__(self, url: Optional[str] = None, *, port=None, baudrate: int = 9600, timeout: float = 1.0) -> None:
        if port is None:
            import serial
            try:
                port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
            except (serial.SerialException, ValueError) as exc:
                raise MercuryError(f"cannot open {url}: {exc}") from None
        self.port = port
        self.timeout = timeout
        self.requests = 0

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "V1Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def query(self, address: int, name: str):
        """Send command ``name`` to ``address``; the decoded answer."""
        command = COMMANDS[name]
        sent = request(address, name)
        expected = 5 + command.size + 2
        self.requests += 1
        self.port.reset_input_buffer()
        self.port.write(sent)
        buffer = b""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and len(buffer) < MAX_ANSWER:
            buffer += self.port.read(self.port.in_waiting or 1)
            if buffer.startswith(sent):
                buffer = buffer[len(sent):]   # the echo of a two-wire converter
            if len(buffer) >= expected:
                break
        if not buffer:
            raise MercuryError(f"meter {address}: no answer to {name} within {self.timeout:g} s")
        if len(buffer) < expected:
            raise MercuryError(f"meter {address}: {name} answer cut short ({len(buffer)} of {expected} bytes)")
        frame = decode(buffer[:expected])
        if frame.address != address or frame.command != command.code:
            raise MercuryError(f"meter {address}: answer from {frame.address} to command {frame.command:#04x}")
        return decode_answer(name, frame.data)
