"""RTU-327 frames and command fields against the device testers' byte vectors
(tests/data/rtu327/vectors.json, each with its file and line in TR1GUN/rtu327-autotests) and
against layouts read off their decoders (offsets cited where used)."""
from __future__ import annotations

import json
import os
import struct

import pytest

from GenerateMeterData.protocols.rtu327 import commands as c
from GenerateMeterData.protocols.rtu327 import frames as f

VECTORS = json.load(open(os.path.join(os.path.dirname(__file__), "data", "rtu327", "vectors.json")))


def vector(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name]["hex"])


# ---- the check code -----------------------------------------------------------------------------------
def test_the_check_code_reproduces_the_real_device_answer():
    packet = vector("device_answer_gettime")                 # work_with_device.py:24
    body = packet[3:-2]
    assert packet[-2:] == b"\x1a\x71"
    assert f.crc16(body) == 0x1A71


def test_the_plain_table_crc_does_not_reproduce_it():
    body = vector("device_answer_gettime")[3:-2]
    assert f.crc16_plain(body) != 0x1A71
    # the body holds bytes >= 0x80 (0x97, 0xf6): that is where the two codes part
    assert any(byte >= 0x80 for byte in body)


def test_on_bytes_below_0x80_both_codes_agree_with_the_testers_value():
    body = vector("request_gettime")[3:-2]                   # work_with_device.py:35: ... 72 === a0 61
    assert f.crc16(body) == f.crc16_plain(body) == 0xA061


# ---- frames -------------------------------------------------------------------------------------------
def test_request_frame_is_byte_exact():
    assert f.encode_request(f.Command.GETTIME) == vector("request_gettime")


def test_crc_error_answer_is_byte_exact():
    assert f.encode_answer(f.Result.CRC_ERROR, b"", packet=1) == vector("answer_crc_error")


def test_device_answer_decodes():
    frame = f.decode(vector("device_answer_gettime"))
    assert (frame.packet, frame.code, frame.word, frame.reserve) == (1, 0, b"\0" * 4, b"\0\0")
    assert c.decode_time(frame.data) == 0x5CF69745 == 1559664453   # 2019-06-04, little-endian TIME_T


def test_a_bad_check_code_is_refused():
    with pytest.raises(f.CrcError):
        f.decode(vector("request_bad_crc"))


def test_truncated_and_overlong_packets_are_refused():
    packet = vector("device_answer_gettime")
    with pytest.raises(f.TruncatedFrame):
        f.decode(packet[:-1])
    with pytest.raises(f.OverlongFrame):
        f.decode(packet + b"\x00")
    with pytest.raises(f.FrameError):
        f.decode(b"\x03" + packet[1:])


def test_splitter_finds_frames_in_junk_and_pieces():
    good, bad = vector("request_gettime"), vector("request_bad_crc")
    splitter = f.Splitter(max_body=64)
    events = []
    stream = b"\xff\x00junk" + good + b"\x02\xff\xff" + bad + good
    for i in range(0, len(stream), 3):          # fed three bytes at a time
        events += splitter.feed(stream[i:i + 3])
    kinds = [kind for kind, _ in events if kind != "junk"]
    assert kinds == ["frame", "crc", "frame"]
    frames = [item for kind, item in events if kind == "frame"]
    assert all(frame.code == f.Command.GETTIME for frame in frames)
    assert splitter.pending == 0


def test_splitter_holds_a_bounded_amount():
    splitter = f.Splitter(max_body=64)
    splitter.feed(b"\x02\x00\x30" + b"\x00" * 20)   # a packet in progress: held
    assert splitter.pending == 23
    splitter.feed(b"\x02\xff\xff" * 1000)           # impossible lengths: skipped, never held
    assert splitter.pending <= 64 + 5


