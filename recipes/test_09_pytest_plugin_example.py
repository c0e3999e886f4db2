"""A test suite a tester writes against a USPD with the pytest plugin: seed, check, and let
the plugin clean up.  On a laptop it runs against a fresh local meter.db; on a bench point it at
the device (which may hold other meters: every check reads only the rows its own loads created):

    pytest recipes/test_09_pytest_plugin_example.py
    pytest recipes/test_09_pytest_plugin_example.py --meterdata-settings settings.ini --meterdata-section Test
"""
import pytest


@pytest.fixture(scope="module")
def neighbours(meterdata_module):
    """Three meters shared by this module's tests: loaded once, removed after the module."""
    return meterdata_module.scenario(meters=3, days=2, seed=1)


def in_list(values):
    """``(?, ?, ...)`` for ``WHERE x IN (...)`` with bound values."""
    return "(" + ", ".join("?" * len(values)) + ")"


def test_a_month_of_data_for_two_meters(meterdata, meterdata_query, neighbours):
    summary = meterdata.scenario(meters=2, days=30, seed=9)
    assert len(summary.meter_ids) == 2 and len(summary.device_idxs) == 2
    days = meterdata_query(
        "SELECT m.DeviceIdx, count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
        f"WHERE a.Name = 'ElDayEnergy' AND m.DeviceIdx IN {in_list(summary.device_idxs)} GROUP BY m.DeviceIdx",
        summary.device_idxs)
    assert sorted(days) == [(idx, 31) for idx in sorted(summary.device_idxs)]  # 30 days back: 31 midnights
    # the module's meters are there too, and are not ours
    assert not set(neighbours.meter_ids) & set(summary.meter_ids)
    # here a real suite asks the device's JSON API / RTU-327 for the same days and compares


def test_seed_api_classes_as_fixtures(meter_table_factory, el_config_factory, journal_factory, meterdata,
                                      meterdata_query, neighbours):
    from GenerateMeterData import JournalName
    mt = meter_table_factory()
    cfg = el_config_factory(MeterTable=mt.get("MeterTable"))
    journal = journal_factory(RecordTypeId=JournalName.ElJrnlOpen, MeterTable=cfg.get("MeterTable"),
                              ElConfig=cfg.get("ElConfig"), Count_timestamp=3)
    assert [r["event"] for r in journal.get("ElJrnlOpen")] == [0, 0, 0]
    assert meterdata.meter_ids == [mt.get("MeterTable")["MeterId"]]  # the one meter this test created
    rows = meterdata_query("SELECT MeterId FROM MeterTable WHERE MeterId IN " + in_list(neighbours.meter_ids),
                           neighbours.meter_ids)
    assert sorted(r[0] for r in rows) == sorted(neighbours.meter_ids)  # loaded once, still there


@pytest.mark.meterdata_device
def test_only_on_a_real_device(meterdata):
    meterdata.scenario(meters=1, days=1)
    # e.g. poll the device's HTTP API here; skipped on a laptop with a clear reason
