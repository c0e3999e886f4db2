"""pytest plugin of GenerateMeterData (registered through the ``pytest11`` entry point, so
installing the package is enough).

Options (command line over ini over defaults):
  --meterdata-settings FILE   (ini: meterdata_settings)  settings.ini naming the target
  --meterdata-section NAME    (ini: meterdata_section)   its section (default [Test])
  --meterdata-keep            (ini: meterdata_keep)      keep what tests seeded; the terminal
                                                         summary says where it stayed

Fixtures:
  meterdata_target     the device from settings.ini, or a fresh local meter.db when none is
                       configured (session scope: one SSH connection per session or xdist worker,
                       shared by every fixture below)
  meterdata_query      ``meterdata_query(sql, params=())`` -> list of tuples, read on the device
                       (or the local file) without copying the database; session scope
  meterdata            the test's seeder: ``meterdata.scenario(...)`` and one factory per
                       generator class (``meterdata.ElDayEnergy(Count_timestamp=3)``); whatever
                       it writes is removed at the test's teardown, and only that
  meterdata_class      the same seeder for data shared by a class's tests (removed after the class)
  meterdata_module     ... by a module's tests (loaded once, removed after the module)
  meterdata_session    ... by the whole session (removed at its end)
  meterdata_scenario   a factory: ``meterdata_scenario(meters=2, days=7)`` -> LoadSummary
  <class>_factory      e.g. ``el_day_energy_factory``, ``meter_table_factory``: the seed API
                       classes bound to the target and cleaned up after the test

Every seeder returns what a load created (``LoadSummary.meter_ids``, ``.device_idxs``,
``.created``) and lists it for all its loads (``seeder.meter_ids``), so a test reads its own rows
on a device that holds other meters.

A target that cannot be used (device unreachable, login refused, db_path missing, settings.ini
wrong) is found when the first test needs it: that test errors with one line saying why, and the
session stops there, as ``-x`` would -- every further test would hit the same wall, each after its
own connect timeout.  The connection is not retried.

Marker:
  @pytest.mark.meterdata_device   the test needs a real device; skipped with the reason when
                                  settings.ini names none

pytest-xdist: every worker has its own local meter.db (or its own SSH connection), and on a
shared device its own MeterId range (worker N starts at 1001 + N * 100000); ids inside the
database are assigned inside each load's transaction, so workers never collide."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import pytest

from . import seedapi
from . import settings as settings_module
from .generate.scenario import Scenario
from .records.summary import CreatedMeter, LoadSummary
from .targets import LocalTarget, target_for
from .targets.base import LoadObserver, Target
from .targets.ledger import ClearPlan

WORKER_METER_ID_SPAN = 100_000
SEED_CLASSES = list(seedapi.SEED_RECORD_CLASSES)  # from the measure registry (schema/measures.py)
SEEDER_SCOPES = {"session": "meterdata_session", "module": "meterdata_module", "class": "meterdata_class",
                 "function": "meterdata"}


def pytest_addoption(parser) -> None:
    """Register the --meterdata-* options and the meterdata_* ini keys."""
    group = parser.getgroup("meterdata", "GenerateMeterData: seed meter.db for USPD tests")
    group.addoption("--meterdata-settings", metavar="FILE", default=None,
                    help="settings.ini naming the device (default: ini meterdata_settings, else a local meter.db)")
    group.addoption("--meterdata-section", metavar="NAME", default=None,
                    help="section of the settings file (default: ini meterdata_section, else [Test])")
    group.addoption("--meterdata-keep", action="store_true", default=None,
                    help="keep what the tests seeded and say where at the end (default: remove it at teardown)")
    group.addoption("--meterdata-now", metavar="WHEN", default=None,
                    help="pin 'now' for the seeders, YYYY-MM-DD[THH:MM] in the target's time zone: scenario() "
                         "without end= ends on that date and the seed API classes' records end at that moment, "
                         "so the suite seeds the same rows on any day (default: ini meterdata_now, else the clock)")
    parser.addini("meterdata_settings", "settings.ini naming the device", default="")
    parser.addini("meterdata_now", "pin 'now' for the seeders (YYYY-MM-DD[THH:MM])", default="")
    parser.addini("meterdata_section", "section of the settings file", default="")
    parser.addini("meterdata_keep", "keep what the tests seeded", type="bool", default=False)


def pytest_configure(config) -> None:
    """Register the meterdata_device marker and the session's state."""
    config.addinivalue_line("markers", "meterdata_device: the test needs a real device (settings.ini); "
                                       "skipped when none is configured")
    config.stash[_SESSION] = MeterdataSession(config)


