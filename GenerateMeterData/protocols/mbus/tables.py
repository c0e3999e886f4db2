"""EN 13757-3 tables as data: value information (primary VIF, the FD and FB extension tables),
combinable VIFE, data field lengths, media, error codes and the fixed-structure units.

Each entry is (unit, quantity, exponent) with units and quantity names in the vocabulary of
libmbus's normalised output, so records decode to the same unit and quantity strings that
tool prints."""
from __future__ import annotations

from typing import Dict, Tuple

Entry = Tuple[str, str, float]  # normalised unit, quantity, multiplier


def _series(base: int, count: int, unit: str, quantity: str, first_exponent: int) -> Dict[int, Entry]:
    return {base + n: (unit, quantity, 10.0 ** (first_exponent + n)) for n in range(count)}


PRIMARY: Dict[int, Entry] = {}
PRIMARY.update(_series(0x00, 8, "Wh", "Energy", -3))
PRIMARY.update(_series(0x08, 8, "J", "Energy", 0))
PRIMARY.update(_series(0x10, 8, "m^3", "Volume", -6))
PRIMARY.update(_series(0x18, 8, "kg", "Mass", -3))
PRIMARY.update({0x20 + n: ("s", "On time", f) for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0))})
PRIMARY.update({0x24 + n: ("s", "Operating time", f) for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0))})
PRIMARY.update(_series(0x28, 8, "W", "Power", -3))
PRIMARY.update(_series(0x30, 8, "J/h", "Power", 0))
PRIMARY.update(_series(0x38, 8, "m^3/h", "Volume flow", -6))
PRIMARY.update(_series(0x40, 8, "m^3/min", "Volume flow", -7))
PRIMARY.update(_series(0x48, 8, "m^3/s", "Volume flow", -9))
PRIMARY.update(_series(0x50, 8, "kg/h", "Mass flow", -3))
PRIMARY.update(_series(0x58, 4, "°C", "Flow temperature", -3))
PRIMARY.update(_series(0x5C, 4, "°C", "Return temperature", -3))
PRIMARY.update(_series(0x60, 4, "K", "Temperature difference", -3))
PRIMARY.update(_series(0x64, 4, "°C", "External temperature", -3))
PRIMARY.update(_series(0x68, 4, "bar", "Pressure", -3))
PRIMARY.update({0x6C: ("-", "Time point (date)", 1.0), 0x6D: ("-", "Time point (date & time)", 1.0),
                0x6E: ("Units for H.C.A.", "H.C.A.", 1.0), 0x6F: ("Reserved", "Reserved", 0.0)})
PRIMARY.update({0x70 + n: ("s", "Averaging Duration", f) for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0))})
PRIMARY.update({0x74 + n: ("s", "Actuality Duration", f) for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0))})
PRIMARY.update({0x78: ("", "Fabrication No", 1.0), 0x79: ("", "(Enhanced) Identification", 1.0),
                0x7A: ("", "Bus Address", 1.0), 0x7E: ("", "Any VIF", 1.0),
                0x7F: ("", "Manufacturer specific", 1.0)})

_MONTH, _YEAR = 2629743.83, 31556926.0
EXTENSION_FD: Dict[int, Entry] = {}
EXTENSION_FD.update(_series(0x00, 4, "Currency units", "Credit", -3))
EXTENSION_FD.update(_series(0x04, 4, "Currency units", "Debit", -3))
for _code, _name in ((0x08, "Access Number (transmission count)"), (0x09, "Medium"), (0x0A, "Manufacturer"),
                     (0x0B, "Parameter set identification"), (0x0C, "Model / Version"),
                     (0x0D, "Hardware version"), (0x0E, "Firmware version"), (0x0F, "Software version"),
                     (0x10, "Customer location"), (0x11, "Customer"), (0x12, "Access Code User"),
                     (0x13, "Access Code Operator"), (0x14, "Access Code System Operator"),
                     (0x15, "Access Code Developer"), (0x16, "Password"), (0x17, "Error flags"),
                     (0x18, "Error mask"), (0x1A, "Digital Output"), (0x1B, "Digital Input"),
                     (0x1E, "Retry"), (0x20, "First storage # for cyclic storage"),
                     (0x21, "Last storage # for cyclic storage"), (0x22, "Size of storage block"),
                     (0x3A, "Dimensionless"), (0x60, "Reset counter"), (0x61, "Cumulation counter"),
                     (0x62, "Control signal"), (0x63, "Day of week"), (0x64, "Week number"),
                     (0x65, "Time point of day change"), (0x66, "State of parameter activation"),
                     (0x67, "Special supplier information"), (0x70, "Date and time of battery change")):
    EXTENSION_FD[_code] = ("", _name, 1.0)
