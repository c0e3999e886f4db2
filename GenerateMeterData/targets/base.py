"""The target interface: where rows go.  A local meter.db file is the first implementation;
a device over SSH the second.  Both load in one transaction, record what they wrote, and can
undo exactly that."""
from __future__ import annotations

import abc
import contextlib
import os
from typing import Any, Callable, ContextManager, Iterable, Iterator, List, Optional, Tuple

from ..model.context import TargetContext
from ..records.producer import Produce, Producer, as_producer
from ..records.summary import LoadSummary
from .ledger import ClearPlan, LoadInfo

Progress = Optional[Callable[[str, int, Optional[int]], None]]  # (stage, done, total)
#: Told the load's token each time one of its transactions committed (a load split by
#: ``max_rows_per_load`` commits part after part): whoever must clear the load knows it even
#: when a later part fails or is interrupted.
Committed = Optional[Callable[[str], None]]


class Target(abc.ABC):
    """Somewhere meter.db lives."""

    name: str = "target"
    #: What every writer and reader of this target shares (the device's time zone): the seed
    #: classes, Scenario.create, the plugin, verify, plot, capture read it from here.
    context: TargetContext = TargetContext()

    @property
    def timezone(self) -> str:
        """The device's time zone (``context.timezone``)."""
        return self.context.timezone

    @timezone.setter
    def timezone(self, name: str) -> None:
        self.context = self.context.with_timezone(name)

    def load(self, produce: Produce, progress: Progress = None,
             expected_meters: Optional[int] = None, committed: Committed = None) -> LoadSummary:
        """Write everything ``produce`` (a ``Producer``, or a function of ids and names) yields
        in one transaction; nothing on failure.  ``committed`` is told the load's token the
        moment (each part of) it committed; so are the observers (``observe``), which then hear
        the finished load's summary."""
        observers = list(self.observers)

        def tell(token: str) -> None:
            for observer in observers:
                observer.committed(self, token)
            if committed is not None:
                committed(token)

        summary = self._write_load(as_producer(produce), progress, expected_meters, tell)
        for observer in observers:
            observer.loaded(self, summary)
        return summary

    @abc.abstractmethod
    def _write_load(self, producer: Producer, progress: Progress, expected_meters: Optional[int],
                    committed: Callable[[str], None]) -> LoadSummary:
        """``load`` of this kind of target: the rows in one transaction (or one per part),
        ``committed`` told the token after each commit."""

    #: Who hears of every load and clear (``observe``); none unless added.
    observers: Tuple["LoadObserver", ...] = ()

    def observe(self, observer: "LoadObserver") -> None:
        """Tell ``observer`` of every load and clear of this target from now on."""
        self.observers = tuple(self.observers) + (observer,)

    def unobserve(self, observer: "LoadObserver") -> None:
        """Stop telling ``observer`` (nothing when it was not observing)."""
        self.observers = tuple(o for o in self.observers if o is not observer)

    @contextlib.contextmanager
    def observed(self, observer: "LoadObserver") -> Iterator["Target"]:
        """``observer`` hears the loads and clears made inside the block."""
        self.observe(observer)
        try:
            yield self
        finally:
            self.unobserve(observer)

    @abc.abstractmethod
    def fetch(self, sql: str, params: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
        """Rows of a read-only query (values bound, never pasted)."""

    def query(self, sql: str, params: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
        """Rows of a read-only query against the target's meter.db, without copying the
        database (``?`` placeholders, values bound or quoted, never pasted)."""
        return self.fetch(sql, params)

    @abc.abstractmethod
    def readable_copy(self) -> ContextManager[str]:
        """A context yielding the path of a consistent local copy (or the file itself)."""

    @abc.abstractmethod
    def init(self, force: bool = False) -> None:
        """Create a fresh meter.db from the shipped schema."""

    #: What made the loads, as the ledger records it ("seed --meters 10 --days 30"); None: the
    #: running program's name and arguments.
    command: Optional[str] = None

    #: The token every load of this target goes under (one ledger line, one ``clear --load`` for
    #: many loads: a seed-API script, a test); None: each load its own.
    run_token: Optional[str] = None

    def new_token(self) -> str:
        """The ledger token of the next load."""
        import uuid

        return self.run_token or uuid.uuid4().hex

    @contextlib.contextmanager
    def recording(self, token: Optional[str] = None, command: Optional[str] = None) -> Iterator["Target"]:
        """Loads inside the block go under ``token`` and record ``command`` (each when given)."""
        saved = {key: self.__dict__[key] for key in ("run_token", "command") if key in self.__dict__}
        if token is not None:
            self.run_token = token
        if command is not None:
            self.command = command
        try:
            yield self
        finally:
            for key in ("run_token", "command"):
                if key in saved:
                    setattr(self, key, saved[key])
                else:
                    self.__dict__.pop(key, None)

    def load_about(self, rows: int) -> Tuple[str, str, int]:
        """(who, command, rows) of a load, for the ledger's loads table."""
        from .ledger import who

        command = self.command
        if command is None:
            command = running_command()
        return who(), command[:500], rows

    def loads(self) -> List["LoadInfo"]:
        """Every load of the ledger, oldest first (token, when, by whom, command, MeterIds, rows)."""
        raise NotImplementedError

    #: MeterIds handed out are at least this (pytest-xdist workers get disjoint ranges).
    meter_id_floor: int = 1001
    meter_id_span: Optional[int] = None

    def clear(self, tokens: Optional[Iterable[str]] = None, meters: Optional[Iterable[int]] = None) -> int:
        """Remove exactly what this tool wrote: every load, only the loads in ``tokens``, or
        only the meters (MeterIds) in ``meters`` that a load of this tool created; returns the
        number of loads (or meters) removed.  The observers hear what went (``last_clear``)."""
        observers = list(self.observers)
        removed = self._clear_loads(tokens, meters)
        for observer in observers:
            observer.cleared(self, self.last_clear)
        return removed

    @abc.abstractmethod
    def _clear_loads(self, tokens: Optional[Iterable[str]], meters: Optional[Iterable[int]]) -> int:
        """``clear`` of this kind of target, in one transaction; keeps the plan in ``last_clear``."""

    #: What the last ``clear`` removed (a ledger.ClearPlan: loads, meters, hub children).
    last_clear: Optional["ClearPlan"] = None

    def plan_clear(self, tokens: Optional[Iterable[str]] = None,
                   meters: Optional[Iterable[int]] = None) -> "ClearPlan":
        """What ``clear`` with these arguments would remove (a ledger.ClearPlan), read only --
        refused the same way (a dry run)."""
        from .ledger import plan_clear

        return plan_clear(lambda sql: self.fetch(sql), tokens, meters)

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

    def __exit__(self, *exc: object) -> None:
        self.close()


class LoadObserver:
    """Hears what a target wrote and removed, as it happens (``Target.observe``): the pytest
    plugin keeps each seeder's loads this way.  Every method does nothing unless overridden."""

    def committed(self, target: Target, token: str) -> None:
        """(A part of) a load under ``token`` committed -- told before the load ends, so a load
        that fails after a part committed is still known."""

    def loaded(self, target: Target, summary: LoadSummary) -> None:
        """A load ended; ``summary.token`` is None when it wrote nothing."""

    def cleared(self, target: Target, plan: Optional[ClearPlan]) -> None:
        """A clear committed: ``plan`` says which loads went whole (``tokens``), which lost
        meters and stay (``shrunk``), and the MeterIds removed."""


def running_command() -> str:
    """What started this process, for the ledger: its program and arguments -- or, in a process
    whose arguments say nothing (``python -c``, as pytest-xdist starts its workers), the test
    running in it, else that process's own command line."""
    import sys

    if sys.argv and sys.argv[0] not in ("-c", ""):
        return " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])
    test = os.environ.get("PYTEST_CURRENT_TEST")
    if test:
        return "pytest " + test.rsplit(" (", 1)[0]
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            words = [w.decode(errors="replace") for w in handle.read().split(b"\0") if w]
        if words:
            return " ".join([os.path.basename(words[0])] + words[1:])
    except OSError:
        pass
    return "python -c"
