"""Energomera CE meters' IEC 61107 mode C messages: the check character, the mnemonic requests and
answers, the commands as data, the E-codes.

Frames are IEC 62056-21 programming-mode frames (``iec62056.messages``: ``SOH R1 STX data ETX C``,
``STX data ETX C``) whose check character C is **not** the standard's XOR: it is the sum of the
bytes after SOH/STX through ETX, modulo 128 (``check_char``).  Evidence: the emulator the UM-40's
daemon polled sends B0 as ``01 42 30 03 75`` (XOR would give 0x71) and computes every answer's
check with a sum; wb-mqtt-serial polls CE meters with ``Calc7BitCrc`` (sum & 0x7F), and every frame
of its CE102M test log verifies with the sum (tests/data/energomera/README.md).

A request is ``R1`` with ``MNEMO(argument)``; the answer repeats the mnemonic once, then each value
in parentheses on its own line: ``ET0PE(68.42)\\r\\n(45.54)\\r\\n...`` (wb-mqtt-serial's CE102M log;
the emulator repeated the mnemonic on every line, ``repeat=True``; ``parse_answer`` reads both).
An error answer carries no mnemonic: ``(E12)`` the parameter is not supported, ``(E17)`` its
argument is not (wb-mqtt-serial's ``CodeUnsupportedParameter`` / ``CodeUnsupportedParameterValue``).
A value the meter has not got (an archive day it does not hold, a profile slot not yet complete)
is an empty data block ``STX ETX 03``, as the emulator answered.

Units as the meter sends them: energy in kWh (kvarh), power in kW (kvar), profile as the slot's
average power in kW, U in V, I in A, F in Hz, angles in degrees.  Archive arguments: a day
``dd.mm.yy``, a month ``mm.yy``, a profile slot ``dd.mm.yy.N`` with N = 1..48 the half-hour that
ends at 00:00 + 30 N minutes (the emulator stamped GRAPE N at that time)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ...errors import ProtocolError
from ..iec62056.messages import command, data_message

#: wb-mqtt-serial's names for the two error codes it knows (energomera_iec_device.cpp)
E_UNSUPPORTED = 12         # the meter has no such parameter (an unknown mnemonic)
E_BAD_ARGUMENT = 17        # the parameter exists, its argument does not (a malformed date, N out of range)

#: What the identification line starts with: manufacturer EKT, baud character 5 (9600 Bd)
MANUFACTURER = "EKT"
#: Energy registers per answer: the total and tariffs 1-5 (the meter keeps five tariffs)
ENERGY_VALUES = 6
#: The longest answer the client accepts: an answer is a few values (under 200 bytes), a journal
#: a few dozen records of under 20 characters each
MAX_ANSWER = 8 * 1024


class CEError(ProtocolError):
    """An Energomera message that does not decode, or an error answer (``code`` set)."""

    def __init__(self, message: str, code: Optional[int] = None, category: str = "energomera") -> None:
        super().__init__(message)
        self.code = code
        self.category = category


def check_char(body: bytes) -> int:
    """The CE check character: the sum of the bytes (after SOH/STX, through ETX) modulo 128."""
    return sum(body) & 0x7F


# ---- the commands as data -------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """One mnemonic: what it reads and how its answer is built.

    ``kind``: ``energy`` (registers now), ``day_end``/``month_end`` (registers at the end of a
    day/month), ``day_cons``/``month_cons`` (energy consumed in it), ``profile`` (a slot's
    average power), ``instant`` (values by quality tag), ``info`` (identity, clock, settings),
    ``journal`` (event records).  ``direction``: 0-3 = A+, A-, R+, R- (``obis.DIRECTIONS``);
    ``tags``: the quality tags an ``instant`` answer lists, in order; ``scale``: the meter's
    unit in the base unit (1000: kW); ``negated``: tags served with the opposite sign."""
    mnemonic: str
    kind: str
    argument: str = ""                 # "", "day", "month", "slot"
    direction: int = 0
    tags: Tuple[str, ...] = ()
    scale: float = 1.0
    negated: Tuple[str, ...] = ()
    decimals: Optional[int] = None     # a real meter's fixed decimals (wb-mqtt-serial's CE102M log)


def _energy_commands() -> List[Command]:
    out = []
    for direction, suffix in enumerate(("PE", "PI", "QE", "QI")):
        out += [Command(f"ET0{suffix}", "energy", "", direction, decimals=2),
                Command(f"END{suffix}", "day_end", "day", direction, decimals=2),
                Command(f"ENM{suffix}", "month_end", "month", direction, decimals=2),
                Command(f"EAD{suffix}", "day_cons", "day", direction, decimals=2),
                Command(f"EAM{suffix}", "month_cons", "month", direction, decimals=2),
                Command(f"GRA{suffix}", "profile", "slot", direction, scale=1000.0)]
    return out


COMMANDS: Dict[str, Command] = {c.mnemonic: c for c in _energy_commands() + [
    Command("VOLTA", "instant", tags=("UA", "UB", "UC"), decimals=2),
    Command("CURRE", "instant", tags=("IA", "IB", "IC"), decimals=3),
    Command("POWEP", "instant", tags=("PS",), scale=1000.0),
    Command("POWPP", "instant", tags=("PA", "PB", "PC"), scale=1000.0),
    Command("POWEQ", "instant", tags=("QS",), scale=1000.0),
    Command("POWPQ", "instant", tags=("QA", "QB", "QC"), scale=1000.0),
    # the emulator's order: the sum first, then the phases
    Command("COS_f", "instant", tags=("kPS", "kPA", "kPB", "kPC")),
    # AB, BC, AC; the emulator served AngAC negated, and the daemon stored what it served negated
    # back into the meter's C angle (device-contract.md 1.6)
    Command("CORUU", "instant", tags=("AngAB", "AngBC", "AngAC"), negated=("AngAC",)),
    Command("FREQU", "instant", tags=("Freq",), decimals=2),
    Command("SNUMB", "info"), Command("MODEL", "info"), Command("IDPAS", "info"),
    Command("DATE_", "info"), Command("TIME_", "info"), Command("TAVER", "info"),
    Command("FCVOL", "info"), Command("FCCUR", "info"),
    # journals (the emulator's groups): voltage out of limits, phases on/off, clock corrections,
    # cover opened, electronic seal, programming
    Command("JOVER", "journal"), Command("PHASE", "journal"), Command("JCORT", "journal"),
    Command("DENIA", "journal"), Command("ELOCK", "journal"), Command("ACCES", "journal"),
]}


# ---- journals -----------------------------------------------------------------------------------
#: Journal mnemonic -> the meter.db journals its records come from, each with the bit it sets in
#: the record's state value (``event << bit``), or None for a record without a state.  The
#: emulator's table (``byte_position`` by journalId: 1 power -> 6, 9/10/11 phases A/B/C -> 0/1/2;
#: 20-25 UA max, UA min, UB max, UB min, UC max, UC min -> 3, 0, 4, 1, 5, 2), its clock
#: corrections written ``d/m/yy/h/m/1`` and its cover openings ``d-m-yy-h-m`` without a state.
JOURNALS: Dict[str, Dict[str, Optional[int]]] = {
    "PHASE": {"ElJrnlPwr": 6, "ElJrnlPwrA": 0, "ElJrnlPwrB": 1, "ElJrnlPwrC": 2},
    "JOVER": {"ElJrnlLimUAMax": 3, "ElJrnlLimUAMin": 0, "ElJrnlLimUBMax": 4, "ElJrnlLimUBMin": 1,
              "ElJrnlLimUCMax": 5, "ElJrnlLimUCMin": 2},
    "JCORT": {"ElJrnlTimeCorr": None},
    "DENIA": {"ElJrnlOpen": None},
}


def journal_record(mnemonic: str, journal: str, moment: dt.datetime, event: int) -> str:
    """One record as the emulator wrote it: minute resolution, no zero padding
    (``3-12-26-10-15-2``: 3 Dec 2026 10:15, state 2 = bit 1 set)."""
    stamp = [str(moment.day), str(moment.month), f"{moment.year % 100:02d}", str(moment.hour), str(moment.minute)]
    if mnemonic == "JCORT":
        return "/".join(stamp + ["1"])
    bit = JOURNALS[mnemonic][journal]
    return "-".join(stamp if bit is None else stamp + [str(event << bit)])


def journal_events(mnemonic: str, records: Sequence[str]) -> List[Tuple[str, dt.datetime, int]]:
    """The meter.db journal records of a group's records (oldest first), by local time: (journal,
    local time, Event).  A one-journal group's i-th record is that journal's i-th event
    (``measures.journal_event``: JCORT's trailing 1 and DENIA's missing state say nothing more);
    in a group of several a state with a journal's bit set is that journal's Event 1, and a state
    0 (no bit: any of them) is the Event 0 of the journal it pairs with -- the nearest record,
    not yet paired, that is the other event of one journal's pair (the next 1 of an off/on
    journal, whose 0 comes first; the last 1 of an enter/leave one, whose 1 comes first).  A
    record that pairs with none, or sets no single bit of the group, is left out."""
    from ...schema.measures import journal_event

    journals = JOURNALS[mnemonic]
    parsed = [parse_journal_record(text) for text in records]
    if len(journals) == 1:
        name = next(iter(journals))
        return [(name, moment, journal_event(name, i)) for i, (moment, _) in enumerate(parsed)]
    by_bit = {bit: name for name, bit in journals.items() if bit is not None}
    named: Dict[int, str] = {k: by_bit[state.bit_length() - 1] for k, (_, state) in enumerate(parsed)
                             if state and state & (state - 1) == 0 and state.bit_length() - 1 in by_bit}
    out = [(named[k], parsed[k][0], 1) for k in named]
    paired: set = set()
    for z, (moment, state) in enumerate(parsed):
        if state != 0:
            continue
        # a 1 after it of a journal whose first event is 0, or one before it of a journal whose first is 1
        candidates = [k for k, name in named.items() if k not in paired
                      and (k > z if journal_event(name, 0) == 0 else k < z)]
        if candidates:
            k = min(candidates, key=lambda k: (abs(k - z), k))
            paired.add(k)
            out.append((named[k], moment, 0))
    return sorted(out, key=lambda r: (r[1], r[0], r[2]))


def parse_journal_record(text: str) -> Tuple[dt.datetime, Optional[int]]:
    """(local time, state or None) of a record; CEError for what is not one."""
    parts = re.split(r"[-/]", text)
    try:
        day, month, year, hour, minute = (int(p) for p in parts[:5])
        moment = dt.datetime(2000 + year, month, day, hour, minute)
        state = int(parts[5]) if len(parts) > 5 and parts[5] != "" else None
    except (ValueError, TypeError):
        raise CEError(f"journal record {text[:40]!r} is not d-m-yy-h-m[-state]") from None
    return moment, state


# ---- arguments ----------------------------------------------------------------------------------
Argument = Union[None, dt.date, Tuple[int, int], Tuple[dt.date, int]]


def day_argument(day: dt.date) -> str:
    """``dd.mm.yy``."""
    return day.strftime("%d.%m.%y")


def month_argument(year: int, month: int) -> str:
    """``mm.yy``."""
    return f"{month:02d}.{year % 100:02d}"


def slot_argument(day: dt.date, slot: int) -> str:
    """``dd.mm.yy.N``: half-hour N (1-48) of a day, ending at 00:00 + 30 N minutes."""
    return f"{day_argument(day)}.{slot}"


def _date(day: str, month: str, year: str) -> dt.date:
    try:
        return dt.date(2000 + int(year), int(month), int(day))
    except ValueError:
        raise CEError(f"{day}.{month}.{year} is not a date", E_BAD_ARGUMENT) from None


def _bad(kind: str, text: str) -> CEError:
    return CEError(f"argument {text!r} is not a {kind} ({_FORMS[kind]})", E_BAD_ARGUMENT)


def parse_day(text: str) -> dt.date:
    """``dd.mm.yy``; CEError E17 when malformed."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2})", text.strip())
    if not match:
        raise _bad("day", text)
    return _date(*match.groups())


