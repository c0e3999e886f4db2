"""The target interface: where rows go.  A local meter.db file is the first implementation;
a device over SSH the second.  Both load in one transaction, record what they wrote, and can
undo exactly that."""
from __future__ import annotations

import abc
import contextlib
import os
from typing import Callable, Iterable, List, Optional

from ..generate.rows import IdAllocator, NameIndex, RowSet
from ..generate.summary import LoadSummary
from ..model.timegrid import DEFAULT_TIMEZONE
from .ledger import LoadInfo

Produce = Callable[[IdAllocator, NameIndex], Iterable[RowSet]]
Progress = Optional[Callable[[str, int, Optional[int]], None]]  # (stage, done, total)
#: Told the load's token each time one of its transactions committed (a load split by
#: ``max_rows_per_load`` commits part after part): whoever must clear the load knows it even
#: when a later part fails or is interrupted.
Committed = Optional[Callable[[str], None]]


class Target(abc.ABC):
    """Somewhere meter.db lives."""

    name: str = "target"
    timezone: str = DEFAULT_TIMEZONE

    @abc.abstractmethod
    def load(self, produce: Produce, progress: Progress = None,
             expected_meters: Optional[int] = None, committed: Committed = None) -> LoadSummary:
        """Write everything ``produce`` yields in one transaction; nothing on failure.
        ``committed`` is told the load's token the moment (each part of) it committed."""

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

    #: What made the loads, as the ledger records it ("seed --meters 10 --days 30"); None: the
    #: running program's name and arguments.
    command: Optional[str] = None

    def load_about(self, rows: int) -> tuple:
        """(who, command, rows) of a load, for the ledger's loads table."""
        import sys

        from .ledger import who

        command = self.command
        if command is None:
            command = " ".join([os.path.basename(sys.argv[0] or "python")] + sys.argv[1:])
        return who(), command[:500], rows

    def loads(self) -> List["LoadInfo"]:
        """Every load of the ledger, oldest first (token, when, by whom, command, MeterIds, rows)."""
        raise NotImplementedError

    #: MeterIds handed out are at least this (pytest-xdist workers get disjoint ranges).
    meter_id_floor: int = 1001
    meter_id_span: Optional[int] = None

    @abc.abstractmethod
    def clear(self, tokens: Optional[Iterable[str]] = None, meters: Optional[Iterable[int]] = None) -> int:
        """Remove exactly what this tool wrote: every load, only the loads in ``tokens``, or
        only the meters (MeterIds) in ``meters`` that a load of this tool created; returns the
        number of loads (or meters) removed."""

    @abc.abstractmethod
    def backup(self, destination: str) -> None:
        """Fetch a consistent copy of meter.db to a local file."""

    @abc.abstractmethod
    def restore(self, source: str) -> None:
        """Replace the content of meter.db with a local copy, in one transaction."""

    def check(self, load: bool = True) -> None:
        """Make sure the target can take a load (reachable, a meter.db, tools present; with
        ``load``, its pages undamaged, as a load would check them); one clear error otherwise.
        A device keeps the state it read for the loads that follow."""
        self.fetch("SELECT count(*) FROM ArchTypes")

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

