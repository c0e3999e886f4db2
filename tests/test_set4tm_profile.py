"""The SET-4TM profile memory and journals (``protocols/set4tm``, ``imitation/set4tm.py``, issue 22).

Expected values come from the public descriptions quoted in docs/set4tm.md, computed by hand here:
the pointer answer (mm with bit 7 the overflow flag, hh DD MM YY in BCD, the address high byte
first: tm4c1294ncpdt device_a.c and a Python poller's nzif_profiles.py), the hour blocks of 24 bytes
at 30 minutes (header hh DD MM YY, a byte, the period, the sum of bytes 0-5; two slices of four
2-byte values, high byte first, bit 15 a flag), 2730 blocks before the memory wraps, the journal
records of two 7-byte BCD times (tm4c1294ncpdt extended_3_a.c, BugakovAI/set4tm).  Frames are
framed with a CRC-16/Modbus written here, bit by bit.  The meter's values are the generated
story's (``GeneratedMeter.profile``, its outages and journal events), not the code under test.
The imitator runs on a real TCP socket; capture runs through the CLI into a real meter.db that
``verify`` accepts; a bad pointer or an error status is one line and writes nothing."""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time

import pytest

from GenerateMeterData import verify
from GenerateMeterData.imitation.meter import GeneratedMeter
from GenerateMeterData.imitation.mercury import Fault
from GenerateMeterData.imitation.set4tm import Set4Generated
from GenerateMeterData.model import timegrid
from GenerateMeterData.protocols.set4tm import codec
from GenerateMeterData.protocols.set4tm.client import Set4Client
from GenerateMeterData.protocols.set4tm.imitator import Set4Imitator
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
MSK = timegrid.zone("Europe/Moscow")
NOW = int(dt.datetime(2026, 3, 10, 14, 20, 17, tzinfo=MSK).timestamp())
SEED = 3            # a SETxTM whose serial fits the protocol's 4 bytes
BLOCK, BLOCKS = 24, 2730   # 8 + 2 x 8 bytes an hour at 30 minutes; 65536 // 24
# A = 500 imp/kWh: a count is 1/(2 x 500) kWh = 1 Wh, over 30 minutes 2 W; 7FFFh counts hold the
# story's highest slots (23 kW), which A = 5000 (0.2 W a count, 6553 W at most) would not
CONSTANT = 500
X = bytes.fromhex


def crc(data: bytes) -> bytes:
    """CRC-16/Modbus (poly 0xA001 reflected, init 0xFFFF), low byte first: written here."""
    value = 0xFFFF
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return bytes((value & 0xFF, value >> 8))


def framed(*body: int) -> bytes:
    return bytes(body) + crc(bytes(body))


def bcd(byte: int) -> int:
    return int(f"{byte:02x}")


def frozen(seed: int = SEED, clock: int = NOW, outages: float = 6.0) -> GeneratedMeter:
    return GeneratedMeter("SETxTM", seed=seed, timezone="Europe/Moscow", clock=lambda: clock,
                          outages_per_30_days=outages)


def local(ts: int) -> dt.datetime:
    return timegrid.local_datetime(ts, MSK).replace(tzinfo=None)


def day_slot(end: int):
    """(days before 10 March, slot of that day) of the half hour ending at ``end``."""
    day = local(end - 1).date()
    return (dt.date(2026, 3, 10) - day).days, (end - 1 - timegrid.local_midnight(day, MSK)) // 1800


def written_hours(meter: GeneratedMeter, now: int = NOW):
    """By hand, as the description says: every hour from the story's first midnight to the
    current one, but those an outage covers whole (the meter writes nothing while it is off)."""
    first = timegrid.local_midnight(meter.story.origin_day, MSK)
    current = now // 3600 * 3600   # Moscow: whole-hour offset
    hours = [h for h in range(first, current, 3600)
             if not any(off <= h and on >= h + 3600 for off, on in meter.story.outages)]
    return hours + [current]


class Raw:
    """Frames by hand over a socket: the data of an answer whose CRC checks."""

    def __init__(self, url):
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)

    def ask(self, *body: int, size: int) -> bytes:
        self.sock.sendall(framed(*body))
        answer = b""
        while len(answer) < size + 3:
            chunk = self.sock.recv(256)
            assert chunk
            answer += chunk
            if len(answer) == 4 and size != 1 and answer[2:] == crc(answer[:2]):
                break   # a status answer
        assert answer[-2:] == crc(answer[:-2]) and answer[0] == body[0], answer.hex(" ")
        return answer[1:-2]

    def close(self):
        self.sock.close()


