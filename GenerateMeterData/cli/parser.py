"""The argument definitions of every command (argparse), with the package's error style, and
the command line as the ledger records it."""
from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
from typing import Callable, List, Optional, Sequence

from .. import __version__
from .. import settings as settings_module
from ..errors import InputError
from ..model.rng import DEFAULT_SEED
from .common import EXIT_INPUT

PROG = "generatemeterdata"
#: The commands defined here; the protocol commands (decode, imitate, capture) come from
#: imitation/cli.py and are imported only when one of them (or the overall help) is asked for.
CORE_COMMANDS = ("init", "seed", "verify", "clear", "loads", "backup", "restore", "plot")
#: Bounds of what the command line generates (the Python API has none of its own).
MAX_DAYS = 3660          # ten years of history per meter
MAX_METERS = 100_000
MAX_JOBS = 64
FIRST_DAY = dt.date(1970, 1, 2)   # timestamps stay positive in every time zone
LAST_DAY = dt.date(9998, 12, 31)  # the day after it still exists for Python's dates
#: Option names whose value is a secret: the ledger records the command with the value masked.
SECRET_OPTION = re.compile(r"^--?[\w-]*(password|passwd|secret|key)[\w-]*$", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """argparse with the package's error style: a usage error is one line on stderr with a hint
    to --help, exit 2.  Abbreviated options are off: ``seed --all`` must never mean
    ``--all-sections``."""

    hint: Optional[str] = None

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        text = " ".join(message.split())
        sys.stderr.write(f"error: {text} (see '{self.hint or self.prog} --help')\n")
        sys.exit(EXIT_INPUT)


# ---- argument types ---------------------------------------------------------------------------
def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _non_negative(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _bounded(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _whole(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {low}")
        if value > high:
            raise argparse.ArgumentTypeError(f"{text} is more than {high:,} {what}, the most the command line takes")
        return value
    return parse


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number >= 0 (Wh/W)")
    return value


def _meter_id(text: str) -> int:
    from ..schema.layout import integer_problem

    value = _whole(text)
    problem = integer_problem("MeterId", value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0 or value > 86400 * 7:
        raise argparse.ArgumentTypeError(f"{text} must be a number of seconds > 0 and <= 604800")
    return value


def _token(text: str) -> str:
    text = text.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{4,32}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a load token (hex, as 'loads' lists it; "
                                         "at least its first 4 digits)")
    return text

# ---- the parser -------------------------------------------------------------------------------
def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The argparse parser of every command.  With ``argv`` given, the protocol commands are
    registered only when ``argv`` asks for one of them (or for no core command at all), so a core
    command never imports the protocol modules."""
    common = Parser(add_help=False, allow_abbrev=False)
    common.add_argument("--settings", metavar="FILE", help="settings.ini to read (default ./settings.ini if present)")
    common.add_argument("--section", metavar="NAME", help="section of settings.ini naming the target (default [Test])")
    common.add_argument("--db", metavar="PATH", help="a local meter.db (overrides settings.ini)")
    common.add_argument("--busy-timeout", type=_seconds, metavar="SECONDS",
                        help="how long a write waits for another writer's lock (default: busy_timeout of "
                             f"settings.ini, else {settings_module.LOCAL_BUSY_TIMEOUT:g} for a local file, "
                             f"{settings_module.DEVICE_BUSY_TIMEOUT:g} for a device)")
    common.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing but errors ('loads -q': the tokens alone, one a line)")
    common.add_argument("-v", "--verbose", action="store_true", help="print what is being done")

    def json_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON document instead of text (for scripts)")

    def dry_run_option(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--dry-run", action="store_true", help=f"show what {what}; write nothing")

    parser = Parser(prog=PROG, description=(
        "Fill a UM-40 SMART meter.db (local file or device over SSH) with physically consistent "
        "meter data, and check what is there."),
        epilog="Exit codes: 0 ok, 1 verify found violations, 2 bad input or settings, 3 the target "
               "failed, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("init", parents=[common], help="create a fresh meter.db from the shipped schema")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    dry_run_option(p, "would be created or replaced")

    p = sub.add_parser("seed", parents=[common], help="generate N meters over D days, every measure")
    p.add_argument("--meters", type=_bounded(0, MAX_METERS, "meters"), default=10,
                   help=f"number of meters (default 10; at most {MAX_METERS:,})")
    p.add_argument("--days", type=_bounded(1, MAX_DAYS, "days"), default=30,
                   help=f"days of history (default 30; at most {MAX_DAYS:,})")
    p.add_argument("--end", type=_date, help="the period ends at local midnight of this date (default today)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"root seed (default {DEFAULT_SEED})")
    p.add_argument("--timezone", help="device time zone (default from settings, else Europe/Moscow)")
    p.add_argument("--period", type=_positive, default=30, help="load-profile period in minutes (default 30)")
    p.add_argument("--moment-step", type=_positive, default=60, help="minutes between moment records (default 60)")
    dry_run_option(p, "would be written (rows per table, counted meter by meter)")
    p.add_argument("--all-sections", action="store_true",
                   help="seed every section of the settings file concurrently, one result line each")
    p.add_argument("--jobs", type=_bounded(1, MAX_JOBS, "jobs"), default=4,
                   help="sections seeded at once with --all-sections (default 4)")
    json_option(p)

    p = sub.add_parser("verify", parents=[common], help="check every invariant; exit 1 on any violation")
    p.add_argument("--timezone", help="device time zone (default from settings, else Europe/Moscow)")
    p.add_argument("--tolerance", type=_tolerance, default=0.005,
                   help="Wh/W tolerance of equalities, finite and >= 0 (default 0.005)")
    p.add_argument("--max-lines", type=_non_negative, default=200, help="violations printed at most (default 200; 0 = all)")
    json_option(p)

    p = sub.add_parser("clear", parents=[common], help="remove loads this tool wrote: --load, --meter or --all")
    p.add_argument("--load", action="append", type=_token, default=[], metavar="TOKEN",
                   help="remove this load (a token as 'loads' lists it, or a unique prefix); repeatable")
    p.add_argument("--meter", action="append", type=_meter_id, default=[], metavar="ID",
                   help="remove this meter (a MeterId a load of this tool created); repeatable")
    p.add_argument("--all", action="store_true", help="remove every load this tool recorded (colleagues' too)")
    dry_run_option(p, "would be removed")
    json_option(p)

    p = sub.add_parser("loads", parents=[common], help="list the loads this tool recorded (token, when, who, MeterIds)")
    p.add_argument("--timezone", help="time zone of the times shown (default from settings, else Europe/Moscow)")
    json_option(p)

    p = sub.add_parser("backup", parents=[common], help="fetch a consistent copy of meter.db")
    p.add_argument("output", help="local file to write")
    p = sub.add_parser("restore", parents=[common], help="put a backup back, in one transaction")
    p.add_argument("input", help="local backup file")
    dry_run_option(p, "would be restored")
    about = ("draw a meter's profile, registers and consumption to a PNG or SVG (needs the plot extra: "
             "pip install 'GenerateMeterData[plot]')")
    p = sub.add_parser("plot", parents=[common], help=about, description=about)
    p.add_argument("--meter", type=_meter_id, help="MeterId (default: the first meter with data)")
    p.add_argument("--out", default="meter.png", help="file to write: .png or .svg (default meter.png)")
    p.add_argument("--timezone", help="device time zone (default from settings, else Europe/Moscow)")

    command = command_word(argv) if argv is not None else None
    if argv is None or command not in CORE_COMMANDS:
        _add_protocol_commands(sub, common, required=command is not None or argv is None, parser=parser)
    if command in sub.choices:
        parser.hint = f"{PROG} {command}"
    return parser


def command_word(argv: Sequence[str]) -> Optional[str]:
    """The command named in ``argv`` (the top level takes no option with a value)."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def _add_protocol_commands(sub, common, required: bool, parser: argparse.ArgumentParser) -> None:
    """decode, imitate and capture, from imitation/cli.py.  A failing import is an error when
    one of them was asked for; for the overall help it is said in the help text."""
    try:
        from ..imitation import cli as protocol_cli
    except ImportError as exc:
        if required:
            raise ProtocolCommandsMissing(f"the protocol commands (decode, imitate, capture) cannot be loaded: "
                                          f"{exc}; reinstall GenerateMeterData") from None
        parser.epilog = (parser.epilog or "") + f" (decode, imitate and capture are unavailable: {exc})"
        return
    protocol_cli.add_commands(sub, common)
    from ..device import cli as device_cli   # check (what the device serves)
    device_cli.add_commands(sub, common)


class ProtocolCommandsMissing(InputError):
    """The protocol commands could not be imported (a broken or partial installation)."""

def command_line(argv: Sequence[str]) -> str:
    """The command as the ledger records it: the arguments given, secrets masked."""
    words: List[str] = []
    mask_next = False
    for word in argv:
        if mask_next:
            words.append("***")
            mask_next = False
            continue
        name, eq, _ = word.partition("=")
        if SECRET_OPTION.match(name):
            if eq:
                words.append(f"{name}=***")
            else:
                words.append(word)
                mask_next = True
            continue
        words.append(word if word and not re.search(r"[\s'\"\\$`]", word) else repr(word))
    return " ".join(words)
