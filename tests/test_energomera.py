"""The Energomera CE protocol (``protocols/energomera``): frames and check characters against the
byte logs of wb-mqtt-serial's CE device tests and the literals of the emulator the UM-40's daemon
polled (tests/data/energomera/README.md), check characters computed by hand; the imitator on a
real TCP socket replaying wb-mqtt-serial's CE102M session byte for byte, read by the client, and
kept serving through junk, wrong check characters, unknown mnemonics and bad arguments."""
from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from functools import reduce
from typing import List, Tuple

import pytest

from GenerateMeterData.protocols.energomera import codec
from GenerateMeterData.protocols.energomera.client import CEClient
from GenerateMeterData.protocols.energomera.codec import CEError, check_char
from GenerateMeterData.protocols.energomera.imitator import CEImitator
from GenerateMeterData.protocols.iec62056.messages import command, parse_message

DATA = os.path.join(os.path.dirname(__file__), "data", "energomera")
SOH, STX, ETX, ACK, NAK = 0x01, 0x02, 0x03, 0x06, 0x15


def log(name: str) -> List[Tuple[str, bytes]]:
    """The ``>>`` (poller) and ``<<`` (meter) lines of a wb-mqtt-serial device-test log."""
    out = []
    for line in open(os.path.join(DATA, name), encoding="ascii"):
        way, _, hexes = line.strip().partition(" ")
        out.append((way, bytes.fromhex(hexes)))
    return out


def xor7(body: bytes) -> int:
    """IEC 62056-21's block check character, written out here from the standard."""
    return reduce(lambda a, b: a ^ b, body, 0) & 0x7F


def framed(data: bytes) -> bytes:
    """The SOH/STX ... ETX C message of a logged line (the GROUP request starts with a sign-on)."""
    starts = [i for i, b in enumerate(data) if b in (SOH, STX)]
    return data[starts[0]:] if starts else b""


CE102M = log("wb_ce102m_poll.txt")


# ---- the check character ----------------------------------------------------------------------
def test_check_char_is_the_7_bit_sum_not_the_iec_xor():
    # the emulator's B0 literal b'\x01B0\x03u': 0x42 + 0x30 + 0x03 = 0x75 = 'u'; XOR gives 0x71
    assert check_char(b"B0\x03") == 0x75 == ord("u")
    assert xor7(b"B0\x03") == 0x71
    assert command("B0", check=check_char) == b"\x01B0\x03u"
    # P0 of the emulator's CE303: 0x50+0x30+0x02+0x28 + digits 1,4,1,2,2,7,2,8,5 (464) + 0x29 + 0x03
    # = 678 = 5 * 128 + 38 -> 0x26
    assert command("P0", "(141227285)", check_char)[-1] == 0x26


@pytest.mark.parametrize("name", ["wb_ce102m_poll.txt", "wb_group_poll.txt"])
def test_every_logged_frame_verifies_with_the_sum_and_not_all_with_xor(name):
    frames = [framed(data) for _, data in log(name)]
    frames = [f for f in frames if len(f) > 2]
    assert frames
    for frame in frames:
        assert check_char(frame[1:-1]) == frame[-1], frame
    assert any(xor7(frame[1:-1]) != frame[-1] for frame in frames)


# ---- frames against the poller's and the meter's bytes -----------------------------------------
def test_requests_are_the_pollers_bytes():
    sent = [data for way, data in CE102M if way == ">>"]
    assert sent[0] == b"/?141628345!\r\n"
    assert sent[1] == b"\x06051\r\n"
    assert command("P1", "(777777)", check_char) == sent[2]
    assert [codec.request(m) for m in ("ET0PE", "CURRE", "FREQU", "VOLTA")] == sent[3:7]


def test_answers_are_the_meters_bytes():
    received = [data for way, data in CE102M if way == "<<"]
    assert received[0] == b"/EKT5CE102Mv01\r\n"
    assert command("P0", "(141628345)", check_char) == received[1]
    assert received[2] == bytes([ACK])
    assert codec.answer("ET0PE", ["68.42", "45.54", "22.88", "0.00", "0.00", "0.00"]) == received[3]
    assert codec.answer("CURRE", ["0.402"]) == received[4]
    assert codec.answer("FREQU", ["49.97"]) == received[5]
    assert codec.answer("VOLTA", ["237.58"]) == received[6]


