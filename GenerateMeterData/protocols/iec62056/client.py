"""IEC 62056-21 client over any pyserial URL (``/dev/ttyUSB0``, ``COM3``, ``socket://host:port``,
``rfc2217://...``, ``loop://``): sign-on, readout in modes A, B and C with the baud switch after the
acknowledgement, mode D listening, and the programming mode (P1/R1/W1/B0).

Robust to what real heads do: the echo of our own request on half-duplex converters, garbage
before ``/``, LF-only lines, bytes with the parity bit set; a bad BCC is answered with NAK and
the message read again; every wait has a deadline and ends in one clear error."""
from __future__ import annotations

import datetime as dt
import time
from typing import Callable, Dict, List, Optional

from .messages import (ACK, ETX, EOT, NAK, STX, Check, DataSet, Identification, IECError, Readout, ack_option, bcc,
                       command, frame_length, neva_address, parse_data_sets, parse_identification, parse_message,
                       sign_on, strip_parity, telegram_crc)


#: The most the client holds of one message it has not completed: a readout of a big meter is tens
#: of kilobytes; a meter that sends more without ending its message is broken or hostile.
MAX_MESSAGE = 1024 * 1024


def open_port(url: str, baudrate: int = 300, timeout: float = 0.2):
    """A pyserial port for any URL, 7E1 as the standard wants (ignored by socket:// and loop://)."""
    import serial

    try:
        return serial.serial_for_url(url, baudrate=baudrate, bytesize=serial.SEVENBITS,
                                     parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE, timeout=timeout)
    except (serial.SerialException, ValueError) as exc:
        raise IECError(f"cannot open {url}: {exc}", "port") from None


