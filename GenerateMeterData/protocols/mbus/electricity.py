"""What the records of an electricity meter's M-Bus telegram are in meter.db terms: EN 13757-3
gives a record its VIF (quantity, unit) and subunit; how a meter uses the subunits is its own
choice, and this is the one the imitated slave makes and the capture reads."""
from __future__ import annotations

#: subunit n of an energy record (VIF Wh) carries this direction of energy, per tariff
ENERGY_SUBUNITS = ("A+", "A-")
#: subunit n of an instantaneous voltage, current or power record carries this phase
PHASE_SUBUNITS = ("A", "B", "C")
#: the decoded quantity of an instantaneous record -> the kind of meter.db quality value
KIND_OF_QUANTITY = {"Voltage": "U", "Current": "I", "Power": "P"}
