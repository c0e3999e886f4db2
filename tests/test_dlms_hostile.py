"""A hostile or broken DLMS meter cannot hang the SPODES client or eat its memory (issue 19 item 3).

A small meter on a real socket (a thread, written here from IEC 62056-46/-47 and 62056-5-3, not
from the package's server) associates normally and then misbehaves: endless GET-with-datablock
blocks, endless HDLC segments, giant length fields, byte floods.  Every read must end with the
package's one error of the right kind -- ``limit`` when a size or count cap stopped it,
``deadline`` when the one deadline of the whole read did, ``timeout`` when the meter went silent,
``axdr``/``apdu`` for a length that cannot be -- and the memory the read took (tracemalloc peak,
client and this server together) must stay under a bound stated from the caps:

    peak < 2 x (the cap on what one read gathers) + 256 KiB

(the gathered bytes, one copy while joining or decoding, and the frames in flight); a read that
gathers nothing stays under 256 KiB.  No assertion is on time:
the deadline shows itself by the error's kind."""
from __future__ import annotations

import itertools
import socket
import threading
import time
import tracemalloc

import pytest

from GenerateMeterData.protocols.dlms.client import SpodesClient
from GenerateMeterData.protocols.dlms.errors import (DLMSApduError, DLMSAxdrError, DLMSDeadlineError, DLMSError,
                                                     DLMSLimitError, DLMSTimeoutError)
from GenerateMeterData.protocols.dlms.hdlc import FrameReader
from GenerateMeterData.protocols.dlms.wrapper import WrapperReader

MiB = 1024 * 1024
SMALL = 256 * 1024      # what a read that gathers nothing may take: frame buffers, one frame, the error
LOAD_PROFILE = "1.0.99.1.0.255"


