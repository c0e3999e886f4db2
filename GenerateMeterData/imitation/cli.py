"""Command-line part of capture mode: ``decode``, ``imitate`` and ``capture``, for every protocol
of ``registry.PROTOCOLS`` (their choices, help and own options come from there)."""
from __future__ import annotations

import json
import sys
import time
from typing import Dict, Tuple

from ..errors import InputError, ProtocolError, TargetError
from . import registry


def _choices_help(command: str) -> str:
    return "; ".join(f"{p.name}: {p.help}" for p in registry.protocols(command))


def _add_protocol_options(command: str, parser) -> None:
    for protocol in registry.protocols(command):
        options = protocol.part("options")
        if options is not None:
            options(command, parser)


def add_commands(sub, common) -> None:
    """Register decode, imitate and capture on the CLI's subparsers."""
    decodes = [p.decodes for p in registry.protocols("decode") if p.decodes]
    what = ", ".join(decodes[:-1]) + " or " + decodes[-1] if len(decodes) > 1 else "".join(decodes)
    p = sub.add_parser("decode", parents=[common], help=f"decode {what} to JSON")
    p.add_argument("protocol", choices=tuple(x.name for x in registry.protocols("decode")),
                   help=_choices_help("decode"))
    p.add_argument("file", help="raw bytes or hex text (spaces and newlines allowed); - for stdin")
    _add_protocol_options("decode", p)
    p.set_defaults(handler=cmd_decode)

    p = sub.add_parser("imitate", parents=[common], help="run a meter imitator (Ctrl-C stops it)")
    p.add_argument("protocol", choices=tuple(x.name for x in registry.protocols("imitate")),
                   help=_choices_help("imitate"))
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (default 127.0.0.1, any port)")
    p.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal instead of TCP (prints its path)")
    p.add_argument("--port", dest="serve_port", metavar="URL",
                   help="serve on this serial port instead of TCP: a device path or a pyserial URL")
    p.add_argument("--url", help="serve where this URL says: tcp://HOST:PORT, pty:// or a serial port (a device "
                                 "path or a pyserial URL); instead of --listen, --pty and --port")
    p.add_argument("-o", "--obis", action="append", default=[], metavar="ADDRESS:VALUE",
                   help="fixed register value, e.g. 1.8.0:1234.567*kWh, 32.7.0:231.5, 60.01.04*FF:000V0201 or "
                        "63.01.00*[0..7F]:1,2,3; applies to every path that reports the register (IEC readout, "
                        "programming mode, Neva registers, M-Bus records)")
    p.add_argument("--meter-type", default=None,
                   help="generated meter's MeterTypes.Type (default: the protocol's, NEVA3xx; Mercury206 for "
                        "mercury200, Mercury23x for mercury230)")
    p.add_argument("--meter-seed", type=int, default=None, help="generated meter's seed")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--timezone", help="the generated meter's time zone: its clock, midnights and archive "
                                      "(default: timezone in settings.ini, else Europe/Moscow)")
    _add_protocol_options("imitate", p)
    p.set_defaults(handler=cmd_imitate)

    p = sub.add_parser("poll-check", parents=[common],
                       help="a line of imitated meters (imitate line): write its MeterTable rows (--register), "
                            "or compare what was stored for it with what its meters served; exit 1 on a mismatch")
    p.add_argument("--line-meters", default="mercury200=2,mercury230=2,ce303=2,iec=2,mbus=2,dlms=2",
                   help="the line's scenario, as imitate line was given it")
    p.add_argument("--meter-seed", type=int, default=None, help="the line's seed, as imitate line was given it")
    p.add_argument("--timezone", help="the meters' time zone (default: timezone in settings.ini, else Europe/Moscow)")
    p.add_argument("--register", action="store_true",
                   help="write the line's MeterTable rows (type, address, Iface1, passwords) and ElectricConfig "
                        "into the target, so the device polls the line; check nothing")
    p.add_argument("--poll", metavar="URL",
                   help="before checking, poll the line on URL (socket://HOST:PORT, a serial port) with the "
                        "project's own capture of each meter: the stand-in for the device")
    p.add_argument("--days", type=int, default=0,
                   help="with --poll: this many past days of the archives and today so far (profile, day and "
                        "month registers, Mercury 230's journals) of the meters whose capture reads them "
                        "(mercury230, ce303, dlms)")
    p.set_defaults(handler=cmd_poll_check)

    p = sub.add_parser("capture", parents=[common], help="read a meter and write what it says into meter.db")
    p.add_argument("protocol", choices=tuple(x.name for x in registry.protocols("capture")),
                   help=_choices_help("capture"))
    p.add_argument("--port", required=True, help="pyserial URL: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://...")
    p.add_argument("--dry-run", action="store_true", help="read the meter and show what would be written; write nothing")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text (for scripts)")
    p.add_argument("--days", type=int, default=0,
                   help="Neva, DLMS, CE303 and Mercury 230: this many complete past days of the half-hour archive "
                        "and day registers (Mercury 230: its journals too; SET-4TM: the profile and journals), "
                        "and today so far (its midnight registers and the half hours completed by the meter's clock)")
    p.add_argument("--every", type=float, default=0.0, help="repeat every N seconds")
    p.add_argument("--count", type=int, default=None,
                   help="captures to make (with --every; default 1); with dlms --follow: stop after N telegrams "
                        "captured (default: for ever)")
    p.add_argument("--timezone", help="meter and device time zone (default: timezone in settings.ini, else "
                                      "Europe/Moscow)")
    _add_protocol_options("capture", p)
    p.set_defaults(handler=cmd_capture)


