"""The M-Bus codec against the libmbus and pyMeterBus corpora (tests/data/mbus)."""
from __future__ import annotations

import csv
import datetime as dt
import glob
import json
import math
import os
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from GenerateMeterData.errors import ProtocolError
from GenerateMeterData.protocols.mbus import tables
from GenerateMeterData.protocols.mbus.frames import (RSP_UD, Frame, FrameError, encode_frame, parse_frame, parse_hex,
                                                     req_ud2, snd_nke, split_frames)
from GenerateMeterData.protocols.mbus.records import (DecodeError, Record, build_rsp_ud, decode_telegram,
                                                      encode_telegram, variable_header)
from GenerateMeterData.protocols.mbus.timepoints import TimePoint, encode_time_point

DATA = os.path.join(os.path.dirname(__file__), "data", "mbus")
LIBMBUS = os.path.join(DATA, "libmbus")
TEST_FRAMES = sorted(glob.glob(os.path.join(LIBMBUS, "test-frames", "*.hex")))


def frame_bytes(path):
    return parse_hex(open(path, encoding="utf-8").read())


def norm_xml(path):
    text = open(path, "rb").read().decode("utf-8")  # declared ISO-8859-1, stored as UTF-8
    return ET.fromstring(text.split("?>", 1)[1])


def name_of(path):
    return os.path.basename(path)[:-4]


def test_corpus_is_there():
    assert len(TEST_FRAMES) >= 50


@pytest.mark.parametrize("path", TEST_FRAMES, ids=name_of)
def test_frame_decodes_like_libmbus_normalised_output(path):
    telegram = decode_telegram(frame_bytes(path))
    root = norm_xml(path[:-4] + ".norm.xml")
    info = {c.tag: c.text or "" for c in root.find("SlaveInformation")}
    header = telegram.header
    ours = {"Id": header.get("id"), "Manufacturer": header.get("manufacturer"), "Version": str(header.get("version")),
            "Medium": header.get("medium"), "AccessNumber": str(header.get("access_number")),
            "Status": header.get("status"), "Signature": header.get("signature")}
    for key, expected in info.items():
        if key != "ProductName":
            assert ours[key] == expected, key
    expected_records = root.findall("DataRecord")
    assert len(telegram.records) == len(expected_records)
    for element, record in zip(expected_records, telegram.records):
        expected = {c.tag: c.text or "" for c in element}
        assert record.function == expected["Function"]
        assert record.unit == expected["Unit"]
        if "Quantity" in expected:
            assert record.quantity == expected["Quantity"]
        if "StorageNumber" in expected:
            assert record.storage_number == int(expected["StorageNumber"])
        if "Tariff" in expected:
            assert (record.tariff, record.subunit) == (int(expected["Tariff"]), int(expected["Device"]))
        if isinstance(record.value, float):
            assert math.isclose(record.value, float(expected["Value"]), rel_tol=1e-9, abs_tol=1e-6)
        else:
            assert str(record.value) == expected["Value"]


ERROR_CATEGORIES = {
    "Premature end of record": "record", "Too many DIFE": "record", "Too long variable length VIF": "record",
    "Variable header too short": "header", "Invalid M-Bus frame length": "length",
    "Invalid length for fixed data": "length", "Wrong direction in frame": "direction",
    "Invalid M-Bus frame start": "hex",
}


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(LIBMBUS, "error-frames", "*.hex")))
                         + sorted(glob.glob(os.path.join(LIBMBUS, "unsupported-frames", "*.hex"))),
                         ids=lambda p: os.path.basename(p))
def test_error_and_unsupported_frames(path):
    base = path[:-4]
    if os.path.exists(base + ".xml"):  # a meter's error reply (CI 0x70): decoded, with libmbus's text
        expected = norm_xml(base + ".xml").find("SlaveInformation").find("Error").text
        telegram = decode_telegram(frame_bytes(path))
        assert telegram.kind == "error" and telegram.error == expected
        return
    result = open(base + ".expected-result.txt", encoding="utf-8").read()
    if "exit status 0" in result:
        # libmbus accepts svm_f22_telegram2 (one "more records follow" record): so do we
        telegram = decode_telegram(frame_bytes(path))
        assert [r.function for r in telegram.records] == ["More records follow"]
        return
    message = result.splitlines()[1].split(": ", 1)[1]
    category = next(c for text, c in ERROR_CATEGORIES.items() if message.startswith(text))
    with pytest.raises((FrameError, DecodeError)) as info:
        decode_telegram(frame_bytes(path) if category != "hex" else parse_hex(open(path).read()))
    assert info.value.category == category
    if category == "record":
        assert str(info.value) == message


# ---- every corpus frame: decoded, then encoded again from what was decoded -------------------
# The corpus is every frame file under tests/data/mbus: the manifest's rows (libmbus .hex,
# pyMeterBus .blob) and pyMeterBus's inline frames (.bin, each next to its .expected.json).
# The list is pinned: a frame that goes missing, or one added without a decision about it,
# fails test_the_corpus_is_exactly_the_manifest.
CORPUS_SIZE = 117


