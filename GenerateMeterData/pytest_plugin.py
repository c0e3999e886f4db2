"""pytest plugin of GenerateMeterData (registered through the ``pytest11`` entry point, so
installing the package is enough).

Options (command line over ini over defaults):
  --meterdata-settings FILE   (ini: meterdata_settings)  settings.ini naming the target
  --meterdata-section NAME    (ini: meterdata_section)   its section (default [Test])
  --meterdata-keep            (ini: meterdata_keep)      keep what tests seeded

Fixtures:
  meterdata_target     the device from settings.ini, or a fresh local meter.db when none is
                       configured (session scope: one SSH connection per session)
  meterdata            the test's seeder: ``meterdata.scenario(...)`` and one factory per
                       generator class (``meterdata.ElDayEnergy(Count_timestamp=3)``); whatever
                       it writes is removed at teardown, and only that
  meterdata_scenario   a factory: ``meterdata_scenario(meters=2, days=7)`` -> LoadSummary
  <class>_factory      e.g. ``el_day_energy_factory``, ``meter_table_factory``: the seed API
                       classes bound to the target and cleaned up after the test

Marker:
  @pytest.mark.meterdata_device   the test needs a real device; skipped with the reason when
                                  settings.ini names none

pytest-xdist: every worker has its own local meter.db, and on a shared device its own MeterId
range (worker N starts at 1001 + N * 100000); ids inside the database are assigned inside each
load's transaction, so workers never collide."""
from __future__ import annotations

import os
import re
from typing import Any, Callable, List

import pytest

from . import seedapi
from . import settings as settings_module
from .generate.scenario import LoadSummary, Scenario
from .targets import LocalTarget, target_for
from .targets.base import Target

WORKER_METER_ID_SPAN = 100_000
SEED_CLASSES = ["MeterTable", "ElConfig", "PlsConfig", "DigConfig", "ElMomentEnergy", "ElDayEnergy",
                "ElMonthEnergy", "ElDayConsEnergy", "ElMonthConsEnergy", "ElMomentQuality",
                "ElArr1ConsPower", "PlsMomentPulse", "PlsDayPulse", "PlsMonthPulse", "PlsHourPulse",
                "DigMomentState", "DigJournalState", "Journal"]


def pytest_addoption(parser) -> None:
    """Register the --meterdata-* options and the meterdata_* ini keys."""
    group = parser.getgroup("meterdata", "GenerateMeterData: seed meter.db for USPD tests")
    group.addoption("--meterdata-settings", metavar="FILE", default=None,
                    help="settings.ini naming the device (default: ini meterdata_settings, else a local meter.db)")
    group.addoption("--meterdata-section", metavar="NAME", default=None,
                    help="section of the settings file (default: ini meterdata_section, else [Test])")
    group.addoption("--meterdata-keep", action="store_true", default=None,
                    help="keep what the tests seeded (default: remove it at teardown)")
    parser.addini("meterdata_settings", "settings.ini naming the device", default="")
    parser.addini("meterdata_section", "section of the settings file", default="")
    parser.addini("meterdata_keep", "keep what the tests seeded", type="bool", default=False)


def pytest_configure(config) -> None:
    """Register the meterdata_device marker."""
    config.addinivalue_line("markers", "meterdata_device: the test needs a real device (settings.ini); "
                                       "skipped when none is configured")


def _option(config, name: str) -> Any:
    value = config.getoption(f"--meterdata-{name}")
    if value is None or value == "":
        value = config.getini(f"meterdata_{name}")
    return value or None


def _worker_index(config) -> int:
    worker = getattr(config, "workerinput", {}).get("workerid", "")
    match = re.match(r"gw(\d+)$", worker)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="session")
def meterdata_target(request, tmp_path_factory) -> Target:
    """Where the tests' data goes: the configured device, or a fresh local meter.db."""
    config = request.config
    path = _option(config, "settings")
    section = _option(config, "section")
    if path:
        path = str(config.rootpath / path) if not os.path.isabs(path) else path
        target = target_for(settings_module.load(path, section))
    else:
        target = LocalTarget(str(tmp_path_factory.mktemp("meterdata") / "meter.db"))
        target.init()
    if hasattr(config, "workerinput"):  # pytest-xdist: a MeterId range of its own per worker
        target.meter_id_floor = 1001 + _worker_index(config) * WORKER_METER_ID_SPAN
        target.meter_id_span = WORKER_METER_ID_SPAN
    yield target
    target.close()


