"""The ``mercury200`` and ``mercury230`` protocols of ``decode``, ``imitate`` and ``capture``: a
generated meter as the wire layer's ``V1Meter`` (Mercury 200/201/203/206, single phase) and
``V2Meter`` (Mercury 230/231/234/236 and 203.2TD), their options, and a reading of each for
``capture``.  Frames, commands, units and scaling are ``protocols/mercury/v1.py`` and ``v2.py``'s
(sources cited there); this module only says which value of the generated meter each command
reports and which meter.db tag each answer fills (``V2_TAGS``, ``V1_TAGS``).

What a served meter says, at wall-clock time in its time zone:

* serial number and clock (v2: with the season byte, 1 = winter time, i.e. no DST in force);
* energy: v1 tariff registers 1-4 (0.01 kWh); v2 the array "from reset" (A+, A-, R+, R- in Wh,
  total and tariffs 1-4), today, yesterday and each month of the last twelve that the generated
  archive reaches (the meter's increments over those periods); the year arrays and months
  beyond the archive answer status 1;
* instantaneous values per phase as the story has them, quantised to the wire's resolution so
  that they stay consistent (S from the served P and Q, cos phi = P / S, the sums the sums of the
  phases): what a meter computes from one measurement;  v2 holds one measurement from the opening
  of the channel (``GeneratedMeter.pin_quality``), as the IEC imitator does from the sign-on;
* v2 the energy arrays at the start of today, yesterday and each month the archive reaches; the
  power profile (``V2Generated``: a record per 30-minute slot, FF for slots the story's outages
  cover); the journals of ``V2_JOURNALS`` from the story's events; faults planted with
  ``--fault`` (``Fault``); answers after the response time of ``--baud-rate``;
* v1 relay closed (load on), battery, firmware and model variant as fixed values (the story has
  no relay operations); the temperature (v2 BWRI 0x70) is not in the story: status 1.

Default network addresses are the factory's: v1 the serial number (its last 8 digits), v2 the
serial's last three digits, the last two when those exceed 239, 1 for 0 (the rule mercury-base's
``mercury_v2.prepare_address`` applies).  Passwords are six digits, sent one digit a byte
(``111111`` is ``01 01 01 01 01 01`` on the wire, as wb-mqtt-serial's test exchange opens the
channel); ``0x`` and 12 hex digits give any six bytes."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import InputError
from ..protocols.mercury import v1, v2
from ..protocols.obis import QUALITY_BY_TAG, energy_code
from ..protocols.overrides import RegisterOverrides, number as overrides_number, obis_code
from .faults import Fault, in_gap, parse_fault, request_fault
from ..schema.layout import ENERGY_QUANTITIES
from ..schema.reference import METER_KINDS

#: v2 BWRI quantities (name, phase: 0 = the sum) -> the meter.db quality tag each one fills.
#: Angles are between phase voltages: 1 between phases 1 and 2, 2 between 1 and 3, 3 between 2 and 3.
V2_TAGS: Dict[Tuple[str, int], str] = {
    **{("U", p): f"U{x}" for p, x in ((1, "A"), (2, "B"), (3, "C"))},
    **{("I", p): f"I{x}" for p, x in ((1, "A"), (2, "B"), (3, "C"))},
    **{(name, p): f"{tag}{x}" for name, tag in (("P", "P"), ("Q", "Q"), ("S", "S"), ("cos", "kP"))
       for p, x in ((0, "S"), (1, "A"), (2, "B"), (3, "C"))},
    ("F", 0): "Freq", ("angle", 1): "AngAB", ("angle", 2): "AngAC", ("angle", 3): "AngBC",
}
#: v1's 0x63 answer (U, I, P of the one phase) -> tags; cos phi and S (0x86 0x02) are served too
#: but not captured: the Mercury 200 types keep U, I and P (schema.reference QUALITY_BASIC).
V1_TAGS = {"voltage": "UA", "current": "IA", "power": "PA"}
#: v1's ``Instant`` fields (0x63 and 0x86 02) -> the tag whose value each one serves
V1_INSTANT = {"voltage": "UA", "current": "IA", "power": "PA", "cos_phi": "kPA", "apparent": "SA"}
MANUFACTURER = "INC"   # Incotex (MANUFACTURER_TYPES)
#: Values a Mercury 200 reports that the story has none of.
V1_FIRMWARE = (7, 3)
V1_BATTERY = 3.05
#: the factory passwords as the options write them (six digits, one a byte on the wire: ``v2.DEFAULT_PASSWORDS``)
DEFAULT_PASSWORDS = {level: "".join(str(b) for b in password) for level, password in v2.DEFAULT_PASSWORDS.items()}


# ---- addresses and passwords ---------------------------------------------------------------------
def v1_address(serial: str) -> int:
    """A Mercury 200's factory network address: its serial number (the last 8 digits)."""
    digits = "".join(c for c in serial if c.isdigit()) or "0"
    return int(digits[-8:])


