"""RTU-327 framing: the check code, the frame layout, result codes and command numbers.

Every packet, both ways, is ``0x02 | NN | body | KK``: NN is the body's length (UINT16
big-endian), KK the check code over the body (UINT16, high byte first).  The body is

* request: ``II`` packet number (UINT16 little-endian), password (4 bytes), reserve (2 bytes),
  command (UINT8), data;
* answer: ``II``, reserve (4 bytes), reserve (2 bytes), ``RR`` result code (UINT8), data.

Both have the same shape (II, 4 bytes, 2 bytes, one code byte, data), so one ``Frame`` type
carries either.  Source: TR1GUN/rtu327-autotests ``Service/Former_Command.py`` and
``Service/Constant_Value_Bank.py`` (``template_answer``), ``work_with_device.py`` (the quoted
real answer and ``get_crc``).
"""
from __future__ import annotations

import enum
from typing import List, NamedTuple, Optional, Tuple

from ...errors import ProtocolError

PREFIX = 0x02
HEADER = 3            # prefix + NN
TRAILER = 2           # KK
BODY_HEAD = 9         # II + 4 + 2 + code byte
MAX_BODY = 0xFFFF     # NN is a UINT16
DEFAULT_PASSWORD = b"\x00\x00\x00\x00"


class Result(enum.IntEnum):
    """The answer's RR byte (Constant_Value_Bank.py ``error_code_dict``)."""

    OK = 0
    SERVER_ERROR = 1
    NO_MORE_DATA = 2
    DB_ERROR = 3
    BAD_COMMAND = 5
    BAD_PARAMETERS = 6
    BAD_PASSWORD = 10
    NO_RIGHTS = 11
    CRC_ERROR = 60


RESULT_TEXT = {Result.OK: "no error", Result.SERVER_ERROR: "server error", Result.NO_MORE_DATA: "no more data",
               Result.DB_ERROR: "RTU-327 database error", Result.BAD_COMMAND: "bad command",
               Result.BAD_PARAMETERS: "bad parameters", Result.BAD_PASSWORD: "bad password",
               Result.NO_RIGHTS: "no rights for the operation", Result.CRC_ERROR: "CRC error in the received packet"}


class Command(enum.IntEnum):
    """Command numbers (Constant_Value_Bank.py ``command_bank``)."""

    GETVERSION = 3
    GETMAXLOGID = 101
    GETSHORTLP = 105
    GETTESTS = 107
    GETAUTOREAD = 109
    GETLP = 111
    GETSHPRM = 112
    GETPOK = 113
    GETTIME = 114
    SETTIME = 115
    GETMTRLOG = 116
    GETLOG = 117
    GETLPCMN = 118
    GETTOU = 119
    GETTIMEM = 122
    SETTIMEM = 123


# ---- errors ---------------------------------------------------------------------------------------
class Rtu327Error(ProtocolError):
    """An RTU-327 exchange failed (the subclasses say how)."""


class FrameError(Rtu327Error):
    """Bytes that are not an RTU-327 frame (bad prefix, impossible length)."""


class CrcError(Rtu327Error):
    """A frame whose check code does not match its body."""


class TruncatedFrame(Rtu327Error):
    """The peer closed the connection in the middle of a frame."""


class OverlongFrame(Rtu327Error):
    """A frame longer than the reader's limit."""


class Stall(Rtu327Error):
    """The peer sent nothing within the read timeout, or the answer missed its deadline."""


class Flood(Rtu327Error):
    """The peer sent more than the reader accepts (bytes that are no frame, past the limit)."""


