"""The ``iec`` protocol of ``decode``, ``imitate`` and ``capture`` (IEC 62056-21; Neva MT 3xx in
programming mode): its own options and what each command does with them."""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

from ..errors import InputError

#: How much of a bad fixture an error line quotes.
MAX_ERROR_CHARS = 200


def options(command: str, p) -> None:
    """The options of ``imitate iec`` and ``capture iec``."""
    if command == "imitate":
        p.add_argument("--mode", choices=("A", "B", "C", "D"), default="C",
                       help="IEC: protocol mode (A, B: readout right after the identification; C: on request, "
                            "default; D: pushes a readout every second)")
        p.add_argument("--neva-fixture", help="IEC: serve a Neva register fixture (JSON) instead of a generated meter")
        p.add_argument("--manufacturer", default=None,
                       help="IEC: 3-letter manufacturer (default GMD; TPC with --neva-fixture)")
        p.add_argument("--identification", default=None, help="IEC: identification after the baud character")
        p.add_argument("--password", default="00000000",
                       help="IEC: programming-mode password; USPD: the RTU-327 password, 8 hex digits (default 00000000)")
        p.add_argument("--reaction-ms", type=float, default=None,
                       help="IEC: reaction time before every answer, ms (default 200; 20 when the manufacturer's "
                            "third letter is lower case; IEC 62056-21 allows up to 1500)")
    elif command == "capture":
        p.add_argument("--neva", action="store_true", help="IEC: Neva MT 3xx in programming mode (with its profile)")
        p.add_argument("--password", default="00000000", help="IEC programming-mode password")
        p.add_argument("--device-address", default="", help="IEC device address in the sign-on")
        p.add_argument("--initial-baud", type=int, default=300, help="IEC: baud rate of the sign-on (Neva: 9600)")
        p.add_argument("--baud-switch-delay", type=float, default=0.0,
                       help="IEC: extra seconds between the acknowledgement and the baud switch (default 0: at "
                            "once, as IEC 62056-21 wants; keep it below the meter's reaction time)")


def check(command: str, args) -> None:
    """``capture iec --days`` needs ``--neva`` (a plain readout has no archive)."""
    if command == "capture" and args.days and not args.neva:
        raise InputError("--days is for the Neva archive: give --neva too")


def decode(raw: bytes, args) -> dict:
    """``decode iec``: a readout as a document; IECError for what is not one."""
    from ..protocols.iec62056.messages import IECError, parse_readout

    if not raw.strip():
        raise IECError("the input is empty", "readout")
    readout = parse_readout(raw)
    if readout.bcc_ok is False:
        raise IECError("readout block check character (BCC) is wrong", "bcc")
    if readout.identification is None and raw.lstrip()[:1] != b"\x02":
        raise IECError("no identification line (and not a bare STX data block): not a readout", "readout")
    if not readout.data_sets and readout.bcc_ok is None:
        raise IECError("no data set found after the identification line", "readout")
    return readout.as_dict()


def register_overrides(items: List[str]) -> Dict[str, str]:
    """``-o ADDRESS:VALUE`` items by address (an ``A-B:`` prefix belongs to the address)."""
    overrides: Dict[str, str] = {}
    for item in items:
        match = re.match(r"^(\d+-\d+:[^:]+|[^:]+):(.*)$", item)
        if not match:
            raise InputError(f"-o {item!r}: give ADDRESS:VALUE, e.g. 60.01.04*FF:000V0201")
        overrides[match.group(1)] = match.group(2)
    return overrides


def imitator(args, meter) -> Tuple[object, str]:
    """``imitate iec``: a generated meter, or a Neva register fixture (``--neva-fixture``)."""
    from .imitators import IECImitator
    from ..protocols.iec62056.imitator import RegisterTable

    overrides = register_overrides(args.obis)
    if args.neva_fixture:
        try:
            table = RegisterTable.from_neva_fixture(args.neva_fixture)
        except OSError as exc:
            raise InputError(f"--neva-fixture {args.neva_fixture}: {exc.strerror}") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InputError(f"--neva-fixture {args.neva_fixture}: not a Neva register fixture "
                             f"({exc.__class__.__name__}: {str(exc)[:MAX_ERROR_CHARS]})") from None
        served = IECImitator(table, manufacturer=args.manufacturer or "TPC",
                             identification=args.identification or "NEVAMT324.2303", password=args.password,
                             overrides=overrides, reaction_ms=args.reaction_ms, mode=args.mode)
        return served, f", mode {args.mode}"
    generated = meter()
    served = IECImitator(meter=generated, manufacturer=args.manufacturer or "GMD", identification=args.identification,
                         password=args.password, overrides=overrides, reaction_ms=args.reaction_ms, mode=args.mode)
    return served, f" (serial {generated.serial}), mode {args.mode}"


def read(args, timezone: str):
    """``capture iec``: a readout, or with ``--neva`` the Neva programming-mode registers and archive."""
    from ..model import timegrid
    from ..protocols.iec62056.client import IECClient
    from ..protocols.iec62056.messages import IECError
    from .capture import neva_reading, reading_from_data_sets

    initial = 9600 if args.neva and args.initial_baud == 300 else args.initial_baud
    with IECClient(args.port, address=args.device_address, initial_baud=initial,
                   baud_switch_delay=args.baud_switch_delay) as client:
        if args.neva:
            with client.programming(args.password) as session:
                return neva_reading(session, timegrid.zone(timezone), args.days)
        readout = client.readout()
        ident = readout.identification
        if ident is None:
            raise IECError(f"{args.port}: the readout has no identification line", "readout")
        return reading_from_data_sets(readout.data_sets, ident.manufacturer, ident.identification or "")
