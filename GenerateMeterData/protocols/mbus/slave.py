"""An M-Bus slave imitator on any ``stream.StreamService`` URL (TCP, a pty, a serial port): answers SND_NKE with E5 and REQ_UD2 with RSP_UD (FCB-aware:
a repeated FCB gets the last telegram again, a toggled one the next telegram of a multi-telegram
readout), and takes part in selection by secondary address (with wildcards) at address 253;
``MBusBus`` puts several of them on one port.

It serves a meter's values (``values.MeterValues``; ``imitation.MBusSlave`` defaults to a
generated meter of the core): serial as identification, registers per tariff, export, and
quality values; recorded frames can be served instead."""
from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional

from ..obis import DIRECTION, DIRECTIONS, instantaneous
from ..overrides import RegisterOverrides
from ..stream import StreamService
from ..values import MeterValues
from .electricity import ENERGY_SUBUNITS, PHASE_SUBUNITS
from .frames import ACK, FCB, FCV, Frame, REQ_UD2, SND_NKE, SND_UD, split_frames
from .records import Record, build_rsp_ud, variable_header

SELECT_ADDRESS = 0xFD
BROADCAST_NO_REPLY, BROADCAST_REPLY = 0xFF, 0xFE
CI_APPLICATION_RESET, CI_SELECT = 0x50, 0x52
SELECTION_LENGTH = 8   # ID (4 BCD bytes), manufacturer (2), version, medium


def _function(control: int) -> int:
    """The C field without FCB/FCV: the function code and the direction bit."""
    return control & 0xCF


def secondary_matches(pattern: str, address: str) -> bool:
    """A selection mask against a secondary address, both as 16 hex digits (ID, manufacturer,
    version, medium as in a selection frame).  EN 13757-3: an F stands for any digit inside the
    identification number only; manufacturer, version and medium are wildcarded only as a
    whole field (FFFF, FF, FF) -- an F nibble there must match literally."""
    pattern, address = pattern.upper(), address.upper()
    if len(pattern) != 16 or len(address) != 16:
        return False
    if not all(p in ("F", a) for p, a in zip(pattern[:8], address[:8])):
        return False
    for start, end in ((8, 12), (12, 14), (14, 16)):
        field = pattern[start:end]
        if field != "F" * (end - start) and field != address[start:end]:
            return False
    return True


def generated_telegrams(meter: MeterValues, address: int, access: int,
                        overrides: Optional[RegisterOverrides] = None, status: int = 0) -> List[bytes]:
    """Two telegrams (the second after DIF 1F): energy registers, then quality and the clock;
    ``overrides`` (``-o 1.8.0:...``, ``-o 32.7.0:...``) replace the registers they name;
    ``status``: the header's status byte (EN 13757-3; 0: no error)."""
    overrides = overrides or RegisterOverrides()
    registers = [list(row) for row in meter.registers()]
    for direction in DIRECTIONS:
        for tariff in range(5):
            wh = overrides.energy(direction.tag, tariff)
            if wh is not None:
                registers[direction.index][tariff] = int(round(wh))
    identification = int(meter.serial[-8:])
    header = variable_header(identification, "GMD", 1, 0x02, access_number=access, status=status)
    energy: List[Record] = []
    measured = meter.measured()
    for tariff in range(5 if meter.tariffed else 1):
        for subunit, tag in enumerate(ENERGY_SUBUNITS):
            if measured[DIRECTION[tag].index]:
                energy.append(Record.build(0x03, registers[DIRECTION[tag].index][tariff], tariff=tariff,
                                           subunit=subunit))  # Wh
    quality = meter.quality()
    now = meter.local_now()
    second: List[Record] = [Record.build(0x6D, now.replace(tzinfo=None), data_type="datetime"),
                            Record.build(0x78, identification, data_type="bcd8")]
    for subunit, phase in enumerate(PHASE_SUBUNITS):
        if instantaneous("U", phase).value_in(quality) is None:
            continue  # a phase the meter does not have
        values: Dict[str, Optional[float]] = {}
        for kind in ("U", "I", "P"):
            quantity = instantaneous(kind, phase)
            value = overrides.number(quantity.code)
            values[kind] = value if value is not None else quantity.value_in(quality)
        # a quantity the meter leaves NULL (a recorded or reduced quality row) has no record
        volts, amperes, watts = values["U"], values["I"], values["P"]
        if volts is not None:
            second.append(Record.build(0xFD, round(volts * 10), extension=0x48, data_type="int16", subunit=subunit))
        if amperes is not None:
            second.append(Record.build(0xFD, round(amperes * 1000), extension=0x59, data_type="int32", subunit=subunit))
        if watts is not None:
            second.append(Record.build(0x28, round(watts * 1000), data_type="int32", subunit=subunit))  # P mW
    return [build_rsp_ud(address, header, energy, more_follow=True),
            build_rsp_ud(address, header, second)]