class ResultError(Rtu327Error):
    """The device answered with a result code other than 0; carries ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class BadPassword(ResultError):
    """The device refused the password (result 10)."""


# ---- the check code ---------------------------------------------------------------------------------
def _table() -> List[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_TABLE = _table()   # CRC-16/CCITT (polynomial 0x1021), the testers' TableCRC


def crc16(body: bytes) -> int:
    """The check code as the device computes it: the table CRC-16 (0x1021, start 0xFFFF) where
    each byte is XORed in *sign-extended* -- a byte >= 0x80 flips the high byte too.  This is what
    the testers' ``crc16_calc_tab_rtu`` does (``np.int16(np.int8(x))``, commented "int instead of
    uint at the end"), and it reproduces the CRC 0x1a71 of the real device answer quoted in
    work_with_device.py; :func:`crc16_plain` does not."""
    crc = 0xFFFF
    for byte in body:
        extended = byte | 0xFF00 if byte & 0x80 else byte
        crc = (_TABLE[crc >> 8] ^ (crc << 8) ^ extended) & 0xFFFF
    return crc


def crc16_plain(body: bytes) -> int:
    """The textbook table CRC (bytes XORed in unsigned): NOT what the device sends."""
    crc = 0xFFFF
    for byte in body:
        crc = (_TABLE[crc >> 8] ^ (crc << 8) ^ byte) & 0xFFFF
    return crc


# ---- frames ---------------------------------------------------------------------------------------------
class Frame(NamedTuple):
    """One packet's body: ``word`` is the password (request) or the 4 reserve bytes (answer);
    ``code`` the command (request) or the result (answer)."""

    packet: int
    word: bytes
    reserve: bytes
    code: int
    data: bytes


def encode(packet: int, word: bytes, code: int, data: bytes = b"", reserve: bytes = b"\x00\x00") -> bytes:
    """A whole packet: prefix, length, body, check code."""
    if len(word) != 4 or len(reserve) != 2:
        raise ValueError("RTU-327: the password/reserve word is 4 bytes, the reserve 2")
    body = packet.to_bytes(2, "little") + word + reserve + bytes([code]) + data
    if len(body) > MAX_BODY:
        raise ValueError(f"RTU-327: a body of {len(body)} bytes does not fit NN (at most {MAX_BODY})")
    return bytes([PREFIX]) + len(body).to_bytes(2, "big") + body + crc16(body).to_bytes(2, "big")


def encode_request(command: int, data: bytes = b"", packet: int = 1, password: bytes = DEFAULT_PASSWORD) -> bytes:
    """A request packet (Former_Command.py: packet number 1, all-zero password, zero reserve)."""
    return encode(packet, password, int(command), data)


def encode_answer(result: int, data: bytes = b"", packet: int = 1) -> bytes:
    """An answer packet (reserve bytes zero)."""
    return encode(packet, b"\x00\x00\x00\x00", int(result), data)


def decode_body(body: bytes) -> Frame:
    """The fields of a body (its check code already verified)."""
    if len(body) < BODY_HEAD:
        raise FrameError(f"RTU-327: a body of {len(body)} bytes is shorter than its {BODY_HEAD}-byte head")
    return Frame(int.from_bytes(body[0:2], "little"), bytes(body[2:6]), bytes(body[6:8]), body[8], bytes(body[9:]))


def decode(packet: bytes) -> Frame:
    """One whole packet -> Frame (FrameError, CrcError, TruncatedFrame, OverlongFrame otherwise)."""
    if len(packet) < HEADER or packet[0] != PREFIX:
        raise FrameError("RTU-327: a packet starts with 0x02 and a 2-byte length")
    length = int.from_bytes(packet[1:3], "big")
    whole = HEADER + length + TRAILER
    if len(packet) < whole:
        raise TruncatedFrame(f"RTU-327: the packet says {length} body bytes, {len(packet) - HEADER - TRAILER} came")
    if len(packet) > whole:
        raise OverlongFrame(f"RTU-327: {len(packet) - whole} bytes after the packet's end")
    body = packet[HEADER:HEADER + length]
    sent = int.from_bytes(packet[HEADER + length:whole], "big")
    if sent != crc16(body):
        raise CrcError(f"RTU-327: check code {sent:04x}, the body gives {crc16(body):04x}")
    return decode_body(body)


class Splitter:
    """Cuts whole packets out of a byte stream, in bounded memory.

    ``feed(chunk)`` returns the events found: ``("frame", Frame)``, ``("crc", Frame-or-None)`` for a
    packet with a bad check code (its fields when the head is readable -- a server answers it with
    result 60), ``("junk", n)`` for n bytes skipped that start no packet.  A declared length above
    ``max_body`` is junk too (the prefix byte is skipped and the search goes on), so a stray 0x02
    cannot make the reader wait for 64 KiB.  At most ``max_body + 5`` bytes are ever held."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> List[Tuple[str, object]]:
        self.buffer += chunk
        events: List[Tuple[str, object]] = []
        while self.buffer:
            start = self.buffer.find(PREFIX)
            if start != 0:
                skipped = len(self.buffer) if start < 0 else start
                del self.buffer[:skipped]
                events.append(("junk", skipped))
                continue
            if len(self.buffer) < HEADER:
                break
            length = int.from_bytes(self.buffer[1:3], "big")
            if length < BODY_HEAD or length > self.max_body:
                del self.buffer[:1]
                events.append(("junk", 1))
                continue
            whole = HEADER + length + TRAILER
            if len(self.buffer) < whole:
                break
            body = bytes(self.buffer[HEADER:HEADER + length])
            sent = int.from_bytes(self.buffer[HEADER + length:whole], "big")
            del self.buffer[:whole]
            if sent != crc16(body):
                events.append(("crc", decode_body(body)))
            else:
                events.append(("frame", decode_body(body)))
        return events

    @property
    def pending(self) -> int:
        """Bytes held of a packet not yet complete."""
        return len(self.buffer)


def result_text(code: int) -> str:
    """A result code in words ("code 42" for one the evidence does not list)."""
    try:
        return f"{RESULT_TEXT[Result(code)]} (result {code})"
    except ValueError:
        return f"result {code}"


def check_result(frame: Frame, what: str, allow: Tuple[int, ...] = ()) -> Optional[int]:
    """Raise the ResultError of a non-zero result not in ``allow``; returns the code otherwise."""
    if frame.code == Result.OK or frame.code in allow:
        return frame.code
    cls = BadPassword if frame.code == Result.BAD_PASSWORD else ResultError
    raise cls(f"RTU-327 {what}: the device answered {result_text(frame.code)}", frame.code)
