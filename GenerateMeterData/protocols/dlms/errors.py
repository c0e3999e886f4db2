"""The DLMS package's errors: ``DLMSError`` (a ``ProtocolError``) and one subclass per kind of
failure, so a caller catches the kind it handles (``except DLMSBoundError``) instead of comparing
strings.  Each kind keeps its old name as the read-only ``category`` (what the CLI prints and
``decode dlms`` lists):

============================  ==============  ==============================================
class                         ``category``    what went wrong
============================  ==============  ==============================================
``DLMSHdlcError``             ``hdlc``        an HDLC frame, address or parameter field
``DLMSWrapperError``          ``wrapper``     an IEC 62056-47 wrapper header
``DLMSAxdrError``             ``axdr``        an A-XDR value
``DLMSApduError``             ``apdu``        an xDLMS or ACSE APDU, or an answer of the wrong shape
``DLMSObisError``             ``obis``        an OBIS code
``DLMSPushError``             ``push``        a push telegram's body
``DLMSCipherError``           ``cipher``      decryption: keys, security suite, tag
``DLMSSessionError``          ``session``     the link or the exchange (closed, refused, unexpected answer)
``DLMSAssociationError``      ``association`` the meter refused the association (AARE)
``DLMSAccessError``           ``access``      the meter answered with a data-access-result error
``DLMSTimeoutError``          ``timeout``     no answer within the per-frame timeout and retries
``DLMSDeadlineError``         ``deadline``    a read ran past its one deadline
``DLMSLimitError``            ``limit``       a read ran past its size, block or segment cap
``DLMSInputError``            ``input``       the caller's input (empty, an override of the wrong type)
============================  ==============  ==============================================

The first six are ``DLMSDecodeError`` (bytes that do not decode); deadline and limit are
``DLMSBoundError`` (a read stopped by its bounds, never taken for "the meter has no such object").
The old two-argument form ``DLMSError(message, "hdlc")`` still builds the kind's class."""
from __future__ import annotations

from typing import Dict, Optional, Type

from ...errors import ProtocolError


class DLMSError(ProtocolError):
    """A DLMS/COSEM frame, APDU or exchange that does not decode or went wrong; ``category`` says where."""

    kind = "dlms"

    def __new__(cls, message: str = "", category: Optional[str] = None) -> "DLMSError":
        if cls is DLMSError and category is not None:
            cls = _BY_CATEGORY.get(category, DLMSError)
        return super().__new__(cls, message)

    def __init__(self, message: str = "", category: Optional[str] = None) -> None:
        super().__init__(message)
        # a category no class has (a caller's own) stays on the instance
        self._category = category if category is not None and category not in _BY_CATEGORY else type(self).kind

    def __reduce__(self):  # survives pickling (multiprocessing, pytest-xdist) with its category
        return type(self), (str(self), self._category)

    @property
    def category(self) -> str:  # type: ignore[override]  # read-only: the kind is the class
        return self._category


class DLMSDecodeError(DLMSError):
    """Bytes that do not decode as DLMS (frame, wrapper, A-XDR, APDU, OBIS code, push body)."""

    kind = "decode"


class DLMSHdlcError(DLMSDecodeError):
    """An HDLC frame, address or parameter field that does not decode."""

    kind = "hdlc"


class DLMSWrapperError(DLMSDecodeError):
    """An IEC 62056-47 wrapper header that does not decode or an APDU too long for one."""

    kind = "wrapper"


class DLMSAxdrError(DLMSDecodeError):
    """An A-XDR value that does not decode (bad tag, length past the end)."""

    kind = "axdr"


class DLMSApduError(DLMSDecodeError):
    """An xDLMS or ACSE APDU that does not decode, or a meter's answer without the expected shape."""

    kind = "apdu"


class DLMSObisError(DLMSDecodeError):
    """An OBIS code that is not six values 0-255."""

    kind = "obis"


class DLMSPushError(DLMSDecodeError):
    """A push telegram whose body is no list layout this package knows."""

    kind = "push"


class DLMSCipherError(DLMSError):
    """A ciphered APDU that cannot be decrypted: no or wrong keys, unsupported suite, bad tag."""

    kind = "cipher"


class DLMSSessionError(DLMSError):
    """The link or the exchange failed: connection lost or refused, an unexpected answer."""

    kind = "session"


class DLMSAssociationError(DLMSError):
    """The meter refused the association (its AARE's diagnostic says why)."""

    kind = "association"


class DLMSAccessError(DLMSError):
    """The meter answered a GET with a data-access-result error (or a selective access it lacks)."""

    kind = "access"


class DLMSTimeoutError(DLMSError):
    """No answer within the per-frame timeout, after every retry."""

    kind = "timeout"


class DLMSBoundError(DLMSError):
    """A read stopped by one of its bounds (deadline, size, count)."""

    kind = "bound"


class DLMSDeadlineError(DLMSBoundError):
    """A read (a GET with all its blocks and segments) ran past its one deadline."""

    kind = "deadline"


class DLMSLimitError(DLMSBoundError):
    """A read ran past its cap of bytes, blocks or segments."""

    kind = "limit"


class DLMSInputError(DLMSError):
    """The caller's input is unusable (empty, or an override of the wrong type)."""

    kind = "input"


_BY_CATEGORY: Dict[str, Type[DLMSError]] = {
    cls.kind: cls for cls in (DLMSHdlcError, DLMSWrapperError, DLMSAxdrError, DLMSApduError, DLMSObisError,
                              DLMSPushError, DLMSCipherError, DLMSSessionError, DLMSAssociationError,
                              DLMSAccessError, DLMSTimeoutError, DLMSDeadlineError, DLMSLimitError,
                              DLMSInputError)}
