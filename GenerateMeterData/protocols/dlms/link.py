"""HDLC connection mode (IEC 62056-46): the client's side (SNRM/UA with parameter negotiation,
I-frames with N(S)/N(R), RR to fetch the next segment, DISC/DM, retransmission on timeout) and
the server's side the imitator runs (windows of I-frames, go-back-N on a repeated N(R)), plus the
byte streams both run over (pyserial URL, socket) and the IEC 62056-47 wrapper transport."""
from __future__ import annotations

import socket
import time
from typing import Callable, List, Optional, Union

from .errors import DLMSError
from .hdlc import (DEFAULT_PARAMETERS, DISC, DM, LLC_REQUEST, LLC_RESPONSE, MAX_REASSEMBLED, RR, SNRM, UA,
                   Address, Frame, FrameReader, Reassembler, control_i, control_s, control_u, encode_parameters, parse_parameters,
                   segment, strip_llc)
from .wrapper import WrapperReader, wrap


# ---- byte streams -------------------------------------------------------------------------
class SocketStream:
    """A connected TCP socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise DLMSError(f"connection lost: {exc}", "session") from None

    def read(self, timeout: float) -> bytes:
        """Some bytes, b"" when none came within ``timeout``; DLMSError when the peer closed."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return b""
        except OSError as exc:
            raise DLMSError(f"connection lost: {exc}", "session") from None
        if not data:
            raise DLMSError("the meter closed the connection", "session")
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class SerialStream:
    """Any pyserial URL: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://..., a pty's path."""

    def __init__(self, url: str, baudrate: int = 9600) -> None:
        import serial

        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, bytesize=8, parity="N", stopbits=1, timeout=0.1)
        except (serial.SerialException, ValueError) as exc:
            raise DLMSError(f"cannot open {url}: {exc}", "session") from None
        self.url = url

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except Exception as exc:  # pyserial raises several types for a vanished port
            raise DLMSError(f"{self.url}: {exc}", "session") from None

    def read(self, timeout: float) -> bytes:
        self.port.timeout = max(timeout, 0.001)
        try:
            first = self.port.read(1)
            if not first:
                return b""
            return first + self.port.read(self.port.in_waiting)
        except Exception as exc:  # pyserial raises several types for a vanished port
            raise DLMSError(f"{self.url}: {exc}", "session") from None

    def close(self) -> None:
        self.port.close()


def open_stream(url: str, baudrate: int = 9600) -> Union[SocketStream, SerialStream]:
    """A stream for a pyserial URL or ``tcp://host:port``; ``socket://host:port`` without options is a
    plain socket too (what pyserial opens, read a buffer at a time instead of two bytes a call)."""
    scheme, _, rest = url.partition("://")
    if scheme == "tcp" or (scheme == "socket" and "?" not in rest):
        host, _, port = rest.rpartition(":")
        try:
            return SocketStream(socket.create_connection((host, int(port)), timeout=10))
        except (OSError, ValueError) as exc:
            raise DLMSError(f"cannot connect to {url}: {exc}", "session") from None
    return SerialStream(url, baudrate)


# ---- client side --------------------------------------------------------------------------
#: The default deadline of one whole read (an answer with all its segments, or a GET with all its
#: blocks): long enough for a year of a load profile at 9600 baud, short enough that a meter
#: that never finishes is given up.
READ_TIMEOUT = 300.0