def parse_month(text: str) -> Tuple[int, int]:
    """``mm.yy`` as (year, month); CEError E17 when malformed."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(1)) <= 12:
        raise _bad("month", text)
    return 2000 + int(match.group(2)), int(match.group(1))


def parse_slot(text: str) -> Tuple[dt.date, int]:
    """``dd.mm.yy.N`` as (day, N) with N 1-48; CEError E17 when malformed."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2})\.(\d{1,2})", text.strip())
    if not match or not 1 <= int(match.group(4)) <= 48:
        raise _bad("slot", text)
    return _date(*match.groups()[:3]), int(match.group(4))


def parse_argument(kind: str, text: str) -> Argument:
    """A request's argument by the command's argument kind ("": none, ignored as the emulator
    ignored it); CEError E17 when malformed."""
    if kind == "day":
        return parse_day(text)
    if kind == "month":
        return parse_month(text)
    if kind == "slot":
        return parse_slot(text)
    return None


_FORMS = {"day": "dd.mm.yy", "month": "mm.yy", "slot": "dd.mm.yy.N with N 1-48"}


# ---- numbers ------------------------------------------------------------------------------------
def number_text(value: float, scale: float = 1.0, decimals: Optional[int] = None) -> str:
    """A value in the meter's unit as text: ``decimals`` fixed (a real meter's ``0.00``), or by
    default exact to 6 decimals without trailing zeros beyond the first, as the emulator's
    ``str(float)`` (1234 Wh -> ``1.234`` kWh, 50 Hz -> ``50.0``)."""
    if decimals is not None:
        return f"{value / scale:.{decimals}f}"
    text = f"{value / scale:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def to_number(text: str) -> float:
    """A value of an answer; CEError for what is not a number."""
    try:
        return float(text)
    except ValueError:
        raise CEError(f"value {text[:40]!r} is not a number") from None


