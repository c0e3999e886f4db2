"""Imitators the way testers drive them (issue 9, item 4), each through the CLI on a real socket
or pty: ``-o OBIS:value`` reaches every path that reports the register (IEC readout, programming
mode in decimal and Neva notation, the Neva list registers, M-Bus records, and so what capture
stores); ``imitate iec --mode A|B|C|D``; ``imitate mbus --pty`` and ``--port`` really serve there,
and what cannot be served is refused in one line."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import tty

import pytest

from GenerateMeterData.protocols.iec62056.client import IECClient
from GenerateMeterData.protocols.mbus.client import MBusClient
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
# values no generated meter has: 4321.125 kWh in tariff 1, 231.5 V on phase A, 7.25 A on phase B
OVERRIDES = ["-o", "1.8.1:4321.125*kWh", "-o", "1-0:32.7.0*255:231.5*V", "-o", "51.7.0:7.25"]


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


class Imitator:
    def __init__(self, *args):
        self.process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", *args,
                                         "--seconds", "300"], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.line = self.process.stdout.readline()
        assert " meter on " in self.line, self.process.stderr.read()
        self.where = self.line.split(" on ", 1)[1].split()[0].rstrip(",")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


def test_iec_overrides_reach_readout_programming_mode_neva_and_capture(tmp_path):
    with Imitator("iec", "--reaction-ms", "20", *OVERRIDES) as imitator:
        with IECClient(imitator.where, baud_switch_delay=0) as client:
            readout = client.readout()
        assert (readout.get("1.8.1").value, readout.get("1.8.1").unit) == ("4321.125", "kWh")
        assert (readout.get("32.7.0").value, readout.get("32.7.0").unit) == ("231.5", "V")
        assert readout.get("51.7.0").value == "7.25" and readout.get("51.7.0").unit == "A"  # the unit is kept
        assert readout.bcc_ok
        with IECClient(imitator.where, baud_switch_delay=0, initial_baud=9600) as client:
            with client.programming("00000000") as session:
                answer = session.read("1.8.1")
                assert (answer.value, answer.unit) == ("4321.125", "kWh")
                assert session.read("0F.08.80*FF").value.split(",")[1] == "4321.125"  # Neva: total, T1..T4
                assert session.read("01.08.80*FF").value.split(",")[1] == "4321.125"
                assert session.read("20.07.00*FF").value == "231.5"   # 0x20 = 32: Neva's hex OBIS, no unit
                assert session.read("33.07.00*FF").value == "7.25"    # 0x33 = 51
        db = str(tmp_path / "m.db")
        for extra in ([], ["--neva"]):
            time.sleep(1.1)  # another second: two readings of one second are one moment record
            result = cli("capture", "iec", "--port", imitator.where, "--db", db, *extra)
            assert result.returncode == 0, result.stderr
    stored = rows(db, "SELECT v.Ap FROM ElectricEnergyValues v WHERE v.Tariff = 1")
    assert stored == [(4321125.0,), (4321125.0,)]  # kWh read, Wh stored, by both paths
    assert rows(db, "SELECT U FROM ElectricQualityValues WHERE Phase = 'A'") == [(231.5,), (231.5,)]
    assert rows(db, "SELECT I FROM ElectricQualityValues WHERE Phase = 'B'") == [(7.25,), (7.25,)]


def test_a_neva_list_override_reaches_the_readout():
    with Imitator("iec", "--reaction-ms", "20", "-o", "0F.08.80*FF:10.000,1.000,2.000,3.000,4.000") as imitator:
        with IECClient(imitator.where, baud_switch_delay=0) as client:
            readout = client.readout()
    assert [readout.get(f"1.8.{t}").value for t in range(5)] == ["10.000", "1.000", "2.000", "3.000", "4.000"]


def test_mbus_overrides_reach_the_records():
    with Imitator("mbus", *OVERRIDES) as imitator:
        with MBusClient(imitator.where, timeout=0.5) as client:
            telegrams = client.read_all(1)
    records = [r for t in telegrams for r in t.records]
    energy = {(r.tariff, r.subunit): r.value for r in records if r.quantity == "Energy"}
    assert energy[(1, 0)] == 4321125.0
    voltage = {r.subunit: r.value for r in records if r.quantity == "Voltage"}
    current = {r.subunit: r.value for r in records if r.quantity == "Current"}
    assert voltage[0] == pytest.approx(231.5) and current[1] == pytest.approx(7.25)


@pytest.mark.parametrize("mode", ["A", "B", "C", "D"])
def test_imitate_iec_mode(mode):
    with Imitator("iec", "--mode", mode, "--reaction-ms", "20", "-o", "1.8.1:4321.125*kWh") as imitator:
        assert f"mode {mode}" in imitator.line
        with IECClient(imitator.where, baud_switch_delay=0) as client:
            readout = client.listen() if mode == "D" else client.readout()
    if mode != "D":  # mode D pushes: its identification is not an answer to a sign-on
        assert readout.identification.mode == mode
    assert readout.get("1.8.1").value == "4321.125"  # the overrides reach every mode's readout


def test_imitate_mbus_on_a_pty():
    with Imitator("mbus", "--pty", "--address", "4", *OVERRIDES) as imitator:
        assert imitator.where.startswith("/dev/")
        with MBusClient(imitator.where, timeout=0.5) as client:
            assert client.ping(4)
            telegrams = client.read_all(4)
    energy = {(r.tariff, r.subunit): r.value for t in telegrams for r in t.records if r.quantity == "Energy"}
    assert energy[(1, 0)] == 4321125.0


class FdPort:
    """The master side of a pty as a minimal serial port for the M-Bus master."""

    def __init__(self, fd):
        self.fd, self.name, self.baudrate, self.timeout = fd, "pty-master", 2400, 0.05

    @property
    def in_waiting(self):
        import select
        return 1 if select.select([self.fd], [], [], 0.05)[0] else 0

    def read(self, n=1):
        return os.read(self.fd, 4096) if self.in_waiting else b""

    def write(self, data):
        os.write(self.fd, data)
        return len(data)

    def flush(self):
        pass

    def reset_input_buffer(self):
        while self.in_waiting:
            os.read(self.fd, 4096)

    def close(self):
        os.close(self.fd)


def test_imitate_mbus_on_a_serial_port():
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    try:
        with Imitator("mbus", "--port", path, "--address", "6") as imitator:
            assert imitator.where == path
            client = MBusClient(port=FdPort(master), timeout=0.5)
            assert client.ping(6) and not client.ping(7)
            telegrams = client.read_all(6)
            assert any(r.quantity == "Energy" for r in telegrams[0].records)
    finally:
        os.close(slave)


@pytest.mark.parametrize("args,code,words", [
    (["mbus", "--port", "/nonexistent/ttyUSB9"], 3, ["/nonexistent/ttyUSB9"]),
    (["iec", "--port", "/nonexistent/ttyUSB9"], 3, ["/nonexistent/ttyUSB9"]),
    (["mbus", "--pty", "--port", "/dev/null"], 2, ["--pty", "--port"]),
    (["mbus", "--mode", "B"], 2, ["--mode B", "M-Bus"]),
    (["iec", "--mode", "E"], 2, ["--mode"]),
    (["dlms", "--mode", "A"], 2, ["--mode"]),
])
def test_what_cannot_be_served_is_refused_in_one_line(args, code, words):
    result = cli("imitate", *args, "--seconds", "5")
    assert result.returncode == code, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert all(word in line for word in words), line
    assert "imitating" not in result.stdout


def test_imitate_iec_mode_d_pushes_on_a_pty():
    with Imitator("iec", "--mode", "D", "--pty", "-o", "1.8.1:4321.125*kWh") as imitator:
        with IECClient(imitator.where) as client:
            readout = client.listen()
    assert readout.get("1.8.1").value == "4321.125" and readout.identification.manufacturer == "GMD"
