"""The TCP side shared by the imitators: listen, accept in a thread, one thread per connection."""
from __future__ import annotations

import socket
import threading
from typing import Optional, Tuple


class TCPService:
    """Subclasses implement ``serve_connection(connection)``; ``stop()`` ends everything."""

    def __init__(self) -> None:
        self._server: Optional[socket.socket] = None
        self._stop = threading.Event()

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
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()  # type: ignore[union-attr]
            except socket.timeout:
                continue
            except OSError:
                return
            connection.settimeout(0.2)
            threading.Thread(target=self._guarded, args=(connection,), daemon=True).start()

    def _guarded(self, connection: socket.socket) -> None:
        try:
            self.serve_connection(connection)
        except OSError:
            pass
        finally:
            connection.close()

    def serve_connection(self, connection: socket.socket) -> None:
        """Serve one accepted connection (implemented by the imitators)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop accepting and end the serving threads."""
        self._stop.set()
        if self._server is not None:
            self._server.close()
