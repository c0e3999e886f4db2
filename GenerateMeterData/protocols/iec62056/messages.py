"""IEC 62056-21 messages: identification lines, data sets, readout blocks, programming commands
and the block check character (XOR of every byte after SOH/STX up to and including ETX/EOT)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ...errors import ProtocolError
from ..crc import ARC_INIT, crc16_a001

SOH, STX, ETX, EOT, ACK, NAK = 0x01, 0x02, 0x03, 0x04, 0x06, 0x15
CRLF = b"\r\n"
BAUD_C = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
BAUD_B = {"A": 600, "B": 1200, "C": 2400, "D": 4800, "E": 9600, "F": 19200}
BAUD_CHAR_C = {baud: char for char, baud in BAUD_C.items()}


class IECError(ProtocolError):
    """An IEC 62056-21 message that does not parse, or a dialogue that went wrong."""

    def __init__(self, message: str, category: str = "iec") -> None:
        super().__init__(message)
        self.category = category


def bcc(data: bytes) -> int:
    """XOR of the bytes (7-bit values), as the standard's block check character."""
    value = 0
    for byte in data:
        value ^= byte
    return value & 0x7F


#: A block check character function: the bytes after SOH/STX through ETX/EOT -> the check byte.
#: ``bcc`` is the standard's; a protocol built on these frames with another (Energomera's 7-bit
#: sum, ``protocols.energomera``) passes its own to ``command``, ``data_message``, ``parse_message``.
Check = Callable[[bytes], int]


def strip_parity(data: bytes) -> bytes:
    """7E1 bytes read on an 8N1 line carry the parity bit in bit 7: drop it."""
    return bytes(b & 0x7F for b in data)


@dataclass(frozen=True)
class Identification:
    """What the meter says after sign-on: ``/XXXZ\\Widentification``."""

    manufacturer: str
    baud_char: str
    identification: Optional[str]
    enhanced_id_char: Optional[str] = None

    @property
    def mode(self) -> str:
        """A, B or C, from the baud character."""
        if self.baud_char in BAUD_C:
            return "C"
        if self.baud_char in BAUD_B:
            return "B"
        return "A"

    @property
    def switchover_baud(self) -> Optional[int]:
        """The baud rate the meter announces (None when not a standard code)."""
        return BAUD_C.get(self.baud_char) or BAUD_B.get(self.baud_char)

    @property
    def reaction_time_ms(self) -> int:
        """A lower-case third manufacturer letter announces a 20 ms minimum reaction time."""
        return 20 if self.manufacturer[2:3].islower() else 200

    def encode(self) -> bytes:
        """The identification line as the meter sends it."""
        enhanced = f"\\{self.enhanced_id_char}" if self.enhanced_id_char else ""
        return f"/{self.manufacturer}{self.baud_char}{enhanced}{self.identification or ''}".encode("ascii") + CRLF


_IDENTIFICATION = re.compile(r"^/([A-Za-z]{3})(.)(?:\\(.))?(.*)$", re.S)


def parse_identification(line: bytes) -> Identification:
    """Parse an identification line (with or without CR LF; garbage before ``/`` ignored)."""
    text = strip_parity(line).decode("ascii", "replace")
    start = text.find("/")
    if start < 0:
        raise IECError(f"no identification line (no '/' in {text[:40]!r})", "identification")
    text = text[start:].rstrip("\r\n")
    match = _IDENTIFICATION.match(text)
    if not match or match.group(2) in "\r\n":
        raise IECError(f"not an identification line: {text[:40]!r} (needs '/', 3 letters, a baud character)",
                       "identification")
    manufacturer, baud_char, enhanced, rest = match.groups()
    return Identification(manufacturer, baud_char, rest if rest else None, enhanced)


@dataclass
class DataSet:
    """``address(value*unit)(value*unit)...``; the OBIS address as written."""

    address: str
    values: List[Tuple[str, Optional[str]]] = field(default_factory=list)

    @property
    def value(self) -> Optional[str]:
        """The first value."""
        return self.values[0][0] if self.values else None

    @property
    def unit(self) -> Optional[str]:
        """The first value's unit."""
        return self.values[0][1] if self.values else None

    def number(self, index: int = 0) -> Optional[float]:
        """A value as a float (None when it is not a number)."""
        try:
            return float(self.values[index][0])
        except (IndexError, ValueError):
            return None

    @property
    def error(self) -> Optional[str]:
        """A meter error answer such as ``(ERR05)``."""
        text = self.value or ""
        return text if re.fullmatch(r"ERR\w*", text) else None

    def obis(self) -> Optional[Tuple[int, int, int, int, int, int]]:
        """The address as an OBIS code A-B:C.D.E*F (missing groups default; None if not OBIS)."""
        return parse_obis(self.address)

    def as_dict(self) -> Dict[str, object]:
        """The data set as JSON-ready data."""
        return {"address": self.address, "obis": _obis_text(self.obis()),
                "values": [{"value": v, "unit": u} for v, u in self.values]}


