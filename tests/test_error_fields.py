"""Errors carry fields beside their one-line message (host, port, reason; path, waited), raised
by real parts: a closed loopback port, a database another connection holds locked."""
from __future__ import annotations

import datetime as dt
import pickle
import socket
import sqlite3

import pytest

from GenerateMeterData import LocalTarget, Scenario
from GenerateMeterData.errors import ConnectError, DatabaseLockedError, DuplicateRecordError, TargetError


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connect_error_names_host_port_and_reason():
    from GenerateMeterData.settings import DeviceSettings
    from GenerateMeterData.targets.ssh import DeviceTarget

    port = closed_port()
    settings = DeviceSettings(name="Test", host="127.0.0.1", port=port, user="tester", password="secret",
                              connect_timeout=3.0)
    with pytest.raises(ConnectError) as caught:
        with DeviceTarget(settings) as target:
            target.check()
    error = caught.value
    assert (error.host, error.port, error.reason) == ("127.0.0.1", port, "unreachable")
    assert "cannot reach the device" in str(error) and f"127.0.0.1:{port}" in str(error)
    assert isinstance(error, TargetError) and error.exit_code == 3
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.host, again.port, again.reason) == (str(error), error.host, port, "unreachable")


def test_database_locked_error_names_path_and_wait(tmp_path):
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLockedError) as caught:
            Scenario(meters=1, days=1, end=dt.date(2026, 1, 10), seed=1).create(LocalTarget(path, busy_timeout=0.2))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    error = caught.value
    assert error.waited == 0.2 and path in error.path
    assert "stayed locked by another process for 0.2 s" in str(error)


def test_fields_compose_a_message_when_none_is_given():
    assert str(ConnectError(host="10.1.2.3", port=22, reason="no answer within 5 s")) == \
        "10.1.2.3:22: no answer within 5 s"
    assert str(DatabaseLockedError(path="/var/opt/uspd/meterdb/meter.db", waited=10)) == \
        "/var/opt/uspd/meterdb/meter.db stayed locked by another process for 10 s"
    old_style = DuplicateRecordError("meter.db: a meter with that MeterId already exists")
    assert str(old_style) == "meter.db: a meter with that MeterId already exists" and old_style.table is None
    with pytest.raises(TypeError):
        ConnectError("x", colour="red")
