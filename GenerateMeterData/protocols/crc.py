"""The reflected CRC-16 with polynomial 0x8005 (0xA001 reflected), table-driven, used by two
protocols with two starting values:

- CRC-16/MODBUS (initial 0xFFFF): Mercury frames (``protocols/mercury``);
- CRC-16/ARC (initial 0x0000): the CRC after ``!`` of a DSMR P1 / IEC 62056-21 mode D push telegram,
  over every byte from ``/`` through ``!`` (as dsmr_parser and AMSHAN check it).

Check values from the catalogue of parametrised CRC algorithms (reveng): MODBUS("123456789") =
0x4B37, ARC("123456789") = 0xBB3D."""
from __future__ import annotations

from typing import List

MODBUS_INIT = 0xFFFF
ARC_INIT = 0x0000


def _table() -> List[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()
#: the table, for a loop that steps the CRC one byte at a time inline (``crc16_a001`` is that step)
CRC_TABLE = tuple(_TABLE)


def crc16_a001(data: bytes, crc: int) -> int:
    """Go on with ``crc`` over ``data`` (pass MODBUS_INIT or ARC_INIT to start)."""
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc
