"""The Mercury 230 protocol (``protocols/mercury/v2.py``) against wb-mqtt-serial's device-test
exchanges and the values its poller reads from them (tests/data/mercury/README.md), then the meter's
side and the client over a real TCP socket."""
from __future__ import annotations

import datetime as dt
import socket

import pytest

from GenerateMeterData.protocols.mercury import v2

X = bytes.fromhex


def test_open_requests_are_the_pollers_bytes():
    assert v2.open_request(0, v2.USER) == X("00 01 01 01 01 01 01 01 01 77 81")
    assert v2.open_request(0, v2.ADMIN, X("12 13 14 15 16 17")) == X("00 01 02 12 13 14 15 16 17 34 17")
    assert v2.frame(0, X("05 00 00")) == X("00 05 00 00 10 25")
    assert v2.frame(0, X("08 11 11")) == X("00 08 11 11 4D BA")
    assert v2.frame(0, X("08 11 70")) == X("00 08 11 70 8C 52")


def test_energy_answer_reads_as_wb_mqtt_serial_reads_it():
    address, data = v2.decode(X("00 30 00 28 C5 FF FF FF FF 04 00 9C 95 FF FF FF FF 44 AB"))
    assert address == 0
    values = [v2.from_word_order(data[i:i + 4]) for i in range(0, 16, 4)]
    assert values == [0x0030C528, None, 0x0004959C, None]


@pytest.mark.parametrize("answer, name, phase, value", [
    ("00 00 40 5E B0 1C", "U", 1, 241.28),
    ("00 00 45 00 32 B4", "I", 1, 0.069),
    ("00 00 EB 5D 8F 2D", "U", 2, 240.43),
    ("00 48 87 70 E2 26", "P", 0, 5530.95),
    ("00 00 18 71 CA", "T", 0, 24.0),
])
def test_instant_answers_read_as_wb_mqtt_serial_reads_them(answer, name, phase, value):
    _, data = v2.decode(X(answer))
    quantity = v2.BWRI[v2.BWRI_OF[(name, phase)]]
    assert v2.decode_quantity(quantity, data) == pytest.approx(value)
    # and the meter's side encodes the value back to the same bytes (for P less the reactive sign
    # bit 6, which belongs to Q: the wb answer was taken from a meter with reactive power < 0)
    expected = bytes((data[0] & ~0x40,)) + data[1:] if name == "P" else data
    assert v2.encode_quantity(quantity, value) == expected


def test_the_reactive_sign_bit_does_not_change_active_power():
    # 0x48: bit 6 (reactive direction) set, bit 7 clear: P stays positive (wb reads 553095)
    quantity = v2.BWRI[0x00]
    assert v2.decode_quantity(quantity, X("48 87 70")) > 0
    assert v2.decode_quantity(v2.BWRI[0x04], X("48 87 70")) < 0


class Meter:
    address = 17
    serial = "27135904"
    made = dt.date(2019, 3, 8)
    passwords = {v2.USER: bytes([1] * 6), v2.ADMIN: bytes([2] * 6)}
    directions = (True, True, True, False)

    def clock(self):
        return dt.datetime(2026, 12, 4, 21, 7, 9), True

    def energy_wh(self, array, month, tariff):
        if array == v2.FROM_RESET:
            return [1_000_000 + tariff, 2_000 + tariff, 300_000 + tariff, 0]
        if array == v2.MONTH and 1 <= month <= 12:
            return [month * 1000 + tariff, 0, month * 100, 0]
        return None

    def instant(self, name, phase):
        return {("U", 1): 229.81, ("I", 2): 4.017, ("P", 0): -1234.56, ("Q", 3): -12.5,
                ("cos", 1): 0.874, ("F", 0): 50.01, ("T", 0): -7.0}.get((name, phase))


@pytest.fixture
def line():
    imitator = v2.V2Imitator([Meter()])
    yield imitator.start("tcp://127.0.0.1:0")
    imitator.stop()


def test_a_closed_channel_answers_status_5(line):
    with v2.V2Client(line, timeout=2) as client:
        client.test(17)
        with pytest.raises(v2.MercuryError, match="status 5"):
            client.energy(17)


def test_a_wrong_password_does_not_open_the_channel(line):
    with v2.V2Client(line, timeout=2) as client:
        with pytest.raises(v2.MercuryError, match="status 5"):
            client.open(17, v2.USER, bytes(6))
        with pytest.raises(v2.MercuryError, match="status 5"):
            client.clock(17)


def test_the_client_reads_the_meter(line):
    with v2.V2Client(line, timeout=2) as client:
        client.open(17)
        assert client.clock(17) == (dt.datetime(2026, 12, 4, 21, 7, 9), True)
        assert client.serial(17) == ("27135904", dt.date(2019, 3, 8))
        assert client.energy(17) == [1_000_000, 2_000, 300_000, None]
        assert client.energy(17, tariff=2) == [1_000_002, 2_002, 300_002, None]
        assert client.energy(17, v2.MONTH, 11) == [11_000, 0, 1_100, None]
        assert client.instant(17, "U", 1) == pytest.approx(229.81)
        assert client.instant(17, "I", 2) == pytest.approx(4.017)
        assert client.instant(17, "P") == pytest.approx(-1234.56)
        assert client.instant(17, "Q", 3) == pytest.approx(-12.5)
        assert client.instant(17, "cos", 1) == pytest.approx(0.874)
        assert client.instant(17, "F") == pytest.approx(50.01)
        assert client.instant(17, "T") == -7.0
        with pytest.raises(v2.MercuryError, match="status 1"):
            client.energy(17, v2.MONTH, 13)
        client.close_channel(17)
        with pytest.raises(v2.MercuryError, match="status 5"):
            client.clock(17)


def test_clock_bytes_by_hand():
    # 09 s, 07 min, 21 h, Friday 05, 04.12.26, winter 1
    assert v2.encode_clock(dt.datetime(2026, 12, 4, 21, 7, 9), True) == X("09 07 21 05 04 12 26 01")


def test_another_address_and_junk_get_nothing_but_the_next_request_an_answer(line):
    host, port = line[len("socket://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(v2.frame(99, b"\x00") + b"\x13\x37junk" + v2.frame(17, b"\x00")[:2])
        sock.sendall(v2.frame(17, b"\x00")[2:])
        answer = b""
        while len(answer) < 4:
            answer += sock.recv(64)
        assert answer == v2.frame(17, b"\x00")   # status 0 from meter 17 only


def test_the_reader_holds_a_bounded_buffer():
    reader = v2.RequestReader()
    for _ in range(200):
        reader.feed(bytes(range(256)))
        assert len(reader.buffer) <= 32
