"""The Mercury 230 profile memory, journals and planted faults (``protocols/mercury/v2.py``,
``imitation/mercury.py``, issue 22): the record layout against hand computations from the public
description (the poller ti-cortex-m4/tm4c1294ncpdt's device_b.c reads 0x08 0x13 as 9 bytes with the
address high byte first, a 15-byte memory-3 record with the hours in byte 1 and 2-byte values low
byte first, 0xFFFF "not recorded", steps 0x10 back and wraps 0x0000 -> 0xFFF0; journals 0x04 JJ NN
as two 6-byte BCD times), the imitator on a real TCP socket read with request frames framed by
mercury-base's CRC, the values against the generated story, and ``capture --days`` through the
CLI into a real meter.db that ``verify`` accepts; a bad pointer or an error status writes nothing."""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time

import pytest

from GenerateMeterData import verify
from GenerateMeterData.imitation.mercury import Fault, V2Generated
from GenerateMeterData.imitation.meter import GeneratedMeter
from GenerateMeterData.model import timegrid
from GenerateMeterData.protocols.mercury import v2
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
MSK = timegrid.zone("Europe/Moscow")
NOW = int(dt.datetime(2026, 3, 10, 14, 20, 17, tzinfo=MSK).timestamp())
X = bytes.fromhex

mercury_base = pytest.importorskip("mercury_base", reason="mercury-base is in the [test] extra")
add_crc = mercury_base.add_crc


def request(*body: int) -> bytes:
    """A request framed with mercury-base's CRC (not ours)."""
    return bytes(add_crc(bytes(body)))


def frozen(seed: int = 31, clock: int = NOW, outages: float = 6.0) -> GeneratedMeter:
    return GeneratedMeter("Mercury23x", seed=seed, timezone="Europe/Moscow", clock=lambda: clock,
                          outages_per_30_days=outages)


class Line:
    """An imitated meter on a real TCP socket, its channel opened at level 1."""

    def __init__(self, served):
        self.served = served
        self.imitator = v2.V2Imitator([served])
        url = self.imitator.start("tcp://127.0.0.1:0")
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        assert self.ask(request(served.address, 0x01, 0x01, 1, 1, 1, 1, 1, 1), 4)[1] == 0
        self.url = url

    def ask(self, raw: bytes, size: int) -> bytes:
        self.sock.sendall(raw)
        answer = b""
        while len(answer) < size:
            answer += self.sock.recv(64)
        return answer

    def close(self):
        self.sock.close()
        self.imitator.stop()


@pytest.fixture
def line():
    made = []

    def make(served):
        made.append(Line(served))
        return made[-1]
    yield make
    for each in made:
        each.close()


# ---- the layout, by hand -------------------------------------------------------------------------
def test_a_record_is_the_documented_bytes():
    record = v2.ProfileRecord(dt.datetime(2026, 3, 10, 14, 0), 30, (1234, None, 500, 0))
    # status 00, 14:00 10.03.26 in BCD, period 0x1E, 1234 = 0x04D2 -> D2 04, FF FF, 500 = 0x01F4 -> F4 01, 0
    raw = X("00 14 00 10 03 26 1E D2 04 FF FF F4 01 00 00")
    assert v2.encode_record(record) == raw
    assert v2.decode_record(raw) == record
    assert v2.encode_record(None) == b"\xff" * 15 and v2.decode_record(b"\xff" * 15) is None
    assert v2.decode_record(X("00 00 00 00 00 00 1E") + b"\xff" * 8) is None   # an empty header
    # a count is pulses at 2A a kWh: 1234 / 2000 kWh in half an hour is 1234 W; 100 in an hour 50 W
    assert v2.watts(1234, 30) == pytest.approx(1234.0)
    assert v2.watts(100, 60) == pytest.approx(50.0)
    assert v2.pulses(1234.0, 30) == 1234


def test_the_walk_back_wraps_as_the_public_poller_steps():
    assert v2.previous_record(0x0000) == 0xFFF0
    assert v2.previous_record(0x0120, 3) == 0x00F0
    assert v2.previous_record(0x0010, 2) == 0xFFF0


