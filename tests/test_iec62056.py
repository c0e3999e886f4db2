"""IEC 62056-21: vectors, BCC, the client against the imitator on real sockets and a pty."""
from __future__ import annotations

import glob
import json
import os
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from GenerateMeterData.errors import ProtocolError
from GenerateMeterData.protocols.iec62056.client import IECClient, neva_tariff_map
from GenerateMeterData.imitation import IECImitator
from GenerateMeterData.protocols.iec62056.imitator import RegisterTable
from GenerateMeterData.protocols.iec62056.messages import (IECError, bcc, command, neva_address, neva_to_obis,
                                                           parse_data_sets, parse_identification, parse_message,
                                                           parse_readout)

DATA = os.path.join(os.path.dirname(__file__), "data", "iec62056-21")
NEVA = os.path.join(DATA, "neva_mt3xx")


def load(name):
    return json.load(open(os.path.join(DATA, name), encoding="utf-8"))


LINES = load("identification_lines.json")["lines"]


@pytest.mark.parametrize("entry", LINES, ids=[line["line"] for line in LINES])
def test_identification_lines(entry):
    if entry["parsed"] is None:
        with pytest.raises(IECError):
            parse_identification(entry["line"].encode("latin-1"))
        return
    ident = parse_identification(entry["line"].encode("latin-1") + b"\r\n")
    expected = entry["parsed"]
    assert ident.manufacturer == expected["manufacturer"]
    assert ident.baud_char == expected["baud_char"]
    assert ident.switchover_baud == expected["switchover_baud"]
    assert ident.enhanced_id_char == expected["enhanced_id_char"]
    assert ident.identification == expected["identification"]
    assert ident.reaction_time_ms == int(expected["reaction_time_hint"].split()[0])


def test_pwitab_bcc_vectors():
    for frame in load("pwitab/bcc_vectors.json")["frames"]:
        raw = bytes.fromhex(frame["hex"])
        assert bcc(raw[1:-1]) == int(frame["bcc"], 16)
        assert parse_message(raw).bcc_ok
        broken = raw[:-1] + bytes([raw[-1] ^ 0x01])
        assert not parse_message(broken).bcc_ok


def test_neva_session_frames_verify_and_build_identically():
    steps = load("neva_mt3xx/session_read_600104FF/session.json")["steps"]
    by_file = {step["file"]: bytes.fromhex(step["hex"]) for step in steps}
    assert command("P0", "(00000000)") == by_file["04_P0_operand.bin"]
    assert command("P1", "(00000000)") == by_file["05_P1_password.bin"]
    assert command("R1", "600104FF()") == by_file["07_R1_read_600104FF.bin"]
    assert command("B0") == by_file["09b_B0_break_standard_form.bin"]
    answer = parse_message(by_file["08_R1_answer.bin"])
    assert answer.bcc_ok and parse_data_sets(answer.data)[0].value == "000V0201"
    assert neva_address("60.01.04*FF") == "600104FF" and neva_to_obis("60.01.04*FF") == (96, 1, 4, 255)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(DATA, "amshan", "*.bin"))), ids=os.path.basename)
def test_p1_push_telegrams(path):
    expected = json.load(open(path[:-4] + ".expected.json", encoding="utf-8"))
    readout = parse_readout(open(path, "rb").read())
    assert readout.identification.manufacturer == expected["manufacturer"]
    assert readout.identification.identification == expected["identification"]
    assert readout.data_sets and all(d.values for d in readout.data_sets)


def smartmeter_dialogs():
    for path in sorted(glob.glob(os.path.join(DATA, "smartmeter_obis", "*.json"))):
        yield pytest.param(json.load(open(path, encoding="utf-8")), id=os.path.basename(path))


