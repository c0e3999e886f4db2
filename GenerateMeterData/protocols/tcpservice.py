"""The TCP side shared by the imitators: listen, accept in a thread, one thread per connection.

It keeps serving whatever clients do: when the process runs out of file descriptors (EMFILE)
the accept loop backs off and retries instead of dying; at most ``max_connections`` clients are
served at once (more are closed at once); a client that sends nothing for ``idle_timeout``
seconds is disconnected."""
from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from typing import Callable, Iterator, Optional, Tuple

#: accept() errors that mean "no resources right now", not "the listener is gone"
_TRANSIENT = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED, errno.EPROTO}


class IdleConnection(ConnectionAbortedError):
    """The client sent nothing for the service's idle timeout."""


class _Watched:
    """A connection that remembers when it last received, and ends itself when idle too long."""

    __slots__ = ("sock", "last", "idle_timeout")

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        self.sock = sock
        self.last = time.monotonic()
        self.idle_timeout = idle_timeout

    def recv(self, size: int, *flags: int) -> bytes:
        """socket.recv, counting the silence between the client's bytes."""
        try:
            data = self.sock.recv(size, *flags)
        except socket.timeout:
            if time.monotonic() - self.last > self.idle_timeout:
                raise IdleConnection(f"no data for {self.idle_timeout:g} s") from None
            raise
        self.last = time.monotonic()
        return data

    def __getattr__(self, name: str):
        return getattr(self.sock, name)


class TCPService:
    """Subclasses implement ``serve_connection(connection)``; ``stop()`` ends everything."""

    max_connections = 64
    idle_timeout = 300.0

    def __init__(self) -> None:
        self._server: Optional[socket.socket] = None
        self._stop = threading.Event()
        self._active = 0
        self._active_lock = threading.Lock()
        self.refused = 0          # connections closed because max_connections were being served
        self.accept_errors = 0    # accept() failures survived (EMFILE and the like)

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> Tuple[str, int]:
        """Listen on host:port (port 0: any free one); returns the address actually bound."""
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(8)
        server.settimeout(0.2)
        self._server = server
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return server.getsockname()[:2]

    def _accept_loop(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()  # type: ignore[union-attr]
            except socket.timeout:
                continue
            except OSError as exc:
                if self._stop.is_set() or exc.errno not in _TRANSIENT:
                    if self._stop.is_set() or self._server is None or self._server.fileno() < 0:
                        return
                self.accept_errors += 1
                self._stop.wait(backoff)  # out of descriptors: wait for clients to leave, retry
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.05
            with self._active_lock:
                full = self._active >= self.max_connections
                if not full:
                    self._active += 1
            if full:
                self.refused += 1
                connection.close()
                continue
            connection.settimeout(0.2)
            threading.Thread(target=self._guarded, args=(connection,), daemon=True).start()

    def _guarded(self, connection: socket.socket) -> None:
        try:
            self.serve_connection(_Watched(connection, self.idle_timeout))  # type: ignore[arg-type]
        except OSError:
            pass
        finally:
            connection.close()
            with self._active_lock:
                self._active -= 1

    def serve_connection(self, connection: socket.socket) -> None:
        """Serve one accepted connection (implemented by the imitators)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop accepting and end the serving threads."""
        self._stop.set()
        if self._server is not None:
            try:   # stop listening now: a close alone waits for the accept loop's next timeout
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()


def open_pty() -> Tuple[int, int, str, Callable[[], Optional[bytes]], Callable[[bytes], None]]:
    """A new raw pseudo-terminal for an imitator: (master, slave, the path a client opens,
    receive, send).  ``receive`` returns None when nothing came within 0.2 s, b"" when the
    terminal is gone; ``send`` writes to the client."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)

    def receive() -> Optional[bytes]:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            return None
        try:
            return os.read(master, 4096)
        except OSError:
            return b""

    def send(data: bytes) -> None:
        os.write(master, data)

    return master, slave, path, receive, send


def incoming(receive: Callable[[], Optional[bytes]], stop: threading.Event, keep_open: bool = False) -> Iterator[bytes]:
    """The bytes a client sends, chunk by chunk, until it closes (or, with ``keep_open`` -- a pty
    whose client comes and goes -- until ``stop``); waits without data are skipped."""
    while not stop.is_set():
        chunk = receive()
        if chunk == b"":
            if keep_open:
                time.sleep(0.05)
                continue
            return
        if chunk:
            yield chunk


def serve_until(imitator, seconds: Optional[float]) -> None:
    """Keep an imitator serving until ``seconds`` have passed (None: until Ctrl-C), then stop it."""
    try:
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        imitator.stop()