@pytest.fixture
def line():
    made = []

    def make(served):
        imitator = Set4Imitator([served])
        url = imitator.start("tcp://127.0.0.1:0")
        raw = Raw(url)
        made.append((imitator, raw))
        assert raw.ask(served.address, 0x01, *b"000000", size=1) == bytes([0])
        return url, raw
    yield make
    for imitator, raw in made:
        raw.close()
        imitator.stop()


# ---- the layout, by hand -------------------------------------------------------------------------
def test_the_records_are_the_described_bytes():
    # a header: 14 h 10.03.26 in BCD, a byte 00, period 30 = 1E, sum 14+10+03+26+00+1E = 6B, 00
    header = codec.HourHeader(dt.datetime(2026, 3, 10, 14), 30)
    assert codec.encode_header(header) == X("14 10 03 26 00 1E 6B 00")
    assert codec.decode_header(X("14 10 03 26 00 1E 6B 00")) == header
    assert codec.decode_header(b"\xff" * 8) is None            # never written: FF's sum is FA, not FF
    assert codec.decode_header(X("14 10 03 26 00 1E 6C 00")) is None   # a sum that does not check
    # a slice: 1234 = 04 D2, 0, 500 = 01 F4, the largest 7FFF; bit 15 on each value: incomplete
    piece = codec.Slice((1234, 0, 500, 0x7FFF))
    assert codec.encode_slice(piece) == X("04 D2 00 00 01 F4 7F FF")
    assert codec.decode_slice(X("04 D2 00 00 01 F4 7F FF")) == piece
    assert codec.encode_slice(codec.Slice((10, 0, 0, 0), True)) == X("80 0A 80 00 80 00 80 00")
    assert codec.decode_slice(X("80 0A 80 00 80 00 80 00")) == codec.Slice((10, 0, 0, 0), True)
    assert codec.decode_slice(b"\xff" * 8) is None
    # the pointer: 00 minutes with the overflow bit = 80, 14 10 03 26, address 1238h high byte first
    pointer = codec.Pointer(0x1238, dt.datetime(2026, 3, 10, 14, 0), True)
    assert codec.encode_pointer(pointer) == X("80 14 10 03 26 12 38")
    assert codec.decode_pointer(X("80 14 10 03 26 12 38")) == pointer
    assert codec.decode_pointer(X("30 09 01 01 25 00 08")) == codec.Pointer(8, dt.datetime(2025, 1, 1, 9, 30), False)
    # 30 minutes: 8 + 2 x 8 = 24 bytes a block; 24 x 2730 = 65520 <= 65536 < 24 x 2731
    assert (codec.block_length(30), codec.block_count(30)) == (BLOCK, BLOCKS)
    assert (codec.block_length(15), codec.block_count(15)) == (40, 1638)


def test_journal_times_and_the_weekday():
    # Tuesday 10 March 2026 14:05:09: ss mm hh, weekday 2 (Monday 1), DD MM YY
    assert codec.encode_event_time(dt.datetime(2026, 3, 10, 14, 5, 9)) == X("09 05 14 02 10 03 26")
    assert codec.decode_journal_record(X("09 05 14 02 10 03 26") + bytes(7)) == (dt.datetime(2026, 3, 10, 14, 5, 9),
                                                                                 None)
    # Sunday 8 March 2026: weekday 7 in the clock too
    assert codec.encode_clock(dt.datetime(2026, 3, 8, 23, 59, 58), True) == X("58 59 23 07 08 03 26 01")
    assert codec.journal_request(0x53, 1, 9) == framed(0x53, 0x04, 0x19)
    assert codec.memory_request(0x53, 0x1238, 16) == framed(0x53, 0x06, 0x03, 0x12, 0x38, 0x10)
    assert codec.request_length(framed(0x53, 0x04, 0x19)[:3]) == 5
    assert codec.request_length(framed(0x53, 0x06, 0x03, 0, 0, 8)[:3]) == 8
    with pytest.raises(codec.Set4Error, match="not a time"):
        codec.decode_journal_record(X("09 05 24 02 10 03 26") + bytes(7))


def test_bad_records_are_one_line_errors():
    with pytest.raises(codec.Set4Error, match="not a time"):
        codec.decode_header(X("1A 10 03 26 00 1E 71 00"))     # the sum checks, 1A is not BCD
    with pytest.raises(codec.Set4Error, match="divisor of 60"):
        codec.decode_header(X("14 10 03 26 00 07 54 00"))     # period 7
    with pytest.raises(codec.Set4Error, match="not a time"):
        codec.decode_pointer(X("61 14 10 03 26 12 38"))       # 61 minutes