_OBIS = re.compile(r"^(?:(\d+)-(\d+):)?([0-9A-Z]+)\.([0-9A-Z]+)(?:\.([0-9A-Z]+))?(?:[*&](\d+))?$")
_LETTER_GROUPS = {"C": 96, "F": 97, "L": 98, "P": 99}


def parse_obis(address: str) -> Optional[Tuple[int, int, int, int, int, int]]:
    """An OBIS address (``1-0:1.8.0*255``, ``1.8.0``, ``C.1.0``) as six groups; None otherwise."""
    match = _OBIS.match(address.strip())
    if not match:
        return None
    a, b, c, d, e, f = match.groups()

    def group(text: Optional[str], default: int) -> int:
        if text is None:
            return default
        if text.isdigit():
            return int(text)
        return _LETTER_GROUPS.get(text, -1)

    values = (group(a, 1), group(b, 0), group(c, 0), group(d, 0), group(e, 0), group(f, 255))
    return None if -1 in values else values  # type: ignore[return-value]


def _obis_text(code) -> Optional[str]:
    if code is None:
        return None
    a, b, c, d, e, f = code
    return f"{a}-{b}:{c}.{d}.{e}*{f}"


def parse_data_sets(text: str) -> List[DataSet]:
    """Data sets of a data block (several per line allowed; LF-only lines accepted)."""
    sets: List[DataSet] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in "\r\n \t":
            i += 1
        if i >= n or text[i] == "!":
            break
        start = i
        while i < n and text[i] not in "(\r\n":
            i += 1
        address = text[start:i].strip()
        values: List[Tuple[str, Optional[str]]] = []
        while i < n and text[i] == "(":
            end = text.find(")", i)
            if end < 0:
                raise IECError(f"data set {address!r}: '(' without ')'", "data")
            inner = text[i + 1:end]
            value, _, unit = inner.partition("*")
            values.append((value, unit or None))
            i = end + 1
        if not values and not address:
            i += 1
            continue
        if not values:
            raise IECError(f"data set {address!r} has no value in parentheses", "data")
        sets.append(DataSet(address, values))
    return sets


@dataclass
class Readout:
    """A data readout (modes A-D): the identification, the data sets, and whether the BCC held."""

    identification: Optional[Identification]
    data_sets: List[DataSet]
    bcc_ok: Optional[bool] = None   # None: the block carried no BCC (mode D push, some P1 meters)
    crc_ok: Optional[bool] = None   # a push telegram's CRC after "!": None when it carries none

    def get(self, address: str) -> Optional[DataSet]:
        """A data set by address or OBIS code."""
        wanted = parse_obis(address)
        for data_set in self.data_sets:
            if data_set.address == address or (wanted is not None and data_set.obis() == wanted):
                return data_set
        return None

    def as_dict(self) -> Dict[str, object]:
        """The readout as JSON-ready data."""
        ident = self.identification
        return {"identification": None if ident is None else {
                    "manufacturer": ident.manufacturer, "baud_char": ident.baud_char,
                    "mode": ident.mode, "switchover_baud": ident.switchover_baud,
                    "enhanced_id_char": ident.enhanced_id_char, "identification": ident.identification},
                "bcc_ok": self.bcc_ok, "crc_ok": self.crc_ok, "data_sets": [d.as_dict() for d in self.data_sets]}


def telegram_crc(data: bytes) -> Optional[bool]:
    """Whether a push telegram's CRC-16/ARC after ``!`` (4 hex digits, over ``/`` through ``!``)
    holds; None when the telegram carries no CRC (plain mode D, DSMR 2/3)."""
    slash, bang = data.find(b"/"), data.rfind(b"!")
    if slash < 0 or bang < slash:
        return None
    digits = data[bang + 1:bang + 5]
    if len(digits) < 4 or not all(c in b"0123456789ABCDEFabcdef" for c in digits):
        return None
    return crc16_a001(data[slash:bang + 1], ARC_INIT) == int(digits, 16)


def parse_readout(data: bytes, require_bcc: bool = False) -> Readout:
    """A readout as received: optional echo and garbage, the identification line, then
    ``STX data-block ! CR LF ETX BCC`` (or a push telegram ending in ``!`` [CRC])."""
    data = strip_parity(data)
    identification = None
    slash = data.find(b"/")
    while slash >= 0 and data[slash + 1:slash + 2] == b"?":  # the echo of our own request
        slash = data.find(b"/", slash + 1)
    stx = data.find(bytes([STX]))
    if slash >= 0 and (stx < 0 or slash < stx):
        end = data.find(b"\n", slash)
        identification = parse_identification(data[slash:end if end >= 0 else len(data)])
        body_start = end + 1 if end >= 0 else len(data)
        if stx < 0 or stx < body_start:
            stx = data.find(bytes([STX]), body_start)
    else:
        body_start = 0
    if stx >= 0:
        etx = data.find(bytes([ETX]), stx)
        if etx < 0:
            end_mark = data.find(bytes([EOT]), stx)
            etx = end_mark
        if etx < 0:
            if require_bcc:
                raise IECError("readout without ETX: cut short?", "readout")
            block, ok = data[stx + 1:], None
        else:
            block = data[stx + 1:etx]
            ok = (len(data) > etx + 1 and bcc(data[stx + 1:etx + 1]) == data[etx + 1]) if len(data) > etx + 1 else None
            if require_bcc and ok is not True:
                raise IECError("readout block check character (BCC) is wrong", "bcc")
    else:
        block, ok = data[body_start:], None
    text = block.decode("latin-1")
    return Readout(identification, parse_data_sets(text), ok, None if stx >= 0 else telegram_crc(data))


