"""What every recipe shares: where to write (``--db`` or ``--settings``/``--section``) and how
to report.  Recipes are scripts: ``python recipes/NN_name.py --help``."""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from GenerateMeterData import settings as settings_module  # noqa: E402
from GenerateMeterData import target_for  # noqa: E402
from GenerateMeterData.generate.scenario import LoadSummary  # noqa: E402


def arguments(description: str, default_db: str, **extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--db", default=None, help=f"local meter.db to write (default {default_db})")
    parser.add_argument("--settings", help="settings.ini naming a device instead")
    parser.add_argument("--section", help="section of settings.ini (default [Test])")
    for name, (kind, default, text) in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=text)
    args = parser.parse_args()
    if not args.settings and not args.db:
        args.db = default_db
    return args


def target(args):
    if args.settings:
        return target_for(settings_module.load(args.settings, args.section))
    return target_for(settings_module.LocalSettings(db_path=args.db))


def report(summary: LoadSummary, what: str) -> None:
    print(f"{what}: {summary.meters} meters, {summary.total_rows:,} rows -> {summary.target}")
    for table, count in sorted(summary.rows.items()):
        print(f"  {table:<22} {count:>9,}")
