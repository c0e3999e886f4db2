"""A hub (MILUR IC, MeterTypes class Hub) on Ethernet with three meters behind it (interface
Hub, ParentId = the hub's MeterId), as the device lists chained meters.

    python recipes/04_hub_with_meters.py [--db hub.db]
"""
from _common import arguments, report, target

from GenerateMeterData import MeterPlan, Scenario

args = arguments(__doc__, "hub.db")
hub = MeterPlan("MILUR IC", table={"Address": "10.0.0.20:5000"},
                children=[MeterPlan("MILUR30x", count=2), MeterPlan("MILUR10x")])
with target(args) as destination:
    report(Scenario(meters=[hub], days=7, seed=4).create(destination), "hub with 3 meters")