class IECClient:
    """One meter on one port.

    Timing as IEC 62056-21 has it: the meter answers 20-1500 ms after our message (its reaction
    time tr), so every wait lasts ``timeout`` (5 s by default, above the 1500 ms maximum).  In
    mode C the baud rate changes right after the acknowledgement has left the port (``flush``
    drains it), before the meter's earliest answer at 20 or 200 ms; ``baud_switch_delay`` adds
    a pause for optical heads that need one, and must stay below the meter's reaction time."""

    def __init__(self, url: Optional[str] = None, *, port=None, address: str = "", initial_baud: int = 300,
                 timeout: float = 5.0, baud_switch_delay: float = 0.0, retries: int = 3,
                 max_baud: Optional[int] = None, sleep: Callable[[float], None] = time.sleep,
                 max_message: int = MAX_MESSAGE, check: Check = bcc) -> None:
        """``check``: the block check character of the programming mode's messages (the
        standard's XOR ``bcc``; Energomera's CE meters use a 7-bit sum, ``protocols.energomera``)."""
        if port is None and url is None:
            raise IECError("give a port URL (e.g. socket://host:port or /dev/ttyUSB0)", "port")
        self.url = url or getattr(port, "name", "port")
        self.port = port if port is not None else open_port(url, initial_baud)  # type: ignore[arg-type]
        self.address = address
        self.timeout = timeout
        self.baud_switch_delay = baud_switch_delay
        self.retries = retries
        self.max_baud = max_baud
        self.sleep = sleep
        self.max_message = max_message
        self.check = check
        self._sent = b""
        self._buffer = b""
        self.identification: Optional[Identification] = None
        self.crc_errors = 0   # push telegrams dropped for a wrong CRC (listen)

    def close(self) -> None:
        """Close the port."""
        try:
            self.port.close()
        except Exception:
            pass

    def __enter__(self) -> "IECClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- bytes --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (OSError, ValueError) as exc:  # pyserial's SerialException is an OSError
            raise IECError(f"{self.url}: the link to the meter is gone ({exc})", "port") from None
        self._sent = data

    def _fill(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise IECError(f"{self.url}: no {what} from the meter within {self.timeout:g} s", "timeout")
        try:
            chunk = self.port.read(self.port.in_waiting or 1)
        except (OSError, ValueError) as exc:  # a dead link: an error, never a partial reading
            raise IECError(f"{self.url}: the link to the meter is gone ({exc})", "port") from None
        if chunk:
            if len(self._buffer) + len(chunk) > self.max_message:
                raise IECError(f"{self.url}: the meter sent more than {self.max_message} bytes without completing "
                               f"the {what}", "limit")
            self._buffer += strip_parity(chunk)
            if self._sent and self._buffer.startswith(self._sent):
                self._buffer = self._buffer[len(self._sent):]  # the echo of our own request
                self._sent = b""

    def _read_line_from_slash(self, what: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            slash = self._buffer.find(b"/")
            if slash >= 0:
                end = self._buffer.find(b"\n", slash)
                if end >= 0:
                    line = self._buffer[slash:end + 1]
                    self._buffer = self._buffer[end + 1:]
                    return line
            elif len(self._buffer) > 256:
                self._buffer = self._buffer[-1:]  # garbage before '/': drop it
            self._fill(deadline, what)

    def _read_message(self, what: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            start = 0
            while start < len(self._buffer) and self._buffer[start] not in (1, 2, ACK, NAK):
                start += 1
            self._buffer = self._buffer[start:]
            length = frame_length(self._buffer)
            if length is not None:
                message, self._buffer = self._buffer[:length], self._buffer[length:]
                return message
            self._fill(deadline, what)

    # ---- sign-on and readout ---------------------------------------------------------------
    def sign_on(self) -> Identification:
        """Send ``/?address!`` and read the identification line."""
        self._buffer = b""
        self._write(sign_on(self.address))
        self.identification = parse_identification(self._read_line_from_slash("identification"))
        return self.identification

    def _switch_baud(self, baud: Optional[int]) -> None:
        if not baud:
            return
        if self.max_baud:
            baud = min(baud, self.max_baud)
        if getattr(self.port, "baudrate", None) == baud:
            return  # already there (a Neva session runs at 9600 from the start)
        if self.baud_switch_delay > 0:
            self.sleep(self.baud_switch_delay)
        try:
            self.port.baudrate = baud
        except Exception as exc:
            raise IECError(f"{self.url}: cannot switch to {baud} baud: {exc}", "port") from None

    def readout(self) -> Readout:
        """A data readout in the mode the identification announces (A, B or C)."""
        ident = self.sign_on()
        if ident.mode == "C":
            baud = ident.switchover_baud
            if self.max_baud and baud and baud > self.max_baud:
                baud = self.max_baud
            char = {300: "0", 600: "1", 1200: "2", 2400: "3", 4800: "4", 9600: "5", 19200: "6"}.get(baud or 300, "0")
            self._write(ack_option("0", char, "0"))
            self._switch_baud(baud)
        elif ident.mode == "B":
            self._switch_baud(ident.switchover_baud)
        return self._read_data_block(ident)

    def _read_data_block(self, ident: Optional[Identification]) -> Readout:
        for attempt in range(self.retries + 1):
            message = self._read_block()
            body_end = len(message) - 2
            ok = bcc(message[1:body_end + 1]) == message[-1]
            if ok:
                text = message[1:body_end].decode("latin-1")
                return Readout(ident, parse_data_sets(text), True)
            if attempt < self.retries:
                self._write(bytes([NAK]))
        raise IECError(f"{self.url}: readout BCC wrong {self.retries + 1} times", "bcc")

    def _read_block(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            stx = self._buffer.find(bytes([STX]))
            if stx >= 0:
                for end_char in (ETX, EOT):
                    end = self._buffer.find(bytes([end_char]), stx)
                    if end >= 0 and end + 1 < len(self._buffer):
                        block = self._buffer[stx:end + 2]
                        self._buffer = self._buffer[end + 2:]
                        return block
            self._fill(deadline, "readout")

    def listen(self) -> Readout:
        """Mode D: wait for a pushed readout (identification, data lines, ``!`` [CRC]).  A
        telegram whose CRC after ``!`` does not hold is dropped and counted in ``crc_errors``,
        and the next one awaited; ``retries`` + 1 such telegrams in a row is an error."""
        for _ in range(self.retries + 1):
            line = self._read_line_from_slash("pushed readout")
            ident = parse_identification(line)
            deadline = time.monotonic() + self.timeout
            while not self._telegram_end():
                if bytes([ETX]) in self._buffer:
                    break
                self._fill(deadline, "end of the pushed readout")
            end = self._telegram_end() or len(self._buffer)
            body, self._buffer = self._buffer[:end], self._buffer[end:]
            crc_ok = telegram_crc(line + body)
            if crc_ok is False:
                self.crc_errors += 1
                continue
            text = body.decode("latin-1")
            return Readout(ident, parse_data_sets(text.replace("\x02", "").split("\x03")[0]), None, crc_ok)
        raise IECError(f"{self.url}: {self.retries + 1} pushed telegrams in a row with a wrong CRC "
                       f"({self.crc_errors} dropped in all)", "crc")

    def _telegram_end(self) -> Optional[int]:
        """Where the telegram in the buffer ends (after the line with ``!``), or None."""
        bang = self._buffer.find(b"!")
        if bang < 0:
            return None
        end = self._buffer.find(b"\n", bang)
        return end + 1 if end >= 0 else None

    # ---- programming mode ------------------------------------------------------------------
    def programming(self, password: Optional[str] = "00000000", level: str = "P1") -> "ProgrammingSession":
        """Sign on in programming mode (ACK 0 Z 1), read the operand, send the password."""
        ident = self.sign_on()
        baud = ident.switchover_baud if ident.mode == "C" else None
        char = ident.baud_char if ident.mode == "C" else "0"
        self._write(ack_option("0", char, "1"))
        self._switch_baud(baud)
        operand = self._expect_message("P0 operand")
        if operand.kind != "command":
            raise IECError(f"{self.url}: expected the meter's P0 operand, got {operand.kind}", "dialogue")
        session = ProgrammingSession(self, operand.data)
        if password is not None:
            answer = session.exchange(command(level, f"({password})", self.check), "password answer")
            if answer.kind != "ack":
                detail = answer.data or answer.kind
                raise IECError(f"{self.url}: password refused ({detail})", "password")
        return session

    def _expect_message(self, what: str):
        for attempt in range(self.retries + 1):
            message = parse_message(self._read_message(what), self.check)
            if message.bcc_ok:
                return message
            if attempt < self.retries:
                self._write(bytes([NAK]))
        raise IECError(f"{self.url}: {what}: BCC wrong {self.retries + 1} times", "bcc")


class ProgrammingSession:
    """R1/W1 exchanges after a successful password; ``close()`` sends B0."""

    def __init__(self, client: IECClient, operand: Optional[str]) -> None:
        self.client = client
        self.operand = operand
        self.open = True

    def exchange(self, request: bytes, what: str):
        """Send a command and read the answer, NAK-ing and retrying on bad BCCs."""
        client = self.client
        for attempt in range(client.retries + 1):
            client._write(request)
            message = parse_message(client._read_message(what), client.check)
            if message.kind == "nak" and attempt < client.retries:
                continue  # the meter did not like our BCC (line noise): send again
            if not message.bcc_ok:
                if attempt < client.retries:
                    client._write(bytes([NAK]))
                    message = parse_message(client._read_message(what), client.check)
                    if message.bcc_ok:
                        return message
                continue
            return message
        raise IECError(f"{client.url}: {what}: no clean answer after {client.retries + 1} tries", "bcc")

    def read(self, address: str, argument: str = "") -> DataSet:
        """R1 ``address(argument)``; the meter's answer as a DataSet; ``(ERRnn)`` raises."""
        wire = neva_address(address) if "*" in address and "." in address and ":" not in address else address
        message = self.exchange(command("R1", f"{wire}({argument})", self.client.check), f"answer to R1 {address}")
        if message.kind != "data":
            raise IECError(f"{self.client.url}: R1 {address}: meter answered {message.kind}", "dialogue")
        sets = parse_data_sets(message.data or "")
        if not sets:
            raise IECError(f"{self.client.url}: R1 {address}: empty answer", "dialogue")
        answer = sets[0]
        if answer.error:
            raise IECError(f"{self.client.url}: R1 {address}: meter error ({answer.error})", "meter-error")
        return answer

    def write(self, address: str, value: str) -> None:
        """W1 ``address(value)``; raises when the meter does not ACK."""
        wire = neva_address(address) if "*" in address and "." in address and ":" not in address else address
        message = self.exchange(command("W1", f"{wire}({value})", self.client.check), f"answer to W1 {address}")
        if message.kind != "ack":
            detail = message.data or message.kind
            raise IECError(f"{self.client.url}: W1 {address} refused ({detail})", "meter-error")

    def close(self) -> None:
        """End the session (B0)."""
        if self.open:
            self.client._write(command("B0", check=self.client.check))
            self.open = False

    def __enter__(self) -> "ProgrammingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- Neva MT 3xx --------------------------------------------------------------------------------
def neva_tariff_map(switch_table: str, period_minutes: int = 30) -> List[int]:
    """Tariff of each half-hour from the daily switch table (``HHMMTT`` entries, zeros unused): a
    slot takes the tariff of the latest switch at or before its start, wrapping past midnight."""
    points = []
    for entry in switch_table.split(","):
        entry = entry.strip()
        if len(entry) == 6 and entry != "000000":
            hours, minutes, tariff = int(entry[0:2]), int(entry[2:4]), int(entry[4:6])
            if minutes % period_minutes == 0 and 1 <= tariff <= 4:
                points.append((hours * 60 + minutes, tariff))
    points.sort()
    slots = 1440 // period_minutes
    if not points:
        return [1] * slots
    out = []
    for slot in range(slots):
        start = slot * period_minutes
        current = points[-1][1]
        for minute, tariff in points:
            if minute <= start:
                current = tariff
        out.append(current)
    return out


def neva_half_hour_registers(session: ProgrammingSession, days_ago: int) -> Dict[str, object]:
    """Read one day of the Neva half-hour archive and split it into 4 tariffs by the meter's own
    switch table: day-start registers (Wh) and the 48 average powers (W) with each slot's tariff,
    plus the registers at the end of every half hour.  Re-reads the day when midnight passes
    while reading (up to 3 tries)."""
    for _ in range(3):
        date_before = session.read("00.09.02*FF").value
        day_start = [round(float(v) * 1000) for v in session.read(f"0F.80.80*{days_ago:02X}").values[0][0].split(",")]
        powers = [int(v) for v in session.read(f"63.01.00*{days_ago:02X}").values[0][0].split(",")]
        switches = session.read("0A.01.64*FF").value or ""
        if session.read("00.09.02*FF").value == date_before:
            break
    else:
        raise IECError("the meter's date kept changing while reading the archive", "dialogue")
    if not date_before:
        raise IECError("the meter gave no date (00.09.02) for its archive", "dialogue")
    tariffs = neva_tariff_map(switches)
    registers: List[List[float]] = [list(day_start)]
    current: List[float] = list(day_start)
    for power, tariff in zip(powers, tariffs):
        energy = power / 2.0  # average W over 30 min -> Wh
        current = current[:]
        current[0] += energy
        current[tariff] += energy
        registers.append(current)
    today = dt.date(2000 + int(date_before[0:2]), int(date_before[2:4]), int(date_before[4:6]))
    return {"date": today - dt.timedelta(days=days_ago), "day_start_wh": day_start, "powers_w": powers,
            "tariffs": tariffs, "registers_wh": registers}
