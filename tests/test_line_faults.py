"""Faults and overrides planted per meter on a line (``imitate line --line-fault N=FAULT``,
``--line-override N=ITEM``; imitation/faults.py, docs/line.md), on a real TCP socket, read by the
project's clients (the capture path): each faulty meter is seen by its client as its fault -- the
protocol's own error for a broken check (Mercury's CRC, IEC's BCC, the M-Bus checksum, the HDLC
FCS), its error status (Mercury 230's status byte, CE's (Enn), DLMS's data-access-result), no answer,
a profile with the planted slots missing -- in one line; the other meters of the same protocols
read as before.  Expected values: the FAULTs and overrides as given, the gap's slots worked out by
hand from FROM/TO, the serials of the plan."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from GenerateMeterData.errors import ProtocolError
from GenerateMeterData.imitation.line import Line, LineScenario, line_meters, read_meter
from GenerateMeterData.model import timegrid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
TZ = "Europe/Moscow"
MSK = timegrid.zone(TZ)
COUNTS = {"mercury200": 2, "mercury230": 3, "ce303": 3, "iec": 3, "mbus": 3, "dlms": 3}
#: 1-2 mercury200, 3-5 mercury230, 6-8 ce303, 9-11 iec, 12-14 mbus, 15-17 dlms (the plan's order)
LAST = int(time.time()) // 1800 * 1800          # the last complete slot's end when the module loads
GAP_FROM = LAST - 5 * 1800 - 60                 # a minute before a slot's end: local times in minutes
GAP_TO = LAST - 1800
GAP_ENDS = {LAST - k * 1800 for k in range(1, 6)}  # ends after FROM, up to TO: five slots


def local(ts: int) -> str:
    return timegrid.local_datetime(ts, MSK).strftime("%Y-%m-%dT%H:%M")


GAP = f"gap:{local(GAP_FROM)}/{local(GAP_TO)}"
FAULTS = {1: ["crc"], 3: ["status:2"], 4: [GAP], 6: ["status:17"], 7: [GAP], 9: ["crc"], 10: ["silent"],
          12: ["silent"], 13: ["crc"], 15: ["status:11"], 16: ["crc"], 17: [GAP]}
OVERRIDES = {5: ["1.8.0:4321.125*kWh", "32.7.0:231.5"], 2: ["1.8.1:1234.56*kWh", "1.8.0:777*kWh"]}


@pytest.fixture(scope="module")
def line():
    meters = line_meters(LineScenario(dict(COUNTS), seed=11, timezone=TZ, overrides=OVERRIDES, faults=FAULTS))
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    yield {m.number: m for m in served.meters}, where
    served.stop()


def failure(m, where) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        read_meter(m, where, TZ)
    assert "\n" not in str(caught.value)       # one line
    return caught.value


@pytest.mark.parametrize("number, words", [
    (1, ["CRC error"]),                                     # Mercury 200: the CRC-16 broken
    (3, ["status 2", "internal meter error"]),              # Mercury 230: the status byte
    (6, ["E17"]),                                           # CE303: (E17) to SNUMB
    (9, ["BCC wrong"]),                                     # IEC: the readout's BCC
    (10, ["no identification"]),                            # IEC: silent
    (12, ["no answer from address"]),                       # M-Bus: silent
    (13, ["checksum"]),                                     # M-Bus: the RSP_UD checksum
    (15, ["object-unavailable"]),                           # DLMS: data-access-result 11
    (16, ["frame check sequence (FCS) is wrong"]),          # DLMS: the HDLC FCS
])
def test_a_faulty_meter_is_seen_as_its_fault(line, number, words):
    meters, where = line
    error = failure(meters[number], where)
    assert all(word in str(error) for word in words), (meters[number].protocol, str(error))
    if number == 12:
        assert "what came" not in str(error)   # silence, not a bad frame


def test_the_others_on_the_line_read_as_before(line):
    meters, where = line
    for number in (2, 5, 8, 11, 14, 17):
        m = meters[number]
        reading = read_meter(m, where, TZ)
        assert reading.serial.lstrip("0")[-8:] == m.serial.lstrip("0")[-8:], (m.protocol, m.address)
        assert reading.energy, m.protocol
    # after the faulty ones were read, too
    for number in (1, 3, 6, 9, 12, 15):
        failure(meters[number], where)
    assert read_meter(meters[14], where, TZ).serial.lstrip("0")[-8:] == meters[14].serial.lstrip("0")[-8:]


def test_overrides_per_meter(line):
    meters, where = line
    reading = read_meter(meters[5], where, TZ)
    assert reading.energy["A+0"] == 4321125.0 and reading.quality["UA"] == 231.5
    assert read_meter(meters[4], where, TZ).energy["A+0"] != 4321125.0   # its neighbour serves its story
    reading = read_meter(meters[2], where, TZ)
    if meters[2].meter.tariffed:   # Mercury 200 keeps tariff registers: 1.8.1 is its first
        assert reading.energy["A+1"] == 1234560.0   # 0.01 kWh on the wire: 123456 hundredths
    else:                          # one register, the total: 1.8.0
        assert reading.energy["A+0"] == 777000.0


@pytest.mark.parametrize("number", [4, 7, 17])   # Mercury 230 (memory 3 records all FF), CE303 (GRAPE empty),
#                                                  DLMS (no entry in the load profile's buffer)
def test_a_gap_in_the_profile(line, number):
    meters, where = line
    today = dt.datetime.fromtimestamp(time.time(), MSK).date()   # --days 1: yesterday and today, local
    reading = read_meter(meters[number], where, TZ, days=1)
    ends = {end for end, _ in reading.profile if end <= LAST}      # a slot may have ended since
    assert not ends & GAP_ENDS, sorted(ends & GAP_ENDS)
    assert {LAST, LAST - 6 * 1800} <= ends   # the slots either side of the gap are there
    start = int(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), MSK).timestamp())
    # every slot ending after yesterday's local midnight up to LAST, but the five of the gap
    # (near midnight that is 50 - 5, not 48: the count was once asserted >= 48 and failed at 01:00)
    assert len(ends) == (LAST - start) // 1800 - len(GAP_ENDS), (len(ends), start)


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_imitate_line_fault_through_the_cli(db_path):
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "line", "--line-meters",
                                "mercury230=2", "--meter-seed", "5", "--timezone", TZ, "--seconds", "120",
                                "--line-fault", "1=status:3"],
                               cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert " on " in first, process.stderr.read()
        url = first.split(" on ", 1)[1].split()[0]
        plan = [process.stdout.readline() for _ in range(2)]
        assert "faults status:3" in plan[0] and "faults" not in plan[1], plan
        addresses = [line.split("address")[1].split()[0] for line in plan]
        bad = cli("capture", "mercury230", "--port", url, "--db", db_path, "--timezone", TZ,
                  "--network-address", addresses[0])
        assert bad.returncode == 3, (bad.stdout, bad.stderr)
        [error] = bad.stderr.strip().splitlines()
        assert "status 3" in error and "access level too low" in error
        good = cli("capture", "mercury230", "--port", url, "--db", db_path, "--timezone", TZ,
                   "--network-address", addresses[1])
        assert good.returncode == 0, good.stderr
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("arguments, words", [
    (["--line-fault", "1=bogus"], ["--line-fault '1=bogus'", "unknown fault 'bogus'", "takes silent"]),
    (["--line-fault", "9=crc"], ["--line-fault '9=crc'", "meters 1-2"]),
    (["--line-fault", "0=crc"], ["meters 1-2"]),
    (["--line-fault", "1=gap:2026-03-01T00:00/2026-03-01T01:00"], ["(meter 1, mercury200)", "mercury200 has no gap fault"]),
    (["--line-fault", "2=status:99"], ["(meter 2, mercury230)", "status:N", "N 1-15"]),
    (["--line-override", "7=1.8.0:1"], ["--line-override '7=1.8.0:1'", "meters 1-2"]),
    (["--line-fault", "crc"], ["give N=FAULT"]),
])
def test_bad_line_faults_are_one_line_exit_2(arguments, words):
    result = cli("imitate", "line", "--line-meters", "mercury230=1,mercury200=1", "--seconds", "1", *arguments)
    assert result.returncode == 2, (result.stdout, result.stderr)
    [error] = result.stderr.strip().splitlines()
    assert all(word in error for word in words), error


def test_an_m_bus_status_is_in_the_header_and_an_error_refuses_the_reading():
    """EN 13757-3's status byte (header byte 12 of the variable data structure): an application
    error (2) or a permanent error (8) makes the reading one error line naming it; power low (4)
    alone leaves the values to be read."""
    from GenerateMeterData.protocols.mbus.client import MBusClient

    meters = line_meters(LineScenario({"mbus": 3}, seed=4, timezone=TZ,
                                      faults={1: ["status:2"], 2: ["status:4"], 3: ["status:8"]}))
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    try:
        with MBusClient(where) as client:
            telegrams = client.read_all(int(meters[0].address))
        assert {t.header["status"] for t in telegrams} == {"02"}   # as planted, in every telegram
        for m, words in ((meters[0], ["status 02h", "any application error"]),
                         (meters[2], ["status 08h", "permanent error"])):
            error = failure(m, where)
            assert all(word in str(error) for word in words) and "nothing was written" in str(error), str(error)
        reading = read_meter(meters[1], where, TZ)
        assert reading.energy and reading.serial.lstrip("0")[-8:] == meters[1].serial.lstrip("0")[-8:]
    finally:
        served.stop()


def test_status_text_in_the_standards_words():
    from GenerateMeterData.protocols.mbus.tables import status_text

    assert status_text(0) == "no error"
    assert status_text(0x01) == "application busy"
    assert status_text(0x0A) == "any application error, permanent error"
    assert status_text(0x14) == "power low, temporary error"
    assert status_text(0x23) == "abnormal condition / alarm, manufacturer bits 001"
