"""RTU-327, the binary upstream protocol a head-end polls a UM-40 SMART concentrator with (TCP
port 8888): the frame codec and check code (``frames``), each command's fields (``commands``)
and a client (``client``).  This package knows bytes only; what a meter.db row becomes on the
wire lives in ``GenerateMeterData.device``."""
from __future__ import annotations

from .client import DEFAULT_PORT, Rtu327Client, password_bytes
from .commands import nsh
from .frames import (BadPassword, Command, CrcError, Flood, FrameError, OverlongFrame, Result, ResultError,
                     Rtu327Error, Stall, TruncatedFrame, crc16, crc16_plain)

__all__ = ["DEFAULT_PORT", "Rtu327Client", "password_bytes", "nsh", "BadPassword", "Command", "CrcError", "Flood",
           "FrameError", "OverlongFrame", "Result", "ResultError", "Rtu327Error", "Stall", "TruncatedFrame",
           "crc16", "crc16_plain"]
