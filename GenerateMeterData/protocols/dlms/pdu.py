"""What every DLMS APDU module shares: the ``Apdu`` surface, a bounds-checked ``Reader`` over APDU
bytes, the one error of a malformed APDU, and the LLC header that comes before an APDU on HDLC."""
from __future__ import annotations

from .axdr import Data, decode_data, decode_length
from .errors import DLMSApduError, DLMSError


def apdu_error(message: str) -> DLMSApduError:
    """The error of an APDU that does not decode (category ``apdu``)."""
    return DLMSApduError(message)


class Reader:
    """Cursor over APDU bytes; every read checks the bounds."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int, what: str) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise apdu_error(f"APDU ends inside the {what}")
        out = self.data[self.pos:end]
        self.pos = end
        return bytes(out)

    def byte(self, what: str) -> int:
        if self.pos >= len(self.data):
            raise apdu_error(f"APDU ends before the {what}")
        self.pos += 1
        return self.data[self.pos - 1]

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def length(self, what: str) -> int:
        try:
            n, self.pos = decode_length(self.data, self.pos)
        except DLMSError:
            raise apdu_error(f"bad length of the {what}") from None
        return n

    def data_value(self) -> Data:
        value, self.pos = decode_data(self.data, self.pos)
        return value

    def rest(self) -> bytes:
        out = bytes(self.data[self.pos:])
        self.pos = len(self.data)
        return out

    def end(self, what: str) -> None:
        if self.pos != len(self.data):
            raise apdu_error(f"{len(self.data) - self.pos} bytes left over after the {what}")


class Apdu:
    """Common surface: ``encode()``, ``as_dict()`` and the APDU's name."""

    name = "apdu"

    def encode(self) -> bytes:  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def as_dict(self) -> dict:  # pragma: no cover
        raise NotImplementedError


def unwrap_llc(data: bytes) -> bytes:
    """A PDU with or without its LLC header E6 E6/E7 00."""
    if len(data) >= 3 and data[0] == 0xE6 and data[1] in (0xE6, 0xE7) and data[2] == 0:
        return data[3:]
    return data