def _manifest_paths():
    with open(os.path.join(DATA, "manifest.csv"), encoding="utf-8", newline="") as handle:
        return sorted(f"{row['set']}/{row['name']}.{'hex' if row['set'].startswith('libmbus') else 'blob'}"
                      for row in csv.DictReader(handle))


def _corpus_paths():
    found = glob.glob(os.path.join(DATA, "libmbus", "*", "*.hex")) + \
        glob.glob(os.path.join(DATA, "pymeterbus", "*", "*.blob")) + \
        glob.glob(os.path.join(DATA, "pymeterbus", "inline", "*.bin"))
    return sorted(os.path.relpath(p, DATA).replace(os.sep, "/") for p in found)


CORPUS = _corpus_paths()


def corpus_bytes(name):
    path = os.path.join(DATA, name)
    return frame_bytes(path) if name.endswith(".hex") else open(path, "rb").read()


# Frames that must not decode, with what libmbus f09d613 says of them (its *.expected-result.txt;
# the .blob files are pyMeterBus's byte-identical copies of the libmbus frames of the same name,
# checked by test_must_not_decode_is_what_libmbus_rejects).
_LIBMBUS_REJECTS = {
    "error-frames/premature_end_of_data1": "Premature end of record at data.",
    "error-frames/premature_end_of_dif1": "Premature end of record at DIF.",
    "error-frames/premature_end_of_var_vif1": "Premature end of record at variable length VIF.",
    "error-frames/premature_end_of_vif1": "Premature end of record at VIF.",
    "error-frames/too_long_var_vif": "Too long variable length VIF.",
    "error-frames/too_many_dife": "Too many DIFE.",
    "error-frames/too_short_header": "Variable header too short.",
    "unsupported-frames/invalid_length": "Invalid M-Bus frame length.",
    "unsupported-frames/invalid_length2": "Invalid length for fixed data.",
    "unsupported-frames/manual_frame1": "Invalid M-Bus frame start (the .hex is not even valid hex).",
    "unsupported-frames/manual_frame4": "Wrong direction in frame (master to slave)",
    "unsupported-frames/manual_frame5": "Wrong direction in frame (master to slave)",
    "unsupported-frames/manual_frame6": "Wrong direction in frame (master to slave)",
}
MUST_NOT_DECODE = {f"libmbus/{name}.hex": reason for name, reason in _LIBMBUS_REJECTS.items()}
MUST_NOT_DECODE.update({f"pymeterbus/{'unsupported-frames' if 'manual' in name else 'test-frames'}/"
                        f"{name.split('/')[1]}.blob": reason
                        for name, reason in _LIBMBUS_REJECTS.items()})
MUST_NOT_DECODE["pymeterbus/unsupported-frames/manual_frame1.blob"] = \
    "pyMeterBus's mis-shifted conversion of manual_frame1: it starts with D0, not a frame start"

# Frames that decode but that the package's encoder cannot write from values at all.
NOT_ENCODABLE = {
    "libmbus/test-frames/manual_frame2.hex": "CI 73 fixed data structure: the package encodes variable data only",
    "pymeterbus/test-frames/manual_frame2.blob": "CI 73 fixed data structure: the package encodes variable data only",
    "pymeterbus/inline/unknown_pl_ci76.bin": "CI 76 (mode 2, numbers MSB first): Record.build and variable_header "
                                             "write mode 1 (LSB first) only",
    "libmbus/test-frames/example_binary16_lvar.hex": "LVAR F0 (a 16-byte binary number): Record.build has no "
                                                     "variable-length binary data type",
}

# Frames whose identification number is not BCD (a hex digit in it, e.g. 0500023E):
# variable_header takes the ID as a number and writes it as BCD, so the header's other fields
# and every record are re-encoded and compared byte for byte; the ID is compared as decoded.
ID_NOT_BCD = {"libmbus/test-frames/electricity-meter-1.hex", "libmbus/test-frames/electricity-meter-2.hex",
              "pymeterbus/test-frames/electricity-meter-1.blob", "pymeterbus/test-frames/electricity-meter-2.blob"}

# Frames where EN 13757-3 allows more than one encoding of what was decoded, and the meter used
# another than the encoder's: the re-encoded frame is decoded again and must mean the same.
_NO_ERROR_BYTE = ("CI 70 with no error byte at all: decoded as code 0, Unspecified error (as libmbus does); "
                  "the encoder writes the code byte 00")
_HUNDRED_YEAR = ("a type F date of 2000-2080 sent with hundred-year bits 1 and year 08/14 (1900 + 100 + year); "
                 "the encoder writes the compatible form, hundred-year 0 (EN 13757-3 Annex A)")
_DIFE_00 = ("a last DIFE 00 that adds nothing (storage, tariff, subunit bits all 0): the encoder writes no DIFE "
            "for zeros")
