"""The IEC 62056-21 and M-Bus clients against a meter that floods them (issue 19 item 3): every read
ends in the package's one error, and the memory it took (tracemalloc peak) stays bounded -- the
IEC client by its cap on one message (``max_message``), the M-Bus client because it keeps no more
than one frame's worth of an unfinished frame.  Real sockets; no assertion on time."""
from __future__ import annotations

import itertools
import socket
import threading
import tracemalloc

import pytest
import serial.urlhandler.protocol_socket  # noqa: F401  -- imported before measuring, not counted as the read's

from GenerateMeterData.errors import ProtocolError
from GenerateMeterData.protocols.iec62056.client import IECClient
from GenerateMeterData.protocols.mbus.client import MBusClient

KiB = 1024


class Flood:
    """Answers the first bytes a client sends with ``chunk`` for ever (until the client hangs up)."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = "socket://127.0.0.1:%d" % self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            connection, _ = self.server.accept()
        except OSError:
            return
        with connection:
            try:
                connection.recv(64)
                for chunk in itertools.repeat(self.chunk):
                    connection.sendall(chunk)
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def flood():
    floods = []
    yield lambda chunk: floods.append(Flood(chunk)) or floods[-1]
    for item in floods:
        item.close()


def peak_of(client, read):
    """The error ``read(client)`` ends in and the peak of memory it took (the client made before)."""
    with client:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            with pytest.raises(ProtocolError) as caught:
                read(client)
            return caught.value, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_an_identification_line_that_never_ends_stops_at_the_message_cap(flood):
    meter = flood(b"/" + b"A" * 4095)          # a '/' and then never a line end
    cap = 16 * KiB
    error, peak = peak_of(IECClient(meter.url, timeout=30, max_message=cap), IECClient.sign_on)
    assert error.category == "limit"
    assert peak < 4 * cap + 64 * KiB           # the buffer and the copies concatenation makes


def test_a_data_block_that_never_ends_stops_at_the_message_cap(flood):
    meter = flood(b"/GMD5METER\r\n\x02" + b"1.8.0(0001.000*kWh)\r\n" * 200)   # STX, never ETX
    error, peak = peak_of(IECClient(meter.url, timeout=30, max_message=16 * KiB), IECClient.readout)
    assert error.category == "limit"
    assert peak < 4 * 16 * KiB + 64 * KiB


def test_an_mbus_flood_of_frame_starts_ends_in_a_timeout(flood):
    meter = flood(b"\x68\xff\xff\x68" + b"\x00" * 60)   # long-frame headers whose frames never validate
    error, peak = peak_of(MBusClient(meter.url, timeout=0.5, retries=1), lambda client: client.request(1))
    assert error.category == "timeout"
    assert peak < 64 * KiB
