"""Staging a load for a device: the rows a producer yields, numbered provisionally
(``ProvisionalIds``), held as SQL text when the load is small and in local SQLite files when it
is not.  A small load then travels inside the one remote command that merges it; a large one is
uploaded as files first.

A producer that can be split (``split(part, parts)``, as ``Scenario`` offers) is staged by two
processes at once on a machine with two cores or more: this one, and a helper process kept for
the life of this one (``StageWorker``).  The helper is started as ``python -c`` importing this
package only -- never a fork (this process runs SSH threads, whose locks a fork would copy
held) and never multiprocessing's spawn or forkserver, which import the user's ``__main__``
again: a script without an ``if __name__ == "__main__":`` guard would load a second time.  A
part whose producer refers to anything but this package and the standard library (a class of
the user's script) is staged here instead."""
from __future__ import annotations

import atexit
import contextlib
import gc
import os
import pickle
import sqlite3
import struct
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple, TypedDict

from ..errors import InputError
from ..records.rows import ContinuedRowSet  # a long meter's later RowSets
from ..records.rows import IdAllocator, NameIndex, ProvisionalIds, RowSet
from ..records.summary import LoadSummary
from ..schema import layout
from ..schema.layout import TABLE_COLUMNS, VALUE_TABLES, WRITE_ORDER, insert_sql
from ..records.producer import Produce, Producer, as_producer
from .base import Progress
from .sqltext import insert_values

#: Loads up to this many rows travel as SQL text inside the merge command; larger ones as files.
SQL_TEXT_MAX_ROWS = 20_000


class LoadTally:
    """Counts what a load wrote, RowSet after RowSet (rows per table, meters, time span)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.meters = 0
        self.first: Optional[int] = None
        self.last: Optional[int] = None
        self.headers = 0

    def add(self, rows: RowSet) -> None:
        """Count one RowSet."""
        for table, batch in rows.tables.items():
            if batch:
                self.counts[table] += len(batch)
        headers = rows["MeterData"]
        if headers:
            self.headers += len(headers)
            low = min(h[_TIMESTAMP] for h in headers)
            high = max(h[_TIMESTAMP] for h in headers)
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)
        self.meters += len(rows["MeterTable"])

    def summary(self) -> LoadSummary:
        """The LoadSummary of what was counted."""
        return LoadSummary(dict(self.counts), self.meters, self.first, self.last)


@dataclass
class Stage:
    """A staged load: SQL text (``sql``: the rows, into the in-memory schema ``stage0``) or stage
    files (``paths``), and what it holds."""

    summary: LoadSummary
    header_counts: List[int]
    created: int
    sql: Optional[str] = None
    paths: List[str] = field(default_factory=list)

    @property
    def schemas(self) -> List[str]:
        """The schema name each part is attached under in the merge."""
        return [f"stage{n}" for n in range(max(1, len(self.paths)))]



def produced(produce: Produce, ids: IdAllocator, names: NameIndex, tally: LoadTally,
             progress: Progress = None, expected_meters: Optional[int] = None) -> Iterator[RowSet]:
    """Every RowSet ``produce`` yields, counted into ``tally`` (and reported to ``progress``
    once the caller took it), with the cyclic GC paused meanwhile: a load makes millions of
    short-lived tuples that it would only rescan."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        for rows in produce(ids, names):
            tally.add(rows)
            yield rows
            if progress:
                progress("write", tally.meters, expected_meters)
    finally:
        if collecting:
            gc.enable()

