"""The ``dlms`` protocol of ``decode``, ``imitate`` and ``capture`` (DLMS/COSEM, SPODES meters,
HAN-port pushes): the options it adds to the shared sub-commands and what each does."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..errors import InputError, ProtocolError


def _hex_key(text: Optional[str], what: str) -> Optional[bytes]:
    if not text:
        return None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{what} {text!r}: give 32 hex digits") from None
    if len(key) != 16:
        raise InputError(f"{what} has {len(key)} bytes: give 16 (32 hex digits)")
    return key


def options(command: str, p) -> None:
    """The options of ``decode dlms``, ``imitate dlms`` and ``capture dlms``."""
    {"decode": add_decode_options, "imitate": add_imitate_options, "capture": add_capture_options}[command](p)


def check(command: str, args) -> None:
    """``imitate dlms`` serves on --listen or --pty (HDLC there, the wrapper on TCP only);
    ``capture dlms --follow`` has no --dry-run or --json."""
    if command == "imitate":
        if getattr(args, "mode", "C") != "C" or args.serve_port:
            raise InputError("--mode and --port are for imitate iec and mbus; imitate dlms serves on --listen or --pty")
        url = getattr(args, "url", None) or ""
        if args.wrapper and (args.pty or (url and not url.startswith("tcp://"))):
            raise InputError("--wrapper is TCP only; a pty carries HDLC")
    if command == "capture" and args.follow and (args.dry_run or args.json):
        raise InputError("capture dlms --follow has no --dry-run or --json (a push stream has no end "
                         "to report); they work for a SPODES meter without --follow")


def add_decode_options(p) -> None:
    """Options of ``decode dlms``."""
    p.add_argument("--key", help="DLMS: global encryption key (32 hex digits) to decrypt ciphered pushes")
    p.add_argument("--auth-key", help="DLMS: global authentication key (32 hex digits)")
    p.add_argument("--octet-stuffing", action="store_true", help="DLMS: HDLC frames are octet-stuffed")


def decode(raw: bytes, args) -> dict:
    """``decode dlms``: frames, APDUs or a capture as a document (ciphered pushes decrypted with
    ``--key``); a DLMSError for bytes that are none of them."""
    from ..protocols.dlms.decode import decode_input

    keys: Dict[str, bytes] = {}
    key = _hex_key(getattr(args, "key", None), "--key")
    if key:
        keys["encryption"] = key
        auth = _hex_key(getattr(args, "auth_key", None), "--auth-key")
        if auth:
            keys["authentication"] = auth
    return decode_input(raw, keys or None, getattr(args, "octet_stuffing", False))


def add_imitate_options(p) -> None:
    """Options of ``imitate dlms`` (``--listen``, ``--pty``, ``-o``, ``--meter-*``, ``--seconds`` are shared)."""
    p.add_argument("--wrapper", action="store_true", help="DLMS: IEC 62056-47 wrapper on TCP instead of HDLC")
    p.add_argument("--push", choices=("aidon", "kamstrup", "kaifa"),
                   help="DLMS: push data-notifications in this HAN list layout instead of answering requests")
    p.add_argument("--push-interval", type=float, default=10.0, help="DLMS: seconds between pushes (default 10)")
    p.add_argument("--push-short", type=int, default=0, metavar="N",
                   help="DLMS: after each full list, N short lists without the meter id (Aidon and Kaifa "
                        "list 1: the active power alone), push-interval apart")
    p.add_argument("--push-key", help="DLMS: cipher the pushes (general-glo-cipher) with this encryption key (32 hex)")
    p.add_argument("--push-auth-key", help="DLMS: and authenticate them with this key (32 hex digits)")
    p.add_argument("--dlms-password", default="12345678", help="DLMS: low-level password of client 32 (default 12345678)")
    p.add_argument("--physical-address", type=int, default=None,
                   help="DLMS: HDLC physical address (default: from the serial number, last 4 digits + 1000)")


def _overrides(items) -> Dict[str, str]:
    from ..protocols.dlms.obis import obis_text, parse_obis

    out: Dict[str, str] = {}
    for item in items:
        obis, sep, value = item.rpartition(":")
        if not sep or not obis:
            raise InputError(f"-o {item!r}: give OBIS:VALUE, e.g. 1.0.1.8.0.255:123456 or 1-0:32.7.0.255:230.5")
        try:
            out[obis_text(parse_obis(obis))] = value
        except ProtocolError as exc:
            raise InputError(f"-o {item!r}: {exc}") from None
    return out


def imitator(args, make_meter) -> Tuple[object, str]:
    """``imitate dlms``: a SPODES meter (or a HAN push source)."""
    from .imitators import DLMSImitator

    meter = make_meter()
    try:
        served = DLMSImitator(meter, overrides=_overrides(args.obis), passwords={32: args.dlms_password.encode()},
                              physical=args.physical_address, wrapper=args.wrapper, push=args.push,
                              push_interval=args.push_interval, push_short=args.push_short,
                              push_key=_hex_key(args.push_key, "--push-key"),
                              push_auth_key=_hex_key(args.push_auth_key, "--push-auth-key"))
    except ProtocolError as exc:
        raise InputError(str(exc)) from None
    mode = f"pushing {args.push} lists every {args.push_interval:g} s" if args.push else (
        "wrapper" if args.wrapper else f"HDLC server {served.address.logical}/{served.address.physical}")
    return served, f" ({mode}, serial {meter.serial})"


def add_capture_options(p) -> None:
    """Options of ``capture dlms`` (``--port``, ``--days``, ``--every``, ``--count`` are shared)."""
    p.add_argument("--client", type=int, default=16, choices=(16, 32),
                   help="DLMS: client SAP, 16 public or 32 reader with --dlms-password (default 16)")
    p.add_argument("--dlms-password", default="12345678", help="DLMS: low-level password of client 32")
    p.add_argument("--serial", default=None, help="DLMS: the meter's serial number (gives its HDLC address)")
    p.add_argument("--physical-address", type=int, default=None, help="DLMS: HDLC physical address of the meter")
    p.add_argument("--logical-address", type=int, default=1, help="DLMS: HDLC logical address (default 1)")
    p.add_argument("--wrapper", action="store_true", help="DLMS: TCP with the IEC 62056-47 wrapper, no HDLC")
    p.add_argument("--follow", action="store_true",
                   help="DLMS: read push telegrams for ever, reconnecting with back-off (1-60 s)")
    p.add_argument("--months", type=int, default=0,
                   help="DLMS: monthly registers of this many month starts (the present month's included)")
    p.add_argument("--dlms-key", help="DLMS: encryption key of ciphered pushes (32 hex digits)")
    p.add_argument("--dlms-auth-key", help="DLMS: authentication key of ciphered pushes (32 hex digits)")
    p.add_argument("--read-timeout", type=float, default=300.0,
                   help="DLMS: seconds one read may take, all its blocks and segments together (default 300)")


def capture(args, out, target) -> Optional[int]:
    """``capture dlms --follow``: the push stream (below); None without --follow (one reading)."""
    return follow(args, out, target) if args.follow else None


def follow(args, out, target) -> int:
    """``capture dlms --follow``: a push stream; ``--count N`` stops after N telegrams captured
    (written), for ever without it. A telegram that names no meter (Aidon/Kaifa list 1), or a
    second one within the same second, is skipped and counted (``-v``), never taken for a link
    failure; a telegram that does not decrypt ends the capture (exit 2)."""
    from collections import Counter

    from ..protocols.dlms.errors import DLMSCipherError, DLMSError
    from ..protocols.dlms.push import decode_notification
    from .dlms_capture import capture_push, follow_pushes, push_reading

    keys = None
    key = _hex_key(args.dlms_key, "--dlms-key")
    if key:
        keys = {"encryption": key, "authentication": _hex_key(args.dlms_auth_key, "--dlms-auth-key")}
    last: Dict[str, Optional[int]] = {"stamp": None}
    skipped: Counter = Counter()

    def skip(why: str) -> bool:
        skipped[why] += 1
        out.detail(f"skipped a push telegram: {why} ({skipped[why]} so far)")
        return False

    def handle(notification) -> bool:
        try:
            push = decode_notification(notification)
            reading = push_reading(push)
        except DLMSError as exc:   # a list that names no meter, or a layout we do not know
            return skip("no meter id (a short list)" if "no meter id" in str(exc) else str(exc))
        if reading.timestamp == last["stamp"]:
            return skip("a second telegram within the same second")   # the table holds one a second
        last["stamp"] = reading.timestamp
        summary = capture_push(notification, target)  # in the target's time zone
        out.print(f"captured push of meter {reading.serial}: "
                  + ", ".join(f"{t} {c}" for t, c in sorted(summary.rows.items())))
        return True

    try:
        captured = follow_pushes(args.port, handle, keys=keys, count=args.count, log=out.print, skipped=skipped)
    except DLMSCipherError as exc:
        raise InputError(f"{args.port}: {exc}") from None
    finally:
        if skipped:
            out.detail("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())))
    out.detail(f"captured {captured} telegram(s)")
    return 0


def read(args, timezone: str):
    """One reading of the SPODES meter on ``--port`` (registers, ``--days`` of the profile and day
    archive, ``--months`` of the month archive)."""
    from ..protocols.dlms.client import SpodesClient
    from .dlms_capture import spodes_reading

    password = args.dlms_password.encode() if args.client == 32 else None
    if not args.read_timeout > 0:
        raise InputError(f"--read-timeout {args.read_timeout:g}: give a number of seconds above 0")
    with SpodesClient(args.port, client=args.client, password=password, logical=args.logical_address,
                      physical=args.physical_address, serial=args.serial, wrapper=args.wrapper,
                      read_timeout=args.read_timeout) as client:
        return spodes_reading(client, timezone, args.days, args.months)
