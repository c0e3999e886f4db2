"""A picture of one meter from any meter.db (generated or collected by the device), readable at a
glance: every panel has a dated axis, registers are shown as what they gained each day, power
outages are shaded and records with ``Valid = 0`` are marked.

Electric meters: the load profile, the day registers' daily increments per tariff, the daily
consumption per tariff (with the register's own increment on top, so the two can be compared)
and an event strip.  Pulse concentrators: hourly and daily pulses per connected channel.
Discrete I/O modules: the input states over time and their change journal.

The file type follows the output's suffix (``.png`` or ``.svg``).  Needs matplotlib
(``pip install 'GenerateMeterData[plot]'``)."""
from __future__ import annotations

import datetime as dt
import math
import os
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union, cast

from .errors import InputError
from .model import timegrid
from .model.context import check_timezone
from .schema.reference import METER_KINDS

if TYPE_CHECKING:  # for the annotations only: matplotlib is imported when a plot is drawn
    from matplotlib.figure import Figure

    from .targets.base import Target

#: A database file's path.
FilePath = Union[str, "os.PathLike[str]"]
#: A matplotlib Axes.  Not its own type: matplotlib's annotations take floats where its date units
#: take the datetimes every panel here draws with.
Axes = Any

FORMATS = {".png": "png", ".svg": "svg"}
DRAWN_MEASURES = ("ElArr1ConsPower", "ElDayEnergy", "ElDayConsEnergy", "PlsHourPulse", "PlsDayPulse",
                  "PlsMomentPulse", "DigMomentState", "DigJournalState")
FAMILY_OF_MEASURE_PREFIX = (("El", "electric"), ("Pls", "pulse"), ("Dig", "digital"))
OUTAGE_JOURNAL = "ElJrnlPwr"
OUTAGE_COLOUR = "#d9d9d9"
INVALID_COLOUR = "#d62728"
DAY = dt.timedelta(days=1)


@dataclass
class Meter:
    """The meter being drawn and what meter.db says about it."""

    meter_id: int
    device_idx: int
    type_name: str
    family: str
    first: Optional[int] = None      # first and last timestamp of its records
    last: Optional[int] = None
    invalid: Dict[str, List[int]] = field(default_factory=dict)   # measure -> Valid = 0 stamps
    journals: Dict[str, List[Tuple[int, Optional[int]]]] = field(default_factory=dict)  # (ts, Event)


def output_format(output: str) -> str:
    """``png`` or ``svg`` from the output file's suffix; InputError otherwise."""
    suffix = os.path.splitext(output)[1].lower()
    if suffix not in FORMATS:
        raise InputError(f"plot writes .png or .svg files; {output!r} has "
                         f"{'the suffix ' + repr(suffix) if suffix else 'no suffix'} (e.g. --out meter.png)")
    return FORMATS[suffix]


def plot_meter(db_path: Union[FilePath, "Target"], output: str, meter_id: Optional[int] = None,
               timezone: Optional[str] = None) -> str:
    """Draw one meter (default: the first meter with records to draw) to a PNG or SVG file;
    returns a one-line description of what was drawn.  ``db_path`` may be a target: its
    database through a consistent copy, its time zone (``target.context``) the default of
    ``timezone``; for a file the default is Europe/Moscow."""
    context = getattr(db_path, "context", None)
    if context is not None:
        with cast("Target", db_path).readable_copy() as copy:
            return plot_meter(copy, output, meter_id, timezone or context.timezone)
    file_format = output_format(output)
    figure, description = meter_figure(cast(FilePath, db_path), meter_id, timezone)
    figure.savefig(output, format=file_format, dpi=90)
    return f"{description} -> {output}"


