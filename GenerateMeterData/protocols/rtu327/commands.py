"""The data fields of each RTU-327 command: request builders, request parsers (for a server),
answer encoders (for a server) and answer decoders (for a client).

Fields are little-endian as the testers pack them (``to_bytes(..., 'little')``, ``struct '<d'``);
FLOAT8 is an IEEE double, TIME_T a UINT32 of Unix seconds.  Sources, all in
TR1GUN/rtu327-autotests: ``Service/Service_function.py`` (decode_/code_data_to_*), the
``command_*.py`` request builders, ``device_tests.py`` (the 2019 suite: GETAUTOREAD's 198 bytes,
GETSHPRM's 40).  Where the evidence is silent the docstring says **choice**.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# ---- meter address ---------------------------------------------------------------------------------
NSH_DIGITS = 10


def nsh(serial: object) -> bytes:
    """The 5-byte BCD meter number of an ElectricConfig.Serial (``int(str(Serial), 16)
    .to_bytes(5, 'big')`` in Service_function.py ``get_form_NSH``).

    **Choice**: a serial longer than 10 digits (real CE303 and MILUR serials have 15) is addressed
    by its *last* 10 digits -- the part that tells meters of one batch apart; a shorter one is
    zero-padded on the left.  A serial with anything but digits cannot be addressed (ValueError)."""
    text = str(serial).strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"RTU-327: serial {serial!r} is not numeric; NSH is BCD")
    return bytes.fromhex(address_digits(text))


def address_digits(serial: str) -> str:
    """The 10 digits a numeric serial is addressed by (its last 10, zero-padded)."""
    return serial[-NSH_DIGITS:].rjust(NSH_DIGITS, "0")


def nsh_digits(value: bytes) -> str:
    """The 10 digits of a 5-byte NSH (ValueError when a nibble is not a decimal digit)."""
    if len(value) != 5:
        raise ValueError("RTU-327: NSH is 5 bytes")
    text = value.hex()
    if not text.isdigit():
        raise ValueError(f"RTU-327: NSH {text} is not BCD")
    return text


# ---- small codecs ----------------------------------------------------------------------------------
_TIME = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")


def _time(value: int) -> bytes:
    return _TIME.pack(int(value) & 0xFFFFFFFF)


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) < size:
        raise ValueError(f"RTU-327 {what}: {len(data)} data bytes, {size} needed")


def _exact(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise ValueError(f"RTU-327 {what}: {len(data)} data bytes, {size} expected")


def _mask(names: Sequence[str], chosen: Sequence[str], what: str) -> int:
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise ValueError(f"RTU-327 {what}: unknown channel(s) {', '.join(unknown)}; known: {', '.join(names)}")
    return sum(1 << names.index(name) for name in chosen)


def _unmask(names: Sequence[str], mask: int) -> Tuple[str, ...]:
    return tuple(name for bit, name in enumerate(names) if mask >> bit & 1)


# ---- GETVERSION, GETTIME, SETTIME ----------------------------------------------------------------
def encode_version(text: str) -> bytes:
    """GETVERSION answer: 6 ASCII characters, 2 digits each of major, middle, minor ("020102"
    in the tested firmware, command_service.py)."""
    data = text.encode("ascii")
    _exact(data, 6, "GETVERSION")
    return data


def decode_version(data: bytes) -> str:
    _exact(data, 6, "GETVERSION")
    return data.decode("ascii", "replace")


def encode_time(epoch: int) -> bytes:
    """GETTIME answer: TIME_T, the device's Unix time (compared with ``date +%s``)."""
    return _time(epoch)


def decode_time(data: bytes) -> int:
    _exact(data, 4, "GETTIME")
    return _TIME.unpack(data)[0]


def build_settime(correction: int) -> bytes:
    """SETTIME request: the correction in seconds, INT32 signed (command_service.py); the answer
    has no data."""
    return struct.pack("<i", correction)


