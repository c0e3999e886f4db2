"""One meter of each kind for a month: a three-phase meter with 4 tariffs (SE303), a
single-phase meter with 2 tariffs (SEB-2A), and a three-phase meter with a rooftop PV that
exports (A-, P-).  Shows what the device's APIs return for each kind.

    python recipes/01_each_kind_of_meter.py [--db each_kind.db | --settings settings.ini --section Test]
"""
from _common import arguments, report, target

from GenerateMeterData import MeterPlan, Scenario, verify

args = arguments(__doc__, "each_kind.db")
plans = [MeterPlan("SE303"), MeterPlan("SEB2a"), MeterPlan("SETxTM", pv=True)]
with target(args) as destination:
    summary = Scenario(meters=plans, days=30, seed=1).create(destination)
    report(summary, "three-phase 4-tariff, single-phase 2-tariff, exporting meter")
    with destination.readable_copy() as path:
        problems = verify(path)
print("verify:", "all invariants hold" if not problems else f"{len(problems)} violations")