def _pinned_now(config) -> Optional[dt.datetime]:
    """--meterdata-now / ini meterdata_now as a naive local time (a usage error when malformed)."""
    text = _option(config, "now")
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise pytest.UsageError(f"--meterdata-now / meterdata_now: {text!r} is not YYYY-MM-DD or "
                                "YYYY-MM-DDTHH:MM") from None
    if when.tzinfo is not None:
        raise pytest.UsageError(f"--meterdata-now / meterdata_now: {text!r}: give a local time without an "
                                "offset (the target's time zone applies)")
    return when


def _option(config, name: str) -> Any:
    value = config.getoption(f"--meterdata-{name}")
    if value is None or value == "":
        value = config.getini(f"meterdata_{name}")
    return value or None


def _settings_path(config) -> Optional[str]:
    """The settings file: ``--meterdata-settings`` relative to where pytest was started (as any
    path a shell hands over; the rootdir may even be moved by that very argument), the ini key
    ``meterdata_settings`` relative to the ini file that holds it."""
    given = config.getoption("--meterdata-settings")
    if given:
        base = config.invocation_params.dir
    else:
        given = config.getini("meterdata_settings")
        base = config.inipath.parent if config.inipath else config.rootpath
    if not given:
        return None
    path = os.path.expanduser(str(given))
    return path if os.path.isabs(path) else str(base / path)


def _worker_index(config) -> int:
    worker = getattr(config, "workerinput", {}).get("workerid", "")
    match = re.match(r"gw(\d+)$", worker)
    return int(match.group(1)) if match else 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


class TargetUnavailable(Exception):
    """The session's target could not be made or reached; the message is one line."""


class MeterdataSession:
    """The plugin's state for one pytest session (or xdist worker): the target, made and checked
    once, and the loads written to it that are still there."""

    def __init__(self, config) -> None:
        self.config = config
        self.keep = bool(_option(config, "keep"))
        self.target: Optional[Target] = None
        self.failure: Optional[str] = None
        self.remaining: Dict[str, None] = {}  # tokens of the loads not removed (insertion-ordered)
        self.where = ""                       # the local file, or the device and its db_path
        self.from_workers: List[str] = []     # under xdist: the workers' summary lines
        self.now = _pinned_now(config)        # --meterdata-now: the seeders' "now" (local), or None

    def open(self, tmp_path_factory) -> Target:
        """The session's target, checked on first use; the failure is kept, never retried."""
        if self.target is not None:
            return self.target
        if self.failure is not None:
            raise TargetUnavailable(self.failure)
        target: Optional[Target] = None
        path = _settings_path(self.config)
        section = _option(self.config, "section")
        source = (f"{path}" + (f" [{section}]" if section else "")) if path else "a fresh local meter.db"
        try:
            if path:
                target = target_for(settings_module.load(path, _option(self.config, "section")))
            else:
                target = LocalTarget(str(tmp_path_factory.mktemp("meterdata") / "meter.db"))
                target.init()
            _check(target)
        except Exception as exc:  # any failure here means no test can seed: say it once, in one line
            if target is not None:
                target.close()
            self.failure = f"meterdata: the target from {source} cannot be used: {_first_line(exc)}"
            raise TargetUnavailable(self.failure) from None
        if self.now is not None:  # --meterdata-now, a local time in the target's zone: its clock
            target.context = target.context.with_clock(int(self.now.replace(tzinfo=target.context.tz).timestamp()))
        if hasattr(self.config, "workerinput"):  # pytest-xdist: a MeterId range of its own per worker
            target.meter_id_floor = 1001 + _worker_index(self.config) * WORKER_METER_ID_SPAN
            target.meter_id_span = WORKER_METER_ID_SPAN
        self.where = target.path if isinstance(target, LocalTarget) else target.name
        self.target = target
        return target

    def close(self) -> None:
        """Close the target (the SSH connection) at the end of the session."""
        if self.target is not None:
            self.target.close()

    def loaded(self, token: str) -> None:
        """A load was written."""
        self.remaining[token] = None

    def cleared(self, tokens: Sequence[str]) -> None:
        """Loads were removed."""
        for token in tokens:
            self.remaining.pop(token, None)

    def summary_lines(self) -> List[str]:
        """What the terminal summary says about data left on the target."""
        if not self.remaining:
            return []
        tokens = list(self.remaining)
        if isinstance(self.target, LocalTarget):
            where = f"in {self.where}"
        else:
            where = f"on {self.where} (ledger GenerateMeterDataLedger, tokens: {' '.join(tokens)})"
        if self.keep:
            return [f"meterdata: kept {len(tokens)} load(s) {where}"]
        return [f"meterdata: {len(tokens)} load(s) could not be removed and stayed {where}"]


_SESSION = pytest.StashKey[MeterdataSession]()


def session_state(config) -> MeterdataSession:
    """The plugin's state of this session: ``.target`` is the session's target once a test used
    it (a conftest can read ``DeviceTarget.commands``/``.logins`` from it in pytest_unconfigure)."""
    return config.stash[_SESSION]