@pytest.mark.parametrize("dialog", list(smartmeter_dialogs()))
def test_smartmeter_obis_dialogs(dialog):
    meter_bytes = b"".join(bytes.fromhex(s["hex"]) for s in dialog["steps_in_source_order"] if s["dir"] == "meter")
    readout = parse_readout(meter_bytes)
    state = dialog.get("expected_protocol_state", {})
    if "deviceManufacturer" in state:
        assert readout.identification.manufacturer == state["deviceManufacturer"]
    assert readout.data_sets
    if dialog["source"].split("/")[-1].startswith("testSerialResponseD0FastSend"):
        # that source test asserts values of another telegram (copied expectations); its own two
        # push telegrams must parse, and the second one is the newer reading
        second = parse_readout(bytes.fromhex(dialog["steps_in_source_order"][1]["hex"]))
        assert second.get("1-0:1.8.1*255").value == "032942.0234"
        return
    for address, checks in dialog.get("expected_obis", {}).items():
        data_set = _find(readout, address)
        assert data_set is not None, address
        raw = ", ".join(f"{value}*{unit}" if unit else value for value, unit in data_set.values)
        assert raw == checks["rawValue"]
        if "values.length" in checks and "#" not in raw:  # smartmeter-obis splits '#' groups itself
            assert len(data_set.values) == checks["values.length"]
        expected = checks.get("values[0].value")
        if isinstance(expected, (int, float)):
            assert data_set.number() == pytest.approx(expected)
        if "values[0].unit" in checks:
            assert data_set.unit == checks["values[0].unit"]


def _find(readout, address):
    """A data set by the address smartmeter-obis reports (it adds its own A-B: medium prefix)."""
    bare = address.split(":", 1)[-1]
    for data_set in readout.data_sets:
        if data_set.address in (address, bare):
            return data_set
    wanted = _cdef(bare)
    for data_set in readout.data_sets:
        if _cdef(data_set.address.split(":", 1)[-1]) == wanted:
            return data_set
    return None


def _cdef(text):
    from GenerateMeterData.protocols.iec62056.messages import parse_obis
    code = parse_obis(text)
    if code is None:
        return None
    c, d, e, f = code[2:]
    return (c, d, e, 255 if f == 255 or "*" not in text else int(text.split("*")[1]))


def test_bad_bcc_readouts_are_detected():
    bad = [d for d in smartmeter_dialogs() if "SIE" in json.dumps(d.values[0]) or "LGZ" in json.dumps(d.values[0])]
    checked = 0
    for param in bad:
        meter_bytes = b"".join(bytes.fromhex(s["hex"]) for s in param.values[0]["steps_in_source_order"]
                               if s["dir"] == "meter")
        readout = parse_readout(meter_bytes)
        if readout.bcc_ok is not None:
            assert readout.bcc_ok is False
            with pytest.raises(IECError, match="BCC"):
                parse_readout(meter_bytes, require_bcc=True)
            checked += 1
    assert checked >= 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_protocol_errors(data):
    for parse in (parse_readout, parse_message, parse_identification):
        try:
            parse(data)
        except ProtocolError:
            pass


@pytest.fixture
def neva_imitator():
    imitator = IECImitator(RegisterTable.from_neva_fixture(os.path.join(NEVA, "imitator_fixture.json")),
                           manufacturer="TPC", identification="NEVAMT324.2303", password="00000000")
    host, port = imitator.start_tcp()
    yield imitator, host, port
    imitator.stop()


def exchange(sock, data, expect_len, timeout=3.0):
    sock.sendall(data)
    got, deadline = b"", time.monotonic() + timeout
    while len(got) < expect_len and time.monotonic() < deadline:
        try:
            got += sock.recv(4096)
        except socket.timeout:
            pass
    return got


def test_neva_session_replays_byte_for_byte(neva_imitator):
    _, host, port = neva_imitator
    steps = load("neva_mt3xx/session_read_600104FF/session.json")["steps"]
    step = {s["file"]: bytes.fromhex(s["hex"]) for s in steps}
    with socket.create_connection((host, port), timeout=0.2) as sock:
        assert exchange(sock, step["01_request.bin"], len(step["02_identification.bin"])) == step["02_identification.bin"]
        assert exchange(sock, step["03_ack_option_select.bin"], len(step["04_P0_operand.bin"])) == step["04_P0_operand.bin"]
        assert exchange(sock, step["05_P1_password.bin"], 1) == step["06_ack.bin"]
        assert exchange(sock, step["07_R1_read_600104FF.bin"], len(step["08_R1_answer.bin"])) == step["08_R1_answer.bin"]
        sock.sendall(step["09b_B0_break_standard_form.bin"])