def stage(produce: Produce, names: NameIndex, workdir: str, *, text: bool = False,
          max_text_rows: int = SQL_TEXT_MAX_ROWS, progress: Progress = None,
          expected_meters: Optional[int] = None, created: Optional[int] = None) -> Stage:
    """Stage everything ``produce`` yields.  ``text`` forces SQL text whatever the size;
    ``created`` is the number of new meters when the rows were numbered elsewhere (a part)."""
    shares = None if text else _shares_of(as_producer(produce))
    if shares is not None:
        staged = _stage_in_processes(shares, names, workdir, progress, expected_meters)
        if staged is not None:
            return staged
    ids = ProvisionalIds()
    tally = LoadTally()
    held: Optional[RowSet] = RowSet()
    path = os.path.join(workdir, "stage0.db")
    conn: Optional[sqlite3.Connection] = None
    try:
        for rows in produced(produce, ids, names, tally, progress, expected_meters):
            if conn is None:
                held.extend(rows)  # type: ignore[union-attr]
                if not text and held.total() > max_text_rows:  # type: ignore[union-attr]
                    conn = _open_stage_file(path)
                    _insert(conn, held)  # type: ignore[arg-type]
                    held = None
            else:
                _insert(conn, rows)
        if conn is not None:
            conn.execute("COMMIT")
    finally:
        if conn is not None:
            conn.close()
    if created is None:
        created = ids.next_device_idx - 1
    if held is not None:
        try:
            return Stage(tally.summary(), [tally.headers], created, sql=sql_source(held, "stage0"))
        except ValueError as exc:  # a value SQL text cannot carry through the shell (a NUL)
            if text:
                raise InputError(f"{exc}; set upload = staged (or auto) to send it in a stage file") from None
            conn = _open_stage_file(path)
            try:
                _insert(conn, held)
                conn.execute("COMMIT")
            finally:
                conn.close()
    return Stage(tally.summary(), [tally.headers], created, paths=[path])


def parts_of(produce: Produce, names: NameIndex, max_rows: int) -> Iterator[List[RowSet]]:
    """The RowSets of a load in parts of about ``max_rows`` rows (whole meters: a meter's rows
    never straddle two parts), numbered provisionally as one load."""
    part: List[RowSet] = []
    count = 0
    for rows in produce(ProvisionalIds(), names):
        if count >= max_rows and not isinstance(rows, ContinuedRowSet):
            yield part
            part, count = [], 0
        part.append(rows)
        count += rows.total()
    if part:
        yield part


_NUMBERED = {table: layout.index(table, "Id") for table in ("MeterData",) + VALUE_TABLES}  # Id's position
_TIMESTAMP = layout.index("MeterData", "Timestamp")


class PartNumbering:
    """Renumbers the parts of a load split into several transactions so each part looks like a
    load of its own (provisional ids from -1 and records from 1), and points a child's ParentId
    at the MeterId its hub got in an earlier part."""

    def __init__(self) -> None:
        self.meters_before = 0     # new meters in the parts already merged
        self.auto_ids_before = 0   # provisional (negative) MeterIds in those parts
        self.final_meter_id: Dict[int, int] = {}  # provisional MeterId -> MeterId the target gave

    def renumber(self, part: List[RowSet]) -> Tuple[List[RowSet], int, List[int]]:
        """(renumbered RowSets, new meters in the part, their provisional MeterIds in order)."""
        device_shift, meter_shift = self.meters_before, self.auto_ids_before
        first_header = next((rows["MeterData"][0][_NUMBERED["MeterData"]] for rows in part if rows["MeterData"]), 1)
        header_shift = first_header - 1
        device_at = {t: layout.index(t, "DeviceIdx") for t in WRITE_ORDER if "DeviceIdx" in TABLE_COLUMNS[t]}
        meter_at, parent_at = layout.indexes("MeterTable", "MeterId", "ParentId")
        out: List[RowSet] = []
        provisional: List[int] = []
        created = 0
        for rows in part:
            new = RowSet()
            for table, batch in rows.tables.items():
                if not batch:
                    continue
                target = new[table]
                for cells in batch:
                    row = list(cells)
                    if table in device_at and row[device_at[table]] < 0:
                        row[device_at[table]] += device_shift
                    if table == "MeterTable":
                        created += 1
                        provisional.append(row[meter_at])
                        if row[meter_at] < 0:
                            row[meter_at] += meter_shift
                        parent = row[parent_at]
                        if isinstance(parent, int) and parent < 0:
                            row[parent_at] = self.final_meter_id.get(parent, parent + meter_shift)
                    elif table in _NUMBERED:  # MeterData and the value tables: numbered by Id
                        row[_NUMBERED[table]] -= header_shift
                    target.append(tuple(row))
            out.append(new)
        return out, created, provisional

    def merged(self, provisional: List[int], final: List[int]) -> None:
        """Remember what the target gave the part's meters."""
        for old, new in zip(provisional, final):
            if old < 0:
                self.final_meter_id[old] = new
                self.auto_ids_before += 1
        self.meters_before += len(provisional)