class MBusSlave(StreamService):
    """One imitated slave; serve it alone with ``start(url)`` (``start_tcp()``, ``start_pty()``,
    ``start_serial(url)``) or several on one imitated bus with ``MBusBus``.

    Link state as EN 13757-2 / EN 60870-5-2 want it: the frame count bit is tracked per slave
    (a repeated FCB gets the last answer again, a toggled one the next telegram); SND_NKE, a
    selection and an application reset (CI 50h) each start a new FCB transaction and restart a
    multi-telegram readout.  Selection frames of the wrong length are ignored, like a real meter
    does, and counted in ``counters``."""

    serial_options = {"baudrate": 2400, "parity": "E"}   # EN 13757-2: 8E1, 2400 baud by default

    def __init__(self, meter: Optional[MeterValues] = None, primary_address: int = 1,
                 telegrams: Optional[List[bytes]] = None, overrides: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        self.overrides = RegisterOverrides(overrides)
        self.meter = meter if telegrams is None else None
        if telegrams is None and self.meter is None:
            raise TypeError("MBusSlave: give a meter (GenerateMeterData.imitation.MBusSlave serves a generated "
                            "one by default) or recorded telegrams")
        self.primary_address = primary_address
        self.status = 0   # the status byte of the generated telegrams' headers (a planted fault)
        self.recorded = telegrams
        self.selected = False
        self.access = 0
        self._index = 0
        self._last_fcb: Optional[bool] = None
        self._last_reply = b""
        self.requests = 0
        self.counters: Dict[str, int] = {"frames": 0, "answered": 0, "selected": 0, "not selected": 0,
                                         "selection frames ignored (bad length)": 0, "application resets": 0,
                                         "repeated (same FCB)": 0}

    @property
    def secondary_address(self) -> str:
        """The slave's 16-hex-digit secondary address."""
        if self.recorded:
            from .records import decode_telegram
            return decode_telegram(self.recorded[0]).secondary_address or ""
        identification = int(self.meter.serial[-8:])  # type: ignore[union-attr]
        code = 0
        for letter in "GMD":
            code = code * 32 + (ord(letter) - 64)
        return f"{identification:08d}{code & 0xFF:02X}{code >> 8:02X}0102"

    def _telegrams(self) -> List[bytes]:
        if self.recorded is not None:
            return self.recorded
        return generated_telegrams(self.meter, self.primary_address, self.access,  # type: ignore[arg-type]
                                   self.overrides, self.status)

    def _addressed(self, address: int) -> bool:
        return address == self.primary_address or address in (BROADCAST_NO_REPLY, BROADCAST_REPLY) or \
            (address == SELECT_ADDRESS and self.selected)

    def reset_link(self) -> None:
        """A new FCB transaction from the first telegram of the readout."""
        self._index, self._last_fcb, self._last_reply = 0, None, b""

    def _select(self, frame: Frame) -> Optional[bytes]:
        raw = frame.data
        if len(raw) != SELECTION_LENGTH:
            self.counters["selection frames ignored (bad length)"] += 1
            return None            # a meter does not answer a frame it cannot read
        pattern = f"{int.from_bytes(raw[0:4], 'little'):08X}{raw[4]:02X}{raw[5]:02X}{raw[6]:02X}{raw[7]:02X}"
        self.selected = secondary_matches(pattern, self.secondary_address)
        self.counters["selected" if self.selected else "not selected"] += 1
        if not self.selected:
            return None
        self.reset_link()
        return bytes([ACK])

    def handle(self, frame: Frame) -> Optional[bytes]:
        """The slave's answer to one frame from the master (None: stay silent)."""
        self.requests += 1
        self.counters["frames"] += 1
        answer = self._answer(frame)
        if answer:
            self.counters["answered"] += 1
        return answer

    def _answer(self, frame: Frame) -> Optional[bytes]:
        function = _function(frame.control)
        if frame.kind == "short" and function == _function(SND_NKE):
            if not self._addressed(frame.address):
                return None
            self.reset_link()
            if frame.address == SELECT_ADDRESS:
                self.selected = False     # SND_NKE to 253 deselects
            return bytes([ACK]) if frame.address != BROADCAST_NO_REPLY else None
        if frame.kind == "short" and function == _function(REQ_UD2):
            if not self._addressed(frame.address) or frame.address == BROADCAST_NO_REPLY:
                return None
            fcb = bool(frame.control & FCB) if frame.control & FCV else None
            if fcb is not None and self._last_fcb is not None and fcb == self._last_fcb and self._last_reply:
                self.counters["repeated (same FCB)"] += 1
                return self._last_reply        # the master did not get it: repeat
            telegrams = self._telegrams()
            if fcb is not None and self._last_fcb is not None and fcb != self._last_fcb:
                self._index = (self._index + 1) % len(telegrams)
            elif fcb is None:
                self._index = 0
            self._last_fcb = fcb
            self.access = (self.access + 1) & 0xFF
            reply = self._telegrams()[self._index]
            self._last_reply = reply
            return reply
        if frame.kind in ("long", "control") and function == _function(SND_UD) and frame.address == SELECT_ADDRESS \
                and frame.ci == CI_SELECT:
            return self._select(frame)
        if frame.kind in ("long", "control") and self._addressed(frame.address):
            if frame.ci == CI_APPLICATION_RESET:
                self.counters["application resets"] += 1
                self.reset_link()
            return bytes([ACK]) if frame.address != BROADCAST_NO_REPLY else None
        return None

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        """Answer the frames arriving on one byte stream."""
        serve_frames(self._stop, [self], receive, send, keep_open)


class MBusBus(StreamService):
    """Several imitated slaves on one port, as on one bus: every slave sees every frame and
    their answers go out together (two answers at once collide, as they would on a wire)."""

    serial_options = MBusSlave.serial_options

    def __init__(self, slaves: List[MBusSlave]) -> None:
        super().__init__()
        self.slaves = slaves

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        """Answer the frames arriving on one byte stream."""
        serve_frames(self._stop, self.slaves, receive, send, keep_open)


def serve_frames(stop: threading.Event, slaves: List[MBusSlave], receive: Callable[[], Optional[bytes]],
                 send: Callable[[bytes], None], keep_open: bool = False) -> None:
    """Read frames from a byte stream (``receive``: None when nothing came, b"" when it closed)
    and send what the slaves answer; ``keep_open``: a pty or serial port outlives its clients."""
    buffer = b""
    while not stop.is_set():
        chunk = receive()
        if chunk is None:
            continue
        if not chunk:
            if not keep_open:
                return
            time.sleep(0.05)
            continue
        frames, buffer, _ = split_frames(buffer + chunk)
        for frame in frames:
            answers = [answer for answer in (slave.handle(frame) for slave in slaves) if answer]
            if answers:
                send(b"".join(answers))
