"""Type checking: mypy, configured in pyproject.toml (``[tool.mypy]``: strict on the public
modules, normal checking elsewhere), passes on the package; and what a user's editor sees of the
names README.md documents is typed, not ``Any`` -- checked by running mypy on a user's script;
and the package's syntax is Python 3.9's (the oldest Python it supports, older than mypy checks).

The mypy checks run ``python -m mypy`` with this interpreter (mypy is in the ``test`` extra) and
are skipped, saying so, where mypy is not installed."""
from __future__ import annotations

import ast
import glob
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "pyproject.toml")

needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (it comes with: pip install '.[test]')")

REVEALED = re.compile(r'^.*?:(\d+): note: Revealed type is "(.*)"$')
ERROR = re.compile(r"^.*?:(\d+): error: (.*)$")


def run_mypy(cache: Path, *files: str) -> subprocess.CompletedProcess:
    """mypy with the project's configuration, on ``files`` (none: the package, as configured),
    reading the package from this checkout (MYPYPATH), not from an installed copy."""
    env = dict(os.environ, MYPYPATH=REPO)
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", CONFIG, "--cache-dir", str(cache),
                           "--no-error-summary" if files else "--error-summary", *files],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One mypy cache for the checks of this checkout's package (each reads all of it)."""
    return tmp_path_factory.mktemp("mypy_cache")


def check_script(tmp_path: Path, cache: Path, source: str) -> Tuple[Dict[int, str], Dict[int, List[str]], str]:
    """Revealed types and errors, by line, of a user's script checked against the package."""
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    result = run_mypy(cache, str(script))
    output = result.stdout + result.stderr
    revealed = {int(m.group(1)): m.group(2) for m in map(REVEALED.match, output.splitlines()) if m}
    errors: Dict[int, List[str]] = {}
    for m in filter(None, map(ERROR.match, output.splitlines())):
        errors.setdefault(int(m.group(1)), []).append(m.group(2))
    return revealed, errors, output


@needs_mypy
def test_mypy_passes_on_the_package(cache):
    result = run_mypy(cache)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mypy found errors (exit {result.returncode}):\n{output}"
    assert "Success: no issues found" in output, output


def test_the_package_parses_as_python_3_9():
    # mypy 2 checks no target older than 3.10 (pyproject.toml's python_version), so the 3.9 floor
    # of requires-python is held here for syntax: ast with feature_version rejects grammar 3.9
    # lacks (a match statement, for one; it is best-effort: not every later form is caught)
    with pytest.raises(SyntaxError):
        ast.parse("match value:\n    case 1:\n        pass\n", feature_version=(3, 9))
    files = glob.glob(os.path.join(REPO, "GenerateMeterData", "**", "*.py"), recursive=True)
    assert len(files) > 50
    for path in files:
        with open(path, encoding="utf-8") as handle:
            ast.parse(handle.read(), path, feature_version=(3, 9))


@needs_mypy
def test_the_strict_modules_are_checked_strictly(tmp_path):
    # the configuration's own claim, checked: a function without annotations is an error in a
    # public module (verify.py is strict) -- mypy's default does not report it at all
    package = tmp_path / "GenerateMeterData"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "verify.py").write_text("def untyped(x):\n    return x\n", encoding="utf-8")
    (package / "other.py").write_text("def untyped(x):\n    return x\n", encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", CONFIG, "--cache-dir",
                             str(tmp_path / "cache"), "-p", "GenerateMeterData"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert "verify.py:1: error: Function is missing a type annotation" in output, output
    assert "other.py" not in output, output  # normal checking elsewhere


@needs_mypy
def test_a_users_script_sees_the_documented_api_typed(tmp_path, cache):
    # the calls README.md's "Modern API" shows
    revealed, errors, output = check_script(tmp_path, cache, """\
        import datetime as dt
        from GenerateMeterData import LocalTarget, Scenario, settings, verify
        reveal_type(Scenario(meters=10, days=30, seed=1))
        reveal_type(Scenario(meters=10, days=30, seed=1).create(LocalTarget("meter.db")))
        reveal_type(verify("meter.db"))
        reveal_type(settings.load("settings.ini"))
        Scenario(meters=10, days="thirty", seed=1)
        """)
    assert set(revealed) == {3, 4, 5, 6}, output
    for line, text in revealed.items():
        assert "Any" not in text, f"line {line}: {text}\n{output}"
    assert revealed[3].endswith(".Scenario"), output
    assert revealed[4].endswith(".LoadSummary"), output
    assert revealed[5].endswith("list[GenerateMeterData.verify.Violation]"), output
    assert "LocalSettings" in revealed[6] and "DeviceSettings" in revealed[6], output
    assert set(errors) == {7}, output  # a day count given as text is caught before anything runs
    assert any('"days"' in message and "[arg-type]" in message for message in errors[7]), output


@needs_mypy
def test_a_users_script_sees_the_seed_classes_typed(tmp_path, cache):
    # README.md's "Seed-compatible API": GenerateMeterData.ElDayEnergy(MeterTable=..., Count_timestamp=7)
    revealed, errors, output = check_script(tmp_path, cache, """\
        import GenerateMeterData
        from GenerateMeterData import ElDayEnergy, MeterTable
        reveal_type(ElDayEnergy)
        reveal_type(GenerateMeterData.ElDayEnergy)
        reveal_type(MeterTable)
        """)
    assert not errors, output
    assert set(revealed) == {3, 4, 5}, output
    for line, text in revealed.items():
        assert "Any" not in text, f"line {line}: {text}\n{output}"
