"""DLMS/COSEM knowledge as data: units (Blue Book unit enumeration), the common names HAN-port
readers use for OBIS codes, the implied scalers of lists that carry none, the layouts of lists
that carry no OBIS codes, and who makes a list by its list identifier."""
from __future__ import annotations

from typing import Dict, Tuple

# IEC 62056-6-2 unit enumeration -> symbol
UNITS: Dict[int, str] = {
    1: "a", 2: "mo", 3: "wk", 4: "d", 5: "h", 6: "min", 7: "s", 8: "°", 9: "°C", 10: "currency", 11: "m",
    12: "m/s", 13: "m3", 14: "m3", 15: "m3/h", 16: "m3/h", 17: "m3/d", 18: "m3/d", 19: "l", 20: "kg", 21: "N",
    22: "Nm", 23: "Pa", 24: "bar", 25: "J", 26: "J/h", 27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh",
    32: "varh", 33: "A", 34: "C", 35: "V", 36: "V/m", 37: "F", 38: "Ω", 39: "Ωm2/m", 40: "Wb", 41: "T",
    42: "A/m", 43: "H", 44: "Hz", 45: "1/(Wh)", 46: "1/(varh)", 47: "1/(VAh)", 48: "V2h", 49: "A2h",
    50: "kg/s", 51: "S", 52: "K", 53: "1/(V2h)", 54: "1/(A2h)", 55: "1/m3", 56: "%", 57: "Ah", 60: "Wh/m3",
    61: "J/m3", 62: "Mol %", 63: "g/m3", 64: "Pa s", 65: "J/kg", 66: "g/cm2", 67: "atm", 70: "dBm",
    71: "dBµV", 72: "dB", 253: "reserved", 254: "other", 255: "count",
}
UNIT_CODES: Dict[str, int] = {symbol: code for code, symbol in sorted(UNITS.items(), reverse=True)}

# (C, D, E) of electricity OBIS codes -> AMSHAN-style common name
COMMON_NAMES: Dict[Tuple[int, int, int], str] = {
    (1, 7, 0): "active_power_import", (2, 7, 0): "active_power_export",
    (3, 7, 0): "reactive_power_import", (4, 7, 0): "reactive_power_export",
    (21, 7, 0): "active_power_import_l1", (41, 7, 0): "active_power_import_l2", (61, 7, 0): "active_power_import_l3",
    (22, 7, 0): "active_power_export_l1", (42, 7, 0): "active_power_export_l2", (62, 7, 0): "active_power_export_l3",
    (23, 7, 0): "reactive_power_import_l1", (43, 7, 0): "reactive_power_import_l2",
    (63, 7, 0): "reactive_power_import_l3", (24, 7, 0): "reactive_power_export_l1",
    (44, 7, 0): "reactive_power_export_l2", (64, 7, 0): "reactive_power_export_l3",
    (31, 7, 0): "current_l1", (51, 7, 0): "current_l2", (71, 7, 0): "current_l3",
    (32, 7, 0): "voltage_l1", (52, 7, 0): "voltage_l2", (72, 7, 0): "voltage_l3",
    (1, 8, 0): "active_power_import_total", (2, 8, 0): "active_power_export_total",
    (3, 8, 0): "reactive_power_import_total", (4, 8, 0): "reactive_power_export_total",
    (1, 0, 0): "meter_datetime", (0, 2, 129): "list_ver_id", (96, 1, 0): "meter_id", (96, 1, 7): "meter_type",
    (0, 0, 5): "meter_id", (96, 1, 1): "meter_type",
}

# the unit a quantity has when a list carries no scaler_unit (by C and D of the OBIS code)
_POWER_C = {1: 27, 2: 27, 3: 29, 4: 29, 9: 28, 21: 27, 22: 27, 23: 29, 24: 29, 41: 27, 42: 27, 43: 29, 44: 29,
            61: 27, 62: 27, 63: 29, 64: 29}
_ENERGY_C = {1: 30, 2: 30, 3: 32, 4: 32, 5: 32, 6: 32, 7: 32, 8: 32, 9: 31}


def implied_unit(c: int, d: int) -> int:
    """The unit code an electricity quantity has by its OBIS C and D (0 when unknown)."""
    if d == 7:
        if c in (31, 51, 71, 11):
            return 33
        if c in (32, 52, 72, 12):
            return 35
        if c == 14:
            return 44
        return _POWER_C.get(c, 0)
    if d == 8:
        return _ENERGY_C.get(c, 0)
    return 0


# scalers of lists that send bare numbers: maker -> (C, D) -> power of ten
IMPLIED_SCALERS: Dict[str, Dict[Tuple[int, int], int]] = {
    "Kaifa": {(31, 7): -3, (51, 7): -3, (71, 7): -3, (32, 7): -1, (52, 7): -1, (72, 7): -1},
    "Kamstrup": {(31, 7): -2, (51, 7): -2, (71, 7): -2, (1, 8): 1, (2, 8): 1, (3, 8): 1, (4, 8): 1},
}

# lists without OBIS codes (Kaifa MA304/MA105, Norway): element count -> OBIS of each element
_KAIFA_THREE_PHASE = ("1.1.0.2.129.255", "0.0.96.1.0.255", "0.0.96.1.7.255", "1.0.1.7.0.255", "1.0.2.7.0.255",
                      "1.0.3.7.0.255", "1.0.4.7.0.255", "1.0.31.7.0.255", "1.0.51.7.0.255", "1.0.71.7.0.255",
                      "1.0.32.7.0.255", "1.0.52.7.0.255", "1.0.72.7.0.255")
_KAIFA_SINGLE_PHASE = ("1.1.0.2.129.255", "0.0.96.1.0.255", "0.0.96.1.7.255", "1.0.1.7.0.255", "1.0.2.7.0.255",
                       "1.0.3.7.0.255", "1.0.4.7.0.255", "1.0.31.7.0.255", "1.0.32.7.0.255")
_HOURLY = ("0.0.1.0.0.255", "1.0.1.8.0.255", "1.0.2.8.0.255", "1.0.3.8.0.255", "1.0.4.8.0.255")
BARE_LISTS: Dict[int, Tuple[str, ...]] = {
    1: ("1.0.1.7.0.255",),
    9: _KAIFA_SINGLE_PHASE,
    13: _KAIFA_THREE_PHASE,
    14: _KAIFA_SINGLE_PHASE + _HOURLY,
    18: _KAIFA_THREE_PHASE + _HOURLY,
}

# list identifier prefix -> maker
LIST_MAKERS: Dict[str, str] = {"AIDON": "Aidon", "KFM": "Kaifa", "KAMSTRUP": "Kamstrup", "ISK": "Iskraemeco",
                               "LGF": "Landis+Gyr", "LGZ": "Landis+Gyr"}
