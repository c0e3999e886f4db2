"""Meter types as the real meters are (issue 18, item 4): a seeded meter of every electric type
writes exactly what its type measures, its serial has the type's length, and two meters of
different types never share a story."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from faker import Faker

from GenerateMeterData import LocalTarget, MeterPlan, Scenario, verify
from GenerateMeterData.model.fakes import MeterDataProvider
from GenerateMeterData.schema.reference import METER_KINDS, METER_TYPES
from helpers import rows

ELECTRIC_TYPES = [name for _, name, _, kind in METER_TYPES if kind.family == "electric"]
QUALITY_COLUMNS = ("U", "I", "P", "Q", "S", "KP", "Angle", "F")


def seeded(tmp_path, plans, **kwargs):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = str(tmp_path / "meter.db")
    kwargs.setdefault("end", dt.date(2026, 3, 1))
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("days", 3)
    Scenario(meters=plans, **kwargs).create(LocalTarget(path))
    return path


def config(path, device_idx=1):
    [row] = rows(path, "SELECT Serial, Tariff, Reactive, ActiveReverse, ReactiveReverse FROM ElectricConfig "
                       "WHERE DeviceIdx = ?", (device_idx,))
    return dict(zip(("Serial", "Tariff", "Reactive", "ActiveReverse", "ReactiveReverse"), row))


def energy_cells(path, measure="ElDayEnergy"):
    return rows(path, "SELECT e.Tariff, e.Ap, e.Am, e.Rp, e.Rm FROM MeterData m "
                      "JOIN ElectricEnergyValues e ON e.Id = m.Id JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                      "WHERE a.Name = ? AND m.Valid = 1", (measure,))


def profile_cells(path):
    return rows(path, "SELECT p.Pp, p.Pm, p.Qp, p.Qm FROM MeterData m JOIN ElectricPowerValues p ON p.Id = m.Id")


def quality_cells(path):
    return rows(path, "SELECT q.Phase, " + ", ".join(f"q.{c}" for c in QUALITY_COLUMNS) + " FROM MeterData m "
                      "JOIN ElectricQualityValues q ON q.Id = m.Id WHERE m.Valid = 1 ORDER BY m.Timestamp, q.Phase")


@pytest.mark.parametrize("type_name", ELECTRIC_TYPES)
def test_each_electric_type_writes_exactly_what_it_measures(tmp_path, type_name):
    kind = METER_KINDS[type_name]
    path = seeded(tmp_path, [MeterPlan(type_name)])
    flags = config(path)
    assert (flags["Tariff"], flags["Reactive"], flags["ActiveReverse"], flags["ReactiveReverse"]) == \
        (int(kind.tariffs > 0), int(kind.reactive), int(kind.export), int(kind.reactive_export))
    assert re.fullmatch(kind.serial_pattern, flags["Serial"]) and len(flags["Serial"]) == kind.serial_digits

    energy = energy_cells(path)
    assert energy and {row[0] for row in energy} == ({0, 1, 2, 3, 4} if kind.tariffs else {0})
    for column, measured in ((1, True), (2, kind.export), (3, kind.reactive), (4, kind.reactive_export)):
        assert all((row[column] is not None) == measured for row in energy), (type_name, column)

    profile = profile_cells(path)
    assert bool(profile) == bool(kind.profile_periods)
    for column, measured in ((0, True), (1, kind.export), (2, kind.reactive), (3, kind.reactive_export)):
        assert all((row[column] is not None) == measured for row in profile), (type_name, column)

    quality = quality_cells(path)
    assert quality
    for index, quantity in enumerate(QUALITY_COLUMNS, start=1):
        written = any(row[index] is not None for row in quality)
        assert written == (quantity in kind.quality), (type_name, quantity)
    assert verify(path) == []


def test_active_energy_only_meters_have_no_reactive_register_or_profile(tmp_path):
    # Mercury 200.02 (type approval 64128-16), CE102 (its manual) and NEVA 103 measure active
    # energy only and keep no load profile: Reactive = 0, R+ NULL, no ElArr1ConsPower.
    path = seeded(tmp_path, [MeterPlan("Mercury200"), MeterPlan("SE102"), MeterPlan("NEVA1xx")])
    for device_idx in (1, 2, 3):
        assert config(path, device_idx)["Reactive"] == 0
    assert all(row[3] is None for row in energy_cells(path))
    assert profile_cells(path) == []
    # they report U, I and P, never Q, S or the power factor
    assert all(row[4] is None and row[5] is None and row[6] is None for row in quality_cells(path))
    assert verify(path) == []


def test_spodes_milur_flags_are_those_a_real_one_reported(tmp_path):
    # um40_smart_framework Setup.py: a real SPODES_MILUR answered isAm, isRm, isRp, isTrf = true
    # and serial '211500050411372'.
    path = seeded(tmp_path, [MeterPlan("SPODES_MILUR")])
    flags = config(path)
    assert (flags["Tariff"], flags["Reactive"], flags["ActiveReverse"], flags["ReactiveReverse"]) == (1, 1, 1, 1)
    assert re.fullmatch(r"\d{15}", flags["Serial"])


@pytest.mark.parametrize("type_name,pattern", [
    ("SE303", r"\d{15}"),          # the CE303 the device's daemon polled: 009218054000006
    ("SE102", r"\d{15}"),          # Energomera numbers its meters alike
    ("MILUR10x", r"\d{15}"),       # a real SPODES_MILUR: 211500050411372
    ("MILUR30x", r"\d{15}"),
    ("SPODES_MILUR", r"\d{15}"),
    ("SETxTM", r"\d{10}"),         # a SET-4TM.03M passport: 0814200459
    ("Mercury23x", r"\d{8}"),      # Mercury: 4 bytes of two decimal digits
    ("Pulsar", r"\d{8}"),
])
def test_serials_have_the_length_of_the_types_real_meters(type_name, pattern):
    specs = Scenario(meters=[MeterPlan(type_name, count=5)], days=1, seed=3).meter_specs(_ids())
    serials = [spec.config["Serial"] for spec in specs]
    assert all(re.fullmatch(pattern, serial) for serial in serials), serials
    assert len(set(serials)) == len(serials)


def _ids():
    from GenerateMeterData.records.rows import IdAllocator
    return IdAllocator()


def test_provider_serial_length_is_selectable():
    fake = Faker()
    fake.add_provider(MeterDataProvider)
    fake.seed_instance(1)
    assert re.fullmatch(r"[1-9]\d{14}", fake.meter_serial(digits=15))
    assert re.fullmatch(r"[1-9]\d{9}", fake.meter_serial("electric", 10))
    with pytest.raises(ValueError):
        fake.meter_serial(digits=0)


def meter_values(tmp_path, type_name):
    path = seeded(tmp_path, [MeterPlan(type_name, table={"MeterId": 1001})], seed=42)
    quality = [row for row in quality_cells(path) if row[0] == "A"]
    energy = sorted(row[1] for row in energy_cells(path) if row[0] == 0)
    return quality, energy


def test_two_types_with_one_meter_id_and_seed_never_share_values(tmp_path):
    # Same seed, same MeterId, same ordinal; both three-phase meters that measure everything.
    first_quality, first_energy = meter_values(tmp_path / "a", "SE303")
    second_quality, second_energy = meter_values(tmp_path / "b", "Mercury23x")
    assert len(first_quality) == len(second_quality) > 0
    assert all(a[1:] != b[1:] for a, b in zip(first_quality, second_quality))
    assert len(first_energy) == len(second_energy) > 0
    assert all(a != b for a, b in zip(first_energy, second_energy))
    # and a type is still reproducible on its own
    again_quality, again_energy = meter_values(tmp_path / "c", "SE303")
    assert (again_quality, again_energy) == (first_quality, first_energy)


def test_config_overrides_win_over_the_type(tmp_path):
    # A tester turns R+ on for a Mercury 200 and off for a CE303: the registers follow the config.
    path = seeded(tmp_path, [MeterPlan("Mercury200", config={"Reactive": 1}),
                             MeterPlan("SE303", config={"Reactive": 0})])
    assert (config(path, 1)["Reactive"], config(path, 2)["Reactive"]) == (1, 0)
    by_device = rows(path, "SELECT m.DeviceIdx, e.Rp FROM MeterData m JOIN ElectricEnergyValues e ON e.Id = m.Id "
                           "JOIN ArchTypes a ON a.Id = m.RecordTypeId WHERE a.Name = 'ElDayEnergy'")
    assert all(rp is not None for device, rp in by_device if device == 1)
    assert all(rp is None for device, rp in by_device if device == 2)


def test_measures_asked_for_by_name_are_written_whatever_the_type(tmp_path):
    # A profile is not what a Mercury 200 keeps, but a tester who asks for one gets it.
    path = seeded(tmp_path, [MeterPlan("Mercury200")], measures=["ElDayEnergy", "ElArr1ConsPower"])
    profile = profile_cells(path)
    assert len(profile) == 3 * 48
    assert all(pp is not None and qp is None for pp, _, qp, _ in profile)


@pytest.mark.usefixtures("seed_api_clock")
def test_seed_api_meters_of_two_types_with_one_meter_id_differ(tmp_path, monkeypatch):
    # The seed API numbers a meter's story by its MeterId: meter 1001 of a CE303 and meter 1001
    # of a Mercury 234 (two databases, one seed) must not report the same instant values.
    import GenerateMeterData

    def quality(type_name):
        folder = tmp_path / type_name
        folder.mkdir()
        monkeypatch.chdir(folder)
        GenerateMeterData.configure(LocalTarget(str(folder / "meter.db")))
        meter = GenerateMeterData.MeterTable(Type=type_name).get("MeterTable")
        assert meter["MeterId"] == 1001
        records = GenerateMeterData.ElMomentQuality(MeterTable=meter, Count_timestamp=4).get("ElMomentQuality")
        return [(r["UA"], r["IA"], r["PA"]) for r in records]

    first, second = quality("SE303"), quality("Mercury23x")
    assert len(first) == len(second) == 4
    assert all(a != b for a, b in zip(first, second))
