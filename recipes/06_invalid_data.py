"""Deliberately invalid data, to test the device's validation: moment quality records with
Valid = 0 (headers without values), a day register that goes backwards on one day, and a total
that is not the sum of its tariffs.  ``verify`` then lists exactly the injected faults.

    python recipes/06_invalid_data.py [--db invalid.db]
"""
import datetime as dt

from _common import arguments, report, target

from GenerateMeterData import MeterPlan, Override, Scenario, verify

args = arguments(__doc__, "invalid.db")
end = dt.date.today()
bad_day = end - dt.timedelta(days=3)
overrides = [
    Override("ElMomentQuality", {"Valid": 0}),                   # quality never read
    Override("ElDayEnergy", {"A+1": 0.0}, at=bad_day),            # register jumps back to 0
    Override("ElMonthEnergy", {"A+0": 1.0}),                       # total != sum of tariffs
]
with target(args) as destination:
    summary = Scenario(meters=[MeterPlan("SE303")], days=40, end=end, seed=6, overrides=overrides).create(destination)
    report(summary, "invalid data")
    with destination.readable_copy() as path:
        problems = verify(path)
print(f"verify found {len(problems)} violations, for example:")
for problem in problems[:5]:
    print("  " + problem.format(__import__("zoneinfo").ZoneInfo("Europe/Moscow")))