def v2_address(serial: str) -> int:
    """A Mercury 230's factory network address: the serial's last three digits, its last two when
    those exceed 239, 1 for 0."""
    digits = "".join(c for c in serial if c.isdigit()) or "0"
    address = int(digits[-3:])
    if address > 239:
        address %= 100
    return address or 1


def password_bytes(text: str, option: str = "--level-password") -> bytes:
    """Six digits, one a byte (``111111`` -> 01 01 01 01 01 01), or ``0x`` and 12 hex digits."""
    if text.lower().startswith("0x"):
        try:
            raw = bytes.fromhex(text[2:])
        except ValueError:
            raw = b""
        if len(raw) == 6:
            return raw
    elif len(text) == 6 and text.isdigit():
        return bytes(int(c) for c in text)
    raise InputError(f"{option} {text!r}: a Mercury password is 6 digits (111111) or 0x and 12 hex digits")


# ---- the generated meter on the wire -------------------------------------------------------------
def _quantised(value: float, scale: float) -> float:
    return round(round(value / scale) * scale, 6)


def consistent_quality(quality: Dict[str, Optional[list]], scale_p: float, scale_q: float,
                       scale_s: float) -> Dict[str, float]:
    """The instantaneous values of a quality snapshot (rows by phase) by tag, with P and Q at the
    wire's resolution and S, cos phi and the sums derived from them as a meter derives them."""
    out: Dict[str, float] = {}
    for tag in ("UA", "UB", "UC", "IA", "IB", "IC", "AngAB", "AngBC", "AngAC", "Freq"):
        value = QUALITY_BY_TAG[tag].value_in(quality)
        if value is not None:
            out[tag] = value
    powers: Dict[str, Tuple[float, float]] = {}
    for x in "ABC":
        p, q = (QUALITY_BY_TAG[f"{kind}{x}"].value_in(quality) for kind in ("P", "Q"))
        if p is not None:
            powers[x] = (_quantised(p, scale_p), _quantised(q or 0.0, scale_q))
    if powers:
        powers["S"] = (round(sum(p for p, _ in powers.values()), 6), round(sum(q for _, q in powers.values()), 6))
    for x, (p, q) in powers.items():
        s = _quantised(math.hypot(p, q), scale_s)
        out.update({f"P{x}": p, f"Q{x}": q, f"S{x}": s, f"kP{x}": p / s if s else 1.0})
    return out


class V1Generated:
    """A ``GeneratedMeter`` as a single-phase Mercury (``protocols.mercury.v1.V1Meter``), with
    ``-o`` register ``overrides`` and planted ``faults`` (silent, crc)."""

    def __init__(self, meter, address: Optional[int] = None, overrides: Optional[RegisterOverrides] = None,
                 faults: Sequence[Fault] = ()) -> None:
        self.meter = meter
        self.overrides = overrides or RegisterOverrides()
        self.faults = list(faults)
        self.address = v1_address(meter.serial) if address is None else address
        self.serial = int(v1_address(meter.serial))
        name = meter.model.replace("Mercury", "").strip()
        self.model = max((m for m in v1.MODEL_CODES if name.startswith(m)), key=len, default="200")
        self.variant = 2 if self.model == "206" else 1   # 206: RS-485 and relay; 200/203: relay
        self.firmware = (*V1_FIRMWARE, meter.story.origin_day)
        self.battery = V1_BATTERY
        self.tariffs = meter.spec.kind.tariffs if meter.tariffed else 1
        self.relay_on = True

    def clock(self) -> dt.datetime:
        return self.meter.local_now().replace(tzinfo=None)

    def energy_wh(self) -> Sequence[int]:
        """Tariff registers 1-4 (a meter without tariffs: the total in the first); an override of
        1.8.1-1.8.4 replaces its tariff's, of 1.8.0 the total of a meter without tariffs."""
        active = self.meter.registers()[0]
        registers = list(active[1:5]) if self.meter.tariffed else [active[0], 0, 0, 0]
        for tariff in range(1, 5) if self.meter.tariffed else (0,):
            wh = self.overrides.energy("A+", tariff)
            if wh is not None:
                registers[max(tariff - 1, 0)] = int(round(wh))
        return registers

    def instant(self) -> v1.Instant:
        quality = self.meter.quality()
        value = {field: QUALITY_BY_TAG[tag].value_in(quality) for field, tag in V1_INSTANT.items()}
        for field, tag in V1_INSTANT.items():
            override = self.overrides.number(QUALITY_BY_TAG[tag].code)
            if override is not None:
                value[field] = override
        return v1.Instant(value["voltage"] or 0.0, value["current"] or 0.0, value["power"] or 0.0,
                          1.0 if value["cos_phi"] is None else value["cos_phi"], value["apparent"] or 0.0)

    def fault(self, body: bytes):
        """What a planted fault does with a request (None: answer it)."""
        return request_fault(self.faults, body)

    def current_tariff(self) -> int:
        if not self.meter.tariffed:
            return 0
        series, i = self.meter.story.slot_at(self.meter.now())
        return max(0, series.tariff[i] - 1)


