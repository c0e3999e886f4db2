"""Command line: ``python -m GenerateMeterData COMMAND`` (also installed as ``generatemeterdata``).

Exit codes scripts can rely on (``EXIT_*`` below; README "Exit codes"):

====  =====================================================================================
0     success (a dry run included)
1     ``verify`` found violations (``decode``: the frame did not decode)
2     bad input or settings: a usage error, a value out of range, a file that is not a
      meter.db, a load or meter that is not in the ledger, a db_path that does not exist
3     the target failed: locked, unreachable, rejected; a meter's port failed (``capture``);
      an unexpected internal error
130   interrupted (Ctrl-C); the message says what is known of the target's state
====  =====================================================================================

Errors are one line on stderr, never a traceback (``GENERATEMETERDATA_DEBUG=1`` shows it).
A command imports only what it needs: a local ``seed`` never imports paramiko, matplotlib or
the protocol modules."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from . import __version__
from . import settings as settings_module
from .errors import GenerateMeterDataError, InputError, InterruptedLoad, ProtocolError, SchemaError
from .model.rng import DEFAULT_SEED

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT, EXIT_TARGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

PROG = "generatemeterdata"
#: The commands defined here; the protocol commands (decode, imitate, capture) come from
#: protocols/cli.py and are imported only when one of them (or the overall help) is asked for.
CORE_COMMANDS = ("init", "seed", "verify", "clear", "loads", "backup", "restore", "plot")
#: Commands that write to the target: an interrupt tells the user where to look.
WRITING_COMMANDS = ("init", "seed", "clear", "restore", "capture")
#: Bounds of what the command line generates (the Python API has none of its own).
MAX_DAYS = 3660          # ten years of history per meter
MAX_METERS = 100_000
MAX_JOBS = 64
FIRST_DAY = dt.date(1970, 1, 2)   # timestamps stay positive in every time zone
LAST_DAY = dt.date(9998, 12, 31)  # the day after it still exists for Python's dates
#: Option names whose value is a secret: the ledger records the command with the value masked.
SECRET_OPTION = re.compile(r"^--?[\w-]*(password|passwd|secret|key)[\w-]*$", re.IGNORECASE)


class Output:
    """What the user sees: results on stdout, progress and errors on stderr.  With ``--json``
    the human lines are left out and one JSON document is the whole of stdout."""

    def __init__(self, quiet: bool = False, verbose: bool = False, json_output: bool = False) -> None:
        self.quiet, self.verbose, self.json = quiet, verbose, json_output
        self._last_progress = 0.0
        self.tty = sys.stderr.isatty()

    def print(self, text: str = "") -> None:
        """A result line on stdout (nothing with --quiet or --json)."""
        if not self.quiet and not self.json:
            print(text, flush=True)

    def document(self, value: object) -> None:
        """The one JSON document of --json (printed with --quiet too: it was asked for)."""
        print(json.dumps(value, ensure_ascii=False, indent=1, default=str), flush=True)

    def detail(self, text: str) -> None:
        """A --verbose line on stderr."""
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def progress(self, stage: str, done: int, total: Optional[int]) -> None:
        """A progress bar on a terminal (at most 10 redraws a second); nothing otherwise."""
        if self.quiet or not self.tty:
            return
        now = time.monotonic()
        if total and done < total and now - self._last_progress < 0.1:
            return
        self._last_progress = now
        if total:
            width = 30
            filled = int(width * min(done, total) / total)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{stage:>8} [{bar}] {done}/{total}")
        else:
            sys.stderr.write(f"\r{stage:>8} {done}")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


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
    from .schema.layout import integer_problem

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
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
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

    command = _command_word(argv) if argv is not None else None
    if argv is None or command not in CORE_COMMANDS:
        _add_protocol_commands(sub, common, required=command is not None or argv is None, parser=parser)
    if command in sub.choices:
        parser.hint = f"{PROG} {command}"
    return parser


def _command_word(argv: Sequence[str]) -> Optional[str]:
    """The command named in ``argv`` (the top level takes no option with a value)."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def _add_protocol_commands(sub, common, required: bool, parser: argparse.ArgumentParser) -> None:
    """decode, imitate and capture, from protocols/cli.py.  A failing import is an error when
    one of them was asked for; for the overall help it is said in the help text."""
    try:
        from .protocols import cli as protocol_cli
    except ImportError as exc:
        if required:
            raise ProtocolCommandsMissing(f"the protocol commands (decode, imitate, capture) cannot be loaded: "
                                          f"{exc}; reinstall GenerateMeterData") from None
        parser.epilog = (parser.epilog or "") + f" (decode, imitate and capture are unavailable: {exc})"
        return
    protocol_cli.add_commands(sub, common)


