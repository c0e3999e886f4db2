"""An RTU-327 client over TCP: one connection, bounded in time and memory.

Every failure is one exception with a one-line message: ``BadPassword`` (result 10), another
``ResultError``, ``CrcError``, ``TruncatedFrame``, ``OverlongFrame`` (a length above
``max_frame``), ``Stall`` (nothing within ``read_timeout``, or the whole answer past
``deadline``), ``Flood`` (more than ``max_junk`` bytes that start no frame), ``FrameError``, and
``ConnectError`` when the concentrator cannot be reached."""
from __future__ import annotations

import socket
import time
from typing import Dict, List, Optional, Sequence, Tuple

from ...errors import ConnectError
from . import commands as c
from .frames import (BODY_HEAD, DEFAULT_PASSWORD, HEADER, MAX_BODY, PREFIX, TRAILER, Command, CrcError, Flood,
                     Frame, FrameError, OverlongFrame, Result, Stall, TruncatedFrame, check_result, crc16,
                     decode_body, encode_request)

DEFAULT_PORT = 8888   # uspd_settings.ini of the device testers


def password_bytes(password: object) -> bytes:
    """A password as the 4 bytes sent: 4 bytes as they are, or 8 hex digits ("00000000", the
    testers' default; "FFFFFFFF")."""
    if isinstance(password, (bytes, bytearray)):
        if len(password) != 4:
            raise ValueError("RTU-327: the password is 4 bytes")
        return bytes(password)
    text = str(password)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 4 or len(text) != 8:
        raise ValueError("RTU-327: give the password as 8 hex digits, e.g. 00000000")
    return value


