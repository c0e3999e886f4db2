"""The seed's API, called exactly as existing scripts call it."""
from __future__ import annotations

import os

import pytest

import GenerateMeterData
from GenerateMeterData import InputError, LocalTarget, OverrideError
from helpers import rows

pytestmark = pytest.mark.usefixtures("seed_api_clock")   # the API's records end "now": a fixed now


@pytest.fixture
def target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    GenerateMeterData.configure(LocalTarget(str(tmp_path / "meter.db")))
    return str(tmp_path / "meter.db")


def test_seed_example_runs_verbatim(target):
    mt = GenerateMeterData.MeterTable()
    cfg = GenerateMeterData.ElConfig(MeterTable=mt.get('MeterTable'))
    j = GenerateMeterData.Journal(RecordTypeId=GenerateMeterData.JournalName.ElJrnlLimPwr,
                                  MeterTable=cfg.get('MeterTable'), ElConfig=cfg.get('ElConfig'),
                                  Redefine_tag={"Valid": 0})
    meter = mt.get('MeterTable')
    assert meter["MeterId"] == 1001 and meter["DeviceIdx"] == 1
    assert cfg.get('ElConfig')["serial"]
    [record] = j.get('ElJrnlLimPwr')
    assert record["Valid"] == 0
    assert rows(target, "SELECT m.Valid, a.Name FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId") == [
        (0, "ElJrnlLimPwr")]
    assert rows(target, "SELECT count(*) FROM JournalValues")[0][0] == 0
    assert rows(target, "SELECT count(*) FROM ElectricConfig")[0][0] == 1


def test_no_settings_writes_meter_db_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    GenerateMeterData.set_default_target(None)
    GenerateMeterData.MeterTable()
    assert (tmp_path / "Meter.db").exists()
    assert rows(str(tmp_path / "Meter.db"), "SELECT MeterId FROM MeterTable") == [(1001,)]


def test_missing_parents_are_created_first(target):
    energy = GenerateMeterData.ElDayEnergy(Count_timestamp=3)
    assert energy.get('MeterTable')["DeviceIdx"] == 1
    assert energy.get('ElConfig')["serial"]
    assert len(energy.get('ElDayEnergy')) == 3
    assert rows(target, "SELECT count(*) FROM ElectricConfig")[0][0] == 1


def test_separate_calls_tell_one_story(target):
    mt = GenerateMeterData.MeterTable()
    cfg = GenerateMeterData.ElConfig(MeterTable=mt.get('MeterTable'))
    days = GenerateMeterData.ElDayEnergy(MeterTable=mt.get('MeterTable'), ElConfig=cfg.get('ElConfig'),
                                         Count_timestamp=4).get('ElDayEnergy')
    cons = GenerateMeterData.ElDayConsEnergy(MeterTable=mt.get('MeterTable'), ElConfig=cfg.get('ElConfig'),
                                             Count_timestamp=3).get('ElDayConsEnergy')
    assert [c["Timestamp"] for c in cons] == [d["Timestamp"] for d in days[:-1]]
    for c, a, b in zip(cons, days, days[1:]):
        for tag in ("A+0", "A+1", "R+2"):
            assert c[tag] == pytest.approx(b[tag] - a[tag], abs=1e-6)
    assert GenerateMeterData.verify(target) == []


def test_redefine_tag_and_derived_sum(target):
    e = GenerateMeterData.ElMomentEnergy(Count_timestamp=2, Redefine_tag={"A+1": 5})
    for record in e.get('ElMomentEnergy'):
        assert record["A+1"] == 5
        assert record["A+0"] == pytest.approx(5 + record["A+2"] + record["A+3"] + record["A+4"], abs=1e-6)


@pytest.mark.parametrize("cls,tag", [("ElMomentQuality", "UA"), ("ElArr1ConsPower", "P+"),
                                     ("ElMonthEnergy", "A+0"), ("ElMonthConsEnergy", "R+0"),
                                     ("PlsMomentPulse", "Pls1"), ("PlsDayPulse", "Pls1"),
                                     ("PlsMonthPulse", "Pls1"), ("PlsHourPulse", "Pls1"),
                                     ("DigMomentState", "Chnl1"), ("DigJournalState", "Chnl1")])
def test_every_measure_class_writes_records(target, cls, tag):
    obj = getattr(GenerateMeterData, cls)(Count_timestamp=2)
    records = obj.get(cls)
    assert len(records) == 2 and all(r[tag] is not None for r in records)
    assert rows(target, "SELECT count(*) FROM MeterData")[0][0] == 2


def test_every_journal_name_resolves(target):
    mt = GenerateMeterData.MeterTable()
    names = [n for n in GenerateMeterData.JournalName if n.value != "PlsJrnlTimeCorr"]
    assert len(names) == 42  # ArchTypes 17..58
    for name in names:
        j = GenerateMeterData.Journal(RecordTypeId=name, MeterTable=mt.get('MeterTable'), Count_timestamp=2)
        assert [r["eventId"] for r in j.get(name.value)] == sorted(r["eventId"] for r in j.get(name.value))
    assert GenerateMeterData.verify(target) == []


def test_bad_input_is_one_clear_error(target):
    with pytest.raises(InputError, match="unknown journal 'ElJrnlNope'"):
        GenerateMeterData.Journal(RecordTypeId="ElJrnlNope")
    with pytest.raises(InputError, match="Count_timestamp must be a whole number"):
        GenerateMeterData.ElDayEnergy(Count_timestamp=-1)
    with pytest.raises(OverrideError, match="unknown tag 'Bogus'"):
        GenerateMeterData.MeterTable(redefine_tag={"Bogus": 1})
    assert not os.path.exists(target)  # nothing was written, not even an empty database


def test_duplicate_records_are_refused_and_nothing_written(target):
    mt = GenerateMeterData.MeterTable()
    GenerateMeterData.ElDayEnergy(MeterTable=mt.get('MeterTable'), Count_timestamp=2)
    before = rows(target, "SELECT count(*) FROM MeterData")[0][0]
    with pytest.raises(GenerateMeterData.DuplicateRecordError):
        GenerateMeterData.ElDayEnergy(MeterTable=mt.get('MeterTable'), Count_timestamp=2)
    assert rows(target, "SELECT count(*) FROM MeterData")[0][0] == before