EXTENSION_FD.update({0x1C: ("Baud", "Baudrate", 1.0), 0x1D: ("Bittimes", "Response delay time", 1.0)})
EXTENSION_FD.update({0x24 + n: ("s", "Storage interval", f)
                     for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0, _MONTH, _YEAR))})
EXTENSION_FD.update({0x2C + n: ("s", "Duration since last readout", f)
                     for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0))})
EXTENSION_FD.update({0x31 + n: ("s", "Duration of tariff", f) for n, f in enumerate((60.0, 3600.0, 86400.0))})
EXTENSION_FD.update({0x34 + n: ("s", "Period of tariff", f)
                     for n, f in enumerate((1.0, 60.0, 3600.0, 86400.0, _MONTH, _YEAR))})
EXTENSION_FD.update(_series(0x40, 16, "V", "Voltage", -9))
EXTENSION_FD.update(_series(0x50, 16, "A", "Current", -12))
EXTENSION_FD.update({0x68 + n: ("s", "Duration since last cumulation", f)
                     for n, f in enumerate((3600.0, 86400.0, _MONTH, _YEAR))})
EXTENSION_FD.update({0x6C + n: ("s", "Operating time battery", f)
                     for n, f in enumerate((3600.0, 86400.0, _MONTH, _YEAR))})
for _code in list(range(0x00, 0x80)):
    EXTENSION_FD.setdefault(_code, ("Reserved", "Reserved", 1.0))

EXTENSION_FB: Dict[int, Entry] = {}
EXTENSION_FB.update({0x00: ("Wh", "Energy", 1e5), 0x01: ("Wh", "Energy", 1e6),
                     0x08: ("J", "Energy", 1e8), 0x09: ("J", "Energy", 1e9),
                     0x10: ("m^3", "Volume", 1e2), 0x11: ("m^3", "Volume", 1e3),
                     0x18: ("kg", "Mass", 1e5), 0x19: ("kg", "Mass", 1e6),
                     0x21: ("feet^3", "Volume", 1e-1), 0x22: ("American gallon", "Volume", 1e-1),
                     0x23: ("American gallon", "Volume", 1.0),
                     0x24: ("American gallon/min", "Volume flow", 1e-3),
                     0x25: ("American gallon/min", "Volume flow", 1.0),
                     0x26: ("American gallon/h", "Volume flow", 1.0),
                     0x28: ("W", "Power", 1e5), 0x29: ("W", "Power", 1e6),
                     0x30: ("J/h", "Power", 1e8), 0x31: ("J/h", "Power", 1e9)})
# EN 13757-3:2013 additions that libmbus f09d613 still lists as reserved
EXTENSION_FB.update({0x1A: ("%", "Relative humidity", 1e-1), 0x1B: ("%", "Relative humidity", 1.0)})
EXTENSION_FB.update(_series(0x58, 4, "°F", "Flow temperature", -3))
EXTENSION_FB.update(_series(0x5C, 4, "°F", "Return temperature", -3))
EXTENSION_FB.update(_series(0x60, 4, "°F", "Temperature difference", -3))
EXTENSION_FB.update(_series(0x64, 4, "°F", "External temperature", -3))
EXTENSION_FB.update(_series(0x70, 4, "°F", "Cold / Warm Temperature Limit", -3))
EXTENSION_FB.update(_series(0x74, 4, "°C", "Cold / Warm Temperature Limit", -3))
EXTENSION_FB.update(_series(0x78, 8, "W", "Cumul count max power", -3))
for _code in list(range(0x00, 0x80)):
    EXTENSION_FB.setdefault(_code, ("Reserved", "Reserved", 1.0))

