"""The SET-4TM meter layer (``imitation/set4tm.py``): a generated meter served on a real TCP
socket, read with hand-built frames and decoded here by hand from the protocol's description
(serial: a big-endian 4-byte number; clock: BCD fields; energy: big-endian counts of 1/(2A) kWh,
A the meter constant, its code in the variant's byte 2: 0 5000, 1 2500, 2 1250, 4 500, 5 250;
floats: IEEE little-endian), then read by ``capture`` through the CLI into a real
meter.db that ``verify`` accepts and whose values are the ones read by hand."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from GenerateMeterData import verify
from GenerateMeterData.imitation.meter import GeneratedMeter
from GenerateMeterData.imitation.set4tm import Set4Generated
from GenerateMeterData.model import timegrid
from GenerateMeterData.protocols.crc import MODBUS_INIT, crc16_a001
from GenerateMeterData.protocols.set4tm.imitator import Set4Imitator
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
MSK = timegrid.zone("Europe/Moscow")
NOW = int(dt.datetime(2026, 3, 10, 14, 20, 17, tzinfo=MSK).timestamp())
SEED = 3   # a SETxTM whose 10-digit serial fits the protocol's 4 bytes (2095702460)


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def framed(*body: int) -> bytes:
    crc = crc16_a001(bytes(body), MODBUS_INIT)
    return bytes(body) + bytes((crc & 0xFF, crc >> 8))


class Raw:
    """Frames by hand over a socket: the answer's data after its CRC is checked."""

    def __init__(self, url):
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)

    def ask(self, *body: int, size: int) -> bytes:
        self.sock.sendall(framed(*body))
        answer = b""
        while len(answer) < size + 3:
            chunk = self.sock.recv(256)
            assert chunk
            answer += chunk
            if len(answer) == 4 and size != 1:
                break
        assert framed(*answer[:-2]) == answer, answer.hex(" ")
        assert answer[0] == body[0]
        return answer[1:-2]

    def close(self):
        self.sock.close()


@pytest.fixture
def line():
    meter = GeneratedMeter("SETxTM", seed=SEED, timezone="Europe/Moscow", clock=lambda: NOW)
    imitator = Set4Imitator([Set4Generated(meter)])
    url = imitator.start("tcp://127.0.0.1:0")
    yield meter, url
    imitator.stop()


def bcd(byte: int) -> int:
    return int(f"{byte:02x}")


