"""An IEC 62056-21 meter imitator: serves on any ``stream.StreamService`` URL (TCP, a pty, a
serial port) and answers sign-on, data readout (mode C) and programming mode (P1/R1/W1/B0) with
correct BCC; NAKs a message with a bad BCC; answers an unknown register with an error message
instead of dying.

It serves a meter's values (``values.MeterValues``: serial, model, live registers, quality, the
Neva register set with live date and time and the half-hour archive) -- ``imitation.IECImitator``
defaults to a generated meter of the core; fixed values come from ``-o ADDRESS:value``
overrides or a Neva register fixture."""
from __future__ import annotations

import json
import re
import time
from typing import Callable, Dict, List, Optional, Tuple

from ..obis import DIRECTION, DIRECTIONS, ENERGY_BY_CODE, ENERGY_D, INSTANTANEOUS, QUALITY_BY_CODE, energy_code
from ..overrides import NEVA_LISTS, RegisterOverrides, is_neva_address, number, obis_code
from ..stream import StreamService, incoming
from ..values import MeterValues
from .messages import (ACK, NAK, SOH, STX, Identification, IECError, command, data_message, frame_length, parse_message,
                       strip_parity)

ERR_UNKNOWN_REGISTER = "ERR02"
ERR_PASSWORD = "ERR05"
ERR_NOT_AUTHORISED = "ERR03"

Lookup = Callable[[str, str], Optional[str]]  # (address as written, argument) -> value text


def _key(address: str) -> str:
    return address.replace(".", "").replace("*", "").replace(":", "").replace("-", "").upper()


class RegisterTable:
    """Fixed register values by address, with F-index ranges (``63.01.00*[0..7F]``) and live
    date/time for value-less ``00.09.02*FF`` / ``00.09.01*FF`` (as the Neva tool's imitator)."""

    def __init__(self, clock=time.time) -> None:
        self.values: Dict[str, Optional[str]] = {}
        self.ranges: List[Tuple[str, int, int, Optional[str]]] = []
        self.clock = clock

    def set(self, address: str, value: Optional[str]) -> None:
        """A fixed value for an address (or an F-index range ``*[lo..hi]``)."""
        match = re.match(r"^(.*)\*\[([0-9A-Fa-f]+)\.\.([0-9A-Fa-f]+)\]$", address)
        if match:
            self.ranges.append((_key(match.group(1)), int(match.group(2), 16), int(match.group(3), 16), value))
        else:
            self.values[_key(address)] = value

    def __call__(self, address: str, argument: str = "") -> Optional[str]:
        key = _key(address)
        if key in self.values:
            value = self.values[key]
            if value is None:
                now = time.localtime(self.clock())
                if key == "000902FF":
                    return time.strftime("%y%m%d", now)
                if key == "000901FF":
                    return time.strftime("%H%M%S", now)
                return ""
            return value
        for prefix, low, high, value in self.ranges:
            if key.startswith(prefix) and len(key) == len(prefix) + 2:
                index = int(key[-2:], 16)
                if low <= index <= high:
                    return value
        return None

    @classmethod
    def from_neva_fixture(cls, path: str) -> "RegisterTable":
        """The registers of a Neva imitator fixture (JSON)."""
        table = cls()
        for item in json.load(open(path, encoding="utf-8"))["items"]:
            table.set(item["request_code"], item["value"])
        return table


def generated_lookup(meter: MeterValues) -> Lookup:
    """The Neva register set and standard OBIS registers of a generated meter, live (Neva writes
    the OBIS groups in hex: ``20.07.00*FF`` is 32.7.0)."""

    def kwh(values: List[int]) -> str:
        return ",".join(f"{v / 1000:.3f}" for v in values)

    def lookup(address: str, argument: str = "") -> Optional[str]:
        key = _key(address)
        now = meter.local_now()
        if key == "000902FF":
            return now.strftime("%y%m%d")
        if key == "000901FF":
            return now.strftime("%H%M%S")
        if key == "600100FF":
            # 12 digits, zero-padded; a longer serial (an Energomera's or a MILUR's 15) whole, so
            # every path of a capture finds the same meter
            return meter.serial.rjust(12, "0")
        if key == "600101FF":
            return meter.serial[-8:]
        if key == "600104FF":
            return meter.model
        if key == "0A0164FF":
            return meter.switch_table()
        if key == "0B0000FF":
            return ",".join(["000000"] * 32)
        if len(key) == 8:
            index = int(key[6:8], 16)
            try:
                code: Optional[tuple] = (int(key[0:2], 16), int(key[2:4], 16), int(key[4:6], 16))
            except ValueError:
                code = None
            if code in NEVA_LISTS and index == 0xFF:
                direction = DIRECTION[NEVA_LISTS[code]]
                if not meter.measured()[direction.index]:
                    return None  # a quantity the meter does not measure: ERR02, as in its readout
                return kwh(meter.registers()[direction.index])
            if key.startswith("0F8080"):
                return kwh(meter.day_start(index)[0])
            if key.startswith("630100") and index <= 0x7F:
                return ",".join(str(v) for v in meter.profile(index))
            if code in QUALITY_BY_CODE and index == 0xFF:
                value = QUALITY_BY_CODE[code].value_in(meter.quality())
                return "" if value is None else f"{value}"
        return None

    return lookup