#: Where a merge script's stage schemas go (replaced once the process that merges is known: a
#: resident sqlite3 may hold the in-memory one already).
STAGE_SCHEMAS = "-- gmd: the stage schemas\n"


def stage_schema_sql(schema: str) -> str:
    """An in-memory schema shaped like the device's tables (what ``sql_source`` fills)."""
    return f"ATTACH ':memory:' AS {schema};\n" + "".join(
        f"CREATE TABLE {schema}.{table} AS SELECT {', '.join(TABLE_COLUMNS[table])} FROM main.{table} WHERE 0;\n"
        for table in WRITE_ORDER)


def stage_emptied_sql(schema: str) -> str:
    """Every table of an in-memory stage schema emptied (a resident process keeps the schema)."""
    return "".join(f"DELETE FROM {schema}.{table};\n" for table in WRITE_ORDER)


def sql_source(rows: RowSet, schema: str) -> str:
    """Staged rows as SQL text that fills an in-memory schema of ``stage_schema_sql`` (which is
    not part of it: a resident sqlite3 keeps the schema from one load to the next)."""
    parts: List[str] = []
    for table in WRITE_ORDER:
        parts.extend(insert_values(f"{schema}.{table}", TABLE_COLUMNS[table], rows[table]))
    return "".join(parts)


_swept = {"done": False}