class ProtocolCommandsMissing(InputError):
    """The protocol commands could not be imported (a broken or partial installation)."""


# ---- helpers shared by the commands -----------------------------------------------------------
_settings = settings_module.from_arguments
_context = settings_module.context_for


def _where(settings: settings_module.Settings) -> str:
    if isinstance(settings, settings_module.DeviceSettings):
        return f"{settings.where}:{settings.db_path}"
    return settings.db_path


def _target(settings: settings_module.Settings, context=None):
    """The target of the settings, in ``context`` (a command's --timezone) or the settings' own."""
    from .targets import target_for

    return target_for(settings, context)


def meter_id_ranges(ids: Iterable[int]) -> str:
    """MeterIds as ranges: ``1001-1010, 1015``."""
    values = sorted(set(int(i) for i in ids))
    parts: List[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ", ".join(parts) or "-"


def _iso(ts: Optional[int], tz: dt.tzinfo) -> Optional[str]:
    return dt.datetime.fromtimestamp(ts, tz).isoformat() if ts is not None else None


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


def summarize(out: Output, summary, tz: dt.tzinfo) -> None:
    """The one-screen summary of a load: target, load token, meters, period, rows per table, speed."""
    def when(ts: Optional[int]) -> str:
        return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M") if ts is not None else "-"

    out.print(f"target : {summary.target}")
    if summary.token:
        out.print(f"load   : {summary.token} (clear --load {summary.token[:8]} removes it)")
    ids = summary.meter_ids
    out.print(f"meters : {summary.meters}" + (f" (MeterId {meter_id_ranges(ids)})" if ids else ""))
    out.print(f"period : {when(summary.first_timestamp)} .. {when(summary.last_timestamp)} ({tz})")
    for table, count in sorted(summary.rows.items()):
        out.print(f"  {table:<22} {count:>10,} rows")
    rate = summary.total_rows / summary.seconds if summary.seconds else 0.0
    out.print(f"total  : {summary.total_rows:,} rows in {summary.seconds:.2f} s ({rate:,.0f} rows/s)")


def seed_document(summary, tz: dt.tzinfo, dry_run: bool = False) -> Dict[str, object]:
    """The --json document of a load (LoadSummary.document)."""
    return summary.document(tz, dry_run)


# ---- init -------------------------------------------------------------------------------------
def _target_exists(target, settings: settings_module.Settings) -> bool:
    """Whether the target's database file exists (read only)."""
    if isinstance(settings, settings_module.LocalSettings):
        return os.path.exists(settings.db_path) and os.path.getsize(settings.db_path) > 0
    from .errors import RemoteError

    try:
        target.fetch("SELECT 1")
    except RemoteError as exc:
        if exc.exit_status == 66:
            return False
        raise
    return True


def cmd_init(args, out: Output) -> int:
    """``init``: create a fresh meter.db from the shipped schema."""
    settings = _settings(args)
    where = _where(settings)
    with _target(settings) as target:
        if args.dry_run:
            if _target_exists(target, settings):
                if not args.force:
                    from .errors import TargetError
                    raise TargetError(f"{where} already exists; use --force to replace it (--dry-run: nothing was written)")
                out.print(f"would replace {where} with a fresh meter.db (everything in it would be lost)")
            else:
                out.print(f"would create {where} with the meter.db schema")
            out.print("nothing was written (--dry-run)")
            return EXIT_OK
        target.init(force=args.force)
    out.print(f"created {where} with the meter.db schema")
    return EXIT_OK


# ---- seed -------------------------------------------------------------------------------------
def _check_period(args) -> None:
    """--end and --days give a period whose days all exist (one line otherwise)."""
    if args.end is None:
        return
    if args.end > LAST_DAY or args.end.toordinal() - args.days < FIRST_DAY.toordinal():
        raise InputError(f"--end {args.end.isoformat()} with --days {args.days}: the period must lie between "
                         f"{FIRST_DAY} and {LAST_DAY}")


def _scenario(args):
    """The scenario a seed command line describes; its calendar takes the zone of the target it
    is written to (``Scenario.for_target``)."""
    from .generate.story import StoryOptions
    from .generate.scenario import Scenario

    options = StoryOptions(moment_step_minutes=args.moment_step)
    return Scenario(meters=args.meters, days=args.days, end=args.end, seed=args.seed,
                    options=options, period_minutes=args.period)


def count_scenario(scenario, target_name: str, each_meter: Optional[Callable[[], None]] = None):
    """What a load of ``scenario`` would write, counted RowSet by RowSet (nothing is held but one
    bounded RowSet), as a LoadSummary with no token; ``each_meter`` is called after every RowSet
    (a long meter comes in several)."""
    from .generate.rows import IdAllocator, NameIndex
    from .targets.staging import LoadTally

    started = time.perf_counter()
    tally = LoadTally()
    for rows in scenario.generate(IdAllocator(), NameIndex.reference()):
        tally.add(rows)
        if each_meter:
            each_meter()
    summary = tally.summary()
    summary.seconds = time.perf_counter() - started
    summary.target = target_name
    return summary


def _seed_one(args, settings: settings_module.Settings, out: Output, context, stop=None):
    """One section: a real load, or with --dry-run the count and a read-only check of the target.
    With ``stop`` (a threading.Event, --all-sections) the load ends with KeyboardInterrupt at its
    next step once the event is set -- never after its merge started, so it ends before its commit."""
    out.detail("target: " + ", ".join(f"{k}={v}" for k, v in settings_module.describe(settings).items())
               + f"; time zone {context}")
    target = _target(settings, context)  # made, not connected yet
    scenario = _scenario(args).for_target(target)
    out.detail(f"scenario: {scenario.meter_count()} meters, {args.days} days up to {scenario.end}, seed {scenario.seed}, "
               f"measures {', '.join(sorted(scenario.measures))}")

    def stop_here() -> None:
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt

    def progress(stage: str, done: int, total: Optional[int]) -> None:
        if stage != "merge" or done == 0:
            stop_here()
        out.progress(stage, done, total)
        if out.verbose and (total is None or done in (0, total)):
            out.detail(f"{stage}: {done}/{total if total is not None else '?'}")

    with target:
        if args.dry_run:
            target.check()  # reachable and a meter.db (or a local file still to be created): read only
            return count_scenario(scenario, f"(dry run) {_where(settings)}", stop_here)
        return target.load(scenario, progress=progress, expected_meters=scenario.meter_count())


def cmd_seed(args, out: Output) -> int:
    """``seed``: a scenario of N meters over D days into the target (or every section)."""
    _check_period(args)
    if args.all_sections:
        return _seed_all(args, out)
    settings = _settings(args)
    context = _context(args, settings)
    tz = context.tz
    if args.meters == 0:
        _scenario(args)  # the other values are still checked
        return _nothing_to_seed(out, _where(settings), tz)
    summary = _seed_one(args, settings, out, context)
    if out.json:
        out.document(seed_document(summary, tz, args.dry_run))
        return EXIT_OK
    summarize(out, summary, tz)
    if args.dry_run:
        out.print("nothing was written (--dry-run)")
    return EXIT_OK


def _nothing_to_seed(out: Output, where: str, tz: dt.tzinfo) -> int:
    from .generate.summary import LoadSummary

    if out.json:
        out.document(seed_document(LoadSummary({}, 0, None, None, target=where), tz))
    else:
        out.print(f"--meters 0: nothing to write; {where} was not touched (no rows, no ledger entry)")
    return EXIT_OK


def _seed_all(args, out: Output) -> int:
    """Every section concurrently; each section's result is printed whatever the others did, and
    the exit code is the worst of them."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    path = args.settings or settings_module.DEFAULT_SETTINGS_FILE
    names = settings_module.sections(path)
    if not names:
        raise InputError(f"settings file {path} has no section with IP_address or db_path")
    quiet = Output(quiet=True)
    results: Dict[str, Tuple[int, str, Optional[dict]]] = {}
    lock = threading.Lock()

    def run(name: str) -> None:
        tz = None
        try:
            settings = settings_module.with_arguments(settings_module.load(path, name), args)
            context = _context(args, settings)
            tz = context.tz
            if args.meters == 0:
                result = (EXIT_OK, f"[{name}] nothing to write (--meters 0); not touched", None)
            else:
                summary = _seed_one(args, settings, quiet, context, stop)
                document = seed_document(summary, tz, args.dry_run)
                if args.dry_run:
                    line = (f"[{name}] dry run: {summary.meters} meters, {summary.total_rows:,} rows would be "
                            "written; nothing was written")
                else:
                    line = (f"[{name}] ok: {summary.meters} meters (MeterId {meter_id_ranges(summary.meter_ids)}), "
                            f"{summary.total_rows:,} rows in {summary.seconds:.1f} s, load {summary.token}")
                result = (EXIT_OK, line, document)
        except GenerateMeterDataError as exc:
            result = (_exit_code(exc), f"[{name}] FAILED: {exc}", None)
        except Exception as exc:  # one section's bug must not hide the others' results
            result = (EXIT_TARGET, f"[{name}] FAILED: unexpected {type(exc).__name__}: {exc}", None)
        except KeyboardInterrupt:  # stopped by Ctrl-C before its merge began: rolled back
            result = (EXIT_INTERRUPTED, f"[{name}] interrupted before its commit: no rows were written", None)
        with lock:
            results[name] = result

    interrupted = False
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=min(args.jobs, len(names)))
    futures = [pool.submit(run, name) for name in names]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()  # running sections stop at their next step (a merge already started finishes)
        for future in futures:
            future.cancel()  # sections not started yet stay untouched
    finally:
        pool.shutdown(wait=True)  # a section already loading finishes (or fails) on its own
    lines: List[Tuple[int, str, Optional[dict]]] = []
    for name in names:
        lines.append(results.get(name, (EXIT_INTERRUPTED, f"[{name}] not started (interrupted): untouched", None)))
    if out.json:
        out.document({"sections": [{"section": name, "exit": code, "result": document,
                                    "error": None if code == EXIT_OK else line.split(": ", 1)[-1]}
                                   for name, (code, line, document) in zip(names, lines)],
                      "dry_run": args.dry_run})
    else:
        for _, line, _ in lines:
            print(line, flush=True)
    worst = max(code for code, _, _ in lines)
    return EXIT_INTERRUPTED if interrupted else worst


# ---- verify -----------------------------------------------------------------------------------
def _refuse_not_meter_db(path: str, where: str, consequence: str, integrity: bool = True) -> None:
    """SchemaError (one line, exit 2) when the file at ``path`` is not a meter.db."""
    from .schema import meter_db_problem

    problem = meter_db_problem(path, integrity)
    if problem:
        raise SchemaError(f"{where} is not a meter.db ({problem}); {consequence}")


def cmd_verify(args, out: Output) -> int:
    """``verify``: print every violation; exit 1 when there is any, 2 when it is not a meter.db."""
    from .verify import verify

    settings = _settings(args)
    context = _context(args, settings)
    tz = context.tz
    where = _where(settings)
    with _target(settings, context) as target:
        with target.readable_copy() as path:
            _refuse_not_meter_db(path, where, "nothing was verified")
            violations = verify(path, target.context.timezone, args.tolerance)
    if out.json:
        out.document({"target": where, "ok": not violations, "count": len(violations), "violations": [
            {"meter_id": v.meter_id, "device_idx": v.device_idx, "table": v.table, "timestamp": v.timestamp,
             "time": _iso(v.timestamp, tz), "rule": v.rule_name or None, "message": v.rule,
             "expected": v.expected, "found": v.found}
            for v in violations]})
        return EXIT_VIOLATIONS if violations else EXIT_OK
    shown = violations if not args.max_lines else violations[:args.max_lines]
    for violation in shown:
        print(violation.format(tz), flush=True)
    if len(shown) < len(violations):
        print(f"... and {len(violations) - len(shown)} more", flush=True)
    if violations:
        print(f"verify: {len(violations)} violation(s)", file=sys.stderr)
        return EXIT_VIOLATIONS
    out.print("verify: all invariants hold")
    return EXIT_OK


# ---- loads and clear --------------------------------------------------------------------------
def _load_document(info, tz: dt.tzinfo) -> Dict[str, object]:
    return {"token": info.token or None, "created_at": _iso(info.created_at, tz) if info.created_at else None,
            "created_by": info.created_by or None, "command": info.command or None,
            "meter_ids": list(info.meter_ids), "rows": info.rows}


def _load_line(info, tz: dt.tzinfo) -> str:
    when = dt.datetime.fromtimestamp(info.created_at, tz).strftime("%Y-%m-%d %H:%M") if info.created_at else "-"
    rows = f"{info.rows:,}" if info.rows is not None else "-"
    return (f"{info.token or '(no token)':<32}  {when:<16}  {info.created_by or '-':<20}  {rows:>10}  "
            f"{meter_id_ranges(info.meter_ids):<12}  {info.command or '-'}")


def cmd_loads(args, out: Output) -> int:
    """``loads``: the ledger of the target, oldest first."""
    settings = _settings(args)
    context = _context(args, settings)
    tz = context.tz
    where = _where(settings)
    if isinstance(settings, settings_module.LocalSettings) and not os.path.isfile(settings.db_path):
        raise SchemaError(f"{where} does not exist; nothing to list (a typo in --db or db_path?)")
    with _target(settings, context) as target:
        target.check(load=False)  # a meter.db (a foreign SQLite file has no loads to list: exit 2)
        infos = target.loads()
    if out.json:
        out.document({"target": where, "loads": [_load_document(info, tz) for info in infos]})
        return EXIT_OK
    if out.quiet:  # the tokens alone, one a line, for scripts: for t in $(... loads -q); do ...
        for info in infos:
            if info.token:
                print(info.token, flush=True)
        return EXIT_OK
    if not infos:
        out.print(f"no loads of this tool in {where}")
        return EXIT_OK
    out.print(f"{'TOKEN':<32}  {'CREATED':<16}  {'BY':<20}  {'ROWS':>10}  {'METERIDS':<12}  COMMAND")
    for info in infos:
        out.print(_load_line(info, tz))
    out.print(f"{len(infos)} load(s) in {where} ({tz}); remove one with: clear --load TOKEN")
    return EXIT_OK


def _resolve_tokens(wanted: Sequence[str], infos, where: str) -> List[str]:
    """Full tokens of the given tokens or unique prefixes; InputError (nothing removed) otherwise."""
    known = [info.token for info in infos if info.token]
    resolved: List[str] = []
    for text in wanted:
        matches = [token for token in known if token == text] or [token for token in known if token.startswith(text)]
        if not matches:
            raise InputError(f"load {text} is not in the ledger of {where}; nothing was removed "
                             "('loads' lists the tokens)")
        if len(matches) > 1:
            raise InputError(f"load {text} is ambiguous in {where} ({', '.join(m[:12] for m in matches)}...); "
                             "give more digits; nothing was removed")
        if matches[0] not in resolved:
            resolved.append(matches[0])
    return resolved


def cmd_clear(args, out: Output) -> int:
    """``clear``: undo loads this tool wrote -- the ones chosen, never by default."""
    chosen = [name for name, given in (("--load", args.load), ("--meter", args.meter), ("--all", args.all)) if given]
    if not chosen:
        raise InputError("clear needs a choice: --load TOKEN (one load; 'loads' lists them), --meter ID (one meter "
                         "a load created) or --all (every load of this tool, colleagues' too)")
    if len(chosen) > 1:
        raise InputError(f"clear takes one of --load, --meter and --all, not {' and '.join(chosen)} "
                         "(run clear once per choice)")
    settings = _settings(args)
    where = _where(settings)
    document: Dict[str, object] = {"target": where, "dry_run": args.dry_run}
    with _target(settings) as target:
        tz = target.context.tz
        if args.meter:
            meters = list(dict.fromkeys(args.meter))
            if args.dry_run:
                plan = target.plan_clear(meters=meters)  # refused as the clear would be
                removed = len(meters)
            else:
                removed = target.clear(meters=meters)
                plan = target.last_clear
            under = [m for m in (plan.meter_ids if plan else []) if m not in meters]
            document.update(removed=removed, meters=meters, children=under,
                            loads_removed=list(plan.tokens) if plan else [])
            text = f"{'would remove' if args.dry_run else 'removed'} {removed} meter(s): MeterId {meter_id_ranges(meters)}"
            if under:
                text += f", with the meter(s) under them: MeterId {meter_id_ranges(under)}"
        else:
            infos = target.loads()
            tokens = _resolve_tokens(args.load, infos, where) if args.load else None
            selected = [info for info in infos if tokens is None or info.token in tokens]
            if args.dry_run:
                target.plan_clear(tokens=tokens)  # refused as the clear would be
                removed = len(selected)
            else:
                removed = target.clear(tokens=tokens)  # loads, not the parts of split loads
            document.update(removed=removed, loads=[_load_document(info, tz) for info in selected])
            verb = "would remove" if args.dry_run else "cleared"
            text = f"{verb} {removed} load(s) written by this tool"
            if tokens is not None:
                text += ": " + ", ".join(tokens)
                if not args.dry_run and removed < len(tokens):
                    text += f" ({len(tokens) - removed} of them removed meanwhile by someone else)"
            elif selected and out.verbose:
                for info in selected:
                    out.detail(_load_line(info, tz))
    if out.json:
        out.document(document)
        return EXIT_OK
    out.print(text)
    if args.dry_run:
        out.print("nothing was removed (--dry-run)")
    return EXIT_OK


# ---- backup, restore, plot ----------------------------------------------------------------------
def cmd_backup(args, out: Output) -> int:
    """``backup``: a consistent copy of meter.db to a local file."""
    output = args.output
    if not output.strip():
        raise InputError("backup needs a file name to write, got ''")
    if os.path.isdir(output):
        raise InputError(f"backup {output} is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise InputError(f"backup {output}: folder {folder} does not exist")
    settings = _settings(args)
    if isinstance(settings, settings_module.LocalSettings) and os.path.exists(output) \
            and os.path.exists(settings.db_path) and os.path.samefile(output, settings.db_path):
        raise InputError(f"backup {output} is the database itself; give another file")
    with _target(settings) as target:
        target.backup(output)
    out.print(f"backup written to {output}")
    return EXIT_OK


def cmd_restore(args, out: Output) -> int:
    """``restore``: put a backup back in one transaction (--dry-run: check it, change nothing)."""
    from .targets.base import Target

    Target.check_backup(args.input)  # a meter.db, named in the message if not; before anything else
    settings = _settings(args)
    where = _where(settings)
    with _target(settings) as target:
        if args.dry_run:
            target.check(load=False)  # a restore may well be what mends a damaged database
            out.print(f"would replace the content of {where} with {args.input} ({_meters_in(args.input)} meters)")
            out.print("nothing was restored (--dry-run)")
            return EXIT_OK
        target.restore(args.input)
    out.print(f"restored {where} from {args.input}")
    return EXIT_OK


def _meters_in(path: str) -> str:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return f"{conn.execute('SELECT count(*) FROM MeterTable').fetchone()[0]:,}"
        finally:
            conn.close()
    except sqlite3.Error:
        return "?"


def cmd_plot(args, out: Output) -> int:
    """``plot``: a PNG or SVG of one meter."""
    from .plot import plot_meter

    settings = _settings(args)
    with _target(settings, _context(args, settings)) as target:
        with target.readable_copy() as path:
            _refuse_not_meter_db(path, _where(settings), "nothing was plotted", integrity=False)
            out.print(plot_meter(path, args.out, args.meter, target.context.timezone))
    return EXIT_OK


COMMANDS: Dict[str, Callable] = {"init": cmd_init, "seed": cmd_seed, "verify": cmd_verify,
                                 "clear": cmd_clear, "loads": cmd_loads, "backup": cmd_backup,
                                 "restore": cmd_restore, "plot": cmd_plot}


# ---- main -------------------------------------------------------------------------------------
def _exit_code(exc: GenerateMeterDataError, command: Optional[str] = None) -> int:
    """The exit code of an error, by the table in the module docstring."""
    from .errors import RemoteError

    if isinstance(exc, RemoteError) and exc.exit_status == 66:
        return EXIT_INPUT  # db_path names nothing on the device: bad settings (the message hints at init)
    if command == "capture" and isinstance(exc, ProtocolError):
        return EXIT_TARGET  # the meter or its port failed
    return exc.exit_code


def _interrupted_message(command: Optional[str]) -> str:
    if command in WRITING_COMMANDS:
        return f"interrupted during {command}: 'loads' shows whether anything landed on the target"
    return "interrupted"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (errors are one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_word(argv)
    try:
        parser = build_parser(argv)
    except GenerateMeterDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(argv)
    command = args.command
    out = Output(quiet=args.quiet, verbose=args.verbose, json_output=getattr(args, "json", False))
    handler = COMMANDS.get(command) or getattr(args, "handler", None)
    from .targets.base import Target

    recorded, Target.command = Target.command, command_line(argv)  # what the ledger records as the command
    try:
        return handler(args, out)
    except InterruptedLoad as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INTERRUPTED
    except GenerateMeterDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _exit_code(exc, command)
    except KeyboardInterrupt:
        print(_interrupted_message(command), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader (head, less) went away: nothing more to say
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_TARGET
    except Exception as exc:
        if os.environ.get("GENERATEMETERDATA_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0][:300]
        print(f"error: unexpected {type(exc).__name__} in {command}: {first} (a bug: please report it; "
              "GENERATEMETERDATA_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_TARGET
    finally:
        Target.command = recorded


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if os.environ.get("GENERATEMETERDATA_DEBUG"):  # pragma: no cover - developer aid
    import faulthandler

    faulthandler.enable()
