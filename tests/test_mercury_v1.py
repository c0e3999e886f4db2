"""The Mercury 200/201/203/206 protocol (``protocols/mercury/v1.py``): frames against the byte
vectors of wb-mqtt-serial's device tests (tests/data/mercury/README.md), values hand-decoded from
the BCD; the meter's side and the client over a real TCP socket; mercury-base (PyPI, an independent
client) reading the same meter when it is installed."""
from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

from GenerateMeterData.protocols.mercury import v1

ENERGY_REQUEST = bytes.fromhex("0001E24027F410")
ENERGY_ANSWER = bytes.fromhex("0001E2402700062142000208340001111100022222" "3242")
PARAMS_REQUEST = bytes.fromhex("0001E24063F423")
PARAMS_ANSWER = bytes.fromhex("0001E24063123456787654328A8A")


def test_requests_are_the_pollers_bytes():
    assert v1.request(123456, "energy") == ENERGY_REQUEST
    assert v1.request(123456, "uip") == PARAMS_REQUEST


def test_energy_answer_decodes_to_the_hand_read_bcd():
    frame = v1.decode(ENERGY_ANSWER)
    assert (frame.address, frame.command) == (123456, 0x27)
    # 00 06 21 42 = 621.42 kWh, 00 02 08 34 = 208.34, 00 01 11 11 = 111.11, 00 02 22 22 = 222.22
    assert v1.decode_answer("energy", frame.data) == [621_420, 208_340, 111_110, 222_220]


def test_params_answer_decodes_to_the_hand_read_bcd():
    frame = v1.decode(PARAMS_ANSWER)
    assert (frame.address, frame.command) == (123456, 0x63)
    instant = v1.decode_answer("uip", frame.data)
    # 12 34 = 123.4 V, 56 78 = 56.78 A, 76 54 32 = 765432 W
    assert (instant.voltage, instant.current, instant.power) == (123.4, 56.78, 765432.0)


def test_a_damaged_frame_is_a_crc_error():
    damaged = ENERGY_ANSWER[:6] + bytes((ENERGY_ANSWER[6] ^ 1,)) + ENERGY_ANSWER[7:]
    with pytest.raises(v1.MercuryError, match="CRC"):
        v1.decode(damaged)


def test_crc_is_crc16_modbus():
    # the CRC-16/MODBUS check value of "123456789" (the catalogue of parametrised CRCs): 0x4B37
    assert v1.crc16(b"123456789") == 0x4B37


class Meter:
    """A meter whose every value is written here, so the expected answers are known by hand."""
    address = 123456
    serial = 40123456
    model = "206"
    variant = 2
    firmware = (7, 3, dt.date(2021, 5, 17))
    battery = 3.05
    tariffs = 4
    relay_on = True

    def clock(self):
        return dt.datetime(2026, 12, 4, 21, 7, 9)   # a Friday

    def energy_wh(self):
        return [1_234_560, 20, 0, 99_999_990]

    def instant(self):
        return v1.Instant(229.8, 4.17, 912.0, -0.874, 958.0)

    def current_tariff(self):
        return 1


@pytest.fixture
def line():
    imitator = v1.V1Imitator([Meter()])
    yield imitator.start("tcp://127.0.0.1:0")
    imitator.stop()


def test_client_reads_every_command_from_the_meters_side(line):
    with v1.V1Client(line, timeout=2.0) as client:
        assert client.query(123456, "serial") == 40123456
        assert client.query(123456, "time") == dt.datetime(2026, 12, 4, 21, 7, 9)
        assert client.query(123456, "energy") == [1_234_560, 20, 0, 99_999_990]
        instant = client.query(123456, "uip")
        assert (instant.voltage, instant.current, instant.power) == (229.8, 4.17, 912.0)
        assert client.query(123456, "power_factor") == (-0.874, 958.0)
        assert client.query(123456, "firmware") == (7, 3, dt.date(2021, 5, 17))
        assert client.query(123456, "battery") == 3.05
        assert client.query(123456, "tariffs") == 4
        assert client.query(123456, "tariff") == 1
        assert client.query(123456, "model") == ("206", 2)
        assert client.query(123456, "relay") is True


