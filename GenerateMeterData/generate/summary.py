"""Moved to ``GenerateMeterData.records.summary`` (the neutral layer below generate and targets);
this name stays importable for code written against it."""
from ..records.summary import CreatedMeter, LoadSummary  # noqa: F401