# ---- programming mode -----------------------------------------------------------------------
def command(name: str, data: Optional[str] = None, check: Check = bcc) -> bytes:
    """SOH C D STX data ETX BCC (B0 and other data-less commands: SOH C D ETX BCC)."""
    body = name.encode("ascii") + (bytes([STX]) + data.encode("latin-1") if data is not None else b"") + bytes([ETX])
    return bytes([SOH]) + body + bytes([check(body)])


def data_message(data: str, check: Check = bcc) -> bytes:
    """STX data ETX BCC (a meter's answer)."""
    body = data.encode("latin-1") + bytes([ETX])
    return bytes([STX]) + body + bytes([check(body)])


def ack_option(protocol: str = "0", baud_char: str = "5", mode: str = "0") -> bytes:
    """ACK V Z Y CR LF: protocol control, baud rate, mode (0 data readout, 1 programming)."""
    return bytes([ACK]) + f"{protocol}{baud_char}{mode}".encode("ascii") + CRLF


def sign_on(address: str = "") -> bytes:
    """The sign-on request ``/?address!`` CR LF."""
    return f"/?{address}!".encode("ascii") + CRLF


@dataclass
class Message:
    """A framed message: ``kind`` is "command" (SOH ...), "data" (STX ...), "ack", "nak"."""

    kind: str
    command: Optional[str] = None
    data: Optional[str] = None
    bcc_ok: bool = True


def parse_message(raw: bytes, check: Check = bcc) -> Message:
    """One framed message (command, data, ACK or NAK), with whether its BCC held."""
    raw = strip_parity(raw)
    if raw[:1] == bytes([ACK]):
        return Message("ack")
    if raw[:1] == bytes([NAK]):
        return Message("nak")
    if not raw or raw[0] not in (SOH, STX):
        raise IECError(f"message starts with 0x{raw[0]:02X}, not SOH/STX" if raw else "empty message", "message")
    end = len(raw) - 2  # ... ETX/EOT BCC: the BCC itself may be any byte, even 0x03
    if end < 1 or raw[end] not in (ETX, EOT):
        raise IECError("message without ETX and BCC", "message")
    ok = check(raw[1:end + 1]) == raw[end + 1]
    body = raw[1:end].decode("latin-1")
    if raw[0] == STX:
        return Message("data", data=body, bcc_ok=ok)
    name, _, data = body.partition("\x02")
    return Message("command", command=name[:2], data=data if "\x02" in body else None, bcc_ok=ok)


def frame_length(buffer: bytes) -> Optional[int]:
    """Bytes of the first complete message in ``buffer`` (ACK/NAK, or up to ETX/EOT + BCC)."""
    if not buffer:
        return None
    first = buffer[0] & 0x7F
    if first in (ACK, NAK):
        return 1
    # the first ETX or EOT, parity bit set or not (bytes.find: a flood is scanned at C speed)
    ends = [i for i in (buffer.find(bytes([end | parity])) for end in (ETX, EOT) for parity in (0, 0x80)) if i >= 0]
    if ends and min(ends) + 1 < len(buffer):
        return min(ends) + 2
    return None


# ---- Neva MT 3xx register addresses --------------------------------------------------------------
def neva_address(code: str) -> str:
    """``60.01.04*FF`` -> ``600104FF`` (the R1 data form)."""
    return code.replace(".", "").replace("*", "").upper()


def neva_to_obis(code: str) -> Tuple[int, int, int, int]:
    """``60.01.04*FF`` -> (96, 1, 4, 255): hex groups C.D.E*F."""
    wire = neva_address(code)
    if len(wire) != 8:
        raise IECError(f"Neva address {code!r} is not four hex groups CC.DD.EE*FF", "address")
    return tuple(int(wire[i:i + 2], 16) for i in range(0, 8, 2))  # type: ignore[return-value]


def obis_to_neva(c: int, d: int, e: int, f: int = 0xFF) -> str:
    """(C, D, E, F) -> Neva's ``CC.DD.EE*FF``."""
    return f"{c:02X}.{d:02X}.{e:02X}*{f:02X}"
