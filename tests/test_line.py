"""A line of meters (imitation/line.py) on a real TCP socket: every meter read by its own protocol's
client (the capture path) gets its own meter's serial; junk and other protocols' frames get no
answer; a client that never reads does not stop the others."""
from __future__ import annotations

import socket
import time

import pytest

from GenerateMeterData.imitation.line import Line, LineScenario, line_meters, read_meter

COUNTS = {"mercury200": 2, "mercury230": 2, "ce303": 2, "iec": 2, "mbus": 2, "dlms": 2}


@pytest.fixture(scope="module")
def line():
    meters = line_meters(LineScenario(dict(COUNTS), seed=7))
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    yield served, where
    served.stop()


def test_every_meter_reads_its_own_serial(line):
    served, where = line
    assert len(served.meters) == 12
    assert len({m.serial for m in served.meters}) == 12   # meters differ
    for m in served.meters:
        reading = read_meter(m, where, "Europe/Moscow")
        # the serial each protocol carries: Mercury and M-Bus the last 8 digits (4 bytes / BCD)
        assert reading.serial.lstrip("0")[-8:] == m.serial.lstrip("0")[-8:], (m.protocol, m.address)
        assert reading.energy, (m.protocol, m.address)


def _silence(where: str, payload: bytes, wait: float = 1.0) -> bytes:
    host, port = where[len("socket://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(payload)
        got = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        return got


def test_junk_and_strangers_get_no_answer(line):
    served, where = line
    junk = bytes(range(256)) * 4
    assert _silence(where, junk) == b""
    # addresses nobody on the line has: an IEC sign-on of an unknown device,
    # the empty sign-on on a line of several sign-on meters, M-Bus SND_NKE to primary address 251
    stranger_iec = b"/?999999999999!\r\n" + b"/?!\r\n"
    stranger_mbus = bytes([0x10, 0x40, 251, (0x40 + 251) & 0xFF, 0x16])
    assert _silence(where, stranger_iec + stranger_mbus) == b""


def test_a_client_that_never_reads_does_not_stop_the_others(line):
    served, where = line
    host, port = where[len("socket://"):].rsplit(":", 1)
    hog = socket.create_connection((host, int(port)))
    try:
        m = served.meters[0]
        sign_on = b"".join(b"/?%s!\r\n" % x.address.encode() for x in served.meters if x.protocol == "iec")
        hog.sendall(sign_on * 200)   # answers pile up unread
        reading = read_meter(m, where, "Europe/Moscow")
        assert reading.serial.lstrip("0")[-8:] == m.serial.lstrip("0")[-8:]
    finally:
        hog.close()


def _crc16_modbus(data: bytes) -> bytes:
    """CRC-16/Modbus (poly 0xA001 reflected, init 0xFFFF), bit by bit as the Modbus spec gives it;
    low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


def _exchange(where: str, payload: bytes, wait: float = 1.5) -> bytes:
    return _silence(where, payload, wait)


def test_one_protocols_frame_is_answered_by_its_meter_alone(line):
    served, where = line
    m230 = next(m for m in served.meters if m.protocol == "mercury230")
    test = bytes([int(m230.address), 0x00])
    test += _crc16_modbus(test)
    assert _exchange(where, test) == test      # the channel test is answered by its echo, by nobody else
    mbus = next(m for m in served.meters if m.protocol == "mbus")
    address = int(mbus.address)
    snd_nke = bytes([0x10, 0x40, address, (0x40 + address) & 0xFF, 0x16])
    assert _exchange(where, snd_nke) == b"\xE5"   # EN 13757-2: the single character ACK
    iec = next(m for m in served.meters if m.protocol == "iec")
    got = _exchange(where, b"/?%s!\r\n" % iec.address.encode(), wait=2.0)
    assert got.startswith(b"/") and got.endswith(b"\r\n") and got.count(b"\r\n") == 1, got


def test_a_flood_is_bounded_and_the_line_answers_after_it(line):
    served, where = line
    host, port = where[len("socket://"):].rsplit(":", 1)
    mbus = next(m for m in served.meters if m.protocol == "mbus")
    address = int(mbus.address)
    snd_nke = bytes([0x10, 0x40, address, (0x40 + address) & 0xFF, 0x16])
    with socket.create_connection((host, int(port)), timeout=5) as s:
        block = bytes(range(32, 128)) * 1000
        for _ in range(40):      # ~4 MB of noise no protocol takes
            s.sendall(block)
        time.sleep(1.0)
        s.sendall(snd_nke)
        s.settimeout(10)
        got = b""
        deadline = time.monotonic() + 15
        while b"\xE5" not in got and time.monotonic() < deadline:
            got += s.recv(4096)
    assert got == b"\xE5"


#: the order the pty test reads in: this machine's kernel (6.18) refuses (EINVAL) a pty's termios
#: change of character size or parity that comes without a change of speed, so the CE client (7E1
#: at 9600) opens the fresh pty first; each later client changes the speed, or keeps 8N1 at 9600
PTY_ORDER = ("ce303", "iec", "mbus", "mercury200", "mercury230", "dlms")


def test_the_line_on_a_pty_reads_mixed_protocols():
    """The line on a real pseudo-terminal (``pty://``): the project's clients open its path as a
    serial port, one after another, and each reads its own meter of the mixed line; a Mercury 230
    meter read a second time after the others still answers (the pty outlives its clients)."""
    counts = {"mercury200": 1, "mercury230": 2, "ce303": 1, "iec": 1, "mbus": 1, "dlms": 1}
    meters = line_meters(LineScenario(counts, seed=9))
    served = Line(meters)
    path = served.start("pty://")
    ordered = sorted(meters, key=lambda m: PTY_ORDER.index(m.protocol))
    try:
        assert path.startswith("/dev/"), path
        for m in ordered + [m for m in meters if m.protocol == "mercury230"][:1]:
            reading = read_meter(m, path, "Europe/Moscow")
            assert reading.serial.lstrip("0")[-8:] == m.serial.lstrip("0")[-8:], (m.protocol, m.address)
            assert reading.energy, (m.protocol, m.address)
    finally:
        served.stop()