class Deadline:
    """The one deadline of a whole read: ``Deadline(seconds)`` from now."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def error(self) -> DLMSError:
        """The one error of a read that ran past its deadline."""
        return DLMSError(f"the meter's answer did not complete within {self.seconds:g} s (the deadline of one "
                         "read: a meter that keeps sending segments or blocks, or a slow line; --read-timeout "
                         "raises it)", "deadline")


class HdlcClientLink:
    """One HDLC connection from a client to a server; ``request(apdu)`` returns the answer APDU.
    ``round_trips`` counts every frame sent that waited for an answer.

    Bounded: ``timeout`` is the wait for each frame (then it is sent again, ``retries`` times);
    a whole answer, all its segments together, has one deadline (``read_timeout``, or the
    ``deadline`` a caller passes for several requests) and at most ``max_answer`` bytes."""

    def __init__(self, stream, client: int = 16, server: Optional[Address] = None, *, timeout: float = 3.0,
                 retries: int = 3, max_info: int = 512, window: int = 7, read_timeout: float = READ_TIMEOUT,
                 max_answer: int = MAX_REASSEMBLED) -> None:
        self.stream = stream
        self.read_timeout = read_timeout
        self.max_answer = max_answer
        self.client = Address(client)
        self.server = server or Address(1)
        self.timeout = timeout
        self.retries = retries
        self.proposal = {"max_info_transmit": max_info, "max_info_receive": max_info, "window_transmit": 1,
                         "window_receive": window}
        self.parameters = dict(DEFAULT_PARAMETERS)
        self.reader = FrameReader()
        self.pending: List[Frame] = []
        self.send_seq = self.receive_seq = 0
        self.round_trips = 0
        self.retransmissions = 0
        self.connected = False

    # frames
    def _send(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        raw = Frame(self.server, self.client, control, information, segmented).encode()
        self.stream.write(raw)
        return raw

    def _next_frame(self, deadline: float) -> Optional[Frame]:
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if frame.destination.logical == self.client.logical:
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.pending.extend(self.reader.feed(self.stream.read(min(remaining, 0.5))))

    def _exchange(self, raw: bytes, accept: Callable[[Frame], bool], until: Optional[Deadline] = None) -> Frame:
        """Send ``raw`` and wait for a frame ``accept`` takes; resend on timeout; DLMSError
        ``deadline`` once ``until`` has passed."""
        self.round_trips += 1
        rejected = self.reader.rejected
        for attempt in range(self.retries + 1):
            if attempt:
                self.retransmissions += 1
                self.stream.write(raw)
            deadline = time.monotonic() + self.timeout
            if until is not None and until.at < deadline:
                deadline = until.at
            while True:
                frame = self._next_frame(deadline)
                if frame is None:
                    if until is not None and until.expired():
                        raise until.error()
                    break
                if frame.kind == "DM" and self.connected:
                    self.connected = False
                    raise DLMSError("the meter dropped the HDLC connection (DM)", "session")
                if accept(frame):
                    return frame
        bad = self.reader.rejected - rejected
        why = f" ({bad} frames rejected: {self.reader.errors[-1]})" if bad and self.reader.errors else ""
        raise DLMSError(f"no answer from HDLC server {self.server.logical}/{self.server.physical} "
                        f"after {self.retries + 1} tries of {self.timeout:g} s{why}", "timeout")

    # procedures
    def connect(self) -> dict:
        """SNRM with our parameters; the UA's parameters are what the link then uses."""
        raw = self._send(control_u(SNRM), encode_parameters(self.proposal))
        frame = self._exchange(raw, lambda f: f.kind in ("UA", "DM"))
        if frame.kind == "DM":
            raise DLMSError("the meter refused the connection (DM to SNRM)", "session")
        answered = parse_parameters(frame.information)
        self.parameters = {**DEFAULT_PARAMETERS, **answered}
        self.send_seq = self.receive_seq = 0
        self.connected = True
        return self.parameters

    def request(self, apdu: bytes, deadline: Optional[Deadline] = None) -> bytes:
        """Send one APDU (segmented to the server's receive size) and return its answer, by
        ``deadline`` (default ``read_timeout`` from now)."""
        if not self.connected:
            raise DLMSError("HDLC link not connected", "session")
        deadline = deadline or Deadline(self.read_timeout)
        parts = segment(LLC_REQUEST + apdu, self.parameters["max_info_receive"])
        reassembler = Reassembler(self.max_answer + len(LLC_RESPONSE))
        answer: Optional[bytes] = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            raw = self._send(control_i(self.send_seq, self.receive_seq), part, segmented=not last)
            self.send_seq = (self.send_seq + 1) & 7
            if not last:   # the server acknowledges each segment with RR
                self._exchange(raw, lambda f: f.kind == "RR" and (f.control >> 5) == self.send_seq, deadline)
                continue
            answer = self._collect(raw, reassembler, deadline)
        assert answer is not None
        return strip_llc(answer)

    def _collect(self, raw: bytes, reassembler: Reassembler, deadline: Deadline) -> bytes:
        """Receive the answer's I-frames window by window, asking for each next window with RR."""
        whole: List[bytes] = []

        def accept(frame: Frame) -> bool:
            """Take the next I-frame in sequence; True at the answer's end or the window's end."""
            if frame.kind != "I" or ((frame.control >> 1) & 7) != self.receive_seq:
                return False   # not ours, or a repeat of a frame we have: wait for the right one
            self.receive_seq = (self.receive_seq + 1) & 7
            complete = reassembler.add(frame)
            if complete is not None:
                whole.append(complete)
                return True
            return bool(frame.control & 0x10)

        while True:
            self._exchange(raw, accept, deadline)
            if whole:
                return whole[0]
            raw = self._send(control_s(RR, self.receive_seq))

    def disconnect(self, deadline: Optional[Deadline] = None) -> None:
        """DISC; UA or DM both end the link (or ``deadline``: the link is left all the same)."""
        if not self.connected:
            return
        raw = self._send(control_u(DISC))
        self.connected = False
        try:
            self._exchange(raw, lambda f: f.kind in ("UA", "DM"), deadline)
        except DLMSError:
            pass