def test_result_codes_and_commands_are_the_evidence_lists():
    # Constant_Value_Bank.py error_code_dict and command_bank
    assert sorted(int(r) for r in f.Result) == [0, 1, 2, 3, 5, 6, 10, 11, 60]
    assert {cmd.name: int(cmd) for cmd in f.Command} == {
        "GETVERSION": 3, "GETTIME": 114, "SETTIME": 115, "GETMAXLOGID": 101, "GETLOG": 117, "GETSHPRM": 112,
        "GETPOK": 113, "GETLP": 111, "GETSHORTLP": 105, "GETTESTS": 107, "GETAUTOREAD": 109, "GETMTRLOG": 116,
        "GETLPCMN": 118, "GETTOU": 119, "GETTIMEM": 122, "SETTIMEM": 123}


# ---- meter address -------------------------------------------------------------------------------------
def test_nsh_is_bcd_of_the_serial():
    assert c.nsh(VECTORS["nsh_43982388"]["serial"]) == vector("nsh_43982388")
    assert c.nsh(43982388) == vector("nsh_43982388")
    assert c.nsh(VECTORS["nsh_counter"]["serial"]) == vector("nsh_counter")


def test_a_15_digit_serial_is_addressed_by_its_last_10_digits():
    # the CE303 emulator's serial (device contract §3): 009218054000006
    assert c.nsh("009218054000006") == bytes.fromhex("8054000006")
    assert c.address_digits("009218054000006") == "8054000006"


def test_a_serial_that_is_not_numeric_cannot_be_addressed():
    with pytest.raises(ValueError):
        c.nsh("AB12")


# ---- command fields ------------------------------------------------------------------------------------
def test_settime_correction_is_a_signed_little_endian_int32():
    assert c.build_settime(VECTORS["settime_plus_hour"]["value"]) == vector("settime_plus_hour")
    assert c.build_settime(VECTORS["settime_minus_hour"]["value"]) == vector("settime_minus_hour")
    assert c.parse_settime(vector("settime_minus_hour")) == -3600


def test_version_is_six_ascii_digits():
    text = VECTORS["version"]["ascii"]
    assert c.decode_version(c.encode_version(text)) == "020102"
    assert c.encode_version(text) == b"020102"


def test_autoread_request_is_byte_exact():
    v = VECTORS["autoread_request"]
    assert c.build_autoread(v["serial"], v["tday"], "A+", v["kk"]) == bytes.fromhex(v["hex"])


def test_lp_requests_are_byte_exact():
    v = VECTORS["lp_requests"]
    names = c.LP_CHANNELS
    for kanal in v["kanal"]:
        channels = [names[bit] for bit in range(4) if kanal >> bit & 1]
        expected = c.nsh(v["serial"]) + bytes([kanal]) + bytes.fromhex(v["tstart_hex"]) + bytes.fromhex(v["kk_hex"])
        assert c.build_lp(v["serial"], 0, 1, channels) == expected


def test_autoread_answer_has_the_198_byte_layout_the_2019_suite_slices():
    record = c.AutoRead("0010184760", 1590969600, (1.5, 2.5, 3.5, 4.5))
    data = c.encode_autoread([record])
    assert len(data) == 198                                            # device_tests.py:508
    assert data[:10] == b"0674810100"                                  # STR<10>, reversed (decode_data_to_GETAUTOREAD)
    assert struct.unpack("<I", data[10:14])[0] == 1590969600           # Dd_mm_yyyy
    assert struct.unpack("<d", data[14:22])[0] == 1.5                  # Akwh
    assert struct.unpack("<d", data[22:30])[0] == -1.0                 # Akw
    assert struct.unpack("<I", data[30:34])[0] == 0                    # Atd
    assert struct.unpack("<d", data[50:58])[0] == 2.5                  # Bkwh
    assert struct.unpack("<d", data[122:130])[0] == 4.5                # dkwh
    assert struct.unpack("<d", data[158:166])[0] == -1.0               # Kwha
    assert struct.unpack("<d", data[190:198])[0] == -1.0               # Q4
    assert c.decode_autoread(data) == [record]


