"""Deliberately invalid data, to test the device's validation -- and ``verify`` naming each fault
by the rule it breaks:

  1. a day register that jumps back to 0 on one day  -> rule cumulative-decreases
  2. a month total that is not the sum of its tariffs -> rule tariff-sum
  3. a day of moment quality records with Valid = 0   -> no rule: a Valid = 0 header without
     values is how the device stores a reading it could not take, so verify accepts it (its rule
     valid-0-without-values checks that no values hide under it); the recipe lists those records

For each fault the recipe prints verify's first line for it; the other lines verify prints are
consequences of the same faults in other archives (the moment registers and the profile no longer
agree with a register that was changed), summarised per rule.  Exits 1 if verify misses a fault.

    python recipes/06_invalid_data.py [--db invalid.db]
"""
import datetime as dt
import sys
from collections import Counter
from zoneinfo import ZoneInfo

from _common import arguments, local_time, report, target

from GenerateMeterData import MeterPlan, Override, Scenario, StoryOptions, verify

args = arguments(__doc__, "invalid.db")
msk = ZoneInfo("Europe/Moscow")
end = dt.date.today()
bad_day = end - dt.timedelta(days=3)
quality_day = end - dt.timedelta(days=5)
faults = [  # (what was injected, the override, the rule that must report it, how to spot its line)
    (f"ElDayEnergy A+1 = 0 at {bad_day} 00:00 (the register jumps back)",
     Override("ElDayEnergy", {"A+1": 0.0}, at=bad_day), "cumulative-decreases",
     lambda v: v.table == "ElDayEnergy" and "A+1" in v.rule),
    ("ElMonthEnergy A+0 = 1 (a total that is not the sum of tariffs 1-4)",
     Override("ElMonthEnergy", {"A+0": 1.0}), "tariff-sum",
     lambda v: v.table == "ElMonthEnergy" and "A+0" in v.rule),
]
valid_0 = Override("ElMomentQuality", {"Valid": 0}, at=quality_day)

with target(args) as destination:
    summary = Scenario(meters=[MeterPlan("SE303")], days=40, end=end, seed=6,
                       options=StoryOptions(outages_per_30_days=0),   # no seeded outages: only these faults
                       overrides=[override for _, override, _, _ in faults] + [valid_0]).create(destination)
    report(summary, "invalid data")
    invalid = destination.query(
        "SELECT m.Timestamp FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
        "WHERE a.Name = 'ElMomentQuality' AND m.Valid = 0 AND m.DeviceIdx = ? ORDER BY m.Timestamp",
        (summary.device_idxs[0],))
    with destination.readable_copy() as path:
        problems = verify(path)

print(f"\nverify reports {len(problems)} lines; the injected faults, each with the rule that names it:")
missed = 0
first_lines = set()
for number, (what, _, rule_name, is_its_line) in enumerate(faults, start=1):
    found = [v for v in problems if v.rule_name == rule_name and is_its_line(v)]
    print(f"  {number}. {what}")
    if found:
        first_lines.add(id(found[0]))
        print(f"     -> {found[0].format(msk)}")
    else:
        missed += 1
        print(f"     -> MISSED: verify reported nothing under rule {rule_name}")
print(f"  {len(faults) + 1}. ElMomentQuality Valid = 0 on {quality_day}: {len(invalid)} records "
      f"({local_time(invalid[0][0])} .. {local_time(invalid[-1][0])})" if invalid else
      f"  {len(faults) + 1}. ElMomentQuality Valid = 0: no such records were written")
print("     -> no violation: a Valid = 0 header without values is a reading the device could not take; "
      f"[valid-0-without-values] {'found values under one' if any(v.rule_name == 'valid-0-without-values' for v in problems) else 'passed'}")
if not invalid:
    missed += 1
rest = Counter(v.rule_name for v in problems if id(v) not in first_lines)
if rest:
    print("consequences of the same faults in other archives (lines per rule): "
          + ", ".join(f"{name} {count}" for name, count in sorted(rest.items())))
sys.exit(1 if missed else 0)