# Combinable (orthogonal) VIFE, EN 13757-3 table 15 -- descriptions only; the multiplicative and
# additive corrections (0x70-0x7B, 0x7D) change the value and are applied by the decoder.
COMBINABLE_VIFE: Dict[int, str] = {
    0x00: "none", 0x13: "inverse compact profile", 0x14: "relative deviation", 0x15: "record error codes",
    0x16: "standard conform data content", 0x17: "compact profile with register numbers",
    0x18: "compact profile", 0x20: "per second", 0x21: "per minute", 0x22: "per hour", 0x23: "per day",
    0x24: "per week", 0x25: "per month", 0x26: "per year", 0x27: "per revolution / measurement",
    0x28: "increment per input pulse on input channel 0", 0x29: "increment per input pulse on input channel 1",
    0x2A: "increment per output pulse on output channel 0", 0x2B: "increment per output pulse on output channel 1",
    0x2C: "per litre", 0x2D: "per m3", 0x2E: "per kg", 0x2F: "per K", 0x30: "per kWh", 0x31: "per GJ",
    0x32: "per kW", 0x33: "per (K*l)", 0x34: "per V", 0x35: "per A", 0x36: "multiplied by s",
    0x37: "multiplied by s/V", 0x38: "multiplied by s/A", 0x39: "start date(/time) of",
    0x3A: "VIF contains uncorrected unit or value", 0x3B: "accumulation only if positive contributions",
    0x3C: "accumulation of abs value only if negative contributions", 0x3D: "non-metric unit",
    0x3E: "value at base conditions", 0x3F: "OBIS declaration",
    0x40: "lower limit value", 0x48: "upper limit value", 0x41: "number of exceeds of lower limit",
    0x49: "number of exceeds of upper limit", 0x7E: "future value", 0x7F: "manufacturer specific VIFE follows",
}
for _n in range(8):
    COMBINABLE_VIFE[0x70 + _n] = f"multiplicative correction factor 10^{_n - 6}"
for _n in range(4):
    COMBINABLE_VIFE[0x78 + _n] = f"additive correction constant 10^{_n - 3} unit of VIF"
COMBINABLE_VIFE[0x7D] = "multiplicative correction factor 10^3"
for _n in range(0x00, 0x10):
    COMBINABLE_VIFE.setdefault(_n, "error code (EN 13757-3 table 16)")

# DIF data field -> data length in bytes (None: variable, LVAR follows)
DATA_LENGTH = {0x0: 0, 0x1: 1, 0x2: 2, 0x3: 3, 0x4: 4, 0x5: 4, 0x6: 6, 0x7: 8, 0x8: 0, 0x9: 1, 0xA: 2,
               0xB: 3, 0xC: 4, 0xD: None, 0xE: 6, 0xF: 0}

FUNCTIONS = ("Instantaneous value", "Maximum value", "Minimum value", "Value during error state")

# Device types (medium) of the variable data header, in libmbus's wording (what ``mbus_parse_hex``
# prints); 0x31-0x33 carry EN 13757-3's names where libmbus still says "Reserved".
MEDIA = {0x00: "Other", 0x01: "Oil", 0x02: "Electricity", 0x03: "Gas", 0x04: "Heat: Outlet", 0x05: "Steam",
         0x06: "Warm water (30-90°C)", 0x07: "Water", 0x08: "Heat Cost Allocator", 0x09: "Compressed Air",
         0x0A: "Cooling load meter: Outlet", 0x0B: "Cooling load meter: Inlet", 0x0C: "Heat: Inlet",
         0x0D: "Heat / Cooling load meter", 0x0E: "Bus/System", 0x0F: "Unknown Medium",
         0x10: "Irrigation Water", 0x11: "Water Logger", 0x12: "Gas Logger", 0x13: "Gas Converter",
         0x14: "Calorific value", 0x15: "Hot water (>90°C)", 0x16: "Cold water", 0x17: "Dual water",
         0x18: "Pressure", 0x19: "A/D Converter", 0x1A: "Smoke Detector", 0x1B: "Ambient Sensor",
         0x1C: "Gas Detector", 0x20: "Breaker: Electricity", 0x21: "Valve: Gas or Water",
         0x25: "Customer Unit: Display Device", 0x28: "Waste Water", 0x29: "Garbage", 0x30: "Service Unit",
         0x31: "Communication controller", 0x32: "Unidirectional repeater", 0x33: "Bidirectional repeater",
         0x36: "Radio Converter: System", 0x37: "Radio Converter: Meter"}