def parse_settime(data: bytes) -> int:
    _exact(data, 4, "SETTIME")
    return struct.unpack("<i", data)[0]


# ---- GETMAXLOGID, GETLOG (the concentrator's own event log) ----------------------------------------
def build_maxlogid(section: int = 1) -> bytes:
    """GETMAXLOGID request: one byte, the log section (the testers send 0x01).  Answer: 4 bytes.
    **Choice**: UINT32 little-endian like every other field (the testers read it only as a
    number that grows)."""
    return bytes([section])


def encode_maxlogid(value: int) -> bytes:
    return _TIME.pack(value)


def decode_maxlogid(data: bytes) -> int:
    _exact(data, 4, "GETMAXLOGID")
    return _TIME.unpack(data)[0]


def build_getlog(section: int, first_id: int, count: int) -> bytes:
    """GETLOG request: Nsect (4 bytes), Id (4), Num (2) as device_tests.py sends them.
    **Choice**: little-endian (the testers' literal ``00 00 00 01`` reads either way only for 0)."""
    return struct.pack("<IIH", section, first_id, count)


def parse_getlog(data: bytes) -> Tuple[int, int, int]:
    _exact(data, 10, "GETLOG")
    return struct.unpack("<IIH", data)


@dataclass(frozen=True)
class LogEvent:
    """One event of the concentrator's log.  **Choice** (no evidence of the answer's layout):
    Id UINT32, time TIME_T, code INT16."""

    event_id: int
    time: int
    code: int


_LOG = struct.Struct("<IIh")


def encode_log(events: Sequence[LogEvent]) -> bytes:
    return b"".join(_LOG.pack(e.event_id, e.time, e.code) for e in events)


def decode_log(data: bytes) -> List[LogEvent]:
    if len(data) % _LOG.size:
        raise ValueError(f"RTU-327 GETLOG: {len(data)} bytes is not a whole number of {_LOG.size}-byte events")
    return [LogEvent(*_LOG.unpack_from(data, i)) for i in range(0, len(data), _LOG.size)]


# ---- GETSHPRM ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeterParameters:
    """GETSHPRM answer (40 bytes): Vers INT16 (1), Typ_Sh INT8, Kt/Kn/M FLOAT8, Interv INT8,
    Syb_Rnk/N_Ob/N_Fid INT32 (Service_function.py ``code_data_to_GETSHPRM``)."""

    Vers: int
    Typ_Sh: int
    Kt: float
    Kn: float
    M: float
    Interv: int
    Syb_Rnk: int
    N_Ob: int
    N_Fid: int


_SHPRM = struct.Struct("<hbdddbiii")


def build_shprm(serial: object) -> bytes:
    """GETSHPRM request: NSH alone."""
    return nsh(serial)


def encode_shprm(p: MeterParameters) -> bytes:
    return _SHPRM.pack(p.Vers, p.Typ_Sh, p.Kt, p.Kn, p.M, p.Interv, p.Syb_Rnk, p.N_Ob, p.N_Fid)


def decode_shprm(data: bytes) -> MeterParameters:
    _exact(data, _SHPRM.size, "GETSHPRM")
    return MeterParameters(*_SHPRM.unpack(data))


# ---- GETPOK ------------------------------------------------------------------------------------------
POK_CHANNELS = ("A+", "A-", "R+", "R-")   # Chnl bits 0..3 (command_GETPOK.py: Rm Rp Am Ap from bit 3 down)


def build_pok(serial: object, time: int, channels: Sequence[str] = POK_CHANNELS) -> bytes:
    """GETPOK request: NSH, Chnl UINT8 (bit 0 A+, 1 A-, 2 R+, 3 R-), TIME_T."""
    return nsh(serial) + bytes([_mask(POK_CHANNELS, channels, "GETPOK")]) + _time(time)


def parse_pok(data: bytes) -> Tuple[str, Tuple[str, ...], int]:
    _exact(data, 10, "GETPOK")
    return nsh_digits(data[:5]), _unmask(POK_CHANNELS, data[5]), _TIME.unpack(data[6:10])[0]


