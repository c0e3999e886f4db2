"""SET-4TM meters on one byte stream: requests found by Mercury 230's request reader (the same
frame family) at SET-4TM's request lengths; junk, a wrong CRC or another address get no answer and
the next request is answered; each answer leaves in one write; a meter's planted faults (its
``fault(body)``, as Mercury 230's) replace the answer of the requests they hit."""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional, Sequence, cast

from ..mercury.v2 import RequestReader, answer_with_faults
from ..stream import StreamService, incoming
from .codec import Session, Set4Meter, answer, request_length


def serve(meters: Dict[int, Set4Meter], receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
          stop: threading.Event, keep_open: bool = False) -> None:
    reader, session = RequestReader(request_length), Session()
    for chunk in incoming(receive, stop, keep_open):
        for request in reader.feed(chunk):
            out = answer_with_faults(cast(Dict[int, Any], meters), session, request, answer)
            if out is not None:
                send(out)


class Set4Imitator(StreamService):
    """SET-4TM meters (one ``Set4Meter`` per network address) served by URL; each connection (or
    the pty/serial port) has its own open channels."""

    def __init__(self, meters: Sequence[Set4Meter]) -> None:
        super().__init__()
        self.meters = {meter.address: meter for meter in meters}

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        serve(self.meters, receive, send, self._stop, keep_open)