def test_the_meter_read_by_hand_is_what_capture_stores(line, db_path):
    meter, url = line
    address = int(meter.serial[-3:]) % 100 if int(meter.serial[-3:]) > 239 else int(meter.serial[-3:])
    raw = Raw(url)
    try:
        assert raw.ask(address, 0x08, 0x00, size=7) == bytes([5])          # channel not open: status 5
        assert raw.ask(address, 0x01, *b"000000", size=1) == bytes([0])
        serial = raw.ask(address, 0x08, 0x00, size=7)
        variant = raw.ask(address, 0x08, 0x12, size=3)
        clock = raw.ask(address, 0x04, 0x00, size=8)
        energy = [raw.ask(address, 0x05, 0x00, tariff, size=16) for tariff in range(5)]
        today, yesterday = (raw.ask(address, 0x05, array, 0, size=16) for array in (0x40, 0x50))
        february = raw.ask(address, 0x05, 0x32, 2, size=16)              # month 2, tariff 2
        year = raw.ask(address, 0x05, 0x10, 0, size=16)
        voltages = raw.ask(address, 0x08, 0x1B, 0x02, 0x10, size=16)
        powers = raw.ask(address, 0x08, 0x1B, 0x02, 0x00, size=16)
        frequency = raw.ask(address, 0x08, 0x1B, 0x02, 0x41, size=4)
    finally:
        raw.close()
    assert int.from_bytes(serial[:4], "big") == int(meter.serial)
    # the constant: the first of 5000 ... 250 at which the story's largest half hour (P W) is at most
    # 7FFFh counts of 1/(2A) kWh, P * A / 1000 counts (hand-computed from the story's half hours)
    series = meter.story.series
    peak = max(max(c) for c in (series.ap, series.am, series.rp, series.rm)) * 2 / 1000
    constant = next(a for a in (5000, 2500, 1250, 500, 250) if round(peak * a / 1000) <= 0x7FFF)
    codes = {5000: 0, 2500: 1, 1250: 2, 500: 4, 250: 5}
    assert variant[1] & 0x0F == codes[constant] and variant[2] >> 4 == 8   # SET-4TM.03M
    per_wh = 2 * constant / 1000                                     # counts per Wh
    ss, mm, hh, _, day, month, yy = (bcd(b) for b in clock[:7])
    moment = dt.datetime(2000 + yy, month, day, hh, mm, ss, tzinfo=MSK)
    assert int(moment.timestamp()) == NOW and clock[7] == 1
    # counts of 1/(2A) kWh: the story's registers in Wh, to the nearest count
    registers = meter.registers()
    by_hand = [[int.from_bytes(data[i:i + 4], "big") / per_wh for i in range(0, 16, 4)] for data in energy]
    # (each tariff's register to the nearest count; the total is the sum of the tariffs' counts, as
    # the meter counts into the tariff in force)
    for tariff in range(1, 5):
        assert by_hand[tariff] == pytest.approx([registers[q][tariff] for q in range(4)], abs=0.5 / per_wh + 1e-6)
    assert by_hand[0] == pytest.approx([sum(by_hand[t][q] for t in range(1, 5)) for q in range(4)], abs=1e-6)
    # the day and month arrays: the increase since local midnight, over yesterday, over February
    # (1 February to 1 March: 9 + 28 days before the 10th of March); the year arrays: status 1
    counts = [[int.from_bytes(data[i:i + 4], "big") / per_wh for i in range(0, 16, 4)]
              for data in (today, yesterday, february)]
    midnight, before = meter.day_start(0), meter.day_start(1)
    march, feb = meter.day_start(9), meter.day_start(9 + 28)
    def total(at, q):  # the total register in counts: the sum of the tariffs' whole counts, in Wh
        return sum(round(at[q][t] * per_wh) for t in range(1, 5)) / per_wh

    assert counts[0] == pytest.approx([total(registers, q) - total(midnight, q) for q in range(4)], abs=1e-6)
    assert counts[1] == pytest.approx([total(midnight, q) - total(before, q) for q in range(4)], abs=1e-6)
    assert counts[2] == pytest.approx([(round(march[q][2] * per_wh) - round(feb[q][2] * per_wh)) / per_wh
                                       for q in range(4)], abs=1e-6)
    assert year == bytes([1])
    story = meter.quality()
    u = struct.unpack("<4f", voltages)
    p = struct.unpack("<4f", powers)                                    # kW
    for i, x in enumerate("ABC", start=1):
        assert u[i] == pytest.approx(story[x][0], abs=0.006)
        assert p[i] * 1000 == pytest.approx(story[x][2], abs=0.01)
    assert p[0] == pytest.approx(sum(p[1:]), abs=1e-4)
    assert struct.unpack("<f", frequency)[0] == pytest.approx(story["Summ"][7], abs=0.006)

    result = cli("capture", "set4tm", "--port", url, "--db", db_path, "--timezone", "Europe/Moscow")
    assert result.returncode == 0, result.stderr
    assert rows(db_path, "SELECT Serial, Model FROM ElectricConfig") == [(meter.serial, "SET-4TM.03M")]
    assert rows(db_path, "SELECT T.Type FROM MeterTable M JOIN MeterTypes T ON T.Id = M.TypeId") == [("SETxTM",)]
    assert rows(db_path, "SELECT DISTINCT Timestamp FROM MeterData") == [(NOW,)]
    stored = rows(db_path, "SELECT Tariff, Ap, Am, Rp, Rm FROM ElectricEnergyValues ORDER BY Tariff")
    assert [list(row[1:]) for row in stored] == by_hand
    quality = {phase: (volt, power) for phase, volt, power in
               rows(db_path, "SELECT Phase, U, P FROM ElectricQualityValues")}
    for i, x in enumerate("ABC", start=1):
        assert quality[x][0] == pytest.approx(u[i], abs=1e-4)
        assert quality[x][1] == pytest.approx(p[i] * 1000, abs=1e-3)
    assert verify(db_path) == []