def test_the_meters_answers_decode():
    received = [data for way, data in CE102M if way == "<<"]
    message = parse_message(received[3], check_char)
    assert message.bcc_ok and message.kind == "data"
    answer = codec.parse_answer(message.data, "ET0PE")
    assert answer.values == ["68.42", "45.54", "22.88", "0.00", "0.00", "0.00"]
    assert codec.parse_answer(parse_message(received[6], check_char).data, "VOLTA").values == ["237.58"]


def test_the_emulators_repeated_mnemonic_decodes_too():
    # the emulator wrote the mnemonic on every line: ET0PE(v1) CR LF ET0PE(v2) CR LF ...
    assert codec.parse_answer("ET0PE(1.5)\r\nET0PE(0.25)\r\n", "ET0PE").values == ["1.5", "0.25"]
    with pytest.raises(CEError, match="goes on with"):
        codec.parse_answer("ET0PE(1.5)\r\nVOLTA(0.25)\r\n", "ET0PE")


def test_error_answers():
    # "(E12)" ETX: 0x28 + 0x45 + 0x31 + 0x32 + 0x29 + 0x03 = 252 = 128 + 124 -> 0x7C
    assert codec.error(12) == b"\x02(E12)\x03\x7c"
    with pytest.raises(CEError) as caught:
        codec.parse_answer("(E12)", "XXXXX")
    assert caught.value.code == 12
    with pytest.raises(CEError) as caught:
        codec.parse_answer("(E17)")
    assert caught.value.code == 17
    with pytest.raises(CEError, match="asked for VOLTA"):
        codec.parse_answer("CURRE(1.0)\r\n", "VOLTA")


def test_empty_answer_is_the_emulators_bytes():
    # the emulator answers an archive value it has not got with STX ETX ETX: the empty block,
    # whose sum check character is ETX's 0x03
    assert codec.answer("GRAPE", []) == b"\x02\x03\x03"
    assert codec.parse_answer("").values == []


def test_arguments():
    assert codec.day_argument(dt.date(2026, 3, 7)) == "07.03.26"
    assert codec.month_argument(2026, 3) == "03.26"
    assert codec.slot_argument(dt.date(2026, 3, 7), 48) == "07.03.26.48"
    assert codec.parse_argument("slot", "7.3.26.1") == (dt.date(2026, 3, 7), 1)
    for kind, text in (("day", "32.01.26"), ("month", "13.26"), ("slot", "07.03.26.49"), ("slot", "07.03.26.0"),
                       ("day", "junk")):
        with pytest.raises(CEError) as caught:
            codec.parse_argument(kind, text)
        assert caught.value.code == 17


def test_journal_records_in_the_emulators_form():
    moment = dt.datetime(2026, 12, 3, 10, 5)
    # the emulator: str(day)-str(month)-yy-str(hour)-str(minute)-state, state = event << bit of the
    # journalId (power 6, phase B 1, UA max 3); clock corrections with '/' and state 1; cover
    # openings without a state
    assert codec.journal_record("PHASE", "ElJrnlPwrB", moment, 1) == "3-12-26-10-5-2"
    assert codec.journal_record("PHASE", "ElJrnlPwr", moment, 1) == "3-12-26-10-5-64"
    assert codec.journal_record("PHASE", "ElJrnlPwrA", moment, 0) == "3-12-26-10-5-0"
    assert codec.journal_record("JOVER", "ElJrnlLimUAMax", moment, 1) == "3-12-26-10-5-8"
    assert codec.journal_record("JCORT", "ElJrnlTimeCorr", moment, 0) == "3/12/26/10/5/1"
    assert codec.journal_record("DENIA", "ElJrnlOpen", moment, 0) == "3-12-26-10-5"
    assert codec.parse_journal_record("3-12-26-10-5-64") == (moment, 64)
    assert codec.parse_journal_record("3/12/26/10/5/1") == (moment, 1)
    assert codec.parse_journal_record("3-12-26-10-5") == (moment, None)
    with pytest.raises(CEError, match="not d-m-yy"):
        codec.parse_journal_record("ERR12")


