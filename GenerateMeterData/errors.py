"""The package's exceptions: one root, one class per thing that can go wrong at a bench.

Every message is one line a tester can act on: what is wrong, where, and what to do.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple


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


class _WithFields:
    """An error that carries fields beside its one-line message (paramiko's habit).

    The message stays the first argument, so ``raise SomeError("text")`` keeps working; without
    one, ``__str__`` is composed from the fields.  The fields survive pickling (multiprocessing,
    pytest-xdist)."""

    _fields: Tuple[str, ...] = ()

    def __init__(self, message: str = "", **fields: Any) -> None:
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        for name in self._fields:
            setattr(self, name, fields.get(name))
        super().__init__(message or self._compose())  # type: ignore[call-arg]

    def _compose(self) -> str:
        return "; ".join(f"{name} {getattr(self, name)}" for name in self._fields
                         if getattr(self, name) is not None)

    def fields(self) -> Dict[str, Any]:
        """The fields by name."""
        return {name: getattr(self, name) for name in self._fields}

    def __reduce__(self) -> Tuple[Any, ...]:
        return _rebuild, (type(self), str(self), self.fields())


def _rebuild(cls: Any, message: str, fields: Dict[str, Any]) -> Any:
    return cls(message, **fields)


class DatabaseLockedError(_WithFields, TargetError):
    """The database stayed locked by another process past the busy timeout; carries ``path``
    (the database, with where it is) and ``waited`` (seconds)."""

    _fields = ("path", "waited")

    def _compose(self) -> str:
        waited = "" if self.waited is None else f" for {self.waited:g} s"  # type: ignore[attr-defined]
        return f"{self.path or 'the database'} stayed locked by another process{waited}"  # type: ignore[attr-defined]


class DuplicateRecordError(_WithFields, TargetError):
    """A record with the same (DeviceIdx, RecordTypeId, Timestamp), or a meter with the same
    MeterId, already exists; carries ``path`` and ``table`` (MeterData or MeterTable)."""

    _fields = ("path", "table")


class RemoteError(TargetError):
    """A command on the device failed; carries host, command, exit status and stderr."""

    def __init__(self, message: str, *, host: Optional[str] = None,
                 exit_status: Optional[int] = None, stderr: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.exit_status = exit_status
        self.stderr = stderr


class ConnectError(_WithFields, TargetError):
    """The device could not be reached or refused the login or its host key; carries ``host``,
    ``port`` and ``reason`` (a short cause: "timeout", "unreachable", "authentication",
    "host key changed", "connection lost" ...)."""

    _fields = ("host", "port", "reason")

    def _compose(self) -> str:
        where = self.host or "the device"  # type: ignore[attr-defined]
        if self.port is not None:  # type: ignore[attr-defined]
            where = f"{where}:{self.port}"  # type: ignore[attr-defined]
        return f"{where}: {self.reason or 'cannot connect'}"  # type: ignore[attr-defined]


class ProtocolError(GenerateMeterDataError):
    """A meter protocol exchange or frame could not be decoded."""

    exit_code = 1
    category = "protocol"


class VerificationFailed(GenerateMeterDataError):
    """``verify(..., raise_on_violation=True)`` found violations; carries ``path`` and ``violations``."""

    exit_code = 1

    def __init__(self, path: str, violations: Sequence[Any] = (), tz: Optional[Any] = None) -> None:
        self.path = path
        self.violations = list(violations)
        message = f"{path}: {len(self.violations)} violation(s) of the meter.db invariants"
        if self.violations and tz is not None:
            message += f"; the first: {self.violations[0].format(tz)}"
        super().__init__(message + "; run 'python -m GenerateMeterData verify' to list them all")
        self._tz = tz

    def __reduce__(self) -> Tuple[Any, ...]:  # keep the fields across pickling (multiprocessing, pytest-xdist)
        return type(self), (self.path, self.violations, self._tz)


class InterruptedLoad(GenerateMeterDataError):
    """Ctrl-C (or a signal) stopped a load; the message says, from the target's ledger, whether
    the load is on the target or nothing was written."""

    exit_code = 130
