"""settings.ini -> frozen settings objects.

Compatible with existing projects: a ``[Test]`` section with ``IP_address``, ``IP_port``,
``user_login`` and ``user_password`` names a device.  A section with ``db_path`` and no
``IP_address`` names a local meter.db.  Read as UTF-8 with no interpolation, so a ``%`` in a
password is just a character."""
from __future__ import annotations

import argparse
import ast
import configparser
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

from .errors import ConfigError, InputError
from .model.context import EXPLICIT, SETTINGS, TargetContext, check_timezone
from .model.timegrid import DEFAULT_TIMEZONE

DEFAULT_SETTINGS_FILE = "settings.ini"
DEFAULT_SECTION = "Test"
DEFAULT_REMOTE_DB = "/var/opt/uspd/meterdb/meter.db"
DEFAULT_LOCAL_DB = "Meter.db"
PASSWORD_ENV = "GENERATEMETERDATA_PASSWORD"
HOST_KEY_POLICIES = ("reject", "accept-new")
KNOWN_KEYS = {
    "ip_address", "ip_port", "user_login", "user_password", "password_env", "db_path", "sqlite3",
    "sudo", "key_filename", "known_hosts", "host_key_policy", "connect_timeout", "command_timeout",
    "busy_timeout", "keepalive", "disabled_algorithms", "timezone", "before_load", "after_load",
    "compress", "upload", "stage_dir", "max_rows_per_load", "integrity_check", "data_api", "resident",
}
INTEGRITY_CHECKS = ("once", "always", "off")
DEFAULT_STAGE_DIR = "/tmp"
#: The device's JSON data-API program (reads one request on stdin): um40_smart_framework Config.py.
DEFAULT_DATA_API = "/etc/opt/uspd/meter_db_data_api/meter_db_data_api"
#: Seconds a write waits for another writer's lock.  A local file: another seed holds the lock for
#: its whole generation (a 100-meter month takes tens of seconds), so waiting long is the useful
#: default.  A device: its own daemons write briefly and often, and a merge is short.
LOCAL_BUSY_TIMEOUT = 120.0
DEVICE_BUSY_TIMEOUT = 10.0


@dataclass(frozen=True)
class LocalSettings:
    """A local meter.db file (the embedded default)."""

    db_path: str = DEFAULT_LOCAL_DB
    timezone: str = DEFAULT_TIMEZONE
    busy_timeout: float = LOCAL_BUSY_TIMEOUT
    name: str = "local"
    integrity_check: str = "once"  # quick_check the file before a target's first load into it ("always" too); "off"


@dataclass(frozen=True)
class DeviceSettings:
    """A USPD reached over SSH.  The password never appears in repr() or str()."""

    name: str
    host: str
    port: int = 22
    user: str = "root"
    password: Optional[str] = field(default=None, repr=False)
    key_filename: Optional[str] = None
    known_hosts: Optional[str] = None
    host_key_policy: str = "reject"
    db_path: str = DEFAULT_REMOTE_DB
    sqlite3: str = "sqlite3"
    sudo: bool = False
    connect_timeout: float = 10.0
    command_timeout: float = 600.0
    busy_timeout: float = DEVICE_BUSY_TIMEOUT
    keepalive: int = 15
    disabled_algorithms: Tuple[str, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    before_load: Optional[str] = None
    after_load: Optional[str] = None
    compress: str = "auto"
    upload: str = "auto"   # "auto" (SQL text when small, files when large), "staged" (files) or "sql" (text)
    stage_dir: str = "/tmp"  # where the device keeps stage files, backups and restores while they pass
    max_rows_per_load: int = 0  # > 0: a load larger than this is written in several transactions
    # "once": quick_check the database before a load when it is not known sound (first, and after
    # another writer's commit: targets/ssh_session.py); "always": once per connection; "off"
    integrity_check: str = "once"
    data_api: str = DEFAULT_DATA_API  # the device's JSON data-API program (device/data_api.py runs it)
    # "auto": loads, clears and queries go to one sqlite3 kept running per connection when the
    # device's sqlite3 can keep one (targets/resident.py); "no": one sqlite3 per command
    resident: str = "auto"

    @property
    def where(self) -> str:
        """user@host:port, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}"


Settings = Union[LocalSettings, DeviceSettings]


class _KeyKeepingParser(configparser.ConfigParser):
    """Keeps the seed's key spelling (IP_address) as written (ConfigParser lowercases keys)."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _parser(path: Path) -> configparser.ConfigParser:
    parser = _KeyKeepingParser(interpolation=None)
    try:
        # utf-8-sig: a file saved by Windows Notepad starts with a byte-order mark
        with open(path, encoding="utf-8-sig") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} not found (copy settings.ini.example)") from None
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(f"settings file {path} cannot be read: line {exc.lineno}: a key before any [section] "
                          f"header ({exc.line.strip()!r}); start the file with a section such as [Test]") from None
    except configparser.ParsingError as exc:
        lineno, line = exc.errors[0] if exc.errors else (0, "''")
        try:  # configparser keeps the repr() of the line
            line = ast.literal_eval(line)
        except (ValueError, SyntaxError):
            pass
        raise ConfigError(f"settings file {path} cannot be read: line {lineno}: {str(line).strip()!r} is not "
                          "'key = value'") from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(f"settings file {path} cannot be read: line {exc.lineno}: key {exc.option} appears "
                          f"twice in section [{exc.section}]") from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(f"settings file {path} cannot be read: line {exc.lineno}: section [{exc.section}] "
                          "appears twice") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"settings file {path} cannot be read: {first}") from None
    except IsADirectoryError:
        raise ConfigError(f"settings file {path} is a folder, not a file") from None
    return parser


