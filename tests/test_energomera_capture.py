"""The ``ce303`` protocol of the CLI (``imitation/energomera.py``): a generated SE303 served by the
CE imitator on a real TCP socket, captured into a real meter.db by ``capture ce303`` (a
subprocess), ``verify`` finding no violation, and the stored rows equal to what the generated
meter holds, stamped as the UM-40's daemon stored the CE303 emulator's answers
(../shared/reference/device-contract.md 1.2-1.6: ElDayEnergy at D 00:00 = ENDPE(D-1), ElMonthEnergy
at the 1st = ENMPE(previous month), GRAPE(D.N) at D 00:00 + 30 N min, AngAC negated on the wire
and back in the database); ``imitate ce303`` and ``decode ce303`` through the CLI."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from GenerateMeterData.imitation.energomera import GeneratedCE
from GenerateMeterData.imitation.meter import GeneratedMeter
from GenerateMeterData.model import timegrid
from GenerateMeterData.protocols.energomera import codec
from GenerateMeterData.protocols.energomera.client import CEClient
from GenerateMeterData.protocols.energomera.imitator import CEImitator
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
ZONE = "Europe/Moscow"
TZ = timegrid.zone(ZONE)
#: the meter's clock: 2 December 2026, 10:15:00 in Moscow
NOW = int(dt.datetime(2026, 12, 2, 10, 15, tzinfo=TZ).timestamp())


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def served():
    meter = GeneratedMeter("SE303", timezone=ZONE, clock=lambda: NOW)
    imitator = CEImitator([GeneratedCE(meter)], reaction_ms=0)
    url = imitator.start("tcp://127.0.0.1:0")
    yield meter, url
    imitator.stop()


def _by_ts(db, measure, column, where=""):
    return dict(rows(db, f"SELECT d.Timestamp, v.{column} FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                         f"JOIN {'ElectricPowerValues' if measure == 'ElArr1ConsPower' else 'ElectricEnergyValues'} v "
                         f"ON v.Id = d.Id WHERE a.Name = ? {where}", (measure,)))


def test_capture_ce303_writes_what_the_meter_holds_and_verify_accepts_it(served, tmp_path):
    meter, url = served
    db = str(tmp_path / "meter.db")
    result = cli("capture", "ce303", "--port", url, "--db", db, "--days", "2", "--timezone", ZONE)
    assert result.returncode == 0, result.stderr
    assert "captured meter " + meter.serial in result.stdout
    checked = cli("verify", "--db", db)
    assert checked.returncode == 0 and "all invariants hold" in checked.stdout, checked.stdout + checked.stderr

    midnight = {d: timegrid.local_midnight(dt.date(2026, 12, d), TZ) for d in (1, 2)}
    nov30 = timegrid.local_midnight(dt.date(2026, 11, 30), TZ)
    # the moment registers, Wh, tariff 0 and 1 (the meter's kWh with 3 decimals: exact)
    assert _by_ts(db, "ElMomentEnergy", "Ap", "AND v.Tariff = 1") == {NOW: meter.registers()[0][1]}
    # ElDayEnergy at D 00:00 = the registers at D 00:00 (ENDPE of the day before)
    assert _by_ts(db, "ElDayEnergy", "Ap", "AND v.Tariff = 0") == {
        nov30: meter.day_start(2)[0][0], midnight[1]: meter.day_start(1)[0][0], midnight[2]: meter.day_start(0)[0][0]}
    # ElMonthEnergy at the 1st = ENMPE(previous month) = the registers at the 1st 00:00
    nov1 = timegrid.local_midnight(dt.date(2026, 11, 1), TZ)
    assert _by_ts(db, "ElMonthEnergy", "Ap", "AND v.Tariff = 0") == {
        nov1: meter.day_start(31)[0][0], midnight[1]: meter.day_start(1)[0][0]}
    # the profile: GRAPE(D.N) stamped D 00:00 + 30 N min, average W; today's 20 complete slots
    profile = _by_ts(db, "ElArr1ConsPower", "Pp")
    expected = {}
    for days_ago, start in ((2, nov30), (1, midnight[1]), (0, midnight[2])):
        for slot, watts in enumerate(meter.profile(days_ago), start=1):
            if start + 1800 * slot <= NOW:
                expected[start + 1800 * slot] = watts
    assert len(expected) == 48 + 48 + 20
    assert profile == expected
    assert set(rows(db, "SELECT Period FROM ElectricPowerValues")) == {(30,)}
    # quality: AngAC went over the wire negated (CORUU) and is stored as the meter has it
    quality = meter.quality()
    stored = dict(rows(db, "SELECT Phase, Angle FROM ElectricQualityValues"))
    assert stored["C"] == quality["C"][6] and stored["A"] == quality["A"][6]
    assert rows(db, "SELECT Serial, Model FROM ElectricConfig") == [(meter.serial, "CE303")]


def test_the_wire_carries_ac_negated(served):
    meter, url = served
    with CEClient(url) as client:
        served_angles = client.read_text("CORUU")
    assert float(served_angles[2]) == -meter.quality()["C"][6]


def test_the_clock_corrections_of_the_story_are_served_in_jcort(served):
    meter, url = served
    events = [ts for ts, _ in meter.story.journal_events("ElJrnlTimeCorr")
              if NOW - meter.archive_days * 86400 <= ts <= NOW]
    assert events, "the story of this meter has clock corrections"
    with CEClient(url) as client:
        records = client.read_text("JCORT")
        assert client.read_text("PHASE") == []   # an imitated meter has no outages
    expected = [dt.datetime.fromtimestamp(ts, TZ).replace(second=0, tzinfo=None) for ts in events]
    assert [codec.parse_journal_record(r) for r in records] == [(moment, 1) for moment in expected]


def test_imitate_ce303_through_the_cli_serves_a_generated_se303_with_overrides(tmp_path):
    # values no generated meter has: 4321.125 kWh in tariff 1, 231.5 V on phase A; FREQU answers E12
    overrides = ["-o", "1.8.1:4321.125*kWh", "-o", "32.7.0:231.5", "-o", "FREQU:E12", "-o", "MODEL:999"]
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "ce303", "--seconds", "120",
                                "--ce-reaction-ms", "0", "--timezone", ZONE, *overrides], cwd=REPO, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("imitating a CE303 meter on socket://"), process.stderr.read()
        where = line.split(" on ", 1)[1].split()[0]
        expected = GeneratedMeter("SE303", timezone=ZONE)
        with CEClient(where, address=expected.serial[-9:]) as client:
            assert client.info("SNUMB") == expected.serial
            assert client.identification == "EKT5CE303v11"
            assert client.info("TAVER") == "30"
            assert client.info("MODEL") == "999"
            assert client.energy()[1] == 4_321_125
            assert client.read("VOLTA")[0] == 231.5
            with pytest.raises(codec.CEError) as caught:
                client.read("FREQU")
            assert caught.value.code == 12
        db = str(tmp_path / "meter.db")
        result = cli("capture", "ce303", "--port", where, "--db", db, "--timezone", ZONE)
        assert result.returncode == 0, result.stderr
    finally:
        process.terminate()
        process.wait(10)
    assert rows(db, "SELECT Ap FROM ElectricEnergyValues WHERE Tariff = 1") == [(4_321_125.0,)]
    assert rows(db, "SELECT U FROM ElectricQualityValues WHERE Phase = 'A'") == [(231.5,)]
    assert rows(db, "SELECT F FROM ElectricQualityValues WHERE Phase = 'Summ'") == [(None,)]  # E12: not measured


def test_decode_ce303_reads_a_frame_of_wb_mqtt_serials_log(tmp_path):
    frame = tmp_path / "frame.hex"
    # the CE102M's ET0PE answer (tests/data/energomera/wb_ce102m_poll.txt)
    frame.write_text("02 45 54 30 50 45 28 36 38 2E 34 32 29 0D 0A 28 34 35 2E 35 34 29 0D 0A 28 32 32 2E 38 38 29 "
                     "0D 0A 28 30 2E 30 30 29 0D 0A 28 30 2E 30 30 29 0D 0A 28 30 2E 30 30 29 0D 0A 03 0F")
    result = cli("decode", "ce303", str(frame))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["mnemonic"] == "ET0PE"
    assert document["values"] == ["68.42", "45.54", "22.88", "0.00", "0.00", "0.00"]
    frame.write_text("02 45 54 30 50 45 28 36 38 2E 34 32 29 0D 0A 03 0E")   # a wrong check character
    result = cli("decode", "ce303", str(frame))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "check character" in result.stderr
