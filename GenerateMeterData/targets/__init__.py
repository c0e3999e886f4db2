"""Where rows go: a local meter.db (``LocalTarget``) or a device over SSH (``DeviceTarget``)."""
from __future__ import annotations

from typing import Optional

from .. import settings as settings_module
from .base import Target
from .local import LocalTarget

_default: Optional[Target] = None


def target_for(settings: "settings_module.Settings") -> Target:
    """The target a settings object names."""
    if isinstance(settings, settings_module.LocalSettings):
        return LocalTarget(settings.db_path, settings.busy_timeout, settings.timezone,
                           integrity_check=settings.integrity_check != "off")
    from .ssh import DeviceTarget

    return DeviceTarget(settings)


def set_default_target(target: Optional[Target]) -> None:
    """Make ``target`` the one the seed-compatible classes and ``Scenario.create()`` write to."""
    global _default
    _default = target


def default_target() -> Target:
    """The configured target: set_default_target(), else ./settings.ini ([Test] or its only
    section), else a local Meter.db in the current folder."""
    global _default
    if _default is None:
        _default = target_for(settings_module.resolve())
    return _default


__all__ = ["LocalTarget", "Target", "default_target", "set_default_target", "target_for"]