def sections(path: Union[str, Path] = DEFAULT_SETTINGS_FILE) -> List[str]:
    """Names of the sections of a settings file that name a target."""
    parser = _parser(Path(path))
    return [name for name in parser.sections()
            if {"ip_address", "db_path"} & {key.lower() for key in parser[name]}]


def load(path: Union[str, Path] = DEFAULT_SETTINGS_FILE, section: Optional[str] = None) -> Settings:
    """The settings of one section (default ``[Test]``, or the only section there is)."""
    path = Path(path)
    parser = _parser(path)
    if section is None:
        names = parser.sections()
        section = DEFAULT_SECTION if DEFAULT_SECTION in names else (names[0] if len(names) == 1 else None)
        if section is None:
            raise ConfigError(f"settings file {path}: no [{DEFAULT_SECTION}] section; choose one of "
                              f"{', '.join(names) or '(none)'} with --section")
    if not parser.has_section(section):
        raise ConfigError(f"settings file {path}: section [{section}] not found "
                          f"(sections: {', '.join(parser.sections()) or 'none'})")
    raw = {key.lower(): value.strip() for key, value in parser[section].items()}
    where = f"settings file {path}, section [{section}]"
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(KNOWN_KEYS))}")

    def number(key: str, default: float, kind: Callable[[str], float] = float, low: float = 0,
               high: float = 86400 * 7, positive: bool = False) -> float:
        if key not in raw or raw[key] == "":
            return default
        try:
            value = kind(raw[key])
        except ValueError:
            raise ConfigError(f"{where}: key {key} must be a number, got {raw[key]!r}") from None
        if not math.isfinite(value) or value < low or value > high or (positive and value <= 0):
            bound = f"> {low:g}" if positive else f">= {low:g}"
            raise ConfigError(f"{where}: key {key} must be a finite number {bound} and <= {high:g}, "
                              f"got {raw[key]!r}")
        return value

    timezone = raw.get("timezone") or DEFAULT_TIMEZONE
    try:
        check_timezone(timezone, "key timezone")
    except InputError as exc:  # before anything is read or written: the file is wrong
        raise ConfigError(f"{where}: {exc}") from None
    integrity = raw.get("integrity_check", "once").lower()
    if integrity not in INTEGRITY_CHECKS:
        raise ConfigError(f"{where}: key integrity_check must be once, always or off, got {raw['integrity_check']!r}")
    if not raw.get("ip_address"):
        if "db_path" not in raw:
            raise ConfigError(f"{where}: key IP_address (a device) or db_path (a local file) is missing")
        return LocalSettings(db_path=raw["db_path"], timezone=timezone,
                             busy_timeout=number("busy_timeout", LOCAL_BUSY_TIMEOUT, positive=True), name=section,
                             integrity_check=integrity)
    if "user_login" not in raw:
        raise ConfigError(f"{where}: key user_login is missing")
    password = raw.get("user_password") or None
    if raw.get("password_env"):
        password = os.environ.get(raw["password_env"]) or password
        if password is None:
            raise ConfigError(f"{where}: key password_env names {raw['password_env']}, which is not set")
    elif password is None:
        password = os.environ.get(PASSWORD_ENV) or None
    policy = raw.get("host_key_policy", "reject").lower()
    if policy not in HOST_KEY_POLICIES:
        raise ConfigError(f"{where}: key host_key_policy must be one of {', '.join(HOST_KEY_POLICIES)}, got {policy!r}")
    sudo = raw.get("sudo", "no").lower()
    if sudo not in ("yes", "no", "true", "false", "1", "0", "on", "off"):
        raise ConfigError(f"{where}: key sudo must be yes or no, got {raw['sudo']!r}")
    compress = raw.get("compress", "auto").lower()
    if compress not in ("auto", "yes", "no"):
        raise ConfigError(f"{where}: key compress must be auto, yes or no, got {raw['compress']!r}")
    upload = raw.get("upload", "auto").lower()
    if upload not in ("auto", "staged", "sql"):
        raise ConfigError(f"{where}: key upload must be auto, staged or sql, got {raw['upload']!r}")
    resident = raw.get("resident", "auto").lower()
    if resident not in ("auto", "no"):
        raise ConfigError(f"{where}: key resident must be auto or no, got {raw['resident']!r}")
    if password is None and not raw.get("key_filename"):
        raise ConfigError(f"{where}: key user_password (or password_env, or key_filename) is missing")
    return DeviceSettings(
        name=section, host=raw["ip_address"], port=int(number("ip_port", 22, int, 1, 65535)),
        user=raw["user_login"], password=password,
        key_filename=os.path.expanduser(raw["key_filename"]) if raw.get("key_filename") else None,
        known_hosts=os.path.expanduser(raw["known_hosts"]) if raw.get("known_hosts") else None,
        host_key_policy=policy, db_path=raw.get("db_path") or DEFAULT_REMOTE_DB,
        sqlite3=raw.get("sqlite3") or "sqlite3", sudo=sudo in ("yes", "true", "1", "on"),
        connect_timeout=number("connect_timeout", 10.0, positive=True),
        command_timeout=number("command_timeout", 600.0, positive=True),
        busy_timeout=number("busy_timeout", DEVICE_BUSY_TIMEOUT, positive=True), keepalive=int(number("keepalive", 15, int)),
        disabled_algorithms=tuple(a.strip() for a in raw.get("disabled_algorithms", "").split(",") if a.strip()),
        timezone=timezone, before_load=raw.get("before_load") or None,
        after_load=raw.get("after_load") or None, compress=compress, upload=upload,
        stage_dir=raw.get("stage_dir") or DEFAULT_STAGE_DIR,
        max_rows_per_load=int(number("max_rows_per_load", 0, int, 0, 10 ** 9)), integrity_check=integrity,
        data_api=raw.get("data_api") or DEFAULT_DATA_API, resident=resident)


