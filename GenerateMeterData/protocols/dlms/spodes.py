"""The SPODES meter (GOST R 58940, DLMS/COSEM for Russian meters) as data: the objects a
UM-40 SMART reads, with their interface class, how they are encoded and scaled, the profiles and
their columns, the clients and the server address rule. Read by the client and the imitator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..obis import ENERGY_REGISTERS, INSTANTANEOUS, Code, Direction, EnergyRegister, Instantaneous
from . import axdr
from .tables import UNIT_CODES

DATA, REGISTER, PROFILE_GENERIC, CLOCK_CLASS, ASSOCIATION_LN = 1, 3, 7, 8, 15

CLOCK = "0.0.1.0.0.255"
SERIAL = "0.0.96.1.0.255"
MODEL = "0.0.96.1.1.255"
LOGICAL_DEVICE_NAME = "0.0.42.0.0.255"
LOAD_PROFILE = "1.0.99.1.0.255"
DAILY_PROFILE = "1.0.98.2.0.255"
MONTHLY_PROFILE = "1.0.98.1.0.255"
POWER_EVENT_LOG = "0.0.99.98.2.255"
EVENT_LOGS = {f"0.0.99.98.{x}.255": name for x, name in enumerate(
    ("voltage", "current", "power", "data-correction", "external-influence", "communication", "access",
     "self-diagnostics", "power-quality", "tangent"))}
EVENT_CODE = "0.0.96.11.{x}.255"  # the event code object of log x

# clients (SAP) and their authentication
PUBLIC_CLIENT, READER_CLIENT, CONFIGURATOR_CLIENT = 16, 32, 48
CLIENT_MECHANISMS = {PUBLIC_CLIENT: 0, READER_CLIENT: 1, CONFIGURATOR_CLIENT: 1}
DEFAULT_PASSWORDS = {READER_CLIENT: b"12345678", CONFIGURATOR_CLIENT: b"12345678"}


def register_obis(code: Code) -> str:
    """The SPODES object of an electricity quantity's C.D.E (``protocols/obis.py``): 1.0.C.D.E.255."""
    c, d, e = code
    return f"1.0.{c}.{d}.{e}.255"


def energy_unit(direction: Direction) -> int:
    """The unit code of a direction's energy registers (Wh, varh)."""
    return UNIT_CODES[direction.unit]


#: The energy registers by SPODES object, direction by direction: A+ tariffs 0..4, A-, R+, R-.
ENERGY_OBIS: Dict[str, EnergyRegister] = {register_obis(r.code): r for r in ENERGY_REGISTERS}


@dataclass(frozen=True)
class QualityRegister:
    """One instantaneous value: OBIS, the quantity it is (``protocols/obis.py``), scaler and unit."""

    obis: str
    quantity: Instantaneous
    scaler: int
    unit: int

    @property
    def tag(self) -> str:
        """The Reading tag it fills (UA ... Freq)."""
        return self.quantity.tag


#: The scaler and unit code this meter gives each kind of instantaneous value.
_QUALITY_SCALE = {"U": (-2, 35), "I": (-3, 33), "P": (-3, 27), "Q": (-3, 29), "S": (-3, 28), "kP": (-4, 255),
                  "Ang": (-2, 8), "Freq": (-2, 44)}

QUALITY_REGISTERS: List[QualityRegister] = [QualityRegister(register_obis(q.code), q, *_QUALITY_SCALE[q.kind])
                                            for q in INSTANTANEOUS]

# load profile: the interval energy of A+ in 0.1 Wh (so a 30-minute slot of whole watts is exact)
LOAD_PROFILE_COLUMNS: List[Tuple[str, int, int, int]] = [  # obis, class, scaler, unit
    ("1.0.1.29.0.255", REGISTER, -1, 30),
]
BILLING_COLUMNS: List[Tuple[str, int, int, int]] = [
    (obis, REGISTER, 0, energy_unit(register.direction)) for obis, register in ENERGY_OBIS.items()]
EVENT_COLUMNS = [(EVENT_CODE.format(x=2), DATA, 0, 255)]

# each profile, its columns after the clock, its scaler profile and its capture period
PROFILES: Dict[str, dict] = {
    LOAD_PROFILE: {"columns": LOAD_PROFILE_COLUMNS, "scalers": "1.0.94.7.4.255", "period": 1800},
    DAILY_PROFILE: {"columns": BILLING_COLUMNS, "scalers": "1.0.94.7.3.255", "period": 86400},
    MONTHLY_PROFILE: {"columns": BILLING_COLUMNS, "scalers": "1.0.94.7.2.255", "period": 0},
}
for _log in EVENT_LOGS:
    PROFILES[_log] = {"columns": [(EVENT_CODE.format(x=_log.split(".")[3]), DATA, 0, 255)], "scalers": None,
                      "period": 0}
SCALER_PROFILES = {spec["scalers"]: name for name, spec in PROFILES.items() if spec["scalers"]}


def server_address_from_serial(serial: str, modulus: int = 10000, offset: int = 1000) -> int:
    """The HDLC physical address of a meter from its serial number: the last four digits plus
    1000 (the "serial number" addressing DLMS tools offer and SPODES meters commonly use; both
    numbers are parameters for meters that use another rule)."""
    digits = "".join(ch for ch in str(serial) if ch.isdigit())
    if not digits:
        raise ValueError(f"serial {serial!r} has no digits to derive an HDLC address from")
    return int(digits) % modulus + offset


def capture_object(obis: str, class_id: int, attribute: int = 2) -> axdr.Data:
    """One capture-object definition {class, logical name, attribute, data index}."""
    from .obis import obis_bytes
    return axdr.structure(axdr.Data(axdr.LONG_UNSIGNED, class_id), axdr.octets(obis_bytes(obis)),
                          axdr.Data(axdr.INTEGER, attribute), axdr.Data(axdr.LONG_UNSIGNED, 0))


def scaler_unit(scaler: int, unit: int) -> axdr.Data:
    """A scaler_unit structure."""
    return axdr.structure(axdr.Data(axdr.INTEGER, scaler), axdr.Data(axdr.ENUM, unit))


def find_energy(obis: str) -> Optional[EnergyRegister]:
    """The energy register of an OBIS code (``1.0.1.8.0.255``)."""
    return ENERGY_OBIS.get(obis)


def find_quality(obis: str) -> Optional[QualityRegister]:
    """The quality register of an OBIS code (``1.0.32.7.0.255``)."""
    for register in QUALITY_REGISTERS:
        if register.obis == obis:
            return register
    return None