def test_event_times_and_response_times():
    assert v2.encode_event_time(dt.datetime(2026, 3, 10, 14, 5, 9)) == X("09 05 14 10 03 26")
    assert v2.decode_event_time(X("09 05 14 10 03 26")) == dt.datetime(2026, 3, 10, 14, 5, 9)
    assert v2.decode_event_time(bytes(6)) is None
    # wb-mqtt-serial's mercury230_device.cpp quoting the Incotex table
    assert [v2.response_ms(b) for b in (300, 600, 1200, 2400, 4800, 9600, 19200, 115200)] == \
        [1600, 800, 400, 250, 180, 150, 150, 150]
    assert v2.request_length(request(0, 0x04, 0x01, 0x00)[:3]) == 6
    assert v2.request_length(request(0, 0x06, 0x03, 0, 0, 15)[:3]) == 8


def test_bad_records_are_protocol_errors():
    with pytest.raises(v2.MercuryError, match="not BCD"):
        v2.decode_record(X("00 1A 00 10 03 26 1E") + bytes(8))
    with pytest.raises(v2.MercuryError, match="period"):
        v2.decode_record(X("00 14 00 10 03 26 00") + bytes(8))
    with pytest.raises(v2.MercuryError, match="15 bytes"):
        v2.decode_record(bytes(7))


# ---- the imitator on a socket --------------------------------------------------------------------
def _record_at(link, address, at):
    answer = link.ask(request(address, 0x06, 0x03, at >> 8, at & 0xFF, 0x0F), 18)
    assert mercury_base.check_crc(answer)
    return answer[1:-2]


def test_the_pointer_and_the_records_walk_back_through_the_story(line):
    meter = frozen()
    served = V2Generated(meter, profile_bits=16)   # a Mercury 230's 16-bit profile addresses
    link = line(served)
    answer = link.ask(request(served.address, 0x08, 0x13), 12)
    assert mercury_base.check_crc(answer) and answer[0] == served.address
    pointer = answer[1] << 8 | answer[2]
    assert pointer % 0x10 == 0
    # the last complete slot ends at 14:00 (the clock stands at 14:20:17); period 30
    assert answer[4:9] == X("14 00 10 03 26") and answer[9] == 30
    midnight = timegrid.local_midnight(dt.date(2026, 3, 10), MSK)
    profile = {d: [meter.profile(1, d), meter.profile(0, d)] for d in range(4)}   # the generator's W per slot
    seen = gaps = 0
    for back in range(48 + 28):
        end = midnight + 28 * 1800 - back * 1800
        data = _record_at(link, served.address, (pointer - back * 0x10) % 0x10000)
        offs = [off for off, on in meter.story.outages if off < end and on > end - 1800]
        if offs:
            assert data == b"\xff" * 15   # off in that slot: not recorded
            gaps += 1
            continue
        local = timegrid.local_datetime(end, MSK)
        assert data[1:6] == bytes.fromhex(local.strftime("%H%M%d%m%y"))
        day, slot = (0, 27 - back) if back < 28 else (1, 48 - (back - 28) - 1)
        for direction in range(4):
            count = int.from_bytes(data[7 + 2 * direction:9 + 2 * direction], "little")
            assert abs(count - profile[direction][1 - day][slot]) <= 1, (back, direction)
        seen += 1
    assert seen > 40


