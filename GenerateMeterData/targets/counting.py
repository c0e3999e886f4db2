"""A dry run as a target: ``CountingTarget`` takes loads like any target and counts what they
would write -- rows per table, meters, first and last record -- without writing anything.

The rows are numbered as a fresh database would number them and counted RowSet by RowSet, so
nothing is held but one bounded RowSet.  Reads go to the real target it stands in for (when
given), so a producer that looks at what is already stored sees the same as in a real load."""
from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterable, Iterator, List, Optional

from ..errors import TargetError
from ..records.producer import Producer
from ..records.rows import IdAllocator, NameIndex
from ..records.summary import LoadSummary
from .base import Progress, Target
from .staging import LoadTally, produced


class CountingTarget(Target):
    """Counts what loads would write, writes nothing (``seed --dry-run``, ``capture --dry-run``).

    ``of`` is the target the dry run stands in for: its context (time zone) and its reads
    (``fetch``, ``readable_copy``, ``backup``); ``name`` is what the summaries say as target
    (default ``"(dry run) <the target's name>"``)."""

    def __init__(self, of: Optional[Target] = None, name: Optional[str] = None) -> None:
        self.of = of
        if of is not None:
            self.context = of.context
        self.name = name if name is not None else f"(dry run) {of.name if of is not None else 'nowhere'}"
        self.summaries: List[LoadSummary] = []

    def __repr__(self) -> str:
        return f"CountingTarget({self.name!r})"

    def _write_load(self, producer: Producer, progress: Progress, expected_meters: Optional[int],
                    committed: Callable[[str], None]) -> LoadSummary:
        """Count every RowSet ``producer`` yields (ids as a fresh database gives them); no token."""
        started = time.perf_counter()
        tally = LoadTally()
        for _ in produced(producer, IdAllocator(), NameIndex.reference(), tally, progress, expected_meters):
            pass
        summary = tally.summary()
        summary.seconds = time.perf_counter() - started
        summary.target = self.name
        self.summaries.append(summary)
        return summary

    def _inner(self, what: str) -> Target:
        if self.of is None:
            raise TargetError(f"{self.name}: a dry run without a target has nothing to {what}")
        return self.of

    def fetch(self, sql: str, params: tuple = ()) -> List[tuple]:
        """The real target's rows (a dry run reads as a load would)."""
        return self._inner("read").fetch(sql, params)

    @contextlib.contextmanager
    def readable_copy(self) -> Iterator[str]:
        with self._inner("read").readable_copy() as path:
            yield path

    def check(self, load: bool = True) -> None:
        """The real target is reachable and a meter.db (read only)."""
        if self.of is not None:
            self.of.check(load)

    def backup(self, destination: str) -> None:
        self._inner("back up").backup(destination)

    def _refuse(self, what: str) -> TargetError:
        return TargetError(f"{self.name}: a dry run writes nothing, it cannot {what}")

    def init(self, force: bool = False) -> None:
        raise self._refuse("create a meter.db")

    def _clear_loads(self, tokens: Optional[Iterable[str]], meters: Optional[Iterable[int]]) -> int:
        raise self._refuse("clear loads")

    def restore(self, source: str) -> None:
        raise self._refuse("restore a backup")

    def close(self) -> None:
        """The real target stays open: whoever made it closes it."""
