"""A local meter.db file: the embedded default target."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from ..errors import GenerateMeterDataError, SchemaError, TargetError
from ..records.rows import IdAllocator, NameIndex, RowSet, column
from ..records.summary import CreatedMeter, LoadSummary
from ..model.context import TargetContext
from ..schema import create_schema, integrity_problem, layout
from ..schema.layout import CONFIG_TABLES, REFERENCE_TABLES, WRITE_ORDER
from ..settings import LOCAL_BUSY_TIMEOUT
from . import ledger
from .backupfile import new_backup
from .bulk import insert_rows, struct_codes
from .sqlerrors import classify_sqlite_error
from .sqltext import literal
from .staging import LoadTally, produced
from ..records.producer import Produce
from .base import Committed, Progress, Target


def connect(path: str, timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are begun and ended explicitly."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    return conn


def translate(exc: sqlite3.Error, where: str, timeout: float) -> GenerateMeterDataError:
    """One clear error for what SQLite said."""
    text = str(exc)
    return classify_sqlite_error(text, where, where, timeout) or TargetError(f"{where}: {text}; nothing was written")


class LocalTarget(Target):
    """meter.db on this machine."""

    def __init__(self, path: str = "Meter.db", busy_timeout: float = LOCAL_BUSY_TIMEOUT,
                 timezone: Optional[str] = None, integrity_check: bool = True, *,
                 context: Optional[TargetContext] = None) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self.context = context or TargetContext()
        if timezone is not None:  # given in code: stronger than settings.ini
            self.context = self.context.with_timezone(timezone)
        self.name = self.path
        self.integrity_check = integrity_check
        self._checked_file: Optional[Tuple[int, ...]] = None  # the file (as _identity says) whose pages passed

    def __repr__(self) -> str:
        return f"LocalTarget({self.path!r})"

    def _is_empty(self) -> bool:
        return not os.path.exists(self.path) or os.path.getsize(self.path) == 0

    def init(self, force: bool = False) -> None:
        """Create the file with the schema and reference rows; refuses an existing file without
        force.  The new database is built in a temporary file beside it and moved into place in
        one step, so no other process ever sees (or loses) a half-made file."""
        if not self._is_empty():
            if not force:
                raise TargetError(f"{self.path} already exists; use --force to replace it")
            for suffix in ("-wal", "-shm", "-journal"):
                if os.path.exists(self.path + suffix):
                    raise TargetError(f"{self.path}{suffix} exists: the database is open in another process "
                                      "(or was not closed cleanly); close it before init --force")
        self._create(replace=force)

    def _create(self, replace: bool) -> bool:
        """Build a fresh meter.db in a temporary file and move it to ``path``: over whatever is
        there with ``replace``, else only where nothing (or an empty file) is.  False when
        another process created the file first (it is left as it is)."""
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            handle, temporary = tempfile.mkstemp(prefix=".gmd-init-", suffix=".db", dir=directory)
        except OSError as exc:
            raise TargetError(f"cannot create {self.path}: {exc.strerror}") from None
        os.close(handle)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # the mode any new file of this user gets
            conn = connect(temporary, self.busy_timeout)
            try:
                conn.execute("BEGIN IMMEDIATE")
                create_schema(conn)
                for statement in ledger.prepare_load_sql():
                    conn.execute(statement)
                conn.execute("COMMIT")
            finally:
                conn.close()
            if replace:
                os.replace(temporary, self.path)
                return True
            try:
                os.link(temporary, self.path)  # atomic: fails when the path exists
                return True
            except FileExistsError:
                if os.path.getsize(self.path) == 0:  # an empty placeholder: nothing to lose
                    os.replace(temporary, self.path)
                    return True
                return False
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None
        except OSError as exc:
            raise TargetError(f"cannot create {self.path}: {exc.strerror}") from None
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def open(self) -> sqlite3.Connection:
        """A connection to the existing file (SchemaError when it does not exist)."""
        if self._is_empty():
            raise SchemaError(f"{self.path} does not exist or is empty; create it with 'init --db {self.path}'")
        try:
            return connect(self.path, self.busy_timeout)
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None

    def check(self, load: bool = True) -> None:
        """The file is a meter.db (undamaged, with ``load``), or absent (the first load creates
        it); one clear line otherwise."""
        if self._is_empty():
            return
        self.names()
        if load:
            conn = self.open()
            try:
                with self._translated():
                    self._refuse_damaged(conn)
            finally:
                conn.close()

    def names(self) -> NameIndex:
        """The file's ArchTypes/MeterTypes/MeterIfaces ids by name."""
        conn = self.open()
        try:
            return NameIndex.from_connection(conn, self.path)
        finally:
            conn.close()

    def _write_load(self, produce: Produce, progress: Progress = None,
                    expected_meters: Optional[int] = None, committed: Committed = None) -> LoadSummary:
        """Everything ``produce`` yields in one BEGIN IMMEDIATE transaction (the file is created when missing)."""
        if self._is_empty():
            self._create(replace=False)  # or another process just did: then load into its file
        started = time.perf_counter()
        try:
            conn = connect(self.path, self.busy_timeout)
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None
        try:
            with self._translated():
                self._refuse_damaged(conn)  # before BEGIN: a whole-file read must not hold the write lock
            with self._transaction(conn):
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                missing = [t for t in REFERENCE_TABLES + WRITE_ORDER if t not in tables]
                if missing:  # a load there could not be cleared afterwards: refuse before writing
                    raise SchemaError(f"{self.path} is not a meter.db as expected: it has no table "
                                      f"{', '.join(missing)}; nothing was written")
                names = NameIndex.from_connection(conn, self.path)
                ids = IdAllocator.from_connection(conn).confine(self.meter_id_floor, self.meter_id_span)
                token = self.new_token()
                summary = write_load(conn, produce, ids, names, progress, expected_meters, token=token,
                                     about=self.load_about)
        finally:
            conn.close()
        summary.seconds = time.perf_counter() - started
        summary.target = self.path
        summary.token = token if summary.total_rows else None
        if committed is not None and summary.token:
            committed(summary.token)
        return summary

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any exception (Ctrl-C too), SQLite's own errors
        as one clear TargetError."""
        with self._translated():
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None

    def _identity(self) -> Tuple[int, ...]:
        """Which file the path names: a new file there (init --force, a file moved into place) is
        checked again.  Not its size or mtime: other processes' loads (xdist workers sharing the
        file) change those, and a whole-file read per load is what the check must not cost.  A
        file copied over in place by another program keeps its inode (restore checks its source)."""
        stat = os.stat(self.path)
        return (stat.st_dev, stat.st_ino)

    def _refuse_damaged(self, conn: sqlite3.Connection) -> None:
        """Before the first load into this file (before its transaction): its pages must pass
        quick_check, or the load is refused -- rows written into a damaged database could not be
        cleared again.  Once per file and target: it reads the whole database."""
        if not self.integrity_check:
            return
        identity = self._identity()
        if identity == self._checked_file:
            return
        problem = integrity_problem(conn)
        if problem:
            raise SchemaError(f"{self.path} is damaged (quick_check: {problem}); nothing was written; "
                              "restore a backup, or set integrity_check = off to load anyway")
        self._checked_file = identity

    def fetch(self, sql: str, params: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
        """Rows of a read query (empty when the file does not exist yet)."""
        if self._is_empty():
            return []  # nothing written yet: the first load creates the database
        conn = self.open()
        try:
            return list(conn.execute(sql, params))
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def readable_copy(self) -> Iterator[str]:
        """The file itself."""
        self.open().close()
        yield self.path

    def _clear_loads(self, tokens: Optional[Iterable[str]] = None, meters: Optional[Iterable[int]] = None) -> int:
        """Undo the ledger's loads (all, those in ``tokens``), or remove the ``meters`` (MeterIds)
        a load created (hubs with the meters under them) -- reading the ledger and deleting in
        one transaction.  Returns the number of loads (or meters asked for) removed; the whole
        plan is kept in ``last_clear``."""
        meters = None if meters is None else [int(m) for m in meters]  # read once: an iterator too
        conn = self.open()
        try:
            try:
                with self._transaction(conn):
                    plan = ledger.plan_clear(lambda sql: list(conn.execute(sql)), tokens, meters)
                    for statement in plan.statements:
                        conn.execute(statement)
            except TargetError as exc:
                raise ledger.full_disk_hint(exc, meters) from None
            self.last_clear = plan
            return len(meters) if meters is not None else plan.loads
        finally:
            conn.close()

    def loads(self) -> List[ledger.LoadInfo]:
        """Every load of the ledger, oldest first."""
        if self._is_empty():
            return []
        conn = self.open()
        try:
            tables = {name: sql or "" for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
            if ledger.LEDGER_TABLE not in tables:
                return []
            ledger.check_tables(tables)  # a damaged ledger is called that, not "not a meter.db"
            return [ledger.load_info(row) for row in
                    conn.execute(ledger.list_loads_sql(ledger.LOADS_TABLE in tables))]
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None
        finally:
            conn.close()

    def backup(self, destination: str) -> None:
        """SQLite's online backup to a local file."""
        source = self.open()
        try:
            with new_backup(destination) as path:  # a new 0600 file, renamed into place
                target = sqlite3.connect(path)
                try:
                    with target:
                        source.backup(target)
                finally:
                    target.close()
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None
        finally:
            source.close()

    def restore(self, source: str) -> None:
        """SQLite's online backup from a local file into this one."""
        self.check_backup(source)
        conn = connect(source, self.busy_timeout)
        try:
            NameIndex.from_connection(conn, source)
            target = connect(self.path, self.busy_timeout)
            try:
                conn.backup(target)
            finally:
                target.close()
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self.busy_timeout) from None
        finally:
            conn.close()