def test_the_buffer_wraps_at_the_end_of_memory(line):
    # a clock whose last slot is the 4096th record: the pointer is 0x0000, the slot before at 0xFFF0
    last_end = (NOW // (1800 * 4096)) * 1800 * 4096
    meter = frozen(clock=last_end + 600, outages=0.0)
    served = V2Generated(meter, profile_bits=16)
    link = line(served)
    answer = link.ask(request(served.address, 0x08, 0x13), 12)
    assert answer[1:3] == X("00 00")
    before = timegrid.local_datetime(last_end - 1800, MSK)
    assert _record_at(link, served.address, 0xFFF0)[1:6] == bytes.fromhex(before.strftime("%H%M%d%m%y"))
    # 0x0010 is the oldest record kept: 4095 slots (85 days 7.5 hours) before the last
    oldest = timegrid.local_datetime(last_end - 4095 * 1800, MSK)
    assert _record_at(link, served.address, 0x0010)[1:6] == bytes.fromhex(oldest.strftime("%H%M%d%m%y"))


def test_the_power_journal_is_the_storys_outages(line):
    meter = frozen()
    served = V2Generated(meter)
    link = line(served)
    events = [t for t, _ in meter.story.journal_events("ElJrnlPwr") if t <= NOW]
    pairs = list(zip(events[0::2], events[1::2]))
    assert len(pairs) >= 10   # six outages a month over 130 days: the ring is full
    got = []
    for record in range(10):
        answer = link.ask(request(served.address, 0x04, 0x01, record), 15)
        assert mercury_base.check_crc(answer)
        got.append((v2.decode_event_time(answer[1:7]), v2.decode_event_time(answer[7:13])))
    local = [(timegrid.local_datetime(a, MSK).replace(tzinfo=None), timegrid.local_datetime(b, MSK).replace(tzinfo=None))
             for a, b in pairs[-10:]]
    assert sorted(got) == local
    # a journal the meter does not keep, and a record past the ring: status 1
    assert link.ask(request(served.address, 0x04, 0x07, 0), 4)[1] == 1
    assert link.ask(request(served.address, 0x04, 0x01, 10), 4)[1] == 1


def test_planted_faults(line):
    served = V2Generated(frozen(outages=0.0), faults=[
        Fault("status", b"\x08\x13", 2), Fault("crc", b"\x08\x00"), Fault("silent", b"\x04\x00"),
        Fault("gap", start=NOW - 3 * 3600, end=NOW - 3600)], profile_bits=16)
    link = line(served)
    from GenerateMeterData.protocols.mercury.v2 import V2Client

    with V2Client(link.url, timeout=0.3) as client:
        client.open(served.address)
        with pytest.raises(v2.StatusError, match="status 2"):
            client.profile_pointer(served.address)
        with pytest.raises(v2.MercuryError, match="CRC error"):
            client.serial(served.address)
        started = time.monotonic()
        with pytest.raises(v2.MercuryError, match="no answer"):
            client.clock(served.address)
        assert time.monotonic() - started < 2
        # the gap: slots ending 11:30 ... 13:00 (after 11:20:17, up to 13:20:17) read all FF
        last = NOW // 1800 * 1800
        pointer = served.profile_pointer()[0]
        for back, recorded in ((0, True), (1, True), (2, False), (5, False), (6, True)):
            record = client.profile_record(served.address, v2.previous_record(pointer, back))
            assert (record is not None) == recorded, back
            if record is not None:
                assert record.end == timegrid.local_datetime(last - back * 1800, MSK).replace(tzinfo=None)


# ---- capture through the CLI ---------------------------------------------------------------------
def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_capture_days_writes_the_archives_as_the_device_stamps_them(line, db_path):
    meter = frozen(seed=32)   # a story with an outage on 10 March, 05:47-06:21
    assert [o for o in meter.story.outages if o[0] <= NOW][-1] == (1773110847, 1773112877)
    served = V2Generated(meter)
    link = line(served)
    args = ("capture", "mercury230", "--port", link.url, "--db", db_path, "--timezone", "Europe/Moscow",
            "--days", "2")
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    today = dt.date(2026, 3, 10)
    midnight = {d: timegrid.local_midnight(today - dt.timedelta(days=d), MSK) for d in range(3)}
    # ElDayEnergy at D 00:00 = the registers at the start of D (today, yesterday); ElMonthEnergy at
    # the 1st = those at the start of the month; from the story, not the wire
    day = rows(db_path, "SELECT m.Timestamp, e.Tariff, e.Ap FROM MeterData m JOIN ArchTypes a ON "
                        "a.Id = m.RecordTypeId JOIN ElectricEnergyValues e ON e.Id = m.Id WHERE a.Name = 'ElDayEnergy' "
                        "ORDER BY 1, 2")
    expected = [(midnight[d], t, float(meter.registers(midnight[d])[0][t])) for d in (1, 0) for t in range(5)]
    assert day == expected
    month = rows(db_path, "SELECT m.Timestamp, e.Ap FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                          "JOIN ElectricEnergyValues e ON e.Id = m.Id WHERE a.Name = 'ElMonthEnergy' AND e.Tariff = 0")
    first = timegrid.local_midnight(dt.date(2026, 3, 1), MSK)
    assert month == [(first, float(meter.registers(first)[0][0]))]
    # the profile: every slot from 8 March 00:30 to 14:00 today, stamped at its end, but the
    # outages' slots; P+ / Q+ as the generator has them
    stored = dict(((ts, (pp, qp)) for ts, pp, qp in rows(
        db_path, "SELECT m.Timestamp, p.Pp, p.Qp FROM MeterData m JOIN ElectricPowerValues p ON p.Id = m.Id")))
    ends = range(midnight[2] + 1800, NOW // 1800 * 1800 + 1, 1800)
    off = {e for e in ends if any(a < e and b > e - 1800 for a, b in meter.story.outages)}
    assert len(off) == 2 and set(stored) == set(ends) - off   # the slots ending 06:00 and 06:30 are gaps
    for end, (pp, qp) in stored.items():
        days_ago = (today - timegrid.local_datetime(end - 1, MSK).date()).days
        slot = (end - 1 - midnight[days_ago]) // 1800
        assert pp == pytest.approx(meter.profile(days_ago, 0)[slot], abs=1)
        assert qp == pytest.approx(meter.profile(days_ago, 2)[slot], abs=1)
    # the power journal: the story's off/on within the days read, Event 0 then 1
    journal = rows(db_path, "SELECT m.Timestamp, j.Event FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                            "JOIN JournalValues j ON j.Id = m.Id WHERE a.Name = 'ElJrnlPwr' ORDER BY 1")
    story = [(t, e) for t, e in meter.story.journal_events("ElJrnlPwr") if midnight[2] <= t <= NOW]
    assert journal == story == [(1773110847, 0), (1773112877, 1)]
    phases = rows(db_path, "SELECT a.Name, COUNT(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                           "WHERE a.Name LIKE 'ElJrnlPwr_' GROUP BY 1")
    assert phases == [("ElJrnlPwrA", 2), ("ElJrnlPwrB", 2), ("ElJrnlPwrC", 2)]
    assert verify(db_path) == []
    again = cli(*args)   # a second capture writes nothing new and still verifies
    assert again.returncode == 0, again.stderr
    assert verify(db_path) == []


class BadPointer(V2Generated):
    def profile_pointer(self):
        return 0x1235, None


class FuturePointer(V2Generated):
    def profile_pointer(self):   # a record two hours after the meter's clock (14:20:17)
        return 0x0100, v2.ProfileRecord(dt.datetime(2026, 3, 10, 16, 30), 30, (1, 1, 1, 1))


@pytest.mark.parametrize("served, words", [
    (lambda: BadPointer(frozen(outages=0.0), profile_bits=16), ["profile pointer 0x1235"]),
    (lambda: FuturePointer(frozen(outages=0.0)), ["2026-03-10 16:30:00", "later than the meter's clock"]),
    (lambda: V2Generated(frozen(outages=0.0), faults=[Fault("status", b"\x06", 2)]), ["status 2"]),
    (lambda: V2Generated(frozen(outages=0.0), faults=[Fault("silent", b"\x04\x01")]), ["no answer"]),
])
def test_a_bad_pointer_or_an_error_status_writes_nothing(line, db_path, served, words):
    link = line(served())
    started = time.monotonic()
    result = cli("capture", "mercury230", "--port", link.url, "--db", db_path, "--timezone", "Europe/Moscow",
                 "--days", "1", "--answer-timeout", "0.5")
    assert time.monotonic() - started < 30
    assert result.returncode == 3, (result.stdout, result.stderr)
    [error] = result.stderr.strip().splitlines()
    assert all(word in error for word in words) and "Traceback" not in result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM MeterData") == [(0,)]


def test_imitate_fault_option_plants_a_status(db_path):
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "mercury230", "--timezone",
                                "Europe/Moscow", "--seconds", "120", "--fault", "status:2:0813"],
                               cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert " meter on " in first, process.stderr.read()
        url = first.split(" on ", 1)[1].split()[0]
        plain = cli("capture", "mercury230", "--port", url, "--db", db_path, "--timezone", "Europe/Moscow")
        assert plain.returncode == 0, plain.stderr   # the registers are answered
        result = cli("capture", "mercury230", "--port", url, "--db", db_path, "--timezone", "Europe/Moscow",
                     "--days", "1")
        assert result.returncode == 3
        [error] = result.stderr.strip().splitlines()
        assert "status 2" in error and "internal meter error" in error
        assert rows(db_path, "SELECT COUNT(*) FROM ElectricPowerValues") == [(0,)]
    finally:
        process.terminate()
        process.wait(10)


def test_the_client_waits_as_long_as_the_baud_rate_needs():
    # at 300 baud the meter may take 1600 ms (Incotex's table via wb-mqtt-serial): the imitator takes 800
    served = V2Generated(frozen(outages=0.0))
    imitator = v2.V2Imitator([served], v2.answer_delay(300))
    url = imitator.start("tcp://127.0.0.1:0")
    try:
        assert v2.answer_delay(300) == pytest.approx(0.8)
        with v2.V2Client(url, timeout=0.3, baudrate=9600) as hasty:
            started = time.monotonic()
            with pytest.raises(v2.MercuryError, match="no answer"):
                hasty.test(served.address)
            assert time.monotonic() - started < 0.8
        time.sleep(1)   # the late answer is gone
        with v2.V2Client(url, timeout=0.3, baudrate=300) as patient:
            patient.open(served.address)
            assert patient.serial(served.address)[0] == served.serial
    finally:
        imitator.stop()


# ---- 17-bit profile addresses (Mercury 234/236) -----------------------------------------------------
# The public poller ti-cortex-m4/tm4c1294ncpdt (sensors/sensor2/profile2x17.c, device2.c; read, not
# copied) reads meters of firmware 7.1.0 and later (08 03, TestVersionB710) with 17-bit profile
# addresses: the pointer of 08 13 is the address / 16 (ReadTopBx17: b1 << 12 | b2 << 4), a read
# carries address bit 16 as bit 7 of the memory number (06 83 hi lo ...), the walk back wraps from
# 0x00000 to 0x1FFF0.  The expected bytes below are worked by hand from that.
SLOT = 1800


def test_17_bit_requests_and_pointers_by_hand():
    assert v2.memory_request(7, 0x1FFF0) == request(7, 0x06, 0x83, 0xFF, 0xF0, 0x0F)
    assert v2.memory_request(7, 0x0FFF0) == request(7, 0x06, 0x03, 0xFF, 0xF0, 0x0F)
    assert v2.memory_request(7, 0x10000) == request(7, 0x06, 0x83, 0x00, 0x00, 0x0F)
    assert v2.encode_pointer(0x1FFF0, 17) == X("1F FF") and v2.decode_pointer(X("1F FF"), 17) == 0x1FFF0
    assert v2.encode_pointer(0xFFF0) == X("FF F0") and v2.decode_pointer(X("FF F0")) == 0xFFF0
    assert v2.previous_record(0x00000, 1, 17) == 0x1FFF0
    assert v2.previous_record(0x10000, 1, 17) == 0x0FFF0
    assert v2.profile_bits((7, 1, 0)) == 17 and v2.profile_bits((7, 0, 9)) == 16 and v2.profile_bits(None) == 16


def _slot_index(end: int) -> int:
    return end // SLOT % 8192   # 8192 records of 0x10 bytes in 0x20000


def test_a_234_answers_with_17_bit_addresses(line):
    # a clock 4096 slots after NOW: the last slot's record sits above 0xFFFF
    clock = NOW + 4096 * SLOT
    meter = frozen(clock=clock, outages=0.0)
    assert meter.model.startswith("Mercury 234")
    served = V2Generated(meter)   # by its model: 17 bits
    link = line(served)
    # 08 03: firmware 7.1.0, as mercury-base's get_firmware_version reads the answer's data
    version = link.ask(request(served.address, 0x08, 0x03), 6)
    assert mercury_base.check_crc(version)

    class Answered:
        def send_command(self, *params):
            assert params == (0x08, 0x03)
            return mercury_base.mercury_v2.extract_data(version)
    assert mercury_base.mercury_v2.commands.get_firmware_version(Answered()) == "7.1.0"
    last = clock // SLOT * SLOT
    answer = link.ask(request(served.address, 0x08, 0x13), 12)
    assert mercury_base.check_crc(answer)
    assert answer[1] << 8 | answer[2] == _slot_index(last)           # the address / 16
    address = _slot_index(last) * 0x10
    assert address > 0xFFFF
    local = timegrid.local_datetime(last, MSK)
    high = link.ask(request(served.address, 0x06, 0x83, (address >> 8) & 0xFF, address & 0xFF, 0x0F), 18)
    assert mercury_base.check_crc(high) and high[2:7] == bytes.fromhex(local.strftime("%H%M%d%m%y"))
    # the same 16 low bits without bit 16: the record 4096 slots earlier
    low = link.ask(request(served.address, 0x06, 0x03, (address >> 8) & 0xFF, address & 0xFF, 0x0F), 18)
    earlier = timegrid.local_datetime(last - 4096 * SLOT, MSK)
    assert low[2:7] == bytes.fromhex(earlier.strftime("%H%M%d%m%y"))


def test_the_17_bit_buffer_wraps_at_0x1FFF0(line):
    last_end = (NOW // (SLOT * 8192) + 1) * SLOT * 8192   # the last slot is record 0
    meter = frozen(clock=last_end + 600, outages=0.0)
    served = V2Generated(meter)
    link = line(served)
    assert link.ask(request(served.address, 0x08, 0x13), 12)[1:3] == X("00 00")
    before = timegrid.local_datetime(last_end - SLOT, MSK)
    record = link.ask(request(served.address, 0x06, 0x83, 0xFF, 0xF0, 0x0F), 18)
    assert record[2:7] == bytes.fromhex(before.strftime("%H%M%d%m%y"))


def test_a_230_refuses_bit_16_and_reads_16_bit_pointers(line):
    served = V2Generated(frozen(outages=0.0), profile_bits=16)
    link = line(served)
    assert link.ask(request(served.address, 0x06, 0x83, 0x00, 0x00, 0x0F), 4)[1] == 1   # status 1
    last = NOW // SLOT * SLOT
    answer = link.ask(request(served.address, 0x08, 0x13), 12)
    assert answer[1] << 8 | answer[2] == last // SLOT % 4096 * 0x10


def test_capture_reads_a_234_across_the_64k_boundary(line, db_path):
    # the last slot at record 0x10010: two days back cross 0x10000 -> 0x0FFF0 (06 83 -> 06 03)
    k = (NOW // SLOT // 8192 + 1) * 8192 + 4097
    clock = k * SLOT + 900
    meter = frozen(clock=clock, outages=0.0)
    link = line(V2Generated(meter))
    result = cli("capture", "mercury230", "--port", link.url, "--db", db_path, "--timezone", "Europe/Moscow",
                 "--days", "2")
    assert result.returncode == 0, result.stderr
    day = timegrid.local_datetime(clock, MSK).date()
    start = timegrid.local_midnight(day - dt.timedelta(days=2), MSK)
    stored = [ts for (ts,) in rows(db_path, "SELECT m.Timestamp FROM MeterData m JOIN ElectricPowerValues p "
                                            "ON p.Id = m.Id ORDER BY 1")]
    assert stored == list(range(start + SLOT, k * SLOT + 1, SLOT))   # every slot, none lost at the boundary
    assert verify(db_path) == []


def test_capture_reads_a_234_further_back_than_a_230_holds(line, db_path):
    """A 17-bit profile memory holds 8192 slots (170 days of 30 minutes): ``--days 90`` reads
    every slot of the 90 days, beyond the 85 a 230's 4096 hold."""
    link = line(V2Generated(frozen(outages=0.0)))   # a 234 by its model: 17 bits
    result = cli("capture", "mercury230", "--port", link.url, "--db", db_path, "--timezone", "Europe/Moscow",
                 "--days", "90", timeout=600)
    assert result.returncode == 0, result.stderr
    day = timegrid.local_datetime(NOW, MSK).date()
    start = timegrid.local_midnight(day - dt.timedelta(days=90), MSK)
    stored = [ts for (ts,) in rows(db_path, "SELECT m.Timestamp FROM MeterData m JOIN ElectricPowerValues p "
                                            "ON p.Id = m.Id ORDER BY 1")]
    assert stored == list(range(start + SLOT, NOW // SLOT * SLOT + 1, SLOT))
    assert (stored[-1] - stored[0]) // SLOT + 1 > 4096   # more than a 16-bit memory has
    assert verify(db_path) == []


def test_capture_refuses_more_days_than_a_230_holds_and_writes_nothing(line, db_path):
    link = line(V2Generated(frozen(outages=0.0), profile_bits=16))
    result = cli("capture", "mercury230", "--port", link.url, "--db", db_path, "--timezone", "Europe/Moscow",
                 "--days", "90")
    assert result.returncode != 0
    [error] = result.stderr.strip().splitlines()
    assert "16-bit addresses" in error and "holds 85 days" in error and "Traceback" not in result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM MeterData") == [(0,)]
    too_many = cli("capture", "mercury230", "--port", link.url, "--db", db_path, "--days", "171")
    assert too_many.returncode != 0 and "give 170 or fewer" in too_many.stderr
