"""The ``seed`` command: one section, or every section of the settings file at once
(``--all-sections``, run by ``targets.fleet``)."""
from __future__ import annotations

import datetime as dt
from typing import Optional, Tuple

from .. import settings as settings_module
from ..errors import GenerateMeterDataError, InputError
from .common import (EXIT_INTERRUPTED, EXIT_OK, EXIT_TARGET, context_of, exit_code, settings_of, target_of,
                     where_of)
from .output import Output, meter_id_ranges, seed_document, summarize
from .parser import FIRST_DAY, LAST_DAY


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
    from ..generate.story import StoryOptions
    from ..generate.scenario import Scenario

    options = StoryOptions(moment_step_minutes=args.moment_step)
    return Scenario(meters=args.meters, days=args.days, end=args.end, seed=args.seed,
                    options=options, period_minutes=args.period)


def _seed_one(args, settings: settings_module.Settings, out: Output, context, stop=None):
    """One section: a real load, or with --dry-run the count and a read-only check of the target.
    With ``stop`` (a threading.Event, --all-sections) the load ends with KeyboardInterrupt at its
    next step once the event is set -- never after its merge started, so it ends before its commit."""
    out.detail("target: " + ", ".join(f"{k}={v}" for k, v in settings_module.describe(settings).items())
               + f"; time zone {context}")
    target = target_of(settings, context)  # made, not connected yet
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
            from ..targets.counting import CountingTarget

            target.check()  # reachable and a meter.db (or a local file still to be created): read only
            return CountingTarget(target, f"(dry run) {where_of(settings)}").load(
                scenario, progress=lambda stage, done, total: stop_here())
        return target.load(scenario, progress=progress, expected_meters=scenario.meter_count())


def cmd_seed(args, out: Output) -> int:
    """``seed``: a scenario of N meters over D days into the target (or every section)."""
    _check_period(args)
    if args.all_sections:
        return _seed_all(args, out)
    settings = settings_of(args)
    context = context_of(args, settings)
    tz = context.tz
    if args.meters == 0:
        _scenario(args)  # the other values are still checked
        return _nothing_to_seed(out, where_of(settings), tz)
    summary = _seed_one(args, settings, out, context)
    if out.json:
        out.document(seed_document(summary, tz, args.dry_run))
        return EXIT_OK
    summarize(out, summary, tz)
    if args.dry_run:
        out.print("nothing was written (--dry-run)")
    return EXIT_OK


def _nothing_to_seed(out: Output, where: str, tz: dt.tzinfo) -> int:
    from ..records.summary import LoadSummary

    if out.json:
        out.document(seed_document(LoadSummary({}, 0, None, None, target=where), tz))
    else:
        out.print(f"--meters 0: nothing to write; {where} was not touched (no rows, no ledger entry)")
    return EXIT_OK


def _seed_all(args, out: Output) -> int:
    """Every section concurrently (``targets.fleet``); each section's result is printed whatever
    the others did, and the exit code is the worst of them."""
    from ..targets.fleet import each_target

    path = args.settings or settings_module.DEFAULT_SETTINGS_FILE
    names = settings_module.sections(path)
    if not names:
        raise InputError(f"settings file {path} has no section with IP_address or db_path")
    quiet = Output(quiet=True)

    def seed_section(name: str, stop) -> Tuple[str, Optional[dict]]:
        """The result line and JSON document of one section."""
        settings = settings_module.with_arguments(settings_module.load(path, name), args)
        context = context_of(args, settings)
        if args.meters == 0:
            return f"[{name}] nothing to write (--meters 0); not touched", None
        summary = _seed_one(args, settings, quiet, context, stop)
        document = seed_document(summary, context.tz, args.dry_run)
        if args.dry_run:
            return (f"[{name}] dry run: {summary.meters} meters, {summary.total_rows:,} rows would be "
                    "written; nothing was written"), document
        return (f"[{name}] ok: {summary.meters} meters (MeterId {meter_id_ranges(summary.meter_ids)}), "
                f"{summary.total_rows:,} rows in {summary.seconds:.1f} s, load {summary.token}"), document

    outcomes, interrupted = each_target(names, seed_section, args.jobs)
    lines = [_section_result(outcome) for outcome in outcomes]
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


def _section_result(outcome) -> Tuple[int, str, Optional[dict]]:
    """(exit code, result line, JSON document) of one section of --all-sections."""
    name, exc = outcome.name, outcome.error
    if not outcome.started:
        return EXIT_INTERRUPTED, f"[{name}] not started (interrupted): untouched", None
    if isinstance(exc, GenerateMeterDataError):
        return exit_code(exc), f"[{name}] FAILED: {exc}", None
    if isinstance(exc, KeyboardInterrupt):  # stopped by Ctrl-C before its merge began: rolled back
        return EXIT_INTERRUPTED, f"[{name}] interrupted before its commit: no rows were written", None
    if exc is not None:  # one section's bug must not hide the others' results
        return EXIT_TARGET, f"[{name}] FAILED: unexpected {type(exc).__name__}: {exc}", None
    line, document = outcome.value
    return EXIT_OK, line, document