_BCD_NOT_DECIMAL = ("BCD data with non-decimal nibbles (bd eb dd dd: the meter's 'no value' marks); the decoded "
                    "number, as libmbus reads it, keeps only digits, so the encoder writes those digits")
SAME_MEANING_OTHER_BYTES = {
    "libmbus/error-frames/error.hex": _NO_ERROR_BYTE,
    "pymeterbus/error-frames/error.blob": _NO_ERROR_BYTE,
    "libmbus/test-frames/EFE_Engelmann-Elster-SensoStar-2.hex": _HUNDRED_YEAR,
    "libmbus/test-frames/oms_frame1.hex": _HUNDRED_YEAR,
    "libmbus/test-frames/abb_delta.hex": _DIFE_00,
    "libmbus/test-frames/emh_diz.hex": _DIFE_00,
    "pymeterbus/test-frames/emh_diz.blob": _DIFE_00,
    "libmbus/test-frames/ELS_Elster-F96-Plus.hex": _BCD_NOT_DECIMAL,
    "pymeterbus/inline/hyd_heat_meter.bin": _BCD_NOT_DECIMAL,
    "libmbus/test-frames/LGB_G350.hex": ("a type I date and time whose leap-year, weekday and week fields the meter "
                                         "left 0 (not specified): the value does not carry them, the encoder writes "
                                         "the true ones (leap year, Friday, week 29)"),
    "libmbus/test-frames/REL-Relay-Padpuls2.hex": ("a type F time flagged invalid (IV): decoded as libmbus's "
                                                   "1900-01-00T00:00:00Z, so the other bits, which mean nothing, "
                                                   "are not kept; the encoder writes IV with zero fields"),
}


# EN 13757-3 (2013), by hand: table 4 (the DIF's data field), table 6 (function field), and the
# special DIFs: 0F manufacturer data follow, 1F the same and more records follow, 2F idle filler
MANUFACTURER_DIF, MORE_FOLLOW_DIF, FILLER_DIF = 0x0F, 0x1F, 0x2F
DATA_FIELD = {0x0: "none", 0x1: "int8", 0x2: "int16", 0x3: "int24", 0x4: "int32", 0x5: "real32", 0x6: "int48",
              0x7: "int64", 0x9: "bcd2", 0xA: "bcd4", 0xB: "bcd6", 0xC: "bcd8", 0xD: "text", 0xE: "bcd12"}
FUNCTION_FIELD = {"Instantaneous value": 0, "Maximum value": 1, "Minimum value": 2, "Value during error state": 3}
# Annex A types by data field: G (2 bytes), J (3), F (4), I (6); and Record.build's names for them
TIME_KIND = {0x2: "G", 0x3: "J", 0x4: "F", 0x6: "I"}
TIME_DATA_TYPE = {"G": "date", "J": "time", "F": "datetime", "I": "datetime_s"}
TIME_TEXT = re.compile(r"^(?:([0-9*]{4})-([0-9*]{2})-([0-9*]{2}))?T?(?:([0-9*]{2}):([0-9*]{2}):([0-9*]{2}))?Z?$")


def _vif_scale(record):
    """What the decoder multiplied the raw number by: the VIF's exponent (the EN 13757-3 tables,
    which test_frame_decodes_like_libmbus_normalised_output checks against libmbus) times the
    multiplicative correction of a combinable VIFE (EN 13757-3 table 15: E111 0nnn is 10^(nnn-6),
    E111 1101 is 10^3); and the additive correction E111 10nn, 10^(nn-3) units of the VIF."""
    vif = record.vif & 0x7F
    scale, offset = 1.0, 0.0
    if record.vif in (0xFD, 0xFB):
        table = tables.EXTENSION_FD if record.vif == 0xFD else tables.EXTENSION_FB
        return table[record.vife[0] & 0x7F][2], 0.0
    if vif in tables.PRIMARY and vif not in (0x7C, 0x7E, 0x7F):
        scale = tables.PRIMARY[vif][2]
    if record.vif & 0x80 and record.vife:
        code = record.vife[0] & 0x7F
        if 0x70 <= code <= 0x77:
            scale *= 10.0 ** ((code & 0x07) - 6)
        elif 0x78 <= code <= 0x7B:
            offset = 10.0 ** ((code & 0x03) - 3)
        elif code == 0x7D:
            scale *= 1000.0
    return scale, offset