# ---- frames -------------------------------------------------------------------------------------
def request(mnemonic: str, argument: str = "") -> bytes:
    """``SOH R1 STX MNEMO(argument) ETX C``."""
    return command("R1", f"{mnemonic}({argument})", check_char)


def answer_text(mnemonic: str, values: Sequence[str], repeat: bool = False) -> str:
    """The data of an answer: the mnemonic, then every value in parentheses and CR LF."""
    return "".join(f"{mnemonic if i == 0 or repeat else ''}({value})\r\n" for i, value in enumerate(values))


def answer(mnemonic: str, values: Sequence[str], repeat: bool = False) -> bytes:
    """``STX MNEMO(v1) CR LF (v2) CR LF ... ETX C`` (no values: the empty ``STX ETX 03``)."""
    return data_message(answer_text(mnemonic, values, repeat), check_char)


def error(code: int) -> bytes:
    """``STX (Enn) ETX C``."""
    return data_message(f"(E{code:02d})", check_char)


@dataclass
class Answer:
    """A decoded answer: the mnemonic it names ("" for an empty answer) and its values as sent."""
    mnemonic: str
    values: List[str]


_ITEM = re.compile(r"([A-Za-z0-9_]*)\(([^()]*)\)")
_ERROR = re.compile(r"E(?:RR)?(\d{1,3})")