def remove_stale_workdirs(max_age: float = 86400.0) -> int:
    """Remove the local stage folders (``gmd-*`` in the temp dir) that a killed run left behind,
    older than ``max_age`` seconds; once per process.  Returns how many went."""
    import shutil
    import tempfile
    import time

    if _swept["done"]:
        return 0
    _swept["done"] = True
    root, removed, now = tempfile.gettempdir(), 0, time.time()
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    for name in names:
        path = os.path.join(root, name)
        try:
            if name.startswith("gmd-") and os.path.isdir(path) and not os.path.islink(path) \
                    and os.stat(path).st_uid == os.getuid() and now - os.path.getmtime(path) > max_age:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def _open_stage_file(path: str) -> sqlite3.Connection:
    """A throw-away file: plain tables (no keys, no indexes, no journal) -- the device's own
    tables check the keys when the rows are merged."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for table in WRITE_ORDER:
        conn.execute(f"CREATE TABLE {table} ({', '.join(TABLE_COLUMNS[table])})")
    return conn


def _insert(conn: sqlite3.Connection, rows: RowSet) -> None:
    for table in WRITE_ORDER:
        batch = rows[table]
        if batch:
            conn.executemany(insert_sql(table), batch)


def _shares_of(producer: Producer) -> Optional[List[Producer]]:
    """Two shares of a splittable producer of several meters, for two staging processes on two
    cores or more; None: stage it whole here."""
    count = producer.meter_count()
    if count is None or count < 2 or (os.cpu_count() or 1) < 2:
        return None
    shares = [producer.split(part, 2) for part in range(2)]
    return None if any(share is None for share in shares) else shares  # type: ignore[return-value]


class StageReport(TypedDict):
    """What ``_stage_file`` staged: its tally and the number of meters it created."""

    rows: Dict[str, int]       # rows per table
    meters: int
    first: Optional[int]       # the earliest and latest MeterData.Timestamp
    last: Optional[int]
    headers: int
    created: int


def _stage_file(path: str, produce: Produce, names: NameIndex) -> StageReport:
    """Stage one part into a file; returns its tally (plain data, so it can cross processes)."""
    ids: IdAllocator = ProvisionalIds()
    tally = LoadTally()
    conn = _open_stage_file(path)
    try:
        for rows in produced(produce, ids, names, tally):
            _insert(conn, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return {"rows": dict(tally.counts), "meters": tally.meters, "first": tally.first, "last": tally.last,
            "headers": tally.headers, "created": ids.next_device_idx - 1}


class StageWorker:
    """The helper process that stages one part of a load: ``python -c`` importing this module
    (so nothing of the user's ``__main__`` runs there), fed pickled jobs on its stdin, answering
    on its stdout, length-prefixed.  One per process, kept between loads (its start costs an
    interpreter and this package's import), used by one load at a time."""

    _lock = threading.Lock()
    _current: Optional["StageWorker"] = None
    #: The largest answer read from the helper (a tally: a few hundred bytes).
    MAX_REPLY = 1 << 20

    def __init__(self) -> None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = (f"import sys; sys.path.insert(0, {root!r}); "
                "from GenerateMeterData.targets.staging import serve_stage_jobs; serve_stage_jobs()")
        self.owner = os.getpid()
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)

    @classmethod
    def acquire(cls) -> Optional["StageWorker"]:
        """The helper, reserved for the caller (``release`` it); None while another load of
        this process uses it or when no helper can start (the caller stages here then)."""
        if not cls._lock.acquire(blocking=False):
            return None
        try:
            worker = cls._current
            if worker is None or worker.owner != os.getpid() or worker.process.poll() is not None:
                if not sys.executable:  # an embedded interpreter: nothing to start
                    raise OSError("no interpreter to start")
                worker = cls._current = StageWorker()
            return worker
        except BaseException:
            cls._lock.release()
            return None

    def release(self, healthy: bool) -> None:
        """Give the helper back; an unhealthy one (interrupted, died, out of step) is stopped."""
        if not healthy:
            self.stop()
            if StageWorker._current is self:
                StageWorker._current = None
        StageWorker._lock.release()

    def send(self, job: bytes) -> bool:
        """Hand over a pickled job; False when the helper is gone."""
        try:
            self.process.stdin.write(struct.pack(">Q", len(job)) + job)  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
            return True
        except (OSError, ValueError):
            return False

    def answer(self) -> Optional[tuple]:
        """The helper's answer to the job sent, None when it died before answering."""
        frame = _read_frame(self.process.stdout, self.MAX_REPLY)  # type: ignore[arg-type]
        return None if frame is None else pickle.loads(frame)

    def stop(self) -> None:
        """End the helper (its stdin closed, then killed if it does not go)."""
        if self.owner != os.getpid():
            return  # a forked copy of the object: the helper belongs to the parent
        with contextlib.suppress(Exception):
            self.process.stdin.close()  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(5)
        with contextlib.suppress(Exception):
            self.process.stdout.close()  # type: ignore[union-attr]


def _stop_worker_at_exit() -> None:
    if StageWorker._current is not None:
        StageWorker._current.stop()


atexit.register(_stop_worker_at_exit)


def _read_frame(stream, limit: Optional[int]) -> Optional[bytes]:
    """One length-prefixed frame; None at end of stream (or a frame over ``limit``)."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    size = struct.unpack(">Q", head)[0]
    if limit is not None and size > limit:
        return None
    data = stream.read(size)
    return data if len(data) == size else None


def serve_stage_jobs() -> None:
    """The helper's loop: stage each job it is sent, answer with its tally or its error.
    Anything a job prints goes to stderr, never into the answers; Ctrl-C is its parent's."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _inside_worker["yes"] = True
    jobs = sys.stdin.buffer
    while True:
        job = _read_frame(jobs, None)
        if job is None:
            return
        try:
            path, produce, names = pickle.loads(job)
            answer: tuple = ("ok", _stage_file(path, produce, names))
        except BaseException as exc:  # told to the parent, which stages the part itself
            answer = ("error", f"{exc.__class__.__name__}: {exc}")
        data = pickle.dumps(answer)
        answers.write(struct.pack(">Q", len(data)) + data)
        answers.flush()


_inside_worker = {"yes": False}


def shippable(job: tuple) -> Optional[bytes]:
    """The pickled job when it refers to nothing but this package and the standard library
    (what the helper may import without running user code); else None."""
    stdlib = sys.stdlib_module_names if sys.version_info >= (3, 10) else None

    class Checked(pickle.Pickler):
        def reducer_override(self, obj):  # every class and function the pickle refers to
            if isinstance(obj, type) or callable(obj):
                owner = getattr(obj, "__self__", None)  # a class's method (ZoneInfo._unpickle)
                module = getattr(owner if isinstance(owner, type) else obj, "__module__", None) or ""
                top = module.split(".")[0]
                if top != "GenerateMeterData" and not _standard(top, stdlib):
                    raise pickle.PicklingError(f"{module} is not importable in the helper")
            return NotImplemented

    import io

    buffer = io.BytesIO()
    try:
        Checked(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(job)
    except Exception:  # a lambda, a class of the user's script, ...: staged here
        return None
    return buffer.getvalue()


def _standard(top: str, stdlib) -> bool:
    """A standard-library module (``sys.stdlib_module_names``, or on Python 3.9 one that is
    built in or lives in the standard library's folder)."""
    if stdlib is not None:
        return top in stdlib
    import sysconfig

    module = sys.modules.get(top)
    where = getattr(module, "__file__", None)
    if module is None:
        return False
    if where is None:
        return True
    folders = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    return any(os.path.realpath(where).startswith(folder + os.sep) for folder in folders) \
        and "site-packages" not in where


def _stage_in_processes(shares: List[Producer], names: NameIndex, workdir: str,
                        progress: Progress, expected_meters: Optional[int]) -> Optional[Stage]:
    """Part 1 in the helper while this process stages part 0; None when the part cannot be
    shipped or the helper is busy (the caller stages everything here)."""
    paths = [os.path.join(workdir, f"stage{n}.db") for n in range(len(shares))]
    job = shippable((paths[1], shares[1], names))
    if job is None or _inside_worker["yes"]:
        return None
    worker = StageWorker.acquire()
    if worker is None:
        return None
    healthy = False
    try:
        sent = worker.send(job)
        reports: List[StageReport] = [_stage_file(paths[0], shares[0], names)]
        answer = worker.answer() if sent else None
        healthy = answer is not None
        if answer is None or answer[0] != "ok":
            # the helper died or failed: stage the part here (an error of the rows is raised
            # here then, as it would be without the helper)
            if os.path.exists(paths[1]):
                os.remove(paths[1])
            reports.append(_stage_file(paths[1], shares[1], names))
        else:
            reports.append(answer[1])
    finally:
        worker.release(healthy)
    tally = LoadTally()
    for report in reports:
        tally.counts.update(report["rows"])
        tally.meters += report["meters"]
        firsts = [v for v in (tally.first, report["first"]) if v is not None]
        lasts = [v for v in (tally.last, report["last"]) if v is not None]
        tally.first = min(firsts) if firsts else None
        tally.last = max(lasts) if lasts else None
    if progress:
        progress("write", tally.meters, expected_meters)
    created = max(int(report["created"]) for report in reports)
    return Stage(tally.summary(), [int(r["headers"]) for r in reports], created, paths=paths)