def test_imitator_naks_a_bad_bcc_and_errors_on_unknown_registers(neva_imitator):
    _, host, port = neva_imitator
    with socket.create_connection((host, port), timeout=0.2) as sock:
        exchange(sock, b"/?!\r\n", 21)
        exchange(sock, b"\x06051\r\n", 16)
        assert exchange(sock, command("P1", "(12345678)"), 9) == bytes([2]) + b"(ERR05)" + bytes([3, bcc(b"(ERR05)\x03")])
        assert exchange(sock, command("P1", "(00000000)"), 1) == b"\x06"
        broken = command("R1", "600104FF()")[:-1] + b"\x00"
        assert exchange(sock, broken, 1) == b"\x15"
        answer = exchange(sock, command("R1", "77777777()"), 10)
        assert answer == bytes([2]) + b"(ERR02)" + bytes([3, bcc(b"(ERR02)\x03")])  # IEC 62056-21 error message
        answer = exchange(sock, command("R1", "600104FF()"), 21)  # still alive
        assert parse_data_sets(parse_message(answer).data)[0].value == "000V0201"


def test_imitator_repeats_a_readout_for_its_nak_only():
    """IEC 62056-21: a NAK that answers the data message gets it again; once other bytes follow
    (another meter's frame on a shared line, here one holding 0x15) the dialogue is over and a
    stray NAK draws nothing -- a late readout would land in the next client's answer."""
    imitator = IECImitator()
    host, port = imitator.start_tcp()
    try:
        with socket.create_connection((host, port), timeout=0.2) as sock:
            assert exchange(sock, b"/?!\r\n", 64, timeout=1.0).endswith(b"\r\n")   # the identification
            first = exchange(sock, b"\x06050\r\n", 1 << 20, timeout=1.5)
            assert first[:1] == b"\x02" and bcc(first[1:-1]) == first[-1]
            assert exchange(sock, b"\x15", len(first), timeout=3.0) == first
            assert exchange(sock, bytes.fromhex("aa 15 08 15 7e 15"), 1, timeout=1.0) == b""
            assert exchange(sock, b"\x15", 1, timeout=1.0) == b""
            assert exchange(sock, b"/?!\r\n", 1, timeout=3.0).startswith(b"/")   # idle again
    finally:
        imitator.stop()


def test_client_readout_and_programming_against_generated_meter():
    imitator = IECImitator()
    host, port = imitator.start_tcp()
    try:
        with IECClient(f"socket://{host}:{port}", baud_switch_delay=0) as client:
            readout = client.readout()
        assert readout.bcc_ok and readout.identification.manufacturer == "GMD"
        assert readout.get("1.8.0").unit == "kWh"
        total = readout.get("1.8.0").number()
        assert total == pytest.approx(sum(readout.get(f"1.8.{t}").number() for t in (1, 2, 3, 4)), abs=1e-6)
        with IECClient(f"socket://{host}:{port}", baud_switch_delay=0) as client:
            with client.programming("00000000") as session:
                assert session.read("60.01.00*FF").value.lstrip("0") == imitator.meter.serial
                session.write("60.01.0A*FF", "Bench 4")
                assert session.read("60.01.0A*FF").value == "Bench 4"
                with pytest.raises(IECError, match="ERR02"):
                    session.read("77.77.77*FF")
        with IECClient(f"socket://{host}:{port}", baud_switch_delay=0) as client:
            with pytest.raises(IECError, match="password refused"):
                client.programming("99999999")
    finally:
        imitator.stop()


def scripted_meter(script):
    """A fake meter on a loopback socket that runs ``script(connection)``; returns its URL."""
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run():
        conn, _ = server.accept()
        script(conn)
        time.sleep(0.3)
        conn.close()
        server.close()

    threading.Thread(target=run, daemon=True).start()
    return f"socket://127.0.0.1:{server.getsockname()[1]}"


def test_client_handles_echo_garbage_and_lf_only_lines():
    """A half-duplex head echoes our request; noise precedes '/'; the meter ends lines with LF."""
    def meter(conn):
        request = conn.recv(64)
        conn.sendall(request + b"\x00\xff#garbage/ABC5TEST\n")  # echo, noise, LF only
        ack = conn.recv(64)
        block = b"1.8.0(000123.456*kWh)\n0.0.0(42)\n!\n\x03"
        conn.sendall(ack + b"\x02" + block + bytes([bcc(block)]))

    with IECClient(scripted_meter(meter), baud_switch_delay=0) as client:
        readout = client.readout()
    assert readout.identification.identification == "TEST"
    assert readout.get("1.8.0").number() == 123.456 and readout.bcc_ok