#: the meter.db journal each Mercury 230 journal (``v2.JOURNALS``) is
V2_JOURNALS: Dict[int, str] = {0x01: "ElJrnlPwr", 0x02: "ElJrnlTimeCorr", 0x03: "ElJrnlPwrA",
                               0x04: "ElJrnlPwrB", 0x05: "ElJrnlPwrC", 0x12: "ElJrnlOpen"}
#: the profile period a Mercury 230 imitated here keeps (minutes; the generated story's slots)
V2_PERIOD = 30
def v2_profile_days(bits: int) -> int:
    """Whole days of such slots a profile memory of ``bits``-bit addresses holds (16: 4096
    records, 85 days; 17: 8192, 170)."""
    return v2.profile_bytes(bits) // v2.RECORD_STEP * V2_PERIOD // 1440


#: the days the shortest profile memory holds (a Mercury 230's, 16-bit addresses) and the longest
#: (234/236, 17-bit): capture takes up to the longest and, connected, refuses more than the
#: meter's own
V2_PROFILE_DAYS, V2_MAX_PROFILE_DAYS = v2_profile_days(16), v2_profile_days(17)
#: the models whose profile memory has 17-bit addresses (``v2.HIGH_ADDRESS_BIT``)
V2_17_BIT_MODELS = ("234", "236")
#: the firmware version (08 03) an imitated meter reports, by its profile addressing: 7.1.0 is the
#: first the public poller reads with 17 bits; 16-bit meters report an older one (chosen values)
V2_VERSIONS = {16: (5, 2, 0), 17: v2.FIRST_17_BIT_VERSION}


FAULT_HELP = ("Mercury and SET-4TM: plant a fault (repeatable; docs/mercury.md): silent[:HEX] (no answer), crc[:HEX] "
              "(the answer's CRC broken), and for mercury230 and set4tm status:N[:HEX] (status N, 1-15, instead of the "
              "answer) and gap:FROM/TO (local times YYYY-MM-DDTHH:MM: profile slots ending after FROM up to TO not "
              "recorded, all FF) -- HEX the start of the requests it hits after the address, e.g. 0811 (BWRI), 0603 "
              "(profile memory), 0813 (profile pointer; SET-4TM 0804), 04 (clock and journals), none: every request")


# ---- -o overrides -----------------------------------------------------------------------------------
def _served_codes(family: str) -> Dict[tuple, str]:
    """The OBIS registers a Mercury of ``family`` reports -> "energy" or the quality tag."""
    directions = ["A+"] if family == "mercury200" else [d for d, _ in ENERGY_QUANTITIES]
    codes: Dict[tuple, str] = {energy_code(d, tariff): "energy" for d in directions for tariff in range(5)}
    for tag in (V1_INSTANT if family == "mercury200" else V2_TAGS).values():
        codes[QUALITY_BY_TAG[tag].code] = tag
    return codes


def mercury_overrides(items: Sequence[str], family: str) -> RegisterOverrides:
    """``-o ADDRESS:VALUE`` items of a Mercury (the IEC imitator's form, ``protocols.overrides``):
    energy registers (``1.8.1:4321.125*kWh``; Mercury 200: A+ tariffs 1-4 and the total) and the
    instantaneous values the protocol reports (``32.7.0:231.5``); an InputError for a register the
    protocol does not report or a value that is no number."""
    from .iec import register_overrides

    served = _served_codes(family)
    given = register_overrides(list(items))
    for address, value in given.items():
        code = obis_code(address)
        if code is None or code not in served:
            raise InputError(f"-o {address}:{value}: a {family} meter reports no such register; it takes the "
                             "energy registers (1.8.0-1.8.4" + ("" if family == "mercury200" else ", 2.8.x, 3.8.x, 4.8.x")
                             + ") and its instantaneous values (32.7.0, 31.7.0, 21.7.0 ...)")
        if overrides_number(value, "kwh" if served[code] == "energy" else "") is None:
            raise InputError(f"-o {address}:{value}: give a number, e.g. 1234.5*kWh or 231.5")
    return RegisterOverrides(given)