def readout_lines(meter: MeterValues) -> List[str]:
    """The data block of a mode C readout of a generated meter (standard OBIS, decimal)."""
    now = meter.local_now()
    lines = [f"0.0.0({meter.serial})", f"C.1.0({meter.serial})", f"96.1.1({meter.model})",
             f"0.9.1({now:%H:%M:%S})", f"0.9.2({now:%y-%m-%d})"]
    registers = meter.registers()
    measured = meter.measured()
    for direction in DIRECTIONS:
        if not measured[direction.index]:
            continue
        for tariff in range(5 if meter.tariffed else 1):
            register = ENERGY_BY_CODE[energy_code(direction.tag, tariff)]
            lines.append(f"{register.address}({registers[direction.index][tariff] / 1000:.3f}*k{direction.unit})")
    quality = meter.quality()
    for quantity in INSTANTANEOUS:
        value = quantity.value_in(quality)
        if value is not None:
            lines.append(f"{quantity.address}({value}{'*' + quantity.unit if quantity.unit else ''})")
    return lines


#: Bytes kept while no message completes, and the longest message this imitator reads.
MAX_BUFFER, MAX_MESSAGE = 16384, 4096


class IECImitator(StreamService):
    """One imitated meter; serve it with ``start(url)`` (or ``start_tcp()``, ``start_pty()``,
    ``start_serial(url)``)."""

    serial_options = {"baudrate": 9600, "bytesize": 7, "parity": "E", "stopbits": 1}  # 7E1

    def __init__(self, lookup: Optional[Lookup] = None, *, meter: Optional[MeterValues] = None,
                 manufacturer: str = "GMD", identification: Optional[str] = None, baud_char: str = "5",
                 password: Optional[str] = "00000000", address: Optional[str] = None, operand: str = "00000000",
                 readout: Optional[Callable[[], List[str]]] = None,
                 overrides: Optional[Dict[str, str]] = None, mode: str = "C",
                 reaction_ms: Optional[float] = None) -> None:
        """``mode`` C answers sign-on, then readout or programming on request; A and B send the
        readout right after the identification (B announces a baud letter); D pushes a readout
        to every connection every ``push_interval`` seconds without being asked.

        ``reaction_ms`` is the reaction time tr waited before every answer: IEC 62056-21 allows
        200-1500 ms, or from 20 ms when the third manufacturer letter is lower case (the
        default follows that letter: 20 or 200 ms).  Values outside that range are accepted, to
        imitate meters that break it (a Neva MT 324 answers R1 after about 40 ms)."""
        if lookup is None:
            if meter is None:
                raise TypeError("IECImitator: give a meter (GenerateMeterData.imitation.IECImitator serves a "
                                "generated one by default) or a register lookup")
            lookup = generated_lookup(meter)
            readout = readout or (lambda: readout_lines(meter))  # type: ignore[union-attr]
            identification = identification or (meter.model.replace(" ", "")[:16])
        self.meter = meter
        self.overrides = RegisterOverrides(overrides)
        self.table = RegisterTable()
        for key, value in (overrides or {}).items():
            self.table.set(key, value)
        self.base_lookup = lookup
        self.readout = readout or (lambda: [])
        self.manufacturer = manufacturer
        minimum = Identification(manufacturer, "5", None).reaction_time_ms
        if reaction_ms is None:
            reaction_ms = minimum
        if reaction_ms < 0:
            raise IECError(f"reaction time {reaction_ms:g} ms: give 0 or more (the standard's range is "
                           f"{minimum}-1500 ms for manufacturer {manufacturer!r})", "reaction-time")
        self.reaction_time = reaction_ms / 1000.0
        self.push_interval = 1.0   # mode D: seconds between two pushed readouts
        self.identification = identification or "IMITATOR"
        self.baud_char = baud_char
        self.password = password
        self.address = address
        self.operand = operand
        if mode not in ("A", "B", "C", "D"):
            raise IECError(f"imitator mode {mode!r}: A, B, C or D", "mode")
        self.mode = mode
        if mode == "A" and baud_char == "5":
            self.baud_char = " "
        elif mode == "B" and baud_char == "5":
            self.baud_char = "E"
        super().__init__()
        self.sessions = 0

    def lookup(self, address: str, argument: str = "") -> Optional[str]:
        """A register's value: overrides first (as written, then by OBIS register in this
        address's notation: Neva hex without units, decimal as in the readout), then the meter."""
        value = self.table(address, argument)
        if value is not None:
            return value
        code = obis_code(address)
        if code is not None and self.overrides:
            return self._overridden(code, is_neva_address(address), lambda: self.base_lookup(address, argument))
        return self.base_lookup(address, argument)

    def _overridden(self, code: tuple, neva: bool, base: Callable[[], Optional[str]]) -> Optional[str]:
        if code in NEVA_LISTS:  # total and tariffs 1-4 in kWh: each element may be overridden
            direction = NEVA_LISTS[code]
            given = self.overrides.text(code)
            if given is not None:
                return given
            current = base()
            if not current:
                return current  # a register the meter does not report is not invented
            parts = current.split(",")
            changed = False
            for tariff in range(5):
                wh = self.overrides.energy(direction, tariff)
                if wh is not None:
                    while len(parts) <= tariff:
                        parts.append("0.000")
                    parts[tariff], changed = f"{wh / 1000:.3f}", True
            return ",".join(parts) if changed else current
        text = self.overrides.text(code)
        register = ENERGY_BY_CODE.get(code)
        if text is None and register is not None:
            wh = self.overrides.energy(register.direction.tag, register.tariff)
            if wh is not None:
                text = f"{wh / 1000:.3f}" if neva else f"{wh / 1000:.3f}*k{register.direction.unit}"
        if text is None:
            return base()
        if neva:  # Neva registers hold bare numbers in the base unit (kWh for energy)
            amount = number(text, "kwh") if code[1] == ENERGY_D else None
            return f"{amount / 1000:.3f}" if amount is not None else text.split("*")[0]
        return text

    def readout_lines(self) -> List[str]:
        """The readout's data lines with the overrides applied to every register it reports."""
        lines = self.readout()
        if not self.overrides:
            return lines
        out = []
        for line in lines:
            match = re.match(r"^([^()]+)\((.*)\)$", line)
            code = obis_code(match.group(1)) if match else None
            if match is None or code is None:
                out.append(line)
                continue
            value = match.group(2)
            unit = value.split("*", 1)[1] if "*" in value else None
            new = self._overridden(code, False, lambda: value)
            if new is not None and new != value and unit and "*" not in new:
                new = f"{new}*{unit}"
            out.append(f"{match.group(1)}({new if new is not None else value})")
        return out

    # ---- transports -----------------------------------------------------------------------
    def identification_line(self) -> bytes:
        """``/XXXZidentification`` CR LF."""
        return Identification(self.manufacturer, self.baud_char, self.identification).encode()

    def readout_message(self) -> bytes:
        """STX data block ! CR LF ETX BCC."""
        return data_message("".join(line + "\r\n" for line in self.readout_lines()) + "!\r\n")

    def pty_nonblocking(self) -> bool:
        """Mode D pushes to a pty whether anyone reads or not: such a push must not block."""
        return self.mode == "D"

    def push_message(self) -> bytes:
        """Mode D: the identification line and the data block, sent without being asked."""
        return (self.identification_line() + b"\r\n"
                + "".join(line + "\r\n" for line in self.readout_lines()).encode("latin-1") + b"!\r\n")

    def _push_forever(self, send) -> None:
        while not self._stop.is_set():
            try:
                send(self.push_message())
            except BlockingIOError:
                pass  # nobody reads the pty: this push is lost, as on a wire
            if self._stop.wait(self.push_interval):
                return

    # ---- the dialogue -----------------------------------------------------------------------
    def serve(self, receive, send, keep_open: bool = False) -> None:
        """Run dialogues on one byte stream until it closes (``receive`` returns b""); mode D
        pushes a readout every ``push_interval`` seconds instead, as push meters do (a listener
        that connects, or flushes its input, after one push gets the next)."""
        if self.mode == "D":
            self._push_forever(send)
            return
        buffer = b""
        state = "idle"
        last_sent = b""
        authorised = False

        def answer(data: bytes) -> None:
            """Every answer waits the reaction time tr after the message it answers."""
            self._stop.wait(self.reaction_time)
            send(data)

        def reply(data: bytes) -> None:
            nonlocal last_sent
            last_sent = data
            answer(data)

        for chunk in incoming(receive, self._stop, keep_open):
            buffer += strip_parity(chunk)
            if len(buffer) > MAX_BUFFER:  # a client streaming bytes that make no message:
                buffer = buffer[-MAX_MESSAGE:]  # keep the tail, so nothing is rescanned forever
            progressed = True
            while progressed:
                progressed = False
                if state == "idle":
                    match = re.search(rb"/\?([^!\r\n]*)!\r\n", buffer)
                    if match:
                        buffer = buffer[match.end():]
                        requested = match.group(1).decode("ascii", "replace")
                        if self.address and requested not in ("", self.address):
                            continue  # another meter on the bus is addressed
                        self.sessions += 1
                        if self.meter is not None:
                            self.meter.pin_quality()  # one session reads one measurement
                        reply(self.identification_line())
                        state, authorised, progressed = "ident", False, True
                        if self.mode == "A":  # no option select: the data follows at once
                            last_sent = self.readout_message()
                            send(last_sent)
                            state = "readout"
                        elif self.mode == "B":  # both sides switch to the announced baud rate first
                            reply(self.readout_message())
                            state = "readout"
                elif state == "ident":
                    start = buffer.find(bytes([ACK]))
                    if start >= 0 and len(buffer) >= start + 6 and buffer[start + 4:start + 6] == b"\r\n":
                        option = buffer[start + 1:start + 4].decode("ascii", "replace")
                        buffer = buffer[start + 6:]
                        if option[2] == "1":
                            reply(command("P0", f"({self.operand})"))
                            state = "prog"
                        else:
                            reply(self.readout_message())
                            state = "readout"
                        progressed = True
                    elif re.search(rb"/\?[^!]*!\r\n", buffer):
                        state, progressed = "idle", True
                elif state == "readout":
                    # the readout is repeated for a NAK that answers it; any other byte ends the
                    # dialogue (a NAK inside another meter's frame on the line is not for us)
                    if buffer[:1] == bytes([NAK]):
                        buffer = buffer[1:]
                        answer(last_sent)
                        progressed = True
                    elif buffer:
                        state, progressed = "idle", True
                elif state == "prog":
                    start = 0
                    while start < len(buffer) and buffer[start] not in (SOH, STX, ACK, NAK):
                        if buffer[start:start + 2] == b"/?":
                            break
                        start += 1
                    buffer = buffer[start:]
                    if buffer[:2] == b"/?":
                        state, progressed = "idle", True
                        continue
                    length = frame_length(buffer)
                    if length is None:
                        continue
                    raw, buffer = buffer[:length], buffer[length:]
                    progressed = True
                    if raw[0] == NAK:
                        answer(last_sent)
                        continue
                    if raw[0] == ACK:
                        continue
                    try:
                        message = parse_message(raw)
                    except IECError:
                        reply(bytes([NAK]))
                        continue
                    if not message.bcc_ok:
                        answer(bytes([NAK]))
                        continue
                    name, data = message.command or "", message.data or ""
                    if name == "B0":
                        state = "idle"
                    elif name in ("P1", "P2"):
                        if self.password is None or data == f"({self.password})":
                            authorised = True
                            reply(bytes([ACK]))
                        else:
                            reply(data_message(f"({ERR_PASSWORD})"))
                    elif name in ("R1", "R2", "R5", "R6"):
                        address, _, argument = data.partition("(")
                        if self.password is not None and not authorised:
                            reply(data_message(f"({ERR_NOT_AUTHORISED})"))
                            continue
                        value = self.lookup(address, argument.rstrip(")"))
                        if value is None:
                            reply(data_message(f"({ERR_UNKNOWN_REGISTER})"))
                        else:
                            reply(data_message(f"{address}({value})"))
                    elif name in ("W1", "W2", "W5"):
                        if self.password is not None and not authorised:
                            reply(data_message(f"({ERR_NOT_AUTHORISED})"))
                            continue
                        address, _, value = data.partition("(")
                        self.table.set(address, value.rstrip(")"))
                        reply(bytes([ACK]))
                    else:
                        reply(data_message(f"({ERR_UNKNOWN_REGISTER})"))
