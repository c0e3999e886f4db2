"""A picture of one meter from any meter.db (generated or collected by the device): the load
profile, the day registers per tariff and the daily consumption.  Needs matplotlib
(``pip install GenerateMeterData[plot]``)."""
from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Optional

from .errors import InputError
from .model import timegrid


def _series(conn: sqlite3.Connection, device_idx: int, measure: str, sql: str):
    return list(conn.execute(
        "SELECT m.Timestamp, " + sql + " FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
        "WHERE m.DeviceIdx = ? AND a.Name = ? AND m.Valid = 1 ORDER BY m.Timestamp", (device_idx, measure)))


def plot_meter(db_path: str, output: str, meter_id: Optional[int] = None,
               timezone: str = timegrid.DEFAULT_TIMEZONE) -> str:
    """Draw a meter's profile, registers and daily consumption to a PNG; returns a one-line
    description of what was drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("plot needs matplotlib: pip install 'GenerateMeterData[plot]'") from None
    tz = timegrid.zone(timezone)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        if meter_id is None:
            row = conn.execute("SELECT m.DeviceIdx, m.MeterId FROM MeterTable m WHERE EXISTS "
                               "(SELECT 1 FROM MeterData d WHERE d.DeviceIdx = m.DeviceIdx) ORDER BY m.DeviceIdx LIMIT 1").fetchone()
        else:
            row = conn.execute("SELECT DeviceIdx, MeterId FROM MeterTable WHERE MeterId = ?", (meter_id,)).fetchone()
        if row is None:
            raise InputError(f"no meter {meter_id} with data in {db_path}" if meter_id else f"no meter with data in {db_path}")
        device_idx, meter_id = row
        profile = _series(conn, device_idx, "ElArr1ConsPower",
                          "(SELECT Pp FROM ElectricPowerValues p WHERE p.Id = m.Id), "
                          "(SELECT Pm FROM ElectricPowerValues p WHERE p.Id = m.Id)")
        registers = {t: _series(conn, device_idx, "ElDayEnergy",
                                f"(SELECT Ap FROM ElectricEnergyValues e WHERE e.Id = m.Id AND e.Tariff = {t})")
                     for t in range(5)}
        consumption = {t: _series(conn, device_idx, "ElDayConsEnergy",
                                  f"(SELECT Ap FROM ElectricEnergyValues e WHERE e.Id = m.Id AND e.Tariff = {t})")
                       for t in range(1, 5)}
    finally:
        conn.close()
    if not profile and not registers[0]:
        raise InputError(f"meter {meter_id} has no load profile and no day registers to draw")

    def when(ts: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, tz).replace(tzinfo=None)

    figure, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 10))
    figure.suptitle(f"meter {meter_id} (DeviceIdx {device_idx}) — {db_path}")
    if profile:
        top.plot([when(p[0]) for p in profile], [(p[1] or 0) / 1000 for p in profile], lw=0.6, label="P+ import")
        if any(p[2] for p in profile):
            top.plot([when(p[0]) for p in profile], [-(p[2] or 0) / 1000 for p in profile], lw=0.6, label="P- export")
        top.legend(loc="upper right")
    top.set_ylabel("kW (30-min average)")
    top.set_title("load profile ElArr1ConsPower")
    for tariff, series in registers.items():
        points = [(when(ts), v / 1000) for ts, v in series if v is not None]
        if points:
            middle.plot([p[0] for p in points], [p[1] for p in points], label=f"A+{tariff}" + (" (total)" if tariff == 0 else ""))
    middle.set_ylabel("kWh")
    middle.set_title("day registers ElDayEnergy per tariff")
    middle.legend(loc="upper left")
    bottoms = {}
    for tariff, series in consumption.items():
        days = [when(ts) for ts, v in series if v is not None]
        values = [v / 1000 for ts, v in series if v is not None]
        if days:
            base = [bottoms.get(d, 0.0) for d in days]
            bottom.bar(days, values, bottom=base, width=0.8, label=f"T{tariff}")
            for d, v in zip(days, values):
                bottoms[d] = bottoms.get(d, 0.0) + v
    bottom.set_ylabel("kWh per day")
    bottom.set_title("daily consumption ElDayConsEnergy (A+ by tariff)")
    if bottoms:
        bottom.legend(loc="upper right")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(output, dpi=90)
    plt.close(figure)
    return (f"meter {meter_id}: {len(profile)} profile slots, {len(registers[0])} day registers, "
            f"{len(bottoms)} days of consumption -> {output}")