def _time_point_from_text(kind, record):
    """The Annex A fields of a date or time that is not a plain Python value (impossible fields,
    "not specified" fields), read back from its decoded text; year 1981-2080 as the compatible
    form (hundred-year 0), later years of type F with the hundred-year bits."""
    year, month, day, hour, minute, second = TIME_TEXT.match(record.value).groups()

    def field(text, all_ones):
        return all_ones if text is None or "*" in text else int(text)

    full_year = field(year, None)
    fields = dict(second=field(second, 63) if kind in ("I", "J") else 0, minute=field(minute, 63),
                  hour=field(hour, 31)) if kind != "G" else {}
    if kind != "J":
        if full_year is None:
            fields.update(year=127, hundred_year=0)
        elif 1981 <= full_year <= 2080 or kind != "F":
            fields.update(year=full_year % 100, hundred_year=0)
        else:
            fields.update(year=full_year % 100, hundred_year=(full_year - 1900) // 100)
        fields.update(day=field(day, 0), month=field(month, 15))
    if kind in ("F", "I"):
        fields["summer_time"] = bool(record.summer_time)
    if kind != "F":
        fields.pop("hundred_year", None)
    return TimePoint(kind, **fields)


def rebuild_record(record):
    """A new Record made by the package's encoder (Record.build) from the decoded fields of
    ``record``: function, storage number, tariff, subunit, the VIF/VIFE codes, the value.  Of the
    raw bytes only the DIF's data field is used: which of the standard's codings (int16, BCD8 ...)
    to write the value in is the encoding's choice, not part of the value."""
    if record.manufacturer_specific:   # DIF 0F / 1F: the value is the manufacturer's bytes, in hex
        dif = {"Manufacturer specific": MANUFACTURER_DIF, "More records follow": MORE_FOLLOW_DIF}[record.function]
        return Record(dif=dif, data=bytes.fromhex(record.value))
    coding = record.dif & 0x0F
    data_type = DATA_FIELD[coding]
    vif = record.vif & 0x7F
    extension = None
    vife = tuple(v & 0x7F for v in record.vife)
    if record.vif in (0xFD, 0xFB):
        vif, extension, vife = record.vif, vife[0], vife[1:]
    where = dict(storage=record.storage_number, tariff=record.tariff, subunit=record.subunit,
                 function=FUNCTION_FIELD[record.function], extension=extension, vife=vife)
    if record.date_valid is not None:
        kind = TIME_KIND[coding]
        if record.date_valid and not record.not_specified and not record.summer_time:
            text = record.value.rstrip("Z")
            value = {"G": dt.date.fromisoformat, "J": dt.time.fromisoformat}.get(kind, dt.datetime.fromisoformat)(text)
            built = Record.build(vif, value, data_type=TIME_DATA_TYPE[kind], **where)
        else:   # no Python value for it: its Annex A fields, written as the integer of the same bytes
            point = (TimePoint(kind, invalid=True) if record.value == "1900-01-00T00:00:00Z"
                     else _time_point_from_text(kind, record))
            built = Record.build(vif, int.from_bytes(encode_time_point(point), "little", signed=True),
                                 data_type=data_type, **where)
    elif data_type == "text":
        assert record.lvar <= 0xBF, "a numeric LVAR is not encodable: list the frame in NOT_ENCODABLE"
        built = Record.build(vif, record.value, data_type="text", **where)
    elif data_type == "none":
        assert record.value == ""
        built = Record.build(vif, None, data_type="none", **where)
    else:
        scale, offset = _vif_scale(record)
        raw = (record.value - offset) / scale
        if data_type != "real32":
            assert abs(raw - round(raw)) < 1e-6 * max(1.0, abs(raw)), (record.value, scale)
            raw = round(raw)
        built = Record.build(vif, raw, data_type=data_type, **where)
    if (record.vif & 0x7F) == 0x7C:   # a plain-text unit: Record.build takes none, the test sets it
        built.plain_vif = record.quantity.encode("latin-1")[::-1]
    return built


def rebuild_records(telegram):
    """The records in their decoded order, with an idle filler (2F) wherever one was."""
    return [Record(dif=FILLER_DIF) if isinstance(item, int) else rebuild_record(item) for item in telegram.layout]


def rebuild_frame(telegram):
    """The frame written by the package's encoders from the decoded telegram: encode_frame for
    the link layer (C, A, CI), variable_header for the 12-byte header, Record.build per record
    in the decoded order, the idle fillers (2F) where they were."""
    if telegram.kind == "error":   # CI 70: one byte, the error code
        return encode_frame(Frame("long", telegram.control, telegram.address, telegram.ci,
                                  bytes([telegram.error_code])))
    assert telegram.kind == "variable" and telegram.ci in (0x72, 0x78), "list the frame in NOT_ENCODABLE"
    header = b""
    if telegram.ci == 0x72:
        h = telegram.header
        header = variable_header(int(h["id"]), h["manufacturer"], h["version"], h["medium_code"],
                                 access_number=h["access_number"], status=int(h["status"], 16),
                                 signature=int(h["signature"], 16))
    records = rebuild_records(telegram)
    if telegram.ci == 0x72 and telegram.control == RSP_UD:
        return build_rsp_ud(telegram.address, header, records)
    return encode_frame(Frame("long", telegram.control, telegram.address, telegram.ci,
                              header + b"".join(r.raw() for r in records)))


def meaning(telegram):
    """Everything a decoded telegram says, without its raw bytes."""
    items = [item if isinstance(item, int) else {k: v for k, v in item.as_dict().items() if k != "raw"}
             for item in (telegram.layout or telegram.records)]
    return (telegram.control, telegram.address, telegram.ci, telegram.kind, telegram.error, telegram.error_code,
            dict(telegram.header), items)


def test_the_corpus_is_exactly_the_manifest():
    inline = sorted(os.path.relpath(p, DATA).replace(os.sep, "/")[:-len(".expected.json")] + ".bin"
                    for p in glob.glob(os.path.join(DATA, "pymeterbus", "inline", "*.expected.json")))
    assert CORPUS == sorted(_manifest_paths() + inline)
    assert len(CORPUS) == CORPUS_SIZE
    for listed in (MUST_NOT_DECODE, NOT_ENCODABLE, ID_NOT_BCD, SAME_MEANING_OTHER_BYTES):
        assert set(listed) <= set(CORPUS), sorted(set(listed) - set(CORPUS))   # no stale entry
    assert not set(MUST_NOT_DECODE) & (set(NOT_ENCODABLE) | ID_NOT_BCD | set(SAME_MEANING_OTHER_BYTES))
    assert not set(NOT_ENCODABLE) & (ID_NOT_BCD | set(SAME_MEANING_OTHER_BYTES))


def test_must_not_decode_is_what_libmbus_rejects():
    """The libmbus frames listed are exactly those mbus_parse_hex at f09d613 rejected (exit status
    1 in the recorded result); a .blob is listed exactly when its libmbus namesake with the same
    bytes is."""
    rejected = set()
    for path in glob.glob(os.path.join(LIBMBUS, "*", "*.expected-result.txt")):
        if "exit status 1" in open(path, encoding="utf-8").readline():
            rejected.add(os.path.relpath(path, DATA).replace(os.sep, "/")[:-len(".expected-result.txt")] + ".hex")
    assert {p for p in MUST_NOT_DECODE if p.startswith("libmbus/")} == rejected
    for blob in (p for p in CORPUS if p.endswith(".blob")):
        stem = os.path.basename(blob)[:-len(".blob")]
        namesakes = [p for p in CORPUS if p.startswith("libmbus/") and os.path.basename(p) == stem + ".hex"]
        if blob == "pymeterbus/unsupported-frames/manual_frame1.blob" or not namesakes:
            continue
        [namesake] = namesakes
        assert corpus_bytes(blob) == corpus_bytes(namesake), blob
        assert (blob in MUST_NOT_DECODE) == (namesake in MUST_NOT_DECODE), blob


@pytest.mark.parametrize("name", CORPUS)
def test_every_corpus_frame_re_encodes_from_its_decoded_values(name):
    if name in MUST_NOT_DECODE:
        with pytest.raises(ProtocolError):
            decode_telegram(corpus_bytes(name))
        return
    raw = corpus_bytes(name)
    telegram = decode_telegram(raw)          # must decode: an error here fails the test
    if name in NOT_ENCODABLE:
        return
    if name in ID_NOT_BCD:
        assert not telegram.header["id"].isdigit()
        data = parse_frame(raw).data
        h = telegram.header
        assert variable_header(0, h["manufacturer"], h["version"], h["medium_code"], h["access_number"],
                               int(h["status"], 16), int(h["signature"], 16))[4:] == data[4:12]
        assert b"".join(r.raw() for r in rebuild_records(telegram)) == data[12:]
        return
    rebuilt = rebuild_frame(telegram)
    if name in SAME_MEANING_OTHER_BYTES:
        assert rebuilt != raw, "re-encodes byte for byte now: remove it from SAME_MEANING_OTHER_BYTES"
        assert meaning(decode_telegram(rebuilt)) == meaning(telegram)
    else:
        assert rebuilt == raw


@pytest.mark.parametrize("name", [n for n in CORPUS if n not in MUST_NOT_DECODE])
def test_encode_telegram_gives_a_decoded_frame_back_unchanged(name):
    """encode_telegram re-emits the bytes a Telegram was decoded from (documented in records.py):
    a lossless copy, separate from the encoding from values above."""
    raw = corpus_bytes(name)
    assert encode_telegram(decode_telegram(raw)) == raw


# Where pyMeterBus and libmbus disagree we follow libmbus (the normalised output of the corpus):
PYMETERBUS_DIFFERENCES = {
    # VIF FD VIFE 71: "Reserved" in libmbus's extension table; pyMeterBus reads an RSSI, 2*x-130 dBm.
    ("weptech_wep_indoor.bin", "2"): "FD 71",
}


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(DATA, "pymeterbus", "inline", "*.bin"))),
                         ids=lambda p: os.path.basename(p))
