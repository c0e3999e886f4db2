"""A Faker provider for the text of a meter's registry and config rows: serial numbers, bus and
IP addresses, passwords, serial-line settings, model strings.

The generator draws these through ``model.rng.faker_for`` (one Faker per process and locale,
reseeded per meter, so the same seed gives the same rows).  A tester can use the same provider in
their own Faker::

    from faker import Faker
    from GenerateMeterData.model.fakes import MeterDataProvider

    fake = Faker("ru_RU")
    fake.add_provider(MeterDataProvider)
    fake.meter_serial()            # '512804377'
    fake.meter_serial(digits=15)   # '392018540000617'
    fake.meter_interface_config()  # '9600,8n1'
"""
from __future__ import annotations

from typing import Optional

from faker.providers import BaseProvider

# baud,<data bits><parity><stop bits> as MeterTable.InterfaceConfig holds it (reference §3.3).
INTERFACE_CONFIGS = ("9600,8n1", "9600,8e1", "19200,8n1", "2400,8n1")
# Ports the serial-to-Ethernet converters in front of meters commonly listen on.
ETHERNET_PORTS = (4001, 5000, 8899)
# Factory passwords of the meters' level 1 (read) and level 2 (write) access.
FACTORY_PASSWORDS = {1: "111111", 2: "222222"}


class MeterDataProvider(BaseProvider):
    """Plausible values for the text columns of MeterTable and the config tables."""

    def meter_serial(self, family: str = "electric", digits: Optional[int] = None) -> str:
        """A factory serial number of ``digits`` digits (digits only, the first not 0), as the
        meter type's real meters carry it (``MeterKind.serial_digits``: 8 for a Mercury, 10 for a
        SET-4TM, 15 for an Energomera or a MILUR); without ``digits``, 9 for an electricity meter
        and 8 for other devices."""
        if digits is None:
            digits = 9 if family == "electric" else 8
        if not isinstance(digits, int) or isinstance(digits, bool) or digits < 1:
            raise ValueError(f"a serial number has at least 1 digit, got {digits!r}")
        return self.numerify("%" + "#" * (digits - 1))

    def meter_bus_address(self, serial: Optional[str] = None, family: str = "electric") -> str:
        """The address a meter answers to on a serial bus: an electricity meter's is the last 8
        digits of its serial, another device's a bus address 1..247."""
        if family == "electric":
            return (serial or self.meter_serial(family))[-8:]
        return str(self.random_int(1, 247))

    def meter_ethernet_address(self) -> str:
        """``ip:port`` of a meter or hub reached over Ethernet (a private 192.168/16 address)."""
        return (f"192.168.{self.random_int(0, 254)}.{self.random_int(2, 253)}:"
                f"{self.random_element(ETHERNET_PORTS)}")

    def meter_interface_config(self) -> str:
        """Serial-line settings as ``baud,8n1``."""
        return self.random_element(INTERFACE_CONFIGS)

    def meter_password(self, level: int = 1) -> str:
        """A level-1 (read) or level-2 (write) password: the factory one, as meters in the field
        mostly keep it."""
        return FACTORY_PASSWORDS.get(level, FACTORY_PASSWORDS[1])

    def meter_model(self, model: str = "", type_name: str = "") -> str:
        """The model string a meter reports (``model`` as a meter type knows it, else the type name)."""
        return model or type_name or self.bothify("METER-###")