def parse_answer(data: str, expected: Optional[str] = None) -> Answer:
    """The data of an answer frame (between STX and ETX).  ``(Enn)`` raises CEError with the
    code; an answer naming another mnemonic than ``expected``, or with text outside the
    parentheses, raises CEError."""
    items: List[Tuple[str, str]] = []
    position = 0
    for match in _ITEM.finditer(data):
        gap = data[position:match.start()]
        if gap.strip("\r\n"):
            raise CEError(f"answer has {gap[:20]!r} outside the parentheses")
        items.append((match.group(1), match.group(2)))
        position = match.end()
    if data[position:].strip("\r\n"):
        raise CEError(f"answer ends in {data[position:][:20]!r}, not a value in parentheses")
    if not items:
        return Answer("", [])
    name = items[0][0]
    if len(items) == 1:
        code = _ERROR.fullmatch(items[0][1])
        if code:
            raise CEError(f"the meter answered E{int(code.group(1)):02d}"
                          f"{' (parameter not supported)' if int(code.group(1)) == E_UNSUPPORTED else ''}"
                          f"{' (argument not supported)' if int(code.group(1)) == E_BAD_ARGUMENT else ''}",
                          int(code.group(1)), "meter-error")
    if expected is not None and name != expected:
        raise CEError(f"asked for {expected}, the answer names {name or 'nothing'!r}")
    for other, _ in items[1:]:
        if other not in ("", name):
            raise CEError(f"answer of {name} goes on with {other}")
    return Answer(name, [value for _, value in items])