class V2Generated:
    """A ``GeneratedMeter`` as a three-phase Mercury (``protocols.mercury.v2.V2Meter``): registers,
    instantaneous values, the power profile (a record every 30-minute slot, the record of the slot
    ending at T at address ``(T // 1800) % 4096 * 0x10``: the buffer wraps every 4096 slots), the
    journals of ``V2_JOURNALS`` from the story, ``-o`` register ``overrides`` (the registers from
    reset and the instantaneous values) and the planted ``faults``."""

    def __init__(self, meter, address: Optional[int] = None,
                 passwords: Optional[Dict[int, bytes]] = None, faults: Sequence[Fault] = (),
                 overrides: Optional[RegisterOverrides] = None, profile_bits: Optional[int] = None) -> None:
        self.meter = meter
        self.faults = list(faults)
        self.overrides = overrides or RegisterOverrides()
        if profile_bits is None:   # by the model: Mercury 234/236 address the profile with 17 bits
            profile_bits = 17 if any(m in meter.model for m in V2_17_BIT_MODELS) else 16
        self.profile_bits = profile_bits
        self.version = V2_VERSIONS[profile_bits]
        self.address = v2_address(meter.serial) if address is None else address
        self.serial = meter.serial
        self.made = meter.story.origin_day
        self.passwords = passwords or dict(v2.DEFAULT_PASSWORDS)
        measured = meter.measured()
        self.directions = (measured[0], measured[1], measured[2], measured[3])
        scale = {name: v2.BWRI[v2.BWRI_OF[(name, 0)]].scale for name in ("P", "Q", "S")}
        self._scales = (scale["P"], scale["Q"], scale["S"])

    def opened(self) -> None:
        self.meter.pin_quality()   # one session, one measurement

    def clock(self) -> Tuple[dt.datetime, bool]:
        now = self.meter.local_now()
        return now.replace(tzinfo=None), not bool(now.dst())

    def _registers(self, ts: int, tariff: int) -> List[int]:
        return [row[tariff] for row in self.meter.registers(ts)]

    def energy_wh(self, array: int, month: int, tariff: int) -> Optional[Sequence[int]]:
        if not 0 <= tariff <= 4:
            return None
        meter = self.meter
        now = meter.now()
        if array == v2.FROM_RESET:
            registers = self._registers(now, tariff)
            for i, (direction, _) in enumerate(ENERGY_QUANTITIES):
                wh = self.overrides.energy(direction, tariff)
                if wh is not None:
                    registers[i] = int(round(wh))
            return registers
        today = meter.local_now().date()
        at = {v2.AT_TODAY: today, v2.AT_YESTERDAY: today - dt.timedelta(days=1),
              v2.AT_THIS_YEAR: dt.date(today.year, 1, 1), v2.AT_LAST_YEAR: dt.date(today.year - 1, 1, 1)}.get(array)
        if array == v2.AT_MONTH and 1 <= month <= 12:
            at = dt.date(today.year if month <= today.month else today.year - 1, month, 1)
        if at is not None:
            if at < meter.story.origin_day:
                return None   # before the archive reaches
            return self._registers(meter.midnight(at), tariff)
        if array == v2.TODAY:
            start, end = meter.midnight(today), now
        elif array == v2.YESTERDAY:
            start, end = meter.midnight(today - dt.timedelta(days=1)), meter.midnight(today)
        elif array == v2.MONTH and 1 <= month <= 12:
            year = today.year if month <= today.month else today.year - 1
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            start = meter.midnight(first)
            end = now if following > today else meter.midnight(following)
        else:
            return None   # the year arrays: beyond the generated archive
        if start < meter.midnight(meter.story.origin_day):
            return None   # before the archive reaches
        before, after = self._registers(start, tariff), self._registers(end, tariff)
        return [b - a for a, b in zip(before, after)]

    def fault(self, body: bytes):
        """What a planted fault does with a request (None: answer it)."""
        return request_fault(self.faults, body)

    # -- the profile
    def _slot_address(self, end: int) -> int:
        return end // (V2_PERIOD * 60) % (v2.profile_bytes(self.profile_bits) // v2.RECORD_STEP) * v2.RECORD_STEP

    def _last_end(self) -> int:
        return self.meter.now() // (V2_PERIOD * 60) * (V2_PERIOD * 60)

    def _record(self, end: int) -> Optional[v2.ProfileRecord]:
        if in_gap(self.faults, end):
            return None
        powers = self.meter.slot_powers(end)
        if powers is None:
            return None
        from ..model import timegrid

        counts = tuple(v2.pulses(w, V2_PERIOD) if measured else None for w, measured in zip(powers, self.directions))
        local = timegrid.local_datetime(end, self.meter.tz).replace(tzinfo=None)
        return v2.ProfileRecord(local, V2_PERIOD, counts)  # type: ignore[arg-type]

    def profile_pointer(self) -> Tuple[int, Optional[v2.ProfileRecord]]:
        last = self._last_end()
        return self._slot_address(last), self._record(last)

    def profile_record(self, address: int) -> Optional[v2.ProfileRecord]:
        last = self._last_end()
        back = (self._slot_address(last) - address) % v2.profile_bytes(self.profile_bits) // v2.RECORD_STEP
        return self._record(last - back * V2_PERIOD * 60)

    # -- the journals
    def journal_records(self, number: int) -> List[Tuple[int, Optional[int]]]:
        """The records of journal ``number`` (``V2_JOURNALS``), as ``event_records``."""
        return self.event_records(V2_JOURNALS[number])

    def event_records(self, name: str) -> List[Tuple[int, Optional[int]]]:
        """The meter.db journal ``name``'s records over the archive, oldest first: (first time,
        second time or None) in epoch seconds -- off/on pairs for the power journals, (t, t) for
        the others."""
        from ..schema.measures import OFF_ON, measure

        now = self.meter.now()
        oldest = now - self.meter.archive_days * 86400
        events = [(t, e) for t, e in self.meter.story.journal_events(name) if t <= now]
        if measure(name).events != OFF_ON:
            return [(t, t) for t, _ in events if t >= oldest]
        pairs: List[Tuple[int, Optional[int]]] = []
        for t, event in events:
            if event == 0:
                pairs.append((t, None))
            elif pairs and pairs[-1][1] is None:
                pairs[-1] = (pairs[-1][0], t)
        return [p for p in pairs if p[0] >= oldest]

    def journal(self, number: int, record: int) -> Optional[Tuple[Optional[dt.datetime], Optional[dt.datetime]]]:
        """Record ``record`` of the ring of ten: the n-th record of the journal sits at n % 10."""
        from ..model import timegrid

        records = self.journal_records(number)
        n = max((n for n in range(max(0, len(records) - v2.JOURNAL_RECORDS), len(records))
                 if n % v2.JOURNAL_RECORDS == record), default=None)
        if n is None:
            return None
        return tuple(None if t is None else timegrid.local_datetime(t, self.meter.tz).replace(tzinfo=None)
                     for t in records[n])  # type: ignore[return-value]

    def instant(self, name: str, phase: int) -> Optional[float]:
        tag = V2_TAGS.get((name, phase))
        if tag is None:
            return None
        override = self.overrides.number(QUALITY_BY_TAG[tag].code)
        if override is not None:
            return override
        return consistent_quality(self.meter.quality(), *self._scales).get(tag)