# ---- the imitator on a real socket ----------------------------------------------------------------
class CE102M_Meter:
    """The meter of wb-mqtt-serial's CE102M log, every value as the log has it."""
    address = "141628345"
    password = "777777"
    identification = "CE102Mv01"
    serial = "009218054000001"
    model_code = "1"
    integration_minutes = 30
    ratios = (1.0, 1.0)

    def begin_session(self):
        pass

    def clock(self):
        return dt.datetime(2026, 12, 4, 21, 7, 9)

    def energy(self, direction, day=None):
        return [68_420, 45_540, 22_880, 0, 0] if direction == 0 and day is None else None

    def profile(self, direction, day, slot):
        return None

    def instant(self):
        return {"IA": 0.402, "Freq": 49.97, "UA": 237.58}

    def journal(self, mnemonic):
        return []


def _exchange(sock: socket.socket, data: bytes, expected_length: int, timeout: float = 3.0) -> bytes:
    sock.sendall(data)
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < expected_length and time.monotonic() < deadline:
        try:
            got += sock.recv(4096)
        except socket.timeout:
            pass
    return got


def _connect(url: str) -> socket.socket:
    host, port = url[len("socket://"):].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.settimeout(0.2)
    return sock


@pytest.fixture
def ce102m():
    imitator = CEImitator([CE102M_Meter()], fixed=True, reaction_ms=0)
    yield imitator, imitator.start("tcp://127.0.0.1:0")
    imitator.stop()


def test_imitator_replays_the_wb_ce102m_session_byte_for_byte(ce102m):
    _, url = ce102m
    pairs = list(zip(CE102M[0::2], CE102M[1::2]))
    with _connect(url) as sock:
        for (way_out, sent), (way_in, expected) in pairs:
            assert (way_out, way_in) == (">>", "<<")
            assert _exchange(sock, sent, len(expected)) == expected


def test_client_reads_the_ce102m(ce102m):
    _, url = ce102m
    with CEClient(url, address="141628345") as client:
        assert client.identification == "EKT5CE102Mv01"
        assert client.device_address == "141628345"
        assert client.energy() == [68_420, 45_540, 22_880, 0, 0, 0]
        assert client.instant() == {"UA": 237.58, "IA": 0.402, "Freq": 49.97}  # P, Q, cos, angles: E12


class CE303:
    """A three-phase meter whose archive values are written here (Wh), with the emulator's
    identity (tests/data/energomera/README.md)."""
    address = "141227285"
    password = "777777"
    identification = "CE303v11"
    serial = "009218054000006"
    model_code = "226"
    integration_minutes = 30
    ratios = (1.0, 1.0)
    today = dt.date(2026, 12, 4)
    # registers at the 00:00 starting each day: [total, T1, T2, T3, T4]
    midnights = {dt.date(2026, 12, 3): [1_000_000, 600_000, 400_000, 0, 0],
                 dt.date(2026, 12, 4): [1_012_345, 607_000, 405_345, 0, 0],
                 dt.date(2026, 11, 1): [500_000, 300_000, 200_000, 0, 0],
                 dt.date(2026, 12, 1): [980_500, 590_000, 390_500, 0, 0]}

    def __init__(self):
        self.sessions = 0

    def begin_session(self):
        self.sessions += 1

    def clock(self):
        return dt.datetime(2026, 12, 4, 21, 7, 9)   # a Friday

    def energy(self, direction, day=None):
        if day is None:
            return [1_020_001, 610_000, 410_001, 0, 0] if direction == 0 else [7, 7, 0, 0, 0]
        if direction != 0:
            return [0, 0, 0, 0, 0] if day <= self.today else None
        return self.midnights.get(day)

    def profile(self, direction, day, slot):
        if day != dt.date(2026, 12, 3) or slot > 42:
            return None
        return 1000 * slot + direction   # W

    def instant(self):
        return {"UA": 230.12, "UB": 229.8, "UC": 231.05, "IA": 1.234, "IB": 0.5, "IC": 0.75,
                "PA": 280.5, "PB": 110.0, "PC": 170.25, "PS": 560.75, "QA": 12.0, "QB": -3.5, "QC": 0.0,
                "QS": 8.5, "kPA": 0.9991, "kPB": 0.99, "kPC": 1.0, "kPS": 0.9988,
                "AngAB": 119.8, "AngBC": 120.1, "AngAC": 240.1, "Freq": 50.02}

    def journal(self, mnemonic):
        return ["3-12-26-10-15-1", "3-12-26-10-45-0"] if mnemonic == "PHASE" else []


