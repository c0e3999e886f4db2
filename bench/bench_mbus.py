"""M-Bus decoding throughput of the whole libmbus test-frame corpus, GenerateMeterData against
pyMeterBus (a benchmark-only dependency: ``pip install 'GenerateMeterData[bench]'``) on the
same frames, in one run.  Both sides decode every frame and read every record's value and unit.

    python bench/bench_mbus.py

The ratio (frames/s ours over pyMeterBus's, bar >= 3) is printed last."""
from __future__ import annotations

import glob
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from GenerateMeterData.protocols.mbus.frames import parse_hex  # noqa: E402
from GenerateMeterData.protocols.mbus.records import decode_telegram  # noqa: E402

CORPUS = os.path.join(os.path.dirname(HERE), "tests", "data", "mbus", "libmbus", "test-frames")


def ours(frames):
    count = 0
    for raw in frames:
        telegram = decode_telegram(raw)
        for record in telegram.records:
            count += record.value is not None and record.unit is not None
    return count


def theirs(frames, meterbus):
    count = 0
    for raw in frames:
        try:
            telegram = meterbus.load(raw)
            for record in telegram.records:
                count += record.value is not None and record.unit is not None
        except Exception:  # pyMeterBus fails on 2 corpus frames (fixed data structure)
            pass
    return count


def rate(function, frames, seconds=3.0):
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        function(frames)
        done += len(frames)
    return done / (time.perf_counter() - started)


def main() -> None:
    try:
        import meterbus
    except ImportError:
        sys.exit("cannot run: pyMeterBus is not installed (pip install 'GenerateMeterData[bench]')")
    frames = [parse_hex(open(p, encoding="utf-8").read()) for p in sorted(glob.glob(os.path.join(CORPUS, "*.hex")))]
    failures = 0
    for raw in frames:
        try:
            [r.value for r in meterbus.load(raw).records]
        except Exception:
            failures += 1
    best, theirs_rate = 0.0, 0.0
    for _ in range(2):  # interleaved rounds, best of each: the machine is shared
        best = max(best, rate(ours, frames))
        theirs_rate = max(theirs_rate, rate(lambda f: theirs(f, meterbus), frames))
    print(f"corpus: {len(frames)} frames; pyMeterBus fails on {failures} of them (its time for those counts too)")
    print(f"GenerateMeterData: {best:,.0f} frames/s; pyMeterBus {meterbus.__version__ if hasattr(meterbus, '__version__') else ''}: {theirs_rate:,.0f} frames/s")
    print(f"ratio (GenerateMeterData / pyMeterBus, bar >= 3): {best / theirs_rate:.1f}")


if __name__ == "__main__":
    main()
