"""Where rows go: a local meter.db (``LocalTarget``) or a device over SSH (``DeviceTarget``); a dry
run counts instead (``CountingTarget``); observers hear every load and clear (``LoadObserver``)."""
from __future__ import annotations

from typing import Optional

from .. import settings as settings_module
from ..model.context import TargetContext
from ..records.producer import provide_default_target
from .base import LoadObserver, Target
from .counting import CountingTarget
from .local import LocalTarget

# The package's one module-level setting (tests/test_module_state.py checks there is no other):
# the default target, set and read only through the three functions below.  What a run depends
# on -- time zone, clock, seed, locale -- is in that target's context (model/context.py).
_default: Optional[Target] = None


def target_for(settings: "settings_module.Settings", context: Optional[TargetContext] = None) -> Target:
    """The target a settings object names; its context (time zone) is ``context`` when given
    (a command's ``--timezone``), else the settings' own."""
    context = context or settings_module.settings_context(settings)
    if isinstance(settings, settings_module.LocalSettings):
        return LocalTarget(settings.db_path, settings.busy_timeout, context=context,
                           integrity_check=settings.integrity_check != "off")
    from .ssh import DeviceTarget

    return DeviceTarget(settings, context)


def set_default_target(target: Optional[Target]) -> None:
    """Make ``target`` the one the seed-compatible classes and ``Scenario.create()`` write to."""
    global _default
    _default = target


def current_default_target() -> Optional[Target]:
    """The target set_default_target() chose, or None (without making one from settings.ini)."""
    return _default


def default_target() -> Target:
    """The configured target: set_default_target(), else ./settings.ini ([Test] or its only
    section), else a local Meter.db in the current folder."""
    global _default
    if _default is None:
        _default = target_for(settings_module.resolve())
    return _default


provide_default_target(default_target)  # Scenario.create() without a target writes there

__all__ = ["CountingTarget", "LoadObserver", "LocalTarget", "Target", "TargetContext", "default_target", "set_default_target", "target_for"]
