"""The SET-4TM protocol (``protocols/set4tm``) against the example frames of the NZiF document quoted
by a public poller (tests/data/set4tm/README.md) and hand computations, then the meter's side and
the client over a real TCP socket: bad input gets no answer, a silent port is one line in bounded time."""
from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import pytest

from GenerateMeterData.protocols.mercury import v2
from GenerateMeterData.protocols.set4tm import codec
from GenerateMeterData.protocols.set4tm.client import Set4Client
from GenerateMeterData.protocols.set4tm.imitator import Set4Imitator

X = bytes.fromhex


class Meter:
    address = 0x53
    serial = "805181783"
    made = dt.date(2018, 5, 17)
    constant = 1250
    passwords = {codec.USER: b"000000", codec.ADMIN: b"222222"}

    def clock(self):
        return dt.datetime(2026, 12, 4, 21, 7, 9), True

    def energy_wh(self, array, month, tariff):
        if array == codec.FROM_RESET:
            return [12_345_678.4 + tariff, 2_000.8, 300_000, 0]
        if array == codec.MONTH and 1 <= month <= 12:
            return [month * 1000.0 + tariff, 0, month * 100.0, 0]
        return None

    def instant(self, name, phase):
        return {("U", 1): 229.81, ("U", 2): 230.5, ("U", 3): 231.0, ("I", 2): 4.017,
                ("P", 0): -1234.5, ("P", 1): -400.0, ("P", 2): -434.5, ("P", 3): -400.0,
                ("cos", 1): 0.874, ("F", 0): 50.0, ("T", 0): 23.0}.get((name, phase))


# ---- the document's frames ----------------------------------------------------------------------
def test_requests_are_the_documents_frames():
    assert codec.open_request(0x53) == X("53 01 30 30 30 30 30 30 4B 0D")
    assert v2.frame(0x53, X("08 00")) == X("53 08 00 86 11")
    assert v2.frame(0x53, X("08 02")) == X("53 08 02 07 D0")
    assert v2.frame(0x53, X("08 12")) == X("53 08 12 06 1C")


def test_the_serial_answer_reads_as_by_hand():
    address, data = v2.decode(X("53 2F FE 19 57 17 05 18 70 D6"))
    assert address == 0x53
    assert codec.decode_serial(data) == ("805181783", dt.date(2018, 5, 17))


def test_the_variant_answer_reads_as_the_document_says():
    _, data = v2.decode(X("53 64 42 80 61 BF"))
    assert codec.decode_variant(data) == (1250, "SET-4TM.03M")


def test_the_meter_side_answers_the_documents_frames_byte_for_byte():
    meters = {0x53: Meter()}
    session = codec.Session()
    assert codec.answer(meters, session, X("53 01 30 30 30 30 30 30 4B 0D")) == X("53 00 3D 40")
    assert codec.answer(meters, session, X("53 08 00 86 11")) == X("53 2F FE 19 57 17 05 18 70 D6")
    assert codec.answer(meters, session, X("53 08 12 06 1C")) == X("53 64 42 80 61 BF")


# ---- hand computations --------------------------------------------------------------------------
def test_energy_is_a_big_endian_count_of_half_impulses():
    # A = 5000 imp/kWh: N = E[kWh] * 2A = 12345.6789 kWh * 10000 = 123456789 = 0x075BCD15
    assert codec.encode_energy([12_345_678.9, 0, 0, 0], 5000)[:4] == X("07 5B CD 15")
    assert codec.decode_energy(X("07 5B CD 15") + bytes(12), 5000)[0] == pytest.approx(12_345_678.9)
    # A = 1250: one count is 1000 / 2500 = 0.4 Wh
    assert codec.decode_energy(X("00 00 00 0A") + bytes(12), 1250)[0] == pytest.approx(4.0)


def test_floats_are_little_endian_ieee():
    # 230.5 = 1.80078125 * 2^7: sign 0, exponent 134 (0x86), fraction 0x668000 -> 0x43668000
    assert codec.encode_floats([230.5]) == X("00 80 66 43")
    assert codec.decode_floats(X("00 00 48 42")) == (50.0,)


# ---- the imitator and the client over TCP -------------------------------------------------------
@pytest.fixture
def line():
    imitator = Set4Imitator([Meter()])
    yield imitator.start("tcp://127.0.0.1:0")
    imitator.stop()


