"""The ``ce303`` protocol of ``imitate`` and ``capture`` (Energomera CE301/CE303 in IEC 61107 mode C
with Energomera's mnemonics, ``protocols.energomera``): a generated meter served as a CE meter
(``GeneratedCE``, the adapter from ``meter.GeneratedMeter`` to ``CEMeter``), and a CE meter read
into a ``Reading``.

What the capture writes, as the UM-40's daemon stored the CE303 emulator's answers
(../shared/reference/device-contract.md 1.2-1.6): ET0xx in Wh (the meter's kWh x 1000), the
quality values in W/var/V/A/Hz (CORUU's third angle negated into AngAC), ``ElDayEnergy`` at D 00:00
= ENDPE(D-1), ``ElMonthEnergy`` at the 1st = ENMPE(previous month), the profile GRAPE(D.N) as the
average W of the slot ending at D 00:00 + 30 N min."""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import InputError
from ..model import timegrid
from ..protocols.obis import DIRECTIONS, QUALITY_BY_TAG
from ..protocols.overrides import RegisterOverrides
from .faults import Fault, in_gap

#: MODEL answers of the emulator's counters (Counters/CE303.xml: 226, CE301.xml: 3)
MODEL_CODES = {"CE303": "226", "CE301": "3"}
#: The P1 password Energomera meters leave the factory with (the emulator's, wb-mqtt-serial's log)
DEFAULT_PASSWORD = "777777"


