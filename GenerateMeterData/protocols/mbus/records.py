"""M-Bus application layer (EN 13757-3): the variable data structure (DIF/DIFE/VIF/VIFE
records), the fixed data structure, and error replies -- decoded to values normalised to a unit
and a quantity, and encoded back to the same bytes.

Every decoded piece keeps its raw bytes (header, each record's DIB/VIB/data, idle fillers,
manufacturer data), so ``encode_telegram(decode_telegram(frame))`` gives the frame back byte
for byte; ``Record.build`` makes new records from values for the slave imitator."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ...errors import ProtocolError
from . import tables
from .timepoints import describe, encode_date_time
from .frames import Frame, FrameError, RSP_UD, encode_frame, parse_frame

CI_ERROR, CI_VARIABLE, CI_FIXED = 0x70, 0x72, 0x73
VARIABLE_LONG_HEADER = (0x72, 0x76)
VARIABLE_SHORT_HEADER = (0x7A,)
VARIABLE_NO_HEADER = (0x78,)
FIXED = (0x73, 0x77)
MAX_DIFE = MAX_VIFE = 10
MAX_PLAIN_VIF = 128
FILLER, MANUFACTURER, MORE_FOLLOW = 0x2F, 0x0F, 0x1F


class DecodeError(ProtocolError):
    """User data that does not decode; ``category`` says which part is wrong."""

    def __init__(self, message: str, category: str) -> None:
        super().__init__(message)
        self.category = category


_TIME_TYPES = {"date": "G", "datetime": "F", "datetime_s": "I", "time": "J"}


@dataclass
class Record:
    """One data record with its raw bytes and its normalised meaning."""

    dif: int
    dife: Tuple[int, ...] = ()
    vif: Optional[int] = None
    vife: Tuple[int, ...] = ()
    plain_vif: bytes = b""          # plain-text unit bytes as on the wire (VIF 7C/FC)
    lvar: Optional[int] = None      # length byte of variable-length data (DIF data 0x0D)
    data: bytes = b""               # data bytes as on the wire
    # normalised meaning
    function: str = ""
    storage_number: int = 0
    tariff: int = 0
    subunit: int = 0
    unit: str = ""
    quantity: str = ""
    value: Any = None               # float, str (text, dates), or hex str of raw bytes
    date_valid: Optional[bool] = None
    summer_time: Optional[bool] = None
    not_specified: Tuple[str, ...] = ()    # date/time fields holding the all-ones "not specified" value
    vife_text: Tuple[str, ...] = ()
    msb_first: bool = False         # mode 2 telegrams (CI 0x76/0x77) send numbers MSB first

    def raw(self) -> bytes:
        """The record's bytes on the wire."""
        out = bytearray([self.dif, *self.dife])
        if self.vif is not None:
            out.append(self.vif)
            if self.plain_vif or (self.vif & 0x7F) == 0x7C:
                out.append(len(self.plain_vif))
                out += self.plain_vif
            out += bytes(self.vife)
        if self.lvar is not None:
            out.append(self.lvar)
        out += self.data
        return bytes(out)

    @property
    def manufacturer_specific(self) -> bool:
        """DIF 0F or 1F: the rest of the telegram is manufacturer data."""
        return self.dif in (MANUFACTURER, MORE_FOLLOW)

    def as_dict(self) -> Dict[str, Any]:
        """The record as JSON-ready data (value, unit, quantity, storage, tariff, subunit, ...)."""
        out: Dict[str, Any] = {"function": self.function, "storage_number": self.storage_number,
                               "tariff": self.tariff, "subunit": self.subunit, "unit": self.unit,
                               "quantity": self.quantity, "value": self.value, "raw": self.data.hex(" ").upper()}
        if self.date_valid is not None:
            out["date_valid"] = self.date_valid
            out["summer_time"] = self.summer_time
            if self.not_specified:
                out["not_specified"] = list(self.not_specified)
        if self.vife_text:
            out["vife"] = list(self.vife_text)
        return out

    @classmethod
    def build(cls, vif_code: int, value: Any, *, data_type: str = "int32", storage: int = 0, tariff: int = 0,
              subunit: int = 0, function: int = 0, extension: Optional[int] = None,
              vife: Tuple[int, ...] = ()) -> "Record":
        """A record from a value: ``vif_code`` is a primary VIF (or 0xFD/0xFB with ``extension``);
        ``value`` is in the VIF's raw steps (e.g. Wh for VIF 0x03).  ``data_type`` is one of
        int8/16/24/32/48/64, bcd2/4/6/8/12, real32, date (type G), datetime (type F), datetime_s
        (type I, with seconds), time (type J), text.  Dates and times take Python values."""
        codes = {"none": 0x0, "int8": 0x1, "int16": 0x2, "int24": 0x3, "int32": 0x4, "real32": 0x5,
                 "int48": 0x6, "int64": 0x7, "bcd2": 0x9, "bcd4": 0xA, "bcd6": 0xB, "bcd8": 0xC,
                 "text": 0xD, "bcd12": 0xE, "date": 0x2, "datetime": 0x4, "datetime_s": 0x6, "time": 0x3}
        if data_type not in codes:
            raise DecodeError(f"unknown data type {data_type!r}", "encode")
        difes: List[int] = []
        storage_rest, tariff_rest, subunit_rest = storage >> 1, tariff, subunit
        while storage_rest or tariff_rest or subunit_rest:
            difes.append((storage_rest & 0x0F) | ((tariff_rest & 0x03) << 4) | ((subunit_rest & 0x01) << 6))
            storage_rest, tariff_rest, subunit_rest = storage_rest >> 4, tariff_rest >> 2, subunit_rest >> 1
        difes = [d | 0x80 for d in difes[:-1]] + difes[-1:]
        dif = codes[data_type] | ((function & 0x3) << 4) | ((storage & 0x1) << 6) | (0x80 if difes else 0)
        vifes = ([extension] if extension is not None else []) + list(vife)
        vif = vif_code | (0x80 if vifes else 0)
        vifes = [v | 0x80 for v in vifes[:-1]] + [v & 0x7F for v in vifes[-1:]]
        record = cls(dif=dif, dife=tuple(difes), vif=vif, vife=tuple(vifes))
        lvar = None
        if data_type == "text":
            text = str(value).encode("latin-1")
            record.data, lvar = text[::-1], len(text)
        elif data_type in _TIME_TYPES:
            record.data = encode_date_time(_TIME_TYPES[data_type], value)
        elif data_type == "real32":
            record.data = struct.pack("<f", float(value))
        elif data_type.startswith("bcd"):
            record.data = _encode_bcd(int(value), int(data_type[3:]) // 2)
        elif data_type != "none":
            size = int(data_type[3:]) // 8
            record.data = int(value).to_bytes(size, "little", signed=True)
        record.lvar = lvar
        _interpret(record)
        return record


@dataclass
class Telegram:
    """Decoded user data of one RSP_UD (or the data of another long frame)."""

    control: int
    address: int
    ci: int
    kind: str                               # "variable", "fixed" or "error"
    header: Dict[str, Any] = field(default_factory=dict)
    header_raw: bytes = b""
    records: List[Record] = field(default_factory=list)
    layout: List[Any] = field(default_factory=list)   # records and filler bytes in wire order
    error: Optional[str] = None
    error_code: Optional[int] = None
    fixed_raw: bytes = b""

    @property
    def more_records_follow(self) -> bool:
        """True when the slave has another telegram (DIF 1F)."""
        return any(r.dif == MORE_FOLLOW for r in self.records)

    @property
    def secondary_address(self) -> Optional[str]:
        """16 hex digits: ID, manufacturer, version, medium (as in a selection frame)."""
        if len(self.header_raw) < 8:
            return None
        raw = self.header_raw
        return f"{int(self.header['id'], 16):08X}{raw[4]:02X}{raw[5]:02X}{raw[6]:02X}{raw[7]:02X}"

    def as_dict(self) -> Dict[str, Any]:
        """The telegram as JSON-ready data."""
        out: Dict[str, Any] = {"c": self.control, "a": self.address, "ci": f"0x{self.ci:02X}", "type": self.kind}
        if self.kind == "error":
            out["error"] = self.error
            out["error_code"] = self.error_code
        out["header"] = dict(self.header)
        out["records"] = [r.as_dict() for r in self.records]
        return out


# ---- primitive codecs ----------------------------------------------------------------------
def _bcd(data: bytes) -> int:
    """BCD, least significant byte first; an F in the top nibble means negative."""
    value = 0
    for byte in reversed(data):
        value = value * 10 + ((byte >> 4) if (byte >> 4) < 0xA else 0)
        value = value * 10 + (byte & 0x0F)
    if data and data[-1] >> 4 == 0xF:
        value = -value
    return value


def _encode_bcd(value: int, size: int) -> bytes:
    digits = f"{abs(value):0{size * 2}d}"
    if len(digits) > size * 2:
        raise DecodeError(f"{value} does not fit {size * 2} BCD digits", "encode")
    out = bytearray(int(digits[i:i + 2], 16) for i in range(0, len(digits), 2))[::-1]
    if value < 0:
        out[-1] |= 0xF0
    return bytes(out)


def _time_record(record: "Record", kind: str, data: bytes) -> str:
    """Decode a type F/G/I/J value into the record's date fields; the value text."""
    text, record.date_valid, record.summer_time, record.not_specified = describe(kind, data)
    return text


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _identification(raw: bytes) -> str:
    """The BCD identification number as its digits (a non-decimal nibble shows as hex, A-F)."""
    return f"{int.from_bytes(raw, 'little'):X}"


def _manufacturer(raw: bytes) -> str:
    code = raw[0] | (raw[1] << 8)
    return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


# ---- interpretation ------------------------------------------------------------------------
def _interpret(record: Record) -> None:
    """Fill the normalised fields of a record from its raw parts."""
    dif = record.dif
    if record.manufacturer_specific:
        record.function = "More records follow" if dif == MORE_FOLLOW else "Manufacturer specific"
        record.value = _hex(record.data)
        return
    record.function = tables.FUNCTIONS[(dif >> 4) & 0x03]
    storage, tariff, subunit = (dif >> 6) & 0x01, 0, 0
    for n, dife in enumerate(record.dife):
        storage |= (dife & 0x0F) << (1 + 4 * n)
        tariff |= ((dife >> 4) & 0x03) << (2 * n)
        subunit |= ((dife >> 6) & 0x01) << n
    record.storage_number, record.tariff, record.subunit = storage, tariff, subunit
    coding = dif & 0x0F
    vif = record.vif if record.vif is not None else 0
    first_vife = record.vife[0] & 0x7F if record.vife else None

    # unit and quantity
    if vif in (0xFD, 0xFB):
        table = tables.EXTENSION_FD if vif == 0xFD else tables.EXTENSION_FB
        unit, quantity, factor = table.get(first_vife if first_vife is not None else 0, ("", "", 1.0))
        combinable = record.vife[1:]
    elif (vif & 0x7F) == 0x7C:
        unit, quantity, factor = "-", record.plain_vif[::-1].decode("latin-1"), 1.0
        combinable = record.vife
    elif (vif & 0x7F) == 0x7F:
        unit, quantity, factor = "", "Manufacturer specific", 1.0
        combinable = record.vife
    else:
        unit, quantity, factor = tables.PRIMARY.get(vif & 0x7F, ("", "", 1.0))
        combinable = record.vife
    record.unit, record.quantity = unit, quantity
    record.vife_text = tuple(tables.COMBINABLE_VIFE.get(v & 0x7F, "reserved") for v in combinable)

    # value
    data = record.data[::-1] if record.msb_first and (dif & 0x0F) != 0xD else record.data
    text: Optional[str] = None
    number: Optional[float] = None
    date_code = vif & 0x7F
    is_datetime = date_code == 0x6D or (vif == 0xFD and first_vife in (0x30, 0x70))
    if coding == 0x0:
        text = ""
    elif coding == 0x2 and date_code == 0x6C and vif not in (0xFD, 0xFB):
        text = _time_record(record, "G", data)
    elif coding == 0x4 and is_datetime:
        text = _time_record(record, "F", data)
    elif coding == 0x6 and is_datetime:
        text = _time_record(record, "I", data)
    elif coding == 0x3 and date_code == 0x6D and vif not in (0xFD, 0xFB):
        text = _time_record(record, "J", data)
    elif coding in (0x1, 0x2, 0x3, 0x4, 0x6, 0x7):
        number = float(int.from_bytes(data, "little", signed=True))
    elif coding == 0x5:
        number = float(struct.unpack("<f", data)[0])
    elif coding in (0x9, 0xA, 0xB, 0xC, 0xE):
        number = float(_bcd(data))
    elif coding == 0xD:
        lvar = record.lvar or 0
        if lvar <= 0xBF:
            text = data[::-1].decode("latin-1")
        elif lvar <= 0xCF:
            number = float(_bcd(data))
        elif lvar <= 0xDF:
            number = -float(_bcd(data))
        else:  # binary number: shown most significant byte first
            text = _hex(data[::-1])
    elif coding == 0xF:
        text = _hex(data)
    if text is not None:
        record.value = text
        return
    value = (number or 0.0) * factor
    if vif not in (0xFD, 0xFB) and (vif & 0x80) and record.vife:
        code = record.vife[0] & 0x7F
        if 0x70 <= code <= 0x77:
            value *= 10.0 ** ((code & 0x07) - 6)
        elif 0x78 <= code <= 0x7B:
            value += 10.0 ** ((code & 0x03) - 3)
        elif code == 0x7D:
            value *= 1000.0
    record.value = value


def _lvar_length(lvar: int) -> int:
    if lvar <= 0xBF:
        return lvar
    if lvar <= 0xDF:
        return (lvar & 0x0F) * 2
    if lvar <= 0xEF:
        return lvar - 0xE0
    if lvar <= 0xF4:
        return 4 * (lvar - 0xEC)  # EN 13757-3: binary number of 16, 20, 24, 28 or 32 bytes
    if lvar == 0xF5:
        return 48
    if lvar == 0xF6:
        return 64
    raise DecodeError(f"reserved LVAR 0x{lvar:02X}", "record")


def _extensions(data: bytes, i: int, first: int, limit: int, field: str, name: str) -> Tuple[List[int], int]:
    """The extension bytes (DIFE or VIFE) that follow a byte with the extension bit set."""
    extensions: List[int] = []
    last = first
    while last & 0x80:
        if i >= len(data):
            raise DecodeError(f"Premature end of record at {field}.", "record")
        if len(extensions) >= limit:
            raise DecodeError(f"Too many {name}.", "record")
        last = data[i]
        extensions.append(last)
        i += 1
    return extensions, i


def parse_records(data: bytes, msb_first: bool = False) -> Tuple[List[Record], List[Any]]:
    """Records of a variable data structure, and the wire layout (records and filler bytes)."""
    records: List[Record] = []
    layout: List[Any] = []
    i, n = 0, len(data)
    while i < n:
        dif = data[i]
        if dif == FILLER:
            layout.append(FILLER)
            i += 1
            continue
        if dif in (MANUFACTURER, MORE_FOLLOW):
            record = Record(dif=dif, data=bytes(data[i + 1:]))
            _interpret(record)
            records.append(record)
            layout.append(record)
            break
        difes, i = _extensions(data, i + 1, dif, MAX_DIFE, "DIF", "DIFE")
        if i >= n:
            raise DecodeError("Premature end of record at VIF.", "record")
        vif = data[i]
        i += 1
        plain = b""
        if (vif & 0x7F) == 0x7C:
            if i >= n:
                raise DecodeError("Premature end of record at variable length VIF.", "record")
            vif_length = data[i]
            i += 1
            if vif_length > MAX_PLAIN_VIF:
                raise DecodeError("Too long variable length VIF.", "record")
            if i + vif_length > n:
                raise DecodeError("Premature end of record at variable length VIF.", "record")
            plain = bytes(data[i:i + vif_length])
            i += vif_length
        vifes, i = _extensions(data, i, vif, MAX_VIFE, "VIF", "VIFE")
        coding = dif & 0x0F
        lvar = None
        length = tables.DATA_LENGTH[coding]
        if length is None:
            if i >= n:
                raise DecodeError("Premature end of record at data.", "record")
            lvar = data[i]
            i += 1
            length = _lvar_length(lvar)
        if i + length > n:
            raise DecodeError("Premature end of record at data.", "record")
        record = Record(dif=dif, dife=tuple(difes), vif=vif, vife=tuple(vifes), plain_vif=plain,
                        lvar=lvar, data=bytes(data[i:i + length]), msb_first=msb_first)
        i += length
        _interpret(record)
        records.append(record)
        layout.append(record)
    return records, layout


def _variable_header(raw: bytes, msb_first: bool = False) -> Dict[str, Any]:
    def order(part: bytes) -> bytes:
        return part[::-1] if msb_first else part
    signature = order(raw[10:12])
    return {"id": _identification(order(raw[0:4])), "manufacturer": _manufacturer(order(raw[4:6])),
            "version": raw[6], "medium": tables.medium_name(raw[7]), "medium_code": raw[7],
            "access_number": raw[8], "status": f"{raw[9]:02X}", "signature": f"{signature[1]:02X}{signature[0]:02X}",
            "byte_order": "MSB first (mode 2)" if msb_first else "LSB first (mode 1)"}


def decode_user_data(control: int, address: int, ci: int, data: bytes) -> Telegram:
    """The application layer of a slave's answer."""
    if control & 0x40:
        raise DecodeError("Wrong direction in frame (master to slave)", "direction")
    telegram = Telegram(control, address, ci, "variable")
    if ci == CI_ERROR:
        telegram.kind = "error"
        telegram.error_code = data[0] if data else 0
        telegram.error = tables.ERRORS.get(telegram.error_code, f"Unknown error (0x{telegram.error_code:02X})")
        telegram.fixed_raw = bytes(data)
        return telegram
    if ci in FIXED:
        if len(data) != 16:
            raise DecodeError(f"Invalid length for fixed data ({len(data)} bytes, 16 expected).", "length")
        telegram.kind = "fixed"
        telegram.fixed_raw = bytes(data)
        status = data[5]
        medium = ((data[6] & 0xC0) >> 6) | ((data[7] & 0xC0) >> 4)
        telegram.header = {"id": _identification(data[0:4]), "access_number": data[4], "status": f"{status:02X}",
                           "medium": tables.FIXED_MEDIA[medium], "medium_code": medium}
        function = "Stored value" if status & 0x40 else "Actual value"
        order = "big" if ci == 0x77 else "little"
        for unit_byte, counter in ((data[6], data[8:12]), (data[7], data[12:16])):
            wire = counter[::-1] if order == "big" else counter
            value = int.from_bytes(wire, "little", signed=True) if status & 0x80 else _bcd(wire)
            record = Record(dif=0, data=bytes(counter), function=function,
                            unit=tables.FIXED_UNITS[unit_byte & 0x3F], quantity="", value=value)
            telegram.records.append(record)
        return telegram
    if ci in VARIABLE_LONG_HEADER:
        if len(data) < 12:
            raise DecodeError("Variable header too short.", "header")
        telegram.header_raw = bytes(data[:12])
        telegram.header = _variable_header(telegram.header_raw, msb_first=ci == 0x76)
        body = data[12:]
    elif ci in VARIABLE_SHORT_HEADER:
        if len(data) < 4:
            raise DecodeError("Short header too short.", "header")
        telegram.header_raw = bytes(data[:4])
        telegram.header = {"access_number": data[0], "status": f"{data[1]:02X}", "signature": f"{data[3]:02X}{data[2]:02X}"}
        body = data[4:]
    elif ci in VARIABLE_NO_HEADER:
        body = data
    else:
        raise DecodeError(f"Unknown control information 0x{ci:02x}", "ci")
    telegram.records, telegram.layout = parse_records(body, msb_first=ci == 0x76)
    return telegram


def decode_telegram(frame_bytes: bytes) -> Telegram:
    """A whole RSP_UD frame (bytes) -> Telegram; FrameError or DecodeError otherwise."""
    frame = parse_frame(frame_bytes)
    if frame.kind in ("ack", "short") or frame.ci is None:
        raise DecodeError(f"a {frame.kind} frame carries no user data", "ci")
    return decode_user_data(frame.control, frame.address, frame.ci, frame.data)


def encode_user_data(telegram: Telegram) -> bytes:
    """The user data bytes of a Telegram (header, records and fillers as they were)."""
    if telegram.kind in ("error", "fixed"):
        return telegram.fixed_raw
    out = bytearray(telegram.header_raw)
    for item in telegram.layout or telegram.records:
        out += bytes([item]) if isinstance(item, int) else item.raw()
    return bytes(out)


def encode_telegram(telegram: Telegram) -> bytes:
    """The frame of a Telegram (a decoded one gives back its original bytes)."""
    data = encode_user_data(telegram)
    kind = "control" if not data else "long"
    return encode_frame(Frame(kind, telegram.control, telegram.address, telegram.ci, data))


def variable_header(identification: int, manufacturer: str, version: int, medium: int,
                    access_number: int = 0, status: int = 0, signature: int = 0) -> bytes:
    """12 header bytes of a variable data structure (CI 0x72)."""
    code = 0
    for letter in manufacturer.upper()[:3]:
        code = code * 32 + (ord(letter) - 64)
    return (_encode_bcd(identification, 4) + code.to_bytes(2, "little")
            + bytes([version & 0xFF, medium & 0xFF, access_number & 0xFF, status & 0xFF])
            + signature.to_bytes(2, "little"))


def build_rsp_ud(address: int, header: bytes, records: List[Record], access_number: Optional[int] = None,
                 more_follow: bool = False) -> bytes:
    """An RSP_UD long frame from a header and records (DIF 0x1F appended when more follow)."""
    fields = bytearray(header)
    if access_number is not None:
        fields[8] = access_number & 0xFF
    data = bytes(fields) + b"".join(r.raw() for r in records) + (bytes([MORE_FOLLOW]) if more_follow else b"")
    return encode_frame(Frame("long", RSP_UD, address, CI_VARIABLE, data))


__all__ = ["DecodeError", "FrameError", "Record", "Telegram", "decode_telegram", "decode_user_data",
           "encode_telegram", "encode_user_data", "parse_records", "variable_header", "build_rsp_ud"]
