"""A power outage that shows everywhere it should: ElJrnlPwr (off = 0, on = 1) and the phase
journals, zero power in the profile with isPart on the cut slots, flat registers, and moment
records that are Valid = 0 headers while the meter had no power.

    python recipes/03_power_outage.py [--db outage.db]
"""
import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

from _common import arguments, report, target

from GenerateMeterData import MeterPlan, Scenario

args = arguments(__doc__, "outage.db")
msk = ZoneInfo("Europe/Moscow")
end = dt.date.today()
off = dt.datetime.combine(end - dt.timedelta(days=2), dt.time(10, 10), msk)
on = off + dt.timedelta(hours=2, minutes=35)
with target(args) as destination:
    summary = Scenario(meters=[MeterPlan("SE303", outages=[(off, on)])], days=5, end=end, seed=3).create(destination)
    report(summary, f"outage {off:%Y-%m-%d %H:%M} .. {on:%H:%M}")
    with destination.readable_copy() as path:
        conn = sqlite3.connect(path)
        for ts, event in conn.execute(
                "SELECT m.Timestamp, j.Event FROM MeterData m JOIN JournalValues j ON j.Id = m.Id "
                "JOIN ArchTypes a ON a.Id = m.RecordTypeId WHERE a.Name = 'ElJrnlPwr'"):
            print(f"  ElJrnlPwr {dt.datetime.fromtimestamp(ts, msk):%Y-%m-%d %H:%M:%S} event={event}")
        for ts, pp, part in conn.execute(
                "SELECT m.Timestamp, p.Pp, p.Partial FROM MeterData m JOIN ElectricPowerValues p ON p.Id = m.Id "
                "WHERE m.Timestamp BETWEEN ? AND ? ORDER BY m.Timestamp",
                (int(off.timestamp()), int(on.timestamp()) + 1800)):
            print(f"  profile {dt.datetime.fromtimestamp(ts, msk):%H:%M} P+={pp:9.3f} W isPart={part}")