def test_pymeterbus_inline_frames(path):
    """The values pyMeterBus's own tests assert (its unit names differ; its values agree)."""
    expected = json.load(open(path[:-4] + ".expected.json", encoding="utf-8"))
    telegram = decode_telegram(open(path, "rb").read())
    if "record_count" in expected:
        assert len(telegram.records) == expected["record_count"]
    for index, check in expected.get("records", {}).items():
        record = telegram.records[int(index)]
        value = check["parsed_value"]
        if (os.path.basename(path), index) in PYMETERBUS_DIFFERENCES:
            continue
        if value is None:
            assert record.value in ("", None)
        elif isinstance(value, str):
            assert str(record.value).startswith(value), (index, record.value, value)
        else:
            assert math.isclose(float(record.value), float(value), rel_tol=1e-9, abs_tol=1e-9), (index, record.value)


def test_link_layer_rejects_what_pymeterbus_accepts():
    good = bytes.fromhex("68 03 03 68 08 0B 72 85 16")
    assert parse_frame(good).kind == "control"
    for broken, category in ((good[:1] + b"\x04" + good[2:], "length"),      # second L differs
                             (good[:3] + b"\x69" + good[4:], "start"),       # second start byte
                             (good[:-1] + b"\x17", "stop"),                  # stop byte
                             (good[:-2] + b"\x00\x16", "checksum"),
                             (good + b"\x16", "length")):
        with pytest.raises(FrameError) as info:
            parse_frame(broken)
        assert info.value.category == category
    with pytest.raises(FrameError) as info:
        parse_frame(bytes.fromhex("10 5B 00 5B 17"))
    assert info.value.category == "stop"