# ---- the imitator on a socket --------------------------------------------------------------------
def _block(raw, address, number):
    at = number * BLOCK
    header = raw.ask(address, 0x06, 0x03, at >> 8, at & 0xFF, 8, size=8)
    at += 8
    slices = raw.ask(address, 0x06, 0x03, at >> 8, at & 0xFF, 16, size=16)
    return header, [slices[:8], slices[8:]]


def _values(piece: bytes):
    words = [piece[i] << 8 | piece[i + 1] for i in range(0, 8, 2)]
    return [w & 0x7FFF for w in words], {bool(w & 0x8000) for w in words}


def test_the_pointer_and_the_blocks_walk_back_through_the_story(line):
    meter = frozen()
    served = Set4Generated(meter, constant=CONSTANT)
    url, raw = line(served)
    hours = written_hours(meter)
    n = len(hours) - 1
    assert n >= BLOCKS   # 130 days of hours: the memory has wrapped
    top = raw.ask(served.address, 0x08, 0x04, size=7)
    # the slice being formed is 14:00-14:30 on 10.03.26: minutes 00 with the overflow bit
    assert top[:5] == X("80 14 10 03 26")
    pointer = top[5] << 8 | top[6]
    assert pointer == n % BLOCKS * BLOCK + 8
    seen = flagged = 0
    for back in range(1, 60):
        header, slices = _block(raw, served.address, (n - back) % BLOCKS)
        hour = hours[n - back]
        assert header[:6] == bytes.fromhex(local(hour).strftime("%H%d%m%y") + "001E")
        assert header[6] == sum(header[:6]) & 0xFF
        for i, piece in enumerate(slices):
            end = hour + 1800 * (i + 1)
            days_ago, slot = day_slot(end)
            counts, flags = _values(piece)
            # a count is 2 W (CONSTANT); the story's W are whole
            for direction in range(4):
                assert abs(2 * counts[direction] - meter.profile(days_ago, direction)[slot]) <= 2, (back, i, direction)
            cut = any(off < end and on > end - 1800 for off, on in meter.story.outages)
            assert flags == {cut}
            seen += 1
            flagged += cut
    assert seen > 100
    # the current block: this hour's header; its first slice (being formed) still holds the hour
    # written there one pass before: the slice that ended 2730 blocks ago
    header, slices = _block(raw, served.address, n % BLOCKS)
    assert header == X("14 10 03 26 00 1E 6B 00")
    days_ago, slot = day_slot(hours[n - BLOCKS] + 1800)
    counts, _ = _values(slices[0])
    assert abs(2 * counts[0] - meter.profile(days_ago, 0)[slot]) <= 2
    # a read may start inside a block and span two
    at = (n - 2) % BLOCKS * BLOCK + 20
    both = raw.ask(served.address, 0x06, 0x03, at >> 8, at & 0xFF, 8, size=8)
    first, second = _block(raw, served.address, (n - 2) % BLOCKS), _block(raw, served.address, (n - 1) % BLOCKS)
    assert both == first[1][1][4:] + second[0][:4]
    # the client reads the same
    with Set4Client(url, timeout=2) as client:
        client.open(served.address)
        assert client.profile_top(served.address) == codec.Pointer(pointer, dt.datetime(2026, 3, 10, 14, 0), True)
        head, pieces = client.profile_block(served.address, (n - 1) % BLOCKS, 30)
        assert head == codec.HourHeader(local(hours[n - 1]), 30)
        raw_header, raw_slices = _block(raw, served.address, (n - 1) % BLOCKS)
        assert [p.counts if p else None for p in pieces] == [tuple(_values(s)[0]) for s in raw_slices]


def test_an_hour_the_meter_was_off_has_no_block(line):
    meter = frozen()
    hours = written_hours(meter)
    n = len(hours) - 1
    # the written hours after an hour an outage covered whole, among the blocks not yet overwritten
    after = [j for j in range(n - BLOCKS + 2, n + 1) if hours[j] - hours[j - 1] > 3600]
    assert after
    served = Set4Generated(meter, constant=CONSTANT)
    _, raw = line(served)
    for j in after[-3:]:
        newer, _ = _block(raw, served.address, j % BLOCKS)
        older, _ = _block(raw, served.address, (j - 1) % BLOCKS)
        assert newer[:4] == bytes.fromhex(local(hours[j]).strftime("%H%d%m%y"))
        assert older[:4] == bytes.fromhex(local(hours[j - 1]).strftime("%H%d%m%y"))