RESERVED_MEDIA = frozenset([0x22, 0x23, 0x24, 0x26, 0x27, *range(0x2A, 0x30), 0x34, *range(0x38, 0x40)])


def medium_name(code: int) -> str:
    """The name of a variable-header medium code; "Reserved" for the reserved ones and
    "Unknown medium (0x..)" for the rest, as libmbus prints them."""
    name = MEDIA.get(code)
    if name is not None:
        return name
    return "Reserved" if code in RESERVED_MEDIA else f"Unknown medium (0x{code:02x})"


FIXED_MEDIA = ("Other", "Oil", "Electricity", "Gas", "Heat", "Steam", "Hot Water", "Water", "H.C.A.",
               "Reserved", "Gas Mode 2", "Heat Mode 2", "Hot Water Mode 2", "Water Mode 2",
               "H.C.A. Mode 2", "Reserved")

FIXED_UNITS = ("h,m,s", "D,M,Y", "Wh", "10 Wh", "100 Wh", "kWh", "10 kWh", "100 kWh", "MWh", "10 MWh",
               "100 MWh", "kJ", "10 kJ", "100 kJ", "MJ", "10 MJ", "100 MJ", "GJ", "10 GJ", "100 GJ", "W",
               "10 W", "100 W", "kW", "10 kW", "100 kW", "MW", "10 MW", "100 MW", "kJ/h", "10 kJ/h",
               "100 kJ/h", "MJ/h", "10 MJ/h", "100 MJ/h", "GJ/h", "10 GJ/h", "100 GJ/h", "ml", "10 ml",
               "100 ml", "l", "10 l", "100 l", "m^3", "10 m^3", "100 m^3", "ml/h", "10 ml/h", "100 ml/h",
               "l/h", "10 l/h", "100 l/h", "m^3/h", "10 m^3/h", "100 m^3/h", "1e-3 °C", "units for HCA",
               "reserved", "reserved", "reserved", "reserved", "reserved but historic", "without units")

ERRORS = {0x00: "Unspecified error", 0x01: "Unimplemented CI-Field", 0x02: "Buffer too long, truncated",
          0x03: "Too many records", 0x04: "Premature end of record", 0x05: "More than 10 DIFE\u00b4s",
          0x06: "More than 10 VIFE\u00b4s", 0x07: "Reserved", 0x08: "Application busy",
          0x09: "Too many readouts"}


#: The status byte of a variable data structure's header (EN 13757-3, table "Coding of the status
#: field"): bits 0-1 the application's state, then one flag a bit; bits 5-7 are the manufacturer's.
APPLICATION_STATUS: Dict[int, str] = {0: "no error", 1: "application busy", 2: "any application error",
                                      3: "abnormal condition / alarm"}
STATUS_FLAGS: Dict[int, str] = {0x04: "power low", 0x08: "permanent error", 0x10: "temporary error"}
#: The status bits whose values a reader does not take: the application's errors and the errors
#: (power low alone -- a battery warning -- leaves the values as they are).
STATUS_REFUSED = 0x03 | 0x08 | 0x10


def status_text(status: int) -> str:
    """What a status byte says, in EN 13757-3's words."""
    parts = [APPLICATION_STATUS[status & 0x03]] if status & 0x03 else []
    parts += [text for bit, text in STATUS_FLAGS.items() if status & bit]
    if status & 0xE0:
        parts.append(f"manufacturer bits {status >> 5:03b}")
    return ", ".join(parts) or APPLICATION_STATUS[0]