def resolve(path: Union[str, Path, None] = None, section: Optional[str] = None,
            db: Optional[str] = None) -> Settings:
    """What a command targets: ``--db`` wins; else the settings file if it exists (or was named);
    else a local ``Meter.db`` in the current folder."""
    if db:
        return LocalSettings(db_path=db)
    if path is None:
        if not Path(DEFAULT_SETTINGS_FILE).exists():
            if section:
                raise ConfigError(f"settings file {DEFAULT_SETTINGS_FILE} not found, so section [{section}] cannot be read")
            return LocalSettings()
        path = DEFAULT_SETTINGS_FILE
    return load(path, section)


def describe(settings: Settings) -> Dict[str, object]:
    """Settings as a dict with the password masked (for --verbose output and logs)."""
    out = dict(settings.__dict__)
    if out.get("password"):
        out["password"] = "***"
    return out


def from_arguments(args: argparse.Namespace) -> Settings:
    """The target a command line names with ``--settings``, ``--section`` and ``--db``
    (``--busy-timeout`` replacing the settings' ``busy_timeout``)."""
    return with_arguments(resolve(getattr(args, "settings", None), getattr(args, "section", None),
                                  getattr(args, "db", None)), args)


def with_arguments(settings: Settings, args: argparse.Namespace) -> Settings:
    """``settings`` with what the command line overrides (``--busy-timeout``)."""
    import dataclasses

    busy_timeout = getattr(args, "busy_timeout", None)
    if busy_timeout is not None:
        settings = dataclasses.replace(settings, busy_timeout=busy_timeout)
    return settings


def settings_context(settings: Settings) -> TargetContext:
    """The context of the target a settings section names: its ``timezone`` key (Europe/Moscow
    when the key is absent)."""
    return TargetContext(settings.timezone, SETTINGS)


def context_for(args: argparse.Namespace, settings: Settings) -> TargetContext:
    """The context of a command's target: ``--timezone`` when given (checked, one line naming the
    option and the value otherwise), else the settings' ``timezone``."""
    context = settings_context(settings)
    given = getattr(args, "timezone", None)
    if given is not None:
        context = context.with_timezone(given, EXPLICIT, "--timezone")
    return context