# ---- the registry's functions ------------------------------------------------------------------
def options(command: str, p) -> None:
    """The options of ``imitate``/``capture`` ``mercury200`` and ``mercury230`` (one set for both)."""
    if command == "imitate":
        p.add_argument("--network-address", type=int, default=None,
                       help="Mercury: the meter's network address (default as the factory sets it: Mercury 200 "
                            "its serial number, Mercury 230 the serial's last 3 digits, last 2 above 239)")
        p.add_argument("--user-password", default=DEFAULT_PASSWORDS[v2.USER],
                       help="Mercury 230: the level 1 (user) password, 6 digits sent one a byte, or 0x and 12 hex "
                            "digits (default 111111)")
        p.add_argument("--admin-password", default=DEFAULT_PASSWORDS[v2.ADMIN],
                       help="Mercury 230: the level 2 (administrator) password (default 222222)")
        p.add_argument("--fault", action="append", default=[], metavar="FAULT", help=FAULT_HELP)
        p.add_argument("--baud-rate", type=int, default=None,
                       help="Mercury 230: the line's baud rate; the meter answers after half the response time "
                            "the Incotex table gives for it (1600 ms at 300 ... 150 ms at 9600 baud); default: "
                            "at once")
    elif command == "capture":
        p.add_argument("--network-address", type=int, default=None,
                       help="Mercury: the meter's network address (Mercury 200: required; Mercury 230: default 0, "
                            "whichever meter is on the line)")
        p.add_argument("--level", type=int, choices=(1, 2), default=1,
                       help="Mercury 230: the access level the channel is opened at (default 1, user)")
        p.add_argument("--level-password", default=None,
                       help="Mercury 230: the level's password, 6 digits or 0x and 12 hex digits (default 111111 "
                            "at level 1, 222222 at level 2)")
        p.add_argument("--answer-timeout", type=float, default=1.0,
                       help="Mercury: seconds to wait for each answer (default 1; Mercury 230: at least the "
                            "meter's response time at --baud-rate and the answer's transfer time)")
        p.add_argument("--baud-rate", type=int, default=9600,
                       help="Mercury 230: the port's baud rate (default 9600; a socket ignores it, the wait for "
                            "each answer follows it)")


BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


def _check_baud(baud: int) -> None:
    if baud not in BAUD_RATES:
        raise InputError(f"--baud-rate {baud}: give one of {', '.join(map(str, BAUD_RATES))}")