def fcs16(data: bytes) -> int:
    """CRC-16/X.25 bit by bit, as IEC 62056-46 annex A defines it (no table, not the package's)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def hdlc_frame(control: int, information: bytes = b"", segmented: bool = False, client: int = 16,
               server: bytes = b"\x03") -> bytes:
    """A type-3 frame from the meter (server address 1, one byte) to ``client``."""
    destination, source = bytes(((client << 1) | 1,)), server
    length = 2 + len(destination) + len(source) + 1 + 2 + (len(information) + 2 if information else 0)
    head = bytes((0xA0 | (0x08 if segmented else 0) | (length >> 8), length & 0xFF)) + destination + source \
        + bytes((control,))
    if information:
        head += fcs16(head).to_bytes(2, "little")
    body = head + information
    return b"\x7e" + body + fcs16(body).to_bytes(2, "little") + b"\x7e"


# APDUs of the meter, byte by byte from IEC 62056-5-3 (A-XDR / BER as the standard lays them out)
AARE_ACCEPTED = bytes.fromhex(
    "6129"                      # AARE, 41 bytes
    "a109060760857405080101"    # application-context-name LN, no ciphering
    "a203020100"                # result accepted
    "a305a103020100"            # result-source-diagnostic: acse-service-user null
    "be10040e"                  # user-information: octet string of 14 bytes
    "0800065f1f0400001e1dffff0007")  # InitiateResponse: conformance 001E1D, max PDU FFFF, VAA 7
LLC_RESPONSE = b"\xe6\xe7\x00"


def block(number: int, data: bytes, last: bool = False, invoke: int = 0xC1) -> bytes:
    """GET-response-with-datablock: last-block, block-number, raw-data (octet string, BER length)."""
    size = len(data)
    length = bytes((size,)) if size < 0x80 else (b"\x82" + size.to_bytes(2, "big"))
    return bytes((0xC4, 0x02, invoke, 1 if last else 0)) + number.to_bytes(4, "big") + b"\x00" + length + data


class HostileMeter:
    """One connection at a time on a real socket; ``answer(kind, apdu, state)`` gives what to send
    for a request after the association (kind "I" for an APDU, "RR" for a receive-ready)."""

    def __init__(self, answer, wrapper: bool = False) -> None:
        self.answer = answer
        self.wrapper = wrapper
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(2)
        self.stop = threading.Event()
        self.url = "socket://127.0.0.1:%d" % self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            try:
                with connection:
                    (self._wrapper if self.wrapper else self._hdlc)(connection)
            except OSError:
                pass

    def _send_all(self, connection, chunks) -> None:
        connection.settimeout(None)     # a flood waits for the client to read; its close ends it
        try:
            for chunk in chunks:
                if self.stop.is_set():
                    return
                connection.sendall(chunk)
        finally:
            connection.settimeout(0.5)

    def _received(self, connection):
        """What the client sends, chunk by chunk, until it closes or the server stops."""
        connection.settimeout(0.5)
        while not self.stop.is_set():
            try:
                data = connection.recv(4096)
            except socket.timeout:
                continue
            if not data:
                return
            yield data

    def _hdlc(self, connection) -> None:
        reader = FrameReader()
        state = {"vs": 0, "vr": 0, "n": 0}
        for data in self._received(connection):
            for frame in reader.feed(data):
                kind = frame.kind
                if kind == "SNRM":
                    connection.sendall(hdlc_frame(0x73))                  # UA, default parameters
                elif kind == "DISC":
                    connection.sendall(hdlc_frame(0x73))
                elif kind in ("I", "RR"):
                    if kind == "I":
                        state["vr"] = (state["vr"] + 1) & 7
                    apdu = frame.information[3:] if kind == "I" else b""
                    if apdu[:1] == b"\x60":                               # AARQ
                        connection.sendall(self.i_frame(state, LLC_RESPONSE + AARE_ACCEPTED))
                    elif apdu[:1] == b"\x62":                             # RLRQ: RLRE
                        connection.sendall(self.i_frame(state, LLC_RESPONSE + b"\x63\x03\x80\x01\x00"))
                    else:
                        self._send_all(connection, self.answer(kind, apdu, state, self))

    @staticmethod
    def i_frame(state, information: bytes, segmented: bool = False) -> bytes:
        control = (state["vr"] << 5) | 0x10 | (state["vs"] << 1)
        state["vs"] = (state["vs"] + 1) & 7
        return hdlc_frame(control, information, segmented)

    def _wrapper(self, connection) -> None:
        reader = WrapperReader()
        state = {"n": 0}
        for data in self._received(connection):
            for header, apdu in reader.feed(data):
                if apdu[:1] == b"\x60":
                    connection.sendall(wrapped(AARE_ACCEPTED))
                else:
                    self._send_all(connection, self.answer("I", apdu, state, self))


def wrapped(apdu: bytes, destination: int = 16) -> bytes:
    """An IEC 62056-47 wrapper PDU from wPort 1 to ``destination``."""
    return b"\x00\x01\x00\x01" + destination.to_bytes(2, "big") + len(apdu).to_bytes(2, "big") + apdu


def read_profile(url: str, wrapper: bool = False, expect=DLMSError, **bounds):
    """The error (of class ``expect``) a GET of the load profile's buffer ends in, and the
    tracemalloc peak of the read."""
    options = dict(timeout=0.3, retries=1)
    options.update(bounds)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(expect) as caught:
            with SpodesClient(url, wrapper=wrapper, **options) as client:
                client.get(7, LOAD_PROFILE, 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{caught.value.category}: peak {peak / MiB:.2f} MiB: {caught.value}")
    return caught.value, peak


@pytest.fixture
def hostile():
    meters = []

    def start(answer, wrapper: bool = False) -> HostileMeter:
        meters.append(HostileMeter(answer, wrapper))
        return meters[-1]

    yield start
    for meter in meters:
        meter.close()


# ---- endless block transfer ---------------------------------------------------------------------
CHUNK = bytes(range(256)) * 16          # 4 KiB of a block's raw data


def endless_blocks(size: int = len(CHUNK), pause: float = 0.0):
    def answer(kind, apdu, state, meter):
        if kind != "I":
            return []
        if pause:
            time.sleep(pause)
        state["n"] += 1
        information = LLC_RESPONSE + block(state["n"], CHUNK[:size])
        parts = [information[i:i + 128] for i in range(0, len(information), 128)]   # default max info 128
        return [meter.i_frame(state, part, segmented=i < len(parts) - 1) for i, part in enumerate(parts)]
    return answer


def test_endless_blocks_stop_at_the_size_cap(hostile):
    cap = 128 * 1024
    error, peak = read_profile(hostile(endless_blocks()).url, max_answer=cap, expect=DLMSLimitError)
    assert error.category == "limit" and "block" in str(error)
    assert peak < 2 * cap + SMALL


def test_endless_empty_blocks_stop_at_the_block_cap(hostile):
    error, peak = read_profile(hostile(endless_blocks(size=0)).url, max_blocks=300, expect=DLMSLimitError)
    assert error.category == "limit" and "300 blocks" in str(error)
    assert peak < SMALL


def test_slow_endless_blocks_stop_at_the_one_deadline_of_the_read(hostile):
    # each block comes well within the per-frame timeout: only a deadline over the whole GET ends it
    error, peak = read_profile(hostile(endless_blocks(size=64, pause=0.02)).url, timeout=2.0, read_timeout=1.0,
                               expect=DLMSDeadlineError)
    assert error.category == "deadline"
    assert peak < SMALL


def test_endless_blocks_over_the_wrapper(hostile):
    def answer(kind, apdu, state, meter):
        state["n"] += 1
        return [wrapped(block(state["n"], CHUNK))]
    cap = 256 * 1024
    error, peak = read_profile(hostile(answer, wrapper=True).url, wrapper=True, max_answer=cap,
                               expect=DLMSLimitError)
    assert error.category == "limit"
    assert peak < 2 * cap + SMALL


# ---- endless HDLC segmentation ------------------------------------------------------------------
def endless_segments(size: int, pause: float = 0.0):
    def answer(kind, apdu, state, meter):
        if pause:
            time.sleep(pause)
        # one segmented I-frame per client frame (final bit set: the client asks for more with RR)
        return [meter.i_frame(state, (LLC_RESPONSE if kind == "I" else b"") + b"\x55" * size, segmented=True)]
    return answer


def test_endless_segments_stop_at_the_apdu_size_cap(hostile):
    cap = 16 * 1024      # the client's max PDU: a meter must not answer with more
    error, peak = read_profile(hostile(endless_segments(120)).url, max_pdu=cap, expect=DLMSLimitError)
    assert error.category == "limit" and "segment" in str(error)
    assert peak < 2 * cap + SMALL


def test_endless_empty_segments_stop_at_the_segment_cap(hostile):
    error, peak = read_profile(hostile(endless_segments(0)).url, max_pdu=4096, expect=DLMSLimitError)
    assert error.category == "limit" and "segments" in str(error)
    assert peak < SMALL


def test_slow_endless_segments_stop_at_the_one_deadline_of_the_read(hostile):
    error, peak = read_profile(hostile(endless_segments(1, pause=0.01)).url, timeout=2.0, read_timeout=1.0,
                               expect=DLMSDeadlineError)
    assert error.category == "deadline"
    assert peak < SMALL


# ---- giant length fields ------------------------------------------------------------------------
def one_answer(apdu: bytes):
    def answer(kind, request, state, meter):
        return [meter.i_frame(state, LLC_RESPONSE + apdu)] if kind == "I" else []
    return answer


@pytest.mark.parametrize("apdu, category, kind", [
    # GET-response-normal, data: an array of 2^32-1 elements (BER length 84 FFFFFFFF), none present
    (bytes.fromhex("c401c10001" "84ffffffff"), "axdr", DLMSAxdrError),
    # an octet-string of 2^31 bytes announced, 3 present
    (bytes.fromhex("c401c100" "09" "8480000000" "010203"), "axdr", DLMSAxdrError),
    # a block whose raw-data says 2^32-1 bytes
    (bytes.fromhex("c402c100" "00000001" "00" "84ffffffff" "00"), "apdu", DLMSApduError),
], ids=["array", "octet-string", "block-raw-data"])
def test_giant_length_fields_are_refused_at_once(hostile, apdu, category, kind):
    error, peak = read_profile(hostile(one_answer(apdu)).url, expect=kind)
    assert error.category == category
    assert peak < SMALL


def test_a_frame_whose_length_field_never_fills_times_out(hostile):
    def answer(kind, request, state, meter):
        return [b"\x7e\xa7\xff\x21\x03"]       # announces 2047 bytes, sends 3
    error, peak = read_profile(hostile(answer).url, expect=DLMSTimeoutError)
    assert error.category == "timeout"
    assert peak < SMALL


def test_a_wrapper_length_that_never_fills_times_out(hostile):
    def answer(kind, request, state, meter):
        return [b"\x00\x01\x00\x01\x00\x10\xff\xff" + b"\x00" * 100]
    error, peak = read_profile(hostile(answer, wrapper=True).url, wrapper=True, expect=DLMSTimeoutError)
    assert error.category == "timeout"
    assert peak < SMALL


# ---- byte floods --------------------------------------------------------------------------------
def flood(chunk: bytes):
    def answer(kind, request, state, meter):
        return itertools.repeat(chunk)       # until the client hangs up
    return answer


@pytest.mark.parametrize("chunk", [
    b"\x00" * 4096,                                             # no flag at all
    b"\x7e\xa0\x07" * 1365,                                     # frame starts that never validate
    hdlc_frame(0x13, b"\xe6\xe7\x00" + b"\x11" * 100, client=99) * 30,   # valid frames for another client
], ids=["no-flag", "frame-starts", "frames-for-another-client"])
def test_byte_floods_end_in_the_read_deadline_or_timeout(hostile, chunk):
    error, peak = read_profile(hostile(flood(chunk)).url, read_timeout=1.0,
                               expect=(DLMSDeadlineError, DLMSTimeoutError))
    assert error.category in ("deadline", "timeout")
    assert peak < SMALL


def test_a_flood_over_the_wrapper_for_another_client(hostile):
    chunk = wrapped(b"\xc4\x01\xc1\x00\x11\x05", destination=99) * 200
    error, peak = read_profile(hostile(flood(chunk), wrapper=True).url, wrapper=True,
                               read_timeout=1.0, expect=(DLMSDeadlineError, DLMSTimeoutError))
    assert error.category in ("deadline", "timeout")
    assert peak < SMALL


def test_the_cli_says_one_line_and_exits_non_zero(hostile, tmp_path):
    import os
    import subprocess
    import sys
    meter = hostile(endless_blocks(size=0))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    db = tmp_path / "meter.db"
    done = subprocess.run([sys.executable, "-m", "GenerateMeterData", "capture", "dlms", "--port", meter.url,
                           "--db", str(db), "--read-timeout", "1"],
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=repo), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr


# ---- the imitator: memory per hostile connection --------------------------------------------------
def _drain(sock) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.setblocking(True)


def test_the_imitator_holds_a_bounded_amount_for_a_client_that_never_ends_its_segments():
    from GenerateMeterData.imitation import DLMSImitator
    imitator = DLMSImitator()
    host, port = imitator.start_tcp()
    server = imitator.address.encode()
    snrm = b"\x7e" + _body(0x93, b"", server) + b"\x7e"
    # eight segmented I-frames N(S) 0..7 of 500 bytes, sent round and round: never the last segment
    frames = b"".join(b"\x7e" + _body((n << 1), b"\xe6\xe6\x00" + b"\x55" * 497, server, segmented=True) + b"\x7e"
                      for n in range(8))
    tracemalloc.start()
    try:
        with socket.create_connection((host, port), timeout=5) as client:
            client.sendall(snrm)
            sent = 0
            while sent < 3 * MiB:          # old code: the imitator kept every byte of it
                client.sendall(frames)
                sent += len(frames)
                _drain(client)
            client.sendall(snrm)           # it still answers afterwards: UA once it has read everything
            client.settimeout(30)
            reader = FrameReader()
            while not any(frame.kind == "UA" for frame in reader.feed(client.recv(65536))):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        imitator.stop()
    print(f"imitator, endless segments: peak {peak / MiB:.2f} MiB for {sent / MiB:.1f} MiB sent")
    assert peak < 512 * 1024


def _body(control: int, information: bytes, server: bytes, segmented: bool = False) -> bytes:
    """A frame from client 16 to the imitator (between the flags)."""
    length = 2 + len(server) + 1 + 1 + 2 + (len(information) + 2 if information else 0)
    head = bytes((0xA0 | (0x08 if segmented else 0) | (length >> 8), length & 0xFF)) + server + b"\x21" \
        + bytes((control | 0x10,))
    if information:
        head += fcs16(head).to_bytes(2, "little")
    body = head + information
    return body + fcs16(body).to_bytes(2, "little")


def test_the_imitator_answers_a_list_of_many_profiles_one_profile_at_a_time():
    from GenerateMeterData.imitation import DLMSImitator
    imitator = DLMSImitator()
    host, port = imitator.start_tcp()
    tracemalloc.start()
    try:
        with SpodesClient(f"socket://{host}:{port}", max_pdu=0xFFFF) as client:
            one = client.get(7, LOAD_PROFILE, 2)     # the whole load profile, once
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            with pytest.raises(DLMSError) as caught:
                client.get_many([(7, LOAD_PROFILE, 2)] * 100)
            peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
        imitator.stop()
    size = len(one.encode())
    print(f"imitator, list of 100 profiles of {size / MiB:.2f} MiB each: peak {peak / MiB:.2f} MiB")
    # the answer runs past what a list gathers (imitator.MAX_LIST_ANSWER): other-reason, after at most three profiles
    assert "unexpected answer" in str(caught.value) or caught.value.category == "access"
    assert peak < 40 * size + SMALL
