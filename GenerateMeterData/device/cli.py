"""Command-line part of the device checks: ``check``."""
from __future__ import annotations

import os
import sqlite3
from typing import List, Tuple

from ..errors import GenerateMeterDataError, InputError, TargetError
from .checking import Interface

EXIT_OK, EXIT_MISMATCHES = 0, 1


def add_commands(sub, common) -> None:
    """Register ``check`` on the CLI's subparsers."""
    p = sub.add_parser("check", parents=[common],
                       help="compare what a load wrote with what the device serves (RTU-327, the data API); "
                            "exit 1 on any mismatch")
    p.add_argument("--load", action="append", default=[], metavar="TOKEN",
                   help="check this load (a token as 'loads' lists it, or a unique prefix); repeatable")
    p.add_argument("--meter", action="append", type=int, default=[], metavar="ID",
                   help="check this meter (MeterId); repeatable (default: every meter)")
    p.add_argument("--rtu327", metavar="HOST:PORT", help="ask this RTU-327 server (the device's port 8888, or "
                                                           "'imitate uspd')")
    p.add_argument("--password", default="00000000", help="RTU-327 password, 8 hex digits (default 00000000)")
    p.add_argument("--data-api", action="store_true", help="ask the device's JSON data API (over SSH)")
    p.add_argument("--timezone", help="time zone of the times shown (default from settings, else Europe/Moscow)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text (for scripts)")
    p.set_defaults(handler=cmd_check)


def _address(text: str) -> Tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 < number <= 65535:
        raise InputError(f"--rtu327 {text!r}: give HOST:PORT, e.g. 192.168.0.10:8888")
    return host, number


def cmd_check(args, out) -> int:
    """``check``: one line per mismatch, a summary per interface; exit 0 / 1 / 2 / 3."""
    from .. import settings as settings_module
    from ..model import timegrid
    from ..targets import target_for
    from .check import mismatch_line, run_check, summary_line

    if args.load and args.meter:
        raise InputError("give --load or --meter, not both")
    if not args.rtu327 and not args.data_api:
        raise InputError("name an interface to ask: --rtu327 HOST:PORT and/or --data-api")
    settings = settings_module.from_arguments(args)
    context = settings_module.context_for(args, settings)
    if isinstance(settings, settings_module.LocalSettings) and not os.path.isfile(settings.db_path):
        raise InputError(f"{settings.db_path}: no such meter.db")
    interfaces: List[Interface] = []
    client = None
    try:
        if args.rtu327:
            from ..protocols.rtu327 import Rtu327Client
            from .rtu327_check import Rtu327Interface

            host, port = _address(args.rtu327)
            try:
                client = Rtu327Client(host, port, password=args.password)
            except ValueError as exc:
                raise InputError(f"--password: {exc}") from None
            interfaces.append(Rtu327Interface(client))
        with target_for(settings, context) as target:
            if args.data_api:
                from .check_data_api import DataApiInterface
                interfaces.append(DataApiInterface(target, getattr(settings, "data_api", None)))
            try:
                result = run_check(target, interfaces, tokens=args.load or None, meters=args.meter or None)  # type: ignore[arg-type]
            except sqlite3.DatabaseError as exc:
                raise InputError(f"{settings.db_path}: not a meter.db ({exc})") from None
            except GenerateMeterDataError as exc:
                if isinstance(exc, (InputError, TargetError)):
                    raise
                raise TargetError(f"the device's answer: {exc}") from None
    finally:
        if client is not None:
            client.close()
    if out.json:
        out.document(result.as_dict())
    else:
        tz = timegrid.zone(context.timezone)
        for mismatch in result.mismatches:
            print(mismatch_line(mismatch, tz), flush=True)
        for summary in result.summaries:
            out.print(summary_line(summary))
    return EXIT_OK if result.ok else EXIT_MISMATCHES
