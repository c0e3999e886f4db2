"""Register overrides of an imitated meter (``imitate -o ADDRESS:VALUE``): addresses by OBIS in
decimal or Neva's hex notation, values with units, so every path that reports a register (IEC
readout, programming mode, Neva list registers, M-Bus records) reports the override."""
from __future__ import annotations

import re as _re
from typing import Dict, Optional

from .obis import Code, energy_code
from .reading import UNIT_FACTORS

#: OBIS value group C letters of IEC 62056-61 (C.1.0 is the manufacturer's serial, 96.1.0).
C_LETTERS = {"C": 96, "F": 97, "L": 98, "P": 99}
#: Neva list registers (C.08.80: total and tariffs 1-4 in kWh) -> the direction of energy they hold
#: (0F is Neva's own A+ group, 01 answers the same; a capture reads the first of each direction).
NEVA_LISTS: Dict[Code, str] = {(15, 8, 128): "A+", (1, 8, 128): "A+", (2, 8, 128): "A-", (3, 8, 128): "R+",
                               (4, 8, 128): "R-"}


def obis_code(address: str) -> Optional[tuple]:
    """(C, D, E) of a register address: Neva's hex form ``20.07.00*FF`` or ``200700FF`` (two hex
    digits a group, four groups) or decimal OBIS ``32.7.0``, ``1-0:1.8.0*255``, ``C.1.0``; None when it is
    neither."""
    text = address.strip()
    match = _re.match(r"^([0-9A-Fa-f]{2})\.?([0-9A-Fa-f]{2})\.?([0-9A-Fa-f]{2})\*?[0-9A-Fa-f]{2}$", text)
    if match:
        return tuple(int(g, 16) for g in match.groups())
    match = _re.match(r"^(?:\d+-\d+:)?(\d+|[CFLP])\.(\d+)\.(\d+)(?:\*\d+)?$", text, _re.I)
    if match:
        c = C_LETTERS.get(match.group(1).upper())
        return (c if c is not None else int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return None


def is_neva_address(address: str) -> bool:
    """Whether an address is written in Neva's hex form (values without units)."""
    return bool(_re.match(r"^[0-9A-Fa-f]{2}\.?[0-9A-Fa-f]{2}\.?[0-9A-Fa-f]{2}\*?[0-9A-Fa-f]{2}$", address.strip()))


def number(text: str, default_unit: str = "") -> Optional[float]:
    """An override value (``1234.5*kWh``, ``231.5``) in its base unit (Wh, V ...); None when it is no number."""
    match = _re.match(r"^\s*([-+]?\d+(?:\.\d*)?)\s*(?:\*\s*(\S+))?\s*$", text or "")
    if not match:
        return None
    unit = (match.group(2) or default_unit).lower()
    return float(match.group(1)) * UNIT_FACTORS.get(unit, 1.0)


class RegisterOverrides:
    """``-o ADDRESS:VALUE`` overrides by OBIS register, so every path that reports a register
    reports the override: the IEC readout, programming mode (decimal or Neva hex address), the
    Neva list registers (``0F.08.80*FF``: total and tariffs 1-4) and the M-Bus records.  An
    energy value without a unit is kWh (as the readout prints it)."""

    def __init__(self, items: Optional[Dict[str, str]] = None) -> None:
        self.by_code: Dict[tuple, str] = {}
        for address, value in (items or {}).items():
            code = obis_code(address)
            if code is not None:
                self.by_code[code] = value

    def __bool__(self) -> bool:
        return bool(self.by_code)

    def energy(self, direction: str, tariff: int) -> Optional[float]:
        """The register of a direction (A+, A-, R+, R-) and tariff in Wh, or None."""
        text = self.by_code.get(energy_code(direction, tariff))
        if text is not None:
            return number(text, "kwh")
        for code, which in NEVA_LISTS.items():
            if which == direction and code in self.by_code:
                parts = self.by_code[code].split(",")
                if tariff < len(parts):
                    return number(parts[tariff], "kwh")
        return None

    def number(self, code: tuple) -> Optional[float]:
        """A scalar register's override in its base unit (V, A, W, Hz ...), or None."""
        text = self.by_code.get(code)
        return None if text is None else number(text)

    def text(self, code: tuple) -> Optional[str]:
        """A register's override as given, or None."""
        return self.by_code.get(code)


