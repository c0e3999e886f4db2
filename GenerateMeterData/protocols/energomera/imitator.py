"""The meter's side of the Energomera CE dialogue: ``CEMeter`` (what a CE301/CE303 reports),
``respond`` (the answer frame to one R1 request, from the commands as data) and ``CEImitator``
(meters on one byte stream, served by URL).

The dialogue, as the emulator the UM-40's daemon polled ran it (TR1GUN/SimulatorMeter):

1. ``/?ADDRESS!`` CR LF -> ``/EKT5`` + identification (``CE303v11``) CR LF.  The address selects
   the meter on the line; an empty address is answered by the line's first meter.
2. ``ACK 0 Z Y`` CR LF (any option) -> ``SOH P0 STX (ADDRESS) ETX C``.
3. ``P1 (password)`` -> ACK; a wrong password -> NAK (the emulator answered NAK there: its
   password-mismatch branch fails and its error path sends NAK).
4. ``R1 MNEMO(argument)`` -> the values, ``(E12)`` for an unknown mnemonic, ``(E17)`` for a bad
   argument, the empty ``STX ETX 03`` for a value not held.  Reads need no password, as with
   the emulator.  ``W1`` -> ACK (nothing is written).  ``B0`` ends the session, unanswered.

A message whose check character is wrong is answered with NAK (the emulator did not check it; the
standard wants NAK), junk between messages is skipped; every answer leaves in one write."""
from __future__ import annotations

import datetime as dt
import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

try:
    from typing import Protocol
except ImportError:  # pragma: no cover - Python < 3.8
    Protocol = object  # type: ignore[assignment,misc]

from ..iec62056.messages import ACK, NAK, SOH, STX, IECError, command, frame_length, parse_message, strip_parity
from ..stream import StreamService, incoming
from .codec import (COMMANDS, E_BAD_ARGUMENT, E_UNSUPPORTED, ENERGY_VALUES, MANUFACTURER, CEError, answer,
                    check_char, error, number_text, parse_day, parse_month, parse_slot)

#: Bytes kept while no message completes (a request is well under 100 bytes).
MAX_BUFFER = 4096


class CEMeter(Protocol):
    """What a CE301/CE303 reports; an imitator serves one per address."""

    address: str                 # the device address of the sign-on and of P0 (9 digits)
    password: str                # the P1 password (Energomera's default: 777777)
    identification: str          # what follows /EKT5 ("CE303v11")
    serial: str                  # SNUMB
    model_code: str              # MODEL
    integration_minutes: int     # TAVER: the profile's period
    ratios: Tuple[float, float]  # FCVOL, FCCUR: voltage and current transformer ratios

    def begin_session(self) -> None: ...  # a session starts: hold one measurement for it

    def clock(self) -> dt.datetime: ...  # the meter's local time now

    def energy(self, direction: int, day: Optional[dt.date] = None) -> Optional[Sequence[int]]: ...
    # Wh (varh) [total, tariff 1, ...] of direction 0-3 now, or at the 00:00 that starts ``day``;
    # None: a day the archive does not hold (in the future, or older than its depth)

    def profile(self, direction: int, day: dt.date, slot: int) -> Optional[int]: ...
    # the average power (W) of half-hour ``slot`` (1-48) of ``day``; None: not held / not complete

    def instant(self) -> Mapping[str, Optional[float]]: ...  # by quality tag (UA ... Freq), base units

    def journal(self, mnemonic: str) -> Sequence[str]: ...  # a journal's records as the meter writes them


def _registers(values: Optional[Sequence[int]]) -> Optional[List[int]]:
    if values is None:
        return None
    return (list(values) + [0] * ENERGY_VALUES)[:ENERGY_VALUES]


def _next_month(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1)


