"""Command-line part of capture mode: ``decode``, ``imitate`` and ``capture``."""
from __future__ import annotations

import json
import re
import sys
import time
from typing import Dict, Tuple

from ..errors import InputError, ProtocolError


def add_commands(sub, common) -> None:
    """Register decode, imitate and capture on the CLI's subparsers."""
    p = sub.add_parser("decode", parents=[common], help="decode an M-Bus frame, an IEC 62056-21 readout or DLMS/COSEM frames or APDUs to JSON")
    p.add_argument("protocol", choices=("mbus", "iec", "dlms"))
    p.add_argument("file", help="raw bytes or hex text (spaces and newlines allowed); - for stdin")
    from .dlms.cli import add_decode_options
    add_decode_options(p)
    p.set_defaults(handler=cmd_decode)

    p = sub.add_parser("imitate", parents=[common], help="run a meter imitator (Ctrl-C stops it)")
    p.add_argument("protocol", choices=("iec", "mbus", "dlms", "uspd"))  # uspd: device/rtu327_server.py (--db)
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (default 127.0.0.1, any port)")
    p.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal instead of TCP (prints its path)")
    p.add_argument("--port", dest="serve_port", metavar="URL",
                   help="serve on this serial port instead of TCP: a device path or a pyserial URL")
    p.add_argument("--mode", choices=("A", "B", "C", "D"), default="C",
                   help="IEC: protocol mode (A, B: readout right after the identification; C: on request, "
                        "default; D: pushes a readout every second)")
    p.add_argument("-o", "--obis", action="append", default=[], metavar="ADDRESS:VALUE",
                   help="fixed register value, e.g. 1.8.0:1234.567*kWh, 32.7.0:231.5, 60.01.04*FF:000V0201 or "
                        "63.01.00*[0..7F]:1,2,3; applies to every path that reports the register (IEC readout, "
                        "programming mode, Neva registers, M-Bus records)")
    p.add_argument("--neva-fixture", help="IEC: serve a Neva register fixture (JSON) instead of a generated meter")
    p.add_argument("--manufacturer", default=None, help="IEC: 3-letter manufacturer (default GMD; TPC with --neva-fixture)")
    p.add_argument("--identification", default=None, help="IEC: identification after the baud character")
    p.add_argument("--password", default="00000000", help="IEC: programming-mode password (default 00000000)")
    p.add_argument("--reaction-ms", type=float, default=None,
                   help="IEC: reaction time before every answer, ms (default 200; 20 when the manufacturer's "
                        "third letter is lower case; IEC 62056-21 allows up to 1500)")
    p.add_argument("--meter-type", default="NEVA3xx", help="generated meter's MeterTypes.Type (default NEVA3xx)")
    p.add_argument("--meter-seed", type=int, default=None, help="generated meter's seed")
    p.add_argument("--address", type=int, default=1, help="M-Bus: primary address (default 1)")
    p.add_argument("--frames", nargs="*", help="M-Bus: serve these recorded frames (hex files) instead")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--timezone", help="the generated meter's time zone: its clock, midnights and archive "
                                      "(default: timezone in settings.ini, else Europe/Moscow)")
    from .dlms.cli import add_imitate_options
    add_imitate_options(p)
    p.set_defaults(handler=cmd_imitate)

    p = sub.add_parser("capture", parents=[common], help="read a meter and write what it says into meter.db")
    p.add_argument("protocol", choices=("iec", "mbus", "dlms"))
    p.add_argument("--port", required=True, help="pyserial URL: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://...")
    p.add_argument("--neva", action="store_true", help="IEC: Neva MT 3xx in programming mode (with its profile)")
    p.add_argument("--dry-run", action="store_true", help="read the meter and show what would be written; write nothing")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text (for scripts)")
    p.add_argument("--days", type=int, default=0,
                   help="Neva and DLMS: this many complete past days of the half-hour archive and day registers, "
                        "and today so far (its midnight registers and the half hours completed by the meter's clock)")
    p.add_argument("--password", default="00000000", help="IEC programming-mode password")
    p.add_argument("--device-address", default="", help="IEC device address in the sign-on")
    p.add_argument("--initial-baud", type=int, default=300, help="IEC: baud rate of the sign-on (Neva: 9600)")
    p.add_argument("--baud-switch-delay", type=float, default=0.0,
                   help="IEC: extra seconds between the acknowledgement and the baud switch (default 0: at once, "
                        "as IEC 62056-21 wants; keep it below the meter's reaction time)")
    p.add_argument("--mbus-address", type=int, default=1, help="M-Bus primary address")
    p.add_argument("--every", type=float, default=0.0, help="repeat every N seconds")
    p.add_argument("--count", type=int, default=None,
                   help="captures to make (with --every; default 1); with dlms --follow: stop after N telegrams "
                        "captured (default: for ever)")
    p.add_argument("--timezone", help="meter and device time zone (default: timezone in settings.ini, else "
                                      "Europe/Moscow)")
    from .dlms.cli import add_capture_options
    add_capture_options(p)
    p.set_defaults(handler=cmd_capture)


