"""The ``set4tm`` protocol of ``decode``, ``imitate`` and ``capture``: a generated meter as the wire
layer's ``Set4Meter`` (SET-4TM.03M, PSCh-4TM), its options, and a reading for ``capture``.  Frames,
requests, units and scaling are ``protocols/set4tm``'s (sources cited there); this module only says
which value of the generated meter each request reports and which meter.db tag each answer fills.

What a served meter says, at wall-clock time in its time zone, as the Mercury 230 imitator does
(``imitation/mercury.py``'s ``V2Generated``: the same story, the same arrays): the serial number,
the clock with the season byte, the energy arrays from reset (total and tariffs 1-4), today,
yesterday and the months the archive reaches, in counts of the meter constant (5000 impulses per
kWh unless ``--set4-constant``), and the instantaneous values held from the opening of the channel.
The serial is a 4-byte number on the wire: a generated serial above 4294967295 cannot be served
(``imitate`` refuses it in one line); capture writes it with 10 digits, as the meters' passports
print it (0814200459).

The default network address is the serial's last three digits, the last two above 239 (the rule
of Mercury 230, which the document's example meter follows: serial 805181783 at address 0x53 = 83).
Passwords are six ASCII characters (``000000`` is ``30 30 30 30 30 30`` on the wire); the meter
finds the access level from the password.  ``--network-address`` and ``--answer-timeout`` are the
Mercury options (one set for the frame family)."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..errors import InputError
from ..protocols.set4tm import codec
from ..schema.layout import ENERGY_QUANTITIES
from ..schema.reference import METER_KINDS
from .mercury import V2Generated, V2_TAGS, _stamp, v2_address

MANUFACTURER = "NZF"   # the Frunze plant, Nizhny Novgorod (MANUFACTURER_TYPES)
DEFAULT_PASSWORD = "000000"
DEFAULT_CONSTANT = 5000
MAX_SERIAL = 2 ** 32 - 1
#: the float groups capture reads -> for each slot (sum, A, B, C) the quantity's (name, phase)
GROUP_TAGS: Dict[str, Tuple[Optional[str], ...]] = {
    name: tuple(V2_TAGS.get((name, phase)) for phase in range(4)) for name in ("U", "I", "P", "Q", "S", "cos")
}


def password_bytes(text: str, option: str = "--set4-password") -> bytes:
    raw = text.encode("ascii", "replace")
    if len(raw) != 6 or not text.isprintable():
        raise InputError(f"{option} {text!r}: a SET-4TM password is 6 printable ASCII characters (000000)")
    return raw


class Set4Generated(V2Generated):
    """A ``GeneratedMeter`` as a SET-4TM (``protocols.set4tm.codec.Set4Meter``): the Mercury 230
    imitator's story with SET-4TM's passwords and meter constant."""

    def __init__(self, meter, address: Optional[int] = None, password: bytes = b"000000",
                 admin_password: bytes = b"000000", constant: int = DEFAULT_CONSTANT) -> None:
        super().__init__(meter, address, {codec.USER: password, codec.ADMIN: admin_password})
        if not meter.serial.isdigit() or int(meter.serial) > MAX_SERIAL:
            raise InputError(f"meter serial {meter.serial}: a SET-4TM sends its serial as a 4-byte number (at most "
                             f"{MAX_SERIAL}); give another --meter-seed")
        self.constant = constant


# ---- the registry's functions ------------------------------------------------------------------
def options(command: str, p) -> None:
    """The options of ``imitate set4tm`` and ``capture set4tm`` (with Mercury's --network-address and
    --answer-timeout)."""
    if command == "imitate":
        p.add_argument("--set4-password", default=DEFAULT_PASSWORD,
                       help="SET-4TM: the level 1 password, 6 ASCII characters (default 000000); also capture's")
        p.add_argument("--set4-admin-password", default=DEFAULT_PASSWORD,
                       help="SET-4TM: the level 2 password (default 000000)")
        p.add_argument("--set4-constant", type=int, default=DEFAULT_CONSTANT,
                       help="SET-4TM: the meter constant in impulses per kWh, one of "
                            f"{', '.join(str(c) for c in sorted(codec.CONSTANT_CODE))} (default {DEFAULT_CONSTANT}); "
                            "energy leaves as counts of 1/(2 constant) kWh")
    elif command == "capture":
        p.add_argument("--set4-password", default=DEFAULT_PASSWORD,
                       help="SET-4TM: the password the channel is opened with (default 000000)")


def check(command: str, args) -> None:
    """Addresses in range, passwords of six characters, a known constant, a serial of 4 bytes."""
    address = getattr(args, "network_address", None)
    if command == "decode":
        return
    password_bytes(args.set4_password)
    if command == "imitate":
        password_bytes(args.set4_admin_password, "--set4-admin-password")
        if args.set4_constant not in codec.CONSTANT_CODE:
            raise InputError(f"--set4-constant {args.set4_constant}: a SET-4TM's constant is one of "
                             f"{', '.join(str(c) for c in sorted(codec.CONSTANT_CODE))}")
        if getattr(args, "mode", "C") != "C":
            raise InputError(f"--mode {args.mode}: protocol modes are IEC 62056-21's (imitate iec); SET-4TM has none")
        if getattr(args, "obis", None):
            raise InputError(f"-o {args.obis[0]}: imitate set4tm takes no register overrides yet (the story's "
                             "values are served)")
        kind = METER_KINDS.get(args.meter_type)
        if kind is not None and (kind.family != "electric" or kind.phases != 3):
            raise InputError(f"--meter-type {args.meter_type}: set4tm serves a three-phase electricity meter, "
                             "e.g. SETxTM, PSCHxTM")
    if command == "capture":
        if args.days:
            raise InputError("--days: capture set4tm reads the meter's registers and instantaneous values, no archive")
        if args.answer_timeout <= 0 or args.answer_timeout > 60:
            raise InputError(f"--answer-timeout {args.answer_timeout:g}: give 0-60 seconds")
    if address is not None:
        low = 1 if command == "imitate" else 0
        if not low <= address <= 254:
            raise InputError(f"--network-address {address}: a SET-4TM network address is {low}-254")


def decode(raw: bytes, args) -> dict:
    """``decode set4tm``: a frame's address and data; a 4-byte frame as a status; a request the
    meter's side reads, by code."""
    from ..protocols.mercury import v2

    try:
        address, data = v2.decode(raw)
    except v2.MercuryError as exc:
        raise codec.Set4Error(str(exc).replace("Mercury 230", "SET-4TM")) from None
    document: dict = {"address": address, "data": data.hex(" ")}
    if len(data) == 1:
        document["status"] = data[0] & 0x0F
        document["meaning"] = codec.STATUS.get(data[0] & 0x0F, "OK")
    elif len(raw) >= 3 and codec.request_length(raw[:3]) == len(raw):
        document["request"] = f"0x{data[0]:02X}"
    return document


