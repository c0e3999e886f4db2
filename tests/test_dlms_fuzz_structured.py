"""Structure-aware fuzzing of the DLMS decoders (issue 19 item 8): hypothesis builds A-XDR data
byte by byte from the grammar of IEC 62056-6-2 (tags, lengths, nesting -- not with the package's
encoder) and puts it where a meter or a client puts data: the parameters of selective access
(range and entry descriptors, with capture-object columns whose logical names are 0-10 bytes long),
GET/SET/ACTION values, GET-with-list results and push notifications.  Whatever comes in, only the
package's own errors may come out of decoding, describing or ``decode dlms``'s input reader."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from GenerateMeterData.errors import ProtocolError
from GenerateMeterData.protocols.dlms.acse import decode_apdu
from GenerateMeterData.protocols.dlms.decode import decode_input
from GenerateMeterData.protocols.dlms.push import decode_notification


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag, len(content))) + content


def _fixed(tag: int, size: int):
    return st.binary(min_size=size, max_size=size).map(lambda raw: bytes((tag,)) + raw)


LEAVES = st.one_of(
    st.just(b"\x00"),                                   # null-data
    _fixed(0x03, 1), _fixed(0x0F, 1), _fixed(0x11, 1), _fixed(0x16, 1),   # boolean, integer, unsigned, enum
    _fixed(0x10, 2), _fixed(0x12, 2),                   # long, long-unsigned
    _fixed(0x05, 4), _fixed(0x06, 4), _fixed(0x17, 4),  # double-long(-unsigned), float32
    _fixed(0x14, 8), _fixed(0x15, 8), _fixed(0x18, 8),  # long64(-unsigned), float64
    st.binary(max_size=14).map(lambda raw: _tlv(0x09, raw)),   # octet-string (date-time is 12 of them)
    st.binary(max_size=10).map(lambda raw: _tlv(0x0A, raw)),   # visible-string
    _fixed(0x19, 12), _fixed(0x1A, 5), _fixed(0x1B, 4),        # date-time, date, time
)


def _container(children):
    items = st.lists(children, max_size=5)
    return st.one_of(items.map(lambda xs: bytes((0x02, len(xs))) + b"".join(xs)),     # structure
                     items.map(lambda xs: bytes((0x01, len(xs))) + b"".join(xs)))     # array


DATA = st.recursive(LEAVES, _container, max_leaves=12)

# a capture-object column {class, logical name, attribute, data index}, logical names of any length
COLUMN = st.tuples(st.binary(min_size=2, max_size=2), st.binary(max_size=10), st.binary(min_size=1, max_size=1),
                   st.binary(min_size=2, max_size=2)).map(
    lambda c: b"\x02\x04" + b"\x12" + c[0] + _tlv(0x09, c[1]) + b"\x0f" + c[2] + b"\x12" + c[3])
RANGE = st.tuples(COLUMN, DATA, DATA, st.lists(COLUMN, max_size=3)).map(
    lambda r: b"\x02\x04" + r[0] + r[1] + r[2] + bytes((0x01, len(r[3]))) + b"".join(r[3]))
ENTRY = st.tuples(_fixed(0x06, 4), _fixed(0x06, 4), _fixed(0x12, 2), _fixed(0x12, 2)).map(
    lambda e: b"\x02\x04" + b"".join(e))
SELECTION = st.one_of(st.tuples(st.just(1), st.one_of(RANGE, DATA)), st.tuples(st.just(2), st.one_of(ENTRY, DATA)),
                      st.tuples(st.integers(0, 255), DATA))
DESCRIPTOR = st.tuples(st.binary(min_size=2, max_size=2), st.binary(min_size=6, max_size=6),
                       st.binary(min_size=1, max_size=1)).map(b"".join)
INVOKE = st.sampled_from([b"\xc1", b"\x81", b"\x41"])

APDUS = st.one_of(
    # GET-request-normal with selective access
    st.tuples(INVOKE, DESCRIPTOR, SELECTION).map(
        lambda t: b"\xc0\x01" + t[0] + t[1] + b"\x01" + bytes((t[2][0],)) + t[2][1]),
    # GET-request-with-list, each with or without access
    st.tuples(INVOKE, st.lists(st.tuples(DESCRIPTOR, st.one_of(st.none(), SELECTION)), min_size=1, max_size=3)).map(
        lambda t: b"\xc0\x03" + t[0] + bytes((len(t[1]),)) + b"".join(
            d + (b"\x00" if s is None else b"\x01" + bytes((s[0],)) + s[1]) for d, s in t[1])),
    # GET-response-normal, SET-request-normal, ACTION-request-normal with parameters
    st.tuples(INVOKE, DATA).map(lambda t: b"\xc4\x01" + t[0] + b"\x00" + t[1]),
    st.tuples(INVOKE, DESCRIPTOR, DATA).map(lambda t: b"\xc1\x01" + t[0] + t[1] + b"\x00" + t[2]),
    st.tuples(INVOKE, DESCRIPTOR, DATA).map(lambda t: b"\xc3\x01" + t[0] + t[1] + b"\x01" + t[2]),
    # GET-response-with-list: data or a data-access-result per item
    st.tuples(INVOKE, st.lists(st.one_of(DATA.map(lambda d: b"\x00" + d), _fixed(0x01, 1)), max_size=3)).map(
        lambda t: b"\xc4\x03" + t[0] + bytes((len(t[1]),)) + b"".join(t[1])),
    # data-notification, without and with a date-time
    st.tuples(st.binary(min_size=4, max_size=4), st.one_of(st.just(b"\x00"), st.binary(min_size=12, max_size=12).map(
        lambda raw: b"\x0c" + raw)), DATA).map(lambda t: b"\x0f" + t[0] + t[1] + t[2]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(apdu=APDUS)
def test_structured_apdus_raise_only_the_packages_errors(apdu):
    try:
        decoded = decode_apdu(apdu)
        decoded.as_dict()
        if decoded.name == "data-notification":
            decode_notification(decoded)
    except ProtocolError:
        pass
    try:
        decode_input(apdu)
    except ProtocolError:
        pass


def test_decode_of_a_range_with_an_eight_byte_logical_name_is_a_decode_error():
    import os
    import subprocess
    import sys
    # GET-request-normal of 1-0:99.1.0.255 attribute 2, access selector 1 (range), the restricting
    # column {8, <8 bytes>, 2, 0}: a logical name has 6 bytes (IEC 62056-6-2), so this is no range
    apdu = ("c001c1" "0007" "0100630100ff" "02" "01" "01"
            "0204" "0204" "120008" "0908" "0000010000ff0000" "0f02" "120000"
            "0600000001" "0600000002" "0100")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "GenerateMeterData", "decode", "dlms", "-"], input=apdu,
                          cwd=repo, env=dict(os.environ, PYTHONPATH=repo), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: apdu: selective access by range") and done.stderr.count("\n") == 1