#: The largest input ``decode`` reads: a readout, a frame or a capture file, not a disk image.
MAX_DECODE_BYTES = 4 * 1024 * 1024
#: How much of a bad input an error line quotes.
MAX_ERROR_CHARS = 200


def _read_input(path: str) -> bytes:
    from .mbus.frames import parse_hex

    handle = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        data = handle.read(MAX_DECODE_BYTES + 1)
    finally:
        if path != "-":
            handle.close()
    if len(data) > MAX_DECODE_BYTES:
        raise InputError(f"{path}: more than {MAX_DECODE_BYTES // (1024 * 1024)} MiB; decode reads one frame, "
                         "readout or capture at a time")
    text = data.decode("ascii", "ignore") if data else ""
    stripped = "".join(text.split())
    if data and len(text) == len(data) and stripped and all(c in "0123456789abcdefABCDEF" for c in stripped):
        return parse_hex(text)
    return data


def cmd_decode(args, out) -> int:
    """``decode``: a frame or readout as JSON; exit 1 with the error category otherwise."""
    try:
        raw = _read_input(args.file)
    except OSError as exc:
        raise InputError(f"cannot read {args.file}: {exc.strerror}") from None
    if args.protocol == "dlms":
        from .dlms.cli import decode
        return decode(args, raw)
    try:
        if args.protocol == "mbus":
            from .mbus.records import decode_telegram
            result = decode_telegram(raw).as_dict()
        else:
            from .iec62056.messages import IECError, parse_readout
            if not raw.strip():
                raise IECError("the input is empty", "readout")
            readout = parse_readout(raw)
            if readout.bcc_ok is False:
                raise IECError("readout block check character (BCC) is wrong", "bcc")
            if readout.identification is None and raw.lstrip()[:1] != b"\x02":
                raise IECError("no identification line (and not a bare STX data block): not a readout", "readout")
            if not readout.data_sets and readout.bcc_ok is None:
                raise IECError("no data set found after the identification line", "readout")
            result = readout.as_dict()
    except ProtocolError as exc:
        text = str(exc)
        if len(text) > MAX_ERROR_CHARS:
            text = text[:MAX_ERROR_CHARS] + f"... ({len(text) - MAX_ERROR_CHARS} more characters)"
        print(f"error: {getattr(exc, 'category', 'protocol')}: {text}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


def _listen(text: str) -> Tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise InputError(f"--listen {text!r}: give HOST:PORT") from None
    if not 0 <= number <= 65535:
        raise InputError(f"--listen {text!r}: the port must be 0-65535 (0: any free port)")
    return host or "127.0.0.1", number


def _start(imitator, args) -> str:
    """Serve on a pty (--pty), a serial port (--port URL) or TCP (--listen); where it serves."""
    if args.pty and args.serve_port:
        raise InputError("--pty and --port: give one (a new pseudo-terminal, or an existing serial port)")
    if args.pty:
        try:
            return imitator.start_pty()
        except OSError as exc:
            from ..errors import TargetError
            raise TargetError(f"--pty: cannot open a pseudo-terminal: {exc.strerror or exc}") from None
    if args.serve_port:
        from ..errors import TargetError
        try:
            imitator.start_serial(args.serve_port)
        except (OSError, ValueError, ProtocolError) as exc:
            raise TargetError(f"--port {args.serve_port}: cannot serve there: {exc}") from None
        except Exception as exc:  # pyserial's SerialException
            if type(exc).__name__ != "SerialException":
                raise
            raise TargetError(f"--port {args.serve_port}: cannot serve there: {exc}") from None
        return args.serve_port
    host, port = imitator.start_tcp(*_listen(args.listen))
    return f"socket://{host}:{port}"


def cmd_imitate(args, out) -> int:
    """``imitate``: run an IEC or M-Bus imitator until interrupted (or --seconds)."""
    if args.protocol == "uspd":  # a USPD stand-in serving --db over RTU-327
        from ..device.rtu327_server import imitate_uspd
        return imitate_uspd(args, out)
    if args.protocol == "dlms":
        if args.mode != "C" or args.serve_port:
            raise InputError("--mode and --port are for imitate iec and mbus; imitate dlms serves on --listen or --pty")
        from .dlms.cli import imitate
        return imitate(args, out)
    from .meters import meter_from_arguments

    overrides: Dict[str, str] = {}
    for item in args.obis:
        match = re.match(r"^(\d+-\d+:[^:]+|[^:]+):(.*)$", item)  # an A-B: prefix belongs to the address
        if not match:
            raise InputError(f"-o {item!r}: give ADDRESS:VALUE, e.g. 60.01.04*FF:000V0201")
        overrides[match.group(1)] = match.group(2)
    meter = None
    if not args.neva_fixture and not args.frames:
        meter = meter_from_arguments(args)
    if args.protocol == "iec":
        from .iec62056.imitator import IECImitator, RegisterTable
        if args.neva_fixture:
            try:
                table = RegisterTable.from_neva_fixture(args.neva_fixture)
            except OSError as exc:
                raise InputError(f"--neva-fixture {args.neva_fixture}: {exc.strerror}") from None
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise InputError(f"--neva-fixture {args.neva_fixture}: not a Neva register fixture "
                                 f"({exc.__class__.__name__}: {str(exc)[:MAX_ERROR_CHARS]})") from None
            imitator = IECImitator(table, manufacturer=args.manufacturer or "TPC",
                                   identification=args.identification or "NEVAMT324.2303", password=args.password,
                                   overrides=overrides, reaction_ms=args.reaction_ms, mode=args.mode)
        else:
            imitator = IECImitator(meter=meter, manufacturer=args.manufacturer or "GMD",
                                   identification=args.identification, password=args.password, overrides=overrides,
                                   reaction_ms=args.reaction_ms, mode=args.mode)
        where = _start(imitator, args)
    else:
        from .mbus.frames import parse_hex
        from .mbus.slave import MBusSlave
        if not 0 <= args.address <= 250:  # EN 13757-2: 0-250 are slave addresses
            raise InputError(f"--address {args.address}: an M-Bus primary address is 0-250")
        frames = [parse_hex(open(path).read()) for path in args.frames] if args.frames else None
        if args.mode != "C":
            raise InputError(f"--mode {args.mode}: protocol modes are IEC 62056-21's (imitate iec); M-Bus has none")
        imitator = MBusSlave(meter=meter, primary_address=args.address, telegrams=frames, overrides=overrides)
        where = _start(imitator, args)
    print(f"imitating an {args.protocol.upper()} meter on {where}" + (f" (serial {meter.serial})" if meter else "")
          + (f", mode {args.mode}" if args.protocol == "iec" else ""), flush=True)
    from .tcpservice import serve_until

    try:
        serve_until(imitator, args.seconds)
    finally:
        for name, count in sorted(getattr(imitator, "counters", {}).items()):
            out.detail(f"{name}: {count}")
    return 0


def _read_meter(args, timezone: str):
    """One reading of the meter on --port (IEC readout, Neva programming mode, M-Bus or SPODES)."""
    from ..model import timegrid
    from .capture import mbus_reading, neva_reading, reading_from_data_sets

    if args.protocol == "dlms":
        from .dlms.cli import read_meter
        return read_meter(args, timezone)
    if args.protocol == "iec":
        from .iec62056.client import IECClient
        initial = 9600 if args.neva and args.initial_baud == 300 else args.initial_baud
        with IECClient(args.port, address=args.device_address, initial_baud=initial,
                       baud_switch_delay=args.baud_switch_delay) as client:
            if args.neva:
                with client.programming(args.password) as session:
                    return neva_reading(session, timegrid.zone(timezone), args.days)
            readout = client.readout()
            ident = readout.identification
            return reading_from_data_sets(readout.data_sets, ident.manufacturer, ident.identification or "")
    from .mbus.client import MBusClient
    with MBusClient(args.port) as client:
        return mbus_reading(client.read_all(args.mbus_address))


def capture_document(reading, summary, tz, notes, dry_run: bool, meter_id=None) -> Dict[str, object]:
    """The --json document of one capture: seed's document (``meter_ids``: the meters this load
    created) plus the meter read (``meter_id``: known or new), its serial and model, the notes."""

    document = summary.document(tz, dry_run)
    document.update(meter_id=meter_id, serial=reading.serial, model=reading.model, notes=list(notes))
    return document


def cmd_capture(args, out) -> int:
    """``capture``: read a meter (repeatedly with --every) and write the rows (--dry-run: show
    what would be written, write nothing)."""
    from ..settings import context_for, from_arguments as _settings
    from ..targets import target_for
    from .capture import capture_rows, plan_capture

    settings = _settings(args)
    context = context_for(args, settings)  # --timezone, else settings.ini's timezone: the target's zone
    timezone, tz = context.timezone, context.tz
    if (args.count is not None and args.count < 1) or args.every < 0 or args.days < 0:
        raise InputError("--count must be >= 1, --every and --days >= 0")
    if args.protocol == "dlms" and args.follow:
        if args.dry_run or args.json:
            raise InputError("capture dlms --follow has no --dry-run or --json (a push stream has no end "
                             "to report); they work for a SPODES meter without --follow")
        from .dlms.cli import follow
        with target_for(settings, context) as target:
            return follow(args, out, target)
    if args.days and not args.neva and args.protocol != "dlms":
        raise InputError("--days is for the Neva archive: give --neva too")
    documents = []
    with target_for(settings, context) as target:
        if args.dry_run:
            target.check()  # reachable and a meter.db: read only
        for n in range(args.count or 1):
            if n:
                time.sleep(args.every)
            reading = _read_meter(args, timezone)
            notes: list = []
            plan = plan_capture(reading, target)
            summary = capture_rows(reading, target, dry_run=args.dry_run, notes=notes, plan=plan)
            meter_id = plan.meter_id if plan.device_idx is not None else \
                (summary.meter_ids[0] if summary.meter_ids and not args.dry_run else None)
            if out.json:
                documents.append(capture_document(reading, summary, tz, notes, args.dry_run, meter_id))
                continue
            verb = "would capture" if args.dry_run else "captured"
            out.print(f"{verb} meter {reading.serial} ({reading.model}): "
                      + ", ".join(f"{t} {c}" for t, c in sorted(summary.rows.items())))
            if summary.token:
                out.print(f"load   : {summary.token} (clear --load {summary.token[:8]} removes it)")
            if plan.device_idx is not None:
                out.print(f"meter  : MeterId {meter_id} (known by its serial; this load created no meter)")
            elif meter_id is not None:
                out.print(f"meters : MeterId {meter_id} (new)")
            for note in notes:
                out.print(f"note   : {note}")
            if args.dry_run:
                out.print("nothing was written (--dry-run)")
    if out.json:
        out.document(documents[0] if len(documents) == 1 else {"captures": documents})
    return 0