def test_time_answer_bytes_by_hand():
    # Friday = 5 (0 = Sunday), then 21 07 09 04 12 26 in BCD
    assert v1.encode_time(dt.datetime(2026, 12, 4, 21, 7, 9)) == bytes.fromhex("05210709041226")


def test_another_address_gets_no_answer(line):
    with v1.V1Client(line, timeout=0.3) as client:
        with pytest.raises(v1.MercuryError, match="no answer"):
            client.query(654321, "serial")


def test_junk_and_split_requests_still_get_answers(line):
    host, port = line[len("socket://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        request = v1.request(123456, "serial")
        sock.sendall(b"\x00\xff\x13junk" + request[:3])
        sock.sendall(request[3:])
        answer = b""
        while len(answer) < 11:
            answer += sock.recv(64)
        assert v1.decode(answer).data == (40123456).to_bytes(4, "big")


def test_the_reader_holds_a_bounded_buffer():
    reader = v1.RequestReader()
    for _ in range(200):
        reader.feed(bytes(range(256)))
        assert len(reader.buffer) <= v1.MAX_REQUEST
    assert reader.dropped > 0


def test_each_answer_leaves_in_one_write():
    writes = []
    chunks = iter([v1.request(123456, name) for name in v1.COMMANDS] + [b""])
    v1.serve({123456: Meter()}, lambda: next(chunks), writes.append, threading.Event())
    assert len(writes) == len(v1.COMMANDS)
    assert all(v1.decode(w).address == 123456 for w in writes)


def test_mercury_base_reads_the_meter(line):
    """mercury-base 1.6 (PyPI, BSD-3-Clause) as an independent client over TCP."""
    mercury = pytest.importorskip("mercury_base", reason="mercury-base is in the [test] extra")
    host, port = line[len("socket://"):].rsplit(":", 1)
    transport = mercury.TcpDataTransport(host, int(port))
    try:
        meter = mercury.Meter(123456, transport)
        assert meter.serial_number == 40123456
        assert meter.model == "206"
        # 1,234,560 Wh = 1234.56 kWh ... 99,999,990 Wh = 99999.99 kWh
        assert meter.command("get_energy_accumulators") == [1234.56, 0.02, 0.0, 99999.99]
        assert meter.command("get_vcp") == {"voltage": 229.8, "current": 4.17, "power": 0.912}
        assert meter.command("get_is_relay_on") is True
        assert meter.command("get_tariffs_count") == 4
        assert meter.command("get_tariff") == 1
        assert meter.command("get_full_power_and_cos_fi") == {"cos_fi": -0.874, "full_power": 0.958}
        assert meter.command("get_battery_voltage") == 3.05
    finally:
        # its socket thread is not a daemon: without this the test run never ends
        transport._TcpDataTransport__connection.disconnect()


def test_mercury_base_cannot_read_dates(line):
    """mercury-base 1.6's bug: its v1 ``extract_data`` returns a list of ints, and ``to_datetime``
    only turns bytes into text, so every date it reads (get_datetime, get_firmware_info,
    get_last_start_datetime ...) raises TypeError from strptime.  (Its get_datetime also slices
    data[2:], skipping the hour: the answer is day of week, hh, mm, ss, DD, MM, YY, as openHAB's
    M200Protocol reads it.)  Our client reads them: test_client_reads_every_command_from_the_meters_side."""
    mercury = pytest.importorskip("mercury_base", reason="mercury-base is in the [test] extra")
    host, port = line[len("socket://"):].rsplit(":", 1)
    transport = mercury.TcpDataTransport(host, int(port))
    try:
        meter = mercury.Meter(123456, transport)
        for command in ("get_datetime", "get_firmware_info"):
            with pytest.raises(TypeError, match="strptime"):
                meter.command(command)
    finally:
        transport._TcpDataTransport__connection.disconnect()
