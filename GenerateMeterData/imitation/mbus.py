"""The ``mbus`` protocol of ``decode``, ``imitate`` and ``capture`` (wired M-Bus): its own
options and what each command does with them."""
from __future__ import annotations

from typing import Tuple

from ..errors import InputError
from .iec import register_overrides


def options(command: str, p) -> None:
    """The options of ``imitate mbus`` and ``capture mbus``."""
    if command == "imitate":
        p.add_argument("--address", type=int, default=1, help="M-Bus: primary address (default 1)")
        p.add_argument("--frames", nargs="*", help="M-Bus: serve these recorded frames (hex files) instead")
    elif command == "capture":
        p.add_argument("--mbus-address", type=int, default=1, help="M-Bus primary address")


def check(command: str, args) -> None:
    """M-Bus has no protocol modes and no archive to capture; a primary address is 0-250."""
    if command == "imitate":
        if not 0 <= args.address <= 250:  # EN 13757-2: 0-250 are slave addresses
            raise InputError(f"--address {args.address}: an M-Bus primary address is 0-250")
        mode = getattr(args, "mode", "C")
        if mode != "C":
            raise InputError(f"--mode {mode}: protocol modes are IEC 62056-21's (imitate iec); M-Bus has none")
    if command == "capture" and args.days and not getattr(args, "neva", False):
        raise InputError("--days is for the Neva archive: give --neva too")


def decode(raw: bytes, args) -> dict:
    """``decode mbus``: a telegram as a document."""
    from ..protocols.mbus.records import decode_telegram

    return decode_telegram(raw).as_dict()


def imitator(args, meter) -> Tuple[object, str]:
    """``imitate mbus``: a slave of a generated meter, or serving recorded frames (``--frames``)."""
    from ..protocols.mbus.frames import parse_hex
    from .imitators import MBusSlave

    overrides = register_overrides(args.obis)
    frames = [parse_hex(open(path).read()) for path in args.frames] if args.frames else None
    generated = None if frames else meter()
    slave = MBusSlave(meter=generated, primary_address=args.address, telegrams=frames, overrides=overrides)
    return slave, (f" (serial {generated.serial})" if generated is not None else "")


def read(args, timezone: str):
    """``capture mbus``: every telegram of the slave at ``--mbus-address``."""
    from ..protocols.mbus.client import MBusClient
    from .capture import mbus_reading

    with MBusClient(args.port) as client:
        return mbus_reading(client.read_all(args.mbus_address))
