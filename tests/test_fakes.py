"""The registry's text comes from a seeded Faker with our MeterDataProvider: reproducible per seed,
locale selectable, and the provider works in a tester's own Faker."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from faker import Faker

from GenerateMeterData import MeterPlan, Scenario, StoryOptions
from GenerateMeterData.errors import InputError
from GenerateMeterData.model.fakes import MeterDataProvider
from GenerateMeterData.schema.layout import TABLE_COLUMNS

END = dt.date(2026, 1, 10)


def registry(**options):
    rows = Scenario(meters=[MeterPlan("SE303", count=3), MeterPlan("Pulsar"),
                            MeterPlan("MILUR IC", children=[MeterPlan("Mercury200")])],
                    days=1, end=END, seed=9, options=StoryOptions(**options)).build()
    return [dict(zip(TABLE_COLUMNS["MeterTable"], row)) for row in rows["MeterTable"]], rows


def test_provider_in_a_testers_own_faker():
    fake = Faker("ru_RU")
    fake.add_provider(MeterDataProvider)
    fake.seed_instance(2024)
    first = [fake.meter_serial(), fake.meter_serial("pulse"), fake.meter_interface_config(),
             fake.meter_ethernet_address(), fake.meter_bus_address(family="pulse")]
    fake.seed_instance(2024)
    assert [fake.meter_serial(), fake.meter_serial("pulse"), fake.meter_interface_config(),
            fake.meter_ethernet_address(), fake.meter_bus_address(family="pulse")] == first
    serial, pulse_serial, line, ethernet, bus = first
    assert re.fullmatch(r"[1-9]\d{8}", serial) and re.fullmatch(r"[1-9]\d{7}", pulse_serial)
    assert re.fullmatch(r"(2400|9600|19200),8[ne]1", line)
    assert re.fullmatch(r"192\.168\.\d{1,3}\.\d{1,3}:(4001|5000|8899)", ethernet)
    assert 1 <= int(bus) <= 247
    assert fake.meter_bus_address("123456789") == "23456789"
    assert (fake.meter_password(1), fake.meter_password(2)) == ("111111", "222222")


def test_registry_text_is_faker_text_reproducible_per_seed():
    meters, rows = registry()
    again, _ = registry()
    assert meters == again
    configs = {row[0]: row for row in rows["ElectricConfig"]}
    electric = [m for m in meters if m["DeviceIdx"] in configs]
    assert len(electric) == 4
    serial_at = TABLE_COLUMNS["ElectricConfig"].index("Serial")
    # serials as the type's real meters carry them: an Energomera CE303 15 digits (the one the
    # device's daemon polled: 009218054000006), a Mercury 8; a meter on a serial bus answers to
    # the last 8 digits of its serial
    lengths = {1: 15, 2: 15, 3: 15, 6: 8}  # DeviceIdx: SE303 x3, and the Mercury200 behind the hub
    for meter in electric:
        serial = configs[meter["DeviceIdx"]][serial_at]
        assert re.fullmatch(r"[1-9]\d{%d}" % (lengths[meter["DeviceIdx"]] - 1), serial), serial
        assert meter["Address"] == serial[-8:]
    hub = next(m for m in meters if m["ParentId"] == 0 and re.search(r":\d+$", m["Address"]))
    assert hub["InterfaceConfig"] == ""
    assert len({configs[m["DeviceIdx"]][serial_at] for m in electric}) == len(electric)


def test_locale_is_selectable_and_checked():
    default, default_rows = registry()
    russian, russian_rows = registry(locale="ru_RU")
    assert len(russian) == len(default)
    assert russian_rows["ElectricEnergyValues"] == default_rows["ElectricEnergyValues"]  # only text may differ
    with pytest.raises(InputError, match="unknown Faker locale 'xx_XX'"):
        registry(locale="xx_XX")
