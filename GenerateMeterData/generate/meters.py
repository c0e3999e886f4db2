"""Meter registry and config rows: who a meter is (MeterTable) and what it can measure
(ElectricConfig / PulseConfig / DigitalConfig)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Dict, Optional, SupportsInt

from ..errors import InputError, OverrideError
from ..model.rng import faker_for
from ..schema import contract, layout, measures
from ..schema.layout import CHANNELS, CONFIG_TAGS
from ..schema.reference import METER_KINDS, PROGRAMMABLE_PERIODS, SERIAL_IFACES, MeterKind
from .overrides import METER_TABLE_ALIASES, check_tags
from ..records.rows import NameIndex

# Meter family -> (config measure, config table), from the measure registry.
FAMILY_CONFIG = {family: (config, measures.CONFIG_MEASURE_TABLE[config])
                 for family in measures.METER_FAMILIES
                 for config in [measures.config_measure(family)] if config}
# A new meter's config row per family, besides its timestamp, serial and model and (electric)
# what its type measures: the defaults a config override replaces.
CONFIG_DEFAULTS: Dict[str, Dict[str, object]] = {
    measures.ELECTRIC: {"DST": 0, "Clock": 1, "VoltageCoeff": 1.0, "MeterConst": 1.0},
    measures.PULSE: {"Channels": CHANNELS, "DST": 0},
    measures.DIGITAL: {"ChannelsIn": CHANNELS, "ChannelsOut": CHANNELS, "DST": 0},
}
ALLOWED_PERIODS = PROGRAMMABLE_PERIODS  # the profile periods a meter can be programmed for


def check_period(value: object, what: str = "") -> None:
    """A profile period a meter can be programmed for (minutes), or one line naming it and
    ``what`` gave it."""
    if isinstance(value, bool) or value not in ALLOWED_PERIODS:
        given = f" ({what})" if what else ""
        raise InputError(f"profile period {value!r} min{given}: use one of {', '.join(map(str, ALLOWED_PERIODS))}")


def whole_number(column: str, value: object) -> int:
    """A MeterTable or config cell that holds a whole number (an int, an integral float, digits
    as text, anything ``int()`` takes) as int; anything else -- 5.5 as a MeterId -- one line
    (an ``OverrideError``: what is not the generator's own comes from a tag)."""
    if isinstance(value, float) and not value.is_integer():
        raise OverrideError(f"tag {column!r} takes a whole number, got {value!r}")
    if isinstance(value, (str, SupportsInt)):
        try:
            return int(value)
        except ValueError:
            pass
    raise OverrideError(f"tag {column!r} takes a whole number, got {type(value).__name__} {value!r}")


@dataclass
class MeterSpec:
    """One meter of a scenario: its registry row, its config row, and its place in the seed tree."""

    ordinal: int
    type_name: str
    kind: MeterKind
    table: Dict[str, object]            # MeterTable columns; TypeId/InterfaceId hold *names*
    config: Dict[str, object] = field(default_factory=dict)  # config columns of its family
    device_idx: int = 0
    pv: Optional[bool] = None                # rooftop PV: None = the seed decides
    outages: Optional[list] = None           # fixed (off, on) epoch pairs; None = random
    period: int = 30                         # profile period in minutes (each profile row's Period)

    @property
    def meter_id(self) -> int:
        """The meter's MeterId."""
        return whole_number("MeterId", self.table["MeterId"])

    @property
    def config_measure(self) -> Optional[str]:
        """ElConfig, PlsConfig or DigConfig (None for a hub)."""
        return FAMILY_CONFIG.get(self.kind.family, (None, None))[0]

    @property
    def config_table(self) -> Optional[str]:
        """ElectricConfig, PulseConfig or DigitalConfig (None for a hub)."""
        return FAMILY_CONFIG.get(self.kind.family, (None, None))[1]

    @property
    def period_minutes(self) -> int:
        """The profile period in minutes.  It is the meter's own (``period``), not a config
        column: ElectricConfig.IntervalPowerArrays is the number of profile arrays (contract)."""
        return self.period

    def flag(self, column: str) -> bool:
        """A config flag as a bool."""
        return bool(self.config.get(column))

    def meter_table_row(self, names: NameIndex) -> tuple:
        """The MeterTable row, type and interface resolved by name."""
        row = dict(self.table, DeviceIdx=self.device_idx)
        if isinstance(row["TypeId"], str):
            row["TypeId"] = names.meter_type(row["TypeId"])  # type: ignore[arg-type]
        if isinstance(row["InterfaceId"], str):
            row["InterfaceId"] = names.interface(row["InterfaceId"])  # type: ignore[arg-type]
        return layout.make_row("MeterTable", row)

    def config_row(self) -> Optional[tuple]:
        """The config row in column order (None for a hub)."""
        if self.config_table is None:
            return None
        return layout.make_row(self.config_table, dict(self.config, DeviceIdx=self.device_idx))


def meter_seed_path(ordinal: int, type_name: str) -> tuple:
    """The root of a meter's random streams (``model.rng.stream(seed, *path, purpose)``: the
    registry text of every meter, the story of an electricity meter): its ordinal and its type.  A meter's story depends on its type, so two meters of different
    types with one ordinal (or seed-API MeterId) never share values; adding a meter still changes
    no other meter's streams."""
    return ("meter", ordinal, type_name)


def kind_of(type_name: str) -> MeterKind:
    """What is known about a MeterTypes.Type (InputError naming the known types otherwise)."""
    try:
        return METER_KINDS[type_name]
    except KeyError:
        raise InputError(f"unknown meter type {type_name!r}; known types: "
                         + ", ".join(sorted(METER_KINDS))) from None


def make_meter(rng: random.Random, ordinal: int, meter_id: int, type_name: str, *,
               timestamp: int, interface: Optional[str] = None, parent_meter_id: int = 0,
               period_minutes: int = 30, table_overrides: Optional[Dict[str, object]] = None,
               config_overrides: Optional[Dict[str, object]] = None,
               locale: Optional[str] = None) -> MeterSpec:
    """A plausible meter of ``type_name`` with every field overridable; its text columns come
    from a Faker (``locale``) seeded from ``rng``."""
    kind = kind_of(type_name)
    check_period(period_minutes)
    fake = faker_for(rng, locale)
    serial = fake.meter_serial(kind.family, kind.serial_digits)  # as the type's real meters carry it
    if interface is None:
        interface = ("Ethernet" if kind.family == "hub" else
                     "Hub" if parent_meter_id else rng.choice(SERIAL_IFACES))
    if interface == "Ethernet":
        address = fake.meter_ethernet_address()
        iface_config = ""
    else:
        address = fake.meter_bus_address(serial, kind.family)
        iface_config = fake.meter_interface_config()
    table: Dict[str, object] = {
        "MeterId": meter_id, "ParentId": parent_meter_id, "TypeId": type_name, "Address": address,
        "ReadPassword": fake.meter_password(1), "WritePassword": fake.meter_password(2), "InterfaceId": interface,
        "InterfaceConfig": iface_config, "RTUObjType": 1, "RTUFeederNum": 1 + ordinal // 64 % 64,
        "RTUObjNum": ordinal % 1000 + 1,
    }
    spec = MeterSpec(ordinal, type_name, kind, table, period=period_minutes)
    if table_overrides:
        tags = check_tags("MeterTable", table_overrides)
        for tag, value in tags.items():
            if tag == "typeName":
                spec.table["TypeId"] = value
            elif tag == "ifaceName":
                spec.table["InterfaceId"] = value
            else:
                spec.table[METER_TABLE_ALIASES.get(tag, tag)] = value
    if kind.family in CONFIG_DEFAULTS:
        ct = kind.family == measures.ELECTRIC and rng.random() < 0.2 and kind.phases == 3
        spec.config = {"Timestamp": timestamp, "Serial": serial, "Model": fake.meter_model(kind.model, type_name),
                       **CONFIG_DEFAULTS[kind.family]}
        if kind.family == measures.ELECTRIC:  # what the type measures (schema.reference.METER_TYPES)
            spec.config.update({
                # the number of profile arrays (contract), 0 for a type without a profile
                "IntervalPowerArrays": contract.PROFILE_ARRAYS if kind.profile_periods else contract.NO_PROFILE_ARRAYS,
                "Tariff": 1 if kind.tariffs else 0, "Reactive": 1 if kind.reactive else 0,
                "ActiveReverse": 1 if kind.export else 0, "ReactiveReverse": 1 if kind.reactive_export else 0,
                "CurrentCoeff": float(rng.choice((20, 30, 40, 60))) if ct else 1.0,  # a current transformer
            })
    if config_overrides:
        if spec.config_measure is None:
            raise InputError(f"meter type {type_name} ({kind.family}) has no config table to override")
        tags = check_tags(spec.config_measure, config_overrides)
        names = CONFIG_TAGS[spec.config_table]  # type: ignore[index]
        for tag, value in tags.items():
            spec.config[names[tag]] = value
    return spec
