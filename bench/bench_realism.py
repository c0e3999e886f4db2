"""Realism of the generated load against the published standard profiles (issue 23).

    python bench/bench_realism.py            # 200 household + 100 commercial meters over a year
    python bench/bench_realism.py --quick    # 50 + 25 meters (a rough look)

The reference is the BDEW standard load profile table (H0 dynamised, G0) as shipped in the
package (GenerateMeterData/model/data/bdew_slp.csv, copied from demandlib 0.2.2), read here on
its own by the csv module.  The meters' own data come from the package's day tables (slot energies
as written to ElArr1ConsPower, 15-minute period) and, for the power factor, from a database
written by Scenario.  Figures printed last:

- correlation of the meters' mean normalised day shape with the profile, per season x day type
  (bar: H0 >= 0.97, G0 >= 0.95 in each of the 9 cells);
- Saturday/workday and Sunday/workday energy ratios against the profile's (bar: within 5 %);
- the highest correlation between two meters' years of daily energies (bar: <= 0.99);
- coefficient of variation of daily energy across meters, peak-to-mean and load factor;
- holidays: how many non-weekend holidays have a mean shape closer to Sunday's than to a workday's;
- kP distinct values per week of readings (bar: >= 20) and whether the phases differ."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from GenerateMeterData import LocalTarget, Scenario  # noqa: E402
from GenerateMeterData.model import daytypes, timegrid  # noqa: E402
from GenerateMeterData.model.consumption import DayTable, LoadModel, random_outages  # noqa: E402
from GenerateMeterData.model.rng import stream, stream_key  # noqa: E402
from GenerateMeterData.model.tariffs import DEFAULT_SCHEDULE  # noqa: E402

YEAR = 2025
TZ = timegrid.zone("Europe/Moscow")
SEASONS = ("winter", "transition", "summer")
DAYS = ("workday", "saturday", "sunday")


def reference(name: str):
    """cell -> 96 values of a profile, read straight from the shipped CSV."""
    path = os.path.join(ROOT, "GenerateMeterData", "model", "data", "bdew_slp.csv")
    with open(path, encoding="utf-8") as f:
        reader = csv.reader(line for line in f if not line.startswith("#"))
        header = next(reader)
        column = header.index(name)
        cells = {}
        for row in reader:
            cells.setdefault(SEASONS.index(row[0]) * 3 + DAYS.index(row[1]), []).append(float(row[column]))
    return cells


def bdew_season(day: dt.date) -> int:
    md = (day.month, day.day)
    if md >= (11, 1) or md <= (3, 20):
        return 0
    return 2 if (5, 15) <= md <= (9, 14) else 1


def dynamisation(t: int) -> float:
    return -3.92e-10 * t ** 4 + 3.2e-7 * t ** 3 - 7.02e-5 * t ** 2 + 2.1e-3 * t + 1.24


def correlation(a, b) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va, vb = sum((x - ma) ** 2 for x in a), sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb) if va and vb else 0.0


def tables(profile: str, meters: int):
    first, last = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    start = timegrid.local_midnight(first, TZ)
    end = timegrid.local_midnight(last + dt.timedelta(days=1), TZ)
    for n in range(meters):
        model = LoadModel.random(stream(7, "realism", profile, n, "load"), 3 if n % 2 else 1, False,
                                 pv=False, profile=profile)
        outages = random_outages(stream(7, "realism", profile, n, "outages"), start, end)
        yield DayTable(model, stream_key(7, "realism", profile, n, "days"), first, last, 15, TZ,
                       DEFAULT_SCHEDULE, outages)


def shapes(profile: str, meters: int):
    """Mean normalised day shape per cell, mean daily energy per day type, per-meter daily energies,
    mean shape of each holiday, peak-to-mean and load factor of the meters' years."""
    calendar = daytypes.calendar_for(TZ)
    sums = {cell: [0.0] * 96 for cell in range(9)}
    counts = {cell: 0 for cell in range(9)}
    type_energy, type_days = [0.0, 0.0, 0.0], [0, 0, 0]
    holidays = {}
    dailies, peaks, factors = [], [], []
    for table in tables(profile, meters):
        daily = []
        peak, total_slots, energy_sum = 0, 0, 0
        for i in range(table.count):
            day = dt.date(YEAR, 1, 1) + dt.timedelta(days=i)
            series = table.slots(i)
            energy = sum(series.ap)
            daily.append(energy)
            kind = calendar.day_type(day)
            type_energy[kind] += energy
            type_days[kind] += 1
            peak = max(peak, max(series.ap))
            total_slots += len(series.ap)
            energy_sum += energy
            if not energy or len(series.ap) != 96:
                continue
            cell = bdew_season(day) * 3 + kind
            normalised = [e / energy for e in series.ap]
            sums[cell] = [a + b for a, b in zip(sums[cell], normalised)]
            counts[cell] += 1
            if kind == daytypes.SUNDAY and day.weekday() < 5:
                held = holidays.setdefault(day, [0.0] * 96)
                holidays[day] = [a + b for a, b in zip(held, normalised)]
        dailies.append(daily)
        mean_slot = energy_sum / total_slots
        peaks.append(peak / mean_slot)
        factors.append(mean_slot / peak)
    means = {cell: [v / counts[cell] for v in sums[cell]] for cell in range(9) if counts[cell]}
    per_type = [e / d for e, d in zip(type_energy, type_days)]
    return means, per_type, dailies, holidays, peaks, factors


