"""Overrides land verbatim; values derived from them follow unless overridden too."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from GenerateMeterData import MeterPlan, Override, OverrideError, Scenario, verify
from GenerateMeterData.schema.layout import named
from helpers import energy_by_ts, rows

END = dt.date(2026, 3, 1)


def build(**kwargs):
    kwargs.setdefault("end", END)
    kwargs.setdefault("days", 2)
    kwargs.setdefault("seed", 5)
    kwargs.setdefault("meters", [MeterPlan("SE303")])
    return Scenario(**kwargs)


def energy_rows(rowset, record_ids):
    """{record id: {tariff: row with .Ap, .Am, .Rp, .Rm}} (rows read by column name)."""
    out = {}
    for row in rowset["ElectricEnergyValues"]:
        row = named("ElectricEnergyValues", row)
        if row.Id in record_ids:
            out.setdefault(row.Id, {})[row.Tariff] = row
    return out


def headers(rowset, rtid):
    return [named("MeterData", h) for h in rowset["MeterData"] if named("MeterData", h).RecordTypeId == rtid]


def ids_of(rowset, rtid):
    return {h.Id for h in headers(rowset, rtid)}


DAY_ENERGY = 5  # ArchTypes id of ElDayEnergy in a fresh database


def test_override_tariff_and_total_follows():
    rowset = build(overrides={"ElDayEnergy": {"A+1": 5.0}}).build()
    for tariffs in energy_rows(rowset, ids_of(rowset, DAY_ENERGY)).values():
        assert tariffs[1].Ap == 5.0
        assert tariffs[0].Ap == pytest.approx(5.0 + sum(tariffs[t].Ap for t in (2, 3, 4)), abs=1e-6)


def test_override_both_lands_verbatim():
    rowset = build(overrides={"ElDayEnergy": {"A+1": 5.0, "A+0": 1.0}}).build()
    for tariffs in energy_rows(rowset, ids_of(rowset, DAY_ENERGY)).values():
        assert (tariffs[1].Ap, tariffs[0].Ap) == (5.0, 1.0)


def test_override_to_none_writes_null(tmp_path):
    from GenerateMeterData import LocalTarget
    path = str(tmp_path / "m.db")
    build(overrides={"ElDayEnergy": {"R+2": None}}).create(LocalTarget(path))
    assert rows(path, "SELECT count(*) FROM ElectricEnergyValues e JOIN MeterData m ON m.Id = e.Id "
                      "WHERE m.RecordTypeId = 5 AND e.Tariff = 2 AND e.Rp IS NULL")[0][0] == 3
    # R+0 of those records cannot be a sum any more: it becomes NULL as well (derived from a NULL)
    assert rows(path, "SELECT count(*) FROM ElectricEnergyValues e JOIN MeterData m ON m.Id = e.Id "
                      "WHERE m.RecordTypeId = 5 AND e.Tariff = 0 AND e.Rp IS NULL")[0][0] == 3


def test_quality_override_derived_values_follow():
    rowset = build(overrides={"ElMomentQuality": {"PA": 1000.0}}).build()
    by_id = {}
    for row in rowset["ElectricQualityValues"]:
        row = named("ElectricQualityValues", row)
        by_id.setdefault(row.Id, {})[row.Phase] = row
    assert by_id
    for phases in by_id.values():
        a = phases["A"]
        u, i, p, q, s, kp = a.U, a.I, a.P, a.Q, a.S, a.KP
        assert p == 1000.0
        assert s == pytest.approx(math.hypot(1000.0, q), abs=1e-3)
        assert kp == pytest.approx(1000.0 / s, abs=1e-4)
        assert i == pytest.approx(s / u, abs=1e-3)
        assert phases["Summ"].P == pytest.approx(1000.0 + phases["B"].P + phases["C"].P, abs=1e-3)


def test_valid_zero_override_drops_children():
    rowset = build(overrides={"ElArr1ConsPower": {"Valid": 0}}).build()
    profile = headers(rowset, 10)
    assert profile and all(h.Valid == 0 for h in profile)
    assert rowset["ElectricPowerValues"] == []


def test_override_only_at_one_date():
    day = dt.date(2026, 2, 28)
    rowset = build(overrides=[Override("ElDayEnergy", {"A+3": 0.0}, at=day)]).build()
    values = {h.Timestamp: h.Id for h in headers(rowset, DAY_ENERGY)}
    tariffs = energy_rows(rowset, set(values.values()))
    changed = [ts for ts, rid in values.items() if tariffs[rid][3].Ap == 0.0]
    assert len(changed) == 1
    assert dt.datetime.fromtimestamp(changed[0], dt.timezone(dt.timedelta(hours=3))).date() == day


def test_day_energy_override_makes_consumption_follow(tmp_path):
    from GenerateMeterData import LocalTarget
    path = str(tmp_path / "m.db")
    day = dt.date(2026, 2, 28)
    build(overrides=[Override("ElDayEnergy", {"A+1": 1.0}, at=day)]).create(LocalTarget(path))
    days = energy_by_ts(path, 1, "ElDayEnergy")
    cons = energy_by_ts(path, 1, "ElDayConsEnergy")
    stamps = sorted(days)
    for a, b in zip(stamps, stamps[1:]):
        assert cons[a][1][0] == pytest.approx(days[b][1][0] - days[a][1][0], abs=1e-6)
    # the story is now deliberately broken: the register went backwards, and verify says so
    problems = verify(path)
    assert any("decreased" in v.rule for v in problems)


def test_unknown_tag_names_the_valid_ones():
    with pytest.raises(OverrideError) as info:
        build(overrides={"ElDayEnergy": {"A+9": 1}})
    assert "unknown tag 'A+9'" in str(info.value) and "A+0" in str(info.value)


def test_wrong_type_is_refused():
    with pytest.raises(OverrideError, match="takes a number"):
        build(overrides={"ElDayEnergy": {"A+1": "lots"}})
    with pytest.raises(OverrideError, match="takes text"):
        build(meters=[MeterPlan("SE303", config={"serial": 123})]).build()


def test_unknown_measure_is_refused():
    with pytest.raises(OverrideError, match="unknown measure 'ElDayEnergyy'"):
        build(overrides={"ElDayEnergyy": {"A+1": 1}})


def test_meter_table_and_config_overrides_land(tmp_path):
    from GenerateMeterData import LocalTarget
    path = str(tmp_path / "m.db")
    weird = "O'Brien; DROP TABLE MeterTable; -- \"счётчик\"\n"
    build(meters=[MeterPlan("SE303", table={"MeterId": 4242, "Address": weird},
                            config={"serial": weird, "kI": 40.0})]).create(LocalTarget(path))
    assert rows(path, "SELECT MeterId, Address FROM MeterTable") == [(4242, weird)]
    assert rows(path, "SELECT Serial, CurrentCoeff FROM ElectricConfig") == [(weird, 40.0)]
