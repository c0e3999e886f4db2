"""Pulse concentrators (Pulsar: hourly/daily/monthly counters of water and heat meters on 32
channels) and a discrete I/O module (UMTV-10: input states and their change journal).

    python recipes/05_pulse_and_digital.py [--db modules.db]
"""
from _common import arguments, report, target

from GenerateMeterData import MeterPlan, Scenario

args = arguments(__doc__, "modules.db")
with target(args) as destination:
    summary = Scenario(meters=[MeterPlan("Pulsar", count=2), MeterPlan("UMTV10")], days=14, seed=5).create(destination)
    report(summary, "pulse and digital modules")
