"""The data API over SSH: a real OpenSSH server on loopback (tests/sshd.py), the stand-in installed
on that "device" as a small script (the device's own program cannot run here), the settings key
``data_api`` pointing at it."""
from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from GenerateMeterData import LocalTarget, Scenario
from GenerateMeterData.device import data_api
from GenerateMeterData.device.check_data_api import DataApiInterface
from GenerateMeterData.device.data_api import DataApiClient, DataApiError
from GenerateMeterData.settings import DEFAULT_DATA_API, load
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import execute, rows
from meterdb_values import read_values
from test_data_api import wait_until_gone

ROOT = Path(__file__).resolve().parent.parent


def install(folder: Path, name: str, body: str) -> str:
    """An executable script on the device (the loopback server shares this file system)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def install_standin(folder: Path, db: str, name: str = "meter_db_data_api") -> str:
    return install(folder, name, f"PYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} "
                                 f"-m {data_api.STANDIN_MODULE} --db {shlex.quote(db)}")


@pytest.fixture
def seeded_device(device):
    Scenario(meters=2, days=2, end=dt.date(2026, 3, 1), seed=3).create(LocalTarget(device.path))
    return device


def test_the_settings_key_defaults_to_the_devices_program_and_can_point_elsewhere(tmp_path, device):
    ini = tmp_path / "settings.ini"
    ini.write_text(device.ini(), encoding="utf-8")
    assert load(ini).data_api == DEFAULT_DATA_API == "/etc/opt/uspd/meter_db_data_api/meter_db_data_api"
    ini.write_text(device.ini("data_api = /opt/api/run\n"), encoding="utf-8")
    assert load(ini).data_api == "/opt/api/run"


def test_the_stand_in_answers_over_ssh_from_the_devices_meter_db(seeded_device, tmp_path):
    device = seeded_device
    # a path with a space and a quote: the program path travels shell-quoted
    program = install_standin(tmp_path / "dir with space", device.path, "it's data api")
    target = DeviceTarget(device.settings(data_api=program))
    with DataApiClient.for_target(target) as client:
        answer = client.get(["ElConfig"], all_meters=True, tags=["serial", "isAm"])
    target.close()
    expected = rows(device.path, "SELECT c.DeviceIdx, t.MeterId, c.Serial, c.Reactive FROM ElectricConfig c "
                                 "JOIN MeterTable t ON t.DeviceIdx = c.DeviceIdx ORDER BY c.DeviceIdx")
    assert [(d.device_idx, d.meter_id, d.serial, d.vals[0].tags) for d in answer] == \
        [(idx, meter, serial, {"serial": serial, "isAm": bool(reactive)}) for idx, meter, serial, reactive in expected]


def test_the_check_over_ssh_serves_the_load_and_finds_a_planted_change(seeded_device, tmp_path):
    device = seeded_device
    values = read_values(device.path)
    target = DeviceTarget(device.settings(data_api=install_standin(tmp_path / "api", device.path)))
    interface = DataApiInterface(target)
    try:
        assert interface.compare(values) == (len(values), [])
        idx, ts, active_reverse = rows(device.path, "SELECT DeviceIdx, Timestamp, ActiveReverse FROM ElectricConfig "
                                                    "ORDER BY DeviceIdx LIMIT 1")[0]
        execute(device.path, f"UPDATE ElectricConfig SET ActiveReverse = {1 - active_reverse} WHERE DeviceIdx = {idx}")
        count, mismatches = interface.compare(values)
    finally:
        interface.close()
        target.close()
    assert count == len(values)
    assert [(m.measure, m.ts, m.tag, m.expected, m.served) for m in mismatches] == \
        [("ElConfig", ts, "isRm", active_reverse, not active_reverse)]  # ActiveReverse is isRm, by position


@pytest.mark.parametrize("body, kwargs, said", [
    ("echo 'not json at all'", {}, "the answer is not JSON: 'not json at all'"),
    ("exec sleep 60", {"timeout": 2.0}, "no answer within 2 s (stalled)"),
    ("exec yes", {"max_answer": 200000}, "the answer passed 200000 bytes"),
    ("exec yes 'a line of complaint' >&2", {}, "exited with status"),
    ("echo 'no table MeterData' >&2; exit 4", {}, "exited with status 4 and no answer: no table MeterData"),
])
def test_a_device_program_that_misbehaves_is_one_line(device, tmp_path, body, kwargs, said):
    program = install(tmp_path / "bad", "meter_db_data_api", "cat > /dev/null; " + body)
    target = DeviceTarget(device.settings(data_api=program))
    try:
        with DataApiClient.for_target(target, **kwargs) as client:
            with pytest.raises(DataApiError) as caught:
                client.get(["ElConfig"], all_meters=True)
    finally:
        target.close()
    message = str(caught.value)
    assert said in message and "\n" not in message
    assert message.startswith(f"root@127.0.0.1:{device.server.port}: data API {program}")


def test_a_stderr_flood_stays_on_the_device(device, tmp_path):
    program = install(tmp_path / "bad", "meter_db_data_api", "cat > /dev/null; exec yes 'a line of complaint' >&2")
    settings = device.settings(data_api=program)
    runner = data_api.SshProgram(settings, max_answer=1000)
    try:
        with pytest.raises(DataApiError, match="a line of complaint"):
            runner.exchange(b"{}")
    finally:
        runner.close()
    assert "head -c 4096" in runner.command()


def test_a_device_without_the_program_is_told_where_to_point_the_settings_key(device):
    target = DeviceTarget(device.settings(data_api="/nonexistent/meter_db_data_api"))
    try:
        with DataApiClient.for_target(target) as client:
            with pytest.raises(DataApiError, match="not there .exit status 127.; set the settings key data_api"):
                client.get(["ElConfig"], all_meters=True)
    finally:
        target.close()


def test_the_password_is_never_in_a_message(device, tmp_path):
    settings = device.settings(data_api="/nonexistent/prog", password="s3cret-pw%")
    runner = data_api.SshProgram(settings)
    try:
        with pytest.raises(DataApiError) as caught:
            runner.exchange(b"{}")
    finally:
        runner.close()
    assert "s3cret" not in str(caught.value) and "s3cret" not in repr(caught.value.fields())


def test_a_stalled_program_is_stopped_on_the_device_too(device, tmp_path):
    """Closing the SSH channel alone leaves a stalled program running; the command's watcher
    stops it once the timeout has passed."""
    pid_file = tmp_path / "pid"
    program = install(tmp_path / "bad", "meter_db_data_api", f"echo $$ > {pid_file}; exec sleep 60")
    runner = data_api.SshProgram(device.settings(data_api=program), timeout=1.0)
    try:
        with pytest.raises(DataApiError, match="stalled"):
            runner.exchange(b"{}")
    finally:
        runner.close()
    assert wait_until_gone(int(pid_file.read_text()))
