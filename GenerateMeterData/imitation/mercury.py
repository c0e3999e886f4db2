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
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import InputError
from ..protocols.mercury import v1, v2
from ..protocols.obis import QUALITY_BY_TAG
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
    """A ``GeneratedMeter`` as a single-phase Mercury (``protocols.mercury.v1.V1Meter``)."""

    def __init__(self, meter, address: Optional[int] = None) -> None:
        self.meter = meter
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
        active = self.meter.registers()[0]
        return active[1:5] if self.meter.tariffed else [active[0], 0, 0, 0]

    def instant(self) -> v1.Instant:
        quality = self.meter.quality()
        value = {tag: QUALITY_BY_TAG[tag].value_in(quality) for tag in ("UA", "IA", "PA", "kPA", "SA")}
        return v1.Instant(value["UA"] or 0.0, value["IA"] or 0.0, value["PA"] or 0.0,
                          1.0 if value["kPA"] is None else value["kPA"], value["SA"] or 0.0)

    def current_tariff(self) -> int:
        if not self.meter.tariffed:
            return 0
        series, i = self.meter.story.slot_at(self.meter.now())
        return max(0, series.tariff[i] - 1)


class V2Generated:
    """A ``GeneratedMeter`` as a three-phase Mercury (``protocols.mercury.v2.V2Meter``)."""

    def __init__(self, meter, address: Optional[int] = None,
                 passwords: Optional[Dict[int, bytes]] = None) -> None:
        self.meter = meter
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
            return self._registers(now, tariff)
        today = meter.local_now().date()
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

    def instant(self, name: str, phase: int) -> Optional[float]:
        tag = V2_TAGS.get((name, phase))
        if tag is None:
            return None
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
                       help="Mercury: seconds to wait for each answer (default 1)")


def check(command: str, args) -> None:
    """Addresses in range, passwords of six bytes, no protocol modes, no archive capture."""
    family = args.protocol
    address = getattr(args, "network_address", None)
    if command == "imitate":
        mode = getattr(args, "mode", "C")
        if mode != "C":
            raise InputError(f"--mode {mode}: protocol modes are IEC 62056-21's (imitate iec); Mercury has none")
        if getattr(args, "obis", None):
            raise InputError(f"-o {args.obis[0]}: imitate {family} takes no register overrides yet (the story's "
                             "values are served)")
        password_bytes(args.user_password, "--user-password")
        password_bytes(args.admin_password, "--admin-password")
        kind = METER_KINDS.get(args.meter_type)
        if kind is not None and (kind.family != "electric" or kind.serial_digits > 8
                                 or (family == "mercury200" and kind.phases != 1)):
            what = "a single-phase electricity meter" if family == "mercury200" else "an electricity meter"
            raise InputError(f"--meter-type {args.meter_type}: {family} serves {what} whose serial has at most "
                             f"8 digits (the serial number is 4 bytes of the protocol), e.g. "
                             f"{'Mercury206, Mercury200' if family == 'mercury200' else 'Mercury23x, Mercury203'}")
    if command == "capture":
        if args.days:
            raise InputError(f"--days: capture {family} reads the meter's registers and instantaneous values, "
                             "no archive")
        if family == "mercury200" and address is None:
            raise InputError("capture mercury200: give --network-address (a Mercury 200 answers its own address "
                             "only; by default its serial number)")
        if args.level_password is not None:
            password_bytes(args.level_password)
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
    served = V1Generated(meter(), args.network_address)
    return v1.V1Imitator([served]), f" (serial {served.meter.serial}, network address {served.address})"


def imitator_v2(args, meter) -> Tuple[object, str]:
    """``imitate mercury230``: a generated meter at its network address, levels 1 and 2."""
    passwords = {v2.USER: password_bytes(args.user_password, "--user-password"),
                 v2.ADMIN: password_bytes(args.admin_password, "--admin-password")}
    served = V2Generated(meter(), args.network_address, passwords)
    return v2.V2Imitator([served]), f" (serial {served.serial}, network address {served.address})"


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
    energy from reset (total and tariffs 1-4), every instantaneous value the meter has."""
    from ..protocols.reading import Reading

    address = args.network_address or 0
    password = password_bytes(args.level_password or DEFAULT_PASSWORDS[args.level])
    with v2.V2Client(args.port, timeout=args.answer_timeout) as client:
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
        client.close_channel(address)
    reading = Reading(serial, "Mercury 230", MANUFACTURER, _stamp(moment, timezone))
    for tariff, values in enumerate(energy):
        for (direction, _), value in zip(ENERGY_QUANTITIES, values):
            if value is not None:
                reading.energy[f"{direction}{tariff}"] = float(value)
    reading.quality.update(quality)
    return reading