class GeneratedCE:
    """A generated meter (``meter.GeneratedMeter``) as a ``protocols.energomera.CEMeter``.

    The device address defaults to the serial's last 9 digits (a CE303's address is 9 digits:
    the device's MeterTable holds ``141227285`` for one); the identification is the model's
    first word with the emulator's version (``CE303v11``)."""

    integration_minutes = 30
    ratios = (1.0, 1.0)

    def __init__(self, meter, address: Optional[str] = None, password: str = DEFAULT_PASSWORD,
                 overrides: Optional[RegisterOverrides] = None, faults: Sequence[Fault] = ()) -> None:
        self.meter = meter
        self.overrides = overrides or RegisterOverrides()
        self.faults = list(faults)   # a planted gap: GRAPE of its slots is not held
        self.serial = meter.serial
        self.address = address or meter.serial[-9:]
        self.password = password
        family = (meter.model.split() or ["CE303"])[0]
        self.identification = f"{family}v11"
        self.model_code = MODEL_CODES.get(family, "226")
        self._profile: Dict[Tuple[int, int, int], List[int]] = {}

    def begin_session(self) -> None:
        self.meter.pin_quality()

    def clock(self) -> dt.datetime:
        return self.meter.local_now()

    def _days_ago(self, day: dt.date) -> Optional[int]:
        days_ago = (self.meter.local_now().date() - day).days
        return days_ago if 0 <= days_ago <= self.meter.archive_days else None

    def _check(self, direction: int) -> None:
        from ..protocols.energomera.codec import E_UNSUPPORTED, CEError

        if not self.meter.measured()[direction]:
            raise CEError("the meter does not measure this direction", E_UNSUPPORTED)

    def energy(self, direction: int, day: Optional[dt.date] = None) -> Optional[Sequence[int]]:
        self._check(direction)
        if day is None:
            registers = list(self.meter.registers()[direction])
            for tariff in range(len(registers)):  # -o 1.8.1:4321.125*kWh reaches ET0PE too
                wh = self.overrides.energy(DIRECTIONS[direction].tag, tariff)
                if wh is not None:
                    registers[tariff] = int(round(wh))
            return registers
        days_ago = self._days_ago(day)
        return None if days_ago is None else self.meter.day_start(days_ago)[direction]

    def profile(self, direction: int, day: dt.date, slot: int) -> Optional[int]:
        self._check(direction)
        days_ago = self._days_ago(day)
        end = self.meter.midnight(day) + slot * 1800
        if days_ago is None or end > self.meter.now() or in_gap(self.faults, end):
            return None  # not held (a planted gap too), or the slot is not complete yet
        key = (days_ago, direction, self.meter.now() // 1800)
        if key not in self._profile:
            self._profile = {key: self.meter.profile(days_ago, direction)}
        return self._profile[key][slot - 1]

    def instant(self) -> Dict[str, Optional[float]]:
        rows = self.meter.quality()
        out = {tag: quantity.value_in(rows) for tag, quantity in QUALITY_BY_TAG.items()}
        # U, I and cos phi leave at the wire's resolution (VOLTA 0.01 V, CURRE 0.001 A, COS_f 6
        # decimals): the active power is derived from what is sent, as a meter derives it, so a
        # capture holds P = U x I x kP (verify's quality-active-power) and PS = PA + PB + PC
        phases = []
        for x in "ABC":
            u, i, kp = out.get(f"U{x}"), out.get(f"I{x}"), out.get(f"kP{x}")
            if u is None or i is None or kp is None:
                continue
            out[f"U{x}"], out[f"I{x}"], out[f"kP{x}"] = round(u, 2), round(i, 3), round(kp, 6)
            out[f"P{x}"] = round(out[f"U{x}"] * out[f"I{x}"] * out[f"kP{x}"], 3)  # type: ignore[operator]
            phases.append(out[f"P{x}"])
        if phases and out.get("PS") is not None:
            out["PS"] = round(sum(phases), 3)  # type: ignore[arg-type]
        for tag, quantity in QUALITY_BY_TAG.items():  # -o 32.7.0:231.5 reaches VOLTA too
            value = self.overrides.number(quantity.code)
            if value is not None:
                out[tag] = value
        return out

    def journal(self, mnemonic: str) -> List[str]:
        """The records of a journal group, oldest first: the story's events of each meter.db
        journal the group lists (``codec.JOURNALS``), up to now and within the archive."""
        from ..protocols.energomera.codec import JOURNALS, journal_record

        now = self.meter.now()
        oldest = now - self.meter.archive_days * 86400
        events = sorted((ts, name, event) for name in JOURNALS.get(mnemonic, {})
                        for ts, event in self.meter.story.journal_events(name) if oldest <= ts <= now)
        return [journal_record(mnemonic, name, timegrid.local_datetime(ts, self.meter.tz), event)
                for ts, name, event in events]


# ---- the registry's functions --------------------------------------------------------------------
def options(command: str, p) -> None:
    """The options of ``imitate ce303`` and ``capture ce303``."""
    if command == "imitate":
        p.add_argument("--ce-address", default=None,
                       help="CE303: device address of the sign-on and P0 (default: the serial's last 9 digits)")
        p.add_argument("--ce-password", default=DEFAULT_PASSWORD,
                       help=f"CE303: P1 password (default {DEFAULT_PASSWORD}); also capture's")
        p.add_argument("--ce-repeat", action="store_true",
                       help="CE303: write the mnemonic on every value line, as the emulator the UM-40's daemon polled "
                            "(a real meter writes it once)")
        p.add_argument("--ce-fixed", action="store_true",
                       help="CE303: numbers with a real meter's fixed decimals (68.42 kWh) instead of exact ones")
        p.add_argument("--ce-reaction-ms", type=float, default=20.0,
                       help="CE303: wait before every answer, ms (default 20)")
    elif command == "capture":
        p.add_argument("--ce-password", default=DEFAULT_PASSWORD, help=f"CE303: P1 password (default {DEFAULT_PASSWORD})")


def check(command: str, args) -> None:
    """Refuse what a CE meter cannot do."""
    if command == "imitate" and args.ce_reaction_ms < 0:
        raise InputError("--ce-reaction-ms must be 0 or more")
    if command == "capture" and args.days > 120:
        raise InputError("--days: a CE303's archive of days reaches 120 days back at most here; give 120 or fewer")


def ce_overrides(items: Sequence[str]) -> Tuple[Dict[str, List[str]], Dict[str, str]]:
    """``-o`` items of ``imitate ce303``: fixed answers by mnemonic (``VOLTA:231.5,230,229.8``,
    ``ENDPE(03.12.26):1.5,1,0.5,0,0,0``, ``GRAPE:E17``: that error) and OBIS register overrides
    (``1.8.1:4321.125*kWh``, ``32.7.0:231.5``), which reach the mnemonics that report them."""
    from ..protocols.energomera.codec import COMMANDS
    from .iec import register_overrides

    answers: Dict[str, List[str]] = {}
    registers: List[str] = []
    for item in items:
        key, sep, value = item.partition(":")
        if sep and key.partition("(")[0] in COMMANDS:
            answers[key] = value.split(",")
        else:
            registers.append(item)
    return answers, register_overrides(registers)


def imitator(args, meter) -> Tuple[object, str]:
    """``imitate ce303``: a generated meter (of type SE303 unless ``--meter-type`` names another)."""
    from ..protocols.energomera.imitator import CEImitator

    answers, registers = ce_overrides(args.obis)
    served = GeneratedCE(meter(), args.ce_address, args.ce_password, RegisterOverrides(registers))
    imitator = CEImitator([served], repeat=args.ce_repeat, fixed=args.ce_fixed, reaction_ms=args.ce_reaction_ms,
                          answers=answers)
    return imitator, f" (serial {served.serial}, address {served.address})"


def read(args, timezone: str):
    """``capture ce303``: identity, registers, quality; with ``--days N`` the day and month
    registers, the P+ profile and the journals (``codec.JOURNALS``' groups, the records from the
    first day's midnight on, stamped at their minute: ``codec.journal_events``) of N past days
    and today so far."""
    from ..protocols.energomera.client import CEClient
    from ..protocols.energomera.codec import E_UNSUPPORTED, JOURNALS, CEError, journal_events
    from ..protocols.obis import DIRECTIONS
    from ..protocols.reading import Reading

    tz = timegrid.zone(timezone)
    with CEClient(args.port, address=args.device_address, password=args.ce_password) as client:
        serial = client.info("SNUMB")
        ident = client.link.identification
        family = (ident.identification if ident is not None else None) or ""
        model = family[:family.rfind("v")] if "v" in family else family   # CE303v11 -> CE303
        clock = client.clock().replace(tzinfo=tz)
        reading = Reading(serial, model, "EKT", int(clock.timestamp()))
        for direction in DIRECTIONS:
            try:
                values = client.energy(direction.index)
            except CEError as exc:
                if exc.code != E_UNSUPPORTED:
                    raise
                continue  # a direction the meter does not measure
            for tariff, value in enumerate(values[:5]):
                reading.energy[f"{direction.tag}{tariff}"] = value
        reading.quality.update(client.instant())
        today = clock.date()
        months = set()
        for days_ago in range(args.days, -1 if args.days else 0, -1):
            day = today - dt.timedelta(days=days_ago)
            midnight = timegrid.local_midnight(day, tz)
            registers = client.day_end(day - dt.timedelta(days=1))
            if registers is not None:
                reading.day_registers.append((midnight, registers[:5]))
            if day.day == 1 or days_ago == args.days:
                months.add((day.year, day.month))
            for slot in range(1, 49):
                if midnight + slot * 1800 > reading.timestamp:
                    break
                power = client.profile_slot(day, slot)
                if power is not None:
                    reading.profile.append((midnight + slot * 1800, power))
        for year, month in sorted(months):
            previous = (year - 1, 12) if month == 1 else (year, month - 1)
            registers = client.month_end(*previous)
            if registers is not None:
                reading.month_registers.append((timegrid.local_midnight(dt.date(year, month, 1), tz), registers[:5]))
        if args.days:
            first = timegrid.local_midnight(today - dt.timedelta(days=args.days), tz)
            for mnemonic in JOURNALS:
                try:
                    records = client.read_text(mnemonic)
                except CEError as exc:
                    if exc.code != E_UNSUPPORTED:
                        raise
                    continue  # a journal this meter does not keep
                for name, moment, event in journal_events(mnemonic, records):
                    ts = int(moment.replace(tzinfo=tz).timestamp())
                    if first <= ts <= reading.timestamp:
                        reading.journals.append((name, ts, event))
        return reading


def decode(raw: bytes, args) -> dict:
    """``decode ce303``: one CE frame (``SOH R1 STX MNEMO(arg) ETX C`` or ``STX ... ETX C``) as a
    document; CEError for bytes that are not one, or whose check character is wrong."""
    from ..protocols.energomera.codec import CEError, check_char, parse_answer
    from ..protocols.iec62056.messages import IECError, parse_message

    data = raw.strip(b" \t\r\n") if raw[:1] not in (b"\x01", b"\x02") else raw
    try:
        message = parse_message(data, check_char)
    except IECError as exc:
        raise CEError(str(exc), category="frame") from None
    if message.kind in ("ack", "nak"):
        return {"kind": message.kind}
    if not message.bcc_ok:
        raise CEError(f"check character is 0x{data[-1]:02X}, the 7-bit sum of the frame is "
                      f"0x{check_char(data[1:-1]):02X}", category="check")
    document: Dict[str, object] = {"kind": message.kind, "check": f"0x{data[-1]:02X}"}
    if message.kind == "command":
        document.update(command=message.command, data=message.data)
        return document
    try:
        answer = parse_answer(message.data or "")
        document.update(mnemonic=answer.mnemonic, values=answer.values)
    except CEError as exc:
        if exc.code is None:
            raise
        document.update(error=f"E{exc.code:02d}")
    return document