def reference_ratios(ref, dynamised: bool):
    """Saturday/workday and Sunday/workday energy of the profile over the same calendar year."""
    calendar = daytypes.calendar_for(TZ)
    energy, days = [0.0, 0.0, 0.0], [0, 0, 0]
    for n in range(365):
        day = dt.date(YEAR, 1, 1) + dt.timedelta(days=n)
        kind = calendar.day_type(day)
        value = sum(ref[bdew_season(day) * 3 + kind]) * (dynamisation(n + 1) if dynamised else 1.0)
        energy[kind] += value
        days[kind] += 1
    per = [e / d for e, d in zip(energy, days)]
    return per[1] / per[0], per[2] / per[0]


def max_pair_correlation(dailies) -> float:
    centred = []
    for series in dailies:
        m = sum(series) / len(series)
        dev = [x - m for x in series]
        norm = math.sqrt(sum(x * x for x in dev)) or 1.0
        centred.append([x / norm for x in dev])
    best = -1.0
    for a in range(len(centred)):
        ca = centred[a]
        for b in range(a + 1, len(centred)):
            best = max(best, sum(x * y for x, y in zip(ca, centred[b])))
    return best


def cv_across_meters(dailies) -> float:
    """Mean over days of the coefficient of variation of the meters' normalised daily energy."""
    norm = [[x / (sum(s) / len(s)) for x in s] for s in dailies]
    out = []
    for day in zip(*norm):
        m = sum(day) / len(day)
        out.append(math.sqrt(sum((x - m) ** 2 for x in day) / len(day)) / m)
    return sum(out) / len(out)


def kp_spread(meters: int, days: int):
    """(min distinct kP per phase per week, meters whose phases' kP series differ, meters with kP)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "meter.db")
        Scenario(meters=meters, days=days, end=dt.date(YEAR, 6, 30), seed=5,
                 measures=["ElMomentQuality"]).create(LocalTarget(path))
        conn = sqlite3.connect(path)
        rows = conn.execute("SELECT m.DeviceIdx, m.Timestamp, q.Phase, q.KP FROM MeterData m "
                            "JOIN ElectricQualityValues q ON q.Id = m.Id WHERE q.KP IS NOT NULL "
                            "AND q.Phase != 'Summ'").fetchall()
        conn.close()
    by_meter = {}
    for device, ts, phase, kp in rows:
        by_meter.setdefault(device, {}).setdefault(phase, []).append((ts, kp))
    least, differ = None, 0
    for phases in by_meter.values():
        for series in phases.values():
            series.sort()
            start = series[0][0]
            weeks = {}
            for ts, kp in series:
                weeks.setdefault((ts - start) // (7 * 86400), set()).add(kp)
            full = [len(v) for k, v in weeks.items() if k < days // 7]
            if full:
                least = min(full) if least is None else min(least, min(full))
        values = [tuple(kp for _, kp in s) for s in phases.values()]
        if len(values) == 1 or len(set(values)) == len(values):
            differ += 1
    return least, differ, len(by_meter), sum(1 for p in by_meter.values() if len(p) == 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    households, commercial = (50, 25) if args.quick else (200, 100)
    started = time.perf_counter()
    lines = []
    for profile, meters, bar, dynamised in (("H0", households, 0.97, True), ("G0", commercial, 0.95, False)):
        ref = reference(profile)
        means, per_type, dailies, holidays, peaks, factors = shapes(profile, meters)
        cells = []
        for cell in range(9):
            cells.append(correlation(means[cell], ref[cell]))
        sat, sun = per_type[1] / per_type[0], per_type[2] / per_type[0]
        ref_sat, ref_sun = reference_ratios(ref, dynamised)
        lines.append(f"{profile}: {meters} meters x {YEAR}, 15-minute slots")
        lines.append("  correlation of the mean normalised day shape with BDEW " + profile
                     + f" (bar >= {bar}):")
        for s, season in enumerate(SEASONS):
            lines.append("    " + season.ljust(11) + "  ".join(
                f"{DAYS[d]} {cells[s * 3 + d]:.4f}" for d in range(3)))
        lines.append(f"  min over the 9 cells: {min(cells):.4f} ({'ok' if min(cells) >= bar else 'BELOW BAR'})")
        lines.append(f"  Saturday/workday energy {sat:.3f} vs BDEW {ref_sat:.3f} ({100 * (sat / ref_sat - 1):+.1f} %); "
                     f"Sunday/workday {sun:.3f} vs BDEW {ref_sun:.3f} ({100 * (sun / ref_sun - 1):+.1f} %)")
        best = max_pair_correlation(dailies)
        lines.append(f"  highest correlation of two meters' years of daily energy: {best:.4f} (bar <= 0.99)")
        lines.append(f"  coefficient of variation of daily energy across meters: {cv_across_meters(dailies):.3f}; "
                     f"peak-to-mean {sum(peaks) / len(peaks):.2f}, load factor {sum(factors) / len(factors):.3f}")
        closer = sum(1 for day, shape in holidays.items()
                     if correlation(shape, ref[bdew_season(day) * 3 + 2]) > correlation(shape, ref[bdew_season(day) * 3]))
        lines.append(f"  holidays on weekdays whose mean shape is closer to Sunday's than to a workday's: "
                     f"{closer} of {len(holidays)}")
    least, differ, with_kp, three = kp_spread(40, 28)
    lines.append(f"kP: every meter of a 40-meter scenario that reports kP ({with_kp}, all {three} three-phase; the "
                 "single-phase types report no kP), 4 weeks of hourly readings: "
                 f"fewest distinct values of one phase in one week {least} (bar >= 20); "
                 f"meters whose phases' kP differ: {differ} of {with_kp}")
    lines.append(f"(took {time.perf_counter() - started:.0f} s)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