def test_client_naks_a_bad_readout_bcc_and_gets_it_again():
    block = b"1.8.0(5*kWh)\r\n!\r\n\x03"
    naks = []

    def meter(conn):
        conn.recv(64)
        conn.sendall(b"/ABC5X\r\n")
        conn.recv(64)
        conn.sendall(b"\x02" + block + bytes([bcc(block) ^ 0x01]))  # corrupted
        naks.append(conn.recv(1))
        conn.sendall(b"\x02" + block + bytes([bcc(block)]))

    with IECClient(scripted_meter(meter), baud_switch_delay=0) as client:
        readout = client.readout()
    assert naks == [b"\x15"] and readout.get("1.8.0").number() == 5.0


def test_timeout_is_one_clear_error():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    with IECClient(f"socket://127.0.0.1:{port}", timeout=0.5) as client:
        with pytest.raises(IECError, match="no identification from the meter within 0.5 s"):
            client.sign_on()
    server.close()


def test_imitator_on_a_pty():
    imitator = IECImitator()
    path = imitator.start_pty()
    try:
        with IECClient(path, baud_switch_delay=0, initial_baud=9600) as client:
            readout = client.readout()
        assert readout.bcc_ok and readout.get("1.8.0") is not None
    finally:
        imitator.stop()


def test_neva_tariff_map_from_switch_table():
    tariffs = neva_tariff_map("070001,230002,000000,000000,000000,000000,000000,000000")
    assert tariffs[:14] == [2] * 14 and tariffs[14] == 1 and tariffs[45] == 1 and tariffs[46:] == [2, 2]
    assert neva_tariff_map("") == [1] * 48


@pytest.mark.parametrize("mode", ["A", "B"])
def test_readout_modes_a_and_b(mode):
    imitator = IECImitator(mode=mode)
    host, port = imitator.start_tcp()
    try:
        with IECClient(f"socket://{host}:{port}", baud_switch_delay=0) as client:
            readout = client.readout()
        assert readout.identification.mode == mode and readout.bcc_ok
        assert readout.get("1.8.0") is not None
    finally:
        imitator.stop()


def test_mode_d_listening():
    imitator = IECImitator(mode="D")
    host, port = imitator.start_tcp()
    try:
        with IECClient(f"socket://{host}:{port}") as client:
            readout = client.listen()
        assert readout.identification.manufacturer == "GMD" and readout.get("1.8.0").unit == "kWh"
    finally:
        imitator.stop()


class FdPort:
    """The master side of a pty as a minimal serial port for the client."""

    def __init__(self, fd):
        self.fd, self.name, self.baudrate = fd, "pty-master", 9600

    @property
    def in_waiting(self):
        import select
        return 1 if select.select([self.fd], [], [], 0.05)[0] else 0

    def read(self, n):
        return os.read(self.fd, 4096) if self.in_waiting else b""

    def write(self, data):
        os.write(self.fd, data)

    def flush(self):
        pass

    def close(self):
        os.close(self.fd)


def test_imitator_on_a_serial_port():
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)
    imitator = IECImitator()
    imitator.start_serial(os.ttyname(slave))
    try:
        with IECClient(port=FdPort(master), baud_switch_delay=0) as client:
            readout = client.readout()
        assert readout.bcc_ok and readout.get("1.8.0") is not None
    finally:
        imitator.stop()


@pytest.mark.parametrize("manufacturer,reaction_ms,expected_s", [("GMD", None, 0.2), ("GMd", None, 0.02),
                                                                 ("GMD", 1500, 1.5)])
def test_client_reads_meters_across_the_allowed_reaction_times(manufacturer, reaction_ms, expected_s):
    """IEC 62056-21: the meter answers 200-1500 ms after a message, or from 20 ms when the third
    letter of its manufacturer code is lower case.  Our client reads both ends of the range, and
    switches the pty to the announced 9600 baud right after its acknowledgement."""
    imitator = IECImitator(manufacturer=manufacturer, reaction_ms=reaction_ms)
    assert imitator.reaction_time == expected_s
    path = imitator.start_pty()
    try:
        with IECClient(path, initial_baud=300) as client:
            readout = client.readout()
            assert client.port.baudrate == 9600
        assert readout.bcc_ok and readout.identification.manufacturer == manufacturer
        assert readout.identification.reaction_time_ms == (20 if manufacturer[2].islower() else 200)
        with IECClient(path, initial_baud=300) as client:
            with client.programming("00000000") as session:
                assert session.read("60.01.00*FF").value.lstrip("0") == imitator.meter.serial
    finally:
        imitator.stop()


