"""The USPD stand-in (``imitate uspd``) against the RTU-327 client over real sockets, on a real
meter.db.  Expected values are read from the file with sqlite3 and converted by hand with the
device's mapping as the testers assert it (Service_function.py: kWh = Wh / 1000, slot energy =
W x Period / 60 / 1000, evType table of line 1321; Typ_Sh 100 for an SE303, line 193)."""
from __future__ import annotations

import datetime as dt
import shutil
import socket
import sqlite3
import threading
import time

import pytest

from GenerateMeterData import LocalTarget, MeterPlan, Scenario, StoryOptions
from GenerateMeterData.device.rtu327_server import Rtu327Server
from GenerateMeterData.protocols.rtu327 import BadPassword, ResultError, Rtu327Client
from GenerateMeterData.protocols.rtu327 import commands as c
from GenerateMeterData.protocols.rtu327 import frames as f

END = dt.date(2026, 3, 1)
JOURNALS = StoryOptions(outages_per_30_days=20, time_corrections_per_30_days=20,
                        journals={"ElJrnlReset": 2, "ElJrnlOpen": 2})


@pytest.fixture(scope="module")
def meter_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("uspd") / "meter.db")
    Scenario(meters=[MeterPlan(type="SE303"), MeterPlan(type="Mercury23x")], days=3, end=END, seed=5,
             options=JOURNALS).create(LocalTarget(path))
    return path


@pytest.fixture
def served(meter_db):
    server = Rtu327Server(meter_db)
    host, port = server.start_tcp("127.0.0.1", 0)
    client = Rtu327Client(host, port, read_timeout=5, deadline=10)
    yield server, client, meter_db
    client.close()
    server.stop()


def rows(path, sql, params=()):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def meter(path, type_name):
    return rows(path, "SELECT t.DeviceIdx, c.Serial, c.CurrentCoeff, c.VoltageCoeff, c.MeterConst, t.RTUObjType, "
                      "t.RTUObjNum, t.RTUFeederNum FROM MeterTable t JOIN MeterTypes y ON y.Id = t.TypeId "
                      "JOIN ElectricConfig c ON c.DeviceIdx = t.DeviceIdx WHERE y.Type = ?", (type_name,))[0]


