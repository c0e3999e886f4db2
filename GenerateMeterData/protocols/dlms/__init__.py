"""DLMS/COSEM over HDLC (IEC 62056-46/-47/-5-3/-6-2): framing, A-XDR, ACSE and xDLMS APDUs, push
telegram decoding, a SPODES client and meter imitator, capture into meter.db."""
from .errors import (DLMSAccessError, DLMSApduError, DLMSAssociationError, DLMSAxdrError, DLMSBoundError,
                     DLMSCipherError, DLMSDeadlineError, DLMSDecodeError, DLMSError, DLMSHdlcError,
                     DLMSInputError, DLMSLimitError, DLMSObisError, DLMSPushError, DLMSSessionError,
                     DLMSTimeoutError, DLMSWrapperError)

__all__ = ["DLMSError", "DLMSDecodeError", "DLMSHdlcError", "DLMSWrapperError", "DLMSAxdrError", "DLMSApduError",
           "DLMSObisError", "DLMSPushError", "DLMSCipherError", "DLMSSessionError", "DLMSAssociationError",
           "DLMSAccessError", "DLMSTimeoutError", "DLMSBoundError", "DLMSDeadlineError", "DLMSLimitError",
           "DLMSInputError"]