@pytest.fixture
def ce303():
    meter = CE303()
    imitator = CEImitator([meter], reaction_ms=0)
    yield meter, imitator, imitator.start("tcp://127.0.0.1:0")
    imitator.stop()


def test_emulator_dialogue_bytes(ce303):
    _, _, url = ce303
    with _connect(url) as sock:
        assert _exchange(sock, b"/?141227285!\r\n", 15) == b"/EKT5CE303v11\r\n"
        # P0 of the emulator's address, check character 0x26 computed by hand above
        assert _exchange(sock, b"\x06051\r\n", 16) == b"\x01P0\x02(141227285)\x03\x26"
        assert _exchange(sock, command("P1", "(777777)", check_char), 1) == b"\x06"
        # SNUMB answer: 'SNUMB(009218054000006)' CR LF ETX, sum by hand:
        # S N U M B = 83+78+85+77+66 = 389; '(' ')' = 81; digits 0,0,9,2,1,8,0,5,4,0,0,0,0,0,6 =
        # 15 * 48 + 35 = 755; CR LF ETX = 26 -> 1251 = 9 * 128 + 99 -> 0x63
        assert _exchange(sock, codec.request("SNUMB"), 27) == b"\x02SNUMB(009218054000006)\r\n\x03\x63"


def test_client_reads_every_kind_of_command(ce303):
    meter, imitator, url = ce303
    with CEClient(url, address="141227285") as client:
        assert client.energy() == [1_020_001, 610_000, 410_001, 0, 0, 0]
        assert client.energy(2) == [7, 7, 0, 0, 0, 0]
        # ENDPE(3.12) = the registers at 00:00 of 4.12; EADPE(3.12) = 4.12 minus 3.12
        assert client.day_end(dt.date(2026, 12, 3)) == [1_012_345, 607_000, 405_345, 0, 0, 0]
        assert client.day_consumption(dt.date(2026, 12, 3)) == [12_345, 7_000, 5_345, 0, 0, 0]
        # ENMPE(11.26) = the registers at 1.12 00:00; EAMPE(11.26) = 1.12 minus 1.11
        assert client.month_end(2026, 11) == [980_500, 590_000, 390_500, 0, 0, 0]
        assert client.month_consumption(2026, 11) == [480_500, 290_000, 190_500, 0, 0, 0]
        # a day the meter does not hold: the empty answer
        assert client.day_end(dt.date(2026, 12, 5)) is None
        assert client.day_consumption(dt.date(2026, 12, 4)) is None
        assert client.profile_slot(dt.date(2026, 12, 3), 5) == 5000.0
        assert client.profile_slot(dt.date(2026, 12, 3), 5, direction=3) == 5003.0
        assert client.profile_slot(dt.date(2026, 12, 3), 43) is None
        values = client.instant()
        assert values == meter.instant()
        assert client.read_text("CORUU") == ["119.8", "120.1", "-240.1"]  # AngAC served negated
        assert client.read_text("POWEP") == ["0.56075"]                   # kW
        assert client.read_text("COS_f") == ["0.9988", "0.9991", "0.99", "1.0"]
        assert client.clock() == dt.datetime(2026, 12, 4, 21, 7, 9)
        assert client.info("DATE_") == "05.04.12.26"   # Friday = 5, Sunday = 0
        assert client.info("SNUMB") == "009218054000006"
        assert client.info("MODEL") == "226"
        assert client.info("TAVER") == "30"
        assert client.read_text("PHASE") == ["3-12-26-10-15-1", "3-12-26-10-45-0"]
        assert client.read_text("JCORT") == []
        with pytest.raises(CEError, match="E12") as caught:
            client.read("NOSUC")
        assert caught.value.code == 12
        with pytest.raises(CEError, match="E17"):
            client.read("ENDPE", "31.02.26")
        assert client.info("SNUMB") == "009218054000006"   # still serving
    assert meter.sessions == 1