def meter_figure(db_path: FilePath, meter_id: Optional[int] = None,
                 timezone: Optional[str] = None) -> Tuple["Figure", str]:
    """The matplotlib Figure of one meter and a one-line description of it (no file written);
    times in ``timezone`` (default Europe/Moscow)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("plot needs matplotlib: pip install 'GenerateMeterData[plot]'") from None
    timezone = check_timezone(timezone, "plot timezone") if timezone else timegrid.DEFAULT_TIMEZONE
    tz = timegrid.zone(timezone)
    if not os.path.exists(db_path):
        raise InputError(f"{db_path} not found")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        reader = _Reader(conn, tz)
        meter = reader.meter(meter_id, db_path)
        drawer = {"electric": _draw_electric, "pulse": _draw_pulse, "digital": _draw_digital}[meter.family]
        figure = Figure(figsize=(12, 11 if meter.family == "electric" else 9))
        description = drawer(figure, reader, meter)
    finally:
        conn.close()
    _title(figure, meter, tz, timezone, db_path)
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    return figure, description


# ---- reading ------------------------------------------------------------------------------
class _Reader:
    """Read-only queries of one meter.db, by measure name (ids resolved through ArchTypes)."""

    def __init__(self, conn: sqlite3.Connection, tz: dt.tzinfo) -> None:
        self.conn, self.tz = conn, tz
        conn.row_factory = sqlite3.Row

    def when(self, ts: int) -> dt.datetime:
        """A timestamp as the device's local wall-clock time (what the axes show)."""
        return dt.datetime.fromtimestamp(ts, self.tz).replace(tzinfo=None)

    def meter(self, meter_id: Optional[int], db_path: FilePath) -> Meter:
        drawn = ", ".join("?" * len(DRAWN_MEASURES))
        with_data = (f"EXISTS (SELECT 1 FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                     f"WHERE d.DeviceIdx = m.DeviceIdx AND a.Name IN ({drawn}))")
        select = ("SELECT m.DeviceIdx, m.MeterId, t.Type FROM MeterTable m "
                  "LEFT JOIN MeterTypes t ON t.Id = m.TypeId ")
        if meter_id is None:
            row = self.conn.execute(select + f"WHERE {with_data} ORDER BY m.DeviceIdx LIMIT 1",
                                    DRAWN_MEASURES).fetchone()
            if row is None:
                raise InputError(f"no meter with data in {db_path} (nothing of {', '.join(DRAWN_MEASURES)})")
        else:
            row = self.conn.execute(select + "WHERE m.MeterId = ?", (meter_id,)).fetchone()
            if row is None:
                raise InputError(f"no meter {meter_id} with data in {db_path}")
            if not self.conn.execute(f"SELECT {with_data} FROM MeterTable m WHERE m.DeviceIdx = ?",
                                     DRAWN_MEASURES + (row["DeviceIdx"],)).fetchone()[0]:
                raise InputError(f"meter {meter_id} ({row['Type']}) has nothing to draw in {db_path} "
                                 f"(none of {', '.join(DRAWN_MEASURES)}); pick another with --meter")
        device_idx, type_name = row["DeviceIdx"], row["Type"] or "unknown type"
        meter = Meter(row["MeterId"], device_idx, type_name, self._family(device_idx, type_name))
        meter.first, meter.last = self.conn.execute(
            "SELECT min(Timestamp), max(Timestamp) FROM MeterData WHERE DeviceIdx = ?", (device_idx,)).fetchone()
        for name, ts in self.conn.execute(
                "SELECT a.Name, d.Timestamp FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                "WHERE d.DeviceIdx = ? AND d.Valid = 0 ORDER BY d.Timestamp", (device_idx,)):
            meter.invalid.setdefault(name, []).append(ts)
        for name, ts, event in self.conn.execute(
                "SELECT a.Name, d.Timestamp, j.Event FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                "JOIN JournalValues j ON j.Id = d.Id WHERE d.DeviceIdx = ? ORDER BY d.Timestamp, d.Id",
                (device_idx,)):
            meter.journals.setdefault(name, []).append((ts, event))
        return meter

    def _family(self, device_idx: int, type_name: str) -> str:
        kind = METER_KINDS.get(type_name)
        if kind is not None and kind.family in ("electric", "pulse", "digital"):
            return kind.family
        # a type this package does not know (a device's own data): judge by the records it has
        for (name,) in self.conn.execute(
                "SELECT DISTINCT a.Name FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                "WHERE d.DeviceIdx = ?", (device_idx,)):
            if name in DRAWN_MEASURES:
                return next(family for prefix, family in FAMILY_OF_MEASURE_PREFIX if name.startswith(prefix))
        return "electric"

    def records(self, device_idx: int, measure: str, table: str, columns: Sequence[str],
                where: str = "") -> List[sqlite3.Row]:
        """(Timestamp, Valid, columns...) of every record of one measure, oldest first.  Values
        of records without a value row (a Valid = 0 header) are NULL."""
        picked = ", ".join(f"v.{c}" for c in columns)
        return list(self.conn.execute(
            f"SELECT d.Timestamp, d.Valid, {picked} FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
            f"LEFT JOIN {table} v ON v.Id = d.Id {where} WHERE d.DeviceIdx = ? AND a.Name = ? "
            "ORDER BY d.Timestamp", (device_idx, measure)))

    def energy(self, device_idx: int, measure: str, tariff: int) -> Dict[int, Optional[float]]:
        """Timestamp -> A+ of one tariff (None: no valid value)."""
        rows = self.records(device_idx, measure, "ElectricEnergyValues", ("Ap",), f"AND v.Tariff = {int(tariff)}")
        return {r["Timestamp"]: (r["Ap"] if r["Valid"] else None) for r in rows}


# ---- drawing helpers ----------------------------------------------------------------------
def _number(value: Optional[float], scale: float = 1.0) -> float:
    return math.nan if value is None else value / scale


def _gain(before: Optional[float], after: Optional[float], scale: float = 1.0) -> float:
    """What a counter gained from ``before`` to ``after`` (NaN when either is missing)."""
    return math.nan if before is None or after is None else (after - before) / scale


def _daily_increments(readings: Dict[int, Optional[float]], reader: _Reader,
                      scale: float) -> Tuple[List[dt.datetime], List[float]]:
    """What a midnight register gained over each day: (day start, next reading - this one)."""
    stamps = sorted(readings)
    days: List[dt.datetime] = []
    gains: List[float] = []
    for this, following in zip(stamps, stamps[1:]):
        start = reader.when(this)
        if reader.when(following) - start > DAY + dt.timedelta(hours=1):   # a gap in the archive
            continue
        days.append(start)
        gains.append(_gain(readings[this], readings[following], scale))
    return days, gains


def _outages(meter: Meter) -> List[Tuple[int, Optional[int]]]:
    """(off, on) of every outage in ElJrnlPwr (Event 0 = power off, 1 = on); on is None when the
    meter was still off at its last record."""
    spans: List[Tuple[int, Optional[int]]] = []
    off: Optional[int] = None
    for ts, event in meter.journals.get(OUTAGE_JOURNAL, []):
        if event == 0 and off is None:
            off = ts
        elif event == 1 and off is not None:
            spans.append((off, ts))
            off = None
    if off is not None:
        spans.append((off, None))
    return spans


def _date_axis(ax: Axes) -> None:
    """A dated x axis, tick labels shown even where panels share the axis."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelbottom=True)
    ax.grid(True, axis="both", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)


def _shade_outages(axes: Iterable[Axes], meter: Meter, reader: _Reader) -> int:
    spans = _outages(meter)
    for index, (off, on) in enumerate(spans):
        # still off at the last record (a meter with journals has records: last is set)
        right = on if on is not None else (meter.last if meter.last is not None else off)
        for ax in axes:
            ax.axvspan(reader.when(off), reader.when(max(right, off + 60)), color=OUTAGE_COLOUR, zorder=0,
                       label="power outage (ElJrnlPwr)" if index == 0 else None)
    return len(spans)


def _event_strip(ax: Axes, meter: Meter, reader: _Reader) -> None:
    """One row per journal (its records as ticks, outages as bars) and per measure with
    Valid = 0 records (red crosses)."""
    rows: List[str] = []
    for index, (off, on) in enumerate(_outages(meter)):
        start = reader.when(off)
        end = reader.when(on if on is not None else (meter.last if meter.last is not None else off))
        ax.barh(0, max(end - start, dt.timedelta(minutes=20)), left=start, height=0.6, color="#7f7f7f")
    if meter.journals.get(OUTAGE_JOURNAL):
        rows.append(f"outages ({OUTAGE_JOURNAL})")
    for name, events in sorted(meter.journals.items()):
        if name == OUTAGE_JOURNAL:
            continue
        y = len(rows)
        ax.scatter([reader.when(ts) for ts, _ in events], [y] * len(events), marker="|", s=120, color="#1f77b4")
        rows.append(f"{name} ({len(events)})")
    for name, stamps in sorted(meter.invalid.items()):
        y = len(rows)
        ax.scatter([reader.when(ts) for ts in stamps], [y] * len(stamps), marker="x", s=25, color=INVALID_COLOUR)
        rows.append(f"Valid = 0: {name} ({len(stamps)})")
    if not rows:
        _say(ax, "no journal events, no Valid = 0 records")
        ax.set_yticks([])
    else:
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows, fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_title("journals and records with Valid = 0", fontsize=10, loc="left")
    if meter.first is not None and meter.last is not None:
        ax.set_xlim(reader.when(meter.first) - dt.timedelta(hours=2), reader.when(meter.last) + dt.timedelta(hours=2))


def _finish(axes: Sequence[Axes], meter: Meter, reader: _Reader, legends: bool = True) -> None:
    """What every family's figure ends with: the journal strip in the last panel, dated x axes
    on all, and (with ``legends``) each other panel's legend beside it when it has one."""
    _event_strip(axes[-1], meter, reader)
    for ax in axes:
        _date_axis(ax)
    if legends:
        for ax in axes[:-1]:
            if ax.get_legend_handles_labels()[0]:
                _legend(ax)


def _say(ax: Axes, text: str) -> None:
    """A note in the middle of a panel that has nothing to draw."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#555555")


def _legend(ax: Axes) -> None:
    """The panel's legend beside it, so it never hides data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False, borderaxespad=0)


def _mark_invalid(ax: Axes, stamps: Sequence[int], reader: _Reader, label: str) -> None:
    """Red crosses on the panel's baseline where records are Valid = 0."""
    if stamps:
        ax.scatter([reader.when(ts) for ts in stamps], [0] * len(stamps), marker="x", color=INVALID_COLOUR,
                   s=30, zorder=5, label=label, clip_on=False)


def _title(figure: "Figure", meter: Meter, tz: dt.tzinfo, timezone: str, db_path: FilePath) -> None:
    kind = METER_KINDS.get(meter.type_name)
    what = meter.family
    if kind is not None and kind.family == "electric":
        what = (f"electric, {'three' if kind.phases == 3 else 'single'}-phase, {kind.tariffs} tariffs"
                + (", import and export" if kind.export else ""))
    period = ""
    if meter.first is not None and meter.last is not None:
        first = dt.datetime.fromtimestamp(meter.first, tz)
        last = dt.datetime.fromtimestamp(meter.last, tz)
        period = f" · {first:%Y-%m-%d} – {last:%Y-%m-%d}"
    figure.suptitle(f"meter {meter.meter_id} · {meter.type_name} ({what}){period}", fontsize=14, y=0.985)
    figure.text(0.5, 0.952, f"DeviceIdx {meter.device_idx} · {os.path.basename(db_path)} · times in {timezone}",
                ha="center", fontsize=9, color="#555555")


# ---- electric -----------------------------------------------------------------------------
def _draw_electric(figure: "Figure", reader: _Reader, meter: Meter) -> str:
    axes = figure.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [3, 3, 3, 1.6]})
    profile_ax, register_ax, consumption_ax, events_ax = axes
    idx = meter.device_idx
    profile = reader.records(idx, "ElArr1ConsPower", "ElectricPowerValues", ("Pp", "Pm", "Partial"))
    registers = {t: reader.energy(idx, "ElDayEnergy", t) for t in range(5)}
    consumption = {t: reader.energy(idx, "ElDayConsEnergy", t) for t in range(5)}
    outages = _shade_outages(axes[:3], meter, reader)

    # load profile
    times = [reader.when(r["Timestamp"]) for r in profile]
    if not profile:
        _say(profile_ax, "no ElArr1ConsPower records")
    else:
        profile_ax.plot(times, [_number(r["Pp"], 1000) if r["Valid"] else math.nan for r in profile],
                        lw=0.7, color="#1f77b4", label="P+ import")
    if any(r["Pm"] for r in profile):
        profile_ax.plot(times, [-_number(r["Pm"], 1000) if r["Valid"] else math.nan for r in profile],
                        lw=0.7, color="#2ca02c", label="P− export (drawn below 0)")
    partial = [reader.when(r["Timestamp"]) for r in profile if r["Partial"]]
    if partial:
        profile_ax.scatter(partial, [0] * len(partial), marker="|", color="#ff7f0e", s=60, zorder=4,
                           label="isPart (slot cut by an outage)")
    _mark_invalid(profile_ax, meter.invalid.get("ElArr1ConsPower", []), reader, "Valid = 0")
    profile_ax.set_ylabel("kW")
    profile_ax.set_title("load profile ElArr1ConsPower (average power per slot)", fontsize=10, loc="left")

    # day registers as what they gained each day
    tariffs = [t for t in range(1, 5) if any(v is not None for v in registers[t].values())]
    register_days = 0
    for tariff in tariffs or [0]:
        days, gains = _daily_increments(registers[tariff], reader, 1000)
        register_days = max(register_days, len(days))
        last = max(((ts, v) for ts, v in registers[tariff].items() if v is not None), default=None)
        reading = f", reads {last[1] / 1000:,.0f} kWh at the end" if last is not None else ""
        if not days:
            continue
        register_ax.plot([d + DAY / 2 for d in days], gains, marker="o", ms=4, lw=1.2,
                         label=f"A+{tariff}{' (total)' if tariff == 0 else ''}{reading}")
    if not register_days:
        readings = len(registers[0])
        _say(register_ax, f"{readings} ElDayEnergy reading(s): a day's gain needs the readings of two "
                          "consecutive midnights" if readings else "no ElDayEnergy records")
    _mark_invalid(register_ax, meter.invalid.get("ElDayEnergy", []), reader, "Valid = 0")
    register_ax.set_ylabel("kWh per day")
    register_ax.set_ylim(bottom=0)
    register_ax.set_title("day registers ElDayEnergy: what each tariff's A+ register gained per day",
                          fontsize=10, loc="left")

    # daily consumption, stacked per tariff, with the total register's own increment on top
    stacked: Dict[dt.datetime, float] = {}
    for tariff in [t for t in range(1, 5) if any(v is not None for v in consumption[t].values())] or [0]:
        points = sorted((reader.when(ts), v / 1000) for ts, v in consumption[tariff].items() if v is not None)
        if not points:
            continue
        days = [p[0] for p in points]
        consumption_ax.bar([d + DAY / 2 for d in days], [p[1] for p in points], width=0.8,
                           bottom=[stacked.get(d, 0.0) for d in days], label=f"T{tariff}" if tariff else "A+0")
        for day, value in points:
            stacked[day] = stacked.get(day, 0.0) + value
    if not stacked:
        _say(consumption_ax, "no ElDayConsEnergy records")
    total_days, total_gains = _daily_increments(registers[0], reader, 1000)
    if total_days:
        consumption_ax.scatter([d + DAY / 2 for d in total_days], total_gains, marker="_", s=250, color="black",
                               zorder=5, label="A+0 register gain (should match)")
    _mark_invalid(consumption_ax, meter.invalid.get("ElDayConsEnergy", []), reader, "Valid = 0")
    tallest = max([v for v in stacked.values()] + [g for g in total_gains if not math.isnan(g)], default=0)
    if tallest > 0:
        consumption_ax.set_ylim(0, tallest * 1.1)
    consumption_ax.set_ylabel("kWh per day")
    consumption_ax.set_title("daily consumption ElDayConsEnergy: A+ per tariff", fontsize=10, loc="left")

    _finish(axes, meter, reader)
    invalid = sum(len(v) for v in meter.invalid.values())
    return (f"meter {meter.meter_id} ({meter.type_name}): {len(profile)} profile slots, "
            f"{len(registers[0])} day registers, {len(stacked)} days of consumption, "
            f"{outages} outage(s), {invalid} Valid = 0 record(s)")