def test_master_requests_have_the_standard_bytes():
    assert snd_nke(0) == bytes.fromhex("10 40 00 40 16")
    assert req_ud2(0) == bytes.fromhex("10 5B 00 5B 16")
    assert req_ud2(0, fcb=True) == bytes.fromhex("10 7B 00 7B 16")


def test_stream_resync_and_concatenated_frames():
    frames = [frame_bytes(p) for p in TEST_FRAMES[:3]]
    stream = b"\x00\xff" + frames[0] + b"\x68\x99\x12" + frames[1] + b"\xe5" + frames[2][:10]
    found, rest, skipped = split_frames(stream)
    assert [encode_frame(f) for f in found] == [frames[0], frames[1], b"\xe5"]
    assert rest == frames[2][:10] and skipped == 5


def test_build_records_round_trip_through_the_decoder():
    records = [Record.build(0x03, 123456789, storage=0, tariff=1),
               Record.build(0x03, 42, data_type="bcd8", storage=3, tariff=2, subunit=1),
               Record.build(0xFD, 2301, extension=0x48, data_type="int16"),
               Record.build(0x78, 12345678, data_type="bcd8"),
               Record.build(0x2B, -1500, data_type="int32", function=1)]
    frame = build_rsp_ud(5, variable_header(12345678, "GMD", 1, 0x02, access_number=7), records)
    telegram = decode_telegram(frame)
    assert telegram.header["id"] == "12345678" and telegram.header["manufacturer"] == "GMD"
    values = [(r.quantity, r.unit, r.value, r.storage_number, r.tariff, r.subunit) for r in telegram.records]
    assert values[0] == ("Energy", "Wh", 123456789.0, 0, 1, 0)
    assert values[1] == ("Energy", "Wh", 42.0, 3, 2, 1)
    assert values[2][:3] == ("Voltage", "V", pytest.approx(230.1))
    assert values[3][:3] == ("Fabrication No", "", 12345678.0)
    assert telegram.records[4].function == "Maximum value" and values[4][2] == -1500.0
    assert encode_telegram(telegram) == frame


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_errors(data):
    try:
        decode_telegram(data)
    except ProtocolError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TEST_FRAMES), st.data())
def test_mutated_corpus_frames_raise_only_protocol_errors(path, data):
    raw = bytearray(frame_bytes(path))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):  # keep the link layer valid so the application layer is exercised
        body = raw[4:-2]
        raw[-2] = sum(body) & 0xFF
    try:
        telegram = decode_telegram(bytes(raw))
        encode_telegram(telegram)
    except ProtocolError:
        pass


# ---- EN 13757-3 Annex A dates and times ----------------------------------------------------------
# Expected values are worked out by hand from the Annex A bit layout (type F: minute | IV, hour |
# hundred-year | SU, day | year bits 0-2, month | year bits 3-6), not taken from the code.
from GenerateMeterData.protocols.mbus.timepoints import (TimePointError, decode_time_point,  # noqa: E402
                                                         describe, encode_date_time)