def _check(command: str, args) -> registry.Protocol:
    protocol = registry.get(args.protocol)
    check = protocol.part("check")
    if check is not None:
        check(command, args)
    return protocol


#: The largest input ``decode`` reads: a readout, a frame or a capture file, not a disk image.
MAX_DECODE_BYTES = 4 * 1024 * 1024
#: How much of a bad input an error line quotes.
MAX_ERROR_CHARS = 200


def _read_input(path: str) -> bytes:
    from ..protocols.mbus.frames import parse_hex

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
    protocol = _check("decode", args)
    try:
        raw = _read_input(args.file)
    except OSError as exc:
        raise InputError(f"cannot read {args.file}: {exc.strerror}") from None
    decode = protocol.part("decode")
    try:
        result = decode(raw, args)  # type: ignore[misc]
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


def serve_url(args) -> Tuple[str, str]:
    """(the URL to serve on, the option that gave it) from --url, --pty, --port or --listen."""
    from ..protocols.stream import parse_url

    given = [name for name, value in (("--url", args.url), ("--pty", args.pty), ("--port", args.serve_port))
             if value]
    if len(given) > 1:
        if given == ["--pty", "--port"]:
            raise InputError("--pty and --port: give one (a new pseudo-terminal, or an existing serial port)")
        raise InputError(f"{' and '.join(given)}: give one place to serve")
    if args.url:
        try:
            parse_url(args.url)
        except ValueError as exc:
            raise InputError(f"--url {args.url!r}: {exc}") from None
        return args.url, "--url"
    if args.pty:
        return "pty://", "--pty"
    if args.serve_port:
        return args.serve_port, "--port"
    host, port = _listen(args.listen)
    return f"tcp://{host}:{port}", "--listen"


def _start(imitator, url: str, option: str, given: str) -> str:
    """Start serving; where it serves.  A place that cannot be opened is one line (exit 3)."""
    try:
        return imitator.start(url)
    except (OSError, ValueError, ProtocolError) as exc:
        if option == "--pty":
            raise TargetError(f"--pty: cannot open a pseudo-terminal: {getattr(exc, 'strerror', None) or exc}") from None
        raise TargetError(f"{option} {given}: cannot serve there: {exc}") from None
    except Exception as exc:  # pyserial's SerialException
        if type(exc).__name__ != "SerialException":
            raise
        raise TargetError(f"{option} {given}: cannot serve there: {exc}") from None


def cmd_imitate(args, out) -> int:
    """``imitate``: run a protocol's imitator until interrupted (or --seconds)."""
    from ..protocols.stream import serve_until
    from .meter import meter_from_arguments

    args.meter_type = registry.meter_type(args)
    protocol = _check("imitate", args)
    url, option = serve_url(args)
    make = protocol.part("imitator")
    imitator, note = make(args, lambda: meter_from_arguments(args))  # type: ignore[misc]
    given = {"--url": args.url, "--port": args.serve_port, "--listen": args.listen}.get(option, "")
    where = _start(imitator, url, option, given)
    print(f"imitating {protocol.article} {protocol.title} {protocol.kind} on {where}{note}", flush=True)
    try:
        serve_until(imitator, args.seconds)
    finally:
        for name, count in sorted(getattr(imitator, "counters", {}).items()):
            out.detail(f"{name}: {count}")
    return 0


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
    protocol = _check("capture", args)
    own = protocol.part("capture")
    read = protocol.part("read")
    documents = []
    with target_for(settings, context) as target:
        status = own(args, out, target) if own is not None else None
        if status is not None:
            return status
        if args.dry_run:
            target.check()  # reachable and a meter.db: read only
        for n in range(args.count or 1):
            if n:
                time.sleep(args.every)
            reading = read(args, timezone)  # type: ignore[misc]
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


def cmd_poll_check(args, out) -> int:
    """``poll-check``: --register writes the line's meters; otherwise (after --poll) one line per
    stored value that is not what the imitated meter served, a summary; exit 1 on any mismatch."""
    from ..settings import context_for, from_arguments as _settings
    from ..targets import target_for
    from .line import line_meters, scenario_from_arguments
    from .mercury import V2_PROFILE_DAYS as MAX_POLL_DAYS
    from .poll_check import check_poll, poll_with_capture, register_line

    settings = _settings(args)
    context = context_for(args, settings)
    if not 0 <= args.days <= MAX_POLL_DAYS:
        raise InputError(f"--days {args.days}: give 0-{MAX_POLL_DAYS} (Mercury 230's profile memory, the shortest "
                         "archive of the line's meters)")
    if args.days and not args.poll:
        raise InputError("--days is for the stand-in poll: give --poll URL too")
    meters = line_meters(scenario_from_arguments(args))
    with target_for(settings, context) as target:
        if args.register:
            made = register_line(meters, target)
            for m in meters:
                out.print(f"meter {made[m.number]}: {m.protocol} address {m.address} serial {m.serial}")
            return 0
        if args.poll:
            poll_with_capture(meters, args.poll, target, context.timezone, args.days)
        result = check_poll(meters, target)
    for mismatch in result.mismatches:
        out.print(mismatch.line())
    out.print(f"poll check: {len(result.mismatches)} mismatches in {result.checked} values of "
              f"{result.meters_polled} meters polled; not polled yet: "
              f"{', '.join(map(str, result.meters_not_polled)) or 'none'}")
    return 1 if result.mismatches else 0