def encode_pok(values: Sequence[float]) -> bytes:
    """GETPOK answer: one FLOAT8 (kWh) per requested channel, in bit order."""
    return b"".join(_DOUBLE.pack(v) for v in values)


def decode_pok(data: bytes, channels: Sequence[str]) -> Dict[str, float]:
    ordered = [name for name in POK_CHANNELS if name in channels]
    _exact(data, 8 * len(ordered), "GETPOK")
    return {name: _DOUBLE.unpack_from(data, 8 * i)[0] for i, name in enumerate(ordered)}


# ---- GETLP (and GETSHORTLP, GETLPCMN) ------------------------------------------------------------------
LP_CHANNELS = ("P+", "P-", "Q+", "Q-")    # Kanal bits 0..3 (command_GETLP.py: Qm Qp Pm Pp from bit 3 down)
STAT_NO_READINGS = 0x01   # "bit 0 - no meter readings" (Service_function.py decode_data_to_GETLP)
STAT_OVERFLOW = 0x02      # "bit 1 - readings passed through zero"
STAT_PARTIAL = 0x04       # choice: the incomplete-slot flag (isPart); the evidence names bits 0-1 only


@dataclass(frozen=True)
class ProfileSlot:
    """One interval: FLOAT8 kWh per requested channel, then Stat INT8."""

    values: Tuple[float, ...]
    stat: int


@dataclass(frozen=True)
class Profile:
    """GETLP answer: Cnt UINT16 (bit 15 set, bits 0-14 the count), Status INT8, TLast TIME_T (the
    end of the last interval sent), then the intervals oldest first."""

    channels: Tuple[str, ...]
    status: int
    last: int
    slots: Tuple[ProfileSlot, ...]

    def times(self, period_minutes: int) -> List[int]:
        """The end of each interval, counted back from ``last`` by the profile period."""
        n = len(self.slots)
        return [self.last - (n - 1 - i) * period_minutes * 60 for i in range(n)]


def build_lp(serial: object, start: int, count: int, channels: Sequence[str] = LP_CHANNELS) -> bytes:
    """GETLP request: NSH, Kanal UINT8 (bit 0 P+, 1 P-, 2 Q+, 3 Q-), Tstart TIME_T, Kk UINT16."""
    return nsh(serial) + bytes([_mask(LP_CHANNELS, channels, "GETLP")]) + _time(start) + struct.pack("<H", count)


def parse_lp(data: bytes) -> Tuple[str, Tuple[str, ...], int, int]:
    _exact(data, 12, "GETLP")
    return (nsh_digits(data[:5]), _unmask(LP_CHANNELS, data[5]), _TIME.unpack(data[6:10])[0],
            struct.unpack("<H", data[10:12])[0])


def encode_lp(profile: Profile) -> bytes:
    if len(profile.slots) > 0x7FFF:
        raise ValueError("RTU-327 GETLP: at most 32767 intervals in one answer")
    out = [struct.pack("<HbI", 0x8000 | len(profile.slots), profile.status, profile.last)]
    for slot in profile.slots:
        out.append(b"".join(_DOUBLE.pack(v) for v in slot.values) + struct.pack("<b", slot.stat))
    return b"".join(out)


def decode_lp(data: bytes, channels: Sequence[str]) -> Profile:
    ordered = tuple(name for name in LP_CHANNELS if name in channels)
    _need(data, 7, "GETLP")
    count_word, status, last = struct.unpack_from("<HbI", data)
    count = count_word & 0x7FFF
    size = 8 * len(ordered) + 1
    _exact(data, 7 + count * size, "GETLP")
    slots = []
    for i in range(count):
        offset = 7 + i * size
        values = tuple(_DOUBLE.unpack_from(data, offset + 8 * j)[0] for j in range(len(ordered)))
        slots.append(ProfileSlot(values, struct.unpack_from("<b", data, offset + size - 1)[0]))
    return Profile(ordered, status, last, tuple(slots))