def records(path, device_idx, measure):
    return rows(path, "SELECT d.Id, d.Timestamp FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                      "WHERE d.DeviceIdx = ? AND a.Name = ? ORDER BY d.Timestamp", (device_idx, measure))


def test_version_and_time(served):
    _, client, _ = served
    assert client.get_version() == "020102"
    assert abs(client.get_time() - time.time()) < 10      # command_service.py: within 10 s of the clock


def test_settime_moves_the_stand_in_clock_only(served):
    server, client, _ = served
    client.set_time(3600)
    assert abs(client.get_time() - (time.time() + 3600)) < 10
    assert client.get_max_log_id() == 1


def test_shprm_of_an_se303(served):
    _, client, path = served
    device_idx, serial, kt, kn, mconst, obj_type, obj_num, feeder = meter(path, "SE303")
    period = rows(path, "SELECT v.Period FROM MeterData d JOIN ElectricPowerValues v ON v.Id = d.Id "
                        "WHERE d.DeviceIdx = ? ORDER BY d.Timestamp DESC LIMIT 1", (device_idx,))[0][0]
    p = client.get_shprm(serial)
    assert len(serial) == 15    # a real-style serial: addressed by its last 10 digits
    assert (p.Vers, p.Typ_Sh, p.Kt, p.Kn, p.M, p.Interv) == (1, 100, kt, kn, mconst, period)
    assert (p.Syb_Rnk, p.N_Ob, p.N_Fid) == (obj_type, obj_num, feeder)


def test_pok_is_the_tariff_0_row_in_kwh(served):
    _, client, path = served
    device_idx, serial = meter(path, "Mercury23x")[:2]
    for measure in ("ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy"):
        record_id, stamp = records(path, device_idx, measure)[-1]
        ap, am, rp, rm = rows(path, "SELECT Ap, Am, Rp, Rm FROM ElectricEnergyValues WHERE Id = ? AND Tariff = 0",
                              (record_id,))[0]
        got = client.get_pok(serial, stamp)
        assert got == {"A+": ap / 1000, "A-": am / 1000, "R+": rp / 1000, "R-": rm / 1000}


def test_pok_of_a_time_with_no_record_is_no_data(served):
    _, client, path = served
    serial = meter(path, "Mercury23x")[1]
    with pytest.raises(ResultError) as info:
        client.get_pok(serial, 12345)
    assert info.value.code == f.Result.NO_MORE_DATA


def test_lp_includes_the_slot_at_tstart_and_sends_slot_energy(served):
    _, client, path = served
    device_idx, serial = meter(path, "SE303")[:2]
    slots = rows(path, "SELECT d.Timestamp, v.Period, v.Pp, v.Pm, v.Qp, v.Qm, v.Partial, v.Overflow FROM MeterData d "
                       "JOIN ElectricPowerValues v ON v.Id = d.Id WHERE d.DeviceIdx = ? ORDER BY d.Timestamp",
                 (device_idx,))[:48]
    start = slots[0][0]
    profile = client.get_lp(serial, start, 48)
    assert len(profile.slots) == 48
    assert profile.last == slots[-1][0]                       # TLast: the end of the last interval sent
    assert profile.times(slots[0][1]) == [s[0] for s in slots]
    for (stamp, period, pp, pm, qp, qm, partial, overflow), slot in zip(slots, profile.slots):
        # Stat bit 1 "passed through zero" = Overflow; bit 2 = Partial (this tool's choice)
        assert slot.stat == (2 if overflow else 0) | (4 if partial else 0)
        assert slot.values == tuple(w * period / 60 / 1000 for w in (pp, pm, qp, qm))
    # one slot later: the first slot is no longer included
    assert len(client.get_lp(serial, start + 1, 48).slots) == 48
    assert client.get_lp(serial, start + 1, 48).last == slots[-1][0] + slots[0][1] * 60


def test_autoread_tariffs_1_to_4_in_kwh_and_the_rest_minus_one(served):
    _, client, path = served
    device_idx, serial = meter(path, "Mercury23x")[:2]
    record_id, stamp = records(path, device_idx, "ElDayEnergy")[1]
    tariffs = dict(rows(path, "SELECT Tariff, Am FROM ElectricEnergyValues WHERE Id = ?", (record_id,)))
    (record,) = client.get_autoread(serial, stamp - 1, "A-", 1)   # command_GETAUTOREAD.py: Tday = ts - 1
    assert record.time == stamp
    assert record.serial == c.address_digits(serial)
    assert record.kwh == tuple(tariffs[t] / 1000 for t in (1, 2, 3, 4))
    assert record.kwha == -1.0 and set(record.kw + record.kwcum + record.kwc + record.quadrants) == {-1.0}
    assert record.td == (0, 0, 0, 0)


def test_tests_are_the_quality_rows(served):
    _, client, path = served
    device_idx, serial = meter(path, "SE303")[:2]
    record_id, stamp = records(path, device_idx, "ElMomentQuality")[2]
    phases = {r[0]: r[1:] for r in rows(path, "SELECT Phase, U, I, P, S, Angle, F FROM ElectricQualityValues "
                                              "WHERE Id = ?", (record_id,))}
    tests = client.get_tests(serial, stamp, 1)
    assert tests.elements == 2 and tests.fields == c.DEVICE_TEST_FIELDS
    (record,) = tests.records
    v = record.values
    assert record.time == stamp
    assert (v["Ua"], v["Ib"], v["FREQ"]) == (phases["A"][0], phases["B"][1], phases["Summ"][5])
    assert v["Wa"] == phases["A"][2] / 1000 and v["VAc"] == (phases["C"][3] / 1000 if phases["C"][3] is not None
                                                               else -1.0)
    assert (v["PHangB"], v["PhangC"]) == (phases["A"][4], phases["C"][4])   # AngAB, AngAC


def test_mtrlog_maps_journal_events_to_evtypes(served):
    _, client, path = served
    device_idx, serial = meter(path, "SE303")[:2]
    table = {"ElJrnlPwr": {1: 1, 0: 0}, "ElJrnlTimeCorr": {0: 2, 1: 3}, "ElJrnlReset": {0: 6}, "ElJrnlOpen": {0: 9},
             "ElJrnlPwrA": {1: 208, 0: 209}, "ElJrnlPwrB": {1: 210, 0: 211}, "ElJrnlPwrC": {1: 212, 0: 213}}
    marks = ", ".join("?" * len(table))
    events = rows(path, f"SELECT a.Name, d.Timestamp, v.Event FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                        f"JOIN JournalValues v ON v.Id = d.Id WHERE d.DeviceIdx = ? AND a.Name IN ({marks}) "
                        "ORDER BY d.RecordTypeId, d.Timestamp", (device_idx, *table))
    assert len(events) > 5
    expected = [(stamp, table[name][event]) for name, stamp, event in events if event in table[name]]
    assert client.get_meter_log(serial, 0, 1000) == expected


def test_a_load_made_while_serving_is_served(tmp_path):
    path = str(tmp_path / "meter.db")
    Scenario(meters=1, days=1, end=END, seed=3).create(LocalTarget(path))
    server = Rtu327Server(path)
    host, port = server.start_tcp("127.0.0.1", 0)
    try:
        with Rtu327Client(host, port) as client:
            client.get_version()
            summary = Scenario(meters=1, days=1, end=END + dt.timedelta(days=1), seed=4).create(LocalTarget(path))
            device_idx = summary.created[0].device_idx
            serial = rows(path, "SELECT Serial FROM ElectricConfig WHERE DeviceIdx = ?", (device_idx,))[0][0]
            record_id, stamp = records(path, device_idx, "ElDayEnergy")[-1]
            ap = rows(path, "SELECT Ap FROM ElectricEnergyValues WHERE Id = ? AND Tariff = 0", (record_id,))[0][0]
            assert client.get_pok(serial, stamp, ("A+",)) == {"A+": ap / 1000}
    finally:
        server.stop()


# ---- result codes -------------------------------------------------------------------------------------
def test_a_wrong_password_is_result_10(served):
    server, _, _ = served
    with Rtu327Client(*server._server.getsockname()[:2], password="FFFFFFFF") as client:
        with pytest.raises(BadPassword) as info:
            client.get_version()
    assert info.value.code == 10 and "bad password" in str(info.value)


def test_an_unknown_meter_is_bad_parameters(served):
    _, client, _ = served
    with pytest.raises(ResultError) as info:
        client.get_shprm("9999999999")
    assert info.value.code == f.Result.BAD_PARAMETERS


def test_an_unknown_command_is_result_5(served):
    _, client, _ = served
    with pytest.raises(ResultError) as info:
        client.exchange(200)
    assert info.value.code == f.Result.BAD_COMMAND


def raw_exchange(address, packet: bytes, size: int = 14) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(packet)
        answer = b""
        while len(answer) < size:
            chunk = sock.recv(size - len(answer))
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_bad_check_code_is_answered_as_the_device_does(served):
    server, _, _ = served
    import json
    import os
    vectors = json.load(open(os.path.join(os.path.dirname(__file__), "data", "rtu327", "vectors.json")))
    answer = raw_exchange(server._server.getsockname()[:2], bytes.fromhex(vectors["request_bad_crc"]["hex"]))
    assert answer == bytes.fromhex(vectors["answer_crc_error"]["hex"])    # device_tests.py:122


def test_a_locked_meter_db_is_a_db_error_not_a_crash(tmp_path, meter_db):
    path = str(tmp_path / "locked.db")
    shutil.copy(meter_db, path)
    server = Rtu327Server(path, busy_timeout=0.2)
    host, port = server.start_tcp("127.0.0.1", 0)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        serial = meter(path, "SE303")[1]
        writer.execute("BEGIN EXCLUSIVE")
        with Rtu327Client(host, port) as client:
            with pytest.raises(ResultError) as info:
                client.get_shprm(serial)
            assert info.value.code == f.Result.DB_ERROR
            writer.execute("ROLLBACK")
            assert client.get_shprm(serial).Vers == 1           # served again once the writer is done
    finally:
        writer.close()
        server.stop()


def test_ambiguous_last_ten_digits_are_refused(tmp_path):
    path = str(tmp_path / "twins.db")
    Scenario(meters=2, days=1, end=END, seed=3).create(LocalTarget(path))
    db = sqlite3.connect(path)
    db.execute("UPDATE ElectricConfig SET Serial = '11' || '1234567890' WHERE DeviceIdx = 1")
    db.execute("UPDATE ElectricConfig SET Serial = '22' || '1234567890' WHERE DeviceIdx = 2")
    db.commit()
    db.close()
    server = Rtu327Server(path)
    try:
        with Rtu327Client(*server.start_tcp("127.0.0.1", 0)) as client:
            with pytest.raises(ResultError) as info:
                client.get_shprm("1234567890")
            assert info.value.code == f.Result.BAD_PARAMETERS
    finally:
        server.stop()


# ---- hostile clients ---------------------------------------------------------------------------------
def test_junk_partial_frames_and_a_client_that_never_reads_do_not_stop_others(served):
    server, client, _ = served
    address = server._server.getsockname()[:2]
    good = f.encode_request(f.Command.GETVERSION)
    junk = socket.create_connection(address)
    junk.sendall(b"\xff" * 5000 + b"\x02\xff\xff" * 100 + good[:5])     # junk, then half a frame
    partial = socket.create_connection(address)
    partial.sendall(good[:7])
    deaf = socket.create_connection(address)
    deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def flood():   # requests, never reading an answer: ends only when the server drops it
        try:
            while True:
                deaf.sendall(good * 100)
        except OSError:
            pass

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        for _ in range(20):
            assert client.get_version() == "020102"
        junk.sendall(good[5:])                                           # the half frame completes
        expected = f.encode_answer(0, b"020102", 1)
        assert raw_exchange_on(junk, len(expected)) == expected
        thread.join(30)
        assert not thread.is_alive()      # the server dropped the client that never reads
    finally:
        for sock in (junk, partial, deaf):
            sock.close()
        thread.join(10)
    assert server.counters.get("junk bytes skipped", 0) > 0
    assert client.get_version() == "020102"


def raw_exchange_on(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(5)
    answer = b""
    while len(answer) < size:
        chunk = sock.recv(size - len(answer))
        if not chunk:
            break
        answer += chunk
    return answer


def test_many_clients_are_served(served):
    server, _, path = served
    address = server._server.getsockname()[:2]
    serial = meter(path, "SE303")[1]
    results = []

    def ask():
        with Rtu327Client(*address) as client:
            results.append(client.get_shprm(serial).Typ_Sh)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [100] * 20


def test_tou_is_the_newest_moment_reading_and_the_midnight_before_it(served):
    _, client, path = served
    device_idx, serial = meter(path, "Mercury23x")[:2]
    now_id, now = records(path, device_idx, "ElMomentEnergy")[-1]
    day_id, day = [r for r in records(path, device_idx, "ElDayEnergy") if r[1] <= now][-1]
    current, previous = client.get_tou(serial, "A+")
    assert (current.time, previous.time) == (now, day)
    assert current.values == tuple(v / 1000 for _, v in rows(
        path, "SELECT Tariff, Ap FROM ElectricEnergyValues WHERE Id = ? ORDER BY Tariff", (now_id,)))
