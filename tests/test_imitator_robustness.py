"""Imitators keep serving whatever clients do (issue 14 item 9): the accept loop survives running
out of file descriptors, idle clients are disconnected, a connection limit holds, and a client
streaming bytes that never make a message does not pin a core.  Real sockets throughout."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from GenerateMeterData.imitation import IECImitator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sign_on(port: int, timeout: float = 10.0) -> bytes:
    """Send an IEC 62056-21 sign-on and return the identification line the meter answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(b"/?!\r\n")
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = client.recv(256)
            if not chunk:
                break
            answer += chunk
        return answer


def test_the_accept_loop_survives_running_out_of_file_descriptors(tmp_path):
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
              "from GenerateMeterData.cli import main\n"
              "sys.exit(main(['imitate', 'iec', '--listen', '127.0.0.1:0', '--seconds', '120', '-v']))\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1].split()[0])
        idle = []
        for _ in range(80):  # more than the imitator has descriptors for
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5.0))
            except OSError:
                break
        time.sleep(1.0)  # the imitator meets EMFILE while these are open
        assert process.poll() is None
        for connection in idle:
            connection.close()
        deadline = time.monotonic() + 30
        answer = b""
        while time.monotonic() < deadline and not answer.startswith(b"/"):
            try:
                answer = sign_on(port, timeout=3.0)
            except OSError:
                time.sleep(0.2)
        assert answer.startswith(b"/") and answer.endswith(b"\r\n"), answer
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_an_idle_client_is_disconnected():
    imitator = IECImitator()
    imitator.idle_timeout = 0.5
    _, port = imitator.start_tcp()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
            assert client.recv(16) == b""  # the imitator closed the silent connection
        assert sign_on(port).startswith(b"/")  # and serves the next client
    finally:
        imitator.stop()


def test_clients_beyond_the_connection_limit_are_closed_and_the_rest_served():
    imitator = IECImitator()
    imitator.max_connections = 2
    _, port = imitator.start_tcp()
    try:
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        time.sleep(0.5)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
            assert extra.recv(16) == b""
        assert imitator.refused >= 1
        for connection in held:
            connection.close()
        deadline = time.monotonic() + 10
        while imitator._active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sign_on(port).startswith(b"/")
    finally:
        imitator.stop()


def test_a_stream_of_bytes_that_never_make_a_message_is_not_rescanned_forever():
    imitator = IECImitator()
    _, port = imitator.start_tcp()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
            junk = b"x" * 4096
            for _ in range(2048):  # 8 MB: rescanning a growing buffer would take hours
                client.sendall(junk)
            client.sendall(b"\r\n/?!\r\n")
            answer = b""
            while not answer.endswith(b"\r\n"):
                chunk = client.recv(256)
                assert chunk, answer
                answer += chunk
        assert answer.startswith(b"/")
    finally:
        imitator.stop()
