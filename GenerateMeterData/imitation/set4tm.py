"""The ``set4tm`` protocol of ``decode``, ``imitate`` and ``capture``: a generated meter as the wire
layer's ``Set4Meter`` (SET-4TM.03M, PSCh-4TM), its options, and a reading for ``capture``.  Frames,
requests, units and scaling are ``protocols/set4tm``'s (sources cited there); this module only says
which value of the generated meter each request reports and which meter.db tag each answer fills.

What a served meter says, at wall-clock time in its time zone, as the Mercury 230 imitator does
(``imitation/mercury.py``'s ``V2Generated``: the same story, the same arrays): the serial number,
the clock with the season byte, the energy arrays from reset (total and tariffs 1-4), today,
yesterday and the months the archive reaches, in counts of the meter constant (the first of 5000,
2500 ... 250 impulses per kWh that holds the story, unless ``--set4-constant``), the instantaneous values held from the opening of the channel,
the profile memory (``Set4Generated``: an hour block for every hour the meter was on in, 30-minute
slices, slices an outage cut flagged incomplete) and the journals of ``SET4_JOURNALS`` from the
story's events (the last ten, record 9 the newest); faults planted with ``--fault`` (Mercury
230's, but gaps).  ``capture --days N`` reads the profile and journals too (``read_archives``).
The serial is a 4-byte number on the wire: a generated serial above 4294967295 cannot be served
(``imitate`` refuses it in one line); capture writes it with 10 digits, as the meters' passports
print it (0814200459).

The default network address is the serial's last three digits, the last two above 239 (the rule
of Mercury 230, which the document's example meter follows: serial 805181783 at address 0x53 = 83).
Passwords are six ASCII characters (``000000`` is ``30 30 30 30 30 30`` on the wire); the meter
finds the access level from the password.  ``--network-address`` and ``--answer-timeout`` are the
Mercury options (one set for the frame family)."""
from __future__ import annotations

import bisect
import datetime as dt
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import InputError
from ..protocols.mercury import v2
from ..protocols.set4tm import codec
from ..schema.layout import ENERGY_QUANTITIES
from ..schema.reference import METER_KINDS
from .faults import Fault, parse_fault
from .mercury import V2_PERIOD, V2Generated, V2_TAGS, _stamp, optional, read_journals, v2_address

MANUFACTURER = "NZF"   # the Frunze plant, Nizhny Novgorod (MANUFACTURER_TYPES)
DEFAULT_PASSWORD = "000000"
#: the constants a default picks from, first that holds the story: 5000 (SET-4TM.03M 5(10) A) and
#: the smaller ones of larger-current variants; 6250 and 6400 only when asked for
FITTING_CONSTANTS = (5000, 2500, 1250, 500, 250)
MAX_SERIAL = 2 ** 32 - 1
#: the integration period of the profile served and captured (minutes): the generated story's slots
PERIOD = V2_PERIOD
#: whole days of hour blocks the profile memory holds at that period (2730 hours)
PROFILE_DAYS = codec.block_count(PERIOD) // 24
#: the meter.db journal each SET-4TM journal (``codec.JOURNALS``) is
SET4_JOURNALS: Dict[int, str] = {0x1: "ElJrnlPwr", 0x7: "ElJrnlPwrA", 0x8: "ElJrnlPwrB", 0x9: "ElJrnlPwrC",
                                 0xA: "ElJrnlOpen"}
#: the float groups capture reads -> for each slot (sum, A, B, C) the quantity's (name, phase)
GROUP_TAGS: Dict[str, Tuple[Optional[str], ...]] = {
    name: tuple(V2_TAGS.get((name, phase)) for phase in range(4)) for name in ("U", "I", "P", "Q", "S", "cos")
}


def password_bytes(text: str, option: str = "--set4-password") -> bytes:
    raw = text.encode("ascii", "replace")
    if len(raw) != 6 or not text.isprintable():
        raise InputError(f"{option} {text!r}: a SET-4TM password is 6 printable ASCII characters (000000)")
    return raw


