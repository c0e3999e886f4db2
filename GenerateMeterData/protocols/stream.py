"""The byte-stream service every imitator serves on, opened by URL: ``tcp://HOST:PORT`` (listen;
port 0: any free one), ``pty://`` (a new pseudo-terminal, its path returned) or a serial device
path or any other pyserial URL (``/dev/ttyUSB0``, ``rfc2217://...``, ``socket://...``).  An
imitator implements one method, ``serve(receive, send, keep_open)``: the dialogue on one byte
stream; this module runs it on every kind of link.

On TCP it listens, accepts in a thread and serves one thread per connection, and keeps serving
whatever clients do: when the process runs out of file descriptors (EMFILE)
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
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

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


def parse_url(url: str) -> Tuple[str, Any]:
    """("tcp", (host, port)), ("pty", None) or ("serial", url) for a service URL; ValueError
    with the reason when a tcp:// URL has no valid HOST:PORT."""
    if url.startswith("tcp://"):
        host, sep, port = url[len("tcp://"):].rpartition(":")
        try:
            number = int(port)
        except ValueError:
            number = -1
        if not sep or not 0 <= number <= 65535:
            raise ValueError("give tcp://HOST:PORT with a port 0-65535 (0: any free port)")
        return "tcp", (host or "127.0.0.1", number)
    if url in ("pty://", "pty:"):
        return "pty", None
    if not url:
        raise ValueError("give tcp://HOST:PORT, pty:// or a serial port (a device path or a pyserial URL)")
    return "serial", url


class StreamService:
    """A server of one byte-stream dialogue.  Subclasses implement ``serve(receive, send,
    keep_open)``; ``start(url)`` serves it on a TCP port, a new pty or a serial port (several at
    once if started more than once); ``stop()`` ends everything.

    ``receive()`` returns the next chunk, None when nothing came within 0.2 s, b"" when the peer
    closed; ``keep_open``: a pty or serial port, which outlives its clients (serve until stopped)."""

    max_connections = 64
    idle_timeout = 300.0
    #: the kernel's send buffer of each accepted connection, fixed rather than autotuned (up to
    #: 4 MiB on Linux): the memory a client that sends but never reads can pin is bounded, and
    #: the send timeout that drops such a client is reached after a bounded number of answers
    send_buffer = 64 * 1024
    #: pyserial settings of a serial port served with ``start_serial`` (a protocol's own framing)
    serial_options: Dict[str, Any] = {"baudrate": 9600}

    def __init__(self) -> None:
        self._server: Optional[socket.socket] = None
        self._stop = threading.Event()
        self._active = 0
        self._active_lock = threading.Lock()
        self._pty_slaves: List[int] = []
        self._threads: List[threading.Thread] = []
        self._ports: List[Any] = []
        self.refused = 0          # connections closed because max_connections were being served
        self.accept_errors = 0    # accept() failures survived (EMFILE and the like)

    # ---- the dialogue (implemented by each imitator) ------------------------------------------
    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        """Run the protocol's dialogue on one byte stream until it closes (or the service stops)."""
        raise NotImplementedError

    # ---- opening by URL -------------------------------------------------------------------------
    def start(self, url: str) -> str:
        """Serve on ``url``; returns where a client connects: ``socket://HOST:PORT``, the pty's
        path, or the serial URL itself."""
        kind, where = parse_url(url)
        if kind == "tcp":
            host, port = self.start_tcp(*where)
            return f"socket://{host}:{port}"
        if kind == "pty":
            return self.start_pty()
        self.start_serial(where)
        return where

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

    def start_pty(self) -> str:
        """Serve on a new raw pseudo-terminal; returns the path a client opens (e.g. /dev/pts/5)."""
        master, slave, path, receive, send = open_pty()
        if self.pty_nonblocking():
            os.set_blocking(master, False)  # what nobody reads must not block the imitator
        self._pty_slaves.append(slave)
        # The serving thread closes the master itself, when it ends: closed from stop() while the
        # thread still selects, reads or writes on it, its number could be handed to the next pty
        # opened (a next imitator's) and the old thread would eat that client's bytes.
        self._threads.append(self._run_thread(receive, send, lambda: os.close(master)))
        return path

    def start_serial(self, url: str, **options: Any) -> None:
        """Serve on a serial port: a device path or any pyserial URL (``serial_options``, then
        ``options``, give its speed and framing)."""
        import serial

        settings = dict(self.serial_options, **options)
        port = serial.serial_for_url(url, timeout=0.2, **settings)
        self._ports.append(port)

        def receive() -> Optional[bytes]:
            try:
                return port.read(port.in_waiting or 1) or None
            except Exception:  # pyserial's SerialException, or the port closed by stop()
                return b""

        self._run_thread(receive, port.write)

    def pty_nonblocking(self) -> bool:
        """Whether writes to a pty must not block (a meter pushing to whoever listens)."""
        return False

    def _run_thread(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
                    finish: Optional[Callable[[], None]] = None) -> threading.Thread:
        def run() -> None:
            try:
                self.serve(receive, send, keep_open=True)
            except OSError:
                pass  # the port or terminal is gone
            finally:
                if finish is not None:
                    finish()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    # ---- TCP ----------------------------------------------------------------------------------
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
            try:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
            except OSError:
                pass  # a platform that refuses it keeps its default
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
        """Serve one accepted TCP connection: the dialogue on its byte stream."""
        def receive() -> Optional[bytes]:
            try:
                return connection.recv(4096)  # b"" when the peer closed
            except socket.timeout:
                return None

        self.serve(receive, connection.sendall)

    def stop(self) -> None:
        """Stop accepting, end the serving threads, close the pty and serial ports."""
        self._stop.set()
        if self._server is not None:
            try:   # stop listening now: a close alone waits for the accept loop's next timeout
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
        for port in self._ports:
            try:
                port.close()
            except Exception:
                pass
        self._ports = []
        for fd in self._pty_slaves:  # no serving thread uses the slave: closed at once
            try:
                os.close(fd)
            except OSError:
                pass
        self._pty_slaves = []
        for thread in self._threads:  # each closes its pty's master as it ends (within ~0.2 s)
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []


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