# ---- pulse --------------------------------------------------------------------------------
def _pulse_counters(reader: _Reader, meter: Meter, measure: str) -> Tuple[List[int], Dict[int, Dict[int, Optional[float]]]]:
    from .schema.layout import CHANNEL_COLUMNS

    rows = reader.records(meter.device_idx, measure, "PulseValues", ("Channels",) + CHANNEL_COLUMNS)
    counters: Dict[int, Dict[int, Optional[float]]] = {}
    for row in rows:
        for number, column in enumerate(CHANNEL_COLUMNS, start=1):
            counters.setdefault(number, {})[row["Timestamp"]] = row[column] if row["Valid"] else None
    moving = [n for n, values in counters.items()
              if len({v for v in values.values() if v is not None}) > 1]
    return moving, counters


def _draw_pulse(figure: "Figure", reader: _Reader, meter: Meter) -> str:
    axes = figure.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.4]})
    hour_ax, day_ax, events_ax = axes
    _shade_outages(axes[:2], meter, reader)
    hourly_measure = ("PlsHourPulse" if reader.records(meter.device_idx, "PlsHourPulse", "PulseValues", ("Channels",))
                      else "PlsMomentPulse")
    moving, hourly = _pulse_counters(reader, meter, hourly_measure)
    for channel in moving:
        stamps = sorted(hourly[channel])
        gains = [_gain(hourly[channel][a], hourly[channel][b]) for a, b in zip(stamps, stamps[1:])]
        hour_ax.plot([reader.when(ts) for ts in stamps[1:]], gains, lw=0.8, label=f"Chnl{channel}")
    _mark_invalid(hour_ax, meter.invalid.get(hourly_measure, []), reader, "Valid = 0")
    hour_ax.set_ylabel("pulses per interval")
    hour_ax.set_title(f"{hourly_measure}: pulses counted in each interval, per channel", fontsize=10, loc="left")

    day_moving, daily = _pulse_counters(reader, meter, "PlsDayPulse")
    width = 0.8 / max(1, len(day_moving))
    for position, channel in enumerate(day_moving):
        days, gains = _daily_increments(daily[channel], reader, 1)
        offset = dt.timedelta(days=0.1 + width * (position + 0.5))
        day_ax.bar([d + offset for d in days], gains, width=width, label=f"Chnl{channel}")
    _mark_invalid(day_ax, meter.invalid.get("PlsDayPulse", []), reader, "Valid = 0")
    day_ax.set_ylabel("pulses per day")
    day_ax.set_title("day counters PlsDayPulse: what each channel counted per day", fontsize=10, loc="left")
    if not moving and not day_moving:
        _say(hour_ax, "no channel counted anything")

    _finish(axes, meter, reader)
    channels = sorted(set(moving) | set(day_moving))
    readings = len(next(iter(hourly.values()), {}))
    return (f"meter {meter.meter_id} ({meter.type_name}): {readings} {hourly_measure} readings, "
            f"{len(next(iter(daily.values()), {}))} day readings, counting channels "
            f"{', '.join(map(str, channels)) or 'none'}")


