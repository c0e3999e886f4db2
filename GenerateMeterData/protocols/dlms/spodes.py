"""The SPODES meter (GOST R 58940, DLMS/COSEM for Russian meters) as data: the objects a
UM-40 SMART reads, with their interface class, how they are encoded and scaled, the profiles and
their columns, the clients and the server address rule. Read by the client and the imitator.

``SERVED_OBJECTS`` is the one list of the objects the imitator serves (class, version, the
attributes it answers); the current association's ``object_list`` (Association LN attribute 2,
IEC 62056-6-2 / DLMS UA 1000-1 "Blue Book" 4.4.3) is derived from it by ``object_list``."""
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
CURRENT_ASSOCIATION = "0.0.40.0.0.255"
# the firmware version: Blue Book "active firmware version" (program entries 0.b.0.2.1.255) and the
# SPODES device ID 3 (0.0.96.1.2.255, "metering software version"); third-party SPODES clients look
# for one then the other and read it as MAJOR.MINOR.PATCH
FIRMWARE_VERSION = "0.0.0.2.1.255"
SOFTWARE_VERSION = "0.0.96.1.2.255"
FIRMWARE = "1.0.0"   # what the imitated meter reports (the generated meter has no firmware; -o overrides)
LOAD_PROFILE = "1.0.99.1.0.255"
DAILY_PROFILE = "1.0.98.2.0.255"
MONTHLY_PROFILE = "1.0.98.1.0.255"
POWER_EVENT_LOG = "0.0.99.98.2.255"
EVENT_LOGS = {f"0.0.99.98.{x}.255": name for x, name in enumerate(
    ("voltage", "current", "power", "data-correction", "external-influence", "communication", "access",
     "self-diagnostics", "power-quality", "tangent"))}
EVENT_CODE = "0.0.96.11.{x}.255"  # the event code object of log x
#: the event log each event code object belongs to
EVENT_LOG_OF_CODE = {EVENT_CODE.format(x=log.split(".")[4]): log for log in EVENT_LOGS}
INTERVAL_ENERGY = "1.0.1.29.0.255"  # A+ of the last load-profile interval (the load profile's column)

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
    (INTERVAL_ENERGY, REGISTER, -1, 30),
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
    PROFILES[_log] = {"columns": [(EVENT_CODE.format(x=_log.split(".")[4]), DATA, 0, 255)], "scalers": None,
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


# ---- the objects served, and the object list derived from them ---------------------------------
#: interface class -> (version served, number of attributes, number of methods) per the Blue Book
CLASS_SHAPES: Dict[int, Tuple[int, int, int]] = {
    DATA: (0, 2, 0), REGISTER: (0, 3, 1), PROFILE_GENERIC: (1, 8, 2), CLOCK_CLASS: (0, 9, 6),
    ASSOCIATION_LN: (1, 9, 4),
}
#: the selective access a profile's buffer (attribute 2) takes: by range (1) and by entry (2)
PROFILE_SELECTORS = (1, 2)
#: a profile's sort_method (5: fifo) and sort_object (6: the clock, every profile's first column)
SORT_FIFO = 1


def sort_object() -> axdr.Data:
    """The sort_object of every profile: the clock's time (a capture object definition)."""
    return capture_object(CLOCK, CLOCK_CLASS)


#: the access modes of an attribute (Blue Book attribute_access_item.access_mode)
NO_ACCESS, READ_ONLY = 0, 1


@dataclass(frozen=True)
class CosemObject:
    """One object the imitator serves: logical name, interface class and the attributes it answers
    (1, the logical name, always; the others are refused as read-write-denied)."""

    obis: str
    class_id: int
    readable: Tuple[int, ...]

    @property
    def version(self) -> int:
        return CLASS_SHAPES[self.class_id][0]

    def selectors(self, attribute: int) -> Tuple[int, ...]:
        """The access selectors an attribute takes (a profile's buffer: by range and by entry)."""
        return PROFILE_SELECTORS if self.class_id == PROFILE_GENERIC and attribute == 2 and \
            self.obis in PROFILES else ()


def _served() -> List[CosemObject]:
    objects = [CosemObject(CURRENT_ASSOCIATION, ASSOCIATION_LN, (1, 2, 3, 4, 5, 6, 8)),
               CosemObject(LOGICAL_DEVICE_NAME, DATA, (1, 2)),
               CosemObject(SERIAL, DATA, (1, 2)), CosemObject(MODEL, DATA, (1, 2)),
               CosemObject(SOFTWARE_VERSION, DATA, (1, 2)), CosemObject(FIRMWARE_VERSION, DATA, (1, 2)),
               CosemObject(CLOCK, CLOCK_CLASS, (1, 2, 3))]
    objects += [CosemObject(obis, REGISTER, (1, 2, 3)) for obis in ENERGY_OBIS]
    objects += [CosemObject(register.obis, REGISTER, (1, 2, 3)) for register in QUALITY_REGISTERS]
    columns = {(obis, class_id) for spec in PROFILES.values() for obis, class_id, _, _ in spec["columns"]}
    objects += [CosemObject(obis, class_id, (1, 2, 3) if class_id == REGISTER else (1, 2))
                for obis, class_id in sorted(columns) if obis not in ENERGY_OBIS]
    objects += [CosemObject(obis, PROFILE_GENERIC, tuple(range(1, 9))) for obis in list(PROFILES) + list(SCALER_PROFILES)]
    return objects


#: every object the imitator serves, in the order the object list gives them
SERVED_OBJECTS: List[CosemObject] = _served()


def object_list(objects: List[CosemObject]) -> axdr.Data:
    """Association LN attribute 2 (version 1): an array of object_list_element
    {class_id long-unsigned, version unsigned, logical_name octet-string, access_rights
    {attribute_access array of {attribute_id integer, access_mode enum, access_selectors
    null-data | array of integer}, method_access array of {method_id integer, access_mode enum}}}.
    Every attribute the object answers is read-only, the others no-access; methods no-access
    (ACTION is refused)."""
    from .obis import obis_bytes
    elements = []
    for item in objects:
        _, attributes, methods = CLASS_SHAPES[item.class_id]
        attribute_access = []
        for attribute in range(1, attributes + 1):
            selectors = item.selectors(attribute)
            attribute_access.append(axdr.structure(
                axdr.Data(axdr.INTEGER, attribute),
                axdr.Data(axdr.ENUM, READ_ONLY if attribute in item.readable else NO_ACCESS),
                axdr.array([axdr.Data(axdr.INTEGER, s) for s in selectors]) if selectors else axdr.Data(axdr.NULL)))
        method_access = [axdr.structure(axdr.Data(axdr.INTEGER, method), axdr.Data(axdr.ENUM, NO_ACCESS))
                         for method in range(1, methods + 1)]
        elements.append(axdr.structure(
            axdr.Data(axdr.LONG_UNSIGNED, item.class_id), axdr.Data(axdr.UNSIGNED, item.version),
            axdr.octets(obis_bytes(item.obis)),
            axdr.structure(axdr.array(attribute_access), axdr.array(method_access))))
    return axdr.array(elements)