def test_a_wrong_password_is_one_line_and_nothing_written(line, db_path):
    _, url = line
    result = cli("capture", "set4tm", "--port", url, "--db", db_path, "--set4-password", "123456",
                 "--answer-timeout", "2")
    assert result.returncode == 3, result.stderr
    [message] = result.stderr.strip().splitlines()
    assert "status 5" in message and "not open" in message
    assert rows(db_path, "SELECT COUNT(*) FROM MeterData") == [(0,)]


def test_a_silent_meter_is_one_line_in_bounded_time(db_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        started = time.monotonic()
        result = cli("capture", "set4tm", "--port", f"socket://127.0.0.1:{listener.getsockname()[1]}",
                     "--db", db_path, "--answer-timeout", "0.5")
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert result.returncode == 3, result.stderr
    [message] = result.stderr.strip().splitlines()
    assert "no answer" in message and "within 0.5 s" in message
    assert elapsed < 15
    assert rows(db_path, "SELECT COUNT(*) FROM MeterData") == [(0,)]


def test_decode_the_documents_frames(tmp_path):
    frame = tmp_path / "frame.hex"
    frame.write_text("53 2F FE 19 57 17 05 18 70 D6")
    decoded = cli("decode", "set4tm", str(frame))
    assert decoded.returncode == 0, decoded.stderr
    assert json.loads(decoded.stdout) == {"address": 0x53, "data": "2f fe 19 57 17 05 18"}
    frame.write_text("53 00 3D 40")
    assert json.loads(cli("decode", "set4tm", str(frame)).stdout)["status"] == 0
    frame.write_text("53 08 12 06 1C")
    assert json.loads(cli("decode", "set4tm", str(frame)).stdout)["request"] == "0x08"
    frame.write_text("53 2F FE 19 57 17 05 18 70 D7")
    refused = cli("decode", "set4tm", str(frame))
    assert refused.returncode == 1 and refused.stderr.startswith("error: protocol: CRC error")


@pytest.mark.parametrize("args, words", [
    (["imitate", "set4tm", "--meter-seed", "1", "--seconds", "1"], ["serial 6090479172", "4-byte"]),
    (["imitate", "set4tm", "--set4-password", "12345", "--seconds", "1"], ["--set4-password", "6 printable"]),
    (["imitate", "set4tm", "--set4-constant", "1000", "--seconds", "1"], ["--set4-constant 1000"]),
    # the default meter's story has slots above the 6.55 kW a count holds at A = 5000
    (["imitate", "set4tm", "--set4-constant", "5000", "--seconds", "1"], ["--set4-constant 5000", "7FFFh", "give"]),
    (["imitate", "set4tm", "--meter-type", "Mercury206", "--seconds", "1"], ["three-phase"]),
    (["imitate", "set4tm", "--network-address", "255", "--seconds", "1"], ["--network-address 255"]),
    (["capture", "set4tm", "--port", "socket://127.0.0.1:9", "--days", "114"], ["--days 114", "113 days"]),
    (["imitate", "set4tm", "--fault", "gap:2026-03-10T10:00/2026-03-10T11:00", "--seconds", "1"], ["gaps"]),
])
def test_what_cannot_be_done_is_refused_in_one_line(tmp_path, args, words):
    result = cli(*args, "--db", str(tmp_path / "m.db"))
    assert result.returncode == 2, (result.stdout, result.stderr)
    [message] = result.stderr.strip().splitlines()
    assert all(word in message for word in words), message