def check(command: str, args) -> None:
    """Addresses in range, passwords of six bytes, no protocol modes, no archive capture."""
    family = args.protocol
    address = getattr(args, "network_address", None)
    if command == "imitate":
        mode = getattr(args, "mode", "C")
        if mode != "C":
            raise InputError(f"--mode {mode}: protocol modes are IEC 62056-21's (imitate iec); Mercury has none")
        mercury_overrides(getattr(args, "obis", None) or (), family)
        password_bytes(args.user_password, "--user-password")
        password_bytes(args.admin_password, "--admin-password")
        for text in getattr(args, "fault", None) or ():
            parse_fault(text, getattr(args, "timezone", None) or "UTC", family)
        if getattr(args, "baud_rate", None) is not None:
            _check_baud(args.baud_rate)
        kind = METER_KINDS.get(args.meter_type)
        if kind is not None and (kind.family != "electric" or kind.serial_digits > 8
                                 or (family == "mercury200" and kind.phases != 1)):
            what = "a single-phase electricity meter" if family == "mercury200" else "an electricity meter"
            raise InputError(f"--meter-type {args.meter_type}: {family} serves {what} whose serial has at most "
                             f"8 digits (the serial number is 4 bytes of the protocol), e.g. "
                             f"{'Mercury206, Mercury200' if family == 'mercury200' else 'Mercury23x, Mercury203'}")
    if command == "capture":
        if args.days and family != "mercury230":
            raise InputError(f"--days: capture {family} reads the meter's registers and instantaneous values, "
                             "no archive")
        if args.days > V2_MAX_PROFILE_DAYS:
            raise InputError(f"--days {args.days}: a Mercury 234/236's profile memory (17-bit addresses) holds "
                             f"{V2_MAX_PROFILE_DAYS} days of {V2_PERIOD}-minute slots, a 230's {V2_PROFILE_DAYS}; "
                             f"give {V2_MAX_PROFILE_DAYS} or fewer")
        if family == "mercury200" and address is None:
            raise InputError("capture mercury200: give --network-address (a Mercury 200 answers its own address "
                             "only; by default its serial number)")
        if args.level_password is not None:
            password_bytes(args.level_password)
        _check_baud(getattr(args, "baud_rate", 9600))
        if args.answer_timeout <= 0 or args.answer_timeout > 60:
            raise InputError(f"--answer-timeout {args.answer_timeout:g}: give 0-60 seconds")
    if address is not None:
        limit = 2 ** 32 - 1 if family == "mercury200" else 240
        low = 1 if command == "imitate" else 0
        if not low <= address <= limit:
            raise InputError(f"--network-address {address}: a {family} network address is {low}-{limit}")


def _json(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, v1.Instant):
        return {"voltage": value.voltage, "current": value.current, "power": value.power}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def decode_v1(raw: bytes, args) -> dict:
    """``decode mercury200``: a request or an answer frame (address, command, the values)."""
    frame = v1.decode(raw)
    sub = frame.data[0] if frame.data else None
    command = v1.BY_CODE.get((frame.command, sub)) or v1.BY_CODE.get((frame.command, None))
    document: dict = {"address": frame.address, "command": f"0x{frame.command:02X}",
                      "name": command.name if command else None, "data": frame.data.hex(" ")}
    if command is not None and len(frame.data) == command.size:
        document["values"] = _json(v1.decode_answer(command.name, frame.data))
    elif command is not None and len(frame.data) == v1.REQUEST_DATA[frame.command]:
        document["request"] = True
    return document


def decode_v2(raw: bytes, args) -> dict:
    """``decode mercury230``: a frame's address and data; a 4-byte frame as a status (the channel
    test request and its answer are the same bytes); a request the meter's side reads, by code."""
    address, data = v2.decode(raw)
    document: dict = {"address": address, "data": data.hex(" ")}
    if len(data) == 1:
        document["status"] = data[0] & 0x0F
        document["meaning"] = v2.STATUS.get(data[0] & 0x0F, "OK")
    elif len(raw) >= 3 and v2.request_length(raw[:3]) == len(raw):
        document["request"] = f"0x{data[0]:02X}"
    return document


def imitator_v1(args, meter) -> Tuple[object, str]:
    """``imitate mercury200``: a generated single-phase meter at its network address."""
    generated = meter()
    faults = [parse_fault(text, str(generated.tz), "mercury200") for text in getattr(args, "fault", None) or ()]
    served = V1Generated(generated, args.network_address, mercury_overrides(args.obis, "mercury200"), faults)
    return v1.V1Imitator([served]), f" (serial {served.meter.serial}, network address {served.address})"


