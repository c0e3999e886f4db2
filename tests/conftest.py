"""Fixtures of the test suite: real SQLite files made by the package itself."""
from __future__ import annotations

import datetime as dt
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

pytest_plugins = ["pytester"]

from GenerateMeterData import LocalTarget, Scenario, set_default_target  # noqa: E402
from helpers import SEED_API_NOW  # noqa: E402

END = dt.date(2026, 3, 1)
#: The device stand-in's sqlite3: this machine's, or GMD_TEST_DEVICE_SQLITE3 -- e.g. the armhf sqlite3
#: under qemu that bench/arm_device.py builds, to run the device tests against an ARM-speed device.
DEVICE_SQLITE3 = os.environ.get("GMD_TEST_DEVICE_SQLITE3") or "sqlite3"

# The suite's Ctrl-C tests send SIGINT to the programs it starts.  A runner that starts pytest with
# SIGINT ignored (a background job of a non-interactive shell: `cmd &`) hands the ignoring on through
# exec, and every such child would ignore the Ctrl-C (11 tests failed so once, 0 == 130).  Catching it
# here (Python's own handler) gives the children the default disposition again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture
def seed_clock():
    """``seed_clock(now)`` pins the seed API's "now" for this test (its public ``set_clock``);
    the clock it had comes back at teardown."""
    from GenerateMeterData import seedapi

    before = []

    def pin(now: int) -> int:
        previous = seedapi.set_clock(now)
        if not before:
            before.append(previous)
        return now

    yield pin
    if before:
        seedapi.set_clock(before[0])


@pytest.fixture
def seed_api_clock(seed_clock):
    """The seed API's "now" pinned to SEED_API_NOW for this test."""
    return seed_clock(SEED_API_NOW)


@pytest.fixture(autouse=True)
def _no_default_target_leak():
    yield
    set_default_target(None)


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    """A real OpenSSH server on a loopback port (skipped with the reason when it cannot run)."""
    import sshd

    reason = sshd.available()
    if reason:
        pytest.skip(reason)
    server = sshd.SSHServer(str(tmp_path_factory.mktemp("sshd"))).start()
    yield server
    server.stop()


@pytest.fixture
def device(ssh_server, tmp_path, request):
    """A device stand-in: a fresh meter.db and a stage directory of its own behind the SSH
    server, and settings that point at them.  Its sqlite3 runs resident (``resident = auto``, the
    default) unless a test parametrizes it indirectly with "no" (one sqlite3 per command):
    ``pytestmark = pytest.mark.parametrize("device", ["auto", "no"], indirect=True)`` runs a
    module in both modes."""
    from GenerateMeterData.settings import DeviceSettings

    db = tmp_path / "device" / "meter.db"
    db.parent.mkdir()
    LocalTarget(str(db)).init()
    stage = tmp_path / "device" / "stage"  # its own: the machine's /tmp holds other runs' files
    stage.mkdir()

    class Device:
        resident = getattr(request, "param", "auto")
        path = str(db)
        stage_dir = str(stage)
        server = ssh_server

        @staticmethod
        def settings(**overrides):
            values = dict(name="Test", host="127.0.0.1", port=ssh_server.port, user="root",
                          key_filename=ssh_server.client_key, known_hosts=ssh_server.known_hosts,
                          db_path=str(db), connect_timeout=10.0, command_timeout=120.0, busy_timeout=5.0,
                          stage_dir=str(stage), sqlite3=DEVICE_SQLITE3, resident=Device.resident)
            values.update(overrides)
            return DeviceSettings(**values)

        @staticmethod
        def ini(extra="", section="Test"):
            return (f"[{section}]\nIP_address = 127.0.0.1\nIP_port = {ssh_server.port}\nuser_login = root\n"
                    f"key_filename = {ssh_server.client_key}\nknown_hosts = {ssh_server.known_hosts}\n"
                    f"db_path = {db}\nstage_dir = {stage}\n"
                    + ("" if "sqlite3" in extra else f"sqlite3 = {DEVICE_SQLITE3}\n")
                    + ("" if "resident" in extra or Device.resident == "auto" else f"resident = {Device.resident}\n")
                    + extra)

    return Device


@pytest.fixture(params=["local", "device"])
def target_and_path(request, tmp_path):
    """(target, path) of a fresh meter.db: a local file, then the loopback device."""
    from GenerateMeterData.targets.ssh import DeviceTarget

    if request.param == "local":
        path = str(tmp_path / "meter.db")
        LocalTarget(path).init()
        yield LocalTarget(path), path
    else:
        device = request.getfixturevalue("device")
        target = DeviceTarget(device.settings())
        yield target, device.path
        target.close()


def in_both_modes():
    """A module's ``device`` fixture run twice: the device's sqlite3 resident (``resident = auto``)
    and one per command (``resident = no``).  In a module: ``device = in_both_modes()``."""
    @pytest.fixture(params=["auto", "no"], ids=["resident", "per-command"], name="device")
    def device_in_both_modes(device, request):
        device.resident = request.param
        return device

    return device_in_both_modes
