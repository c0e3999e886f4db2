"""DLMS sessions against the imitator on real sockets and a pty: HDLC connection procedures
(SNRM/UA negotiation, segmentation, windows, retransmission through a lossy proxy, DISC), the
wrapper, association as client 16 and 32, every GET service the client uses, capture into
meter.db that passes verify, push mode, and the imitate/capture commands."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from GenerateMeterData import LocalTarget, verify
from GenerateMeterData.protocols.dlms.acse import AARQ, decode_apdu
from GenerateMeterData.imitation.dlms_capture import (Backoff, capture_push, follow_pushes, push_reading,
                                                      spodes_reading)
from GenerateMeterData.protocols.dlms.client import SpodesClient
from GenerateMeterData.protocols.dlms.errors import DLMSAccessError, DLMSAssociationError, DLMSError
from GenerateMeterData.protocols.dlms.hdlc import (LLC_REQUEST, SNRM, Address, Frame, FrameReader, control_i,
                                                   control_u, encode_parameters, parse_parameters)
from GenerateMeterData.imitation import DLMSImitator
from GenerateMeterData.protocols.dlms.link import HdlcClientLink, SocketStream
from GenerateMeterData.protocols.dlms.push import decode_notification
from GenerateMeterData.protocols.dlms.spodes import server_address_from_serial
from GenerateMeterData.protocols.dlms.xdlms import GetRequestNormal, InitiateRequest
from helpers import rows
from linkdrop import LinkProxy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def meter():
    imitator = DLMSImitator()
    host, port = imitator.start_tcp()
    yield imitator, f"socket://{host}:{port}"
    imitator.stop()


def _raw_link(url, imitator, **kwargs):
    host, port = url[len("socket://"):].rsplit(":", 1)
    stream = SocketStream(socket.create_connection((host, int(port)), timeout=5))
    return HdlcClientLink(stream, server=imitator.address, **kwargs), stream


def test_server_address_comes_from_the_serial(meter):
    imitator, _ = meter
    serial = imitator.meter.serial
    # last four digits + 1000, by hand
    assert server_address_from_serial(serial) == int(serial[-4:]) + 1000
    assert imitator.address == Address(1, int(serial[-4:]) + 1000, 4)


def test_a_client_used_before_open_says_so():
    # found by mypy: the link is None until open(); a GET then was an AttributeError on None
    client = SpodesClient("tcp://127.0.0.1:9")  # never connected: nothing is sent
    with pytest.raises(DLMSError, match="not connected") as error:
        client.get(8, "0.0.1.0.0.255")
    assert error.value.category == "session"
    client.close()  # closing what was never opened stays a no-op


def test_snrm_negotiates_and_disc_ends(meter):
    imitator, url = meter
    link, stream = _raw_link(url, imitator, max_info=200, window=3)
    try:
        parameters = link.connect()
        # the server sends what we can receive and takes what we send, within its own limits
        assert parameters == {"max_info_transmit": 200, "max_info_receive": 200, "window_transmit": 3,
                              "window_receive": 1}
        link.disconnect()
        # after DISC an I-frame gets DM
        stream.write(Frame(imitator.address, Address(16), control_i(0, 0), LLC_REQUEST + b"\x62\x00").encode())
        frames = []
        reader = FrameReader()
        deadline = time.monotonic() + 5
        while not frames and time.monotonic() < deadline:
            frames = reader.feed(stream.read(0.5))
        assert [f.kind for f in frames] == ["DM"]
    finally:
        stream.close()


def test_snrm_without_parameters_gets_the_defaults(meter):
    imitator, url = meter
    host, port = url[len("socket://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(Frame(imitator.address, Address(16), control_u(SNRM)).encode())
        reader, frames = FrameReader(), []
        while not frames:
            frames = reader.feed(sock.recv(4096))
    assert frames[0].kind == "UA"
    assert parse_parameters(frames[0].information) == {"max_info_transmit": 128, "max_info_receive": 128,
                                                       "window_transmit": 1, "window_receive": 1}


def test_frames_for_another_meter_on_the_bus_are_ignored(meter):
    imitator, url = meter
    host, port = url[len("socket://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=1) as sock:
        other = Address(1, imitator.address.physical + 1, 4)
        sock.sendall(Frame(other, Address(16), control_u(SNRM)).encode())
        with pytest.raises(socket.timeout):
            sock.recv(4096)


@pytest.mark.parametrize("client, password", [(16, None), (32, b"12345678")])
def test_client_reads_clock_registers_and_profiles(meter, client, password):
    imitator, url = meter
    with SpodesClient(url, client=client, password=password, serial=imitator.meter.serial) as session:
        clock = session.clock()
        assert abs(clock.timestamp() - time.time()) < 5 and clock.utcoffset() == dt.timedelta(hours=3)
        assert session.text("0.0.96.1.0.255") == imitator.meter.serial
        before = imitator.meter.registers()[0][1]
        value, unit = session.register("1.0.1.8.1.255")
        after = imitator.meter.registers()[0][1]
        assert unit == "Wh" and before <= value <= after
        voltage, unit = session.register("1.0.32.7.0.255")
        assert unit == "V" and 150 < voltage < 300
        now = session.clock()
        columns, rows_ = session.profile("1.0.99.1.0.255", now - dt.timedelta(days=1), now)
        assert columns == [(8, "0-0:1.0.0.255", 2), (3, "1-0:1.29.0.255", 2)]
        assert 47 <= len(rows_) <= 49
        stamps = [r[0] for r in rows_]
        assert all(b - a == dt.timedelta(minutes=30) for a, b in zip(stamps, stamps[1:]))
        # energy of a slot = average power x 0.5 h, against the generated meter's own profile
        yesterday = imitator.meter.profile(1)
        midnight = dt.datetime.combine(now.date() - dt.timedelta(days=1), dt.time(), now.tzinfo)
        by_stamp = {r[0]: r[1] for r in rows_}
        for slot, power in enumerate(yesterday):
            end = midnight + dt.timedelta(minutes=30 * (slot + 1))
            if end in by_stamp:
                assert by_stamp[end] == power / 2
        _, days = session.profile("1.0.98.2.0.255", now - dt.timedelta(days=3), now)
        assert len(days) == 3 and all(d[0].hour == 0 for d in days)
        assert days[-1][1] == sum(days[-1][2:6])       # A+ total = sum of T1..T4
        _, months = session.profile("1.0.98.1.0.255")
        assert months and all(m[0].day == 1 for m in months)
        _, events = session.profile("0.0.99.98.2.255")
        assert events == []


def test_wrong_password_and_hls_are_refused(meter):
    imitator, url = meter
    with pytest.raises(DLMSAssociationError, match="authentication-failure") as caught:
        SpodesClient(url, client=32, password=b"wrong", serial=imitator.meter.serial).open()
    assert caught.value.category == "association"
    link, stream = _raw_link(url, imitator)
    try:
        link.connect()
        answer = decode_apdu(link.request(AARQ(InitiateRequest(), mechanism=5, password=b"K56iVagY").encode()))
        assert answer.result == 1 and answer.diagnostic == 11     # mechanism not recognised
        answer = decode_apdu(link.request(GetRequestNormal(
            __import__("GenerateMeterData.protocols.dlms.xdlms", fromlist=["x"]).AttributeDescriptor(
                8, bytes((0, 0, 1, 0, 0, 255)), 2)).encode()))
        assert answer.as_dict()["type"] == "exception-response"   # no association, no data
    finally:
        stream.close()


def test_unknown_object_and_overrides():
    imitator = DLMSImitator(overrides={"1-0:1.8.0.255": "123456", "1.0.32.7.0.255": "231.5"})
    host, port = imitator.start_tcp()
    try:
        with SpodesClient(f"socket://{host}:{port}", serial=imitator.meter.serial) as session:
            assert session.register("1.0.1.8.0.255") == (123456, "Wh")
            assert session.register("1.0.32.7.0.255") == (231.5, "V")
            with pytest.raises(DLMSAccessError, match="object-undefined") as caught:
                session.register("1.0.99.8.0.255")
            assert caught.value.category == "access"
    finally:
        imitator.stop()


def test_long_answers_are_segmented_in_windows_and_block_transferred(meter):
    imitator, url = meter
    # small frames and a window of 2: a day of profile takes several windows of segments
    with SpodesClient(url, serial=imitator.meter.serial, max_info=64, window=2, max_pdu=300) as session:
        now = session.clock()
        before = session.round_trips
        _, rows_ = session.profile("1.0.99.1.0.255", now - dt.timedelta(days=1), now, scalers=False)
        assert len(rows_) >= 47
        assert session.round_trips - before > 10      # many windows and blocks
    # a client that takes 16-byte frames: its AARQ (70 bytes with the password) goes in segments,
    # each acknowledged by RR before the next
    with SpodesClient(url, client=32, serial=imitator.meter.serial, max_info=16, window=1) as session:
        assert session.link.parameters == {"max_info_transmit": 16, "max_info_receive": 16, "window_transmit": 1,
                                           "window_receive": 1}
        assert session.round_trips >= 6            # SNRM + 4 AARQ segments + the AARE
        assert session.text("0.0.96.1.0.255") == imitator.meter.serial


def dropping_frames(drop):
    """A LinkProxy filter for server->client data that drops chosen frames (1-based numbers)."""
    reader = FrameReader()
    count = 0

    def keep(data):
        nonlocal count
        out = b""
        for frame in reader.feed(data):
            count += 1
            if count not in drop:
                out += frame.encode()
        return out
    return keep


def test_lost_frames_are_retransmitted_after_the_timeout():
    imitator = DLMSImitator()
    host, port = imitator.start_tcp()
    try:
        # the 3rd server frame (first GET answer) and the 6th are lost
        with LinkProxy((host, port), to_client=dropping_frames({3, 6})) as proxy, \
                SpodesClient(proxy.url, serial=imitator.meter.serial, timeout=0.5, max_info=64,
                             window=2) as session:
            assert session.text("0.0.96.1.0.255") == imitator.meter.serial
            now = session.clock()
            _, rows_ = session.profile("1.0.99.1.0.255", now - dt.timedelta(hours=6), now)
            assert len(rows_) >= 11
            assert session.link.retransmissions >= 2
    finally:
        imitator.stop()


def test_wrapper_transport():
    imitator = DLMSImitator(wrapper=True)
    host, port = imitator.start_tcp()
    try:
        with SpodesClient(f"tcp://{host}:{port}", wrapper=True, client=32) as session:
            assert session.text("0.0.96.1.0.255") == imitator.meter.serial
            now = session.clock()
            _, rows_ = session.profile("1.0.99.1.0.255", now - dt.timedelta(hours=3), now)
            assert 5 <= len(rows_) <= 7
    finally:
        imitator.stop()


def test_hdlc_over_a_pty():
    imitator = DLMSImitator()
    path = imitator.start_pty()
    try:
        with SpodesClient(path, client=32, serial=imitator.meter.serial) as session:
            assert session.text("0.0.96.1.0.255") == imitator.meter.serial
            assert session.register("1.0.14.7.0.255")[1] == "Hz"
    finally:
        imitator.stop()


def test_capture_from_the_imitator_passes_verify(db_path):
    # the meter's clock stands still (2026-03-14 13:17:42 Moscow), so the session cannot cross a
    # local midnight between reading the archives and the checks below, whatever time it runs
    from GenerateMeterData.imitation.meter import GeneratedMeter

    now = int(dt.datetime(2026, 3, 14, 10, 17, 42, tzinfo=dt.timezone.utc).timestamp())
    imitator = DLMSImitator(GeneratedMeter(clock=lambda: now))  # the default type, as the fixture
    host, port = imitator.start_tcp()
    try:
        _capture_and_check(imitator, f"socket://{host}:{port}", db_path)
    finally:
        imitator.stop()


def _capture_and_check(imitator, url, db_path):
    with SpodesClient(url, client=32, serial=imitator.meter.serial) as session:
        reading = spodes_reading(session, days=2, months=2)
    from GenerateMeterData.imitation.capture import capture_rows
    summary = capture_rows(reading, LocalTarget(db_path))
    # two past days and today so far (issue 19): 13:17:42 on the meter's clock, 26 slots complete
    assert summary.rows["ElectricPowerValues"] == 96 + 26
    assert rows(db_path, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                         "WHERE a.Name = 'ElMonthEnergy'")[0][0] == 2
    assert rows(db_path, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                         "WHERE a.Name = 'ElDayEnergy'")[0][0] == 3
    month_start = imitator.meter.local_now().date().replace(day=1)
    from GenerateMeterData.model import timegrid
    expected = imitator.meter.registers(timegrid.local_midnight(month_start, imitator.meter.tz))[0]
    assert reading.month_registers[-1][1] == [float(v) for v in expected]
    assert reading.energy["A+0"] == sum(reading.energy[f"A+{t}"] for t in range(1, 5))
    stored = [r[0] for r in rows(db_path, "SELECT p.Pp FROM ElectricPowerValues p JOIN MeterData m ON m.Id = p.Id "
                                          "ORDER BY m.Timestamp")]
    assert stored == [float(v) for v in imitator.meter.profile(2) + imitator.meter.profile(1)
                      + imitator.meter.profile(0)[:26]]
    assert rows(db_path, "SELECT Serial FROM ElectricConfig")[0][0] == imitator.meter.serial
    assert verify(db_path) == []


def test_push_mode_and_follow_with_reconnection(db_path):
    first = DLMSImitator(push="kamstrup", push_interval=0.3)
    host, port = first.start_tcp()
    got = []
    pauses = []

    def handle(notification):
        got.append(notification)
        if len(got) == 2:
            first.stop()          # the link drops; a second imitator takes the port

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 1:
            second.start_tcp(host, port)
        time.sleep(0.05)

    second = DLMSImitator(first.meter, push="aidon", push_interval=0.3)
    try:
        count = follow_pushes(f"socket://{host}:{port}", handle, count=4, sleep=sleep)
    finally:
        second.stop()
    assert count == 4 and pauses and pauses[0] == 1.0
    readings = [decode_notification(n) for n in got]
    assert [r.manufacturer for r in readings] == ["Kamstrup", "Kamstrup", "Aidon", "Aidon"]
    assert all(push_reading(r).serial == first.meter.serial for r in readings)
    capture_push(got[-1], LocalTarget(db_path))
    assert rows(db_path, "SELECT count(*) FROM ElectricEnergyValues")[0][0] >= 1
    assert verify(db_path) == []


def test_backoff_doubles_to_a_minute_and_resets_after_a_long_connection():
    backoff = Backoff()
    assert [backoff.after(0.1) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.after(120) == 1


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, capture_output=True,
                          timeout=120, **kwargs)


def test_cli_imitate_and_capture(db_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "dlms", "--listen",
                                f"127.0.0.1:{port}", "--seconds", "60", "-o", "1.0.1.8.0.255:999999"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "imitating a DLMS meter" in line, process.stderr.read()
        serial = line.rsplit("serial ", 1)[1].rstrip(")\n")
        url = f"socket://127.0.0.1:{port}"
        dry = _cli("capture", "dlms", "--port", url, "--serial", serial, "--client", "32", "--days", "1",
                   "--db", db_path, "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        document = json.loads(dry.stdout)
        assert document["dry_run"] is True and document["token"] is None and document["serial"] == serial
        # one past day and today's completed half hours (the imitator runs on the wall clock)
        assert 48 <= document["rows"]["ElectricPowerValues"] < 96 and document["rows"]["MeterTable"] == 1
        assert not os.path.exists(db_path) or rows(db_path, "SELECT count(*) FROM MeterTable")[0][0] == 0
        done = _cli("capture", "dlms", "--port", url, "--serial", serial, "--client", "32",
                    "--days", "1", "--db", db_path)
        assert done.returncode == 0, done.stderr
        text = done.stdout.decode()
        assert re.search(r"ElectricPowerValues (4[89]|[5-9]\d)\b", text), text
        token = rows(db_path, "SELECT Token FROM GenerateMeterDataLedger")[0][0]
        meter_id = rows(db_path, "SELECT MeterId FROM MeterTable")[0][0]
        assert f"load   : {token}" in text and f"meters : MeterId {meter_id} (new)" in text
        assert rows(db_path, "SELECT Ap FROM ElectricEnergyValues WHERE Tariff = 0")[0][0] == 999999
        again = _cli("capture", "dlms", "--port", url, "--serial", serial, "--client", "32", "--db", db_path)
        assert f"meter  : MeterId {meter_id} (known by its serial" in again.stdout.decode(), again.stderr
    finally:
        process.terminate()
        process.wait(10)
    done = _cli("capture", "dlms", "--port", f"socket://127.0.0.1:{port}", "--serial", serial, "--db", db_path)
    assert done.returncode != 0 and b"error" in done.stderr.lower()
    follow = _cli("capture", "dlms", "--port", f"socket://127.0.0.1:{port}", "--follow", "--dry-run", "--db", db_path)
    assert follow.returncode == 2 and b"--follow has no --dry-run or --json" in follow.stderr
    assert len(follow.stderr.strip().splitlines()) == 1


# ---- the imitator's side fuzzed: whatever a client sends, the server answers or ignores it ----
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from GenerateMeterData.protocols.dlms.imitator import Association  # noqa: E402
from GenerateMeterData.protocols.dlms.link import HdlcServerLink  # noqa: E402

_FUZZ_METER = DLMSImitator()
_REQUESTS = [bytes.fromhex(h) for h in (
    "601da109060760857405080101be10040e01000000065f1f0400007e1f04b0",            # AARQ
    "c001c100070100630100ff0201010204020412000809060000010000ff0f02120000090c07e2"
    "0601ff000300ff090c07e2020cff00000000",                                     # GET profile by range (cut)
    "c001c100070100630100ff020201020406000000010600000002120001120000",          # GET by entry
    "c003c102000100002a0000ff020000080000010000ff0200", "c002c100000001", "6203800100",
    "c101c100080000010000ff0200090c07e50118ff0e303950ffc400", "c301c0000f0000280000ff0100")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(_REQUESTS), edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)),
                                                      max_size=4))
def test_fuzz_the_imitators_application_layer(seed, edits):
    association = Association(_FUZZ_METER.objects, {32: b"12345678"})
    association.handle(_REQUESTS[0], 16)                       # associated
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    answer = association.handle(bytes(data), 16)
    assert answer is None or decode_apdu(answer) is not None


@settings(max_examples=300, deadline=None)
@given(kinds=st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40), st.booleans()), max_size=8))
def test_fuzz_the_imitators_link_layer(kinds):
    association = Association(_FUZZ_METER.objects, {})
    link = HdlcServerLink(_FUZZ_METER.address, association.handle)
    link.handle(Frame(_FUZZ_METER.address, Address(16), control_u(SNRM), encode_parameters({"window_receive": 3})))
    for control, information, segmented in kinds:
        for raw in link.handle(Frame(_FUZZ_METER.address, Address(16), control, information, segmented)):
            assert raw[0] == 0x7E and raw[-1] == 0x7E


def test_cli_push_imitator_and_capture_follow(db_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "dlms", "--listen",
                                f"127.0.0.1:{port}", "--seconds", "60", "--push", "kaifa", "--push-interval", "1.1"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "pushing kaifa lists" in line, process.stderr.read()
        done = _cli("capture", "dlms", "--port", f"socket://127.0.0.1:{port}", "--follow", "--count", "2",
                    "--db", db_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode().count("captured push of meter") >= 1
    finally:
        process.terminate()
        process.wait(10)
    assert rows(db_path, "SELECT count(*) FROM ElectricConfig")[0][0] == 1
    assert verify(db_path) == []