def values_of(meter: CEMeter, mnemonic: str, argument: str, fixed: bool = False) -> List[str]:
    """The values of an R1 answer as text (``fixed``: with a real meter's fixed decimals, else
    exact); CEError (with the E-code) when the meter refuses."""
    spec = COMMANDS.get(mnemonic)
    if spec is None:
        raise CEError(f"no parameter {mnemonic!r}", E_UNSUPPORTED)
    kind, direction = spec.kind, spec.direction
    decimals = spec.decimals if fixed else None

    def kwh(registers: Optional[Sequence[int]]) -> List[str]:
        return [] if registers is None else [number_text(wh, 1000.0, decimals) for wh in registers]

    if kind == "energy":
        return kwh(_registers(meter.energy(direction)))
    if kind in ("day_end", "day_cons", "month_end", "month_cons"):
        if kind in ("day_end", "day_cons"):
            start = parse_day(argument)
            end = start + dt.timedelta(days=1)
        else:
            year, month = parse_month(argument)
            start, end = dt.date(year, month, 1), _next_month(year, month)
        last = _registers(meter.energy(direction, end))
        if kind in ("day_end", "month_end") or last is None:
            return kwh(last)
        first = _registers(meter.energy(direction, start))
        return [] if first is None else kwh([b - a for a, b in zip(first, last)])
    if kind == "profile":
        day, slot = parse_slot(argument)
        watts = meter.profile(direction, day, slot)
        return [] if watts is None else [number_text(watts, spec.scale)]
    if kind == "instant":
        values = meter.instant()
        texts = []
        for tag in spec.tags:
            value = values.get(tag)
            if value is not None and tag in spec.negated:
                value = -value
            texts.append("" if value is None else number_text(value, spec.scale, decimals))
        while texts and texts[-1] == "":
            texts.pop()  # a single-phase meter has no phases B and C
        if not texts:
            raise CEError(f"{mnemonic}: the meter does not measure it", E_UNSUPPORTED)
        return texts
    if kind == "journal":
        return list(meter.journal(mnemonic))
    clock = meter.clock()
    info: Dict[str, Callable[[], str]] = {
        "SNUMB": lambda: meter.serial, "MODEL": lambda: meter.model_code, "IDPAS": lambda: meter.address,
        "DATE_": lambda: f"0{(clock.weekday() + 1) % 7}.{clock:%d.%m.%y}", "TIME_": lambda: f"{clock:%H:%M:%S}",
        "TAVER": lambda: str(meter.integration_minutes),
        "FCVOL": lambda: number_text(meter.ratios[0]), "FCCUR": lambda: number_text(meter.ratios[1])}
    return [info[mnemonic]()]


def respond(meter: CEMeter, mnemonic: str, argument: str, repeat: bool = False, fixed: bool = False) -> bytes:
    """The answer frame to ``R1 MNEMO(argument)``: values, ``(Enn)``, or the empty block."""
    try:
        return answer(mnemonic, values_of(meter, mnemonic, argument, fixed), repeat)
    except CEError as exc:
        return error(exc.code or E_BAD_ARGUMENT)


def identification_line(meter: CEMeter) -> bytes:
    """``/EKT5`` + identification, CR LF."""
    return f"/{MANUFACTURER}5{meter.identification}\r\n".encode("ascii")


_SIGN_ON = re.compile(rb"/\?([^!\r\n/]{0,32})!\r\n")