class Set4Generated(V2Generated):
    """A ``GeneratedMeter`` as a SET-4TM (``protocols.set4tm.codec.Set4Meter``): the Mercury 230
    imitator's story with SET-4TM's passwords, meter constant, profile memory and journals.

    The profile memory: an hour block (header and two 30-minute slices, 24 bytes) for every hour
    the meter was on in, from the story's first midnight (the array's initialisation, block 0)
    on; an hour an outage covers whole gets no block (the meter was off: the next block is the
    next hour it was on in, its header says which).  Block k (the k-th hour written) is at
    ``(k % 2730) * 24``: the memory wraps after 2730 hours (113 days 18 hours), so a story of
    130 days has wrapped (the overflow flag).  A slice an outage cuts holds what was counted while
    the meter was on, flagged incomplete (bit 15), a slice of the hour before the meter came back
    0 and flagged.  The current hour's header is written, its slices up to the one being formed;
    the rest of its block still holds the hour written there one pass before (FF before any)."""

    profile_period = PERIOD

    def __init__(self, meter, address: Optional[int] = None, password: bytes = b"000000",
                 admin_password: bytes = b"000000", constant: Optional[int] = None,
                 faults: Sequence[Fault] = ()) -> None:
        super().__init__(meter, address, {codec.USER: password, codec.ADMIN: admin_password}, faults)
        if not meter.serial.isdigit() or int(meter.serial) > MAX_SERIAL:
            raise InputError(f"meter serial {meter.serial}: a SET-4TM sends its serial as a 4-byte number (at most "
                             f"{MAX_SERIAL}); give another --meter-seed")
        peak = self.peak_w()
        if constant is None:
            constant = fitting_constant(peak)
        elif v2.pulses(peak, PERIOD, constant) > codec.MAX_COUNT:
            raise InputError(f"--set4-constant {constant}: a 30-minute slice of this meter's story averages up to "
                             f"{peak / 1000:.1f} kW, more than a count of 7FFFh holds at that constant "
                             f"({codec.MAX_COUNT / constant:.1f} kW); give {fitting_constant(peak)} or leave the "
                             "option out")
        self.constant = constant
        self._hours: Optional[Tuple[int, List[int]]] = None

    def peak_w(self) -> float:
        """The largest average power (W) of any direction over any 30-minute slot of the story."""
        series = self.meter.story.series
        return max((max(channel, default=0) for channel in (series.ap, series.am, series.rp, series.rm)),
                   default=0) * 2 / 1000

    def _registers(self, ts: int, tariff: int) -> List[float]:  # type: ignore[override]
        """The registers as the SET-4TM counts them, at ``ts``: each tariff's in whole counts of
        1/(2A) kWh, the total their sum (the meter counts into the tariff in force); the day and
        month arrays are differences of these."""
        rows = self.meter.registers(ts)
        tariffs = range(1, 5) if tariff == 0 and self.meter.tariffed else (tariff,)
        return [codec.watt_hours(sum(codec.impulses(row[t], self.constant) for t in tariffs), self.constant)
                for row in rows]

    # -- the profile memory
    def _hour_start(self, ts: int) -> int:
        offset = int((dt.datetime.fromtimestamp(ts, self.meter.tz).utcoffset() or dt.timedelta(0)).total_seconds())
        return ts - (ts + offset) % 3600

    def written_hours(self) -> List[int]:
        """The starts of the hours the profile has a block for, oldest first, the current hour last."""
        current = self._hour_start(self.meter.now())
        if self._hours is None or self._hours[0] != current:
            outages = self.meter.story.outages
            offs = [off for off, _ in outages]
            first = self.meter.midnight(self.meter.story.origin_day)

            def dark(hour: int) -> bool:   # an outage covers the hour whole
                i = bisect.bisect_right(offs, hour) - 1
                return i >= 0 and outages[i][1] >= hour + 3600
            self._hours = (current, [h for h in range(first, current, 3600) if not dark(h)] + [current])
        return self._hours[1]

    def _slice(self, end: int) -> Optional[codec.Slice]:
        counted = self.meter.slot_counted(end)
        if counted is None:
            return None
        powers, cut = counted
        counts = tuple(v2.pulses(w, PERIOD, self.constant) if measured else 0
                       for w, measured in zip(powers, self.directions))
        return codec.Slice(counts, cut)  # type: ignore[arg-type]

    def _block(self, hour: int, now: int) -> List[bytes]:
        """An hour block's header and slices as written by ``now`` (a slice not yet ended: None)."""
        from ..model import timegrid

        local = timegrid.local_datetime(hour, self.meter.tz).replace(tzinfo=None)
        ends = [hour + (i + 1) * PERIOD * 60 for i in range(60 // PERIOD)]
        return [codec.encode_header(codec.HourHeader(local, PERIOD))] + \
            [codec.encode_slice(self._slice(end)) if end <= now else b"" for end in ends]

    def profile_top(self) -> codec.Pointer:
        from ..model import timegrid

        hours, now = self.written_hours(), self.meter.now()
        index = (now - hours[-1]) // (PERIOD * 60)
        count = codec.block_count(PERIOD)
        address = ((len(hours) - 1) % count * codec.block_length(PERIOD) + codec.HEADER_LENGTH
                   + index * codec.SLICE_LENGTH)
        start = timegrid.local_datetime(hours[-1] + index * PERIOD * 60, self.meter.tz).replace(tzinfo=None)
        return codec.Pointer(address, start, len(hours) > count)

    def profile_block(self, number: int) -> bytes:
        hours, now = self.written_hours(), self.meter.now()
        count, last = codec.block_count(PERIOD), len(hours) - 1
        k = last - (last - number) % count
        if not 0 <= number < count or k < 0:
            return b"\xff" * codec.block_length(PERIOD)
        parts = self._block(hours[k], now)
        if k == last:   # the current hour: the slices still to come hold the pass before
            before = self._block(hours[k - count], now) if k >= count else None
            parts = [part or (before[i] if before else codec.encode_slice(None)) for i, part in enumerate(parts)]
        return b"".join(parts)

    # -- the journals
    def journal_times(self, number: int,
                      record: int) -> Optional[Tuple[Optional[dt.datetime], Optional[dt.datetime]]]:
        """Record ``record`` of journal ``number``: the last ten records, 0 the oldest and 9 the
        newest (zeros before the first of a journal with fewer); None: a journal not kept."""
        from ..model import timegrid

        name = SET4_JOURNALS.get(number)
        if name is None:
            return None
        records = self.event_records(name)[-codec.JOURNAL_RECORDS:]
        n = record - (codec.JOURNAL_RECORDS - len(records))
        if n < 0:
            return None, None
        return tuple(None if t is None else timegrid.local_datetime(t, self.meter.tz).replace(tzinfo=None)
                     for t in records[n])  # type: ignore[return-value]


# ---- the registry's functions ------------------------------------------------------------------
def options(command: str, p) -> None:
    """The options of ``imitate set4tm`` and ``capture set4tm`` (with Mercury's --network-address and
    --answer-timeout)."""
    if command == "imitate":
        p.add_argument("--set4-password", default=DEFAULT_PASSWORD,
                       help="SET-4TM: the level 1 password, 6 ASCII characters (default 000000); also capture's")
        p.add_argument("--set4-admin-password", default=DEFAULT_PASSWORD,
                       help="SET-4TM: the level 2 password (default 000000)")
        p.add_argument("--set4-constant", type=int, default=None,
                       help="SET-4TM: the meter constant in impulses per kWh, one of "
                            f"{', '.join(str(c) for c in sorted(codec.CONSTANT_CODE))} (default: the first of "
                            f"{', '.join(str(c) for c in FITTING_CONSTANTS)} whose largest profile count, 7FFFh per "
                            "30 minutes, holds the story's largest slot); energy leaves as counts of "
                            "1/(2 constant) kWh")
    elif command == "capture":
        p.add_argument("--set4-password", default=DEFAULT_PASSWORD,
                       help="SET-4TM: the password the channel is opened with (default 000000)")


def check(command: str, args) -> None:
    """Addresses in range, passwords of six characters, a known constant, a serial of 4 bytes."""
    address = getattr(args, "network_address", None)
    if command == "decode":
        return
    password_bytes(args.set4_password)
    if command == "imitate":
        password_bytes(args.set4_admin_password, "--set4-admin-password")
        if args.set4_constant is not None and args.set4_constant not in codec.CONSTANT_CODE:
            raise InputError(f"--set4-constant {args.set4_constant}: a SET-4TM's constant is one of "
                             f"{', '.join(str(c) for c in sorted(codec.CONSTANT_CODE))}")
        if getattr(args, "mode", "C") != "C":
            raise InputError(f"--mode {args.mode}: protocol modes are IEC 62056-21's (imitate iec); SET-4TM has none")
        if getattr(args, "obis", None):
            raise InputError(f"-o {args.obis[0]}: imitate set4tm takes no register overrides yet (the story's "
                             "values are served)")
        kind = METER_KINDS.get(args.meter_type)
        if kind is not None and (kind.family != "electric" or kind.phases != 3):
            raise InputError(f"--meter-type {args.meter_type}: set4tm serves a three-phase electricity meter, "
                             "e.g. SETxTM, PSCHxTM")
        for text in getattr(args, "fault", None) or ():
            if text.partition(":")[0] == "gap":  # before parse_fault: say why, not only that
                raise InputError(f"--fault {text}: gaps are Mercury 230's (records read FF); a SET-4TM has no "
                                 "block for an hour it was off in (the story's outages)")
            parse_fault(text, getattr(args, "timezone", None) or "UTC", "set4tm")
    if command == "capture":
        if not 0 <= args.days <= PROFILE_DAYS:
            raise InputError(f"--days {args.days}: a SET-4TM's profile memory holds {PROFILE_DAYS} days of hour "
                             f"blocks of {PERIOD}-minute slices; give {PROFILE_DAYS} or fewer")
        if args.answer_timeout <= 0 or args.answer_timeout > 60:
            raise InputError(f"--answer-timeout {args.answer_timeout:g}: give 0-60 seconds")
    if address is not None:
        low = 1 if command == "imitate" else 0
        if not low <= address <= 254:
            raise InputError(f"--network-address {address}: a SET-4TM network address is {low}-254")


def decode(raw: bytes, args) -> dict:
    """``decode set4tm``: a frame's address and data; a 4-byte frame as a status; a request the
    meter's side reads, by code."""
    from ..protocols.mercury import v2

    try:
        address, data = v2.decode(raw)
    except v2.MercuryError as exc:
        raise codec.Set4Error(str(exc).replace("Mercury 230", "SET-4TM")) from None
    document: dict = {"address": address, "data": data.hex(" ")}
    if len(data) == 1:
        document["status"] = data[0] & 0x0F
        document["meaning"] = codec.STATUS.get(data[0] & 0x0F, "OK")
    elif len(raw) >= 3 and codec.request_length(raw[:3]) == len(raw):
        document["request"] = f"0x{data[0]:02X}"
    return document


def fitting_constant(peak_w: float) -> int:
    """The first of FITTING_CONSTANTS at which a slot of ``peak_w`` fits a profile count."""
    for constant in FITTING_CONSTANTS:
        if v2.pulses(peak_w, PERIOD, constant) <= codec.MAX_COUNT:
            return constant
    raise InputError(f"a 30-minute slice of this meter's story averages {peak_w / 1000:.1f} kW: no SET-4TM "
                     "constant holds it; give another --meter-seed")


def imitator(args, meter) -> Tuple[object, str]:
    """``imitate set4tm``: a generated meter (of type SETxTM unless ``--meter-type`` names another)."""
    from ..protocols.set4tm.imitator import Set4Imitator

    generated = meter()
    faults = [parse_fault(text, str(generated.tz), "set4tm") for text in getattr(args, "fault", None) or ()]
    served = Set4Generated(generated, args.network_address, password_bytes(args.set4_password),
                           password_bytes(args.set4_admin_password, "--set4-admin-password"), args.set4_constant,
                           faults)
    return Set4Imitator([served]), f" (serial {served.serial}, network address {served.address})"


def read(args, timezone: str):
    """``capture set4tm``: the channel opened, serial, variant (the constant and the type), clock (the
    stamp), the energy from reset (total and tariffs 1-4), the instantaneous values by group; with
    ``--days N`` the profile and the journals too (``read_archives``).  Everything is read before
    anything is written."""
    from ..protocols.reading import Reading
    from ..protocols.set4tm.client import Set4Client

    address = args.network_address or 0
    with Set4Client(args.port, timeout=args.answer_timeout) as client:
        client.open(address, password=password_bytes(args.set4_password))
        serial, _ = client.serial(address)
        constant, model = client.variant(address)
        moment, _ = client.clock(address)
        energy = [client.energy(address, codec.FROM_RESET, 0, tariff) for tariff in range(5)]
        quality: Dict[str, float] = {}
        for name, tags in GROUP_TAGS.items():
            try:
                group = client.instants(address, name)
            except codec.StatusError as exc:
                if exc.status != codec.BAD_REQUEST:
                    raise
                continue
            quality.update({tag: value for tag, value in zip(tags, group) if tag is not None})
        quality["Freq"] = client.instant(address, "F")
        reading = Reading(serial.zfill(10), model, MANUFACTURER, _stamp(moment, timezone))
        if getattr(args, "days", 0):
            read_archives(client, address, reading, moment, args.days, timezone, constant, energy)
        client.close_channel(address)
    for tariff, values in enumerate(energy):
        for (direction, _), value in zip(ENERGY_QUANTITIES, values):
            reading.energy[f"{direction}{tariff}"] = float(value)
    reading.quality.update(quality)
    return reading


def _optional(read):
    """A read's answer, None when the meter answers status 1 (it keeps no such thing)."""
    return optional(read, codec.StatusError, codec.BAD_REQUEST)


def read_archives(client, address: int, reading, moment: dt.datetime, days: int, timezone: str,
                  constant: int, registers: Sequence[Sequence[float]]) -> None:
    """The profile and the journals of ``days`` past days and today so far into ``reading``, stamped
    as the device stamps them (``../shared/reference/device-contract.md`` §1.3, §1.4, §1.7):

    * ``ElDayEnergy`` at today's and yesterday's 00:00: the A+ ``registers`` from reset (tariffs
      0-4) less the arrays of today (and yesterday), as the public firmware tm4c1294ncpdt
      (extended_5_a.c) finds a SET-4TM's register at the start of the day;

    * ``ElArr1ConsPower`` at each slice's END (its hour block's header hour + n periods), P+ P- Q+
      Q- as average W/var (a count is 1/(2A) kWh, A the constant of the variant), ``isPart`` for a
      slice flagged incomplete: the hour blocks walked back from the pointer's (the slices of the
      current hour before the pointer's), block by block, wrapping from block 0 to the last when
      the array has overflowed, until an hour before the days read, a block that holds no header
      (memory never written) or an hour not older than the one after it (the pass before);
      an hour the meter was off in has no block: its slices are not written (a gap);
    * journals (``SET4_JOURNALS``): each record's two times as two rows of the OFF_ON journals
      (Event 0 then 1), the first time alone for the cover journal (``mercury.journal_rows``).
    A pointer that is not a slice address, a pointer later than the meter's clock or a header of
    another period is one error (``Set4Error``): nothing is written."""
    from ..model import timegrid

    tz = timegrid.zone(timezone)
    start = timegrid.local_midnight(moment.date() - dt.timedelta(days=days), tz)
    now = _stamp(moment, timezone)
    top = client.profile_top(address)
    size, count = codec.block_length(PERIOD), codec.block_count(PERIOD)
    if top.address >= size * count or top.address % size < codec.HEADER_LENGTH:
        raise codec.Set4Error(f"meter {address}: profile pointer 0x{top.address:04X} is not a slice address of the "
                              f"profile memory (hour blocks of {size} bytes at 0000-{size * count - 1:04X}h); "
                              "nothing written")
    if _stamp(top.start, timezone) > now:
        raise codec.Set4Error(f"meter {address}: the profile pointer's slice ({top.start}) is later than the "
                              f"meter's clock ({moment}); nothing written")
    current, formed = top.address // size, (top.address % size - codec.HEADER_LENGTH) // codec.SLICE_LENGTH
    newer: Optional[int] = None
    for back in range(count if top.overflow else current + 1):
        header, slices = client.profile_block(address, (current - back) % count, PERIOD)
        if header is None:
            break   # memory never written: the array's start
        if header.period != PERIOD:
            raise codec.Set4Error(f"meter {address}: the profile's period is {header.period} minutes; capture reads "
                                  f"{PERIOD}-minute profiles; nothing written")
        hour = _stamp(header.start, timezone)
        if newer is not None and hour >= newer:
            break   # the pass before: older than the array's oldest hour
        newer = hour
        for i, piece in enumerate(slices[:formed] if back == 0 else slices):
            end = hour + (i + 1) * PERIOD * 60
            if piece is None or not start < end <= now:
                continue
            powers = [v2.watts(c, PERIOD, constant) or 0.0 for c in piece.counts]
            reading.profile.append((end, powers[0]))
            reading.profile_other[end] = dict(zip(("P-", "Q+", "Q-"), powers[1:]))
            if piece.incomplete:
                reading.profile_partial.add(end)
        if hour + 3600 <= start:
            break
    reading.profile.sort()
    consumed = [0.0] * 5
    for array, day in ((codec.TODAY, moment.date()), (codec.YESTERDAY, moment.date() - dt.timedelta(days=1))):
        arrays = [_optional(lambda t=t: client.energy(address, array, 0, t)) for t in range(5)]
        if arrays[0] is None:
            break
        consumed = [c + (a[0] if a else 0.0) for c, a in zip(consumed, arrays)]
        reading.day_registers.append((timegrid.local_midnight(day, tz),
                                      [round(r[0] - c, 1) for r, c in zip(registers, consumed)]))
    reading.day_registers.sort()
    read_journals(reading, SET4_JOURNALS, codec.JOURNAL_RECORDS,
                  lambda number, record: _optional(lambda: client.journal(address, number, record)),
                  start, now, timezone)


__all__ = ["Set4Generated", "options", "check", "decode", "imitator", "read", "read_archives"]
