"""What every recipe shares: where to write (``--db`` or ``--settings``/``--section``; by default
a file in ``recipes/out/``, which git ignores), how to report a load, and how to read a record back
by the tag names the device's JSON API uses.  Recipes are scripts: ``python recipes/NN_name.py --help``."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Dict, Optional

RECIPES = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(RECIPES, "out")
sys.path.insert(0, os.path.dirname(RECIPES))

from GenerateMeterData import settings as settings_module  # noqa: E402
from GenerateMeterData import target_for  # noqa: E402
from GenerateMeterData.generate.scenario import LoadSummary  # noqa: E402
from GenerateMeterData.model import timegrid  # noqa: E402
from GenerateMeterData.schema.layout import CONFIG_TAGS, FAMILIES, MEASURE_TABLE, TABLE_COLUMNS  # noqa: E402


def out_path(name: str) -> str:
    """``recipes/out/NAME``: where recipes write unless told otherwise (the folder is made)."""
    os.makedirs(OUT, exist_ok=True)
    return os.path.join(OUT, name)


def arguments(description: str, default_db: str, **extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--db", default=None, help=f"local meter.db to write (default recipes/out/{default_db})")
    parser.add_argument("--settings", help="settings.ini naming a device instead")
    parser.add_argument("--section", help="section of settings.ini (default [Test])")
    for name, (kind, default, text) in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=text)
    args = parser.parse_args()
    if not args.settings and not args.db:
        args.db = out_path(default_db)
    return args


def target(args):
    if args.settings:
        return target_for(settings_module.load(args.settings, args.section))
    return target_for(settings_module.LocalSettings(db_path=args.db))


def report(summary: LoadSummary, what: str) -> None:
    print(f"{what}: {summary.meters} meters, {summary.total_rows:,} rows -> {summary.target}")
    for table, count in sorted(summary.rows.items()):
        print(f"  {table:<22} {count:>9,}")


def config_tags(destination, device_idx: int, table: str = "ElectricConfig") -> Dict[str, object]:
    """A meter's newest config row by the JSON API's tag names (``serial``, ``isAm`` ...)."""
    columns = TABLE_COLUMNS[table]
    rows = destination.query(f"SELECT {', '.join(columns)} FROM {table} WHERE DeviceIdx = ? "
                             "ORDER BY Timestamp DESC LIMIT 1", (device_idx,))
    if not rows:
        return {}
    by_column = dict(zip(columns, rows[0]))
    return {tag: by_column[column] for tag, column in CONFIG_TAGS[table].items() if tag[0].islower()}


def newest_record(destination, device_idx: int, measure: str) -> Optional[Dict[str, object]]:
    """A meter's newest record of a measure as ``{"Timestamp", "Valid", tag: value ...}``, the
    tags mapped to rows and columns by ``schema.layout`` (None when it has no such record)."""
    header = destination.query(
        "SELECT m.Id, m.Timestamp, m.Valid FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
        "WHERE m.DeviceIdx = ? AND a.Name = ? ORDER BY m.Timestamp DESC LIMIT 1", (device_idx, measure))
    if not header:
        return None
    record_id, timestamp, valid = header[0]
    family = FAMILIES[MEASURE_TABLE[measure]]
    key = family.key_column
    picked = ([key] if key else []) + list(family.value_columns)
    rows = destination.query(f"SELECT {', '.join(picked)} FROM {family.table} WHERE Id = ?", (record_id,))
    by_key = {(row[0] if key else None): row[1:] if key else row for row in rows}
    record: Dict[str, object] = {"Timestamp": timestamp, "Valid": valid}
    for tag, (row_key, index) in family.tags.items():
        values = by_key.get(row_key)
        record[tag] = values[index] if values is not None else None
    return record


def local_time(timestamp: int, timezone: str = timegrid.DEFAULT_TIMEZONE) -> str:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(timestamp, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
