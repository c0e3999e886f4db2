"""The physics and the calendar of a meter: seeded randomness, local time grid, tariff zones
and the consumption model every generated row is derived from."""
