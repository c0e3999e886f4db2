"""The DLMS package's one error: every frame, APDU or session failure is a ``DLMSError`` whose
``category`` names the layer that rejected it (hdlc, axdr, apdu, cipher, push, session)."""
from __future__ import annotations

from ...errors import ProtocolError


class DLMSError(ProtocolError):
    """A DLMS/COSEM frame, APDU or exchange that does not decode or went wrong; ``category`` says where."""

    def __init__(self, message: str, category: str = "dlms") -> None:
        super().__init__(message)
        self.category = category