class Rtu327Client:
    """``Rtu327Client(host, port=8888, password="00000000")``: one request at a time over one TCP
    connection (opened on first use, closed by ``close()`` or after a failure)."""

    def __init__(self, host: str, port: int = DEFAULT_PORT, password: object = DEFAULT_PASSWORD,
                 connect_timeout: float = 5.0, read_timeout: float = 5.0, deadline: float = 30.0,
                 max_frame: int = MAX_BODY, max_junk: int = 256) -> None:
        self.host, self.port = host, int(port)
        self.password = password_bytes(password)
        self.connect_timeout, self.read_timeout, self.deadline = connect_timeout, read_timeout, deadline
        self.max_frame, self.max_junk = max_frame, max_junk
        self._sock: Optional[socket.socket] = None
        self._packet = 0
        self.round_trips = 0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- transport -------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            except socket.timeout:
                raise ConnectError(host=self.host, port=self.port,
                                   reason=f"no answer to connect within {self.connect_timeout:g} s") from None
            except OSError as exc:
                raise ConnectError(host=self.host, port=self.port, reason=exc.strerror or str(exc)) from None
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self) -> "Rtu327Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def exchange(self, command: int, data: bytes = b"", allow: Tuple[int, ...] = ()) -> Frame:
        """Send one request, read its answer; raise for a result not 0 and not in ``allow``."""
        self._packet = self._packet % 0xFFFF + 1
        packet = encode_request(command, data, self._packet, self.password)
        name = Command(command).name if command in Command._value2member_map_ else f"command {command}"
        sock = self._connect()
        try:
            sock.settimeout(self.read_timeout)
            sock.sendall(packet)
            frame = self._read_answer(sock, name)
        except socket.timeout:
            self.close()
            raise Stall(f"RTU-327 {name}: {self.where} sent nothing for {self.read_timeout:g} s") from None
        except OSError as exc:
            self.close()
            raise ConnectError(host=self.host, port=self.port, reason=f"{name}: {exc.strerror or exc}") from None
        except Exception:
            self.close()
            raise
        self.round_trips += 1
        check_result(frame, name, allow)
        return frame

    def _read_answer(self, sock: socket.socket, name: str) -> Frame:
        end = time.monotonic() + self.deadline
        buffer = bytearray()
        junk = 0
        need = HEADER
        while True:
            while len(buffer) < need:
                left = end - time.monotonic()
                if left <= 0:
                    raise Stall(f"RTU-327 {name}: the answer from {self.where} took longer than {self.deadline:g} s")
                sock.settimeout(min(self.read_timeout, left))
                chunk = sock.recv(min(65536, need - len(buffer)))
                if not chunk:
                    if buffer or junk:
                        raise TruncatedFrame(f"RTU-327 {name}: {self.where} closed the connection after "
                                             f"{len(buffer)} bytes of a frame")
                    raise TruncatedFrame(f"RTU-327 {name}: {self.where} closed the connection without an answer")
                buffer += chunk
                if need == HEADER and buffer and buffer[0] != PREFIX:
                    start = buffer.find(PREFIX)
                    skipped = len(buffer) if start < 0 else start
                    junk += skipped
                    del buffer[:skipped]
                    if junk > self.max_junk:
                        raise Flood(f"RTU-327 {name}: {self.where} sent more than {self.max_junk} bytes that "
                                    "start no frame")
            if need == HEADER:
                length = int.from_bytes(buffer[1:3], "big")
                if length > self.max_frame:
                    raise OverlongFrame(f"RTU-327 {name}: {self.where} announced a {length}-byte frame "
                                        f"(the limit is {self.max_frame})")
                if length < BODY_HEAD:
                    raise FrameError(f"RTU-327 {name}: {self.where} announced a {length}-byte frame "
                                     f"(a body has at least {BODY_HEAD})")
                need = HEADER + length + TRAILER
                continue
            break
        length = need - HEADER - TRAILER
        body = bytes(buffer[HEADER:HEADER + length])
        sent = int.from_bytes(buffer[HEADER + length:need], "big")
        if sent != crc16(body):
            raise CrcError(f"RTU-327 {name}: the answer's check code {sent:04x} does not match its body "
                           f"({crc16(body):04x})")
        return decode_body(body)

    # ---- commands -------------------------------------------------------------------------------
    def get_version(self) -> str:
        return c.decode_version(self.exchange(Command.GETVERSION).data)

    def get_time(self) -> int:
        return c.decode_time(self.exchange(Command.GETTIME).data)

    def set_time(self, correction: int) -> None:
        self.exchange(Command.SETTIME, c.build_settime(correction))

    def get_max_log_id(self, section: int = 1) -> int:
        return c.decode_maxlogid(self.exchange(Command.GETMAXLOGID, c.build_maxlogid(section)).data)

    def get_log(self, section: int, first_id: int, count: int) -> List[c.LogEvent]:
        frame = self.exchange(Command.GETLOG, c.build_getlog(section, first_id, count), allow=(Result.NO_MORE_DATA,))
        return [] if frame.code == Result.NO_MORE_DATA else c.decode_log(frame.data)

    def get_shprm(self, serial: object) -> c.MeterParameters:
        return c.decode_shprm(self.exchange(Command.GETSHPRM, c.build_shprm(serial)).data)

    def get_pok(self, serial: object, at: int, channels: Sequence[str] = c.POK_CHANNELS) -> Dict[str, float]:
        """Registers (kWh) of the record stamped exactly ``at``."""
        return c.decode_pok(self.exchange(Command.GETPOK, c.build_pok(serial, at, channels)).data, channels)

    def _profile(self, command: int, data: bytes, channels: Sequence[str]) -> c.Profile:
        frame = self.exchange(command, data, allow=(Result.NO_MORE_DATA,))
        if frame.code == Result.NO_MORE_DATA:
            return c.Profile(tuple(n for n in c.LP_CHANNELS if n in channels), 0, 0, ())
        return c.decode_lp(frame.data, channels)

    def get_lp(self, serial: object, start: int, count: int, channels: Sequence[str] = c.LP_CHANNELS) -> c.Profile:
        """Up to ``count`` intervals from the one ending at ``start`` (included)."""
        return self._profile(Command.GETLP, c.build_lp(serial, start, count, channels), channels)

    def get_short_lp(self, serial: object, start: int, count: int, interval: int = 0,
                     channels: Sequence[str] = c.LP_CHANNELS) -> c.Profile:
        return self._profile(Command.GETSHORTLP, c.build_shortlp(serial, interval, start, count, channels), channels)

    def get_lp_common(self, serial: object, start: int, count: int, kind: int = c.LPCMN_LOAD_PROFILE,
                      channels: Sequence[str] = c.LP_CHANNELS) -> c.Profile:
        return self._profile(Command.GETLPCMN, c.build_lpcmn(serial, kind, start, count, channels), channels)

    def get_tests(self, serial: object, start: int, count: int = 1) -> c.Tests:
        frame = self.exchange(Command.GETTESTS, c.build_tests(serial, start, count), allow=(Result.NO_MORE_DATA,))
        if frame.code == Result.NO_MORE_DATA:
            return c.Tests((), 0, ())
        return c.decode_tests(frame.data)

    def get_autoread(self, serial: object, day: int, channel: str = "A+", count: int = 1) -> List[c.AutoRead]:
        """Fixed readings stamped after ``day`` (the tests ask with the record's stamp - 1)."""
        frame = self.exchange(Command.GETAUTOREAD, c.build_autoread(serial, day, channel, count),
                              allow=(Result.NO_MORE_DATA,))
        return [] if frame.code == Result.NO_MORE_DATA else c.decode_autoread(frame.data)

    def get_meter_log(self, serial: object, start: int, count: int) -> List[Tuple[int, int]]:
        """(evTime, evType) of the meter's journal events from ``start``."""
        frame = self.exchange(Command.GETMTRLOG, c.build_mtrlog(serial, start, count), allow=(Result.NO_MORE_DATA,))
        return [] if frame.code == Result.NO_MORE_DATA else c.decode_mtrlog(frame.data)

    def get_tou(self, serial: object, channel: str = "A+") -> Tuple[c.TouReading, c.TouReading]:
        return c.decode_tou(self.exchange(Command.GETTOU, c.build_tou(serial, channel)).data)
