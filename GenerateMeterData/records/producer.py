"""What a target loads: a ``Producer`` makes its rows on demand, numbered by the target.

A target calls the producer inside its transaction with its own ``IdAllocator`` and
``NameIndex`` (the ids and names of that database), so the rows are numbered as that database
needs.  A producer also says how many meters it makes (for progress and for splitting) and can
hand out a share of its meters for another process.  ``Scenario`` and its parts implement the
contract; a plain function ``(ids, names) -> RowSets`` is accepted everywhere a producer is and
becomes one through ``as_producer`` (not split, meter count unknown)."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, List, Optional, Protocol, Tuple, Union, runtime_checkable

from .rows import IdAllocator, NameIndex, RowSet

RowFunction = Callable[[IdAllocator, NameIndex], Iterable[RowSet]]


@runtime_checkable
class Producer(Protocol):
    """Rows for a target: call it with the target's ids and names.  Implementations subclass
    it explicitly (``class Scenario(Producer)``)."""

    def __call__(self, ids: IdAllocator, names: NameIndex) -> Iterable[RowSet]:
        """Every RowSet of the load, meter after meter (a long meter in several: its later
        ones are ``ContinuedRowSet``), ids taken from ``ids``, reference ids from ``names``."""
        ...

    def meter_count(self) -> Optional[int]:
        """How many meters the rows will create (children included); None: not known before
        the rows are made."""
        ...

    def split(self, part: int, parts: int) -> Optional["Producer"]:
        """The producer of every ``parts``-th meter from ``part`` -- picklable, as another
        process makes it; the parts numbered alike are together the whole load.  None: this
        producer cannot be split."""
        ...


@runtime_checkable
class MeterByMeter(Protocol):
    """A producer that can make any of its meters on its own (``Scenario``): meters made apart,
    in two processes, are written in ordinal order (``staging.generated_ahead``).
    Implementations subclass it explicitly, beside ``Producer``."""

    def meters_apart(self, ids: IdAllocator, names: NameIndex) -> List[Callable[[], Iterator[RowSet]]]:
        """One maker per meter, in ordinal order, the meters' DeviceIdx and MeterId taken from
        ``ids`` now; a maker makes its meter's RowSets, records numbered from 1 (it sets
        ``ids.next_header_id``), whenever it is called and in any order.  The writer adds the
        offset where each meter lands (``RowSet.id_offset``): the rows are then the producer's
        own, ``producer(ids, names)``, to the last cell."""
        ...

    def rows_estimate(self) -> int:
        """About how many rows the load makes, known before any is made (rather more than
        fewer)."""
        ...

    def numbers_only(self) -> bool:
        """Whether every value it puts in the record tables (MeterData, the value tables) is an
        int, a float or None -- nothing a user gave it stands there -- so the helper may pack
        them by the columns' types (``RowSet.packed``)."""
        ...


#: What ``Target.load`` takes: a producer, or a plain function of (ids, names).
Produce = Union[Producer, RowFunction]


class RowsOf(Producer):
    """A plain function ``(ids, names) -> RowSets`` as a producer: one piece, meters not known."""

    def __init__(self, function: RowFunction) -> None:
        self.function = function

    def __call__(self, ids: IdAllocator, names: NameIndex) -> Iterable[RowSet]:
        return self.function(ids, names)

    def meter_count(self) -> Optional[int]:
        return None

    def split(self, part: int, parts: int) -> Optional[Producer]:
        return None


def as_producer(produce: Produce) -> Producer:
    """``produce`` as a Producer (a plain function wrapped in ``RowsOf``)."""
    if isinstance(produce, Producer):
        return produce
    return RowsOf(produce)


#: Where ``Scenario.create()`` writes when no target is given: the targets package provides it
#: (``targets.default_target``) when it is imported, so generate never imports targets.
_default_target: Optional[Callable[[], object]] = None


def provide_default_target(factory: Callable[[], object]) -> None:
    """Name the function that gives the configured target (called by the targets package)."""
    global _default_target
    _default_target = factory


def configured_target() -> object:
    """The configured target (``targets.default_target()``)."""
    if _default_target is None:  # the package's __init__ imports targets: only a partial import lands here
        from ..errors import InputError

        raise InputError("no target is configured: pass one (Scenario(...).create(LocalTarget('meter.db')))")
    return _default_target()
