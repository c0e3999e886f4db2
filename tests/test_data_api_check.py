"""The data-API check: every value of a seeded meter.db served as loaded, and exactly the
mismatches planted in a copy the stand-in serves (the expectation read from the file with the
tests' own SQL, tests/meterdb_values.py)."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest

from GenerateMeterData import LocalTarget, Scenario
from GenerateMeterData.device.check_data_api import EPSILON, DataApiInterface, same
from GenerateMeterData.device.checking import Mismatch, Value
from helpers import execute, rows
from meterdb_values import POWER, read_values


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """(path, Values) of three meters over two days."""
    path = str(tmp_path_factory.mktemp("check") / "meter.db")
    Scenario(meters=3, days=2, end=dt.date(2026, 3, 1), seed=5).create(LocalTarget(path))
    return path, read_values(path)


def test_a_seeded_load_is_served_as_loaded(loaded):
    path, values = loaded
    measures = {value.measure for value in values}
    assert {"ElConfig", "ElDayEnergy", "ElArr1ConsPower", "ElMomentQuality"} <= measures
    interface = DataApiInterface(LocalTarget(path))
    count, mismatches = interface.compare(values)
    assert (count, mismatches) == (len(values), [])
    assert interface.requests == len(measures)  # one request per measure for three meters


def test_small_requests_find_the_same(loaded):
    path, values = loaded
    interface = DataApiInterface(LocalTarget(path), records_per_request=50)
    count, mismatches = interface.compare(values)
    assert (count, mismatches) == (len(values), [])
    assert interface.requests > len({value.measure for value in values})


def test_exactly_the_planted_mismatches_are_reported(loaded, tmp_path):
    path, values = loaded
    copy = str(tmp_path / "served.db")
    shutil.copy(path, copy)
    meters = dict(rows(copy, "SELECT DeviceIdx, MeterId FROM MeterTable"))
    # 1. a register changed: tariff 0 A+ of one ElDayEnergy record
    rid, idx, ts, ap = rows(copy, "SELECT m.Id, m.DeviceIdx, m.Timestamp, e.Ap FROM MeterData m JOIN ArchTypes a "
                                  "ON a.Id = m.RecordTypeId JOIN ElectricEnergyValues e ON e.Id = m.Id AND e.Tariff = 0 "
                                  "WHERE a.Name = 'ElDayEnergy' ORDER BY m.Id LIMIT 1")[0]
    execute(copy, f"UPDATE ElectricEnergyValues SET Ap = Ap + 1.5 WHERE Id = {rid} AND Tariff = 0")
    planted = {(meters[idx], "ElDayEnergy", ts, "A+0"): (ap, ap + 1.5)}
    # 2. a profile slot removed (its header and its row)
    rid, idx, ts = rows(copy, "SELECT m.Id, m.DeviceIdx, m.Timestamp FROM MeterData m JOIN ArchTypes a ON "
                              "a.Id = m.RecordTypeId WHERE a.Name = 'ElArr1ConsPower' ORDER BY m.Id LIMIT 1 OFFSET 7")[0]
    slot = {v.tag: v.value for v in values if v.measure == "ElArr1ConsPower" and v.device_idx == idx and v.ts == ts}
    execute(copy, f"DELETE FROM ElectricPowerValues WHERE Id = {rid}", f"DELETE FROM MeterData WHERE Id = {rid}")
    assert set(slot) == set(POWER)
    planted.update({(meters[idx], "ElArr1ConsPower", ts, tag): (value, None) for tag, value in slot.items()})
    # 3. a config flag flipped: the column Reactive, which the data API serves as isAm (by position)
    idx, ts, reactive = rows(copy, "SELECT DeviceIdx, Timestamp, Reactive FROM ElectricConfig "
                                   "ORDER BY DeviceIdx DESC LIMIT 1")[0]
    execute(copy, f"UPDATE ElectricConfig SET Reactive = {1 - reactive} WHERE DeviceIdx = {idx}")
    planted[(meters[idx], "ElConfig", ts, "isAm")] = (reactive, not reactive)

    count, mismatches = DataApiInterface(LocalTarget(copy)).compare(values)
    assert count == len(values)
    assert {(m.meter_id, m.measure, m.ts, m.tag): (m.expected, m.served) for m in mismatches} == planted
    assert len(mismatches) == len(planted) == 1 + 8 + 1
    assert all(m.interface == "data-api" for m in mismatches)


def test_a_value_named_by_its_column_is_compared_under_the_api_tag(loaded):
    path, values = loaded
    config = next(v for v in values if v.measure == "ElConfig" and v.tag == "isAm")
    by_column = Value(config.device_idx, config.meter_id, config.serial, "ElConfig", config.ts, "Reactive",
                      1 - config.value)
    header = Value(config.device_idx, config.meter_id, config.serial, "ElConfig", config.ts, "Timestamp", config.ts)
    count, mismatches = DataApiInterface(LocalTarget(path)).compare([by_column, header])
    assert count == 1  # the Timestamp is no value of the data API: not compared
    assert mismatches == [Mismatch(config.meter_id, "ElConfig", config.ts, "data-api", "isAm", 1 - config.value,
                                   bool(config.value))]


def test_a_value_of_a_meter_the_device_does_not_know_is_not_served(loaded):
    path, _ = loaded
    value = Value(99, 9999, "", "ElDayEnergy", 1772139600, "A+0", 1.0)
    count, mismatches = DataApiInterface(LocalTarget(path)).compare([value])
    assert (count, mismatches) == (1, [Mismatch(9999, "ElDayEnergy", 1772139600, "data-api", "A+0", 1.0, None)])


def test_pulse_and_digital_modules_are_served_as_loaded_and_a_flipped_input_is_found(tmp_path):
    from GenerateMeterData import MeterPlan

    path = str(tmp_path / "modules.db")
    Scenario(meters=[MeterPlan("Pulsar"), MeterPlan("UMTV10")], days=2, end=dt.date(2026, 3, 1),
             seed=4).create(LocalTarget(path))
    values = read_values(path)
    measures = {value.measure for value in values}
    assert {"PlsConfig", "DigConfig"} <= measures and any(m.startswith("Pls") and m != "PlsConfig" for m in measures)
    assert any(m.startswith("Dig") and m != "DigConfig" for m in measures)
    assert DataApiInterface(LocalTarget(path)).compare(values) == (len(values), [])
    rid, idx, ts, name, state = rows(path, "SELECT m.Id, m.DeviceIdx, m.Timestamp, a.Name, d.Chnl3 FROM MeterData m "
                                           "JOIN ArchTypes a ON a.Id = m.RecordTypeId JOIN DigitalValues d ON d.Id = m.Id "
                                           "ORDER BY m.Id LIMIT 1")[0]
    execute(path, f"UPDATE DigitalValues SET Chnl3 = {1 - state} WHERE Id = {rid}")
    meter = rows(path, "SELECT MeterId FROM MeterTable WHERE DeviceIdx = ?", (idx,))[0][0]
    assert DataApiInterface(LocalTarget(path)).compare(values)[1] == \
        [Mismatch(meter, name, ts, "data-api", "Chnl3", state, not state)]  # input states as JSON booleans


@pytest.mark.parametrize("expected, served, boolean, equal", [
    (1.0, 1.0, False, True),
    (0.5, 0.5 + 5e-8, False, True),          # within the testers' 5.96e-8
    (0.5, 0.5 + 7e-8, False, False),
    (502733464.402, 502733464.402, False, True),
    (502733464.402, 502733464.402 + 1e-7, False, False),  # absolute, as the testers compare
    (124454980.297, 124454981.797, False, False),
    (30, 30, False, True), (30, 31, False, False), (30, 30.0, False, True),
    (1, True, True, True), (0, False, True, True), (1, False, True, False), (1, 1, True, False),
    (None, None, False, True), (None, 0.0, False, False), (0.0, None, False, False),
    ("0110188597", "0110188597", False, True), ("0110188597", 110188597, False, False),
    (1, True, False, False),
])
def test_the_comparison_rule(expected, served, boolean, equal):
    assert EPSILON == 5.96e-08  # smart40_tests Template_checkup_from_Meter_db_data_API.py, line 104
    assert same(expected, served, boolean) is equal
