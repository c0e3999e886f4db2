"""The package's exceptions: one root, one class per thing that can go wrong at a bench.

Every message is one line a tester can act on: what is wrong, where, and what to do.
"""
from __future__ import annotations

from typing import Optional


class GenerateMeterDataError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 2


class ConfigError(GenerateMeterDataError):
    """settings.ini is missing, unreadable, or lacks a section or key."""


class InputError(GenerateMeterDataError):
    """A value given by the caller is unusable (negative count, bad date, unknown name)."""


class OverrideError(InputError):
    """An override names an unknown tag or gives it a value of the wrong type."""


class SchemaError(GenerateMeterDataError):
    """The target database is not a meter.db, or lacks a name the generator must resolve."""


class TargetError(GenerateMeterDataError):
    """The target could not be written (locked, unreachable, rejected the load)."""

    exit_code = 3


class DatabaseLockedError(TargetError):
    """The database stayed locked by another process past the busy timeout."""


class DuplicateRecordError(TargetError):
    """A record with the same (DeviceIdx, RecordTypeId, Timestamp) already exists."""


class RemoteError(TargetError):
    """A command on the device failed; carries host, command, exit status and stderr."""

    def __init__(self, message: str, *, host: Optional[str] = None,
                 exit_status: Optional[int] = None, stderr: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.exit_status = exit_status
        self.stderr = stderr


class ConnectError(TargetError):
    """The device could not be reached or refused the login or its host key."""


class ProtocolError(GenerateMeterDataError):
    """A meter protocol exchange or frame could not be decoded."""

    exit_code = 1
    category = "protocol"


class VerificationFailed(GenerateMeterDataError):
    """``verify`` found violations of the invariants."""

    exit_code = 1


class InterruptedLoad(GenerateMeterDataError):
    """Ctrl-C (or a signal) stopped a load; the message says, from the target's ledger, whether
    the load is on the target or nothing was written."""

    exit_code = 130