def test_the_client_reads_the_meter(line):
    with Set4Client(line, timeout=2) as client:
        client.test(0x53)
        client.open(0x53)
        assert client.serial(0x53) == ("805181783", dt.date(2018, 5, 17))
        assert client.variant(0x53) == (1250, "SET-4TM.03M")
        assert client.clock(0x53) == (dt.datetime(2026, 12, 4, 21, 7, 9), True)
        # 0.4 Wh per count: 12345678.4 Wh -> 30864196 counts exactly
        assert client.energy(0x53) == pytest.approx([12_345_678.4, 2_000.8, 300_000, 0])
        assert client.energy(0x53, tariff=3) == pytest.approx([12_345_681.2, 2_000.8, 300_000, 0])
        assert client.energy(0x53, codec.MONTH, 11) == pytest.approx([11_000, 0, 1_100, 0])
        assert client.instant(0x53, "U", 2) == pytest.approx(230.5)
        assert client.instant(0x53, "P") == pytest.approx(-1234.5)
        assert client.instant(0x53, "F") == pytest.approx(50.0)
        assert client.instant(0x53, "T") == pytest.approx(23.0)
        assert client.instants(0x53, "U") == pytest.approx((0.0, 229.81, 230.5, 231.0), abs=1e-4)
        assert client.instants(0x53, "P") == pytest.approx((-1234.5, -400.0, -434.5, -400.0), abs=1e-3)
        with pytest.raises(codec.StatusError, match="status 1: invalid command"):
            client.energy(0x53, codec.MONTH, 13)
        with pytest.raises(codec.StatusError, match="status 1"):
            client.instant(0x53, "I", 1)    # the meter has no value for it
        client.close_channel(0x53)
        with pytest.raises(codec.StatusError, match="status 5: the channel is not open"):
            client.clock(0x53)


def test_the_level_2_password_opens_and_a_wrong_one_does_not(line):
    with Set4Client(line, timeout=2) as client:
        with pytest.raises(codec.StatusError, match="status 5"):
            client.open(0x53, password=b"123456")
        with pytest.raises(codec.StatusError, match="status 5"):
            client.serial(0x53)
        client.open(0x53, codec.ADMIN, b"222222")
        assert client.serial(0x53)[0] == "805181783"


def test_junk_a_wrong_crc_and_another_address_get_nothing_and_the_next_request_an_answer(line):
    host, port = line[len("socket://"):].rsplit(":", 1)
    good = codec.open_request(0x53)
    bad_crc = good[:-1] + bytes((good[-1] ^ 0xFF,))
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"\x13\x37junk\xff" * 20 + bad_crc + codec.open_request(0x54) + good[:3])
        time.sleep(0.3)
        sock.sendall(good[3:])
        answer = b""
        while len(answer) < 4:
            answer += sock.recv(64)
        assert answer == X("53 00 3D 40")   # only the whole good request is answered


def test_a_silent_port_is_one_line_in_bounded_time():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        started = time.monotonic()
        with Set4Client(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=0.5) as client:
            with pytest.raises(codec.Set4Error) as caught:
                client.serial(0x53)
        assert time.monotonic() - started < 3
        assert "\n" not in str(caught.value) and "no answer" in str(caught.value)
    finally:
        for conn, _ in accepted:
            conn.close()
        server.close()


def test_an_answer_with_a_wrong_crc_is_one_line():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def corrupt():
        conn, _ = server.accept()
        conn.recv(64)
        conn.sendall(X("53 2F FE 19 57 17 05 18 70 D7"))
        time.sleep(1)
        conn.close()
    threading.Thread(target=corrupt, daemon=True).start()
    try:
        with Set4Client(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=1) as client:
            with pytest.raises(codec.Set4Error, match="CRC error"):
                client.serial(0x53)
    finally:
        server.close()


def test_the_reader_at_set4tm_lengths_holds_a_bounded_buffer():
    reader = v2.RequestReader(codec.request_length)
    assert reader.feed(b"\x00" * 5 + codec.float_request(0x53, 0x10)) == [codec.float_request(0x53, 0x10)]
    for _ in range(200):
        reader.feed(bytes(range(256)))
        assert len(reader.buffer) <= 32