def build_shortlp(serial: object, interval: int, start: int, count: int,
                  channels: Sequence[str] = LP_CHANNELS) -> bytes:
    """GETSHORTLP request: NSH, Kanal, Interval UINT8, Tstart, Kk UINT16 (device_tests.py, a
    commented-out draft).  **Choice**: the answer has GETLP's layout; Interval 0 means the meter's
    own profile period."""
    return (nsh(serial) + bytes([_mask(LP_CHANNELS, channels, "GETSHORTLP"), interval]) + _time(start)
            + struct.pack("<H", count))


def parse_shortlp(data: bytes) -> Tuple[str, Tuple[str, ...], int, int, int]:
    _exact(data, 13, "GETSHORTLP")
    return (nsh_digits(data[:5]), _unmask(LP_CHANNELS, data[5]), data[6], _TIME.unpack(data[7:11])[0],
            struct.unpack("<H", data[11:13])[0])


LPCMN_LOAD_PROFILE = 1


def build_lpcmn(serial: object, kind: int, start: int, count: int, channels: Sequence[str] = LP_CHANNELS) -> bytes:
    """GETLPCMN request ("a profile of any type"; no evidence of its fields).  **Choice**: NSH,
    profile type UINT8 (1 = the load profile, the only one meter.db has), Kanal, Tstart, Kk UINT16;
    the answer has GETLP's layout."""
    return (nsh(serial) + bytes([kind, _mask(LP_CHANNELS, channels, "GETLPCMN")]) + _time(start)
            + struct.pack("<H", count))


def parse_lpcmn(data: bytes) -> Tuple[str, int, Tuple[str, ...], int, int]:
    _exact(data, 13, "GETLPCMN")
    return (nsh_digits(data[:5]), data[5], _unmask(LP_CHANNELS, data[6]), _TIME.unpack(data[7:11])[0],
            struct.unpack("<H", data[11:13])[0])


# ---- GETTESTS ------------------------------------------------------------------------------------------
#: BITSTATS bits 1..18 (bit 0 unused), Service_function.py ``Vals_dict_bit_mask``
TEST_FIELDS = ("Wa", "Wb", "Wc", "VAa", "VAb", "VAc", "FREQ", "Ia", "Ib", "Ic", "Ua", "Ub", "Uc",
               "PFangA", "PFangB", "PFangC", "PHangB", "PhangC")
#: what the tested device sends: bits 1-13, 17, 18 (form_data_to_GETTESTS)
DEVICE_TEST_FIELDS = TEST_FIELDS[:13] + ("PHangB", "PhangC")


@dataclass(frozen=True)
class TestRecord:
    """One measurement: Time TIME_T, then one FLOAT8 per BITSTATS bit (kW/kVA for W*/VA*)."""

    __test__ = False   # not a pytest test class
    time: int
    values: Dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Tests:
    """GETTESTS answer: BITSTATS INT32, Realint INT8 (records), Elm INT8 (voltage elements; 2 on
    the tested device), the records."""

    __test__ = False
    fields: Tuple[str, ...]
    elements: int
    records: Tuple[TestRecord, ...]


def build_tests(serial: object, start: int, count: int = 1) -> bytes:
    """GETTESTS request: NSH, Tstart TIME_T, NumTests UINT8."""
    return nsh(serial) + _time(start) + bytes([count])


def parse_tests(data: bytes) -> Tuple[str, int, int]:
    _exact(data, 10, "GETTESTS")
    return nsh_digits(data[:5]), _TIME.unpack(data[5:9])[0], data[9]


def encode_tests(tests: Tests) -> bytes:
    bits = sum(1 << (TEST_FIELDS.index(name) + 1) for name in tests.fields)
    out = [struct.pack("<ibb", bits, len(tests.records), tests.elements)]
    ordered = [name for name in TEST_FIELDS if name in tests.fields]
    for record in tests.records:
        out.append(_time(record.time) + b"".join(_DOUBLE.pack(record.values[name]) for name in ordered))
    return b"".join(out)