def test_negative_reaction_time_is_refused():
    with pytest.raises(IECError, match="reaction time"):
        IECImitator(reaction_ms=-1)


def test_mode_d_pushes_again_and_again():
    """A push meter keeps pushing: a listener that connects (and, like pyserial's socket://, empties
    its input on opening) after one push still gets the next whole readout."""
    imitator = IECImitator(mode="D")
    imitator.push_interval = 0.2
    host, port = imitator.start_tcp()
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            received = b""
            while received.count(b"!\r\n") < 2:
                chunk = sock.recv(4096)
                assert chunk, "the imitator closed the connection"
                received += chunk
        pushes = [p for p in received.split(b"!\r\n") if p.strip()]
        assert len(pushes) >= 2
        assert all(parse_readout(p + b"!\r\n").get("1.8.0") is not None for p in pushes[:2])
    finally:
        imitator.stop()


# ---- issue 22 item 5: the CRC after "!" of a mode D / DSMR P1 push telegram ------------------------
@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(DATA, "amshan", "*.bin"))), ids=os.path.basename)
def test_p1_telegram_crc_holds_on_the_published_telegrams(path):
    """The shared vectors' README: 'The P1 CRC-16 values (CRC-16/ARC over "/" through "!") all
    verify'; a telegram without one (p1_b) is not judged; one changed digit is caught."""
    expected = json.load(open(path[:-4] + ".expected.json", encoding="utf-8"))
    data = open(path, "rb").read()
    carries = bool(expected.get("crc16_in_telegram"))
    assert parse_readout(data).crc_ok is (True if carries else None)
    if carries:
        assert parse_readout(_one_digit_changed(data)).crc_ok is False


def _one_digit_changed(data: bytes) -> bytes:
    """The telegram with its last value's first digit changed (still a well-formed telegram)."""
    at = data.rfind(b"(") + 1
    while not data[at:at + 1].isdigit():
        at += 1
    return data[:at] + (b"1" if data[at:at + 1] != b"1" else b"2") + data[at + 1:]


def test_crc16_arc_check_value():
    from GenerateMeterData.protocols.crc import ARC_INIT, crc16_a001
    assert crc16_a001(b"123456789", ARC_INIT) == 0xBB3D   # the CRC catalogue's check value


def test_a_telegram_without_crc_is_not_judged():
    assert parse_readout(b"/ABC5 meter\r\n\r\n1.8.0(000123.456*kWh)\r\n!\r\n").crc_ok is None


class _Port:
    """A port that hands out pre-recorded bytes (the push stream of a P1 meter)."""
    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.name = "p1"

    @property
    def in_waiting(self) -> int:
        return len(self.data)

    def read(self, size: int) -> bytes:
        chunk = bytes(self.data[:size])
        del self.data[:size]
        return chunk

    def close(self) -> None:
        pass


def test_listen_drops_and_counts_a_telegram_with_a_wrong_crc():
    from GenerateMeterData.protocols.iec62056.client import IECClient
    good = open(os.path.join(DATA, "amshan", "p1_c.bin"), "rb").read()
    bad = _one_digit_changed(good)
    client = IECClient(port=_Port(bad + good), timeout=0.5)
    readout = client.listen()
    assert readout.crc_ok is True and client.crc_errors == 1
    assert readout.data_sets == parse_readout(good).data_sets


def test_listen_gives_up_after_wrong_crcs_in_a_row():
    from GenerateMeterData.protocols.iec62056.client import IECClient
    bad = _one_digit_changed(open(os.path.join(DATA, "amshan", "p1_c.bin"), "rb").read())
    client = IECClient(port=_Port(bad * 4), timeout=0.5, retries=2)
    with pytest.raises(IECError, match="wrong CRC"):
        client.listen()
    assert client.crc_errors == 3


def test_an_energy_override_read_by_its_neva_address_is_a_bare_kwh_number():
    """-o 1.8.0:1234.5*kWh read in programming mode as Neva's 01.08.00*FF: 1234.500 (kWh, no unit),
    as Neva registers hold energy; the decimal address keeps the value as given."""
    imitator = IECImitator(overrides={"1.8.0": "1234.5*kWh", "2.8.0": "7"})
    assert imitator.lookup("01.08.00*FF") == "1234.500"
    assert imitator.lookup("02.08.00*FF") == "7.000"
    assert imitator.lookup("1.8.0") == "1234.5*kWh"
