"""DLMS/COSEM over HDLC (IEC 62056-46/-47/-5-3/-6-2): framing, A-XDR, xDLMS APDUs, push
telegram decoding, a SPODES client and meter imitator, capture into meter.db."""
from .errors import DLMSError

__all__ = ["DLMSError"]
