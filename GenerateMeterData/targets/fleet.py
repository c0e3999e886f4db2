"""Work on several targets at once (``seed --all-sections``: every section of a settings file):
each target's outcome is kept whatever the others did, and Ctrl-C stops them all cleanly.

The work of one target is given a ``threading.Event``: once it is set (Ctrl-C), the work ends
at its next step with KeyboardInterrupt -- a load before its merge began, so before its commit;
a merge already running finishes.  Targets not started yet are not touched."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple


@dataclass
class Outcome:
    """How the work on one target ended: its ``value``, or the ``error`` it raised
    (KeyboardInterrupt included); ``started`` is False for a target Ctrl-C left untouched."""

    name: str
    started: bool = False
    value: object = None
    error: Optional[BaseException] = None


Work = Callable[[str, threading.Event], object]


def each_target(names: Sequence[str], work: Work, jobs: int) -> Tuple[List[Outcome], bool]:
    """``work(name, stop)`` for every name, at most ``jobs`` at once; the outcomes in the order
    of ``names`` and whether Ctrl-C stopped the run."""
    outcomes: Dict[str, Outcome] = {name: Outcome(name) for name in names}
    lock = threading.Lock()
    stop = threading.Event()

    def run(name: str) -> None:
        outcome = Outcome(name, started=True)
        try:
            outcome.value = work(name, stop)
        except (Exception, KeyboardInterrupt) as exc:  # one target's failure must not hide the others'
            outcome.error = exc
        with lock:
            outcomes[name] = outcome

    interrupted = False
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(names))))
    futures = [pool.submit(run, name) for name in names]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()  # running work stops at its next step (a merge already started finishes)
        for future in futures:
            future.cancel()  # work not started yet leaves its target untouched
    finally:
        pool.shutdown(wait=True)  # work already running finishes (or fails) on its own
    return [outcomes[name] for name in names], interrupted