def _check(target: Target) -> None:
    """Reach the target once at the start: a device logs in and reads its state (ids by name,
    sqlite3 and db_path present) -- which the first load needs anyway, so this costs no extra
    round trip; a local file must be a meter.db, or creatable."""
    if isinstance(target, LocalTarget) and not os.path.isdir(os.path.dirname(os.path.abspath(target.path))):
        raise FileNotFoundError(f"the folder of db_path {target.path} does not exist")
    target.check()


@pytest.fixture(scope="session")
def meterdata_target(request, tmp_path_factory) -> Iterator[Target]:
    """Where the tests' data goes: the configured device, or a fresh local meter.db; one per
    session (or xdist worker), checked when the first test needs it."""
    session = session_state(request.config)
    failure = None
    try:
        target = session.open(tmp_path_factory)
    except TargetUnavailable as exc:
        failure = str(exc)
    if failure is not None:  # outside the except block: one line, no chained traceback
        request.session.shouldfail = failure  # stop after this test, as -x does
        pytest.fail(failure, pytrace=False)
    yield target
    session.close()


@pytest.fixture(scope="session")
def meterdata_query(meterdata_target) -> Callable[..., List[tuple]]:
    """``meterdata_query(sql, params=())``: rows of a read-only query, run on the device by its
    own sqlite3 over the session's connection (or on the local file) -- no copy of the database.
    Values are bound through ``?`` placeholders, never pasted."""
    def query(sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        return meterdata_target.query(sql, tuple(params))
    return query


def pytest_runtest_setup(item) -> None:
    """Skip meterdata_device tests, with the reason, when no device is configured."""
    if item.get_closest_marker("meterdata_device") is None:
        return
    path = _settings_path(item.config)
    if not path:
        pytest.skip("needs a real device: no settings.ini given (--meterdata-settings FILE or ini meterdata_settings)")
    try:
        settings = settings_module.load(path, _option(item.config, "section"))
    except Exception:
        return  # a broken settings.ini is reported once, by meterdata_target
    if isinstance(settings, settings_module.LocalSettings):
        pytest.skip(f"needs a real device: the section of {path} names a local file")


class _SeederLoads(LoadObserver):
    """Hears the loads and clears a seeder makes on the session target (it observes only while
    the seeder writes or clears) and tells the session which loads stay."""

    def __init__(self, seeder: "Seeder") -> None:
        self.seeder = seeder

    def committed(self, target: Target, token: str) -> None:
        """(A part of) a load committed: teardown clears its token even if the load then failed."""
        seeder = self.seeder
        if token not in seeder.committed:
            seeder.committed.append(token)
            if seeder.session is not None:
                seeder.session.loaded(token)

    def loaded(self, target: Target, summary: LoadSummary) -> None:
        self.seeder.written.append(summary)

    def cleared(self, target: Target, plan: Optional[ClearPlan]) -> None:
        if plan is None:
            return
        seeder = self.seeder
        gone = set(plan.tokens)
        seeder.written = [s for s in seeder.written if s.token not in gone]
        seeder.committed = [t for t in seeder.committed if t not in gone]
        seeder.removed_meters.update(plan.meter_ids)
        if seeder.session is not None:
            seeder.session.cleared(plan.tokens)


class Seeder:
    """Access to the target for one scope (a test, a class, a module, the session): scenarios
    and the seed API classes; what it wrote is removed at the end of that scope.  Its loads go
    to the session target under one token of its own, recorded with the test that made them."""

    def __init__(self, target: Target, session: Optional[MeterdataSession] = None,
                 nodeid: Optional[str] = None) -> None:
        import uuid

        self.target = target
        self.session = session
        self.nodeid = nodeid
        self.run_token = uuid.uuid4().hex  # every load of this seeder under one token
        self.written: List[LoadSummary] = []
        self.committed: List[str] = []  # tokens of every load that committed (part of) itself
        self.removed_meters: set = set()  # MeterIds removed by clear(meters=...)
        self._observer = _SeederLoads(self)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Target]:
        """The session target, for loads (and clears) that are this seeder's: under its token,
        recording its test, observed."""
        command = f"pytest {self.nodeid}" if self.nodeid else None
        with self.target.recording(self.run_token, command), self.target.observed(self._observer):
            yield self.target

    def scenario(self, **kwargs: Any) -> LoadSummary:
        """Write ``Scenario(**kwargs)`` to the target; returns what was written, with the
        MeterIds and DeviceIdx the target assigned (``.meter_ids``, ``.device_idxs``, ``.created``).
        Without ``end=`` it ends today -- or on the date of --meterdata-now (the target's clock)."""
        with self.writing() as target:
            return Scenario(**kwargs).create(target)

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        """Rows of a read-only query on the target (no copy of the database)."""
        return self.target.query(sql, tuple(params))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in SEED_CLASSES:
            cls = getattr(seedapi, name)

            def make(*args: Any, **kwargs: Any) -> Any:
                with self.writing() as target:
                    return cls(*args, target=target, **kwargs)
            return make
        raise AttributeError(name)

    @property
    def loads(self) -> List[str]:
        """Tokens of the loads this seeder made (and has not removed yet): one, the seeder's
        token -- a load that failed after committing a part included, teardown clears it too."""
        tokens = list(self.committed)
        return tokens + [s.token for s in self.written if s.token and s.token not in tokens]

    @property
    def summaries(self) -> List[LoadSummary]:
        """What each of this seeder's loads wrote, in order."""
        return list(self.written)

    @property
    def created(self) -> List[CreatedMeter]:
        """Every meter this seeder's loads created and still has (MeterId, DeviceIdx, type name)."""
        return [meter for summary in self.written for meter in summary.created
                if meter.meter_id not in self.removed_meters]

    @property
    def meter_ids(self) -> List[int]:
        """MeterIds of the meters this seeder's loads created: ``WHERE MeterId IN (...)``."""
        return [meter.meter_id for meter in self.created]

    @property
    def device_idxs(self) -> List[int]:
        """DeviceIdx of the meters this seeder's loads created (the key of every record table)."""
        return [meter.device_idx for meter in self.created]

    def clear(self, meters: Optional[Iterable[int]] = None) -> int:
        """Remove this seeder's loads now (teardown does it otherwise); returns the loads undone.
        With ``meters`` (MeterIds its loads created) only those meters (hubs with the meters
        under them), in one transaction; returns how many were removed."""
        if meters is not None:
            meters = [int(m) for m in meters]
            foreign = sorted(set(meters) - {meter.meter_id for meter in self.created})
            if foreign:
                from .errors import InputError

                raise InputError(f"meter(s) {', '.join(map(str, foreign))} were not created by this "
                                 "seeder's loads; nothing was removed")
            with self.writing() as target:
                return target.clear(meters=meters)
        tokens = self.loads
        if not tokens:
            return 0
        with self.writing() as target:
            return target.clear(tokens)