def _is_device(target: Target) -> bool:
    return not isinstance(target, LocalTarget)


def pytest_runtest_setup(item) -> None:
    """Skip meterdata_device tests, with the reason, when no device is configured."""
    if item.get_closest_marker("meterdata_device") is None:
        return
    if not _option(item.config, "settings"):
        pytest.skip("needs a real device: no settings.ini given (--meterdata-settings FILE or ini meterdata_settings)")
    path = _option(item.config, "settings")
    path = str(item.config.rootpath / path) if not os.path.isabs(path) else path
    if isinstance(settings_module.load(path, _option(item.config, "section")), settings_module.LocalSettings):
        pytest.skip(f"needs a real device: the section of {path} names a local file")


class _TrackingTarget(Target):
    """The session target, remembering the tokens of the loads one test made."""

    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.tokens: List[str] = []
        self.name = inner.name
        self.timezone = inner.timezone

    def load(self, produce, progress=None, expected_meters=None) -> LoadSummary:
        """Load through the session target and remember the load's token."""
        self.inner.meter_id_floor, self.inner.meter_id_span = self.meter_id_floor, self.meter_id_span
        summary = self.inner.load(produce, progress, expected_meters)
        if summary.token:
            self.tokens.append(summary.token)
        return summary

    def fetch(self, sql, params=()):
        """Query the session target."""
        return self.inner.fetch(sql, params)

    def readable_copy(self):
        """A local copy of the session target's database."""
        return self.inner.readable_copy()

    def init(self, force=False):
        """Create the session target's database."""
        return self.inner.init(force)

    def clear(self, tokens=None) -> int:
        """Undo this test's loads (or the given ones)."""
        return self.inner.clear(self.tokens if tokens is None else tokens)

    def backup(self, destination):
        """Back up the session target."""
        return self.inner.backup(destination)

    def restore(self, source):
        """Restore the session target."""
        return self.inner.restore(source)


class Seeder:
    """One test's access to the target: scenarios and the seed API classes, all cleaned up."""

    def __init__(self, target: _TrackingTarget) -> None:
        self.target = target

    def scenario(self, **kwargs: Any) -> LoadSummary:
        """Write ``Scenario(**kwargs)`` to the target; returns what was written."""
        return Scenario(**kwargs).create(self.target)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in SEED_CLASSES:
            cls = getattr(seedapi, name)
            return lambda *args, **kwargs: cls(*args, target=self.target, **kwargs)
        raise AttributeError(name)

    @property
    def loads(self) -> List[str]:
        """Tokens of the loads this test made."""
        return list(self.target.tokens)


@pytest.fixture
def meterdata(request, meterdata_target) -> Seeder:
    """The test's seeder; what it wrote is removed at teardown unless --meterdata-keep."""
    tracking = _TrackingTarget(meterdata_target)
    tracking.meter_id_floor = meterdata_target.meter_id_floor
    tracking.meter_id_span = meterdata_target.meter_id_span
    seeder = Seeder(tracking)
    yield seeder
    if not _option(request.config, "keep") and tracking.tokens:
        meterdata_target.clear(tracking.tokens)


@pytest.fixture
def meterdata_scenario(meterdata) -> Callable[..., LoadSummary]:
    """``meterdata_scenario(meters=..., days=..., ...)`` writes a Scenario and returns its summary."""
    return meterdata.scenario


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _make_factory(class_name: str):
    def factory(meterdata) -> Callable[..., Any]:
        return getattr(meterdata, class_name)
    factory.__name__ = f"{_snake(class_name)}_factory"
    factory.__doc__ = f"``GenerateMeterData.{class_name}`` bound to the test target, cleaned up after the test."
    return pytest.fixture(factory, name=factory.__name__)


for _class_name in SEED_CLASSES:
    globals()[f"{_snake(_class_name)}_factory"] = _make_factory(_class_name)