def test_emulator_style_repeats_the_mnemonic():
    imitator = CEImitator([CE303()], repeat=True, reaction_ms=0)
    url = imitator.start("tcp://127.0.0.1:0")
    try:
        with _connect(url) as sock:
            _exchange(sock, b"/?!\r\n", 15)
            _exchange(sock, b"\x06051\r\n", 16)
            got = _exchange(sock, codec.request("VOLTA"), 47)
            assert got[:-1] == b"\x02VOLTA(230.12)\r\nVOLTA(229.8)\r\nVOLTA(231.05)\r\n\x03"
        with CEClient(url) as client:
            assert client.energy() == [1_020_001, 610_000, 410_001, 0, 0, 0]
    finally:
        imitator.stop()


def test_bad_input_gets_its_answer_and_the_imitator_keeps_serving(ce303):
    _, imitator, url = ce303
    with _connect(url) as sock:
        assert _exchange(sock, b"\x00\xffjunk!!" + b"/?141227285!\r\n", 15) == b"/EKT5CE303v11\r\n"
        _exchange(sock, b"\x06051\r\n", 16)
        good = codec.request("TAVER")
        bad = good[:-1] + bytes([good[-1] ^ 0x01])
        assert _exchange(sock, bad, 1) == bytes([NAK])
        assert _exchange(sock, b"\x13\x7fnoise" + codec.request("XYZZY"), 8) == b"\x02(E12)\x03\x7c"
        assert _exchange(sock, codec.request("GRAPE", "03.12.26.77"), 8) == codec.error(17)
        assert _exchange(sock, command("R1", "no parentheses", check_char), 8) == codec.error(12)
        wrong = _exchange(sock, command("P1", "(000000)", check_char), 1)
        assert wrong == bytes([NAK])
        assert _exchange(sock, good, 14)[:-1] == b"\x02TAVER(30)\r\n\x03"
        # a second client at the same time is served too
        with CEClient(url, address="141227285", timeout=3) as other:
            assert other.info("TAVER") == "30"
        assert imitator.naks >= 1


def test_another_address_gets_no_answer(ce303):
    _, _, url = ce303
    with _connect(url) as sock:
        assert _exchange(sock, b"/?999999999!\r\n", 1, timeout=0.5) == b""
    client = CEClient(url, address="999999999", timeout=0.5)
    try:
        with pytest.raises(CEError, match="no identification"):
            client.open()
    finally:
        client.close()


def test_a_client_that_never_reads_does_not_stop_the_others(ce303):
    _, _, url = ce303
    silent = _connect(url)
    try:
        silent.sendall(b"/?141227285!\r\n\x06051\r\n" + codec.request("ET0PE") * 200)
        with CEClient(url, timeout=3) as client:
            assert client.info("SNUMB") == "009218054000006"
    finally:
        silent.close()


