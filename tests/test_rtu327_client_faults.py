"""The RTU-327 client against hostile servers on real sockets: each fault is one exception with a
one-line message, in bounded time (timeouts of a fraction of a second here) and memory."""
from __future__ import annotations

import socket
import threading

import pytest

from GenerateMeterData.errors import ConnectError
from GenerateMeterData.protocols.rtu327 import (BadPassword, CrcError, Flood, OverlongFrame, Rtu327Client, Stall,
                                                TruncatedFrame)
from GenerateMeterData.protocols.rtu327 import frames as f


class Hostile:
    """A one-connection-at-a-time server that answers every request with ``behave(sock, request)``."""

    def __init__(self, behave) -> None:
        self.behave = behave
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return self.server.getsockname()[:2]

    def run(self) -> None:
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                sock, _ = self.server.accept()
            except OSError:
                continue
            with sock:
                sock.settimeout(0.1)
                try:
                    request = b""
                    while len(request) < 3 or len(request) < 5 + int.from_bytes(request[1:3], "big"):
                        try:
                            chunk = sock.recv(4096)
                        except socket.timeout:
                            if self.stop.is_set():
                                return
                            continue
                        if not chunk:
                            break
                        request += chunk
                    self.behave(sock, request, self.stop)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def hostile():
    made = []

    def make(behave):
        server = Hostile(behave)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def client_of(server, **kwargs) -> Rtu327Client:
    options = dict(read_timeout=0.3, deadline=1.0, max_frame=4096, max_junk=256)
    options.update(kwargs)
    return Rtu327Client(*server.address, **options)


def one_line(exc: BaseException) -> bool:
    return "\n" not in str(exc) and len(str(exc)) < 300


def test_wrong_password(hostile):
    server = hostile(lambda sock, request, stop: sock.sendall(f.encode_answer(f.Result.BAD_PASSWORD)))
    with client_of(server) as client, pytest.raises(BadPassword) as info:
        client.get_time()
    assert info.value.code == 10 and one_line(info.value)


def test_crc_error_in_the_answer(hostile):
    def behave(sock, request, stop):
        answer = bytearray(f.encode_answer(0, b"\x01\x02\x03\x04"))
        answer[-1] ^= 0xFF
        sock.sendall(bytes(answer))

    server = hostile(behave)
    with client_of(server) as client, pytest.raises(CrcError) as info:
        client.get_time()
    assert one_line(info.value)


def test_truncated_answer(hostile):
    server = hostile(lambda sock, request, stop: sock.sendall(f.encode_answer(0, b"\x01\x02\x03\x04")[:-3]))
    with client_of(server) as client, pytest.raises(TruncatedFrame) as info:
        client.get_time()
    assert one_line(info.value)


def test_overlong_answer(hostile):
    server = hostile(lambda sock, request, stop: sock.sendall(b"\x02\xff\xf0" + b"\x00" * 100))
    with client_of(server) as client, pytest.raises(OverlongFrame) as info:
        client.get_time()
    assert "65520" in str(info.value) and one_line(info.value)


def test_a_server_that_stalls(hostile):
    server = hostile(lambda sock, request, stop: stop.wait(5))
    with client_of(server) as client, pytest.raises(Stall) as info:
        client.get_time()
    assert one_line(info.value)


def test_a_server_that_trickles_past_the_deadline(hostile):
    def behave(sock, request, stop):
        answer = f.encode_answer(0, b"\x00" * 1000)
        for byte in answer:
            if stop.wait(0.05):
                return
            sock.sendall(bytes([byte]))

    server = hostile(behave)
    with client_of(server, read_timeout=0.5, deadline=0.5) as client, pytest.raises(Stall) as info:
        client.get_time()
    assert "0.5 s" in str(info.value) and one_line(info.value)


def test_a_server_that_floods(hostile):
    def behave(sock, request, stop):
        while not stop.is_set():
            sock.sendall(b"\xff" * 65536)

    server = hostile(behave)
    with client_of(server) as client, pytest.raises(Flood) as info:
        client.get_time()
    assert one_line(info.value)


def test_nobody_listening():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with Rtu327Client("127.0.0.1", port, connect_timeout=0.5) as client, pytest.raises(ConnectError) as info:
        client.get_time()
    assert one_line(info.value)


def test_a_password_that_is_not_8_hex_digits():
    with pytest.raises(ValueError):
        Rtu327Client("127.0.0.1", 1, password="secret")
