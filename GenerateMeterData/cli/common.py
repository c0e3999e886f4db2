"""What the command handlers share: exit codes, the settings and target of a command line,
and the exit code of an error."""
from __future__ import annotations

from typing import Optional

from .. import settings as settings_module
from ..errors import GenerateMeterDataError, ProtocolError, SchemaError

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT, EXIT_TARGET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: Commands that write to the target: an interrupt tells the user where to look.
WRITING_COMMANDS = ("init", "seed", "clear", "restore", "capture")

settings_of = settings_module.from_arguments
context_of = settings_module.context_for


def where_of(settings: settings_module.Settings) -> str:
    """Where a command works: the local file, or the device and its db_path."""
    if isinstance(settings, settings_module.DeviceSettings):
        return f"{settings.where}:{settings.db_path}"
    return settings.db_path


def target_of(settings: settings_module.Settings, context=None):
    """The target of the settings, in ``context`` (a command's --timezone) or the settings' own."""
    from ..targets import target_for

    return target_for(settings, context)


def refuse_not_meter_db(path: str, where: str, consequence: str, integrity: bool = True) -> None:
    """SchemaError (one line, exit 2) when the file at ``path`` is not a meter.db."""
    from ..schema import meter_db_problem

    problem = meter_db_problem(path, integrity)
    if problem:
        raise SchemaError(f"{where} is not a meter.db ({problem}); {consequence}")


def exit_code(exc: GenerateMeterDataError, command: Optional[str] = None) -> int:
    """The exit code of an error, by the table in the module docstring."""
    from ..errors import RemoteError

    if isinstance(exc, RemoteError) and exc.exit_status == 66:
        return EXIT_INPUT  # db_path names nothing on the device: bad settings (the message hints at init)
    if command == "capture" and isinstance(exc, ProtocolError):
        return EXIT_TARGET  # the meter or its port failed
    return exc.exit_code


def interrupted_message(command: Optional[str]) -> str:
    if command in WRITING_COMMANDS:
        return f"interrupted during {command}: 'loads' shows whether anything landed on the target"
    return "interrupted"
