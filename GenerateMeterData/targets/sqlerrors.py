"""What SQLite said, as the package's errors: one classification for the local file (Python's
sqlite3 exceptions) and the device (the sqlite3 shell's stderr), so the same failure reads the
same wherever it happened."""
from __future__ import annotations

from typing import Optional

from ..errors import DatabaseLockedError, DuplicateRecordError, GenerateMeterDataError, SchemaError


def classify_sqlite_error(text: str, where: str, path: str, waited: float,
                          locked_hint: str = "stop the other writer, or raise busy_timeout or --busy-timeout"
                          ) -> Optional[GenerateMeterDataError]:
    """The error for SQLite's message ``text`` about the database ``where`` names (``path`` is its
    file), or None when the message is none of the kinds this package explains."""
    if "database is locked" in text or "database is busy" in text or "database table is locked" in text:
        return DatabaseLockedError(f"{where} stayed locked by another process for {waited:g} s; nothing was "
                                   f"written ({locked_hint})", path=where, waited=waited)
    if "UNIQUE constraint failed: MeterData" in text:
        return DuplicateRecordError(f"{where}: a record with the same meter, archive type and timestamp "
                                    "already exists; nothing was written", path=path, table="MeterData")
    if "UNIQUE constraint failed: MeterTable" in text:
        return DuplicateRecordError(f"{where}: a meter with that MeterId already exists; nothing was written",
                                    path=path, table="MeterTable")
    if "not a database" in text or "no such table" in text or "no such column" in text:
        first = next((line.strip() for line in text.splitlines() if line.strip()), text)
        return SchemaError(f"{where} is not a meter.db as expected ({first}); create one with 'init'")
    return None
