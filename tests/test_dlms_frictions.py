"""Frictions a tester met with DLMS and the imitators (issue 19): ``--help`` names DLMS under
``decode``; the raw samples under ``tests/data/dlms/samples/`` decode to what their upstream
projects expect; one generated meter has one model string whatever protocol imitates it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from GenerateMeterData.imitation.capture import reading_from_data_sets
from GenerateMeterData.imitation.dlms_capture import push_reading, spodes_reading
from GenerateMeterData.protocols.dlms.client import SpodesClient
from GenerateMeterData.imitation import DLMSImitator
from GenerateMeterData.protocols.dlms.imitator import PUSH_LAYOUTS, push_records
from GenerateMeterData.protocols.dlms.push import decode_notification
from GenerateMeterData.protocols.iec62056.client import IECClient
from GenerateMeterData.imitation import IECImitator
from GenerateMeterData.imitation.meter import GeneratedMeter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SAMPLES = os.path.join(HERE, "data", "dlms", "samples")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=REPO))


def test_help_names_dlms_under_decode():
    done = _cli("--help")
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith("decode"))
    assert "DLMS" in line


def _vectors(folder, name):
    with open(os.path.join(HERE, "data", "dlms", folder, name), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", ["kamstrup_push_frame.hex", "kamstrup_push_frame.bin"])
def test_the_kamstrup_sample_decodes_to_what_amshan_expects(name):
    expected = next(f for f in _vectors("amshan", "amshan_vectors.json")["hdlc_frames"]
                    if f["id"] == "kamstrup_se_list_real_sample_full_frame")["decoded_by_amshan_kamstrup"]
    done = _cli("decode", "dlms", os.path.join(SAMPLES, name))
    assert done.returncode == 0, done.stderr
    names = json.loads(done.stdout)["names"]
    for key in ("meter_id", "active_power_import", "voltage_l1", "voltage_l2", "voltage_l3", "current_l1"):
        assert names[key] == expected[key], key


def test_the_segmented_sample_reassembles_to_opendlms_apdu():
    vector = next(v for v in _vectors("opendlms", "opendlms_hdlc_vectors.json")["vectors"]
                  if v["id"] == "streaming_three_frames")
    done = _cli("decode", "dlms", os.path.join(SAMPLES, "segmented_get_response.hex"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["frames"]) == 3
    assert result["apdu"]["type"] == "get-response-normal"
    assert bytes.fromhex(vector["reassembled_apdu_hex"])[:4].hex() == "c401c100"


def test_one_generated_meter_has_one_model_string_in_every_protocol():
    meter = GeneratedMeter(type_name="NEVA3xx", seed=7)
    assert len(meter.model) > 16          # longer than an IEC identification may be: not cut anywhere
    iec = IECImitator(meter=meter)
    host, port = iec.start_tcp()
    try:
        with IECClient(f"socket://{host}:{port}", baud_switch_delay=0) as client:
            readout = client.readout()
    finally:
        iec.stop()
    models = {"iec": reading_from_data_sets(readout.data_sets, readout.identification.manufacturer,
                                            readout.identification.identification).model}
    dlms = DLMSImitator(meter)
    host, port = dlms.start_tcp()
    try:
        with SpodesClient(f"socket://{host}:{port}") as client:
            models["dlms"] = spodes_reading(client).model
    finally:
        dlms.stop()
    for layout in PUSH_LAYOUTS:
        models[f"push {layout}"] = push_reading(decode_notification(push_records(dlms.objects, layout))).model
    assert set(models.values()) == {meter.model}, models
