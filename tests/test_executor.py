"""The SSH executor never loses output, whatever the timing: commands that end right at the
readers' receive timeout, hundreds of times, against the real loopback sshd."""
from __future__ import annotations

import os

from GenerateMeterData.targets import executor as executor_module
from GenerateMeterData.targets.executor import Executor


def test_output_is_complete_for_commands_ending_at_the_receive_timeout(device, monkeypatch):
    monkeypatch.setattr(executor_module, "RECEIVE_POLL", 0.02)  # the boundary comes every 20 ms
    ex = Executor(device.settings()).connect()
    lost = []
    try:
        for i in range(300):
            delay = (0.005, 0.015, 0.02, 0.025, 0.04)[i % 5]
            payload = f"line-{i}-" + "x" * (i % 7 * 1000)
            result = ex.run(f"sleep {delay}; printf '%s' '{payload}'; printf 'err-{i}' >&2")
            if result.status != 0 or result.text() != payload or result.error_text() != f"err-{i}":
                lost.append((i, result.status, len(result.stdout), result.error_text()))
    finally:
        ex.close()
    assert lost == []


def test_a_large_output_arrives_whole(device):
    ex = Executor(device.settings()).connect()
    try:
        result = ex.run("head -c 3000000 /dev/zero | tr '\\0' 'a'")
    finally:
        ex.close()
    assert result.status == 0 and result.stdout == b"a" * 3_000_000


def test_a_command_that_ends_before_reading_its_input_is_answered_by_its_exit_status(device):
    """``test -f db || exit 66`` ends before reading the script sent to it: once the device closed
    the channel, sending fails -- that is the command's answer (status, stderr), not a lost
    connection.  The write is made after the close has arrived, so the race is forced."""
    import time

    ex = Executor(device.settings()).connect()
    try:
        process = ex.start("echo 'no database here' >&2; exit 66")
        limit = time.monotonic() + 30
        while not process.channel.closed:  # the device's exit status, EOF and CLOSE have arrived
            assert time.monotonic() < limit, "the device never closed the channel"
            time.sleep(0.01)
        process.write(b"SELECT 1;\n" * 1000)
        process.close_stdin()
        result = process.finish()
    finally:
        ex.close()
    assert process.input_refused
    assert (result.status, result.error_text()) == (66, "no database here")


def test_a_missing_db_path_is_always_reported_as_missing(device, tmp_path):
    """Issue 19 item 10: with a missing db_path, 'loads', 'clear --dry-run' and 'plot' sometimes
    said "connection lost while sending data".  A login whose shell is plain /bin/sh (a device's
    busybox: the command ends within milliseconds) makes the race frequent; 30 rounds of the
    three kinds of command, each on a new connection."""
    import pytest
    import sshd

    from GenerateMeterData import RemoteError
    from GenerateMeterData.targets.ssh import DeviceTarget

    password = sshd.password_user()
    if password is None:
        pytest.skip("cannot create a login with /bin/sh here (needs root and useradd)")
    settings = device.settings(user=sshd.PASSWORD_USER, password=password, key_filename=None,
                               db_path=str(tmp_path / "missing.db"))
    wrong = []
    for round_ in range(30):
        for name, call in (("loads", lambda t: t.loads()), ("query", lambda t: t.query("SELECT 1")),
                           ("state", lambda t: t.check(load=False))):
            with DeviceTarget(settings) as target:
                try:
                    call(target)
                    wrong.append((round_, name, "no error"))
                except RemoteError as exc:
                    if exc.exit_status != 66 or "does not exist on the device" not in str(exc):
                        wrong.append((round_, name, str(exc)))
                except Exception as exc:  # ConnectError "connection lost while sending data"
                    wrong.append((round_, name, str(exc)))
    assert wrong == []


def _upload_recording_in_flight(device, data: bytes, in_flight_bound=None):
    """Send ``data`` to ``sha256sum`` on the loopback sshd once it runs (the login shell's start,
    root's bash here, is not what is measured); (its digest, the process, the bytes in flight --
    sent and not yet given back by the device's window -- before each send)."""
    import time

    ex = Executor(device.settings()).connect()
    in_flight = []
    try:
        process = ex.start("echo reading; exec sha256sum")
        limit = time.monotonic() + 30
        while process.text() != "reading\n":
            assert time.monotonic() < limit, "the command never started"
            time.sleep(0.005)
        if in_flight_bound is not None:
            process._in_flight = in_flight_bound
        channel, offered = process.channel, process.channel.out_window_size
        plain_send = channel.send

        def send(chunk):
            in_flight.append(offered - channel.out_window_size)
            return plain_send(chunk)

        channel.send = send
        process.write(data)
        process.close_stdin()
        result = process.finish()
    finally:
        ex.close()
    assert result.status == 0, result.error_text()
    return result.text().split()[1], process, offered, in_flight


def test_an_upload_keeps_at_most_half_the_window_in_flight_and_arrives_whole(device):
    """OpenSSH's sshd gives the window back every few packets, so the pacing holds all along: no
    send starts with more than half the offered window (plus one send) unacknowledged -- without
    it paramiko fills the whole 2 MiB window sshd offers --, the bound drawn in to twice the step
    sshd gives back in, and the bytes arrive whole (digest by hashlib)."""
    import hashlib

    data = os.urandom(6 * 1024 * 1024)
    digest, process, offered, in_flight = _upload_recording_in_flight(device, data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert process._window is not None  # never gave up pacing
    assert process._in_flight < offered // 2  # the step was learned
    assert offered == 2 * 1024 * 1024  # OpenSSH's session window (CHAN_SES_WINDOW_DEFAULT)
    assert max(in_flight) <= offered // 2 + executor_module.SEND_CHUNK
    assert max(in_flight) > executor_module.PACED_MIN // 2  # sending was not held back to a trickle


def test_a_window_given_back_only_in_large_steps_ends_the_pacing_not_the_upload(device):
    """A bound below the step in which the device gives its window back (sshd: once 3 packets of
    32 KiB were consumed) would wait for ever: after PACE_STALL with the window shut, the command
    is sent the rest unpaced, and it still arrives whole."""
    import hashlib

    data = os.urandom(1024 * 1024)
    digest, process, offered, in_flight = _upload_recording_in_flight(device, data, in_flight_bound=16 * 1024)
    assert digest == hashlib.sha256(data).hexdigest()
    assert process._window is None  # pacing stopped
    assert max(in_flight) > 16 * 1024 + executor_module.SEND_CHUNK  # and more than the bound went out after