def decode_tests(data: bytes) -> Tests:
    _need(data, 6, "GETTESTS")
    bits, count, elements = struct.unpack_from("<ibb", data)
    ordered = tuple(name for i, name in enumerate(TEST_FIELDS) if bits >> (i + 1) & 1)
    size = (4 if bits else 0) + 8 * len(ordered)
    _exact(data, 6 + count * size, "GETTESTS")
    records = []
    for i in range(count):
        offset = 6 + i * size
        time = _TIME.unpack_from(data, offset)[0] if bits else 0
        base = offset + (4 if bits else 0)
        records.append(TestRecord(time, {name: _DOUBLE.unpack_from(data, base + 8 * j)[0]
                                         for j, name in enumerate(ordered)}))
    return Tests(ordered, elements, tuple(records))


# ---- GETAUTOREAD -------------------------------------------------------------------------------------
AUTOREAD_CHANNELS = ("A+", "A-", "R+", "R-")   # Kanal 1..4 (command_GETAUTOREAD.py)
AUTOREAD_SIZE = 198                             # device_tests.py: assertEqual(198, len(answer_data))
_TARIFF = struct.Struct("<ddIdd")              # kwh, kw (max), td (time of max), kwcum, kwc
NO_VALUE = -1.0                                 # what the device sends for a field it has no value of


@dataclass(frozen=True)
class AutoRead:
    """One fixed reading: Nsh STR<10> (sent byte-reversed: the testers reverse it to read it),
    Dd_mm_yyyy TIME_T, per tariff 1-4 kwh/kw/td/kwcum/kwc, Kwha, Q1-Q4.  The tested device sends
    -1.0 in every max/cumulative field, in Kwha and Q1-Q4, and 0 in the times."""

    serial: str
    time: int
    kwh: Tuple[float, float, float, float]
    kw: Tuple[float, float, float, float] = (NO_VALUE,) * 4
    td: Tuple[int, int, int, int] = (0, 0, 0, 0)
    kwcum: Tuple[float, float, float, float] = (NO_VALUE,) * 4
    kwc: Tuple[float, float, float, float] = (NO_VALUE,) * 4
    kwha: float = NO_VALUE
    quadrants: Tuple[float, float, float, float] = (NO_VALUE,) * 4


def build_autoread(serial: object, day: int, channel: str = "A+", count: int = 1) -> bytes:
    """GETAUTOREAD request: NSH, Tday TIME_T (the tests send the record's stamp - 1), Kanal INT8
    (1 A+, 2 A-, 3 R+, 4 R-), Kk INT8."""
    if channel not in AUTOREAD_CHANNELS:
        raise ValueError(f"RTU-327 GETAUTOREAD: channel {channel!r}; known: {', '.join(AUTOREAD_CHANNELS)}")
    return nsh(serial) + _time(day) + struct.pack("<bb", AUTOREAD_CHANNELS.index(channel) + 1, count)


def parse_autoread(data: bytes) -> Tuple[str, int, int, int]:
    _exact(data, 11, "GETAUTOREAD")
    kanal, count = struct.unpack("<bb", data[9:11])
    return nsh_digits(data[:5]), _TIME.unpack(data[5:9])[0], kanal, count


def encode_autoread(records: Sequence[AutoRead]) -> bytes:
    out = []
    for r in records:
        digits = address_digits(r.serial).encode("ascii")
        out.append(digits[::-1] + _time(r.time))
        for t in range(4):
            out.append(_TARIFF.pack(r.kwh[t], r.kw[t], r.td[t], r.kwcum[t], r.kwc[t]))
        out.append(struct.pack("<5d", r.kwha, *r.quadrants))
    return b"".join(out)


