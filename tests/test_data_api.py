"""The data API's request builder and answer parser, against the shapes the device's testers
show (device-contract.md §2), and the client against the stand-in and against programs that
misbehave, on this machine (real subprocesses, a real meter.db)."""
from __future__ import annotations

import ast
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from GenerateMeterData import LocalTarget
from GenerateMeterData.device import data_api
from GenerateMeterData.device.data_api import (DataApiClient, DataApiError, DeviceData, LocalProgram,
                                               Reading, TimeRange, get_request, parse_answer, post_request)
from GenerateMeterData.errors import InputError, ProtocolError
from helpers import rows

DATA = Path(__file__).parent / "data" / "data-api"


# ---- requests -----------------------------------------------------------------------------
def test_a_get_by_meter_id_is_the_testers_captured_request():
    # um40_smart_framework Setup.py line 36: the request the captured answer (line 35) answers
    assert get_request(["ElConfig"], ids=[1]) == \
        {"measures": ["ElConfig"], "ids": [1], "tags": [], "time": [], "flags": [], "method": "get"}


def test_a_get_with_every_filter_has_the_testers_keys():
    # smart40_tests Template_generator_get_by_meansures.py: "devices", "ids", "serials", "tags",
    # "time": [{"start", "end"}], "flags": ["allMeters" | "lastTime"]
    request = get_request(["ElArr1ConsPower", "ElDayEnergy"], devices=[3, 4], ids=[1001], serials=["0110188597"],
                          tags=["P+", "cTime"], time=[TimeRange(100, 200), (300, 400)], last_time=True)
    assert request == {"method": "get", "measures": ["ElArr1ConsPower", "ElDayEnergy"], "devices": [3, 4],
                       "ids": [1001], "serials": ["0110188597"], "tags": ["P+", "cTime"],
                       "time": [{"start": 100, "end": 200}, {"start": 300, "end": 400}], "flags": ["lastTime"]}
    assert get_request(["ElConfig"], all_meters=True)["flags"] == ["allMeters"]
    assert json.loads(data_api.encode(request)) == request


def test_a_post_has_the_testers_shape():
    # um40_smart_framework Setup.py lines 38-52 (the POST of the captured config, abridged)
    request = post_request("ElConfig", {1: [(1635752804, {"serial": "0110188597", "const": None, "isAm": True})]})
    assert request == {"method": "post", "measures": [{"measure": "ElConfig", "devices": [
        {"id": 1, "vals": [{"ts": 1635752804, "tags": [{"tag": "serial", "val": "0110188597"},
                                                        {"tag": "const", "val": None},
                                                        {"tag": "isAm", "val": True}]}]}]}]}


@pytest.mark.parametrize("bad", [dict(measures=["NoSuchMeasure"]), dict(measures=["ElConfig"], devices=["1"]),
                                 dict(measures=["ElConfig"], ids=[True]),
                                 dict(measures=["ElConfig"], time=[(1.5, 2)])])
def test_a_request_with_a_bad_value_is_refused_in_one_line(bad):
    measures = bad.pop("measures")
    with pytest.raises(InputError) as caught:
        get_request(measures, **bad)
    assert "\n" not in str(caught.value)


# ---- answers ------------------------------------------------------------------------------
def captured_answer() -> bytes:
    """The captured answer (printed by Python) as the JSON the device sent."""
    text = (DATA / "um40_smart_framework_Setup_py_line35.txt").read_text(encoding="utf-8")
    return json.dumps(ast.literal_eval(text)).encode()


def test_the_captured_real_answer_parses_into_one_meter_with_every_config_tag():
    (device,) = parse_answer(captured_answer())
    assert device.measure == "ElConfig" and device.device_idx == 1 and device.meter_id == 1
    assert device.serial is None  # the captured answer has no serial beside deviceIdx
    (reading,) = device.vals
    assert reading.ts == 1635752804 and reading.diff is None
    assert reading.tags == {"const": None, "kI": 1.0, "kU": 1.0, "cArrays": 1, "isAm": True, "isClock": True,
                            "isDst": False, "isRm": True, "isRp": True, "isTrf": True, "model": "",
                            "serial": "211500050411372"}
    # the data API's tag names of ElConfig are exactly the twelve the device answered with
    assert sorted(data_api.served_tags("ElConfig")) == sorted(reading.tags)