def imitator(args, meter) -> Tuple[object, str]:
    """``imitate set4tm``: a generated meter (of type SETxTM unless ``--meter-type`` names another)."""
    from ..protocols.set4tm.imitator import Set4Imitator

    served = Set4Generated(meter(), args.network_address, password_bytes(args.set4_password),
                           password_bytes(args.set4_admin_password, "--set4-admin-password"), args.set4_constant)
    return Set4Imitator([served]), f" (serial {served.serial}, network address {served.address})"


def read(args, timezone: str):
    """``capture set4tm``: the channel opened, serial, variant (the constant and the type), clock (the
    stamp), the energy from reset (total and tariffs 1-4), the instantaneous values by group."""
    from ..protocols.reading import Reading
    from ..protocols.set4tm.client import Set4Client

    address = args.network_address or 0
    with Set4Client(args.port, timeout=args.answer_timeout) as client:
        client.open(address, password=password_bytes(args.set4_password))
        serial, _ = client.serial(address)
        _, model = client.variant(address)
        moment, _ = client.clock(address)
        energy = [client.energy(address, codec.FROM_RESET, 0, tariff) for tariff in range(5)]
        quality: Dict[str, float] = {}
        for name, tags in GROUP_TAGS.items():
            try:
                group = client.instants(address, name)
            except codec.StatusError as exc:
                if exc.status != codec.BAD_REQUEST:
                    raise
                continue
            quality.update({tag: value for tag, value in zip(tags, group) if tag is not None})
        quality["Freq"] = client.instant(address, "F")
        client.close_channel(address)
    reading = Reading(serial.zfill(10), model, MANUFACTURER, _stamp(moment, timezone))
    for tariff, values in enumerate(energy):
        for (direction, _), value in zip(ENERGY_QUANTITIES, values):
            reading.energy[f"{direction}{tariff}"] = float(value)
    reading.quality.update(quality)
    return reading


__all__ = ["Set4Generated", "options", "check", "decode", "imitator", "read"]
