"""A full archive at the device's default retention depths (ArchInfo: 1680 profile slots, 840
moment records, 35 days, 12 months, 20 journal records) for 100 meters -- the most a factory-set
USPD keeps, to test paging and load in its APIs.

    python recipes/02_full_archive_default_retention.py [--meters 100] [--db full_archive.db]
"""
from _common import arguments, report, target

from GenerateMeterData import Scenario, StoryOptions

args = arguments(__doc__, "full_archive.db", meters=(int, 100, "number of meters (default 100)"))
options = StoryOptions(journals={"ElJrnlOpen": 20, "ElJrnlTimeCorr": 20}, outages_per_30_days=10)
with target(args) as destination:
    # 13 months of story so 12 month registers and 12 monthly consumptions exist; only the
    # newest records of each archive (its ArchInfo depth) are written.
    summary = Scenario(meters=args.meters, days=400, seed=2, depth="retention", options=options,
                       measures=["ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy", "ElDayConsEnergy",
                                 "ElMonthConsEnergy", "ElMomentQuality", "ElArr1ConsPower", "ElJrnlPwr",
                                 "ElJrnlOpen", "ElJrnlTimeCorr"]).create(destination)
    report(summary, "full archive at default retention")