def imitator_v2(args, meter) -> Tuple[object, str]:
    """``imitate mercury230``: a generated meter at its network address, levels 1 and 2."""
    passwords = {v2.USER: password_bytes(args.user_password, "--user-password"),
                 v2.ADMIN: password_bytes(args.admin_password, "--admin-password")}
    generated = meter()
    faults = [parse_fault(text, str(generated.tz)) for text in getattr(args, "fault", None) or ()]
    served = V2Generated(generated, args.network_address, passwords, faults,
                         mercury_overrides(getattr(args, "obis", None) or (), "mercury230"))
    delay = v2.answer_delay(args.baud_rate) if getattr(args, "baud_rate", None) else 0.0
    return v2.V2Imitator([served], delay), f" (serial {served.serial}, network address {served.address})"


def _stamp(moment: dt.datetime, timezone: str) -> int:
    from ..model import timegrid

    return int(moment.replace(tzinfo=timegrid.zone(timezone)).timestamp())


def read_v1(args, timezone: str):
    """``capture mercury200``: serial, model, clock (the reading's stamp), tariff registers, U/I/P."""
    from ..protocols.reading import Reading

    address = args.network_address
    with v1.V1Client(args.port, timeout=args.answer_timeout) as client:
        serial = client.query(address, "serial")
        model, _ = client.query(address, "model")
        moment = client.query(address, "time")
        tariffs = client.query(address, "tariffs")
        registers = client.query(address, "energy")
        instant = client.query(address, "uip")
    reading = Reading(f"{serial:08d}", f"Mercury {model}", MANUFACTURER, _stamp(moment, timezone))
    reading.energy["A+0"] = float(sum(registers))
    if tariffs > 1:
        for tariff, wh in enumerate(registers, start=1):
            reading.energy[f"A+{tariff}"] = float(wh)
    for field, tag in V1_TAGS.items():
        reading.quality[tag] = getattr(instant, field)
    return reading


def read_v2(args, timezone: str):
    """``capture mercury230``: the channel opened at ``--level``, serial, clock (the stamp), the
    energy from reset (total and tariffs 1-4), every instantaneous value the meter has; with
    ``--days N`` also the archives (``read_v2_archives``).  Everything is read before anything is
    written: a meter that fails on the way writes nothing."""
    from ..protocols.reading import Reading

    address = args.network_address or 0
    password = password_bytes(args.level_password or DEFAULT_PASSWORDS[args.level])
    with v2.V2Client(args.port, timeout=args.answer_timeout, baudrate=getattr(args, "baud_rate", 9600)) as client:
        client.open(address, args.level, password)
        serial, _ = client.serial(address)
        moment, _ = client.clock(address)
        energy = [client.energy(address, v2.FROM_RESET, 0, tariff) for tariff in range(5)]
        quality: Dict[str, float] = {}
        for (name, phase), tag in V2_TAGS.items():
            try:
                quality[tag] = client.instant(address, name, phase)
            except v2.StatusError as exc:
                if exc.status != v2.BAD_REQUEST:
                    raise
        reading = Reading(serial, "Mercury 230", MANUFACTURER, _stamp(moment, timezone))
        if getattr(args, "days", 0):
            read_v2_archives(client, address, reading, moment, args.days, timezone)
        client.close_channel(address)
    for tariff, values in enumerate(energy):
        for (direction, _), value in zip(ENERGY_QUANTITIES, values):
            if value is not None:
                reading.energy[f"{direction}{tariff}"] = float(value)
    reading.quality.update(quality)
    return reading


def optional(read, error=v2.StatusError, bad_request: int = v2.BAD_REQUEST):
    """A read's answer, None when the meter answers status ``bad_request`` (it has no such value);
    ``error``: the frame family's status exception (Mercury 230's, SET-4TM's)."""
    try:
        return read()
    except error as exc:
        if exc.status != bad_request:
            raise
        return None


def read_journals(reading, journals: Dict[int, str], records: int, ask, start: int, now: int, timezone: str) -> None:
    """Each journal of ``journals`` (number -> meter.db journal) read record by record with
    ``ask(number, record)`` (None: the meter keeps no such journal; a first time None: an empty
    record) into ``reading`` (``journal_rows``: the records reaching into the days from ``start``)."""
    for number, name in journals.items():
        found = []
        for record in range(records):
            times = ask(number, record)
            if times is None:
                break   # the meter keeps no such journal
            if times[0] is not None:
                found.append(times)
        journal_rows(reading, name, found, start, now, timezone)


