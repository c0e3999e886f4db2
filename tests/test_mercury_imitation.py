"""The Mercury imitators and capture (``imitation/mercury.py``, issue 22): generated meters served
on real TCP sockets, read by mercury-base 1.6 (PyPI, BSD-3-Clause, an independent client) and by
``capture`` through the CLI into a real meter.db that ``verify`` accepts.

The oracle is mercury-base's decoding where it has one (v1: serial, model, energy, U/I/P, cos phi,
relay, tariffs); where it has none -- every v1 date (its TypeError, see test_mercury_v1.py) and,
for v2, everything but the serial number -- the bytes come through mercury-base's transport and
framing (its CRC check, its address handling) and are decoded here by hand from the protocol's
description: BCD clock fields; energy as bytes 1 0 3 2 of the value; BWRI as 22 bits (low 6 bits of
byte 0, then byte 2, then byte 1) with the sign of active power in bit 7 and of reactive power in
bit 6.  A generated meter whose clock stands still serves the same values to every client, so
what mercury-base reads and what capture writes can be compared exactly."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from GenerateMeterData import verify
from GenerateMeterData.imitation.meter import GeneratedMeter
from GenerateMeterData.imitation.mercury import V1Generated, V2Generated, password_bytes
from GenerateMeterData.model import timegrid
from GenerateMeterData.protocols.mercury import v1, v2
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
MSK = timegrid.zone("Europe/Moscow")
#: a Tuesday afternoon in Moscow, away from midnights and month ends: the meters' clock stands here
NOW = int(dt.datetime(2026, 3, 10, 14, 20, 17, tzinfo=MSK).timestamp())

mercury_base = pytest.importorskip("mercury_base", reason="mercury-base is in the [test] extra")
add_crc, check_crc = mercury_base.add_crc, mercury_base.check_crc   # the CRC functions mercury-base frames with


def bcd(byte: int) -> int:
    return int(f"{byte:02x}")


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def frozen(type_name: str, seed: int) -> GeneratedMeter:
    return GeneratedMeter(type_name, seed=seed, timezone="Europe/Moscow", clock=lambda: NOW)


@pytest.fixture
def v1_line():
    meter = frozen("Mercury206", 11)
    imitator = v1.V1Imitator([V1Generated(meter)])
    url = imitator.start("tcp://127.0.0.1:0")
    yield meter, url
    imitator.stop()


@pytest.fixture
def v2_line():
    meter = frozen("Mercury23x", 12)
    imitator = v2.V2Imitator([V2Generated(meter)])
    url = imitator.start("tcp://127.0.0.1:0")
    yield meter, url
    imitator.stop()


def host_port(url):
    host, port = url[len("socket://"):].rsplit(":", 1)
    return host, int(port)


def capture(url, db, protocol, *extra):
    result = cli("capture", protocol, "--port", url, "--db", db, "--timezone", "Europe/Moscow", *extra)
    assert result.returncode == 0, result.stderr
    return result


# ---- Mercury 200 (v1) --------------------------------------------------------------------------
def test_mercury_base_reads_the_v1_imitator_as_capture_stores_it(v1_line, db_path):
    meter, url = v1_line
    transport = mercury_base.TcpDataTransport(*host_port(url))
    try:
        read = mercury_base.Meter(int(meter.serial[-8:]), transport)   # the factory address: the serial
        serial, model = read.serial_number, read.model
        kwh = read.command("get_energy_accumulators")
        vcp = read.command("get_vcp")
        cos_s = read.command("get_full_power_and_cos_fi")
        relay, tariffs = read.command("get_is_relay_on"), read.command("get_tariffs_count")
        # mercury-base cannot read a date (test_mercury_v1.py names the bug): its transport brings
        # the bytes, decoded here: day of week, hh, mm, ss, DD, MM, YY in BCD
        raw = read.send_command(0x21)
    finally:
        transport._TcpDataTransport__connection.disconnect()
    _, hh, mm, ss, day, month, year = (bcd(b) for b in raw)
    clock = dt.datetime(2000 + year, month, day, hh, mm, ss, tzinfo=MSK)
    assert clock == dt.datetime.fromtimestamp(NOW, MSK)
    assert f"{serial:08d}" == meter.serial and model == "206" and relay is True and tariffs == 4
    # the story's tariff registers (Wh) in 0.01 kWh, U/I/P/cos phi of its one phase
    registers = meter.registers()[0]
    assert kwh == [round(wh / 10) / 100 for wh in registers[1:]]
    quality = meter.quality()
    assert vcp["voltage"] == pytest.approx(quality["A"][0], abs=0.051)
    assert vcp["current"] == pytest.approx(quality["A"][1], abs=0.0051)
    assert vcp["power"] * 1000 == pytest.approx(quality["A"][2], abs=0.51)
    assert cos_s["cos_fi"] == pytest.approx(quality["A"][5], abs=0.00051)

    capture(url, db_path, "mercury200", "--network-address", meter.serial[-8:])
    assert rows(db_path, "SELECT Serial, Model FROM ElectricConfig") == [(meter.serial, "Mercury 206")]
    assert rows(db_path, "SELECT Timestamp FROM MeterData") == [(int(clock.timestamp()),)] * 2
    stored = rows(db_path, "SELECT Tariff, Ap FROM ElectricEnergyValues ORDER BY Tariff")
    assert [ap for _, ap in stored] == pytest.approx([sum(kwh) * 1000] + [k * 1000 for k in kwh])
    assert rows(db_path, "SELECT Phase, U, I, P FROM ElectricQualityValues") == [
        ("A", vcp["voltage"], vcp["current"], pytest.approx(vcp["power"] * 1000))]
    assert verify(db_path) == []


# ---- Mercury 230 (v2) --------------------------------------------------------------------------
class MercuryBaseV2:
    """mercury-base's v2 driver (``mercury_base.mercury_v2``: address format, data extraction, its
    command ``get_serial_number_and_date_of_manufacture``) with its CRC, sending through its TCP
    transport what its ``Meter.send_command`` would send.  Its ``Meter`` itself cannot be used:
    see test_mercury_base_cannot_connect_to_a_v2_meter."""

    def __init__(self, url, address):
        self.transport = mercury_base.TcpDataTransport(*host_port(url))
        self.address = address

    def send_command(self, *params):
        driver = mercury_base.mercury_v2
        answer = self.transport.ask(add_crc(driver.format_address(self.address) + bytes(params)))
        assert answer and check_crc(answer) and driver.extract_address(answer) == self.address
        return driver.extract_data(answer)

    def close(self):
        self.transport._TcpDataTransport__connection.disconnect()


def energy_by_hand(data):
    """Four directions of 4 bytes: bytes 1 0 3 2 of the value; FF FF FF FF: not measured."""
    out = []
    for i in range(0, 16, 4):
        b = data[i:i + 4]
        out.append(None if b == [0xFF] * 4 else b[1] << 24 | b[0] << 16 | b[3] << 8 | b[2])
    return out


def bwri_by_hand(data, scale, sign_bit=None):
    value = ((data[0] & 0x3F) << 16 | data[2] << 8 | data[1]) * scale
    return -value if sign_bit is not None and data[0] >> sign_bit & 1 else value


#: BWRI -> (tag, scale, sign bit), from the protocol's description (0x0p active power P of phase p,
#: 0 the sum; 0x04 reactive, 0x08 apparent, 0x1p voltage, 0x2p current, 0x3p cos phi, 0x40 F)
BWRI = {**{0x00 + p: (f"P{x}", 0.01, 7) for p, x in enumerate("SABC")},
        **{0x04 + p: (f"Q{x}", 0.01, 6) for p, x in enumerate("SABC")},
        **{0x08 + p: (f"S{x}", 0.01, None) for p, x in enumerate("SABC")},
        **{0x10 + p: (f"U{x}", 0.01, None) for p, x in enumerate("ABC", start=1)},
        **{0x20 + p: (f"I{x}", 0.001, None) for p, x in enumerate("ABC", start=1)},
        **{0x30 + p: (f"kP{x}", 0.001, 7) for p, x in enumerate("SABC")},
        0x40: ("Freq", 0.01, None)}


def test_mercury_base_cannot_connect_to_a_v2_meter(v2_line):
    """mercury-base 1.6's bug: ``Meter.__init__`` asks every driver for ``get_serial_number``, which
    its ``mercury_v2.commands`` does not define (it has ``get_serial_number_and_date_of_manufacture``),
    so connecting to a three-phase meter raises AttributeError (and it never opens the channel)."""
    meter, url = v2_line
    transport = mercury_base.TcpDataTransport(*host_port(url))
    try:
        with pytest.raises(AttributeError, match="get_serial_number"):
            mercury_base.Meter(int(meter.serial), transport)
    finally:
        transport._TcpDataTransport__connection.disconnect()


def test_mercury_base_reads_the_v2_imitator_as_capture_stores_it(v2_line, db_path):
    meter, url = v2_line
    address = mercury_base.mercury_v2.prepare_address(int(meter.serial))   # the factory address, its way
    client = MercuryBaseV2(url, address)
    try:
        assert client.send_command(0x01, 0x01, *[1] * 6) == [0]             # level 1, password 111111
        identity = mercury_base.mercury_v2.commands.get_serial_number_and_date_of_manufacture(client)
        clock = client.send_command(0x04, 0x00)
        energy = [energy_by_hand(client.send_command(0x05, 0x00, tariff)) for tariff in range(5)]
        today = energy_by_hand(client.send_command(0x05, 0x40, 0))
        yesterday = energy_by_hand(client.send_command(0x05, 0x50, 0))
        this_month, last_month = (energy_by_hand(client.send_command(0x05, 0x30 | month, 1)) for month in (3, 2))
        year = client.send_command(0x05, 0x10, 0)
        october = client.send_command(0x05, 0x3A, 0)   # 1 October 2025: before the archive (130 days)
        quality = {tag: bwri_by_hand(client.send_command(0x08, 0x11, code), scale, sign)
                   for code, (tag, scale, sign) in BWRI.items()}
    finally:
        client.close()
    # the serial and the clock: seconds, minutes, hours, day of week, DD MM YY, season (1: winter)
    assert identity["serial_number"] == int(meter.serial)
    ss, mm, hh, _, day, month, yy = (bcd(b) for b in clock[:7])
    moment = dt.datetime(2000 + yy, month, day, hh, mm, ss, tzinfo=MSK)
    assert moment == dt.datetime.fromtimestamp(NOW, MSK) and clock[7] == 1
    # energy from reset: the story's registers, A+ A- R+ R- in Wh, total and tariffs 1-4
    registers = meter.registers()
    assert energy == [[registers[q][tariff] for q in range(4)] for tariff in range(5)]
    # today's array: the increase since local midnight; the year arrays are beyond the archive
    midnight, before = meter.day_start(0), meter.day_start(1)
    assert today == [registers[q][0] - midnight[q][0] for q in range(4)]
    assert yesterday == [midnight[q][0] - before[q][0] for q in range(4)]
    # March so far (the 10th: 9 days back) and February (from 1 February to 1 March), by tariff 1
    march, february = (meter.day_start(9), meter.day_start(9 + 28))
    assert this_month == [registers[q][1] - march[q][1] for q in range(4)]
    assert last_month == [march[q][1] - february[q][1] for q in range(4)]
    assert year == [v2.BAD_REQUEST] and october == [v2.BAD_REQUEST]
    # instantaneous values: the story's, at the wire's resolution, and consistent with each other
    story = meter.quality()
    for x, row in (("A", story["A"]), ("B", story["B"]), ("C", story["C"])):
        assert quality[f"U{x}"] == pytest.approx(row[0], abs=0.006)
        assert quality[f"I{x}"] == pytest.approx(row[1], abs=0.02)
        assert quality[f"P{x}"] == pytest.approx(row[2], abs=0.006)
        assert quality[f"Q{x}"] == pytest.approx(row[3], abs=0.006)
        assert quality[f"S{x}"] == pytest.approx(math.hypot(quality[f"P{x}"], quality[f"Q{x}"]), abs=0.006)
        assert quality[f"kP{x}"] == pytest.approx(quality[f"P{x}"] / quality[f"S{x}"], abs=0.0006)
    assert quality["PS"] == pytest.approx(sum(quality[f"P{x}"] for x in "ABC"), abs=1e-6)
    assert quality["Freq"] == pytest.approx(story["Summ"][7], abs=0.006)

    capture(url, db_path, "mercury230")
    assert rows(db_path, "SELECT Serial FROM ElectricConfig") == [(meter.serial,)]
    assert rows(db_path, "SELECT Timestamp FROM MeterData") == [(int(moment.timestamp()),)] * 2
    stored = rows(db_path, "SELECT Tariff, Ap, Am, Rp, Rm FROM ElectricEnergyValues ORDER BY Tariff")
    assert [list(row[1:]) for row in stored] == energy
    columns = {"U": "U", "I": "I", "P": "P", "Q": "Q", "S": "S", "kP": "KP"}
    for phase, *values in rows(db_path, "SELECT Phase, U, I, P, Q, S, KP, F FROM ElectricQualityValues"):
        x = "S" if phase == "Summ" else phase
        got = dict(zip(list(columns) + ["F"], values))
        for name in columns:
            if got[name] is not None:
                assert got[name] == pytest.approx(quality[f"{name}{x}"], abs=1e-6), (phase, name)
        if phase == "Summ":
            assert got["F"] == pytest.approx(quality["Freq"])
    assert verify(db_path) == []


def test_the_channel_needs_the_levels_password(v2_line):
    meter, url = v2_line
    address = V2Generated(meter).address
    with v2.V2Client(url, timeout=2) as client:
        with pytest.raises(v2.StatusError, match="status 5") as info:
            client.open(address, v2.USER, password_bytes("222222"))
        assert info.value.status == v2.NOT_OPEN
        with pytest.raises(v2.StatusError, match="status 5"):
            client.serial(address)
        client.open(address, v2.ADMIN, bytes([2] * 6))    # 222222, one digit a byte
        assert client.serial(address)[0] == meter.serial
    assert password_bytes("0x313131313131") == b"111111" and password_bytes("123456") == bytes(range(1, 7))


# ---- the imitators through the CLI, capture and verify -------------------------------------------
class Imitator:
    def __init__(self, *args):
        self.process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", *args,
                                         "--timezone", "Europe/Moscow", "--seconds", "300"], cwd=REPO, env=ENV,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.line = self.process.stdout.readline()
        assert " meter on " in self.line, self.process.stderr.read()
        self.url = self.line.split(" on ", 1)[1].split()[0]
        self.address = self.line.rsplit("network address ", 1)[1].rstrip(")\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


def test_capture_from_both_imitators_twice_verifies(db_path):
    with Imitator("mercury200", "--meter-seed", "21") as one, \
            Imitator("mercury230", "--meter-seed", "22", "--user-password", "123456") as three:
        assert one.line.startswith("imitating a Mercury 200 meter on socket://127.0.0.1:")
        refused = cli("capture", "mercury230", "--port", three.url, "--db", db_path)
        assert refused.returncode == 3 and "status 5" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
        for _ in range(2):
            capture(one.url, db_path, "mercury200", "--network-address", one.address)
            capture(three.url, db_path, "mercury230", "--level-password", "123456")
            capture(three.url, db_path, "mercury230", "--level", "2", "--network-address", three.address)
            time.sleep(1.1)   # another second: two readings of one second are one moment record
    assert rows(db_path, "SELECT COUNT(*) FROM ElectricConfig") == [(2,)]
    # energy and quality records of 2 + 4 captures (of one second, a meter's second record is not written)
    assert 8 <= rows(db_path, "SELECT COUNT(*) FROM MeterData")[0][0] <= 12
    assert verify(db_path) == []


def test_decode_the_pollers_frames(tmp_path):
    frame = tmp_path / "frame.hex"
    frame.write_text("0001E2402700062142000208340001111100022222 3242")   # wb-mqtt-serial's energy answer
    decoded = cli("decode", "mercury200", str(frame))
    assert decoded.returncode == 0, decoded.stderr
    # 00 06 21 42 = 621.42 kWh, 00 02 08 34 = 208.34 ... in Wh
    assert json.loads(decoded.stdout)["values"] == [621_420, 208_340, 111_110, 222_220]
    frame.write_text("00 30 00 28 C5 FF FF FF FF 04 00 9C 95 FF FF FF FF 44 AB")   # its Mercury 230 energy
    decoded = cli("decode", "mercury230", str(frame))
    assert decoded.returncode == 0, decoded.stderr
    assert json.loads(decoded.stdout) == {"address": 0, "data": "30 00 28 c5 ff ff ff ff 04 00 9c 95 ff ff ff ff"}
    frame.write_text("00 30 00 28 C5 FF FF FF FF 04 00 9C 95 FF FF FF FF 44 AC")
    refused = cli("decode", "mercury230", str(frame))
    assert refused.returncode == 1 and refused.stderr.startswith("error: protocol: CRC error")


@pytest.mark.parametrize("frame, words", [
    ("963ced8d860242e6f03581036d", "cos phi 42 e6 is not"),        # 0x86 02: a cos phi nibble not BCD
    ("04f9ee2e28aa6c592930177753", "firmware date 29 30 17 is not a date"),   # 0x28: DD MM YY = 29.30.17
])
def test_decode_of_a_right_crc_with_wrong_values_is_one_line(tmp_path, frame, words):
    path = tmp_path / "frame.hex"
    path.write_text(frame)
    result = cli("decode", "mercury200", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: protocol: ") and words in line, line


def test_random_frames_with_a_right_crc_decode_or_are_a_protocol_error():
    """Structured random frames (a known command, any data, a right CRC): a document or a
    ProtocolError, never another exception."""
    import random

    from GenerateMeterData.errors import ProtocolError
    from GenerateMeterData.imitation.mercury import decode_v1, decode_v2

    rng = random.Random(22)
    codes = sorted({c.code for c in v1.COMMANDS.values()})
    for _ in range(3000):
        data = bytes((rng.choice((0x01, 0x02, 0xFF)),)) + rng.randbytes(rng.randint(0, 20))
        raw = v1.with_crc(rng.randbytes(4) + bytes((rng.choice(codes),)) + data[:rng.randint(0, len(data))])
        for decode in (decode_v1, decode_v2):
            try:
                assert isinstance(decode(raw, None), dict)
            except ProtocolError:
                pass


# ---- bad input ----------------------------------------------------------------------------------
def silent(sock):
    sock.settimeout(0.4)
    try:
        return sock.recv(64)
    except socket.timeout:
        return b""


def test_junk_a_bad_crc_and_another_address_get_no_answer_and_the_v1_meter_goes_on(v1_line):
    meter, url = v1_line
    address = int(meter.serial[-8:])
    good = v1.request(address, "serial")
    with socket.create_connection(host_port(url), timeout=5) as sock:
        for bad in (b"\x00junk\xff" * 20, good[:-1] + bytes((good[-1] ^ 0xFF,)), v1.request(address + 1, "serial")):
            sock.sendall(bad)
            assert silent(sock) == b""
        sock.sendall(good)
        sock.settimeout(5)
        answer = b""
        while len(answer) < 11:
            answer += sock.recv(64)
    assert answer == v1.Frame(address, 0x2F, int(meter.serial).to_bytes(4, "big")).encode()


def test_junk_a_bad_crc_and_another_address_get_no_answer_and_the_v2_meter_goes_on(v2_line):
    meter, url = v2_line
    address = V2Generated(meter).address
    good = v2.frame(address, b"\x00")
    with socket.create_connection(host_port(url), timeout=5) as sock:
        for bad in (bytes(range(256)), good[:-1] + bytes((good[-1] ^ 0xFF,)), v2.frame((address + 1) % 240, b"\x00")):
            sock.sendall(bad)
            assert silent(sock) == b""
        sock.sendall(good)
        sock.settimeout(5)
        assert sock.recv(64) == good   # status 0 from this meter
    with v2.V2Client(url, timeout=2) as client:   # and another client is served
        client.open(address)
        assert client.serial(address)[0] == meter.serial


@pytest.mark.parametrize("which", ["v1", "v2"])
def test_a_flood_of_junk_is_read_through_and_the_next_request_answered(v1_line, v2_line, which):
    """256 KiB of bytes that never make a request: the meter's side reads through them (its buffer
    bounded, a few microseconds a byte) and answers the request that follows."""
    import random

    meter, url = v1_line if which == "v1" else v2_line
    if which == "v1":
        request, size = v1.request(int(meter.serial[-8:]), "serial"), 11
    else:
        request, size = v2.frame(V2Generated(meter).address, b"\x00"), 4
    junk = random.Random(5).randbytes(256 * 1024)
    started = time.monotonic()
    with socket.create_connection(host_port(url), timeout=30) as sock:
        sock.sendall(junk + request)
        answer = b""
        while len(answer) < size:
            answer += sock.recv(64)
    assert answer[-size:] == (v1.Frame(int(meter.serial[-8:]), 0x2F, int(meter.serial).to_bytes(4, "big")).encode()
                              if which == "v1" else request)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("protocol, extra", [("mercury200", ["--network-address", "12345678"]),
                                             ("mercury230", [])])
def test_a_silent_meter_is_one_line_in_bounded_time(db_path, protocol, extra):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        started = time.monotonic()
        result = cli("capture", protocol, "--port", f"socket://127.0.0.1:{listener.getsockname()[1]}",
                     "--db", db_path, "--answer-timeout", "0.5", *extra)
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "no answer" in line and "within 0.5 s" in line
    assert elapsed < 15
    assert rows(db_path, "SELECT COUNT(*) FROM MeterData") == [(0,)]


@pytest.mark.parametrize("args, words", [
    (["capture", "mercury200", "--port", "socket://127.0.0.1:9"], ["--network-address"]),
    (["capture", "mercury230", "--port", "socket://127.0.0.1:9", "--level-password", "11111"], ["password"]),
    (["capture", "mercury230", "--port", "socket://127.0.0.1:9", "--days", "171"], ["--days 171", "170 days", "a 230's 85"]),
    (["capture", "mercury200", "--port", "socket://127.0.0.1:9", "--network-address", "5", "--days", "2"],
     ["--days", "no archive"]),
    (["imitate", "mercury230", "--fault", "sometimes", "--seconds", "1"], ["--fault 'sometimes'", "status:N"]),
    (["imitate", "mercury230", "--fault", "gap:2026-03-10T12:00/2026-03-10T11:00", "--seconds", "1"], ["gap:FROM/TO"]),
    (["imitate", "mercury230", "--network-address", "241", "--seconds", "1"], ["--network-address 241"]),
    (["imitate", "mercury200", "--mode", "A", "--seconds", "1"], ["--mode A"]),
    (["imitate", "mercury230", "-o", "1.8.5:5", "--seconds", "1"], ["-o 1.8.5:5", "reports no such register"]),
    (["imitate", "mercury200", "--meter-type", "Mercury23x", "--seconds", "1"], ["single-phase"]),
    (["imitate", "mercury230", "--meter-type", "SE303", "--seconds", "1"], ["--meter-type SE303", "8 digits"]),
])
def test_what_cannot_be_done_is_refused_in_one_line(tmp_path, args, words):
    result = cli(*args, "--db", str(tmp_path / "m.db"))
    assert result.returncode == 2, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert all(word in line for word in words), line


# ---- -o overrides and --fault on Mercury 200 (issue 22) ------------------------------------------
def test_mercury_base_reads_v1_overrides_and_sees_a_crc_fault(db_path):
    from GenerateMeterData.imitation.faults import Fault
    from GenerateMeterData.imitation.mercury import mercury_overrides

    meter = frozen("Mercury206", 11)
    overrides = mercury_overrides(["1.8.2:4321.12*kWh", "32.7.0:231.5", "31.7.0:5.25"], "mercury200")
    served = V1Generated(meter, overrides=overrides, faults=[Fault("crc", b"\x63")])   # 0x63: U, I, P
    imitator = v1.V1Imitator([served])
    url = imitator.start("tcp://127.0.0.1:0")
    transport = mercury_base.TcpDataTransport(*host_port(url))
    try:
        read = mercury_base.Meter(served.address, transport)
        kwh = read.command("get_energy_accumulators")
        with pytest.raises(mercury_base.CheckSumError):   # its own CRC check refuses the answer
            read.command("get_vcp")
    finally:
        transport._TcpDataTransport__connection.disconnect()
        imitator.stop()
    registers = meter.registers()[0]
    assert kwh == [round(registers[1] / 10) / 100, 4321.12, round(registers[3] / 10) / 100,
                   round(registers[4] / 10) / 100]


def test_mercury_base_reads_v2_overrides(db_path):
    from GenerateMeterData.imitation.mercury import mercury_overrides

    meter = frozen("Mercury23x", 12)
    overrides = mercury_overrides(["1.8.0:4321.125*kWh", "2.8.1:7*kWh", "32.7.0:231.5", "14.7.0:49.95"],
                                  "mercury230")
    served = V2Generated(meter, overrides=overrides)
    imitator = v2.V2Imitator([served])
    url = imitator.start("tcp://127.0.0.1:0")
    client = MercuryBaseV2(url, served.address)
    try:
        assert client.send_command(0x01, 0x01, *[1] * 6) == [0]
        total = energy_by_hand(client.send_command(0x05, 0x00, 0))
        first = energy_by_hand(client.send_command(0x05, 0x00, 1))
        voltage = bwri_by_hand(client.send_command(0x08, 0x11, 0x11), 0.01)
        frequency = bwri_by_hand(client.send_command(0x08, 0x11, 0x40), 0.01)
        current = bwri_by_hand(client.send_command(0x08, 0x11, 0x21), 0.001)
    finally:
        client.close()
        imitator.stop()
    registers = meter.registers()
    assert total == [4321125, registers[1][0], registers[2][0], registers[3][0]]
    assert first == [registers[0][1], 7000, registers[2][1], registers[3][1]]
    assert voltage == pytest.approx(231.5) and frequency == pytest.approx(49.95)
    assert current == pytest.approx(meter.quality()["A"][1], abs=0.02)   # not overridden: the story's


@pytest.mark.parametrize("protocol, item, words", [
    ("mercury230", "0.9.1:12", ["reports no such register"]),
    ("mercury200", "2.8.0:1", ["reports no such register"]),
    ("mercury230", "1.8.0:lots", ["give a number"]),
    ("mercury200", "nocolon", ["give ADDRESS:VALUE"]),
])
def test_bad_mercury_overrides_are_one_line(protocol, item, words):
    result = cli("imitate", protocol, "-o", item, "--seconds", "1")
    assert result.returncode == 2, (result.stdout, result.stderr)
    [error] = result.stderr.strip().splitlines()
    assert all(word in error for word in words), error