# ---- digital ------------------------------------------------------------------------------
def _draw_digital(figure: "Figure", reader: _Reader, meter: Meter) -> str:
    from .schema.layout import CHANNEL_COLUMNS

    axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1.4]})
    state_ax, events_ax = axes
    _shade_outages(axes[:1], meter, reader)
    columns = ("Channels",) + CHANNEL_COLUMNS
    moments = reader.records(meter.device_idx, "DigMomentState", "DigitalValues", columns)
    changes = reader.records(meter.device_idx, "DigJournalState", "DigitalValues", columns)
    merged = sorted([(r["Timestamp"], r) for r in moments if r["Valid"]] +
                    [(r["Timestamp"], r) for r in changes if r["Valid"]], key=lambda pair: pair[0])
    wired = max((r["Channels"] or 0 for _, r in merged), default=0)
    used = [n for n, column in enumerate(CHANNEL_COLUMNS[:wired], start=1)
            if any(r[column] for _, r in merged)]
    for row_number, channel in enumerate(used):
        column = CHANNEL_COLUMNS[channel - 1]
        points = [(reader.when(ts), r[column]) for ts, r in merged if r[column] is not None]
        line = state_ax.step([p[0] for p in points], [row_number + 0.7 * p[1] for p in points], where="post", lw=1.2)
        flips = [(when, value) for (when, value), (_, before) in zip(points[1:], points) if value != before]
        state_ax.scatter([f[0] for f in flips], [row_number + 0.7 * f[1] for f in flips], s=14,
                         color=line[0].get_color(), zorder=4)
    state_ax.set_yticks([n + 0.35 for n in range(len(used))])
    state_ax.set_yticklabels([f"input {n}" for n in used], fontsize=8)
    state_ax.set_ylim(-0.3, max(1, len(used)))
    state_ax.set_title(f"input states DigMomentState and DigJournalState (low = 0, high = 1, dot = a change; "
                       f"{wired - len(used)} of {wired} inputs stay 0 and are not drawn)", fontsize=10, loc="left")
    _mark_invalid(state_ax, meter.invalid.get("DigMomentState", []), reader, "Valid = 0")
    if not used:
        _say(state_ax, "no input was ever raised")
    _finish(axes, meter, reader, legends=False)
    return (f"meter {meter.meter_id} ({meter.type_name}): {len(moments)} state records, "
            f"{len(changes)} state changes, inputs raised: {', '.join(map(str, used)) or 'none'}")