HAND_EXAMPLES = [
    # kind, wire bytes, text, date_valid, summer_time
    ("F", "10 09 05 C5", "1996-05-05T09:16:00Z", True, False),     # year 96, hundred-year 0: 19xx
    ("F", "10 29 05 C5", "2096-05-05T09:16:00Z", True, False),     # same, hundred-year 1
    ("F", "10 89 05 C5", "1996-05-05T09:16:00Z", True, True),      # summer time bit
    ("F", "00 0C E3 B3", "1995-03-03T12:00:00Z", True, False),
    ("F", "32 37 1F 15", "2008-05-31T23:50:00Z", True, False),     # oms_frame1: hundred-year 1, year 8
    ("F", "05 4A A1 1B", "2113-11-01T10:05:00Z", True, False),     # hundred-year 2, year 13
    ("F", "0B 0B CD 13", "2014-03-13T11:11:00Z", True, False),     # hundred-year 0, year 14: 20xx
    ("F", "A1 15 E9 17", "1900-01-00T00:00:00Z", False, False),    # IV set: libmbus's zero date
    ("F", "3C 0B CD 13", "2014-03-13T11:60:00Z", False, False),    # minute 60
    ("F", "00 18 CD 13", "2014-03-13T24:00:00Z", False, False),    # hour 24
    ("F", "3F 1F CD 13", "2014-03-13T**:**:00Z", True, False),     # minute 63, hour 31: not specified
    ("G", "BF 1C", "2013-12-31", True, None),
    ("G", "C1 1D", "2014-13-01", False, None),                     # month 13
    ("G", "C0 13", "2014-03-00", False, None),                     # day 0
    ("G", "C1 10", "2014-00-01", False, None),                     # month 0
    ("G", "BE 12", "2013-02-30", False, None),                     # 30 February
    ("G", "9D 12", "2012-02-29", True, None),                      # leap day
    ("G", "3F AC", "1981-12-31", True, None),                      # no hundred-year bits: 81 is 1981
    ("G", "FF FF", "****-**-31", True, None),                      # year 127, month 15: not specified
    ("G", "0000", "2000-00-00", False, None),                      # what libmbus prints for it
    ("I", "00 00 08 16 27 00", "2016-07-22T08:00:00Z", True, False),   # LGB_G350
    ("I", "1E 80 08 16 27 00", "1900-01-00T00:00:00Z", False, False),  # IV set
    ("I", "DE 2D 8E 8C 11 02", "2012-01-12T14:45:30Z", True, True),    # leap year, SU, Thursday, week 2
    ("J", "3B 3B 17", "23:59:59", True, None),
    ("J", "3C 00 00", "00:00:60", False, None),
    ("J", "3F 3F 1F", "**:**:**", True, None),
]


def _g_bytes(day, month, year):
    return bytes([day | ((year & 7) << 5), month | ((year >> 3) << 4)])


def test_hand_example_bytes_are_what_the_layout_says():
    # the G rows above, rebuilt from their fields by the layout (an independent check of the table)
    assert _g_bytes(31, 12, 13).hex() == "bf1c" and _g_bytes(1, 13, 14).hex() == "c11d"
    assert _g_bytes(29, 2, 12).hex() == "9d12" and _g_bytes(31, 12, 81).hex() == "3fac"


@pytest.mark.parametrize("kind,wire,text,valid,summer", HAND_EXAMPLES, ids=[f"{e[0]}-{e[1]}" for e in HAND_EXAMPLES])
def test_dates_and_times_decode_by_annex_a_and_encode_back(kind, wire, text, valid, summer):
    data = bytes.fromhex(wire)
    point = decode_time_point(kind, data)
    assert point.text() == text
    assert point.valid is valid
    if summer is not None:
        assert point.summer_time is summer
    assert encode_time_point(point) == data


def test_type_i_keeps_leap_year_weekday_and_week():
    point = decode_time_point("I", bytes.fromhex("DE 2D 8E 8C 11 02"))
    assert (point.leap_year, point.day_of_week, point.week, point.summer_time) == (True, 4, 2, True)


def test_impossible_dates_inside_a_frame_decode_with_date_valid_false():
    records = [Record(dif=0x02, vif=0x6C, data=bytes.fromhex("C1 1D")),        # month 13
               Record(dif=0x04, vif=0x6D, data=bytes.fromhex("3C 0B CD 13")),  # minute 60
               Record(dif=0x02, vif=0x6C, data=bytes.fromhex("C0 13"))]        # day 0
    frame = build_rsp_ud(1, variable_header(1, "GMD", 1, 2), records)
    telegram = decode_telegram(frame)
    assert [r.date_valid for r in telegram.records] == [False, False, False]
    assert [r.as_dict()["raw"] for r in telegram.records] == ["C1 1D", "3C 0B CD 13", "C0 13"]
    assert encode_telegram(telegram) == frame


def _corpus_date_records():
    for name in CORPUS:
        if name in MUST_NOT_DECODE:
            continue
        for index, record in enumerate(decode_telegram(corpus_bytes(name)).records):
            if record.date_valid is not None:
                yield pytest.param(record, id=f"{os.path.basename(name)}#{index}")


@pytest.mark.parametrize("record", list(_corpus_date_records()))
def test_every_corpus_date_encodes_back_from_its_fields(record):
    kind = {2: "G", 3: "J", 4: "F", 6: "I"}[len(record.data)]
    data = record.data[::-1] if record.msb_first else record.data   # mode 2 (CI 76): most significant byte first
    point = decode_time_point(kind, data)
    assert encode_time_point(point) == data
    assert point.valid == record.date_valid and point.text() == record.value


