"""Capture from a meter into meter.db: an imitated NEVA MT 324 (on a loopback TCP port, as a
meter behind an Ethernet converter would be) is read over IEC 62056-21 -- a mode C readout, then
programming mode with two days of its half-hour archive -- and written through the same writers
as generated data; verify then checks the result.  Point --port at a real meter to do the same
on a bench (e.g. --port /dev/ttyUSB0 or socket://10.0.0.7:4001).

    python recipes/07_capture_from_imitated_meter.py [--db captured.db] [--port URL]
"""
from _common import arguments, target

from GenerateMeterData import verify
from GenerateMeterData.model import timegrid
from GenerateMeterData.imitation.capture import capture_rows, neva_reading
from GenerateMeterData.protocols.iec62056.client import IECClient
from GenerateMeterData.imitation import IECImitator

args = arguments(__doc__, "captured.db", port=(str, None, "meter URL (default: start an imitator)"))
imitator = None
if not args.port:
    imitator = IECImitator(manufacturer="TPC")
    host, port = imitator.start_tcp()
    args.port = f"socket://{host}:{port}"
    print(f"imitated meter (serial {imitator.meter.serial}) on {args.port}")
try:
    with target(args) as destination:
        with IECClient(args.port, initial_baud=9600, baud_switch_delay=0.0) as client:
            with client.programming("00000000") as session:
                reading = neva_reading(session, timegrid.zone("Europe/Moscow"), days=2)
        summary = capture_rows(reading, destination)
        print(f"captured meter {reading.serial}: {summary.rows}")
        with destination.readable_copy() as path:
            problems = verify(path)
    print("verify:", "all invariants hold" if not problems else f"{len(problems)} violations")
finally:
    if imitator:
        imitator.stop()