def test_reads_the_meter_refuses(line):
    meter = frozen(outages=0.0)
    served = Set4Generated(meter, constant=CONSTANT)
    _, raw = line(served)
    a = served.address
    assert raw.ask(a, 0x06, 0x03, 0x00, 0x00, 1, size=1) == bytes([1])      # fewer than 2 bytes
    assert raw.ask(a, 0x06, 0x03, 0x00, 0x00, 17, size=17) == bytes([1])    # more than 16
    assert raw.ask(a, 0x06, 0x03, 0xFF, 0xE8, 16, size=16) == bytes([1])    # into FFF0h, not used
    assert len(raw.ask(a, 0x06, 0x03, 0xFF, 0xE0, 16, size=16)) == 16       # the last whole block
    assert raw.ask(a, 0x06, 0x04, 0x00, 0x00, 8, size=8) == bytes([1])      # another memory
    assert raw.ask(a, 0x04, 0x20, size=14) == bytes([1])                    # a journal not kept
    assert raw.ask(a, 0x04, 0x1A, size=14) == bytes([1])                    # record 10


def test_the_journals_are_the_storys_outages(line):
    meter = frozen()
    served = Set4Generated(meter, constant=CONSTANT)
    _, raw = line(served)
    events = [t for t, _ in meter.story.journal_events("ElJrnlPwr") if t <= NOW]
    pairs = list(zip(events[0::2], events[1::2]))
    assert len(pairs) > 10

    def when(data):
        ss, mm, hh, weekday, day, month, yy = (bcd(b) for b in data)
        moment = dt.datetime(2000 + yy, month, day, hh, mm, ss)
        assert weekday == moment.isoweekday()
        return moment
    for journal in (0x1, 0x7, 0x8, 0x9):   # the meter and each phase (the story's outages hit all three)
        got = [raw.ask(served.address, 0x04, journal << 4 | record, size=14) for record in range(10)]
        assert [(when(d[:7]), when(d[7:])) for d in got] == [(local(a), local(b)) for a, b in pairs[-10:]]
    assert meter.story.journal_events("ElJrnlOpen") == []
    assert all(raw.ask(served.address, 0x04, 0xA0 | r, size=14) == bytes(14) for r in range(10))


