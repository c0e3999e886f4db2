"""One meter of each kind for a month: a three-phase meter with 4 tariffs (SE303), a
single-phase meter with 2 tariffs (SEB-2A), and a three-phase meter with a rooftop PV that
exports (A-, P-).  Prints each meter's newest records by the tag names the device's JSON API uses
(its ElConfig flags, the day registers per tariff, a profile slot, a quality record) -- the
values to compare with what the device's API returns for the same meter -- and runs verify.

    python recipes/01_each_kind_of_meter.py [--db each_kind.db | --settings settings.ini --section Test]
"""
from _common import arguments, config_tags, local_time, newest_record, report, target

from GenerateMeterData import MeterPlan, Scenario, verify

SHOWN = {  # measure -> the tags printed for it
    "ElDayEnergy": ["A+0", "A+1", "A+2", "A+3", "A+4", "A-0", "R+0", "R-0"],
    "ElArr1ConsPower": ["P+", "P-", "Q+", "Q-", "isPart", "cTime"],
    "ElMomentQuality": ["UA", "UB", "UC", "IA", "PS", "kPS", "Freq"],
}
CONFIG_SHOWN = ["serial", "model", "cArrays", "isTrf", "isRp", "isAm", "isRm", "kI"]


def show(value) -> str:
    return "NULL" if value is None else f"{value:.3f}" if isinstance(value, float) else repr(value)


args = arguments(__doc__, "each_kind.db")
plans = [MeterPlan("SE303"), MeterPlan("SEB2a"), MeterPlan("SETxTM", pv=True)]
with target(args) as destination:
    summary = Scenario(meters=plans, days=30, seed=1).create(destination)
    report(summary, "three-phase 4-tariff, single-phase 2-tariff, exporting meter")
    for meter in summary.created:
        print(f"\nmeter {meter.meter_id} ({meter.type_name}), DeviceIdx {meter.device_idx}")
        config = config_tags(destination, meter.device_idx)
        print("  ElConfig         " + " ".join(f"{tag}={show(config[tag])}" for tag in CONFIG_SHOWN))
        for measure, tags in SHOWN.items():
            record = newest_record(destination, meter.device_idx, measure)
            if record is None:
                print(f"  {measure:<16} (no records)")
                continue
            values = " ".join(f"{tag}={show(record[tag])}" for tag in tags)
            print(f"  {measure:<16} {local_time(record['Timestamp'])} Valid={record['Valid']} {values}")
    with destination.readable_copy() as path:
        problems = verify(path)
print("\nverify:", "all invariants hold" if not problems else f"{len(problems)} violations")
