"""What the user sees: ``Output`` (results on stdout, progress and errors on stderr, or one JSON
document) and the text of loads, MeterIds and times."""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Dict, Iterable, List, Optional


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


def iso(ts: Optional[int], tz: dt.tzinfo) -> Optional[str]:
    """A time stamp as ISO 8601 in ``tz`` (None stays None)."""
    return dt.datetime.fromtimestamp(ts, tz).isoformat() if ts is not None else None


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


def load_document(info, tz: dt.tzinfo) -> Dict[str, object]:
    return {"token": info.token or None, "created_at": iso(info.created_at, tz) if info.created_at else None,
            "created_by": info.created_by or None, "command": info.command or None,
            "meter_ids": list(info.meter_ids), "rows": info.rows}


def load_line(info, tz: dt.tzinfo) -> str:
    when = dt.datetime.fromtimestamp(info.created_at, tz).strftime("%Y-%m-%d %H:%M") if info.created_at else "-"
    rows = f"{info.rows:,}" if info.rows is not None else "-"
    return (f"{info.token or '(no token)':<32}  {when:<16}  {info.created_by or '-':<20}  {rows:>10}  "
            f"{meter_id_ranges(info.meter_ids):<12}  {info.command or '-'}")