class CEImitator(StreamService):
    """CE meters on one line (one ``CEMeter`` per device address), served by URL
    (``start("tcp://HOST:PORT")``, ``pty://``, a serial port: 9600 7E1).

    ``repeat``: answer every value line with the mnemonic, as the emulator did (a real meter, and
    wb-mqtt-serial's parser, have it on the first line only).  ``fixed``: numbers with a real
    meter's fixed decimals (``68.42``, ``0.00``: 10 Wh steps) instead of the emulator's exact
    ones.  ``reaction_ms``: the wait before every answer.  ``answers``: fixed values by
    ``MNEMO`` or ``MNEMO(argument)`` (``{"VOLTA": ["231.5"]}``), a lone ``Enn`` value answering
    that error (fault injection)."""

    serial_options = {"baudrate": 9600, "bytesize": 7, "parity": "E", "stopbits": 1}

    def __init__(self, meters: Sequence[CEMeter], *, repeat: bool = False, fixed: bool = False,
                 reaction_ms: float = 20.0, answers: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        if not meters:
            raise CEError("give at least one meter")
        if reaction_ms < 0:
            raise CEError(f"reaction time {reaction_ms:g} ms: give 0 or more")
        super().__init__()
        self.meters = {meter.address: meter for meter in meters}
        self.first = meters[0]
        self.repeat = repeat
        self.fixed = fixed
        self.answers = {key: list(values) for key, values in (answers or {}).items()}
        self.reaction = reaction_ms / 1000.0
        self.sessions = 0
        self.naks = 0        # messages refused for a wrong check character
        self.dropped = 0     # bytes skipped as junk

    def serve(self, receive, send, keep_open: bool = False) -> None:
        buffer = b""
        state = "idle"
        meter: Optional[CEMeter] = None
        last = b""

        def reply(data: bytes, remember: bool = True) -> None:
            nonlocal last
            if remember:
                last = data
            if self.reaction:
                self._stop.wait(self.reaction)
            send(data)  # one write per frame

        for chunk in incoming(receive, self._stop, keep_open):
            buffer += strip_parity(chunk)
            if len(buffer) > MAX_BUFFER:
                self.dropped += len(buffer) - MAX_BUFFER // 4
                buffer = buffer[-MAX_BUFFER // 4:]
            while buffer:
                sign_on = _SIGN_ON.search(buffer)
                first = _first_frame_start(buffer)
                if sign_on and (state == "idle" or first < 0 or sign_on.start() < first):
                    self.dropped += sign_on.start()
                    buffer = buffer[sign_on.end():]
                    wanted = sign_on.group(1).decode("ascii", "replace")
                    meter = self.meters.get(wanted) if wanted else self.first
                    if meter is None:
                        state = "idle"  # another meter on the line is addressed
                        continue
                    self.sessions += 1
                    meter.begin_session()
                    reply(identification_line(meter))
                    state = "ident"
                    continue
                if state == "idle" or meter is None:
                    keep = buffer.rfind(b"/")
                    self.dropped += len(buffer) if keep < 0 else keep
                    buffer = b"" if keep < 0 else buffer[keep:]
                    break
                if state == "ident":
                    start = buffer.find(bytes([ACK]))
                    if start < 0:
                        break
                    if len(buffer) < start + 6:
                        break
                    if buffer[start + 4:start + 6] != b"\r\n":
                        buffer = buffer[start + 1:]
                        continue
                    buffer = buffer[start + 6:]
                    reply(command("P0", f"({meter.address})", check_char))
                    state = "prog"
                    continue
                # programming mode
                start = _first_frame_start(buffer)
                if start < 0:
                    slash = buffer.rfind(b"/")
                    self.dropped += len(buffer) if slash < 0 else slash
                    buffer = b"" if slash < 0 else buffer[slash:]
                    break
                self.dropped += start
                buffer = buffer[start:]
                length = frame_length(buffer)
                if length is None:
                    break
                raw, buffer = buffer[:length], buffer[length:]
                if raw[0] == NAK:
                    reply(last, remember=False)
                    continue
                if raw[0] == ACK:
                    continue
                try:
                    message = parse_message(raw, check_char)
                except IECError:
                    self.naks += 1
                    reply(bytes([NAK]), remember=False)
                    continue
                if not message.bcc_ok:
                    self.naks += 1
                    reply(bytes([NAK]), remember=False)
                    continue
                name, data = message.command or "", message.data or ""
                if message.kind != "command":
                    reply(bytes([NAK]), remember=False)
                elif name == "B0":
                    state, meter = "idle", None
                elif name[:1] == "P":
                    reply(bytes([ACK if data == f"({meter.password})" else NAK]))
                elif name[:1] == "R":
                    match = re.fullmatch(r"([A-Za-z0-9_]{1,16})\(([^()]*)\)", data)
                    if match is None:
                        reply(error(E_UNSUPPORTED))
                    else:
                        reply(self.answer_to(meter, match.group(1), match.group(2)))
                elif name[:1] == "W":
                    reply(bytes([ACK]))
                else:
                    reply(error(E_UNSUPPORTED))

    def answer_to(self, meter: CEMeter, mnemonic: str, argument: str) -> bytes:
        """The answer to ``R1 MNEMO(argument)``: a fixed answer when one is given, else the meter's."""
        given = self.answers.get(f"{mnemonic}({argument})", self.answers.get(mnemonic))
        if given is None:
            return respond(meter, mnemonic, argument, self.repeat, self.fixed)
        code = re.fullmatch(r"E(\d{1,3})", given[0]) if len(given) == 1 else None
        return error(int(code.group(1))) if code else answer(mnemonic, given, self.repeat)


def _first_frame_start(buffer: bytes) -> int:
    """Where the first SOH, STX, ACK or NAK is (-1: none); bytes.find, so junk is scanned at C speed."""
    found = [i for i in (buffer.find(bytes([b])) for b in (SOH, STX, ACK, NAK)) if i >= 0]
    return min(found) if found else -1