def write_load(conn: sqlite3.Connection, produce: Produce, ids: IdAllocator, names: NameIndex,
               progress: Progress = None, expected_meters: Optional[int] = None,
               ledger_entry: bool = True, token: Optional[str] = None,
               about: Optional[Callable[[int], Tuple[str, str, int]]] = None) -> LoadSummary:
    """Insert every RowSet ``produce`` yields, raise ArchInfo, add the ledger entry and what it
    owns (ledger.py).  The caller owns the transaction."""
    device_first, header_first = ids.next_device_idx, ids.next_header_id
    config_first = {table: conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
                    for table in CONFIG_TABLES}
    if ledger_entry:
        for statement in ledger.prepare_load_sql():
            conn.execute(statement)
        load_id = conn.execute(f"SELECT {ledger.NEXT_LOAD_ID}").fetchone()[0]
    tally = LoadTally()
    new_meters: List[CreatedMeter] = []
    # what goes into meters that were there before: owned by key (a new meter is owned whole)
    owned: List[Tuple[Any, ...]] = []
    source = produced(produce, ids, names, tally, progress, expected_meters, ahead=True, codes=struct_codes(conn))
    with contextlib.closing(source):  # closed at once on an error: a helper making rows ahead stops
        for rows in source:
            insert_rows(conn, rows)
            for row in rows["MeterTable"]:
                new_meters.append(CreatedMeter(row[_METER_ID], row[_DEVICE_IDX],
                                               names.meter_type_names.get(row[_TYPE_ID], str(row[_TYPE_ID]))))
            if ledger_entry:
                shift = rows.id_offset   # the rows' record ids as written
                records = rows["MeterData"]
                before = records and min(column(records, _RECORD_DEVICE)) < device_first
                for row in records if before else ():
                    if row[_RECORD_DEVICE] < device_first:
                        owned.append((load_id, "MeterData", row[_RECORD_DEVICE], None, row[_RECORD_ID] + shift,
                                      row[_RECORD_TYPE], row[_RECORD_TIME], None))
                for table in CONFIG_TABLES:
                    device, stamp, serial = _CONFIG_KEY[table]
                    owned.extend((load_id, table, row[device], None, None, None, row[stamp], row[serial])
                                 for row in rows[table] if row[device] < device_first)
    counts = tally.counts
    if ledger_entry and counts:  # a load that wrote nothing leaves no ledger entry
        config_ranges: Dict[str, Tuple[str, str]] = {}
        for table in CONFIG_TABLES:
            if counts.get(table):
                config_ranges[table] = (str(config_first[table] + 1),
                                        str(conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]))
        records = [row for row in owned if row[1] == "MeterData"]
        if records:  # those keys were free: whoever else names them names a record that is gone
            conn.executemany(ledger.FORGET_RECORD, [(row[2], row[5], row[6]) for row in records])
        conn.executemany(ledger.INSERT_OWNED, [(load_id, "MeterTable", meter.device_idx, meter.meter_id,
                                                None, None, None, None) for meter in new_meters] + owned)
        wrote_headers = ids.next_header_id > header_first
        for statement in ledger.finish_load_sql(
                str(int(load_id)),
                str(header_first) if wrote_headers else "NULL",
                str(ids.next_header_id - 1) if wrote_headers else "NULL",
                config_ranges, str(int(time.time())), "NULL" if token is None else literal(token),
                about(sum(counts.values())) if about else None):
            conn.execute(statement)
    summary = tally.summary()
    summary.created = new_meters
    summary.first_record_id = header_first if ids.next_header_id > header_first else None
    return summary


_METER_ID, _DEVICE_IDX, _TYPE_ID = layout.indexes("MeterTable", "MeterId", "DeviceIdx", "TypeId")
_RECORD_ID, _RECORD_DEVICE, _RECORD_TYPE, _RECORD_TIME = layout.indexes(
    "MeterData", "Id", "DeviceIdx", "RecordTypeId", "Timestamp")
_CONFIG_KEY = {table: layout.indexes(table, "DeviceIdx", "Timestamp", "Serial") for table in CONFIG_TABLES}

