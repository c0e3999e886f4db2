"""A one-connection TCP proxy for tests that need the link to a meter to fail mid-session: each
direction may go through a filter that changes what is forwarded (drops frames, say) or cuts the
link, as a dead line would."""
from __future__ import annotations

import socket
import threading
from typing import Callable, Optional, Tuple

# what a direction reads -> what it forwards (b"" forwards nothing), or None to cut the link
Filter = Callable[[bytes], Optional[bytes]]


def pump(source: socket.socket, sink: socket.socket, keep: Optional[Filter] = None,
         cut: Optional[threading.Event] = None, close: bool = True) -> None:
    """Forward ``source`` to ``sink`` until either ends or ``keep`` cuts (``cut`` is then set);
    both are shut down at the end, and closed with ``close``."""
    try:
        while True:
            data: Optional[bytes] = source.recv(65536)
            if not data:
                break
            if keep is not None:
                data = keep(data)
                if data is None:
                    if cut is not None:
                        cut.set()
                    break
            if data:
                sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            if close:
                end.close()


class LinkProxy:
    """Forwards the first connection to 127.0.0.1:``port`` to ``target`` (host, port).
    ``to_target`` filters what the client sends and ``to_client`` what the target answers. Once a
    filter cuts the link, ``cut`` is set. When a direction ends (a cut, or either side closing),
    both connections are shut down and closed."""

    def __init__(self, target: Tuple[str, int], to_target: Optional[Filter] = None,
                 to_client: Optional[Filter] = None) -> None:
        self.target = target
        self.to_target = to_target
        self.to_client = to_client
        self.cut = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:  # closed before anyone connected
            return
        upstream = socket.create_connection(self.target)
        threading.Thread(target=self._pump, args=(client, upstream, self.to_target), daemon=True).start()
        self._pump(upstream, client, self.to_client)

    def _pump(self, source: socket.socket, sink: socket.socket, keep: Optional[Filter]) -> None:
        pump(source, sink, keep, self.cut)

    def close(self) -> None:
        self.listener.close()

    def __enter__(self) -> "LinkProxy":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
