"""SET-4TM frames, values and the meter's side (``answer``: the answer frame to one request from a
``Set4Meter``); see the package docstring for the protocol and where it differs from Mercury 230."""
from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Protocol, Sequence, Tuple

from ..mercury.v1 import bcd, from_bcd
from ..mercury import v2
from ..mercury.v2 import (FROM_RESET, MONTH, THIS_YEAR, LAST_YEAR, TODAY, YESTERDAY, MercuryError,
                          decode_clock, encode_clock, frame)

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


#: request code -> length; 0x08's length depends on its parameter number (``request_length``)
REQUEST_LENGTHS = {0x00: 4, 0x01: 10, 0x02: 4, 0x04: 5, 0x05: 6, 0x08: 5}


def request_length(head: bytes) -> Optional[int]:
    """The length of the request that starts with ``head`` (3 bytes), or None (not a request)."""
    if head[1] == 0x08 and head[2] == 0x1B:
        return 7
    if head[1] == 0x04 and head[2] != 0x00:
        return None
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


__all__ = ["answer", "request_length", "Set4Meter", "Session", "Set4Error", "StatusError", "GROUPS",
           "decode_clock", "encode_clock"]
