"""The commands on the ledger of loads: ``loads`` (list them) and ``clear`` (undo them)."""
from __future__ import annotations

import os
from typing import Dict, List, Sequence

from .. import settings as settings_module
from ..errors import InputError, SchemaError
from .common import EXIT_OK, context_of, settings_of, target_of, where_of
from .output import Output, load_document, load_line, meter_id_ranges


def cmd_loads(args, out: Output) -> int:
    """``loads``: the ledger of the target, oldest first."""
    settings = settings_of(args)
    context = context_of(args, settings)
    tz = context.tz
    where = where_of(settings)
    if isinstance(settings, settings_module.LocalSettings) and not os.path.isfile(settings.db_path):
        raise SchemaError(f"{where} does not exist; nothing to list (a typo in --db or db_path?)")
    with target_of(settings, context) as target:
        target.check(load=False)  # a meter.db (a foreign SQLite file has no loads to list: exit 2)
        infos = target.loads()
    if out.json:
        out.document({"target": where, "loads": [load_document(info, tz) for info in infos]})
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
        out.print(load_line(info, tz))
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
    settings = settings_of(args)
    where = where_of(settings)
    document: Dict[str, object] = {"target": where, "dry_run": args.dry_run}
    with target_of(settings) as target:
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
            document.update(removed=removed, loads=[load_document(info, tz) for info in selected])
            verb = "would remove" if args.dry_run else "cleared"
            text = f"{verb} {removed} load(s) written by this tool"
            if tokens is not None:
                text += ": " + ", ".join(tokens)
                if not args.dry_run and removed < len(tokens):
                    text += f" ({len(tokens) - removed} of them removed meanwhile by someone else)"
            elif selected and out.verbose:
                for info in selected:
                    out.detail(load_line(info, tz))
    if out.json:
        out.document(document)
        return EXIT_OK
    out.print(text)
    if args.dry_run:
        out.print("nothing was removed (--dry-run)")
    return EXIT_OK
