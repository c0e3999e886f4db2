"""GenerateMeterData: realistic, physically consistent meter.db data for testing the UM-40 SMART
data concentrator (USPD), written to a local meter.db or to a device over SSH.

Seed-compatible API (existing scripts keep working)::

    import GenerateMeterData
    mt = GenerateMeterData.MeterTable()
    cfg = GenerateMeterData.ElConfig(MeterTable=mt.get('MeterTable'))

Modern API::

    from GenerateMeterData import Scenario, LocalTarget
    rows = Scenario(meters=10, days=30, seed=1).build()           # in memory, no I/O
    Scenario(meters=10, days=30, seed=1).create(LocalTarget("meter.db"))
"""
from __future__ import annotations

from .errors import (ConfigError, ConnectError, DatabaseLockedError, DuplicateRecordError,
                     GenerateMeterDataError, InputError, OverrideError, ProtocolError, RemoteError,
                     SchemaError, TargetError, VerificationFailed)
from .generate.overrides import Override, Overrides
from .records.rows import RowSet
from .generate.scenario import LoadSummary, MeterPlan, Scenario
from .generate.story import StoryOptions
from .model.tariffs import DEFAULT_SCHEDULE, TariffSchedule
# Named one by one (not ``import *``) so type checkers, IDEs and the API docs see them; seedapi.py
# declares them from the registry (schema/measures.py), and tests/test_measures.py checks this
# list is its list.
from .seedapi import (DigConfig, DigJournalState, DigMomentState, ElArr1ConsPower, ElConfig,  # noqa: F401
                      ElDayConsEnergy, ElDayEnergy, ElMomentEnergy, ElMomentQuality,
                      ElMonthConsEnergy, ElMonthEnergy, Journal, JournalName, MeterTable,
                      PlsConfig, PlsDayPulse, PlsHourPulse, PlsMomentPulse, PlsMonthPulse, configure)
from .targets import LocalTarget, Target, default_target, set_default_target, target_for
from .verify import Violation, verify

__version__ = "0.1.0"

# Written out, so type checkers read it (tests/test_seed_classes.py checks the seed names are
# seedapi.SEED_CLASSES, in its order).
__all__ = [
    # seed-compatible classes (schema/measures.py names them), then the modern API
    "MeterTable", "ElConfig", "PlsConfig", "DigConfig", "ElMomentEnergy", "ElDayEnergy",
    "ElMonthEnergy", "ElDayConsEnergy", "ElMonthConsEnergy", "ElMomentQuality", "ElArr1ConsPower",
    "PlsMomentPulse", "PlsDayPulse", "PlsMonthPulse", "PlsHourPulse", "DigMomentState",
    "DigJournalState", "Journal", "JournalName", "configure",
    "Scenario", "MeterPlan", "Override", "Overrides", "StoryOptions", "TariffSchedule",
    "DEFAULT_SCHEDULE", "RowSet", "LoadSummary", "LocalTarget", "Target", "target_for",
    "default_target", "set_default_target", "verify", "Violation",
    # errors
    "GenerateMeterDataError", "ConfigError", "InputError", "OverrideError", "SchemaError",
    "TargetError", "DatabaseLockedError", "DuplicateRecordError", "RemoteError", "ConnectError",
    "ProtocolError", "VerificationFailed",
]
