"""What a tester's script pays per seed-API object on a local file: the issue's typical script
(MeterTable, ElConfig, Journal, ElDayEnergy(7), ElDayConsEnergy(7), ElMonthEnergy(3),
ElMomentEnergy(), ElMomentQuality(3), ElArr1ConsPower(48)), one never-seen meter per round
(each round its own root seed, so no round reuses another's story).

    python bench/bench_objects.py                      # now, and now without the story cache
    python bench/bench_objects.py --baseline 02eaafe   # also a revision's code (git archive)

Columns: ``now`` (a meter's model computed once and reused by every object of that meter),
``no reuse`` (the cache emptied before each object: what one object costs on its own), and with
``--baseline REV`` the same script run by that revision's package in a subprocess (02eaafe is
the last revision that simulated the whole 26-month history slot by slot for every object).
Per object the median over the rounds; printed last, the median per object (bar <= 10 ms)."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in this process (path = the repository) or in a subprocess (path = an extracted revision).
SCRIPT = r'''
import json, os, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[4])  # bench/: the script itself, one copy for both benchmarks
rounds, clear = int(sys.argv[2]), sys.argv[3] == "clear"
import tester_script
import GenerateMeterData as G
from GenerateMeterData.targets import LocalTarget

def forget():
    if clear:
        from GenerateMeterData.generate import electric, modules
        electric.STORIES.clear()
        modules.PULSE_MODELS.clear()

times = {}
def timed(label, make):
    forget()
    started = time.perf_counter()
    result = make()
    times.setdefault(label, []).append(1000 * (time.perf_counter() - started))
    return result

with tempfile.TemporaryDirectory() as tmp:
    for n in range(rounds):
        target = LocalTarget(os.path.join(tmp, f"m{n}.db"))
        target.init()
        G.configure(target, seed=1000 + n)  # a new root seed: every round a meter never seen before
        tester_script.run(G, timed)
print(json.dumps(times))
'''


def run(package_root: str, rounds: int, clear: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, package_root, str(rounds), "clear" if clear else "keep",
                          os.path.dirname(os.path.abspath(__file__))],
                         check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return {label: statistics.median(values) for label, values in json.loads(out.stdout.splitlines()[-1]).items()}


def baseline(revision: str, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", REPO, "archive", revision, "GenerateMeterData"],
                                 check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        return run(tmp, rounds, clear=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="fresh meters per column (default 7)")
    parser.add_argument("--baseline", metavar="REV", help="also run a git revision's package (e.g. 02eaafe)")
    args = parser.parse_args()
    columns = {"now": run(REPO, args.rounds, clear=False), "no reuse": run(REPO, args.rounds, clear=True)}
    if args.baseline:
        try:
            columns[f"old {args.baseline}"] = baseline(args.baseline, args.rounds)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            print(f"baseline {args.baseline} not run: {exc}")
    names = list(columns)
    print(f"{'object':22s}" + "".join(f"{name:>16s}" for name in names))
    labels = list(columns["now"])
    for label in labels:
        print(f"{label:22s}" + "".join(f"{columns[name].get(label, float('nan')):13.1f} ms" for name in names))
    medians = {name: statistics.median(columns[name].values()) for name in names}
    print("median per object (bar <= 10 ms): " + ", ".join(f"{name} {value:.1f} ms" for name, value in medians.items()))


if __name__ == "__main__":
    main()
