"""Fixtures of the test suite: real SQLite files made by the package itself."""
from __future__ import annotations

import datetime as dt
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from GenerateMeterData import LocalTarget, Scenario, set_default_target  # noqa: E402

END = dt.date(2026, 3, 1)


@pytest.fixture
def db_path(tmp_path):
    """A fresh meter.db created by ``init``."""
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    return path


@pytest.fixture
def seeded(tmp_path_factory):
    """A factory: write a Scenario to a fresh file and return the path."""
    def make(**kwargs):
        path = str(tmp_path_factory.mktemp("seeded") / "meter.db")
        kwargs.setdefault("end", END)
        kwargs.setdefault("seed", 7)
        Scenario(**kwargs).create(LocalTarget(path))
        return path
    return make


@pytest.fixture(scope="session")
def year_db(tmp_path_factory):
    """Six meters over 90 days with every electric measure, shared by the invariant tests."""
    path = str(tmp_path_factory.mktemp("year") / "meter.db")
    Scenario(meters=6, days=90, end=END, seed=11).create(LocalTarget(path))
    return path


@pytest.fixture(autouse=True)
def _no_default_target_leak():
    yield
    set_default_target(None)
