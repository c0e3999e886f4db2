"""The target interface: where rows go.  A local meter.db file is the first implementation;
a device over SSH the second.  Both load in one transaction, record what they wrote, and can
undo exactly that."""
from __future__ import annotations

import abc
import contextlib
from typing import Callable, Iterable, List, Optional

from ..generate.rows import IdAllocator, NameIndex, RowSet
from ..generate.summary import LoadSummary

Produce = Callable[[IdAllocator, NameIndex], Iterable[RowSet]]
Progress = Optional[Callable[[str, int, Optional[int]], None]]  # (stage, done, total)


class Target(abc.ABC):
    """Somewhere meter.db lives."""

    name: str = "target"
    timezone: str = "Europe/Moscow"

    @abc.abstractmethod
    def load(self, produce: Produce, progress: Progress = None,
             expected_meters: Optional[int] = None) -> LoadSummary:
        """Write everything ``produce`` yields in one transaction; nothing on failure."""

    @abc.abstractmethod
    def fetch(self, sql: str, params: tuple = ()) -> List[tuple]:
        """Rows of a read-only query (values bound, never pasted)."""

    def query(self, sql: str, params: tuple = ()) -> List[tuple]:
        """Rows of a read-only query against the target's meter.db, without copying the
        database (``?`` placeholders, values bound or quoted, never pasted)."""
        return self.fetch(sql, params)

    @abc.abstractmethod
    def readable_copy(self) -> contextlib.AbstractContextManager:
        """A context yielding the path of a consistent local copy (or the file itself)."""

    @abc.abstractmethod
    def init(self, force: bool = False) -> None:
        """Create a fresh meter.db from the shipped schema."""

    #: MeterIds handed out are at least this (pytest-xdist workers get disjoint ranges).
    meter_id_floor: int = 1001
    meter_id_span: Optional[int] = None

    @abc.abstractmethod
    def clear(self, tokens: Optional[Iterable[str]] = None) -> int:
        """Remove exactly what this tool wrote (only the loads in ``tokens`` when given);
        returns the number of loads undone."""

    @abc.abstractmethod
    def backup(self, destination: str) -> None:
        """Fetch a consistent copy of meter.db to a local file."""

    @abc.abstractmethod
    def restore(self, source: str) -> None:
        """Replace the content of meter.db with a local copy, in one transaction."""

    @staticmethod
    def check_backup(source: str) -> None:
        """Refuse, naming the file, a backup that is not a meter.db -- before anything is replaced."""
        import os

        from ..errors import InputError
        from ..schema import meter_db_problem

        if not os.path.exists(source):
            raise InputError(f"backup {source} not found")
        problem = meter_db_problem(source)
        if problem:
            raise InputError(f"backup {source} is not a meter.db ({problem}); nothing was restored")

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

