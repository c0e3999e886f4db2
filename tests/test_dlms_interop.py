"""Third-party interop: dlms-cosem 21.3.2 (MIT) reads a register and a profile range from the
imitator over HDLC on a pty and over the TCP wrapper; amshan 2.1.1 (MIT) decodes the imitator's
push telegrams. Both are test extras; the tests skip with the reason when one is missing."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from GenerateMeterData.imitation import DLMSImitator

# dlms-cosem 21.3.2 writes a server address whose physical part exceeds 127 as 3 bytes (1 + 2),
# which IEC 62056-46 does not allow; a 2-byte address (physical <= 127) is what it can talk to.
PHYSICAL = 17


READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dlms_cosem_reader.py")


def _read_with_dlms_cosem(imitator, *where):
    """dlms-cosem in its own process reads 1.0.1.8.0.255, the scaler_unit of 1.0.32.7.0.255 and
    the last day of the load profile; checked against the generated meter."""
    pytest.importorskip("dlms_cosem", reason="dlms-cosem==21.3.2 is a test extra: pip install -e '.[test]'")
    now = imitator.meter.local_now().replace(microsecond=0)
    before = imitator.meter.registers()[0][0]
    done = subprocess.run([sys.executable, READER, *where, (now - dt.timedelta(days=1)).isoformat(), now.isoformat()],
                          capture_output=True, text=True, timeout=120)
    after = imitator.meter.registers()[0][0]
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert before <= result["register"] <= after
    assert result["scaler_unit"] == [-2, 35]          # 0.01 V
    entries = result["profile"]
    assert 47 <= len(entries) <= 49
    day = (now - dt.timedelta(days=1)).date()
    by_stamp = {hex_stamp[:16]: value for hex_stamp, value in entries}
    compared = 0
    for slot, power in enumerate(imitator.meter.profile(1)):
        end = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=30 * (slot + 1))
        key = bytes((end.year >> 8, end.year & 0xFF, end.month, end.day, end.isoweekday(), end.hour, end.minute,
                     0)).hex()
        if key in by_stamp:
            assert by_stamp[key] == power * 5          # 0.1 Wh of a slot = average W x 0.5 h x 10
            compared += 1
    assert compared >= 1


def test_dlms_cosem_reads_register_and_profile_over_hdlc_on_a_pty():
    imitator = DLMSImitator(physical=PHYSICAL)
    path = imitator.start_pty()
    try:
        _read_with_dlms_cosem(imitator, "hdlc", path, str(PHYSICAL))
    finally:
        imitator.stop()


def test_dlms_cosem_public_client_over_the_tcp_wrapper():
    imitator = DLMSImitator(wrapper=True)
    host, port = imitator.start_tcp()
    try:
        _read_with_dlms_cosem(imitator, "wrapper", host, str(port))
    finally:
        imitator.stop()


@pytest.mark.parametrize("layout, maker", [("aidon", "Aidon"), ("kamstrup", "Kamstrup"), ("kaifa", "Kaifa")])
def test_amshan_decodes_the_imitators_pushes(layout, maker):
    pytest.importorskip("han", reason="amshan==2.1.1 is a test extra: pip install -e '.[test]'")
    from han.autodecoder import AutoDecoder
    from han.hdlc import HdlcFrameReader

    from GenerateMeterData.protocols.dlms.acse import decode_apdu
    from GenerateMeterData.protocols.dlms.pdu import unwrap_llc
    from GenerateMeterData.protocols.dlms.hdlc import split_frames
    from GenerateMeterData.protocols.dlms.push import decode_notification

    imitator = DLMSImitator(push=layout)
    raw = imitator.push_frame()
    frames = HdlcFrameReader(False).read(raw)
    assert len(frames) == 1 and frames[0].is_good_ffc and frames[0].is_expected_length
    theirs = AutoDecoder().decode_message_payload(frames[0].payload)
    assert theirs is not None and theirs["meter_manufacturer"] == maker
    assert theirs["meter_id"] == imitator.meter.serial
    ours = decode_notification(decode_apdu(unwrap_llc(split_frames(raw)[0][0].information))).names()
    for name, value in theirs.items():
        if name == "meter_datetime":
            assert dt.datetime.fromisoformat(ours[name]) == value
        elif isinstance(value, float):
            assert ours[name] == pytest.approx(value)
        else:
            assert ours[name] == value, name