def decode_autoread(data: bytes) -> List[AutoRead]:
    if len(data) % AUTOREAD_SIZE:
        raise ValueError(f"RTU-327 GETAUTOREAD: {len(data)} bytes is not a whole number of {AUTOREAD_SIZE}-byte records")
    records = []
    for offset in range(0, len(data), AUTOREAD_SIZE):
        serial = data[offset:offset + 10][::-1].decode("ascii", "replace")
        time = _TIME.unpack_from(data, offset + 10)[0]
        tariffs = [_TARIFF.unpack_from(data, offset + 14 + t * _TARIFF.size) for t in range(4)]
        tail = struct.unpack_from("<5d", data, offset + 14 + 4 * _TARIFF.size)
        records.append(AutoRead(serial, time, tuple(x[0] for x in tariffs), tuple(x[1] for x in tariffs),  # type: ignore[arg-type]
                                tuple(x[2] for x in tariffs), tuple(x[3] for x in tariffs),  # type: ignore[arg-type]
                                tuple(x[4] for x in tariffs), tail[0], tuple(tail[1:])))  # type: ignore[arg-type]
    return records


# ---- GETMTRLOG ---------------------------------------------------------------------------------------
_EVENT = struct.Struct("<Ih")


def build_mtrlog(serial: object, start: int, count: int) -> bytes:
    """GETMTRLOG request: NSH, Tstart TIME_T, Cnt INT16."""
    return nsh(serial) + _time(start) + struct.pack("<h", count)


def parse_mtrlog(data: bytes) -> Tuple[str, int, int]:
    _exact(data, 11, "GETMTRLOG")
    return nsh_digits(data[:5]), _TIME.unpack(data[5:9])[0], struct.unpack("<h", data[9:11])[0]


def encode_mtrlog(events: Sequence[Tuple[int, int]]) -> bytes:
    """GETMTRLOG answer: (evTime TIME_T, evType INT16) repeated."""
    return b"".join(_EVENT.pack(time, code) for time, code in events)


def decode_mtrlog(data: bytes) -> List[Tuple[int, int]]:
    if len(data) % _EVENT.size:
        raise ValueError(f"RTU-327 GETMTRLOG: {len(data)} bytes is not a whole number of 6-byte events")
    return [_EVENT.unpack_from(data, i) for i in range(0, len(data), _EVENT.size)]


# ---- GETTOU ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TouReading:
    """One tariff reading: TIME_T, then FLOAT8 kWh of the total and tariffs 1-4."""

    time: int
    values: Tuple[float, float, float, float, float]


_TOU = struct.Struct("<I5d")


def build_tou(serial: object, channel: str = "A+") -> bytes:
    """GETTOU request ("current and previous tariff readings"; no evidence of its fields).
    **Choice**: NSH and Kanal INT8 as GETAUTOREAD's (1 A+ ... 4 R-); the answer is the current
    reading then the previous one (TouReading each)."""
    if channel not in AUTOREAD_CHANNELS:
        raise ValueError(f"RTU-327 GETTOU: channel {channel!r}; known: {', '.join(AUTOREAD_CHANNELS)}")
    return nsh(serial) + struct.pack("<b", AUTOREAD_CHANNELS.index(channel) + 1)


def parse_tou(data: bytes) -> Tuple[str, int]:
    _exact(data, 6, "GETTOU")
    return nsh_digits(data[:5]), struct.unpack("<b", data[5:6])[0]


def encode_tou(current: TouReading, previous: TouReading) -> bytes:
    return _TOU.pack(current.time, *current.values) + _TOU.pack(previous.time, *previous.values)


def decode_tou(data: bytes) -> Tuple[TouReading, TouReading]:
    _exact(data, 2 * _TOU.size, "GETTOU")
    first, second = _TOU.unpack_from(data, 0), _TOU.unpack_from(data, _TOU.size)
    return TouReading(first[0], tuple(first[1:])), TouReading(second[0], tuple(second[1:]))  # type: ignore[arg-type]


def float_or_none(value: float) -> Optional[float]:
    """A served FLOAT8 as a value: the device's -1.0 "no value" marker -> None."""
    return None if value == NO_VALUE else value