def test_vals_null_diff_and_serial_are_read():
    answer = {"res": 0, "measures": [{"measure": "ElDayEnergy", "devices": [
        {"deviceIdx": 2, "meter": 1002, "serial": "123", "vals": None},
        {"deviceIdx": 3, "meter": 1003, "serial": "456",
         "vals": [{"ts": 10, "diff": -2, "tags": [{"tag": "A+0", "val": 1.5}]}]}]}]}
    assert parse_answer(answer) == [DeviceData("ElDayEnergy", 2, 1002, "123", None),
                                    DeviceData("ElDayEnergy", 3, 1003, "456", (Reading(10, {"A+0": 1.5}, -2),))]


@pytest.mark.parametrize("answer, said", [
    (b"Segmentation fault", "not JSON: 'Segmentation fault'"),
    (b"", "no answer"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"measures": []}', "has no res"),
    (b'{"res": 3, "error": "no such table\\nMeterData"}', "refused the request: no such table (res 3)"),
    (b'{"res": 0, "measures": [{"measure": "ElConfig", "devices": [{"deviceIdx": 1, "vals": [{"tags": []}]}]}]}',
     "measures[0].devices[0].vals[0].ts is missing"),
    (b'{"res": 0, "measures": [{"measure": "ElConfig", "devices": [{"deviceIdx": "1"}]}]}',
     "deviceIdx is not an integer"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_a_bad_answer_is_one_line_naming_what_is_wrong(answer, said):
    with pytest.raises(DataApiError) as caught:
        parse_answer(answer, where="device X")
    message = str(caught.value)
    assert said in message and message.startswith("device X: ") and "\n" not in message
    assert isinstance(caught.value, ProtocolError)


# ---- the client against the stand-in, on this machine -------------------------------------
@pytest.fixture(scope="module")
def served_db(tmp_path_factory):
    """Two meters over two days (seeded with the package's own Scenario)."""
    import datetime as dt
    from GenerateMeterData import Scenario

    path = str(tmp_path_factory.mktemp("api") / "meter.db")
    Scenario(meters=2, days=2, end=dt.date(2026, 3, 1), seed=7).create(LocalTarget(path))
    return path


@pytest.fixture(scope="module")
def client(served_db):
    with DataApiClient.for_target(LocalTarget(served_db)) as client:
        yield client


def test_config_flags_are_served_by_position_as_json_booleans(served_db, client):
    meter_id, idx = rows(served_db, "SELECT MeterId, DeviceIdx FROM MeterTable ORDER BY DeviceIdx DESC LIMIT 1")[0]
    ts, serial, reactive, active_reverse, reactive_reverse, k_i = rows(
        served_db, "SELECT Timestamp, Serial, Reactive, ActiveReverse, ReactiveReverse, CurrentCoeff "
                   "FROM ElectricConfig WHERE DeviceIdx = ?", (idx,))[0]
    (device,) = client.get(["ElConfig"], ids=[meter_id])
    assert (device.device_idx, device.meter_id, device.serial) == (idx, meter_id, serial)
    (reading,) = device.vals
    assert reading.ts == ts
    # Template_SQL_request.py 185-203: Reactive AS isAm, ActiveReverse AS isRm, ReactiveReverse AS isRp
    assert reading.tags["isAm"] is bool(reactive) and reading.tags["isRm"] is bool(active_reverse)
    assert reading.tags["isRp"] is bool(reactive_reverse)
    assert reading.tags["kI"] == k_i and reading.tags["serial"] == serial


def test_the_time_filter_is_inclusive_at_both_ends(served_db, client):
    stamps = [ts for (ts,) in rows(served_db, "SELECT m.Timestamp FROM MeterData m JOIN ArchTypes a ON "
                                              "a.Id = m.RecordTypeId WHERE a.Name = 'ElArr1ConsPower' AND "
                                              "m.DeviceIdx = 1 ORDER BY m.Timestamp")]
    start, end = stamps[5], stamps[8]
    (device,) = client.get(["ElArr1ConsPower"], devices=[1], time=[(start, end)], tags=["P+"])
    assert [reading.ts for reading in device.vals] == stamps[5:9]
    (device,) = client.get(["ElArr1ConsPower"], devices=[1], time=[(start, start)], tags=["P+"])
    assert [reading.ts for reading in device.vals] == [start]
    (device,) = client.get(["ElArr1ConsPower"], devices=[1], time=[(start + 1, start + 2)])
    assert device.vals is None  # nothing in that range: vals null


def test_last_time_is_the_newest_record_of_each_meter(served_db, client):
    newest = dict(rows(served_db, "SELECT m.DeviceIdx, max(m.Timestamp) FROM MeterData m JOIN ArchTypes a "
                                  "ON a.Id = m.RecordTypeId WHERE a.Name = 'ElMomentEnergy' GROUP BY m.DeviceIdx"))
    answer = client.get(["ElMomentEnergy"], all_meters=True, last_time=True, tags=["A+0"])
    assert {device.device_idx: [r.ts for r in device.vals] for device in answer} == \
        {idx: [ts] for idx, ts in newest.items()}


def test_a_profile_slot_is_served_1_to_1(served_db, client):
    rid, ts, period, pp, pm, qp, qm, part, ovfl, season = rows(
        served_db, "SELECT v.Id, m.Timestamp, v.Period, v.Pp, v.Pm, v.Qp, v.Qm, v.Partial, v.Overflow, v.Season "
                   "FROM ElectricPowerValues v JOIN MeterData m ON m.Id = v.Id WHERE m.DeviceIdx = 2 "
                   "ORDER BY m.Timestamp LIMIT 1")[0]
    (device,) = client.get(["ElArr1ConsPower"], devices=[2], time=[(ts, ts)])
    assert device.vals[0].tags == {"cTime": period, "P+": pp, "P-": pm, "Q+": qp, "Q-": qm, "isOvfl": bool(ovfl),
                                   "isPart": bool(part), "isSummer": bool(season)}


def test_meters_by_serial_substring_and_every_meter(served_db, client):
    serials = dict(rows(served_db, "SELECT DeviceIdx, Serial FROM ElectricConfig"))
    (device,) = client.get(["ElConfig"], serials=[serials[2][2:7]], tags=["serial"])
    assert device.device_idx == 2
    everyone = client.get(["ElConfig"], all_meters=True, tags=["serial"])
    assert {d.device_idx: d.serial for d in everyone} == serials


def test_a_measure_without_data_is_vals_null_for_every_meter(served_db, client):
    assert rows(served_db, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                           "WHERE a.Name = 'ElJrnlOpen'") == [(0,)]
    answer = client.get(["ElJrnlOpen"], devices=[1, 2])
    assert [(d.device_idx, d.vals) for d in answer] == [(1, None), (2, None)]


def test_the_stand_in_refuses_an_unknown_tag_and_a_post(client):
    with pytest.raises(DataApiError, match=r"measure ElConfig has no tag 'A\+0' \(res 1\)"):
        client.get(["ElConfig"], all_meters=True, tags=["A+0"])
    with pytest.raises(DataApiError, match="answers get only"):
        client.post("ElConfig", {1: [(1, {"serial": "1"})]})


def test_the_stand_in_answers_a_non_json_request_with_an_error(served_db):
    import subprocess
    done = subprocess.run(data_api.standin_argv(served_db), input=b"{not json", capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert json.loads(done.stdout) == {"res": 1, "error": "the request is not JSON"}


# ---- programs that misbehave ------------------------------------------------------------
def sh(script: str, **kwargs) -> DataApiClient:
    return DataApiClient(LocalProgram(["/bin/sh", "-c", script], **kwargs))


@pytest.mark.parametrize("script, kwargs, said", [
    ("echo hello", {}, "the answer is not JSON: 'hello'"),
    ("echo 'it broke' >&2; exit 3", {}, "exited with status 3 and no answer: it broke"),
    ("exec sleep 30", {"timeout": 1.0}, "no answer within 1 s (stalled)"),
    ("exec yes", {"max_answer": 100000}, "the answer passed 100000 bytes"),
    ("exec yes '{' >&2", {"timeout": 1.0}, "no answer within 1 s"),
    ("cat > /dev/null; echo '{\"res\": 5}'", {}, "refused the request (res 5)"),
])
def test_a_program_that_misbehaves_is_one_line(script, kwargs, said):
    with sh(script, **kwargs) as client:
        with pytest.raises(DataApiError) as caught:
            client.get(["ElConfig"], all_meters=True)
    message = str(caught.value)
    assert said in message and "\n" not in message


def test_a_missing_program_is_one_line():
    with DataApiClient(LocalProgram(["/nonexistent/meter_db_data_api"])) as client:
        with pytest.raises(DataApiError, match="cannot run it"):
            client.get(["ElConfig"], all_meters=True)


def test_a_local_target_may_name_its_program_as_a_command_line(served_db):
    command = f"{sys.executable} -m {data_api.STANDIN_MODULE} --db {served_db}"
    with DataApiClient.for_target(LocalTarget(served_db), command) as client:
        assert [d.device_idx for d in client.get(["ElConfig"], all_meters=True, tags=["serial"])] == [1, 2]


def test_the_tag_cells_follow_the_device_evidence():
    # smart40_tests Template_list_ArchTypes.py lines 36-63: the tag lists of each table
    assert set(data_api.served_tags("ElArr1ConsPower")) == {"cTime", "P+", "Q+", "P-", "Q-", "isPart", "isOvfl",
                                                            "isSummer"}
    assert set(data_api.served_tags("PlsConfig")) == {"serial", "model", "chnl", "isDst"}
    assert set(data_api.served_tags("DigConfig")) == {"serial", "model", "chnlIn", "chnlOut", "isDst"}
    assert set(data_api.served_tags("ElJrnlOpen")) == {"event", "eventId"}
    pulse = data_api.served_tags(next(m for m, t in data_api.layout.MEASURE_TABLE.items() if t == "PulseValues"))
    assert set(pulse) == {f"Pls{i}" for i in range(1, 33)}
    assert set(data_api.served_tags("ElDayEnergy")) == {f"{q}{t}" for q in ("A+", "A-", "R+", "R-") for t in range(5)}
    assert set(data_api.served_tags("ElMomentQuality")) == {
        'UA', 'UB', 'UC', 'IA', 'IB', 'IC', 'PS', 'PA', 'PB', 'PC', 'QS', 'QA', 'QB', 'QC', 'SS', 'SA', 'SB', 'SC',
        'AngAB', 'AngBC', 'AngAC', 'kPS', 'kPA', 'kPB', 'kPC', 'Freq'}  # Template_list_ArchTypes.py lines 48-49
    assert data_api.api_tag("ElConfig", "Reactive") == "isAm" and data_api.api_tag("ElConfig", "ActiveReverse") == "isRm"
    assert data_api.api_tag("ElConfig", "ReactiveReverse") == "isRp" and data_api.api_tag("ElConfig", "Timestamp") is None
    assert data_api.cell("ElMomentQuality", "AngAC") == data_api.Cell("ElectricQualityValues", "C", "Angle")
    assert data_api.cell("ElConfig", "isAm").boolean and not data_api.cell("ElConfig", "kI").boolean


def test_the_stand_in_reads_a_file_whose_name_has_uri_characters_and_refuses_a_missing_one(served_db, tmp_path):
    import shutil
    odd = tmp_path / "meter #1?.db"
    shutil.copy(served_db, odd)
    with DataApiClient.for_target(LocalTarget(str(odd))) as client:
        assert [d.device_idx for d in client.get(["ElConfig"], all_meters=True, tags=["serial"])] == [1, 2]
    with DataApiClient(LocalProgram(data_api.standin_argv(str(tmp_path / "none.db")))) as client:
        with pytest.raises(DataApiError, match=r"none.db does not exist \(res 1\)"):
            client.get(["ElConfig"], all_meters=True)


def test_the_error_carries_its_fields_through_pickling_and_exits_as_a_failed_target():
    import pickle
    error = DataApiError(where="root@dev:22: data API /x", res=7, detail="the program refused the request")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == "root@dev:22: data API /x: the program refused the request (res 7)"
    assert again.fields() == {"where": "root@dev:22: data API /x", "res": 7, "detail": "the program refused the request"}
    assert again.exit_code == 3  # as a failed target: check keeps 1 for mismatches


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its parent does not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(") ", 1)[-1][:1] != "Z"
    except (FileNotFoundError, ProcessLookupError):   # gone before the open, or between open and read
        return False


def wait_until_gone(pid: int) -> bool:
    """True once ``pid`` stopped running; False if it still runs after 30 s (a bound for the
    wait, not an assertion on time)."""
    import time
    deadline = time.monotonic() + 30
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)


def test_a_stopped_local_program_takes_what_it_started_with_it(tmp_path):
    pid_file = tmp_path / "child"
    with sh(f"sleep 60 & echo $! > {pid_file}; exec yes", max_answer=100000) as client:
        with pytest.raises(DataApiError, match="passed 100000 bytes"):
            client.get(["ElConfig"], all_meters=True)
    assert wait_until_gone(int(pid_file.read_text()))
