"""OBIS codes (IEC 62056-61): parse, format, and the code's text forms."""
from __future__ import annotations

import re
from typing import Tuple, Union

from .errors import DLMSObisError

ObisCode = Tuple[int, int, int, int, int, int]
_TEXT = re.compile(r"^\s*(\d+)[-.](\d+)[:.](\d+)\.(\d+)\.(\d+)(?:[.*](\d+))?\s*$")


def parse_obis(value: Union[str, bytes, ObisCode]) -> ObisCode:
    """``1-0:1.8.0.255``, ``1.0.1.8.0.255``, ``1-0:1.8.0`` (F = 255), 6 bytes or a 6-tuple."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 6:
            raise DLMSObisError(f"an OBIS code has 6 bytes, got {len(value)}")
        return tuple(value)  # type: ignore[return-value]
    if isinstance(value, tuple):
        if len(value) != 6 or not all(isinstance(v, int) and 0 <= v <= 255 for v in value):
            raise DLMSObisError(f"OBIS {value!r}: give six numbers 0-255")
        return value
    match = _TEXT.match(value)
    if not match:
        raise DLMSObisError(f"OBIS {value!r}: write it as A-B:C.D.E.F, e.g. 1-0:1.8.0.255")
    parts = tuple(int(g) if g is not None else 255 for g in match.groups())
    if any(p > 255 for p in parts):
        raise DLMSObisError(f"OBIS {value!r}: every group is 0-255")
    return parts  # type: ignore[return-value]


def obis_text(code: Union[bytes, ObisCode]) -> str:
    """``A-B:C.D.E.F``; DLMSError for anything but six values (what a meter or a file says)."""
    if not isinstance(code, (bytes, bytearray, tuple)) or len(code) != 6:
        size = len(code) if hasattr(code, "__len__") else type(code).__name__
        raise DLMSObisError(f"an OBIS code has 6 bytes, got {size}")
    a, b, c, d, e, f = code
    return f"{a}-{b}:{c}.{d}.{e}.{f}"


def obis_bytes(code: Union[str, ObisCode]) -> bytes:
    """The six bytes of an OBIS code."""
    return bytes(parse_obis(code))
