"""The meter layer of the protocols: what stands above ``generate`` and ``targets`` -- the
generated meter read at wall-clock time (``GeneratedMeter``), the imitators serving it
(``IECImitator``, ``MBusSlave``, ``DLMSImitator``), capture (a reading -> meter.db rows), the
protocol registry and the ``decode``/``imitate``/``capture`` commands.  The wire layer below it,
``GenerateMeterData.protocols``, imports nothing of the stack."""
from __future__ import annotations

from typing import Any

_EXPORTS = {"GeneratedMeter": "meter", "meter_from_arguments": "meter", "IECImitator": "imitators",
            "MBusSlave": "imitators", "MBusBus": "imitators", "DLMSImitator": "imitators"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # imported on first use: the CLI reads the registry without loading the generator
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