def test_every_type_g_value_round_trips_and_never_raises():
    for value in range(0x10000):
        data = value.to_bytes(2, "little")
        point = decode_time_point("G", data)
        assert encode_time_point(point) == data
        assert describe("G", data) == (point.text(), point.valid, point.summer_time, point.not_specified)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["F", "I", "J"]), st.data())
def test_any_bytes_of_types_f_i_j_round_trip_and_never_raise(kind, data):
    raw = data.draw(st.binary(min_size={"F": 4, "I": 6, "J": 3}[kind], max_size={"F": 4, "I": 6, "J": 3}[kind]))
    point = decode_time_point(kind, raw)
    assert encode_time_point(point) == raw
    assert describe(kind, raw) == (point.text(), point.valid, point.summer_time, point.not_specified)


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=__import__("datetime").datetime(1900, 1, 1),
                    max_value=__import__("datetime").datetime(2127, 12, 31, 23, 59, 59)),
       st.booleans())
def test_encode_then_decode_is_the_identity_1900_to_2127(moment, summer):
    """Type F reaches 1981-2299 (hundred-year bits), G and I 1981-2080.  1900-1980 cannot be sent
    at all: a hundred-year value of 0 with year 00-80 means 2000-2080 by the standard's
    compatibility rule, so such a date must be refused, not silently sent as the wrong century."""
    moment = moment.replace(microsecond=0)
    for kind, value, reach in (("F", moment.replace(second=0), 2299), ("I", moment, 2080),
                               ("G", moment.date(), 2080)):
        if moment.year <= 1980 or moment.year > reach:
            with pytest.raises(TimePointError, match="1900-1980 is ambiguous"):
                encode_date_time(kind, value)
            continue
        flags = {"summer_time": summer} if kind != "G" else {}
        raw = encode_date_time(kind, value, **flags)
        point = decode_time_point(kind, raw)
        assert point.to_python() == value and point.valid
        assert describe(kind, raw) == (point.text(), True, point.summer_time, ())
        if kind != "G":
            assert point.summer_time is summer
    time_of_day = moment.time()
    assert decode_time_point("J", encode_date_time("J", time_of_day)).to_python() == time_of_day


def test_dates_built_by_record_build_decode_back():
    import datetime as dt
    moment = dt.datetime(2096, 5, 5, 9, 16, 42)
    records = [Record.build(0x6D, moment.replace(second=0), data_type="datetime"),
               Record.build(0x6D, dt.datetime(2024, 2, 29, 23, 59, 58), data_type="datetime_s"),
               Record.build(0x6C, dt.date(1999, 12, 31), data_type="date"),
               Record.build(0x6D, dt.time(6, 7, 8), data_type="time")]
    telegram = decode_telegram(build_rsp_ud(1, variable_header(1, "GMD", 1, 2), records))
    assert [r.value for r in telegram.records] == ["2096-05-05T09:16:00Z", "2024-02-29T23:59:58Z", "1999-12-31",
                                                   "06:07:08"]
    assert all(r.date_valid for r in telegram.records)
    assert records[0].data == bytes([16, 9 | (1 << 5), 5 | ((96 & 7) << 5), 5 | ((96 >> 3) << 4)])


# libmbus's mbus_data_variable_medium_lookup (mbus-protocol.c), transcribed by hand
LIBMBUS_MEDIA = {0x00: "Other", 0x02: "Electricity", 0x04: "Heat: Outlet", 0x06: "Warm water (30-90°C)",
                 0x0F: "Unknown Medium", 0x11: "Water Logger", 0x12: "Gas Logger", 0x13: "Gas Converter",
                 0x14: "Calorific value", 0x15: "Hot water (>90°C)", 0x1A: "Smoke Detector",
                 0x1B: "Ambient Sensor", 0x1C: "Gas Detector", 0x1D: "Unknown medium (0x1d)",
                 0x20: "Breaker: Electricity", 0x21: "Valve: Gas or Water", 0x22: "Reserved",
                 0x25: "Customer Unit: Display Device", 0x28: "Waste Water", 0x29: "Garbage", 0x2A: "Reserved",
                 0x30: "Service Unit", 0x34: "Reserved", 0x35: "Unknown medium (0x35)",
                 0x36: "Radio Converter: System", 0x37: "Radio Converter: Meter", 0x38: "Reserved",
                 0x3F: "Reserved", 0x40: "Unknown medium (0x40)", 0xFF: "Unknown medium (0xff)"}


@pytest.mark.parametrize("code", sorted(LIBMBUS_MEDIA), ids=lambda c: f"0x{c:02X}")
def test_medium_names_as_libmbus_prints_them(code):
    telegram = decode_telegram(build_rsp_ud(1, variable_header(1, "GMD", 1, code), []))
    assert telegram.header["medium"] == LIBMBUS_MEDIA[code]


def test_medium_names_where_libmbus_says_reserved_but_en_13757_3_names_the_device():
    assert [tables.medium_name(c) for c in (0x31, 0x32, 0x33)] == [
        "Communication controller", "Unidirectional repeater", "Bidirectional repeater"]
