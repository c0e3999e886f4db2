"""The IEC 62056-47 wrapper (DLMS/COSEM over TCP): version 1, source and destination wPort,
length, then the APDU."""
from __future__ import annotations

from typing import Dict, Tuple

from .errors import DLMSWrapperError

WRAPPER_VERSION = 1
HEADER_LENGTH = 8


def wrap(apdu: bytes, source: int, destination: int) -> bytes:
    """One wrapper PDU."""
    if len(apdu) > 0xFFFF:
        raise DLMSWrapperError(f"APDU of {len(apdu)} bytes does not fit a wrapper PDU")
    return (WRAPPER_VERSION.to_bytes(2, "big") + source.to_bytes(2, "big") + destination.to_bytes(2, "big")
            + len(apdu).to_bytes(2, "big") + apdu)


def parse_wrapper(data: bytes, pos: int = 0) -> Tuple[Dict[str, int], bytes, int]:
    """(header fields, APDU, position after it) of the wrapper PDU at ``pos``."""
    if len(data) - pos < HEADER_LENGTH:
        raise DLMSWrapperError("wrapper header needs 8 bytes")
    version = int.from_bytes(data[pos:pos + 2], "big")
    if version != WRAPPER_VERSION:
        raise DLMSWrapperError(f"wrapper version {version}, expected 1")
    source = int.from_bytes(data[pos + 2:pos + 4], "big")
    destination = int.from_bytes(data[pos + 4:pos + 6], "big")
    length = int.from_bytes(data[pos + 6:pos + 8], "big")
    end = pos + HEADER_LENGTH + length
    if end > len(data):
        raise DLMSWrapperError(f"wrapper length says {length} bytes, {len(data) - pos - HEADER_LENGTH} follow")
    return ({"version": version, "source": source, "destination": destination, "length": length},
            bytes(data[pos + HEADER_LENGTH:end]), end)


class WrapperReader:
    """Wrapper PDUs out of a TCP byte stream fed in chunks."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list:
        """[(header, apdu)] of every complete PDU now available."""
        self.buffer += data
        out = []
        while len(self.buffer) >= HEADER_LENGTH:
            length = int.from_bytes(self.buffer[6:8], "big")
            if len(self.buffer) < HEADER_LENGTH + length:
                break
            header, apdu, end = parse_wrapper(bytes(self.buffer[:HEADER_LENGTH + length]))
            del self.buffer[:end]
            out.append((header, apdu))
        return out