class WrapperClientLink:
    """DLMS over TCP with the IEC 62056-47 wrapper: one APDU per PDU, no HDLC."""

    def __init__(self, stream, client: int = 16, server: int = 1, timeout: float = 10.0,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.stream = stream
        self.client = client
        self.server = server
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.reader = WrapperReader()
        self.round_trips = 0
        self.retransmissions = 0

    def connect(self) -> dict:
        return {}

    def disconnect(self, deadline: Optional[Deadline] = None) -> None:
        pass

    def request(self, apdu: bytes, deadline: Optional[Deadline] = None) -> bytes:
        """Send one APDU and return the answer addressed to us (a wrapper PDU holds at most
        65535 bytes, so the reader's memory is bounded), within ``timeout`` and ``deadline``."""
        deadline = deadline or Deadline(self.read_timeout)
        self.stream.write(wrap(apdu, self.client, self.server))
        self.round_trips += 1
        until = min(time.monotonic() + self.timeout, deadline.at)
        while time.monotonic() < until:
            for header, answer in self.reader.feed(self.stream.read(min(0.5, until - time.monotonic()))):
                if header["destination"] == self.client:
                    return answer
        if deadline.expired():
            raise deadline.error()
        raise DLMSError(f"no answer within {self.timeout:g} s over the wrapper", "timeout")


# ---- server side --------------------------------------------------------------------------
class HdlcServerLink:
    """The server's half of one HDLC connection: feed it the frames addressed to it, it returns
    the frames to send; complete APDUs go to ``application(apdu) -> answer APDU``."""

    def __init__(self, address: Address, application: Callable[[bytes, int], Optional[bytes]], *,
                 max_info: int = 512, window: int = 7, on_disconnect: Optional[Callable[[int], None]] = None) -> None:
        self.address = address
        self.application = application
        self.limits = {"max_info_transmit": max_info, "max_info_receive": max_info, "window_transmit": window,
                       "window_receive": 1}
        self.connected = False
        self.on_disconnect = on_disconnect
        self._reset(DEFAULT_PARAMETERS)
        self.client = 0

    def _reset(self, parameters: dict) -> None:
        self.parameters = dict(parameters)
        self.vs = self.vr = 0
        self.reassembler = Reassembler()
        self.queue: List[bytes] = []           # segments not sent yet
        self.outstanding: List[tuple] = []     # (ns, information, segmented) sent, not acknowledged
        self.last_window: List[bytes] = []

    def _frame(self, control: int, information: bytes = b"", segmented: bool = False) -> bytes:
        return Frame(Address(self.client), self.address, control, information, segmented).encode()

    def handle(self, frame: Frame) -> List[bytes]:
        """Frames to send in answer to one received frame."""
        kind = frame.kind
        self.client = frame.source.logical
        if kind == "SNRM":
            try:
                proposed = {**DEFAULT_PARAMETERS, **parse_parameters(frame.information)}
            except DLMSError:
                return [self._frame(control_u(0x87))]   # FRMR: a parameter field we cannot read
            # our transmit size is what the client can receive, and the other way round
            negotiated = {"max_info_transmit": max(16, min(self.limits["max_info_transmit"], proposed["max_info_receive"])),
                          "max_info_receive": max(16, min(self.limits["max_info_receive"], proposed["max_info_transmit"])),
                          "window_transmit": min(self.limits["window_transmit"], proposed["window_receive"]),
                          "window_receive": 1}
            self._reset(negotiated)
            self.connected = True
            return [self._frame(control_u(UA), encode_parameters(negotiated))]
        if kind == "DISC":
            was = self.connected
            self.connected = False
            if not was:
                return [self._frame(control_u(DM))]
            if self.on_disconnect:
                self.on_disconnect(self.client)
            # the UA repeats the link's parameters: dlms-cosem 21.3.2 cannot parse a UA without an
            # information field (it always expects an HCS), and the standard allows one here
            return [self._frame(control_u(UA), encode_parameters(self.parameters))]
        if not self.connected:
            return [self._frame(control_u(DM))] if frame.control & 0x10 else []
        if kind == "I":
            ns, nr = (frame.control >> 1) & 7, frame.control >> 5
            self._acknowledge(nr)
            if ns != self.vr:      # a repeat: our answer was lost; send it again
                return list(self.last_window) if self.last_window else [self._frame(control_s(RR, self.vr))]
            self.vr = (self.vr + 1) & 7
            whole = self.reassembler.add(frame)
            if whole is None:
                return [self._frame(control_s(RR, self.vr))]
            answer = self.application(strip_llc(whole), self.client)
            if answer is None:
                return [self._frame(control_s(RR, self.vr))]
            self.queue = segment(LLC_RESPONSE + answer, self.parameters["max_info_transmit"])
            self.outstanding = []
            return self._send_window()
        if kind == "RR":
            nr = frame.control >> 5
            self._acknowledge(nr)
            if self.outstanding:   # the client is missing frames: go back N
                return self._resend()
            if self.queue:
                return self._send_window()
            return [self._frame(control_s(RR, self.vr))]
        if kind == "UI":
            return []
        return [self._frame(control_u(0x87))]   # FRMR for what we do not handle

    def _acknowledge(self, nr: int) -> None:
        while self.outstanding and self.outstanding[0][0] != nr:
            self.outstanding.pop(0)

    def _send_window(self) -> List[bytes]:
        frames: List[bytes] = []
        window = max(1, self.parameters["window_transmit"])
        while self.queue and len(frames) < window:
            part = self.queue.pop(0)
            segmented = bool(self.queue)
            final = len(frames) == window - 1 or not self.queue
            self.outstanding.append((self.vs, part, segmented))
            frames.append(self._frame(control_i(self.vs, self.vr, poll=final), part, segmented))
            self.vs = (self.vs + 1) & 7
        self.last_window = frames
        return frames

    def _resend(self) -> List[bytes]:
        frames = []
        for index, (ns, part, segmented) in enumerate(self.outstanding):
            final = index == len(self.outstanding) - 1
            frames.append(self._frame(control_i(ns, self.vr, poll=final), part, segmented))
        self.last_window = frames
        return frames
