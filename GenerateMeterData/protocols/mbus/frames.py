"""M-Bus link layer (EN 13757-2): single character, short, control and long frames.

Parsing is strict -- start bytes, both length bytes, checksum, stop byte and exact length are
all checked -- and ``split_frames`` resynchronises on a byte stream (noise, echoes, several
frames back to back)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from ...errors import ProtocolError

ACK = 0xE5
SHORT_START, LONG_START, STOP = 0x10, 0x68, 0x16

# C field values
SND_NKE, SND_UD, REQ_UD1, REQ_UD2, RSP_UD = 0x40, 0x53, 0x5A, 0x5B, 0x08
FCB, FCV = 0x20, 0x10
DIRECTION_MASTER_TO_SLAVE = 0x40


class FrameError(ProtocolError):
    """A byte sequence that is not a valid M-Bus frame."""

    category = "link"

    def __init__(self, message: str, category: str = "link") -> None:
        super().__init__(message)
        self.category = category


@dataclass(frozen=True)
class Frame:
    """One link-layer frame.  ``kind`` is "ack", "short", "control" or "long"; ``data`` is the
    user data after the CI field (long frames only)."""

    kind: str
    control: int = 0
    address: int = 0
    ci: Optional[int] = None
    data: bytes = b""

    @property
    def from_master(self) -> bool:
        """True for frames sent by the master (PRM bit)."""
        return self.kind != "ack" and bool(self.control & DIRECTION_MASTER_TO_SLAVE)

    @property
    def fcb(self) -> bool:
        """The frame count bit."""
        return bool(self.control & FCB)


def checksum(*parts: bytes) -> int:
    """The M-Bus checksum: the sum of the bytes, modulo 256."""
    return sum(b for part in parts for b in part) & 0xFF


def encode_frame(frame: Frame) -> bytes:
    """The frame's bytes on the wire."""
    if frame.kind == "ack":
        return bytes([ACK])
    if frame.kind == "short":
        body = bytes([frame.control & 0xFF, frame.address & 0xFF])
        return bytes([SHORT_START]) + body + bytes([checksum(body), STOP])
    if frame.ci is None:
        raise FrameError("control and long frames need a CI field", "encode")
    body = bytes([frame.control & 0xFF, frame.address & 0xFF, frame.ci & 0xFF]) + bytes(frame.data)
    if frame.kind == "control" and frame.data:
        raise FrameError("a control frame carries no user data", "encode")
    if len(body) > 255:
        raise FrameError(f"user data of {len(frame.data)} bytes does not fit one long frame (252 max)", "encode")
    length = len(body)
    return bytes([LONG_START, length, length, LONG_START]) + body + bytes([checksum(body), STOP])


def parse_frame(data: bytes) -> Frame:
    """Exactly one frame, validated; FrameError (with a category) otherwise."""
    data = bytes(data)
    if not data:
        raise FrameError("empty input: no frame", "length")
    first = data[0]
    if first == ACK:
        if len(data) != 1:
            raise FrameError(f"{len(data) - 1} bytes after a single-character frame", "length")
        return Frame("ack")
    if first == SHORT_START:
        if len(data) != 5:
            raise FrameError(f"a short frame is 5 bytes, got {len(data)}", "length")
        if data[4] != STOP:
            raise FrameError(f"no stop byte 0x16 at the end of the short frame (0x{data[4]:02X})", "stop")
        if checksum(data[1:3]) != data[3]:
            raise FrameError(f"checksum 0x{data[3]:02X} != 0x{checksum(data[1:3]):02X}", "checksum")
        return Frame("short", data[1], data[2])
    if first == LONG_START:
        if len(data) < 4:
            raise FrameError(f"frame cut short after {len(data)} bytes", "length")
        length = data[1]
        if data[2] != length:
            raise FrameError(f"length bytes differ (0x{length:02X} != 0x{data[2]:02X})", "length")
        if data[3] != LONG_START:
            raise FrameError(f"second start byte is 0x{data[3]:02X}, not 0x68", "start")
        if length < 3:
            raise FrameError(f"invalid M-Bus frame length {length} (at least 3)", "length")
        if len(data) != length + 6:
            raise FrameError(f"frame length {len(data)} bytes, the L field says {length + 6}", "length")
        if data[-1] != STOP:
            raise FrameError(f"no stop byte 0x16 at the end of the frame (0x{data[-1]:02X})", "stop")
        body = data[4:4 + length]
        if checksum(body) != data[4 + length]:
            raise FrameError(f"checksum 0x{data[4 + length]:02X} != 0x{checksum(body):02X}", "checksum")
        kind = "control" if length == 3 else "long"
        return Frame(kind, body[0], body[1], body[2], bytes(body[3:]))
    raise FrameError(f"invalid M-Bus frame start 0x{first:02X}", "start")


def _frame_length(buffer: bytes, start: int) -> Optional[int]:
    """Length of the frame that would start at ``start``; None if more bytes are needed."""
    first = buffer[start]
    if first == ACK:
        return 1
    if first == SHORT_START:
        return 5
    if len(buffer) - start < 4:
        return None
    return buffer[start + 1] + 6


def split_frames(buffer: bytes) -> Tuple[List[Frame], bytes, int]:
    """Valid frames found in a byte stream, the unconsumed tail (a frame still arriving), and how
    many bytes were skipped as noise.  A candidate that does not validate is skipped one byte at
    a time, so the reader resynchronises on the next real start."""
    frames: List[Frame] = []
    position, skipped = 0, 0
    buffer = bytes(buffer)
    while position < len(buffer):
        if buffer[position] not in (ACK, SHORT_START, LONG_START):
            position += 1
            skipped += 1
            continue
        length = _frame_length(buffer, position)
        if length is None or position + length > len(buffer):
            if buffer[position] == LONG_START and len(buffer) - position >= 4 and (
                    buffer[position + 1] != buffer[position + 2] or buffer[position + 3] != LONG_START):
                position += 1
                skipped += 1
                continue
            break
        try:
            frames.append(parse_frame(buffer[position:position + length]))
            position += length
        except FrameError:
            position += 1
            skipped += 1
    return frames, buffer[position:], skipped


def short_frame(control: int, address: int) -> bytes:
    """A short frame with this C and A field."""
    return encode_frame(Frame("short", control, address))


def snd_nke(address: int) -> bytes:
    """SND_NKE (link reset) to a primary address."""
    return short_frame(SND_NKE, address)


def req_ud2(address: int, fcb: bool = False) -> bytes:
    """REQ_UD2 to a primary address, with FCV and the given FCB."""
    return short_frame(REQ_UD2 | (FCB | FCV if fcb else 0), address)


def parse_hex(text: str) -> bytes:
    """Hex text (spaces and newlines allowed) -> bytes; FrameError 'hex' on anything else."""
    cleaned = "".join(text.split())
    try:
        if len(cleaned) % 2:
            raise ValueError
        return bytes.fromhex(cleaned)
    except ValueError:
        raise FrameError("input is not hex text (pairs of 0-9/A-F, spaces allowed)", "hex") from None