def read_v2_archives(client, address: int, reading, moment: dt.datetime, days: int, timezone: str) -> None:
    """The archives of ``days`` past days and today so far into ``reading``, stamped as the device
    stamps them (``../shared/reference/device-contract.md`` §1.3):

    * ``ElDayEnergy`` at D 00:00: the A+ registers at the start of day D -- the arrays "at the start
      of today" and "of yesterday" (the only day registers a Mercury 230 keeps);
    * ``ElMonthEnergy`` at the 1st 00:00: the array "at the start of the month" of each month whose
      1st is in the days read, and of this month;
    * ``ElArr1ConsPower`` at each slot's END (the record's own time), P+ P- Q+ Q- as average W/var:
      the records walked back from the profile pointer, one per slot (a record whose time is not
      its slot's, or that reads all FF, is a gap: not written, counted in the error of none);
    * journals (``V2_JOURNALS``): each record's two times as two rows of the OFF_ON journals
      (Event 0 then 1), the first time alone for the others; the contract is silent on which
      time of a "before / after" correction the device stamps: the time before, here.
    A pointer that is not a record address, or whose record is later than the meter's clock, is
    one error (``MercuryError``): nothing is written."""
    from ..model import timegrid

    tz = timegrid.zone(timezone)
    today = moment.date()
    first_day = today - dt.timedelta(days=days)
    midnight = timegrid.local_midnight
    for array, day in ((v2.AT_YESTERDAY, today - dt.timedelta(days=1)), (v2.AT_TODAY, today)):
        values = [optional(lambda t=t: client.energy(address, array, 0, t)) for t in range(5)]
        if values[0] is not None:
            reading.day_registers.append((midnight(day, tz), [float(v[0] or 0) if v else 0.0 for v in values]))
    months = sorted({(d.year, d.month) for d in (first_day + dt.timedelta(days=i) for i in range(days + 1))
                     if d.day == 1} | {(today.year, today.month)})
    for year, month in months:
        values = [optional(lambda t=t: client.energy(address, v2.AT_MONTH, month, t)) for t in range(5)]
        if values[0] is not None:
            reading.month_registers.append((midnight(dt.date(year, month, 1), tz),
                                            [float(v[0] or 0) if v else 0.0 for v in values]))
    # the profile: 17-bit addresses for firmware 7.1.0 and later (Mercury 234/236), as the public
    # poller decides; a meter without the version request (status 1) has 16
    version = optional(lambda: client.version(address))
    bits = v2.profile_bits(version)
    held = v2_profile_days(bits)
    if days > held:
        raise InputError(f"--days {days}: meter {address}'s profile memory ({bits}-bit addresses, firmware "
                         f"{'.'.join(map(str, version)) if version else 'not reported'}) holds {held} "
                         f"days of {V2_PERIOD}-minute slots; give {held} or fewer; nothing was written")
    pointer, head = client.profile_pointer(address, bits)
    period = V2_PERIOD * 60
    now = _stamp(moment, timezone)
    last = _stamp(head.end, timezone) if head is not None else now // period * period
    if last > now + period:
        raise v2.MercuryError(f"meter {address}: the profile pointer's record ({head.end if head else '?'}) is "
                              f"later than the meter's clock ({moment}); nothing written")
    start = midnight(first_day, tz)
    records = v2.profile_bytes(bits) // v2.RECORD_STEP
    for end in range(start + period, last + 1, period):
        back = (last - end) // period
        if back >= records:
            continue   # overwritten already: the buffer holds 4096 records (8192 with 17 bits)
        record = client.profile_record(address, v2.previous_record(pointer, back, bits), bits)
        if record is None or _stamp(record.end, timezone) != end:
            continue   # not recorded (all FF), or another slot's record: a gap
        powers = [v2.watts(c, record.period) for c in record.counts]
        if powers[0] is None:
            continue
        reading.profile.append((end, powers[0]))
        reading.profile_other[end] = {tag: w for tag, w in zip(("P-", "Q+", "Q-"), powers[1:]) if w is not None}
    # the journals
    read_journals(reading, V2_JOURNALS, v2.JOURNAL_RECORDS,
                  lambda number, record: optional(lambda: client.journal(address, number, record)),
                  start, now, timezone)


def journal_rows(reading, name: str, found, oldest: int, now: int, timezone: str) -> None:
    """A journal's records read (each two local times, or None) into ``reading``: each record's
    two times as two rows of an OFF_ON journal (Event 0 then 1), the first time alone for the
    others; a record reaching into the days read (``oldest`` on) is taken whole, up to ``now``."""
    from ..schema.measures import OFF_ON, journal_event, measure

    for first, second in sorted(found):
        if measure(name).events == OFF_ON:
            stamps = [(first, journal_event(name, 0)), (second, journal_event(name, 1))]
        else:
            stamps = [(first, journal_event(name, 0))]
        known = [(_stamp(m, timezone), event) for m, event in stamps if m is not None]
        if any(oldest <= ts for ts, _ in known):   # a record reaching into the days read, whole
            reading.journals.extend((name, ts, event) for ts, event in known if ts <= now)
