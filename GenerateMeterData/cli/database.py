"""The commands on a whole meter.db: ``init``, ``verify``, ``backup``, ``restore``, ``plot``."""
from __future__ import annotations

import os
import sys

from .. import settings as settings_module
from ..errors import InputError
from .common import (EXIT_OK, EXIT_VIOLATIONS, context_of, refuse_not_meter_db, settings_of, target_of,
                     where_of)
from .output import Output, iso


def _target_exists(target, settings: settings_module.Settings) -> bool:
    """Whether the target's database file exists (read only)."""
    if isinstance(settings, settings_module.LocalSettings):
        return os.path.exists(settings.db_path) and os.path.getsize(settings.db_path) > 0
    from ..errors import RemoteError

    try:
        target.fetch("SELECT 1")
    except RemoteError as exc:
        if exc.exit_status == 66:
            return False
        raise
    return True


def cmd_init(args, out: Output) -> int:
    """``init``: create a fresh meter.db from the shipped schema."""
    settings = settings_of(args)
    where = where_of(settings)
    with target_of(settings) as target:
        if args.dry_run:
            if _target_exists(target, settings):
                if not args.force:
                    from ..errors import TargetError
                    raise TargetError(f"{where} already exists; use --force to replace it (--dry-run: nothing was written)")
                out.print(f"would replace {where} with a fresh meter.db (everything in it would be lost)")
            else:
                out.print(f"would create {where} with the meter.db schema")
            out.print("nothing was written (--dry-run)")
            return EXIT_OK
        target.init(force=args.force)
    out.print(f"created {where} with the meter.db schema")
    return EXIT_OK


def cmd_verify(args, out: Output) -> int:
    """``verify``: print every violation; exit 1 when there is any, 2 when it is not a meter.db."""
    from ..verify import verify

    settings = settings_of(args)
    context = context_of(args, settings)
    tz = context.tz
    where = where_of(settings)
    with target_of(settings, context) as target:
        with target.readable_copy() as path:
            refuse_not_meter_db(path, where, "nothing was verified")
            violations = verify(path, target.context.timezone, args.tolerance)
    if out.json:
        out.document({"target": where, "ok": not violations, "count": len(violations), "violations": [
            {"meter_id": v.meter_id, "device_idx": v.device_idx, "table": v.table, "timestamp": v.timestamp,
             "time": iso(v.timestamp, tz), "rule": v.rule_name or None, "message": v.rule,
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
    settings = settings_of(args)
    if isinstance(settings, settings_module.LocalSettings) and os.path.exists(output) \
            and os.path.exists(settings.db_path) and os.path.samefile(output, settings.db_path):
        raise InputError(f"backup {output} is the database itself; give another file")
    with target_of(settings) as target:
        target.backup(output)
    out.print(f"backup written to {output}")
    return EXIT_OK


def cmd_restore(args, out: Output) -> int:
    """``restore``: put a backup back in one transaction (--dry-run: check it, change nothing)."""
    from ..targets.base import Target

    Target.check_backup(args.input)  # a meter.db, named in the message if not; before anything else
    settings = settings_of(args)
    where = where_of(settings)
    with target_of(settings) as target:
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
    from ..plot import plot_meter

    settings = settings_of(args)
    with target_of(settings, context_of(args, settings)) as target:
        with target.readable_copy() as path:
            refuse_not_meter_db(path, where_of(settings), "nothing was plotted", integrity=False)
            out.print(plot_meter(path, args.out, args.meter, target.context.timezone))
    return EXIT_OK