def _seeder(request, target: Target) -> Iterator[Seeder]:
    """A seeder on the session target; at teardown its loads are removed in one transaction
    (one remote command on a device), unless --meterdata-keep."""
    session = session_state(request.config)
    seeder = Seeder(target, session, request.node.nodeid or request.config.rootpath.name)
    yield seeder
    if not session.keep and seeder.loads:
        seeder.clear()


@pytest.fixture
def meterdata(request, meterdata_target) -> Iterator[Seeder]:
    """The test's seeder; what it wrote is removed at the test's teardown unless --meterdata-keep."""
    yield from _seeder(request, meterdata_target)


@pytest.fixture(scope="class")
def meterdata_class(request, meterdata_target) -> Iterator[Seeder]:
    """A seeder for data shared by a class's tests; removed after the class."""
    yield from _seeder(request, meterdata_target)


@pytest.fixture(scope="module")
def meterdata_module(request, meterdata_target) -> Iterator[Seeder]:
    """A seeder for data shared by a module's tests: load it in a module-scoped fixture; it is
    removed after the module's last test."""
    yield from _seeder(request, meterdata_target)


@pytest.fixture(scope="session")
def meterdata_session(request, meterdata_target) -> Iterator[Seeder]:
    """A seeder for data shared by the whole session; removed at its end."""
    yield from _seeder(request, meterdata_target)


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

# the device checks' fixture (meterdata_rtu327) and its one-line assertion (assert_served)
from .device.pytest_fixtures import assert_served, meterdata_rtu327  # noqa: E402,F401


# ---- the end of the session: where the data stayed ------------------------------------------
@pytest.hookimpl(trylast=True)  # after the session's fixtures were torn down (and their loads removed)
def pytest_sessionfinish(session) -> None:
    """Under xdist, a worker hands its summary lines to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["meterdata_summary"] = session_state(session.config).summary_lines()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist controller: collect a finished worker's summary lines."""
    lines = getattr(node, "workeroutput", {}).get("meterdata_summary") or []
    worker = getattr(node, "gateway", None)
    prefix = f"[{worker.id}] " if worker is not None else ""
    session_state(node.config).from_workers.extend(prefix + line for line in lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say where seeded data stayed: with --meterdata-keep, and whenever a cleanup failed."""
    state = session_state(config)
    lines = state.summary_lines() + state.from_workers
    if lines:
        terminalreporter.write_sep("-", "meterdata")
        for line in lines:
            terminalreporter.write_line(line)
