"""Capture mode end to end: imitators on real sockets -> readers -> meter.db -> verify; the M-Bus
master against the slave imitator; the decode/imitate/capture commands."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from GenerateMeterData import LocalTarget, verify
from GenerateMeterData.model import timegrid
from GenerateMeterData.imitation.capture import capture_rows, neva_reading, reading_from_data_sets
from GenerateMeterData.protocols.iec62056.client import IECClient
from GenerateMeterData.imitation import IECImitator
from GenerateMeterData.protocols.mbus.client import MBusClient
from GenerateMeterData.protocols.mbus.frames import parse_hex
from GenerateMeterData.protocols.mbus.records import decode_telegram
from GenerateMeterData.imitation import MBusSlave
from helpers import rows
from linkdrop import LinkProxy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MSK = timegrid.zone("Europe/Moscow")


@pytest.fixture
def iec_meter():
    imitator = IECImitator()
    host, port = imitator.start_tcp()
    yield imitator, f"socket://{host}:{port}"
    imitator.stop()


def test_iec_readout_capture_writes_rows_that_verify(iec_meter, db_path):
    imitator, url = iec_meter
    with IECClient(url, baud_switch_delay=0) as client:
        readout = client.readout()
    reading = reading_from_data_sets(readout.data_sets, readout.identification.manufacturer,
                                     readout.identification.identification)
    summary = capture_rows(reading, LocalTarget(db_path))
    assert summary.rows == {"MeterTable": 1, "ElectricConfig": 1, "MeterData": 2, "ElectricEnergyValues": 5,
                            "ElectricQualityValues": 4}
    serial, model = rows(db_path, "SELECT Serial, Model FROM ElectricConfig")[0]
    # the model as the meter names it (96.1.1), the same string the DLMS imitator of the meter gives
    assert serial == imitator.meter.serial and model == imitator.meter.model
    registers = imitator.meter.registers()  # a moment later: the meter has counted on a little
    a_plus = [value for _, value in rows(db_path, "SELECT Tariff, Ap FROM ElectricEnergyValues ORDER BY Tariff")]
    assert a_plus == pytest.approx([float(v) for v in registers[0]], abs=2000)  # kWh read, Wh stored
    assert a_plus[0] == sum(a_plus[1:]) and a_plus[0] == int(a_plus[0])
    assert verify(db_path) == []


def test_neva_capture_with_profile_then_again_adds_to_the_same_meter(iec_meter, db_path):
    imitator, url = iec_meter
    with IECClient(url, baud_switch_delay=0, initial_baud=9600) as client:
        with client.programming("00000000") as session:
            reading = neva_reading(session, MSK, days=2)
    capture_rows(reading, LocalTarget(db_path))
    # two past days and today's half hours completed by the meter's clock (issue 19)
    today = dt.datetime.fromtimestamp(reading.timestamp, MSK).replace(hour=0, minute=0, second=0)
    completed_today = (reading.timestamp - int(today.timestamp())) // 1800
    assert rows(db_path, "SELECT count(*) FROM ElectricPowerValues")[0][0] == 96 + completed_today
    assert rows(db_path, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                         "WHERE a.Name = 'ElDayEnergy'")[0][0] == 3
    profile = imitator.meter.profile(1)
    stored = [r[0] for r in rows(db_path, "SELECT p.Pp FROM ElectricPowerValues p JOIN MeterData m ON m.Id = p.Id "
                                          "ORDER BY m.Timestamp")][:48]
    assert stored == [float(v) for v in imitator.meter.profile(2)]
    assert profile and verify(db_path) == []
    time.sleep(1.1)
    with IECClient(url, baud_switch_delay=0, initial_baud=9600) as client:
        with client.programming("00000000") as session:
            capture_rows(neva_reading(session, MSK, days=0), LocalTarget(db_path))
    assert rows(db_path, "SELECT count(*) FROM MeterTable")[0][0] == 1
    assert rows(db_path, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                         "WHERE a.Name = 'ElMomentEnergy'")[0][0] == 2
    assert verify(db_path) == []


def test_mbus_master_and_slave():
    slave = MBusSlave(primary_address=5)
    host, port = slave.start_tcp()
    try:
        with MBusClient(f"socket://{host}:{port}", timeout=0.15) as client:  # loopback answers in ms
            assert client.ping(5) and not client.ping(7)
            telegrams = client.read_all(5)
            assert len(telegrams) == 2 and telegrams[0].more_records_follow
            energy = {(r.tariff, r.subunit): r.value for r in telegrams[0].records if r.quantity == "Energy"}
            assert energy[(0, 0)] == pytest.approx(float(slave.meter.registers()[0][0]), abs=2000)
            assert energy[(0, 0)] == sum(energy[(t, 0)] for t in (1, 2, 3, 4))
            assert {r.quantity for r in telegrams[1].records} >= {"Voltage", "Current", "Power", "Fabrication No"}
            address = slave.secondary_address
            assert client.select(address[:6] + "F" * 10)
            assert client.request(253).header["id"] == address[:8]
            assert not client.select("99999999FFFFFFFF")
            requests = client.requests
            assert client.scan_secondary(address[:6]) == [address]
            assert client.requests - requests < 300
            assert client.scan_primary(range(3, 8)) == [5]
    finally:
        slave.stop()


def test_slave_repeats_on_same_fcb_and_advances_on_toggle():
    from GenerateMeterData.protocols.mbus.frames import Frame, REQ_UD2, FCB, FCV
    slave = MBusSlave(primary_address=1)
    first = slave.handle(Frame("short", REQ_UD2 | FCV | FCB, 1))
    assert slave.handle(Frame("short", REQ_UD2 | FCV | FCB, 1)) == first       # lost answer: repeated
    second = slave.handle(Frame("short", REQ_UD2 | FCV, 1))
    assert decode_telegram(second).records != decode_telegram(first).records   # next telegram


def test_mbus_capture_and_recorded_frames(tmp_path):
    corpus = os.path.join(REPO, "tests", "data", "mbus", "libmbus", "test-frames", "electricity-meter-1.hex")
    slave = MBusSlave(telegrams=[parse_hex(open(corpus).read())], primary_address=1)
    host, port = slave.start_tcp()
    try:
        with MBusClient(f"socket://{host}:{port}", timeout=0.5) as client:
            [telegram] = client.read_all(1)
        assert telegram.header["id"] == "500023E"
    finally:
        slave.stop()
    slave = MBusSlave(primary_address=3)
    host, port = slave.start_tcp()
    db = str(tmp_path / "m.db")
    try:
        result = cli("capture", "mbus", "--port", f"socket://{host}:{port}", "--mbus-address", "3", "--db", db,
                     "--every", "1.1", "--count", "2")
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("captured meter") == 2
    finally:
        slave.stop()
    assert rows(db, "SELECT count(*) FROM MeterTable")[0][0] == 1  # found again by its serial
    assert rows(db, "SELECT count(*) FROM ElectricEnergyValues")[0][0] == 10
    assert verify(db) == []


def cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=timeout)


def test_decode_command(tmp_path):
    frame = os.path.join(REPO, "tests", "data", "mbus", "libmbus", "test-frames", "ELS_Elster-F96-Plus.hex")
    result = cli("decode", "mbus", frame)
    assert result.returncode == 0
    import json
    decoded = json.loads(result.stdout)
    assert decoded["header"]["id"] == "44493951" and len(decoded["records"]) == 16
    binary = tmp_path / "frame.bin"
    binary.write_bytes(parse_hex(open(frame).read()))
    assert json.loads(cli("decode", "mbus", str(binary)).stdout) == decoded
    bad = os.path.join(REPO, "tests", "data", "mbus", "libmbus", "error-frames", "premature_end_of_dif1.hex")
    result = cli("decode", "mbus", bad)
    assert result.returncode == 1 and result.stderr.strip() == "error: record: Premature end of record at DIF."
    p1 = os.path.join(REPO, "tests", "data", "iec62056-21", "amshan", "p1_b.bin")
    result = cli("decode", "iec", p1)
    assert result.returncode == 0 and json.loads(result.stdout)["identification"]["manufacturer"] == "XMX"


def test_imitate_and_capture_commands(tmp_path):
    from sshd import free_port
    port = free_port()
    imitator = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "iec", "--listen",
                                 f"127.0.0.1:{port}", "-o", "1.8.0:000001.000*kWh", "--seconds", "60"],
                                env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE, text=True)
    try:
        assert "imitating an IEC meter on socket://127.0.0.1" in imitator.stdout.readline()
        db = str(tmp_path / "cap.db")
        result = cli("capture", "iec", "--port", f"socket://127.0.0.1:{port}", "--db", db,
                     "--baud-switch-delay", "0", "--neva", "--days", "1")
        assert result.returncode == 0, result.stderr
        assert "captured meter" in result.stdout
        # -o 1.8.0 reaches the Neva list register too (issue 9): the total no longer sums the tariffs
        # (nor, with today's midnight register and half hours, is it their sum so far)
        violations = verify(db)
        assert {(v.rule_name, v.found) for v in violations} <= {("tariff-sum", 1000.0),
                                                                ("moment-register-profile", 1000.0)}
        assert ("tariff-sum", 1000.0) in {(v.rule_name, v.found) for v in violations}
        result = cli("capture", "iec", "--port", f"socket://127.0.0.1:{free_port()}", "--db", db)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    finally:
        imitator.terminate()
        imitator.wait(10)


def test_a_link_that_dies_mid_capture_is_an_error_not_a_partial_reading(iec_meter, db_path):
    """A proxy between client and meter drops the connection when the first energy register is
    requested: the capture must fail (no partial reading is returned, so nothing is written)."""
    from GenerateMeterData.protocols.iec62056.messages import IECError

    imitator, url = iec_meter
    meter_port = int(url.rsplit(":", 1)[1])
    seen = b""

    def request(data):
        nonlocal seen
        seen = (seen + data)[-64:]
        if b"0880FF" in seen.replace(b".", b"").upper():  # the first energy list register
            return None
        return data

    with LinkProxy(("127.0.0.1", meter_port), to_target=request) as proxy:
        with pytest.raises(IECError) as failure:
            with IECClient(proxy.url, baud_switch_delay=0, initial_baud=9600, timeout=2.0) as client:
                with client.programming("00000000") as session:
                    neva_reading(session, MSK, days=0)
        assert proxy.cut.is_set() and failure.value.category != "meter-error"
