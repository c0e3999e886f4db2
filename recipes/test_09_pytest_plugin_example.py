"""A test suite a tester writes against a USPD with the pytest plugin: seed, check, and let
the plugin clean up.  On a laptop it runs against a fresh local meter.db; on a bench point it at
the device:

    pytest recipes/test_09_pytest_plugin_example.py
    pytest recipes/test_09_pytest_plugin_example.py --meterdata-settings settings.ini --meterdata-section Test
"""
import sqlite3

import pytest


def test_a_month_of_data_for_two_meters(meterdata, meterdata_target):
    summary = meterdata.scenario(meters=2, days=30, seed=9)
    assert summary.meters == 2
    with meterdata_target.readable_copy() as path:
        days = sqlite3.connect(path).execute(
            "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
            "WHERE a.Name = 'ElDayEnergy'").fetchone()[0]
    assert days == 2 * 31
    # here a real suite asks the device's JSON API / RTU-327 for the same days and compares


def test_seed_api_classes_as_fixtures(meter_table_factory, el_config_factory, journal_factory):
    from GenerateMeterData import JournalName
    mt = meter_table_factory()
    cfg = el_config_factory(MeterTable=mt.get("MeterTable"))
    journal = journal_factory(RecordTypeId=JournalName.ElJrnlOpen, MeterTable=cfg.get("MeterTable"),
                              ElConfig=cfg.get("ElConfig"), Count_timestamp=3)
    assert [r["event"] for r in journal.get("ElJrnlOpen")] == [0, 0, 0]


@pytest.mark.meterdata_device
def test_only_on_a_real_device(meterdata):
    meterdata.scenario(meters=1, days=1)
    # e.g. poll the device's HTTP API here; skipped on a laptop with a clear reason
