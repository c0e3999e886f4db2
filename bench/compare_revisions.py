"""Every benchmark on two revisions, side by side in one run: a refactoring must leave each figure
within its noise.  Each benchmark script is run from a `git archive` of each revision (its own
code and its own copy of the benchmark), alternately, ``--rounds`` times; the lines each prints
last are shown next to each other.

    python bench/compare_revisions.py OLD [NEW] [--rounds 1] [--only bench_local,bench_dlms]
        (NEW defaults to the working tree; the SSH benchmarks need root, openssh-server, sqlite3)

The figures the benchmarks print are their own (ratios against raw executemany, ms per object,
rows/s ...); this script only runs and lines them up, printed last."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the benchmarks and the arguments that keep each within minutes
BENCHMARKS: Dict[str, List[str]] = {
    "bench_local": ["--quick"],
    "bench_objects": ["--rounds", "3"],
    "bench_seed_script": [],
    "bench_ssh": [],
    "bench_pytest": ["--rounds", "1"],
    "bench_dlms": [],
    "bench_mbus": [],
    "bench_verify": ["--meters", "40", "--days", "90", "--rounds", "1"],
}
LAST_LINES = 4


def checkout(revision: str, into: str) -> str:
    """The tree of ``revision`` (or the working tree for "WORKTREE") in a fresh directory."""
    if revision == "WORKTREE":
        shutil.copytree(REPO, into, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.db", ".arm-device"))
        return into
    os.makedirs(into)
    archive = subprocess.run(["git", "-C", REPO, "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def run(tree: str, name: str, args: List[str]) -> Tuple[float, List[str]]:
    script = os.path.join(tree, "bench", name + ".py")
    if not os.path.exists(script):
        return 0.0, ["(no such benchmark in this revision)"]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, script, *args], cwd=tree, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=tree), timeout=3600)
    elapsed = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0:
        lines = lines[-2:] + [f"FAILED (exit {done.returncode}): " + (done.stderr.strip().splitlines() or [""])[-1]]
    return elapsed, lines[-LAST_LINES:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="WORKTREE")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args()
    names = [n for n in BENCHMARKS if not args.only or n in args.only.split(",")]
    results: Dict[Tuple[str, str], List[Tuple[float, List[str]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        trees = {label: checkout(rev, os.path.join(tmp, label)) for label, rev in (("old", args.old), ("new", args.new))}
        for name in names:
            for _ in range(args.rounds):
                for label in ("old", "new"):   # alternately: the machine's load hits both alike
                    results.setdefault((name, label), []).append(run(trees[label], name, BENCHMARKS[name]))
                    print(f"{name} [{label}] done", file=sys.stderr)
    print(f"old = {args.old}, new = {args.new}; {args.rounds} round(s) each, alternating")
    for name in names:
        print(f"\n== {name} {' '.join(BENCHMARKS[name])}")
        for label in ("old", "new"):
            for elapsed, lines in results[(name, label)]:
                print(f"  [{label}] ({elapsed:.0f} s)")
                for line in lines:
                    print(f"      {line}")


if __name__ == "__main__":
    main()