# ---- capture through the CLI ---------------------------------------------------------------------
def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_capture_days_writes_the_profile_and_journals_as_the_device_stamps_them(line, db_path):
    meter = frozen()
    served = Set4Generated(meter, constant=CONSTANT)
    url, _ = line(served)
    args = ("capture", "set4tm", "--port", url, "--db", db_path, "--timezone", "Europe/Moscow", "--days", "2")
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    today = dt.date(2026, 3, 10)
    start = timegrid.local_midnight(today - dt.timedelta(days=2), MSK)
    hours = set(written_hours(meter))
    # every slot ending after 8 March 00:00 up to 14:00 today whose hour the meter was on in
    ends = [e for e in range(start + 1800, NOW // 1800 * 1800 + 1, 1800) if (e - 1) // 3600 * 3600 in hours]
    stored = {ts: rest for ts, *rest in rows(
        db_path, "SELECT m.Timestamp, p.Period, p.Pp, p.Pm, p.Qp, p.Qm, p.Partial FROM MeterData m "
                 "JOIN ElectricPowerValues p ON p.Id = m.Id")}
    assert sorted(stored) == ends
    for end, (period, *powers, partial) in stored.items():
        days_ago, slot = day_slot(end)
        assert period == 30
        for direction, power in enumerate(powers):   # 0.2 W a count; the story's W are whole
            assert power == pytest.approx(meter.profile(days_ago, direction)[slot], abs=1.6)
        assert partial == int(any(off < end and on > end - 1800 for off, on in meter.story.outages))
    # ElDayEnergy at today's and yesterday's midnight: the story's registers then (0.1 Wh counts)
    day = rows(db_path, "SELECT m.Timestamp, e.Tariff, e.Ap FROM MeterData m JOIN ArchTypes a ON "
                        "a.Id = m.RecordTypeId JOIN ElectricEnergyValues e ON e.Id = m.Id WHERE a.Name = 'ElDayEnergy' "
                        "ORDER BY 1, 2")
    midnights = [timegrid.local_midnight(today - dt.timedelta(days=d), MSK) for d in (1, 0)]
    assert [(ts, t) for ts, t, _ in day] == [(m, t) for m in midnights for t in range(5)]
    for ts, tariff, wh in day:
        assert wh == pytest.approx(meter.registers(ts)[0][tariff], abs=0.11)
    journal = rows(db_path, "SELECT m.Timestamp, j.Event FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                            "JOIN JournalValues j ON j.Id = m.Id WHERE a.Name = 'ElJrnlPwr' ORDER BY 1")
    story = [(t, e) for t, e in meter.story.journal_events("ElJrnlPwr") if start <= t <= NOW]
    assert journal == story
    assert verify(db_path) == []
    again = cli(*args)   # a second capture writes nothing new and still verifies
    assert again.returncode == 0, again.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM ElectricPowerValues") == [(len(ends),)]
    assert verify(db_path) == []


class Pointing(Set4Generated):
    def __init__(self, meter, pointer):
        super().__init__(meter)
        self.pointer = pointer

    def profile_top(self):
        return self.pointer


@pytest.mark.parametrize("served, words", [
    (lambda m: Pointing(m, codec.Pointer(0xFFF8, dt.datetime(2026, 3, 10, 14), True)), ["profile pointer 0xFFF8"]),
    (lambda m: Pointing(m, codec.Pointer(0x0018, dt.datetime(2026, 3, 10, 14), True)), ["profile pointer 0x0018"]),
    (lambda m: Pointing(m, codec.Pointer(0x0013, dt.datetime(2026, 3, 10, 14), True)), ["profile pointer 0x0013"]),
    (lambda m: Pointing(m, codec.Pointer(0x0020, dt.datetime(2026, 3, 10, 16, 30), True)),
     ["2026-03-10 16:30:00", "later than the meter's clock"]),
    (lambda m: Set4Generated(m, faults=[Fault("status", b"\x08\x04", 2)]), ["status 2", "internal meter error"]),
    (lambda m: Set4Generated(m, faults=[Fault("status", b"\x04\x19", 8)]), ["status 8", "busy"]),
    (lambda m: Set4Generated(m, faults=[Fault("silent", b"\x06")]), ["no answer"]),
])
def test_a_bad_pointer_or_an_error_status_writes_nothing(line, db_path, served, words):
    url, _ = line(served(frozen(outages=0.0)))
    started = time.monotonic()
    result = cli("capture", "set4tm", "--port", url, "--db", db_path, "--timezone", "Europe/Moscow",
                 "--days", "1", "--answer-timeout", "0.5")
    assert time.monotonic() - started < 60
    assert result.returncode == 3, (result.stdout, result.stderr)
    [error] = result.stderr.strip().splitlines()
    assert all(word in error for word in words) and "Traceback" not in result.stderr, error
    assert rows(db_path, "SELECT COUNT(*) FROM MeterData") == [(0,)]


# ---- the meter constant: chosen to hold the story, never a clipped count -------------------------
def test_the_default_constant_holds_the_story_and_one_that_would_clip_is_refused():
    """A count is 1/(2A) kWh: a slot of average power P (W) over 30 minutes is P * A / 1000 counts,
    at most 7FFFh.  The SET-4TM.03M's A = 5000 holds 6553 W; this meter's story goes higher, so the
    default is the first of 5000, 2500, 1250, 500, 250 that holds its largest slot (hand-computed
    from the story's half-hour energies), and 5000 named explicitly is refused in one line."""
    from GenerateMeterData.errors import InputError

    meter = frozen()
    series = meter.story.series
    peak = max(max(c) for c in (series.ap, series.am, series.rp, series.rm)) * 2 / 1000
    assert peak > 32767 * 1000 / 5000, peak   # the case: more than the 5(10) A meter's constant holds
    expected = next(a for a in (5000, 2500, 1250, 500, 250) if round(peak * a / 1000) <= 32767)
    served = Set4Generated(meter)
    assert served.constant == expected
    ends = [e for e in series.ends if e <= NOW]
    top = 0
    for end in ends:
        piece = codec.decode_slice(codec.encode_slice(served._slice(end)))
        if piece is None:
            continue
        powers, _ = meter.slot_counted(end)
        hand = [w * expected / 1000 if m else 0 for w, m in zip(powers, served.directions)]
        assert all(abs(c - h) <= 0.5 + 1e-6 for c, h in zip(piece.counts, hand)), (piece.counts, hand)
        top = max(top, *piece.counts)
    assert 0 < top < 32767
    with pytest.raises(InputError, match=f"--set4-constant 5000: .* give {expected} "):
        Set4Generated(meter, constant=5000)
