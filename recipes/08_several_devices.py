"""Several devices from one settings.ini: every section (device or local file) is seeded
concurrently, one result line each -- what ``generatemeterdata seed --all-sections`` does.

    python recipes/08_several_devices.py --settings settings.ini [--meters 5 --days 7]

Without --settings it writes a settings file with two local sections next to itself.
"""
import argparse
import os
import subprocess
import sys

parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--settings", help="settings.ini with several sections")
parser.add_argument("--meters", type=int, default=5)
parser.add_argument("--days", type=int, default=7)
args = parser.parse_args()
path = args.settings
if not path:
    path = "several_devices.ini"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[Bench1]\ndb_path = bench1.db\n\n[Bench2]\ndb_path = bench2.db\n")
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
result = subprocess.run([sys.executable, "-m", "GenerateMeterData", "seed", "--settings", path, "--all-sections",
                         "--meters", str(args.meters), "--days", str(args.days)], env=env)
sys.exit(result.returncode)