def test_shprm_answer_has_the_40_byte_layout_the_2019_suite_slices():
    p = c.MeterParameters(1, 100, 1.0, 2.0, 3.0, 30, 4, 5, 6)
    data = c.encode_shprm(p)
    assert len(data) == 40                                             # device_tests.py:233
    assert data[:2] == b"\x01\x00" and data[2] == 100                  # Vers, Typ_Sh
    assert struct.unpack("<d", data[3:11])[0] == 1.0                   # Kt (device_tests.py:226)
    assert struct.unpack("<d", data[11:19])[0] == 2.0                  # Kn
    assert struct.unpack("<d", data[19:27])[0] == 3.0                  # M
    assert data[27] == 30                                              # Interv
    assert struct.unpack("<iii", data[28:40]) == (4, 5, 6)             # Syb_Rnk, N_Ob, N_Fid
    assert c.decode_shprm(data) == p


def test_lp_answer_count_has_bit_15_set_and_slots_oldest_first():
    profile = c.Profile(("P+", "Q-"), 0, 1800 * 3, tuple(c.ProfileSlot((i, -i), 0) for i in range(1, 4)))
    data = c.encode_lp(profile)
    assert data[:2] == (0x8000 | 3).to_bytes(2, "little")              # form_data_to_GETLP: '1' + 15 bits
    assert len(data) == 7 + 3 * (2 * 8 + 1)
    decoded = c.decode_lp(data, ("P+", "Q-"))
    assert decoded == profile
    assert decoded.times(30) == [1800, 3600, 5400]


def test_tests_bitstats_of_the_tested_device():
    # form_data_to_GETTESTS: bits 1-13 and 17, 18 set, 14-16 (PFang*) clear
    tests = c.Tests(c.DEVICE_TEST_FIELDS, 2, (c.TestRecord(100, {name: float(i) for i, name in
                                                                enumerate(c.DEVICE_TEST_FIELDS)}),))
    data = c.encode_tests(tests)
    assert struct.unpack("<i", data[:4])[0] == 0b110_0011_1111_1111_1110 == 0x63FFE
    assert len(data) == 6 + 4 + 15 * 8
    assert c.decode_tests(data) == tests


def test_pok_answer_is_one_double_per_requested_channel_in_bit_order():
    request = c.build_pok("0010184760", 1590969600, ("R-", "A+"))
    assert request[5] == 0b1001                                        # bit 0 A+, bit 3 R-
    assert c.parse_pok(request) == ("0010184760", ("A+", "R-"), 1590969600)
    data = c.encode_pok([1.25, 4.0])
    assert c.decode_pok(data, ("R-", "A+")) == {"A+": 1.25, "R-": 4.0}


def test_mtrlog_events_are_time_then_int16_type():
    data = c.encode_mtrlog([(1590969600, 208), (1590969700, 3)])
    assert data == struct.pack("<Ih", 1590969600, 208) + struct.pack("<Ih", 1590969700, 3)
    assert c.decode_mtrlog(data) == [(1590969600, 208), (1590969700, 3)]
    assert c.parse_mtrlog(c.build_mtrlog("0010184760", 5, 14)) == ("0010184760", 5, 14)


@pytest.mark.parametrize("build, parse", [
    (lambda: c.build_shortlp("0010184760", 0, 7, 48, ("P+",)), c.parse_shortlp),
    (lambda: c.build_lpcmn("0010184760", 1, 7, 48, ("P+", "Q+")), c.parse_lpcmn),
    (lambda: c.build_tou("0010184760", "R+"), c.parse_tou),
    (lambda: c.build_tests("0010184760", 7, 3), c.parse_tests),
    (lambda: c.build_getlog(1, 2, 3), c.parse_getlog),
])
def test_requests_of_the_commands_without_evidence_round_trip(build, parse):
    data = build()
    parsed = parse(data)
    assert parsed  # every field read back
    with pytest.raises(ValueError):
        parse(data + b"\x00")


def test_tou_and_log_answers_round_trip():
    now, before = c.TouReading(10, (1.0, 2.0, 3.0, 4.0, 5.0)), c.TouReading(5, (0.5, 1.0, 1.5, 2.0, 2.5))
    assert c.decode_tou(c.encode_tou(now, before)) == (now, before)
    events = [c.LogEvent(1, 100, 1), c.LogEvent(2, 200, 1)]
    assert c.decode_log(c.encode_log(events)) == events
    assert c.decode_maxlogid(c.encode_maxlogid(7)) == 7
