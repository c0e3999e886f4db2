"""The ACSE APDUs of an association (IEC 62056-5-3 clause 9 / ISO 8650): AARQ and AARE (application
context, authentication mechanism and value, the xDLMS initiate request or response in
user-information) and RLRQ/RLRE, BER-encoded; decoded into dataclasses that encode back to the
same bytes. HLS authentication is recognised when decoding but not supported by the client or the
imitator. ``decode_apdu`` takes any APDU: the ACSE ones here, the rest through ``xdlms``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .axdr import decode_length, encode_length
from .errors import DLMSError
from .pdu import Apdu, Reader, apdu_error
from .xdlms import decode_xdlms

APPLICATION_CONTEXTS = {1: "logical-name", 2: "short-name", 3: "logical-name-with-ciphering",
                        4: "short-name-with-ciphering"}
MECHANISMS = {0: "none", 1: "low-level-security", 2: "hls-manufacturer", 3: "hls-md5", 4: "hls-sha1",
              5: "hls-gmac", 6: "hls-sha256", 7: "hls-ecdsa"}
ASSOCIATION_RESULTS = {0: "accepted", 1: "rejected-permanent", 2: "rejected-transient"}
ACSE_USER_DIAGNOSTICS = {0: "null", 1: "no-reason-given", 2: "application-context-name-not-supported",
                         3: "calling-AP-title-not-recognized", 4: "calling-AP-invocation-identifier-not-recognized",
                         5: "calling-AE-qualifier-not-recognized", 6: "calling-AE-invocation-identifier-not-recognized",
                         7: "called-AP-title-not-recognized", 8: "called-AP-invocation-identifier-not-recognized",
                         9: "called-AE-qualifier-not-recognized", 10: "called-AE-invocation-identifier-not-recognized",
                         11: "authentication-mechanism-name-not-recognised",
                         12: "authentication-mechanism-name-required", 13: "authentication-failure",
                         14: "authentication-required"}
ACSE_PROVIDER_DIAGNOSTICS = {0: "null", 1: "no-reason-given", 2: "no-common-acse-version"}
CONTEXT_OID_PREFIX = bytes.fromhex("608574050801")     # joint-iso-ccitt(2) country(16) country-name(756) ... context
MECHANISM_OID_PREFIX = bytes.fromhex("608574050802")


# ---- ACSE (BER) ----------------------------------------------------------------------------
def _ber_elements(data: bytes, what: str) -> List[Tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        tag = data[pos]
        try:
            n, pos = decode_length(data, pos + 1)
        except DLMSError:
            raise apdu_error(f"bad BER length in the {what}") from None
        if pos + n > len(data):
            raise apdu_error(f"BER element {tag:02X} of the {what} runs past its end")
        out.append((tag, bytes(data[pos:pos + n])))
        pos += n
    return out


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(value)) + value


def _oid_last(value: bytes, prefix: bytes, what: str) -> int:
    if len(value) < 2 or value[0] != 0x06 or value[1] != len(value) - 2 or value[2:-1] != prefix:
        raise apdu_error(f"{what} is not a DLMS object identifier")
    return value[-1]


def _user_information(value: bytes) -> bytes:
    if len(value) < 2 or value[0] != 0x04:
        raise apdu_error("user-information is not an OCTET STRING")
    n, pos = decode_length(value, 1)
    if pos + n != len(value):
        raise apdu_error("user-information length does not match")
    return value[pos:]


def _decode_user_apdu(raw: bytes) -> Apdu:
    return decode_apdu(raw)


def _application_context(value: bytes) -> int:
    return _oid_last(value, CONTEXT_OID_PREFIX, "application-context-name")


def _mechanism(value: bytes) -> int:
    if value[:-1] != MECHANISM_OID_PREFIX or len(value) != 7:
        raise apdu_error("mechanism-name is not a DLMS mechanism")
    return value[-1]


def _first_element(what: str) -> Callable[[bytes], bytes]:
    """The content of the first BER element inside a context tag (b"" when it is empty)."""
    def decode(value: bytes) -> bytes:
        elements = _ber_elements(value, what)
        return elements[0][1] if elements else b""
    return decode


def _raw(value: bytes) -> bytes:
    return value


def _user_apdu(value: bytes) -> Apdu:
    return _decode_user_apdu(_user_information(value))


def _association_result(value: bytes) -> int:
    if len(value) != 3 or value[:2] != b"\x02\x01":
        raise apdu_error("AARE result is not a one-byte INTEGER")
    return value[2]


def _result_source_diagnostic(value: bytes) -> Tuple[int, int]:
    elements = _ber_elements(value, "result-source-diagnostic")
    if not elements or elements[0][0] not in (0xA1, 0xA2) or len(elements[0][1]) != 3:
        raise apdu_error("AARE result-source-diagnostic is malformed")
    return elements[0][0] - 0xA0, elements[0][1][2]


# The context tags an ACSE APDU carries: tag -> (the field, or fields, it sets; how its value
# decodes). Tags not listed are kept in ``other`` as they came.
_AcseFields = Dict[int, Tuple[Any, Callable[[bytes], Any]]]
_AARQ_FIELDS: _AcseFields = {
    0xA1: ("application_context", _application_context),
    0xA6: ("calling_ap_title", _first_element("calling-AP-title")),
    0x8A: ("acse_requirements", _raw),
    0x8B: ("mechanism", _mechanism),
    0xAC: ("password", _first_element("calling-authentication-value")),
    0xBE: ("user_apdu", _user_apdu),
}
_AARE_FIELDS: _AcseFields = {
    0xA1: ("application_context", _application_context),
    0xA2: ("result", _association_result),
    0xA3: (("diagnostic_source", "diagnostic"), _result_source_diagnostic),
    0xA4: ("responding_ap_title", _first_element("responding-AP-title")),
    0x88: ("responder_acse_requirements", _raw),
    0x89: ("mechanism", _mechanism),
    0xAA: ("authentication_value", _first_element("responding-authentication-value")),
    0xBE: ("user_apdu", _user_apdu),
}


def _read_acse(out: Any, body: bytes, fields: _AcseFields) -> Any:
    """Fill ``out`` (an AARQ or AARE with its defaults) from the BER elements of its body."""
    for tag, value in _ber_elements(body, out.name.upper()):
        if tag not in fields:
            out.other.append((tag, value))
            continue
        names, decode = fields[tag]
        decoded = decode(value)
        if isinstance(names, tuple):
            for name, item in zip(names, decoded):
                setattr(out, name, item)
        else:
            setattr(out, names, decoded)
    return out


def _encode_acse(tag: int, apdu, parts: List[Tuple[int, bytes]]) -> bytes:
    """An AARQ (0x60) or AARE (0x61): the fields it kept unparsed (``other``), its application
    context, its own ``parts`` and its user-information, in the order of their tag numbers."""
    parts = list(apdu.other) + [(0xA1, b"\x06\x07" + CONTEXT_OID_PREFIX + bytes((apdu.application_context,)))] + parts
    if apdu.user_apdu is not None:
        parts.append((0xBE, _tlv(0x04, apdu.user_apdu.encode())))
    parts.sort(key=lambda p: p[0] & 0x1F)
    return _tlv(tag, b"".join(_tlv(t, v) for t, v in parts))


@dataclass
class AARQ(Apdu):
    """The association request. ``password`` is the low-level-security secret (or the HLS
    challenge, which this package does not answer); ``user_apdu`` the InitiateRequest (or its
    ciphered form) carried in user-information."""

    user_apdu: Optional[Apdu] = None
    application_context: int = 1
    mechanism: Optional[int] = None
    password: Optional[bytes] = None
    calling_ap_title: Optional[bytes] = None
    acse_requirements: Optional[bytes] = None    # the bit string's content (07 80 = authentication)
    other: List[Tuple[int, bytes]] = field(default_factory=list)
    name = "aarq"

    def encode(self) -> bytes:
        parts: List[Tuple[int, bytes]] = []
        if self.calling_ap_title is not None:
            parts.append((0xA6, _tlv(0x04, self.calling_ap_title)))
        if self.acse_requirements is not None:
            parts.append((0x8A, self.acse_requirements))
        elif self.mechanism is not None:
            parts.append((0x8A, b"\x07\x80"))
        if self.mechanism is not None:
            parts.append((0x8B, MECHANISM_OID_PREFIX + bytes((self.mechanism,))))
        if self.password is not None:
            parts.append((0xAC, _tlv(0x80, self.password)))
        return _encode_acse(0x60, self, parts)

    @classmethod
    def read(cls, body: bytes) -> "AARQ":
        return _read_acse(cls(), body, _AARQ_FIELDS)

    def as_dict(self) -> dict:
        return {"type": self.name,
                "application_context": APPLICATION_CONTEXTS.get(self.application_context, str(self.application_context)),
                "mechanism": None if self.mechanism is None else MECHANISMS.get(self.mechanism, str(self.mechanism)),
                "password": None if self.password is None else self.password.hex(),
                "calling_ap_title": None if self.calling_ap_title is None else self.calling_ap_title.hex(),
                "user_information": None if self.user_apdu is None else self.user_apdu.as_dict()}


@dataclass
class AARE(Apdu):
    """The association response: result, diagnostic (source 1 = acse-service-user, 2 = provider)
    and the InitiateResponse (or a ConfirmedServiceError) in user-information."""

    result: int = 0
    diagnostic: int = 0
    diagnostic_source: int = 1
    user_apdu: Optional[Apdu] = None
    application_context: int = 1
    mechanism: Optional[int] = None
    authentication_value: Optional[bytes] = None
    responding_ap_title: Optional[bytes] = None
    responder_acse_requirements: Optional[bytes] = None
    other: List[Tuple[int, bytes]] = field(default_factory=list)
    name = "aare"

    @property
    def accepted(self) -> bool:
        return self.result == 0

    def encode(self) -> bytes:
        parts: List[Tuple[int, bytes]] = [(0xA2, b"\x02\x01" + bytes((self.result,)))]
        parts.append((0xA3, _tlv(0xA0 + self.diagnostic_source, b"\x02\x01" + bytes((self.diagnostic,)))))
        if self.responding_ap_title is not None:
            parts.append((0xA4, _tlv(0x04, self.responding_ap_title)))
        if self.responder_acse_requirements is not None:
            parts.append((0x88, self.responder_acse_requirements))
        if self.mechanism is not None:
            parts.append((0x89, MECHANISM_OID_PREFIX + bytes((self.mechanism,))))
        if self.authentication_value is not None:
            parts.append((0xAA, _tlv(0x80, self.authentication_value)))
        return _encode_acse(0x61, self, parts)

    @classmethod
    def read(cls, body: bytes) -> "AARE":
        return _read_acse(cls(), body, _AARE_FIELDS)

    def as_dict(self) -> dict:
        diagnostics = ACSE_USER_DIAGNOSTICS if self.diagnostic_source == 1 else ACSE_PROVIDER_DIAGNOSTICS
        return {"type": self.name, "result": ASSOCIATION_RESULTS.get(self.result, str(self.result)),
                "diagnostic": diagnostics.get(self.diagnostic, str(self.diagnostic)),
                "application_context": APPLICATION_CONTEXTS.get(self.application_context, str(self.application_context)),
                "mechanism": None if self.mechanism is None else MECHANISMS.get(self.mechanism, str(self.mechanism)),
                "user_information": None if self.user_apdu is None else self.user_apdu.as_dict()}


@dataclass
class ReleaseRequest(Apdu):
    reason: Optional[int] = 0
    user_apdu: Optional[Apdu] = None
    name = "rlrq"
    tag = 0x62

    def encode(self) -> bytes:
        body = b"" if self.reason is None else _tlv(0x80, bytes((self.reason,)))
        if self.user_apdu is not None:
            body += _tlv(0xBE, _tlv(0x04, self.user_apdu.encode()))
        return _tlv(self.tag, body)

    @classmethod
    def read(cls, body: bytes) -> "ReleaseRequest":
        out = cls(None)
        for tag, value in _ber_elements(body, cls.name.upper()):
            if tag == 0x80:
                if len(value) != 1:
                    raise apdu_error(f"{cls.name.upper()} reason is not one byte")
                out.reason = value[0]
            elif tag == 0xBE:
                out.user_apdu = _decode_user_apdu(_user_information(value))
            else:
                raise apdu_error(f"unexpected element {tag:02X} in {cls.name.upper()}")
        return out

    def as_dict(self) -> dict:
        return {"type": self.name, "reason": self.reason,
                "user_information": None if self.user_apdu is None else self.user_apdu.as_dict()}


@dataclass
class ReleaseResponse(ReleaseRequest):
    name = "rlre"
    tag = 0x63


# ---- dispatch ------------------------------------------------------------------------------
ACSE_APDUS: Dict[int, Any] = {0x60: AARQ, 0x61: AARE, 0x62: ReleaseRequest, 0x63: ReleaseResponse}  # classes with read()


def decode_apdu(data: bytes) -> Apdu:
    """Any APDU this package knows (ACSE or xDLMS); DLMSError (category apdu/axdr) otherwise."""
    if data and data[0] in ACSE_APDUS:
        r = Reader(data, 1)
        n = r.length("ACSE APDU")
        body = r.take(n, "ACSE APDU")
        r.end("ACSE APDU")
        return ACSE_APDUS[data[0]].read(body)
    return decode_xdlms(data)
