"""The poll check (imitation/poll_check.py): a line's MeterTable rows written into a real meter.db,
the project's own capture standing in for the device's poll, then the check: 0 mismatches for
the honest poll, exactly the planted faults otherwise (a meter told to serve another value, a
stored row changed afterwards)."""
from __future__ import annotations

import sqlite3

import pytest

from GenerateMeterData.imitation.line import Line, LineScenario, line_meters
from GenerateMeterData.imitation.poll_check import check_poll, poll_with_capture, register_line

COUNTS = {"mercury200": 2, "mercury230": 2, "ce303": 1, "iec": 2, "mbus": 1, "dlms": 1}
TZ = "Europe/Moscow"


@pytest.fixture
def target(tmp_path):
    from GenerateMeterData.targets.local import LocalTarget

    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    with LocalTarget(path, timezone=TZ) as t:
        yield t, path


def _run(scenario, target):
    meters = line_meters(scenario)
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    try:
        register_line(meters, target)
        poll_with_capture(meters, where, target, TZ)
    finally:
        served.stop()
    return meters


def test_honest_poll_has_no_mismatch_and_a_changed_row_is_one(target):
    t, path = target
    meters = _run(LineScenario(dict(COUNTS), seed=11, timezone=TZ), t)
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM MeterTable").fetchone()[0]
    assert rows == len(meters)   # the capture joined the registered meters, made none of its own
    result = check_poll(meters, t)
    assert result.meters_not_polled == []
    assert result.checked > 9 * 5
    assert [m.line() for m in result.mismatches] == []
    # a stored value changed afterwards: A+ tariff 2 of the first Mercury 230, +1 kWh
    victim = next(m for m in meters if m.protocol == "mercury230")
    db = sqlite3.connect(path)
    db.execute("UPDATE ElectricEnergyValues SET Ap = Ap + 1000 WHERE Tariff = 2 AND Id IN (SELECT d.Id FROM MeterData d "
               "JOIN ElectricConfig c ON c.DeviceIdx = d.DeviceIdx WHERE c.Serial = ?)", (victim.serial,))
    db.commit()
    db.close()
    result = check_poll(meters, t)
    assert [(m.number, m.what) for m in result.mismatches] == [(victim.number, "ElMomentEnergy A+ tariff 2")]


def test_a_meter_serving_another_value_is_reported(target):
    t, _ = target
    scenario = LineScenario(dict(COUNTS), seed=11, timezone=TZ)
    iec_number = next(m.number for m in line_meters(scenario) if m.protocol == "iec")
    scenario.overrides = {iec_number: ["1.8.1:1.000*kWh"]}
    meters = _run(scenario, t)
    result = check_poll(meters, t)
    assert [(m.number, m.what, m.stored) for m in result.mismatches] == \
        [(iec_number, "ElMomentEnergy A+ tariff 1", 1000.0)]
