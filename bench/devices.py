"""The devices a benchmark runs against, side by side in one run (``--device``, repeatable):

- ``x86``: the loopback OpenSSH stand-in with this machine's sqlite3 (the default);
- ``arm``: the same stand-in whose ``sqlite3`` is the armhf binary under qemu (bench/arm_device.py),
  about as slow as the UM-40's small ARM board;
- ``settings``: the device of a settings.ini section (``--settings FILE --section NAME``), e.g. a real
  UM-40.  The benchmark writes into that section's ``db_path``: point it at a scratch database."""
from __future__ import annotations

import argparse
import dataclasses
from typing import List, Optional, Tuple

import arm_device
from GenerateMeterData import settings as settings_module
from GenerateMeterData.settings import DeviceSettings

KINDS = ("x86", "arm", "settings")
LABELS = {"x86": "x86 sqlite3 device", "arm": "ARM sqlite3 device", "settings": "settings.ini device"}


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", action="append", choices=KINDS, default=None,
                        help="device(s) to measure, side by side: x86 (loopback stand-in, default), arm (the same "
                             "with the armhf sqlite3 under qemu), settings (--settings/--section)")
    parser.add_argument("--settings", default="settings.ini", help="settings.ini for --device settings")
    parser.add_argument("--section", default=None, help="its section for --device settings")
    parser.add_argument("--arm-dir", default=None, help="where the ARM stand-in is built (bench/arm_device.py)")


def kinds(args: argparse.Namespace) -> List[str]:
    chosen = args.device or ["x86"]
    return list(dict.fromkeys(chosen))  # in the order given, once each


def sqlite3_for(kind: str, args: argparse.Namespace) -> str:
    """The device's sqlite3 command for a loopback kind."""
    return arm_device.build(args.arm_dir) if kind == "arm" else "sqlite3"


def named_device(args: argparse.Namespace) -> DeviceSettings:
    """The settings.ini device (``--device settings``)."""
    found = settings_module.load(args.settings, args.section)
    if not isinstance(found, DeviceSettings):
        raise SystemExit(f"error: {args.settings} [{args.section or 'default'}] is not a device (no IP_address)")
    return found


def on_loopback(kind: str, args: argparse.Namespace, settings: DeviceSettings) -> Tuple[str, DeviceSettings]:
    """(label, settings) of one device: the loopback ``settings`` with the kind's sqlite3, or the named one."""
    if kind == "settings":
        return LABELS[kind], named_device(args)
    return LABELS[kind], dataclasses.replace(settings, sqlite3=sqlite3_for(kind, args))


def table(rows: List[Tuple[str, List[str]]], heads: List[str], first: int = 28, width: Optional[int] = None) -> str:
    """Rows of figures under one head per device."""
    width = width or max(12, *(len(h) + 1 for h in heads))
    lines = [f"{'':{first}s}" + "".join(f"{h:>{width}s}" for h in heads)]
    lines += [f"{label:{first}s}" + "".join(f"{v:>{width}s}" for v in values) for label, values in rows]
    return "\n".join(lines)
