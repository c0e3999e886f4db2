"""Command line: ``python -m GenerateMeterData COMMAND`` (also installed as ``generatemeterdata``).

Exit codes scripts can rely on: 0 success, 1 verification found violations (or a frame did not
decode), 2 bad input or settings, 3 the target failed (locked, unreachable, rejected), 130
interrupted.  Errors are one line on stderr, never a traceback."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Optional, Sequence

from . import settings as settings_module
from .errors import GenerateMeterDataError, InputError
from .generate.electric import StoryOptions
from .generate.scenario import LoadSummary, Scenario
from .model import timegrid
from .model.rng import DEFAULT_SEED
from .targets import target_for

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT, EXIT_TARGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Output:
    """What the user sees: results on stdout, progress and errors on stderr."""

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet, self.verbose = quiet, verbose
        self._last_progress = 0.0
        self.tty = sys.stderr.isatty()

    def print(self, text: str = "") -> None:
        """A result line on stdout (nothing with --quiet)."""
        if not self.quiet:
            print(text, flush=True)

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


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--settings", metavar="FILE", help="settings.ini to read (default ./settings.ini if present)")
    common.add_argument("--section", metavar="NAME", help="section of settings.ini naming the target (default [Test])")
    common.add_argument("--db", metavar="PATH", help="a local meter.db (overrides settings.ini)")
    common.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    common.add_argument("-v", "--verbose", action="store_true", help="print what is being done")

    parser = argparse.ArgumentParser(prog="generatemeterdata", description=(
        "Fill a UM-40 SMART meter.db (local file or device over SSH) with physically consistent "
        "meter data, and check what is there."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("init", parents=[common], help="create a fresh meter.db from the shipped schema")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    p = sub.add_parser("seed", parents=[common], help="generate N meters over D days, every measure")
    p.add_argument("--meters", type=_non_negative, default=10, help="number of meters (default 10)")
    p.add_argument("--days", type=_positive, default=30, help="days of history (default 30)")
    p.add_argument("--end", type=_date, help="the period ends at local midnight of this date (default today)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"root seed (default {DEFAULT_SEED})")
    p.add_argument("--timezone", help="device time zone (default from settings, else Europe/Moscow)")
    p.add_argument("--period", type=_positive, default=30, help="load-profile period in minutes (default 30)")
    p.add_argument("--moment-step", type=_positive, default=60, help="minutes between moment records (default 60)")
    p.add_argument("--dry-run", action="store_true", help="show what would be written, write nothing")
    p.add_argument("--all-sections", action="store_true", help="seed every device of the settings file concurrently")
    p.add_argument("--jobs", type=_positive, default=4, help="devices seeded at once with --all-sections (default 4)")

    p = sub.add_parser("verify", parents=[common], help="check every invariant; exit 1 on any violation")
    p.add_argument("--timezone", help="device time zone (default from settings, else Europe/Moscow)")
    p.add_argument("--tolerance", type=float, default=0.005, help="Wh/W tolerance of equalities (default 0.005)")
    p.add_argument("--max-lines", type=_non_negative, default=200, help="violations printed at most (default 200; 0 = all)")

    sub.add_parser("clear", parents=[common], help="remove exactly the rows this tool wrote")
    p = sub.add_parser("backup", parents=[common], help="fetch a consistent copy of meter.db")
    p.add_argument("output", help="local file to write")
    p = sub.add_parser("restore", parents=[common], help="put a backup back, in one transaction")
    p.add_argument("input", help="local backup file")
    p = sub.add_parser("plot", parents=[common], help="draw a meter's profile, registers and consumption to a PNG")
    p.add_argument("--meter", type=int, help="MeterId (default: the first meter with data)")
    p.add_argument("--out", default="meter.png", help="PNG file to write (default meter.png)")
    p.add_argument("--timezone", help="device time zone (default from settings, else Europe/Moscow)")
    _add_protocol_commands(sub, common)
    return parser


def _add_protocol_commands(sub, common) -> None:
    """Commands of the capture/plot features, registered when those modules are present."""
    try:
        from .protocols import cli as protocol_cli
    except ImportError:
        return
    protocol_cli.add_commands(sub, common)


def _settings(args) -> settings_module.Settings:
    return settings_module.resolve(args.settings, args.section, args.db)


def _timezone(args, settings: settings_module.Settings) -> str:
    return getattr(args, "timezone", None) or settings.timezone


def summarize(out: Output, summary: LoadSummary, tz: dt.tzinfo) -> None:
    """The one-screen summary of a load: target, meters, period, rows per table, speed."""
    def when(ts: Optional[int]) -> str:
        return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M") if ts is not None else "-"

    out.print(f"target : {summary.target}")
    out.print(f"meters : {summary.meters}")
    out.print(f"period : {when(summary.first_timestamp)} .. {when(summary.last_timestamp)} ({tz})")
    for table, count in sorted(summary.rows.items()):
        out.print(f"  {table:<22} {count:>10,} rows")
    rate = summary.total_rows / summary.seconds if summary.seconds else 0.0
    out.print(f"total  : {summary.total_rows:,} rows in {summary.seconds:.2f} s ({rate:,.0f} rows/s)")


def cmd_init(args, out: Output) -> int:
    """``init``: create a fresh meter.db from the shipped schema."""
    settings = _settings(args)
    target = target_for(settings)
    with target:
        target.init(force=args.force)
    out.print(f"created {getattr(settings, 'db_path', settings.name)} with the meter.db schema")
    return EXIT_OK


def _scenario(args, timezone: str) -> Scenario:
    options = StoryOptions(timezone=timezone, moment_step_minutes=args.moment_step)
    return Scenario(meters=args.meters, days=args.days, end=args.end, seed=args.seed,
                    options=options, period_minutes=args.period)


def _seed_one(args, settings: settings_module.Settings, out: Output) -> LoadSummary:
    out.detail("target: " + ", ".join(f"{k}={v}" for k, v in settings_module.describe(settings).items()))
    scenario = _scenario(args, _timezone(args, settings))
    out.detail(f"scenario: {scenario.meter_count()} meters, {args.days} days up to {scenario.end}, seed {args.seed}, "
               f"measures {', '.join(sorted(scenario.measures))}")

    def progress(stage: str, done: int, total: Optional[int]) -> None:
        out.progress(stage, done, total)
        if out.verbose and (total is None or done in (0, total)):
            out.detail(f"{stage}: {done}/{total if total is not None else '?'}")

    with target_for(settings) as target:
        return target.load(scenario, progress=progress, expected_meters=scenario.meter_count())


def cmd_seed(args, out: Output) -> int:
    """``seed``: a scenario of N meters over D days into the target (or every section)."""
    if args.all_sections:
        return _seed_all(args, out)
    settings = _settings(args)
    timezone = _timezone(args, settings)
    scenario = _scenario(args, timezone)
    tz = timegrid.zone(timezone)
    if args.dry_run:
        started = time.perf_counter()
        counts: Dict[str, int] = {}
        for rows in scenario.build().tables.items():
            if rows[1]:
                counts[rows[0]] = len(rows[1])
        summary = LoadSummary(counts, scenario.meter_count(), scenario.start_ts, scenario.end_ts,
                              time.perf_counter() - started, f"(dry run) {getattr(settings, 'db_path', settings.name)}")
        summarize(out, summary, tz)
        out.print("nothing was written (--dry-run)")
        return EXIT_OK
    summary = _seed_one(args, settings, out)
    summarize(out, summary, tz)
    return EXIT_OK


def _seed_all(args, out: Output) -> int:
    path = args.settings or settings_module.DEFAULT_SETTINGS_FILE
    names = settings_module.sections(path)
    if not names:
        raise InputError(f"settings file {path} has no section with IP_address or db_path")
    all_settings = [settings_module.load(path, name) for name in names]
    quiet = Output(quiet=True)

    def run(settings: settings_module.Settings) -> str:
        try:
            summary = _seed_one(args, settings, quiet)
            return f"[{settings.name}] ok: {summary.meters} meters, {summary.total_rows:,} rows in {summary.seconds:.1f} s"
        except GenerateMeterDataError as exc:
            return f"[{settings.name}] FAILED: {exc}"

    with ThreadPoolExecutor(max_workers=min(args.jobs, len(all_settings))) as pool:
        lines = list(pool.map(run, all_settings))
    for line in lines:
        print(line, flush=True)
    return EXIT_OK if all(" ok: " in line for line in lines) else EXIT_TARGET


def cmd_verify(args, out: Output) -> int:
    """``verify``: print every violation; exit 1 when there is any."""
    from .verify import verify

    settings = _settings(args)
    timezone = _timezone(args, settings)
    tz = timegrid.zone(timezone)
    with target_for(settings) as target:
        with target.readable_copy() as path:
            violations = verify(path, timezone, args.tolerance)
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


def cmd_clear(args, out: Output) -> int:
    """``clear``: undo what this tool wrote."""
    with target_for(_settings(args)) as target:
        loads = target.clear()
    out.print(f"cleared {loads} load(s) written by this tool")
    return EXIT_OK


def cmd_backup(args, out: Output) -> int:
    """``backup``: a consistent copy of meter.db to a local file."""
    with target_for(_settings(args)) as target:
        target.backup(args.output)
    out.print(f"backup written to {args.output}")
    return EXIT_OK


def cmd_restore(args, out: Output) -> int:
    """``restore``: put a backup back in one transaction."""
    with target_for(_settings(args)) as target:
        target.restore(args.input)
    out.print(f"restored from {args.input}")
    return EXIT_OK


def cmd_plot(args, out: Output) -> int:
    """``plot``: a PNG of one meter."""
    from .plot import plot_meter

    settings = _settings(args)
    with target_for(settings) as target:
        with target.readable_copy() as path:
            out.print(plot_meter(path, args.out, args.meter, _timezone(args, settings)))
    return EXIT_OK


COMMANDS: Dict[str, Callable] = {"init": cmd_init, "seed": cmd_seed, "verify": cmd_verify,
                                 "clear": cmd_clear, "backup": cmd_backup, "restore": cmd_restore,
                                 "plot": cmd_plot}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (errors are one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(quiet=args.quiet, verbose=args.verbose)
    handler = COMMANDS.get(args.command) or getattr(args, "handler", None)
    try:
        return handler(args, out)
    except GenerateMeterDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing half-written stays (the transaction was rolled back)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_TARGET


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if os.environ.get("GENERATEMETERDATA_DEBUG"):  # pragma: no cover - developer aid
    import faulthandler

    faulthandler.enable()
