"""Several devices from one settings.ini: every section (device or local file) is seeded
concurrently, one result line each -- what ``generatemeterdata seed --all-sections`` does.

    python recipes/08_several_devices.py --settings settings.ini [--meters 5 --days 7]

Without --settings it writes a settings file with two local sections (bench1.db, bench2.db) into
--out (default recipes/out/) and seeds those.
"""
import argparse
import os
import subprocess
import sys

RECIPES = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--settings", help="settings.ini with several sections")
parser.add_argument("--meters", type=int, default=5)
parser.add_argument("--days", type=int, default=7)
parser.add_argument("--out", default=os.path.join(RECIPES, "out"),
                    help="folder for the settings file and databases made without --settings (default recipes/out)")
args = parser.parse_args()
path = args.settings
if not path:
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "several_devices.ini")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"[Bench1]\ndb_path = {os.path.join(out, 'bench1.db')}\n\n"
                     f"[Bench2]\ndb_path = {os.path.join(out, 'bench2.db')}\n")
    print(f"settings: {path}")
here = os.path.dirname(RECIPES)
env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
result = subprocess.run([sys.executable, "-m", "GenerateMeterData", "seed", "--settings", path, "--all-sections",
                         "--meters", str(args.meters), "--days", str(args.days)], env=env)
sys.exit(result.returncode)