# ---- the client against a hostile meter ------------------------------------------------------------
def _one_shot_server(behaviour) -> Tuple[str, threading.Thread, socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run():
        connection, _ = server.accept()
        with connection:
            behaviour(connection)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    host, port = server.getsockname()
    return f"socket://{host}:{port}", thread, server


def test_client_gives_up_on_a_meter_that_floods():
    def flood(connection):
        connection.recv(64)
        connection.sendall(b"/EKT5CE303v11\r\n")
        connection.recv(64)
        connection.sendall(b"\x01P0\x02(1)")      # never ends its P0 ...
        try:
            for _ in range(200):
                connection.sendall(b"x" * 1024)  # ... and floods
        except OSError:
            pass

    url, thread, server = _one_shot_server(flood)
    started = time.monotonic()
    with pytest.raises(CEError, match="more than"):
        CEClient(url, timeout=5).open()
    assert time.monotonic() - started < 5
    server.close()


def test_client_gives_up_on_a_meter_that_stalls():
    def stall(connection):
        connection.recv(64)
        connection.sendall(b"/EKT5CE303v11\r\n")
        time.sleep(5)

    url, thread, server = _one_shot_server(stall)
    started = time.monotonic()
    with pytest.raises(CEError, match="no P0 operand from the meter within 0.5 s"):
        CEClient(url, timeout=0.5).open()
    assert time.monotonic() - started < 3
    server.close()


def test_a_line_of_meters_answers_by_address():
    imitator = CEImitator([CE303(), CE102M_Meter()], reaction_ms=0)
    url = imitator.start("tcp://127.0.0.1:0")
    try:
        with CEClient(url, address="141628345") as client:
            assert client.identification == "EKT5CE102Mv01" and client.device_address == "141628345"
            assert client.energy() == [68_420, 45_540, 22_880, 0, 0, 0]
        with CEClient(url, address="141227285") as client:
            assert client.identification == "EKT5CE303v11" and client.device_address == "141227285"
            assert client.info("SNUMB") == "009218054000006"
        with CEClient(url) as client:   # no address: the line's first meter
            assert client.device_address == "141227285"
        # on one connection, after B0, the next sign-on selects the other meter
        with _connect(url) as sock:
            assert _exchange(sock, b"/?141227285!\r\n", 15) == b"/EKT5CE303v11\r\n"
            _exchange(sock, b"\x06051\r\n", 16)
            sock.sendall(command("B0", check=check_char))
            assert _exchange(sock, b"/?141628345!\r\n", 16) == b"/EKT5CE102Mv01\r\n"
    finally:
        imitator.stop()


def test_a_junk_stream_costs_little_and_bounded_memory(ce303):
    _, imitator, url = ce303
    junk = bytes(range(7, 256)) * 64   # no sign-on, no message end
    started = time.process_time()
    with _connect(url) as sock:
        for _ in range(50):
            sock.sendall(junk)
        assert _exchange(sock, b"/?141227285!\r\n", 15) == b"/EKT5CE303v11\r\n"
    assert time.process_time() - started < 5
    assert imitator.dropped > 0


def test_journal_records_are_told_apart_by_their_state_bits_and_pairs():
    """A group's records as the emulator writes them (``d-m-yy-h-m-state``): a state with one
    journal's bit (PHASE: power 6, phases A/B/C 0/1/2; JOVER: UA max 3, UA min 0) is that journal's
    Event 1; a state 0 is the Event 0 of the record it pairs with (an outage's on after it, a
    limit's "entered" before it); JCORT's trailing 1 is no state: ElJrnlTimeCorr's own Event."""
    from GenerateMeterData.protocols.energomera.codec import journal_events
    from GenerateMeterData.schema import contract

    off, on = dt.datetime(2026, 12, 3, 10, 15), dt.datetime(2026, 12, 3, 11, 20)
    phase = ["3-12-26-10-15-0", "3-12-26-10-15-0", "3-12-26-11-20-64", "3-12-26-11-20-2"]
    assert journal_events("PHASE", phase) == [("ElJrnlPwr", off, 0), ("ElJrnlPwrB", off, 0),
                                              ("ElJrnlPwr", on, 1), ("ElJrnlPwrB", on, 1)]
    jover = ["3-12-26-10-15-8", "3-12-26-10-20-1", "3-12-26-10-30-0", "3-12-26-10-40-0"]
    assert journal_events("JOVER", jover) == [
        ("ElJrnlLimUAMax", off, 1), ("ElJrnlLimUAMin", dt.datetime(2026, 12, 3, 10, 20), 1),
        ("ElJrnlLimUAMin", dt.datetime(2026, 12, 3, 10, 30), 0),
        ("ElJrnlLimUAMax", dt.datetime(2026, 12, 3, 10, 40), 0)]
    assert journal_events("PHASE", ["3-12-26-10-15-0"]) == []          # pairs with nothing: left out
    assert journal_events("JCORT", ["3/12/26/10/15/1"]) == [("ElJrnlTimeCorr", off, contract.TIME_CORRECTION_EVENT)]
