"""HDLC framing of IEC 62056-46 (frame format type 3): FCS-16, addresses of 1, 2 or 4 bytes, the
frame reader over a byte stream (flag hunting, length from the format field, HCS and FCS checked,
garbage and partial frames tolerated), optional octet stuffing, segmentation reassembly, encoding."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from .errors import DLMSError, DLMSHdlcError, DLMSLimitError

FLAG = 0x7E
ESCAPE = 0x7D
LLC_REQUEST = b"\xe6\xe6\x00"   # client -> server
LLC_RESPONSE = b"\xe6\xe7\x00"  # server -> client


def _fcs_table() -> List[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_FCS_TABLE = _fcs_table()


def fcs16(data: bytes) -> int:
    """CRC-16/X.25 of IEC 62056-46 (reflected 0x1021, init and final xor 0xFFFF); sent LSB first."""
    crc = 0xFFFF
    table = _FCS_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def _fcs_bytes(data: bytes) -> bytes:
    value = fcs16(data)
    return bytes((value & 0xFF, value >> 8))


# ---- control field ------------------------------------------------------------------------
SNRM, DISC, UA, DM, FRMR, UI = 0x83, 0x43, 0x63, 0x0F, 0x87, 0x03
U_NAMES = {SNRM: "SNRM", DISC: "DISC", UA: "UA", DM: "DM", FRMR: "FRMR", UI: "UI"}
RR, RNR = 0x01, 0x05
POLL = 0x10


def control_i(send_seq: int, receive_seq: int, poll: bool = True) -> int:
    """The control byte of an I frame."""
    return ((receive_seq & 7) << 5) | (POLL if poll else 0) | ((send_seq & 7) << 1)


def control_s(kind: int, receive_seq: int, poll: bool = True) -> int:
    """The control byte of an S frame (RR or RNR)."""
    return ((receive_seq & 7) << 5) | (POLL if poll else 0) | kind


def control_u(kind: int, poll: bool = True) -> int:
    """The control byte of a U frame (SNRM, DISC, UA, DM, FRMR, UI)."""
    return kind | (POLL if poll else 0)


def describe_control(control: int) -> dict:
    """What a control byte says: kind, sequence numbers, poll/final bit."""
    poll = bool(control & POLL)
    if control & 1 == 0:
        return {"kind": "I", "send_sequence": (control >> 1) & 7, "receive_sequence": control >> 5, "poll": poll}
    if control & 3 == 1:
        kind = {RR: "RR", RNR: "RNR"}.get(control & 0x0F, "S?")
        return {"kind": kind, "receive_sequence": control >> 5, "poll": poll}
    return {"kind": U_NAMES.get(control & ~POLL & 0xFF, f"U{control & 0xEF:02X}"), "poll": poll}


# ---- addresses ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Address:
    """An HDLC address: logical (upper) and optional physical (lower) part; ``length`` 1, 2 or 4 bytes."""

    logical: int
    physical: Optional[int] = None
    length: int = 1

    def encode(self) -> bytes:
        """The address bytes, extension bit set on the last one."""
        if self.length == 1:
            parts = [self.logical & 0x7F]
        elif self.length == 2:
            parts = [self.logical & 0x7F, (self.physical or 0) & 0x7F]
        elif self.length == 4:
            lower = self.physical or 0
            parts = [(self.logical >> 7) & 0x7F, self.logical & 0x7F, (lower >> 7) & 0x7F, lower & 0x7F]
        else:
            raise DLMSHdlcError(f"HDLC address of {self.length} bytes: give 1, 2 or 4")
        out = bytearray(p << 1 for p in parts)
        out[-1] |= 1
        return bytes(out)

    @classmethod
    def server(cls, logical: int = 1, physical: Optional[int] = None) -> "Address":
        """A server address: 1 byte without a physical part, 2 bytes when both fit 7 bits, else 4."""
        if physical is None:
            return cls(logical, None, 1 if logical < 0x80 else 2)
        if logical < 0x80 and physical < 0x80:
            return cls(logical, physical, 2)
        return cls(logical, physical, 4)

    def as_dict(self) -> dict:
        """JSON form."""
        return {"logical": self.logical, "physical": self.physical, "hex": self.encode().hex()}


def _read_address(data: bytes, pos: int, end: int) -> Tuple[Address, int]:
    start = pos
    while pos < end and not data[pos] & 1:
        pos += 1
    if pos >= end:
        raise DLMSHdlcError("HDLC address has no end (no byte with the extension bit)")
    pos += 1
    raw = data[start:pos]
    values = [b >> 1 for b in raw]
    if len(raw) == 1:
        return Address(values[0], None, 1), pos
    if len(raw) == 2:
        return Address(values[0], values[1], 2), pos
    if len(raw) == 4:
        return Address((values[0] << 7) | values[1], (values[2] << 7) | values[3], 4), pos
    raise DLMSHdlcError(f"HDLC address of {len(raw)} bytes ({raw.hex()}): only 1, 2 or 4 are allowed")


# ---- frames -------------------------------------------------------------------------------
@dataclass
class Frame:
    """One HDLC frame: addresses, control, information field and the segmentation bit."""

    destination: Address
    source: Address
    control: int
    information: bytes = b""
    segmented: bool = False
    length: int = 0  # frame length field (without flags), filled when decoded or encoded

    @property
    def kind(self) -> str:
        """I, RR, RNR, SNRM, UA, DISC, DM, FRMR or UI."""
        return describe_control(self.control)["kind"]

    def encode(self) -> bytes:
        """The frame between flags, with HCS (when there is information) and FCS."""
        dst, src = self.destination.encode(), self.source.encode()
        header_len = 2 + len(dst) + len(src) + 1
        total = header_len + 2 + (len(self.information) + 2 if self.information else 0)
        if total > 0x7FF:
            raise DLMSHdlcError(f"HDLC frame of {total} bytes is longer than the 11-bit length field allows")
        self.length = total
        head = bytes((0xA0 | (0x08 if self.segmented else 0) | (total >> 8), total & 0xFF)) + dst + src + bytes((self.control,))
        if self.information:
            head += _fcs_bytes(head)
            body = head + self.information
        else:
            body = head
        return bytes((FLAG,)) + body + _fcs_bytes(body) + bytes((FLAG,))

    def as_dict(self) -> dict:
        """JSON form."""
        out = {"format_type": 0xA, "segmented": self.segmented, "length": self.length,
               "destination": self.destination.as_dict(), "source": self.source.as_dict(),
               "control": self.control}
        out.update({k: v for k, v in describe_control(self.control).items() if k != "kind"})
        out["kind"] = self.kind
        out["information"] = self.information.hex()
        return out


def decode_frame(body: bytes) -> Frame:
    """One frame given without its flags (and unstuffed); DLMSError when anything is wrong."""
    n = len(body)
    if n < 7:
        raise DLMSHdlcError(f"HDLC frame of {n} bytes is shorter than the 7-byte minimum")
    if body[0] >> 4 != 0xA:
        raise DLMSHdlcError(f"HDLC frame format type {body[0] >> 4:X}, expected A (type 3)")
    length = ((body[0] & 7) << 8) | body[1]
    if length != n:
        raise DLMSHdlcError(f"HDLC length field says {length} bytes, the frame has {n}")
    if fcs16(body[:-2]) != body[-2] | (body[-1] << 8):
        raise DLMSHdlcError("HDLC frame check sequence (FCS) is wrong")
    destination, pos = _read_address(body, 2, n - 2)
    source, pos = _read_address(body, pos, n - 2)
    if pos >= n - 2:
        raise DLMSHdlcError("HDLC frame has no control byte")
    control = body[pos]
    pos += 1
    information = b""
    if pos < n - 2:
        if pos + 2 > n - 2:
            raise DLMSHdlcError("HDLC frame is too short for its header check sequence")
        if fcs16(body[:pos]) != body[pos] | (body[pos + 1] << 8):
            raise DLMSHdlcError("HDLC header check sequence (HCS) is wrong")
        information = bytes(body[pos + 2:n - 2])
    return Frame(destination, source, control, information, bool(body[0] & 0x08), length)


def unstuff(data: bytes) -> bytes:
    """Undo octet stuffing (0x7D x -> x ^ 0x20)."""
    if ESCAPE not in data:
        return bytes(data)
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == ESCAPE:
            nxt = next(it, None)
            if nxt is None:
                raise DLMSHdlcError("octet-stuffed HDLC frame ends in an escape byte")
            out.append(nxt ^ 0x20)
        else:
            out.append(byte)
    return bytes(out)


def stuff(data: bytes) -> bytes:
    """Octet stuffing of a frame body (0x7E and 0x7D escaped)."""
    out = bytearray()
    for byte in data:
        if byte in (FLAG, ESCAPE):
            out += bytes((ESCAPE, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


@dataclass
class FrameReader:
    """Frames out of a byte stream fed in chunks. Without octet stuffing (the DLMS default) the
    length field delimits a frame, so 0x7E inside the information is fine; bytes before a flag,
    frames with a bad FCS/HCS and torn frames are skipped and counted in ``rejected``."""

    octet_stuffing: bool = False
    buffer: bytearray = field(default_factory=bytearray)
    rejected: int = 0
    errors: List[str] = field(default_factory=list)

    def feed(self, data: bytes) -> List[Frame]:
        """Add bytes; return the complete frames now available."""
        self.buffer += data
        return list(self._frames())

    def _reject(self, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < 16:
            self.errors.append(message)

    def _frames(self) -> Iterator[Frame]:
        buf = self.buffer
        while True:
            start = buf.find(FLAG)
            if start < 0:
                buf.clear()
                return
            if start:
                del buf[:start]
            if self.octet_stuffing:
                end = buf.find(FLAG, 1)
                if end < 0:
                    return
                if end == 1:
                    del buf[:1]
                    continue
                raw = bytes(buf[1:end])
                del buf[:end]  # the closing flag may open the next frame
                try:
                    yield decode_frame(unstuff(raw))
                except DLMSError as exc:
                    self._reject(str(exc))
                continue
            if len(buf) < 3:
                return
            if buf[1] >> 4 != 0xA:
                del buf[:1]  # a closing flag, a repeated flag or garbage
                continue
            length = ((buf[1] & 7) << 8) | buf[2]
            if length < 7:
                self._reject(f"HDLC length field {length} is too small")
                del buf[:1]
                continue
            if len(buf) < length + 2:
                return
            if buf[length + 1] != FLAG:
                self._reject("HDLC frame does not end in a flag where its length field says")
                del buf[:1]
                continue
            try:
                frame = decode_frame(bytes(buf[1:length + 1]))
            except DLMSError as exc:
                self._reject(str(exc))
                del buf[:1]
                continue
            del buf[:length + 1]  # keep the closing flag: it may open the next frame
            yield frame


def split_frames(data: bytes, octet_stuffing: bool = False) -> Tuple[List[Frame], FrameReader]:
    """Every frame of a byte string (and the reader, which counts what it skipped)."""
    reader = FrameReader(octet_stuffing)
    frames = reader.feed(data)
    return frames, reader


def strip_llc(information: bytes) -> bytes:
    """The APDU of an information field: the LLC header E6 E6 00 or E6 E7 00 removed when present."""
    if information[:2] in (b"\xe6\xe6", b"\xe6\xe7") and information[2:3] == b"\x00":
        return information[3:]
    return information


#: The most a reassembler joins by default: the largest APDU DLMS negotiates (max-pdu-size is an
#: Unsigned16) with its LLC header and room for a ciphering header.
MAX_REASSEMBLED = 0xFFFF + 64


class Reassembler:
    """Joins the information fields of segmented frames (S bit set on all but the last), up to
    ``max_bytes`` (and ``max_parts`` segments: empty ones add no bytes); past either it raises
    DLMSError ``limit`` and forgets the parts, so a peer that never sends the last segment holds
    a bounded amount of memory."""

    def __init__(self, max_bytes: int = MAX_REASSEMBLED, max_parts: Optional[int] = None) -> None:
        self.parts: List[bytes] = []
        self.size = 0
        self.max_bytes = max_bytes
        # the smallest segment a link negotiates is 16 bytes, so max_bytes / 16 segments is a whole APDU
        self.max_parts = max_parts if max_parts is not None else max_bytes // 16 + 1

    def add(self, frame: Frame) -> Optional[bytes]:
        """The whole information once the last segment arrived, else None."""
        self.size += len(frame.information)
        if self.size > self.max_bytes or len(self.parts) >= self.max_parts:
            parts, self.parts, self.size = len(self.parts) + 1, [], 0
            raise DLMSLimitError(f"segmented HDLC information runs past {self.max_bytes} bytes or {self.max_parts} "
                            f"segments ({parts} segments so far) without its last segment")
        self.parts.append(frame.information)
        if frame.segmented:
            return None
        whole = b"".join(self.parts)
        self.parts, self.size = [], 0
        return whole


def segment(information: bytes, max_information: int) -> List[bytes]:
    """Split an information field into segments of at most ``max_information`` bytes."""
    if max_information < 1:
        raise DLMSHdlcError("maximum information length must be at least 1")
    return [information[i:i + max_information] for i in range(0, len(information), max_information)] or [b""]


# ---- SNRM/UA parameter negotiation --------------------------------------------------------
PARAMETER_NAMES = {0x05: "max_info_transmit", 0x06: "max_info_receive", 0x07: "window_transmit",
                   0x08: "window_receive"}
PARAMETER_CODES = {name: code for code, name in PARAMETER_NAMES.items()}
DEFAULT_PARAMETERS = {"max_info_transmit": 128, "max_info_receive": 128, "window_transmit": 1, "window_receive": 1}


def encode_parameters(parameters: dict) -> bytes:
    """The information field of SNRM/UA: format 81, group 80, then each parameter."""
    body = bytearray()
    for name in ("max_info_transmit", "max_info_receive", "window_transmit", "window_receive"):
        if name not in parameters:
            continue
        value = int(parameters[name])
        size = 4 if name.startswith("window") else (1 if value < 0x100 else 2)
        body += bytes((PARAMETER_CODES[name], size)) + value.to_bytes(size, "big")
    return bytes((0x81, 0x80, len(body))) + bytes(body)


def parse_parameters(information: bytes) -> dict:
    """The negotiated parameters of an SNRM/UA information field (empty: the defaults)."""
    if not information:
        return {}
    if len(information) < 3 or information[0] != 0x81 or information[1] != 0x80:
        raise DLMSHdlcError("SNRM/UA information is not an HDLC parameter negotiation (81 80 ...)")
    end = 3 + information[2]
    if end > len(information):
        raise DLMSHdlcError("HDLC parameter group runs past the information field")
    out, pos = {}, 3
    while pos < end:
        if pos + 2 > end:
            raise DLMSHdlcError("HDLC parameter cut short")
        code, size = information[pos], information[pos + 1]
        if pos + 2 + size > end:
            raise DLMSHdlcError("HDLC parameter value cut short")
        value = int.from_bytes(information[pos + 2:pos + 2 + size], "big")
        out[PARAMETER_NAMES.get(code, f"parameter_{code:02x}")] = value
        pos += 2 + size
    return out
