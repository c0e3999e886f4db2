"""Third-party interop: dlms-spodes-client 0.9.8 (with DLMS-SPODES 0.74.13 and
DLMS-SPODES-communications 1.3.1, Python >= 3.11; a test extra) reads the SPODES imitator over TCP
(HDLC): it associates, reads the logical device name, the device type and the firmware version,
then the current association's object list (more than one PDU: block transfer over several HDLC
segments), builds its model of the meter from it, and reads every attribute the list declares
readable; its classes decode every value (the profiles' buffers whole: their last entries are
compared). Values are checked against the generated meter; the
object list's shape against the Blue Book (IEC 62056-6-2), written out here by hand, and its
encoding against dlms-cosem 21.3.2's A-XDR decoder and a hand-computed byte string.

The client's faults, worked around in ``spodes_client_reader.py`` (see its docstring) or named here:
  * DLMS-SPODES 0.74.13 finds its ``config.toml`` only in the working directory (the fallback
    path lacks a separator);
  * DLMS-SPODES-communications 1.3.1 imports bleak's Windows backend, so nothing imports on Linux;
  * its TCP transport's ``receive`` returns None, which the client takes for a timeout;
  * dlms-spodes-client 0.9.8 reads associated_partners_id without storing it and so drops the
    object list it read (``attached`` is False);
  * DLMS-SPODES 0.74.13 ``DateTime.decode`` reads the clock's deviation as unsigned: the Blue
    Book's -180 of a Moscow meter becomes 65356 minutes and decoding raises ValueError (its
    ``__str__`` reads it signed, which is what the test compares).
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys

import pytest

from GenerateMeterData.imitation import DLMSImitator

READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spodes_client_reader.py")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = "2.7.13"

# Blue Book (DLMS UA 1000-1 Ed. 14, IEC 62056-6-2): interface class -> (attributes, methods) of
# the version a SPODES meter serves: Data v0, Register v0, Profile generic v1, Clock v0,
# Association LN v1
SHAPES = {1: (0, 2, 0), 3: (0, 3, 1), 7: (1, 8, 2), 8: (0, 9, 6), 15: (1, 9, 4)}

# objects a SPODES head-end (and the project's capture) reads, with their interface class
EXPECTED = {
    "0.0.40.0.0.255": 15, "0.0.42.0.0.255": 1, "0.0.96.1.0.255": 1, "0.0.96.1.1.255": 1,
    "0.0.96.1.2.255": 1, "0.0.0.2.1.255": 1, "0.0.1.0.0.255": 8,
    "1.0.1.8.0.255": 3, "1.0.1.8.1.255": 3, "1.0.2.8.0.255": 3, "1.0.3.8.0.255": 3, "1.0.4.8.4.255": 3,
    "1.0.32.7.0.255": 3, "1.0.31.7.0.255": 3, "1.0.1.7.0.255": 3, "1.0.14.7.0.255": 3,
    "1.0.99.1.0.255": 7, "1.0.98.2.0.255": 7, "1.0.98.1.0.255": 7, "0.0.99.98.2.255": 7,
    "1.0.94.7.4.255": 7, "1.0.1.29.0.255": 3, "0.0.96.11.2.255": 1,
}


def _run_client(imitator, *credentials):
    # found, not imported: importing it here fails (see the module docstring); the reader prepares it
    if sys.version_info < (3, 11) or importlib.util.find_spec("DLMS_SPODES_client") is None:
        pytest.skip("dlms-spodes-client==0.9.8 is a test extra (Python >= 3.11): pip install -e '.[test]'")
    host, port = imitator.start_tcp()
    try:
        before = imitator.meter.registers()
        done = subprocess.run([sys.executable, READER, host, str(port), str(imitator.address.physical),
                               *credentials], capture_output=True, text=True, timeout=120)
        after = imitator.meter.registers()
        now = imitator.meter.local_now()
    finally:
        imitator.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), before, after, now


def _check(result, imitator, before, after, now, client_sap):
    meter = imitator.meter
    assert result["ok"] and result["errors"] == {"Transmit.OK": "Initialize connection"}, result["errors"]
    assert result["ldn"] == f"GMD{meter.serial}"
    assert result["server_type"] == meter.model
    assert result["firmware"] == {"0": FIRMWARE}   # the instance (B) of 0.0.0.2.1.255 it found first
    assert result["partners"] == [client_sap, 1]

    # the object list: every object once, the Blue Book's shape, each attribute's access
    listed = {ln: (class_id, version, attributes, methods)
              for class_id, version, ln, attributes, methods in result["object_list"]}
    assert len(listed) == len(result["object_list"]) == result["objects"]
    for ln, class_id in EXPECTED.items():
        assert ln in listed and listed[ln][0] == class_id, ln
    for ln, (class_id, version, attributes, methods) in listed.items():
        shape_version, n_attributes, n_methods = SHAPES[class_id]
        assert version == shape_version, ln
        assert [a[0] for a in attributes] == list(range(1, n_attributes + 1)), ln
        assert [m[0] for m in methods] == list(range(1, n_methods + 1)), ln
        assert all(mode in (0, 1) for _, mode, _ in attributes), ln         # no-access or read-only
        assert all(mode == 0 for _, mode in methods), ln                    # ACTION is refused
        assert attributes[0][1] == 1, ln                                    # the logical name
        selectors = {a[0]: a[2] for a in attributes if a[2] is not None}
        assert selectors == ({2: [1, 2]} if class_id == 7 and not ln.startswith("1.0.94.7.") else {}), ln

    # every attribute declared readable was read and decoded by the client's classes
    read = {(ln, index) for ln, index, _ in result["read"]}
    assert result["refused"] == [] and result["undecoded"] == []
    assert read == {(ln, a[0]) for ln, (_, _, attributes, _) in listed.items() for a in attributes if a[1] == 1}
    raw = {(ln, index): bytes.fromhex(value) for ln, index, value in result["read"]}
    assert raw[("0.0.0.2.1.255", 2)] == b"\x0a\x06" + FIRMWARE.encode()      # visible-string
    assert raw[("0.0.40.0.0.255", 8)] == b"\x16\x02"                         # associated

    # values against the generated meter
    for direction, c in enumerate((1, 2, 3, 4)):
        for tariff in range(5):
            obis = f"1.0.{c}.8.{tariff}.255"
            assert before[direction][tariff] <= result["energy"][obis] <= after[direction][tariff], obis
            assert result["scaler_unit"][obis] == [0, 30 if c <= 2 else 32]   # Wh, varh
    assert result["scaler_unit"]["1.0.32.7.0.255"] == [-2, 35]                # 0.01 V
    clock, deviation = _moment(result["clock"])
    assert abs((now.replace(tzinfo=None) - clock).total_seconds()) < 30
    offset = now.utcoffset() or dt.timedelta(0)
    assert deviation == -int(offset.total_seconds() // 60)    # Blue Book: UTC = local + deviation
    assert result["clock_decoded"].startswith("ValueError") if deviation < 0 else True   # the client's bug

    # the last load-profile intervals (0.1 Wh) and day registers, as the client's classes decoded them
    load = result["profiles"]["1.0.99.1.0.255"]
    assert len(load) == 3
    for stamp, values in load:
        end, _ = _moment(stamp)
        start = end - dt.timedelta(minutes=30)
        slot = (start.hour * 60 + start.minute) // 30
        assert values == [meter.profile((now.date() - start.date()).days)[slot] * 5], stamp
    assert (now.replace(tzinfo=None) - _moment(load[-1][0])[0]) < dt.timedelta(minutes=31)   # the latest complete one
    days = result["profiles"]["1.0.98.2.0.255"]
    assert [_moment(stamp)[0].date() for stamp, _ in days] == [now.date() - dt.timedelta(days=n) for n in (2, 1, 0)]
    for stamp, values in days:
        registers = meter.registers(meter.midnight(_moment(stamp)[0].date()))
        assert values == [registers[q][t] for q in range(4) for t in range(5)], stamp   # A+, A-, R+, R- by tariff
    return raw


def _moment(text):
    """(local time, deviation) of a date-time as DLMS-SPODES prints it: DD.MM.YYYY-weekday
    HH:MM:SS.hh deviation."""
    match = re.match(r"(\d\d)\.(\d\d)\.(\d{4})-\S+ (\d\d):(\d\d):(\d\d)\.\d\d (-?\d+)$", text)
    assert match, text
    day, month, year, hour, minute, second, deviation = (int(g) for g in match.groups())
    return dt.datetime(year, month, day, hour, minute, second), deviation


def test_spodes_client_associates_reads_the_object_list_and_every_object_as_public_client():
    imitator = DLMSImitator(overrides={"0.0.0.2.1.255": FIRMWARE})
    result, before, after, now = _run_client(imitator)
    raw = _check(result, imitator, before, after, now, client_sap=16)
    # the object list does not fit the client's PDU (1024): it came in blocks, and decodes whole
    assert len(raw[("0.0.40.0.0.255", 2)]) > 1024
    pytest.importorskip("dlms_cosem", reason="dlms-cosem==21.3.2 is a test extra: pip install -e '.[test]'")
    from dlms_cosem.utils import parse_as_dlms_data
    elements = parse_as_dlms_data(raw[("0.0.40.0.0.255", 2)])
    assert [[e[0], e[1], ".".join(str(b) for b in e[2])] for e in elements] == \
        [[c, v, ln] for c, v, ln, _, _ in result["object_list"]]


def test_spodes_client_as_reader_with_the_low_level_password():
    imitator = DLMSImitator(overrides={"0.0.0.2.1.255": FIRMWARE})
    result, before, after, now = _run_client(imitator, "32", "12345678")
    _check(result, imitator, before, after, now, client_sap=32)
    assert any(m[0] == 15 for m in result["object_list"])


def test_spodes_client_and_the_projects_capture_read_the_same_from_imitate_dlms(db_path):
    """``imitate dlms`` from the command line with overrides (the firmware version, A+ total and
    tariff 1): dlms-spodes-client reads them, and ``capture dlms`` writes the same energy into
    meter.db."""
    if sys.version_info < (3, 11) or importlib.util.find_spec("DLMS_SPODES_client") is None:
        pytest.skip("dlms-spodes-client==0.9.8 is a test extra (Python >= 3.11): pip install -e '.[test]'")
    from GenerateMeterData.protocols.dlms.spodes import server_address_from_serial
    from helpers import rows

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "dlms", "--listen",
                                f"127.0.0.1:{port}", "--seconds", "60", "-o", f"0.0.0.2.1.255:{FIRMWARE}",
                                "-o", "1.0.1.8.0.255:999999", "-o", "1-0:1.8.1.255:400000"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "imitating a DLMS meter" in line, process.stderr.read()
        serial = line.rsplit("serial ", 1)[1].rstrip(")\n")
        done = subprocess.run([sys.executable, READER, "127.0.0.1", str(port), str(server_address_from_serial(serial))],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout)
        captured = subprocess.run([sys.executable, "-m", "GenerateMeterData", "capture", "dlms", "--port",
                                   f"socket://127.0.0.1:{port}", "--serial", serial, "--db", db_path],
                                  cwd=REPO, capture_output=True, text=True, timeout=120)
        assert captured.returncode == 0, captured.stderr
    finally:
        process.terminate()
        process.wait(10)
    assert result["ok"] and result["firmware"] == {"0": FIRMWARE} and result["ldn"] == f"GMD{serial}"
    assert [result["energy"]["1.0.1.8.0.255"], result["energy"]["1.0.1.8.1.255"]] == [999999, 400000]
    stored = dict(rows(db_path, "SELECT Tariff, Ap FROM ElectricEnergyValues WHERE Tariff IN (0, 1)"))
    assert stored == {0: 999999, 1: 400000}


def test_spodes_client_with_a_wrong_password_is_refused():
    imitator = DLMSImitator()
    result, _, _, _ = _run_client(imitator, "32", "87654321")
    assert not result["ok"] and result["objects"] == 0 and result["read"] == []
    assert result["errors"] == {"Transmit.NO_ACCESS": "Connection is AUTHENTICATION_FAILURE"}   # AARE diagnostic 13


def test_object_list_encoding_by_hand():
    """The object_list element of the clock, A-XDR by hand from the Blue Book (4.4.3 Association LN
    v1 object_list; 4.1.5 data types: 02 structure, 01 array, 12 long-unsigned, 11 unsigned,
    09 octet-string, 0F integer, 16 enum, 00 null-data)."""
    from GenerateMeterData.protocols.dlms.spodes import CosemObject, object_list
    clock = CosemObject("0.0.1.0.0.255", 8, (1, 2, 3))
    attribute = "020" + "3" + "0F{:02X}" + "16{:02X}" + "00"
    attributes = "".join(attribute.format(i, 1 if i <= 3 else 0) for i in range(1, 10))
    methods = "".join("0202" "0F{:02X}" "1600".format(i) for i in range(1, 7))
    expected = ("0101" "0204" "120008" "1100" "0906" "0000010000FF"
                "0202" "0109" + attributes + "0106" + methods)
    assert object_list([clock]).encode().hex().upper() == expected
    pytest.importorskip("dlms_cosem", reason="dlms-cosem==21.3.2 is a test extra: pip install -e '.[test]'")
    from dlms_cosem.utils import parse_as_dlms_data
    decoded = parse_as_dlms_data(bytes.fromhex(expected))
    assert decoded[0][:2] == [8, 0] and bytes(decoded[0][2]) == bytes((0, 0, 1, 0, 0, 255))
    assert [a[:2] for a in decoded[0][3][0]] == [[i, 1 if i <= 3 else 0] for i in range(1, 10)]


def test_a_list_answer_longer_than_the_pdu_comes_in_blocks():
    """GET-with-list of the object list (4 kB), a profile's capture objects, the logical device name
    and an object the meter lacks, with a client PDU of 256 bytes: the answer comes as
    get-response-with-datablock whose raw data is the list of Get-Data-Results; dlms-cosem 21.3.2
    builds the requests and decodes the blocks and the list, and the project's client agrees.
    (Not the firmware version: dlms-cosem 21.3.2 cannot decode a visible-string,
    ``VisibleStringData.from_bytes`` raises NotImplementedError.)"""
    pytest.importorskip("dlms_cosem", reason="dlms-cosem==21.3.2 is a test extra: pip install -e '.[test]'")
    from dlms_cosem import cosem, enumerations
    from dlms_cosem.cosem.attribute_with_selection import CosemAttributeWithSelection
    from dlms_cosem.protocol.xdlms import get as cosem_get
    from dlms_cosem.protocol.xdlms.invoke_id_and_priority import InvokeIdAndPriority

    from GenerateMeterData.protocols.dlms.client import SpodesClient
    from GenerateMeterData.protocols.dlms.errors import DLMSError

    items = [(15, (0, 0, 40, 0, 0, 255), 2), (7, (1, 0, 99, 1, 0, 255), 3), (1, (0, 0, 42, 0, 0, 255), 2),
             (3, (1, 0, 99, 8, 0, 255), 2)]
    imitator = DLMSImitator()
    serial = imitator.meter.serial
    host, port = imitator.start_tcp()
    try:
        with SpodesClient(f"socket://{host}:{port}", serial=imitator.meter.serial, max_pdu=256) as client:
            invoke = InvokeIdAndPriority(invoke_id=5, confirmed=True, high_priority=True)
            request = cosem_get.GetRequestWithList(cosem_attributes_with_selection=[
                CosemAttributeWithSelection(attribute=cosem.CosemAttribute(
                    interface=enumerations.CosemInterface(c), instance=cosem.Obis(*o), attribute=a),
                    access_selection=None) for c, o, a in items], invoke_id_and_priority=invoke)
            answer = cosem_get.GetResponseFactory.from_bytes(client._link().request(request.to_bytes()))
            raw, blocks = bytearray(), 0
            while True:
                assert isinstance(answer, (cosem_get.GetResponseWithBlock, cosem_get.GetResponseLastBlock))
                blocks += 1
                assert answer.block_number == blocks
                raw += answer.data
                if isinstance(answer, cosem_get.GetResponseLastBlock):
                    break
                next_request = cosem_get.GetRequestNext(block_number=answer.block_number, invoke_id_and_priority=invoke)
                answer = cosem_get.GetResponseFactory.from_bytes(client._link().request(next_request.to_bytes()))
            ours = client.get_many([(c, ".".join(map(str, o)), a) for c, o, a in items])
            whole = client.get(15, "0.0.40.0.0.255", 2)
    finally:
        imitator.stop()
    assert blocks > 4192 // 256
    assert raw[0] == len(items)
    results = cosem_get.GetResponseWithList.parse_list_response(bytes(raw[1:]), len(items))
    object_list, capture_objects, name, missing = results
    assert missing == enumerations.DataAccessResult.OBJECT_UNDEFINED
    assert name.to_python() == f"GMD{serial}".encode()
    assert [[c.to_python() for c in column.value][:3] for column in capture_objects.value] == \
        [[8, bytes((0, 0, 1, 0, 0, 255)), 2], [3, bytes((1, 0, 1, 29, 0, 255)), 2]]
    assert len(object_list.value) > 60
    # the project's client follows the same blocks to the same list
    assert ours[0].encode() == whole.encode() and len(whole.encode()) > 4000
    assert ours[2].value == f"GMD{serial}".encode() and isinstance(ours[3], DLMSError) and "object-undefined" in str(ours[3])


def test_a_wrong_or_abandoned_block_transfer_of_the_object_list_is_refused_and_forgotten():
    """Mid-way through the object list's blocks (client PDU 256): a GetRequestNext for a block
    that was not sent is answered block-number-invalid (dlms-cosem decodes the last block with an
    error); the right next block still follows; a transfer left unfinished does not stop the next
    GET; the association's secret (attribute 7) is read-write-denied and attribute 10, which
    version 1 does not have, object-undefined."""
    pytest.importorskip("dlms_cosem", reason="dlms-cosem==21.3.2 is a test extra: pip install -e '.[test]'")
    from dlms_cosem import enumerations
    from dlms_cosem.protocol.xdlms import get as cosem_get
    from dlms_cosem.protocol.xdlms.invoke_id_and_priority import InvokeIdAndPriority

    from GenerateMeterData.protocols.dlms.client import SpodesClient
    from GenerateMeterData.protocols.dlms.errors import DLMSAccessError

    imitator = DLMSImitator()
    host, port = imitator.start_tcp()
    try:
        with SpodesClient(f"socket://{host}:{port}", serial=imitator.meter.serial, max_pdu=256) as client:
            invoke = InvokeIdAndPriority(invoke_id=3, confirmed=True, high_priority=True)
            # C0 01 invoke, class 15, 0.0.40.0.0.255, attribute 2, no selective access
            first = cosem_get.GetResponseFactory.from_bytes(client._link().request(
                bytes.fromhex("C001C3000F0000280000FF0200")))
            assert isinstance(first, cosem_get.GetResponseWithBlock) and first.block_number == 1

            def next_block(number):
                return cosem_get.GetResponseFactory.from_bytes(client._link().request(
                    cosem_get.GetRequestNext(block_number=number, invoke_id_and_priority=invoke).to_bytes()))

            wrong = next_block(7)
            assert isinstance(wrong, cosem_get.GetResponseLastBlockWithError)
            assert wrong.error == enumerations.DataAccessResult.DATA_BLOCK_NUMBER_INVALID and wrong.block_number == 7
            second = next_block(1)
            assert isinstance(second, cosem_get.GetResponseWithBlock) and second.block_number == 2
            assert second.data != first.data
            # abandoned: the next GET is answered on its own
            assert client.get(1, "0.0.42.0.0.255", 2).value == f"GMD{imitator.meter.serial}".encode()
            with pytest.raises(DLMSAccessError, match="read-write-denied"):
                client.get(15, "0.0.40.0.0.255", 7)
            with pytest.raises(DLMSAccessError, match="object-undefined"):
                client.get(15, "0.0.40.0.0.255", 10)
            with pytest.raises(DLMSAccessError, match="object-undefined"):
                client.get(15, "0.0.40.0.1.255", 2)   # the public association is not served
    finally:
        imitator.stop()
