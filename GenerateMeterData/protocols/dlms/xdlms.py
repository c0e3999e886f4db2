"""xDLMS APDUs (IEC 62056-5-3): GET, SET and ACTION requests and responses with their COSEM
references and block transfer, the initiate request and response carried in an association's
user-information, exception and confirmed-service errors, ciphered APDUs and data-notification;
decoded into dataclasses that encode back to the same bytes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import axdr
from .axdr import CosemDateTime, Data, encode_length
from .obis import obis_text
from .pdu import Apdu, Reader, apdu_error

# ---- enumerations as data ------------------------------------------------------------------
DATA_ACCESS_RESULTS = {0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
                       4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
                       12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
                       15: "long-get-aborted", 16: "no-long-get-in-progress", 17: "long-set-aborted",
                       18: "no-long-set-in-progress", 19: "data-block-number-invalid", 250: "other-reason"}
ACTION_RESULTS = {0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
                  4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
                  12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
                  15: "long-action-aborted", 16: "no-long-action-in-progress", 250: "other-reason"}
STATE_ERRORS = {1: "service-not-allowed", 2: "service-unknown"}
SERVICE_ERRORS = {1: "operation-not-possible", 2: "service-not-supported", 3: "other-reason",
                  4: "pdu-too-long", 5: "deciphering-error", 6: "invocation-counter-error"}
CONFIRMED_SERVICES = {1: "initiateError", 2: "getStatus", 3: "getNameList", 4: "getVariableAttribute", 5: "read",
                      6: "write", 7: "getDataSetAttribute", 8: "getTIAttribute", 9: "changeScope", 10: "start",
                      11: "stop", 12: "resume", 13: "makeUsable", 14: "initiateLoad", 15: "loadSegment",
                      16: "terminateLoad", 17: "initiateUpLoad", 18: "upLoadSegment", 19: "terminateUpLoad"}
SERVICE_ERROR_KINDS = {0: "application-reference", 1: "hardware-resource", 2: "vde-state-error", 3: "service",
                       4: "definition", 5: "access", 6: "initiate", 7: "load-data-set", 8: "change-scope",
                       9: "task", 10: "other"}

# conformance bits (bit 0 = MSB of the 24-bit string)
CONFORMANCE_BITS = {1: "general-protection", 2: "general-block-transfer", 3: "read", 4: "write",
                    5: "unconfirmed-write", 6: "delta-value-encoding", 8: "attribute0-supported-with-set",
                    9: "priority-mgmt-supported", 10: "attribute0-supported-with-get", 11: "block-transfer-with-get-or-read",
                    12: "block-transfer-with-set-or-write", 13: "block-transfer-with-action", 14: "multiple-references",
                    15: "information-report", 16: "data-notification", 17: "access", 18: "parameterized-access",
                    19: "get", 20: "set", 21: "selective-access", 22: "event-notification", 23: "action"}


def conformance_names(bits: int) -> List[str]:
    """The services a conformance block grants."""
    return [name for bit, name in sorted(CONFORMANCE_BITS.items()) if bits & (1 << (23 - bit))]


# ---- COSEM references ----------------------------------------------------------------------
@dataclass(frozen=True)
class AttributeDescriptor:
    """class-id, logical name (OBIS bytes) and attribute (or method) id."""

    class_id: int
    obis: bytes
    attribute: int

    def encode(self) -> bytes:
        return self.class_id.to_bytes(2, "big") + bytes(self.obis) + (self.attribute & 0xFF).to_bytes(1, "big")

    @classmethod
    def read(cls, r: Reader) -> "AttributeDescriptor":
        class_id = r.uint(2, "class-id")
        obis = r.take(6, "logical name")
        attribute = r.byte("attribute id")
        return cls(class_id, obis, attribute - 256 if attribute > 127 else attribute)

    def as_dict(self) -> dict:
        return {"class_id": self.class_id, "obis": obis_text(self.obis), "attribute": self.attribute}


@dataclass
class AccessSelection:
    """Selective access: selector (1 = range, 2 = entry) and its parameters."""

    selector: int
    parameters: Data

    def encode(self) -> bytes:
        return bytes((self.selector,)) + self.parameters.encode()

    def as_dict(self) -> dict:
        out: Dict[str, Any] = {"selector": self.selector, "parameters": self.parameters.plain()}
        if self.selector == 1:   # a range that is not one is undecodable input, as a bad tag is
            out["range"] = RangeDescriptor.from_data(self.parameters).as_dict()
        return out


@dataclass
class RangeDescriptor:
    """Selector 1 of a profile generic: the restricting column and the from/to values."""

    restricting: Tuple[int, bytes, int, int]   # class, obis, attribute, data index
    from_value: Data
    to_value: Data
    selected: List[Tuple[int, bytes, int, int]] = field(default_factory=list)

    def to_data(self) -> Data:
        def column(c: Tuple[int, bytes, int, int]) -> Data:
            return axdr.structure(Data(axdr.LONG_UNSIGNED, c[0]), axdr.octets(c[1]), Data(axdr.INTEGER, c[2]),
                                  Data(axdr.LONG_UNSIGNED, c[3]))
        return axdr.structure(column(self.restricting), self.from_value, self.to_value,
                              axdr.array([column(c) for c in self.selected]))

    @classmethod
    def from_data(cls, data: Data) -> "RangeDescriptor":
        try:
            restricting, from_value, to_value, selected = data.value

            def column(item: Data) -> Tuple[int, bytes, int, int]:
                c, o, a, i = item.value
                if not isinstance(o.value, bytes) or len(o.value) != 6:
                    raise ValueError("a capture object's logical name is 6 bytes")
                if not all(isinstance(v.value, int) and not isinstance(v.value, bool) for v in (c, a, i)):
                    raise ValueError("a capture object's class, attribute and index are integers")
                return (c.value, o.value, a.value, i.value)
            return cls(column(restricting), from_value, to_value, [column(s) for s in selected.value])
        except (TypeError, ValueError, AttributeError) as exc:
            raise apdu_error(f"selective access by range: the parameters are not a range descriptor ({exc})") from None

    def as_dict(self) -> dict:
        def moment(d: Data) -> Any:
            if d.tag == axdr.OCTET_STRING:
                parsed = axdr.parse_datetime_octets(d.value)
                if parsed is not None:
                    return parsed.isoformat()
            return d.plain()
        return {"restricting_object": {"class_id": self.restricting[0], "obis": obis_text(self.restricting[1]),
                                       "attribute": self.restricting[2], "data_index": self.restricting[3]},
                "from": moment(self.from_value), "to": moment(self.to_value),
                "selected_values": [obis_text(c[1]) for c in self.selected]}


def _read_access_selection(r: Reader) -> Optional[AccessSelection]:
    present = r.byte("access-selection flag")
    if present == 0:
        return None
    if present != 1:
        raise apdu_error(f"access-selection flag {present}, expected 0 or 1")
    selector = r.byte("access selector")
    return AccessSelection(selector, r.data_value())


def _encode_access_selection(selection: Optional[AccessSelection]) -> bytes:
    return b"\x00" if selection is None else b"\x01" + selection.encode()


def _invoke_dict(invoke: int) -> dict:
    return {"invoke_id": invoke & 0x0F, "confirmed": bool(invoke & 0x40), "high_priority": bool(invoke & 0x80)}


# ---- GET -----------------------------------------------------------------------------------
@dataclass
class GetRequestNormal(Apdu):
    attribute: AttributeDescriptor
    access: Optional[AccessSelection] = None
    invoke: int = 0xC1
    name = "get-request-normal"

    def encode(self) -> bytes:
        return bytes((0xC0, 1, self.invoke)) + self.attribute.encode() + _encode_access_selection(self.access)

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), "attribute": self.attribute.as_dict(),
                "access_selection": self.access.as_dict() if self.access else None}


@dataclass
class GetRequestNext(Apdu):
    block_number: int
    invoke: int = 0xC1
    name = "get-request-next"

    def encode(self) -> bytes:
        return bytes((0xC0, 2, self.invoke)) + self.block_number.to_bytes(4, "big")

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), "block_number": self.block_number}


@dataclass
class GetRequestWithList(Apdu):
    attributes: List[Tuple[AttributeDescriptor, Optional[AccessSelection]]]
    invoke: int = 0xC1
    name = "get-request-with-list"

    def encode(self) -> bytes:
        return (bytes((0xC0, 3, self.invoke)) + encode_length(len(self.attributes))
                + b"".join(a.encode() + _encode_access_selection(s) for a, s in self.attributes))

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke),
                "attributes": [{**a.as_dict(), "access_selection": s.as_dict() if s else None}
                               for a, s in self.attributes]}


@dataclass
class GetResult:
    """A Get-Data-Result: data, or a data-access-result error code."""

    data: Optional[Data] = None
    error: Optional[int] = None

    def encode(self) -> bytes:
        return b"\x01" + bytes((self.error,)) if self.error is not None else b"\x00" + self.data.encode()  # type: ignore[union-attr]

    @classmethod
    def read(cls, r: Reader) -> "GetResult":
        choice = r.byte("get-data-result choice")
        if choice == 0:
            return cls(data=r.data_value())
        if choice == 1:
            return cls(error=r.byte("data-access-result"))
        raise apdu_error(f"get-data-result choice {choice}, expected 0 (data) or 1 (error)")

    def as_dict(self) -> dict:
        if self.error is not None:
            return {"error": DATA_ACCESS_RESULTS.get(self.error, str(self.error)), "error_code": self.error}
        return {"data": self.data.plain(), "data_type": self.data.type_name}  # type: ignore[union-attr]


@dataclass
class GetResponseNormal(Apdu):
    result: GetResult
    invoke: int = 0xC1
    name = "get-response-normal"

    def encode(self) -> bytes:
        return bytes((0xC4, 1, self.invoke)) + self.result.encode()

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), **self.result.as_dict()}


@dataclass
class GetResponseWithBlock(Apdu):
    last_block: bool
    block_number: int
    raw_data: Optional[bytes] = None
    error: Optional[int] = None
    invoke: int = 0xC1
    name = "get-response-with-datablock"

    def encode(self) -> bytes:
        head = bytes((0xC4, 2, self.invoke, 1 if self.last_block else 0)) + self.block_number.to_bytes(4, "big")
        if self.error is not None:
            return head + bytes((1, self.error))
        return head + b"\x00" + encode_length(len(self.raw_data or b"")) + (self.raw_data or b"")

    def as_dict(self) -> dict:
        out = {"type": self.name, **_invoke_dict(self.invoke), "last_block": self.last_block,
               "block_number": self.block_number}
        if self.error is not None:
            out["error"] = DATA_ACCESS_RESULTS.get(self.error, str(self.error))
        else:
            out["raw_data"] = (self.raw_data or b"").hex()
        return out


@dataclass
class GetResponseWithList(Apdu):
    results: List[GetResult]
    invoke: int = 0xC1
    name = "get-response-with-list"

    def encode(self) -> bytes:
        return self.wrap(encode_length(len(self.results)) + b"".join(r.encode() for r in self.results), self.invoke)

    @staticmethod
    def wrap(results: bytes, invoke: int) -> bytes:
        """The APDU around an encoded list of Get-Data-Results (its quantity, then each): what a
        block transfer of a list answer carries as its raw data."""
        return bytes((0xC4, 3, invoke)) + results

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), "results": [r.as_dict() for r in self.results]}


# ---- SET and ACTION (decoded for completeness; the imitator refuses SET) --------------------
@dataclass
class SetRequestNormal(Apdu):
    attribute: AttributeDescriptor
    value: Data
    access: Optional[AccessSelection] = None
    invoke: int = 0xC1
    name = "set-request-normal"

    def encode(self) -> bytes:
        return (bytes((0xC1, 1, self.invoke)) + self.attribute.encode() + _encode_access_selection(self.access)
                + self.value.encode())

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), "attribute": self.attribute.as_dict(),
                "value": self.value.plain()}


@dataclass
class SetResponseNormal(Apdu):
    result: int
    invoke: int = 0xC1
    name = "set-response-normal"

    def encode(self) -> bytes:
        return bytes((0xC5, 1, self.invoke, self.result))

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke),
                "result": DATA_ACCESS_RESULTS.get(self.result, str(self.result))}


@dataclass
class ActionRequestNormal(Apdu):
    method: AttributeDescriptor
    parameters: Optional[Data] = None
    invoke: int = 0xC1
    name = "action-request-normal"

    def encode(self) -> bytes:
        return (bytes((0xC3, 1, self.invoke)) + self.method.encode()
                + (b"\x00" if self.parameters is None else b"\x01" + self.parameters.encode()))

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), "method": self.method.as_dict(),
                "parameters": None if self.parameters is None else self.parameters.plain()}


@dataclass
class ActionResponseNormal(Apdu):
    result: int
    returned: Optional[GetResult] = None
    invoke: int = 0xC1
    name = "action-response-normal"

    def encode(self) -> bytes:
        return (bytes((0xC7, 1, self.invoke, self.result))
                + (b"\x00" if self.returned is None else b"\x01" + self.returned.encode()))

    def as_dict(self) -> dict:
        return {"type": self.name, **_invoke_dict(self.invoke), "result": ACTION_RESULTS.get(self.result, str(self.result)),
                "return": None if self.returned is None else self.returned.as_dict()}


# ---- errors --------------------------------------------------------------------------------
@dataclass
class ExceptionResponse(Apdu):
    state_error: int
    service_error: int
    invocation_counter: Optional[int] = None
    name = "exception-response"

    def encode(self) -> bytes:
        tail = b"" if self.invocation_counter is None else self.invocation_counter.to_bytes(4, "big")
        return bytes((0xD8, self.state_error, self.service_error)) + tail

    def as_dict(self) -> dict:
        return {"type": self.name, "state_error": STATE_ERRORS.get(self.state_error, str(self.state_error)),
                "service_error": SERVICE_ERRORS.get(self.service_error, str(self.service_error)),
                "invocation_counter": self.invocation_counter}


@dataclass
class ConfirmedServiceError(Apdu):
    service: int
    kind: int
    value: int
    name = "confirmed-service-error"

    def encode(self) -> bytes:
        return bytes((0x0E, self.service, self.kind, self.value))

    def as_dict(self) -> dict:
        return {"type": self.name, "service": CONFIRMED_SERVICES.get(self.service, str(self.service)),
                "error": SERVICE_ERROR_KINDS.get(self.kind, str(self.kind)), "value": self.value}


# ---- initiate ------------------------------------------------------------------------------
def _conformance_block(bits: int) -> bytes:
    return b"\x5f\x1f\x04\x00" + bits.to_bytes(3, "big")


def _read_conformance(r: Reader) -> int:
    if r.take(3, "conformance tag") != b"\x5f\x1f\x04":
        raise apdu_error("the conformance block does not start with 5F 1F 04")
    unused = r.byte("conformance unused bits")
    if unused > 7:
        raise apdu_error("bad conformance bit string")
    return r.uint(3, "conformance")


@dataclass
class InitiateRequest(Apdu):
    conformance: int = 0x007E1F
    max_receive_pdu_size: int = 0xFFFF
    dlms_version: int = 6
    dedicated_key: Optional[bytes] = None
    response_allowed: Optional[bool] = None   # None: the default (TRUE) left out
    quality_of_service: Optional[int] = None
    name = "initiate-request"

    def encode(self) -> bytes:
        out = bytearray(b"\x01")
        out += b"\x00" if self.dedicated_key is None else b"\x01" + encode_length(len(self.dedicated_key)) + self.dedicated_key
        out += b"\x00" if self.response_allowed is None else bytes((1, int(self.response_allowed)))
        out += b"\x00" if self.quality_of_service is None else bytes((1, self.quality_of_service & 0xFF))
        out += bytes((self.dlms_version,)) + _conformance_block(self.conformance)
        out += self.max_receive_pdu_size.to_bytes(2, "big")
        return bytes(out)

    @classmethod
    def read(cls, r: Reader) -> "InitiateRequest":
        key = None
        if r.byte("dedicated-key flag"):
            key = r.take(r.length("dedicated key"), "dedicated key")
        allowed = bool(r.byte("response-allowed")) if r.byte("response-allowed flag") else None
        qos = r.byte("quality of service") if r.byte("quality-of-service flag") else None
        version = r.byte("DLMS version")
        conformance = _read_conformance(r)
        pdu = r.uint(2, "client max receive PDU size")
        return cls(conformance, pdu, version, key, allowed, qos)

    def as_dict(self) -> dict:
        return {"type": self.name, "dlms_version": self.dlms_version, "conformance": conformance_names(self.conformance),
                "max_receive_pdu_size": self.max_receive_pdu_size,
                "dedicated_key": None if self.dedicated_key is None else self.dedicated_key.hex(),
                "response_allowed": self.response_allowed, "quality_of_service": self.quality_of_service}


@dataclass
class InitiateResponse(Apdu):
    conformance: int = 0x00501F
    max_receive_pdu_size: int = 0x01F4
    dlms_version: int = 6
    vaa_name: int = 0x0007
    quality_of_service: Optional[int] = None
    name = "initiate-response"

    def encode(self) -> bytes:
        out = bytearray(b"\x08")
        out += b"\x00" if self.quality_of_service is None else bytes((1, self.quality_of_service & 0xFF))
        out += bytes((self.dlms_version,)) + _conformance_block(self.conformance)
        out += self.max_receive_pdu_size.to_bytes(2, "big") + self.vaa_name.to_bytes(2, "big")
        return bytes(out)

    @classmethod
    def read(cls, r: Reader) -> "InitiateResponse":
        qos = r.byte("quality of service") if r.byte("quality-of-service flag") else None
        version = r.byte("DLMS version")
        conformance = _read_conformance(r)
        pdu = r.uint(2, "server max receive PDU size")
        vaa = r.uint(2, "VAA name")
        return cls(conformance, pdu, version, vaa, qos)

    def as_dict(self) -> dict:
        return {"type": self.name, "dlms_version": self.dlms_version, "conformance": conformance_names(self.conformance),
                "max_receive_pdu_size": self.max_receive_pdu_size, "vaa_name": self.vaa_name,
                "quality_of_service": self.quality_of_service}


# ---- ciphered APDUs ------------------------------------------------------------------------
CIPHERED_TAGS = {0x21: "glo-initiate-request", 0x28: "glo-initiate-response", 0xC8: "glo-get-request",
                 0xCC: "glo-get-response", 0xDB: "general-glo-cipher", 0xDC: "general-ded-cipher"}


@dataclass
class CipheredApdu(Apdu):
    """A ciphered APDU: security control byte, invocation counter and ciphertext (with its
    12-byte authentication tag when authenticated); general-glo-cipher also carries the sender's
    system title. ``cipher.decrypt`` turns it back into the plain APDU."""

    tag: int
    security_control: int
    invocation_counter: int
    ciphertext: bytes
    system_title: Optional[bytes] = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return CIPHERED_TAGS.get(self.tag, f"ciphered-{self.tag:02x}")

    @property
    def security_suite(self) -> int:
        return self.security_control & 0x0F

    @property
    def authenticated(self) -> bool:
        return bool(self.security_control & 0x10)

    @property
    def encrypted(self) -> bool:
        return bool(self.security_control & 0x20)

    def encode(self) -> bytes:
        content = bytes((self.security_control,)) + self.invocation_counter.to_bytes(4, "big") + self.ciphertext
        head = bytes((self.tag,))
        if self.tag in (0xDB, 0xDC):
            title = self.system_title or b""
            head += encode_length(len(title)) + title
        return head + encode_length(len(content)) + content

    def as_dict(self) -> dict:
        return {"type": self.name, "system_title": None if self.system_title is None else self.system_title.hex(),
                "security_control": self.security_control, "security_suite": self.security_suite,
                "authenticated": self.authenticated, "encrypted": self.encrypted,
                "broadcast_key": bool(self.security_control & 0x40), "compressed": bool(self.security_control & 0x80),
                "invocation_counter": self.invocation_counter, "ciphertext": self.ciphertext.hex()}


def _read_ciphered(tag: int, r: Reader) -> CipheredApdu:
    title = None
    if tag in (0xDB, 0xDC):
        title = r.take(r.length("system title"), "system title")
    n = r.length("ciphered content")
    content = r.take(n, "ciphered content")
    r.end(CIPHERED_TAGS.get(tag, "ciphered APDU"))
    if len(content) < 5:
        raise apdu_error("ciphered content shorter than its security header")
    return CipheredApdu(tag, content[0], int.from_bytes(content[1:5], "big"), content[5:], title)


# ---- data-notification ---------------------------------------------------------------------
@dataclass
class DataNotification(Apdu):
    """A push: long invoke id, optional date-time, and the notification body (one Data)."""

    body: Data
    long_invoke_id: int = 0x40000000
    date_time: Optional[CosemDateTime] = None
    date_time_form: int = 0        # how the date-time was sent: 0 absent, 0x0C bare, 0x09 tagged
    name = "data-notification"

    def encode(self) -> bytes:
        head = b"\x0f" + self.long_invoke_id.to_bytes(4, "big")
        if self.date_time is None:
            head += b"\x00"
        elif self.date_time_form == 0x09:
            head += b"\x09\x0c" + self.date_time.encode()
        else:
            head += b"\x0c" + self.date_time.encode()
        return head + self.body.encode()

    def as_dict(self) -> dict:
        return {"type": self.name, "long_invoke_id": self.long_invoke_id & 0x00FFFFFF,
                "confirmed": bool(self.long_invoke_id & 0x40000000),
                "date_time": None if self.date_time is None else self.date_time.as_dict(),
                "body": self.body.plain()}


def _read_data_notification(r: Reader) -> DataNotification:
    invoke = r.uint(4, "long-invoke-id-and-priority")
    form = r.byte("date-time")
    moment = None
    if form == 0x09:   # sent as a tagged octet-string
        n = r.length("date-time")
        raw = r.take(n, "date-time")
        if n:
            moment = CosemDateTime.decode(raw) if n == 12 else None
            if moment is None:
                raise apdu_error(f"data-notification date-time of {n} bytes, expected 12")
    elif form == 0x0C:
        moment = CosemDateTime.decode(r.take(12, "date-time"))
    elif form != 0:
        raise apdu_error(f"data-notification date-time length {form}, expected 0 or 12")
    body = r.data_value()
    r.end("notification body")
    return DataNotification(body, invoke, moment, form)


# ---- dispatch ------------------------------------------------------------------------------
def decode_xdlms(data: bytes) -> Apdu:
    """An xDLMS APDU (not an ACSE one: ``acse.decode_apdu`` takes any); DLMSError (category
    apdu/axdr) otherwise."""
    if not data:
        raise apdu_error("empty APDU")
    tag = data[0]
    r = Reader(data, 1)
    if tag == 0x0F:
        return _read_data_notification(r)
    if tag in CIPHERED_TAGS:
        return _read_ciphered(tag, r)
    if tag == 0x01:
        out: Apdu = InitiateRequest.read(r)
        r.end("initiate-request")
        return out
    if tag == 0x08:
        out = InitiateResponse.read(r)
        r.end("initiate-response")
        return out
    if tag == 0xD8:
        state, service = r.byte("state-error"), r.byte("service-error")
        counter = r.uint(4, "invocation counter") if r.pos < len(data) else None
        r.end("exception-response")
        return ExceptionResponse(state, service, counter)
    if tag == 0x0E:
        out = ConfirmedServiceError(r.byte("service"), r.byte("service-error kind"), r.byte("service-error value"))
        r.end("confirmed-service-error")
        return out
    if tag in (0xC0, 0xC1, 0xC3, 0xC4, 0xC5, 0xC7):
        choice = r.byte("service choice")
        invoke = r.byte("invoke-id-and-priority")
        out = _decode_service(tag, choice, invoke, r)
        r.end(out.name)
        return out
    raise apdu_error(f"unknown APDU tag 0x{tag:02X}")


def _decode_service(tag: int, choice: int, invoke: int, r: Reader) -> Apdu:
    if tag == 0xC0:
        if choice == 1:
            attribute = AttributeDescriptor.read(r)
            return GetRequestNormal(attribute, _read_access_selection(r), invoke)
        if choice == 2:
            return GetRequestNext(r.uint(4, "block number"), invoke)
        if choice == 3:
            n = r.length("attribute list")
            items = []
            for _ in range(n):
                attribute = AttributeDescriptor.read(r)
                items.append((attribute, _read_access_selection(r)))
            return GetRequestWithList(items, invoke)
    elif tag == 0xC4:
        if choice == 1:
            return GetResponseNormal(GetResult.read(r), invoke)
        if choice == 2:
            last = r.byte("last-block")
            if last > 1:
                raise apdu_error(f"last-block flag {last}, expected 0 or 1")
            block = r.uint(4, "block number")
            result = r.byte("datablock result choice")
            if result == 0:
                raw = r.take(r.length("raw data"), "raw data")
                return GetResponseWithBlock(bool(last), block, raw, None, invoke)
            if result == 1:
                return GetResponseWithBlock(bool(last), block, None, r.byte("data-access-result"), invoke)
            raise apdu_error(f"datablock result choice {result}, expected 0 or 1")
        if choice == 3:
            n = r.length("result list")
            return GetResponseWithList([GetResult.read(r) for _ in range(n)], invoke)
    elif tag == 0xC1 and choice == 1:
        attribute = AttributeDescriptor.read(r)
        access = _read_access_selection(r)
        return SetRequestNormal(attribute, r.data_value(), access, invoke)
    elif tag == 0xC5 and choice == 1:
        return SetResponseNormal(r.byte("result"), invoke)
    elif tag == 0xC3 and choice == 1:
        method = AttributeDescriptor.read(r)
        present = r.byte("parameters flag")
        return ActionRequestNormal(method, r.data_value() if present else None, invoke)
    elif tag == 0xC7 and choice == 1:
        result = r.byte("action result")
        present = r.byte("return-parameters flag")
        return ActionResponseNormal(result, GetResult.read(r) if present else None, invoke)
    names = {0xC0: "get-request", 0xC1: "set-request", 0xC3: "action-request", 0xC4: "get-response",
             0xC5: "set-response", 0xC7: "action-response"}
    raise apdu_error(f"{names[tag]} choice {choice} is not supported")
