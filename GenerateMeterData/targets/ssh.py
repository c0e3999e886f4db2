"""A USPD over SSH: rows staged in a local SQLite file, sent with ``cat >`` (no SFTP needed),
and merged on the device by its own ``sqlite3`` in one ``BEGIN IMMEDIATE`` transaction.

The merge commits only when this side says so: the script stops after the inserts and prints a
READY line with the row counts it merged; only when those match does ``COMMIT`` follow on stdin.
A connection cut before that leaves the device's sqlite3 with end-of-input and no COMMIT, which
rolls back.  A cut after COMMIT was sent is settled by looking for the load's token in the
ledger table.  Exit status 0 alone is never taken as proof of a commit."""
from __future__ import annotations

import contextlib
import gzip
import json
import os
import shlex
import sqlite3
import tempfile
import time
import uuid
import zlib
from typing import Iterator, List, Optional, Tuple

from ..errors import (ConnectError, DatabaseLockedError, DuplicateRecordError, RemoteError,
                      SchemaError, TargetError)
from ..generate.rows import IdAllocator, NameIndex
from ..generate.scenario import LoadSummary
from ..schema.layout import CONFIG_TABLES, TABLE_COLUMNS, WRITE_ORDER
from ..settings import DeviceSettings
from . import ledger
from .base import Produce, Progress, Target
from .executor import Executor, Result
from .local import connect as local_connect
from .local import write_load
from .sqltext import bind, insert_values, literal, parse_quoted

CHUNK = 256 * 1024
READY, COMMITTED, DUPLICATE = "GMD-READY", "GMD-COMMITTED", "GMD-DUPLICATE"
REMOTE_TMP = "/tmp"


class DeviceTarget(Target):
    """meter.db on a device reached over SSH."""

    def __init__(self, settings: DeviceSettings) -> None:
        self.settings = settings
        self.name = f"{settings.where}:{settings.db_path}"
        self.timezone = settings.timezone
        self.executor: Optional[Executor] = None
        self.gzip_on_device: Optional[bool] = None

    def __repr__(self) -> str:
        return f"DeviceTarget({self.settings.where!r}, db={self.settings.db_path!r})"

    # ---- plumbing ------------------------------------------------------------------------
    def _ex(self) -> Executor:
        if self.executor is None or not self.executor.alive():
            if self.executor is not None:
                self.executor.close()
            self.executor = Executor(self.settings).connect()
        return self.executor

    def close(self) -> None:
        """Close the SSH connection."""
        if self.executor is not None:
            self.executor.close()
            self.executor = None

    @property
    def _db(self) -> str:
        return shlex.quote(self.settings.db_path)

    @property
    def _timeout(self) -> str:
        """The sqlite3 shell's busy timeout, from settings (busy_timeout)."""
        return f".timeout {int(self.settings.busy_timeout * 1000)}"

    def _sqlite_command(self, *args: str) -> str:
        binary = shlex.quote(self.settings.sqlite3)
        prefix = "sudo -n " if self.settings.sudo else ""
        return f"{prefix}{binary} -batch -bail {self._db} " + " ".join(shlex.quote(a) for a in args)

    def _checks(self) -> str:
        """Shell that exits 127 without sqlite3, 66 without the database, and says if gzip exists."""
        return (f"command -v {shlex.quote(self.settings.sqlite3)} >/dev/null 2>&1 || exit 127; "
                f"test -f {self._db} || exit 66; "
                "if command -v gzip >/dev/null 2>&1; then echo \"'gzip'\"; fi; ")

    def _check_status(self, result: Result) -> None:
        s = self.settings
        if result.status == 127:
            raise RemoteError(f"{s.where}: sqlite3 not found on the device (looked for {s.sqlite3!r}; "
                              "set the sqlite3 key in settings.ini)", host=s.host, exit_status=127)
        if result.status == 66:
            raise RemoteError(f"{s.where}: db_path {s.db_path} does not exist on the device",
                              host=s.host, exit_status=66)

    def _preflight(self) -> None:
        """sqlite3 present, db_path a file: one clear line each otherwise."""
        result = self._ex().run(self._checks() + "exit 0", timeout=self.settings.connect_timeout + 30)
        self._check_status(result)
        if result.status != 0:
            raise RemoteError(f"{self.settings.where}: checking the device failed: "
                              f"{result.error_text() or result.status}", host=self.settings.host,
                              exit_status=result.status, stderr=result.error_text())
        self.gzip_on_device = b"gzip" in result.stdout

    def _query(self, sql: str, checked: bool = False) -> List[tuple]:
        """Rows of statements whose every column is wrapped in quote(); with ``checked`` the
        device checks (sqlite3 present, database present, gzip) run in the same round trip."""
        script = f".separator ,\n{self._timeout}\n{sql}\n"
        command = (self._checks() + "exec " if checked else "") + self._sqlite_command()
        result = self._ex().run(command, stdin=script.encode())
        self._check_status(result)
        self._raise_for(result, "query")
        rows = parse_quoted(result.text())
        if checked:
            self.gzip_on_device = ("gzip",) in rows
            rows = [row for row in rows if row != ("gzip",)]
        return rows

    def _raise_for(self, result: Result, what: str) -> None:
        # A zero exit is success: with -bail sqlite3 exits non-zero on any SQL error, and what a
        # device prints on stderr besides (login banners, "could not chdir to home") is noise.
        # (Commits are never judged by the exit status: see the markers in _merge.)
        if result.status == 0 and DUPLICATE not in result.text():
            return
        text = result.error_text()
        s = self.settings
        if "database is locked" in text or "database is busy" in text:
            raise DatabaseLockedError(f"{s.where}: {s.db_path} stayed locked by another process for "
                                      f"{s.busy_timeout:g} s; nothing was written (stop the poller with "
                                      "before_load, or raise busy_timeout)")
        if "UNIQUE constraint failed: MeterData" in text or DUPLICATE in result.text():
            raise DuplicateRecordError(f"{s.where}: a record with the same meter, archive type and timestamp "
                                       "already exists; nothing was written")
        if "UNIQUE constraint failed: MeterTable" in text:
            raise DuplicateRecordError(f"{s.where}: a meter with that MeterId already exists; nothing was written")
        if "no such table" in text or "not a database" in text or "no such column" in text:
            raise SchemaError(f"{s.where}: {s.db_path} is not a meter.db as expected ({_first(text)})")
        if result.status == 127 or "not found" in text:
            raise RemoteError(f"{s.where}: {_first(text)}", host=s.host, exit_status=result.status, stderr=text)
        raise RemoteError(f"{s.where}: {what} failed (exit {result.status}): {_first(text) or 'no message'}",
                          host=s.host, exit_status=result.status, stderr=text)

    def _hook(self, command: Optional[str], label: str) -> None:
        if not command:
            return
        result = self._ex().run(command)
        if result.status != 0:
            raise RemoteError(f"{self.settings.where}: {label} command failed (exit {result.status}): "
                              f"{_first(result.error_text())}", host=self.settings.host, exit_status=result.status)

    def _start_upload(self, remote_path: str, size_hint: Optional[int] = None):
        """Start ``cat > file`` (``gzip -dc`` when compressing) on the device; data comes later."""
        compress = self.settings.compress == "yes" or (
            self.settings.compress == "auto" and bool(self.gzip_on_device) and not _loopback(self.settings.host)
            and (size_hint is None or size_hint > 64 * 1024))
        writer = "gzip -dc" if compress else "cat"
        quoted = shlex.quote(remote_path)
        return self._ex().start(f"umask 077; {writer} > {quoted} && wc -c < {quoted}"), compress

    def _upload(self, local_path: str, remote_path: str, progress: Progress, started=None) -> None:
        """Send a file over the command's stdin, then check its size on the device."""
        size = os.path.getsize(local_path)
        process, compress = started or self._start_upload(remote_path, size)
        try:
            sent = 0
            deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing, fastest level
            with open(local_path, "rb") as handle:
                while True:
                    chunk = handle.read(CHUNK)
                    if not chunk:
                        break
                    process.write(deflate.compress(chunk) if compress else chunk)
                    sent += len(chunk)
                    if progress:
                        progress("upload", sent, size)
                if compress:
                    process.write(deflate.flush())
            process.close_stdin()
            result = process.finish()
        except BaseException:
            process.abort()
            raise
        if result.status != 0:
            raise RemoteError(f"{self.settings.where}: upload to {remote_path} failed: {_first(result.error_text())}",
                              host=self.settings.host, exit_status=result.status)
        received = result.text().strip()
        if received != str(size):
            raise RemoteError(f"{self.settings.where}: upload to {remote_path} arrived incomplete "
                              f"({received or '?'} of {size} bytes)", host=self.settings.host)

    def _remove_remote(self, path: str) -> None:
        """Best effort, also after a failure: reconnect once if the connection died."""
        for _ in range(2):
            try:
                self._ex().run(f"rm -f {shlex.quote(path)}", timeout=self.settings.connect_timeout + 10)
                return
            except Exception:  # best effort: a dead connection may fail in many ways
                self.close()

    # ---- device state --------------------------------------------------------------------
    def _device_state(self) -> Tuple[NameIndex, IdAllocator, int]:
        rows = self._query(
            "SELECT quote('R'), quote(Name), quote(Id) FROM ArchTypes;\n"
            "SELECT quote('T'), quote(Type), quote(Id), quote(Class) FROM MeterTypes;\n"
            "SELECT quote('I'), quote(Name), quote(Id) FROM MeterIfaces;\n"
            "SELECT quote('D'), quote(coalesce(max(DeviceIdx), 0)), quote(coalesce(max(MeterId), 1000)) FROM MeterTable;\n"
            "SELECT quote('M'), quote(MeterId) FROM MeterTable;", checked=True)
        record_types, meter_types, classes, interfaces, taken = {}, {}, {}, {}, []
        premax, max_meter = 0, 1000
        for row in rows:
            kind = row[0]
            if kind == "R":
                record_types[row[1]] = row[2]
            elif kind == "T":
                meter_types[row[1]] = row[2]
                classes[row[1]] = row[3]
            elif kind == "I":
                interfaces[row[1]] = row[2]
            elif kind == "D":
                premax, max_meter = int(row[1]), int(row[2])
            elif kind == "M":
                taken.append(row[1])
        if not record_types:
            raise SchemaError(f"{self.settings.where}: {self.settings.db_path} has no ArchTypes rows; is it a meter.db?")
        names = NameIndex(record_types, meter_types, classes, interfaces)
        ids = IdAllocator(premax + 1, 1, max(max_meter, 1000) + 1, taken)
        return names, ids.confine(self.meter_id_floor, self.meter_id_span), premax

    # ---- load ----------------------------------------------------------------------------
    def load(self, produce: Produce, progress: Progress = None,
             expected_meters: Optional[int] = None) -> LoadSummary:
        """Stage, upload and merge in one device-side transaction; see the module docstring."""
        started = time.perf_counter()
        token = uuid.uuid4().hex
        parts = _parts_for(produce)
        remote_stages = [f"{REMOTE_TMP}/gmd-stage-{token}-{n}.db" for n in range(parts)]
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            stage_paths = [os.path.join(workdir, f"stage{n}.db") for n in range(parts)]
            names, ids, premax = self._device_state()
            self._hook(self.settings.before_load, "before_load")
            staged = self.settings.upload == "staged"
            # The remote commands start now, so the device's shell start-up overlaps the local
            # staging; they wait on stdin until their data comes.
            uploads = [self._start_upload(path) for path in remote_stages] if staged else []
            merge = self._ex().start(self._merge_command(remote_stages if staged else []))
            merged = False
            try:
                summary, header_counts, created = self._stage(stage_paths, produce, ids, names, progress,
                                                              expected_meters)
                if summary.total_rows == 0:
                    summary.seconds = time.perf_counter() - started
                    summary.target = self.name
                    return summary
                schemas = [f"stage{n}" for n in range(parts)]
                if staged:
                    for path, remote, started_upload in zip(stage_paths, remote_stages, uploads):
                        self._upload(path, remote, progress, started_upload)
                    source = "".join(f"ATTACH {literal(remote)} AS {schema};\n"
                                     for remote, schema in zip(remote_stages, schemas))
                else:
                    source = "".join(self._sql_source(path, schema) for path, schema in zip(stage_paths, schemas))
                script = self._merge_script(source, schemas, premax, header_counts, created, summary, token)
                self._merge(merge, script, summary, token, progress)
                merged = True
            finally:
                try:
                    for process in [u[0] for u in uploads] + [merge]:
                        process.abort()
                    if staged and not merged:  # after a merge, its own command removed the files
                        for path in remote_stages:
                            self._remove_remote(path)
                finally:
                    self._hook(self.settings.after_load, "after_load")
        summary.seconds = time.perf_counter() - started
        summary.target = self.name
        summary.token = token
        return summary

    def _stage(self, paths: List[str], produce: Produce, ids: IdAllocator, names: NameIndex,
               progress: Progress, expected_meters: Optional[int]) -> Tuple[LoadSummary, List[int], int]:
        """Rows into throw-away local files: plain tables (no keys, no indexes, no journal), as the
        device's own tables check the keys when the rows are merged.  With two files the meters of
        a Scenario are generated by two processes at once (part 1 in a forked child)."""
        device_first = ids.next_device_idx
        children = []
        for part in range(1, len(paths)):
            pid = os.fork()
            if pid == 0:  # the child: stage its share, report, and leave without any cleanup
                code = 0
                try:
                    part_summary, headers = _stage_file(paths[part], _part_of(produce, part, len(paths)),
                                                        ids, names, None, None)
                    with open(paths[part] + ".json", "w") as handle:
                        json.dump({"rows": part_summary.rows, "meters": part_summary.meters,
                                   "first": part_summary.first_timestamp, "last": part_summary.last_timestamp,
                                   "headers": headers}, handle)
                except BaseException as exc:
                    code = 1
                    with open(paths[part] + ".error", "w") as handle:
                        handle.write(str(exc) or exc.__class__.__name__)
                os._exit(code)
            children.append((pid, paths[part]))
        try:
            summary, headers = _stage_file(paths[0], _part_of(produce, 0, len(paths)) if children else produce,
                                           ids, names, progress, expected_meters)
        finally:
            failures = []
            for pid, path in children:
                _, status = os.waitpid(pid, 0)
                if status:
                    error_file = path + ".error"
                    failures.append(open(error_file).read() if os.path.exists(error_file) else f"status {status}")
        if failures:
            raise TargetError(f"staging failed in a worker process: {failures[0]}")
        header_counts = [headers]
        for _, path in children:
            report = json.load(open(path + ".json"))
            for table, count in report["rows"].items():
                summary.rows[table] = summary.rows.get(table, 0) + count
            summary.meters += report["meters"]
            firsts = [t for t in (summary.first_timestamp, report["first"]) if t is not None]
            lasts = [t for t in (summary.last_timestamp, report["last"]) if t is not None]
            summary.first_timestamp = min(firsts) if firsts else None
            summary.last_timestamp = max(lasts) if lasts else None
            header_counts.append(report["headers"])
        return summary, header_counts, ids.next_device_idx - device_first

    def _sql_source(self, stage_path: str, schema: str = "stage0") -> str:
        """The fallback: the staged rows as SQL text into an in-memory schema."""
        parts = [f"ATTACH ':memory:' AS {schema};\n"]
        conn = sqlite3.connect(stage_path)
        try:
            for table in WRITE_ORDER:
                columns = TABLE_COLUMNS[table]
                parts.append(f"CREATE TABLE {schema}.{table} AS SELECT {', '.join(columns)} FROM main.{table} WHERE 0;\n")
                parts.extend(insert_values(f"{schema}.{table}", columns,
                                           conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")))
        finally:
            conn.close()
        return "".join(parts)

    def _merge_script(self, source: str, schemas: List[str], premax: int, header_counts: List[int],
                      created: int, summary: LoadSummary, token: str) -> str:
        off = "(SELECT {} FROM temp.gmd_offsets)".format
        device = f"CASE WHEN DeviceIdx > {premax} THEN DeviceIdx + {off('dev')} ELSE DeviceIdx END"
        lines = [
            ".bail on",
            ".separator ,",
            self._timeout,
            source.rstrip("\n"),
            "BEGIN IMMEDIATE;",
            "DROP TABLE IF EXISTS temp.gmd_offsets;",
            "CREATE TEMP TABLE gmd_offsets AS SELECT "
            f"(SELECT coalesce(max(DeviceIdx), 0) FROM main.MeterTable) - {premax} AS dev, "
            "(SELECT coalesce(max(Id), 0) FROM main.MeterData) AS hid, "
            "(SELECT coalesce(max(Id), 0) FROM main.MeterData) AS hid0, "
            + ", ".join(f"(SELECT coalesce(max(rowid), 0) FROM main.{t}) AS {t}" for t in CONFIG_TABLES) + ";",
        ]
        for index, schema in enumerate(schemas):
            if index:  # the next file's MeterData ids go after the ones just inserted
                lines.append("UPDATE temp.gmd_offsets SET hid = (SELECT coalesce(max(Id), 0) FROM main.MeterData);")
            duplicates = (f"EXISTS (SELECT 1 FROM {schema}.MeterData s JOIN main.MeterData m "
                          "ON m.DeviceIdx = s.DeviceIdx AND m.RecordTypeId = s.RecordTypeId AND m.Timestamp = s.Timestamp "
                          f"WHERE s.DeviceIdx <= {premax})")
            # a record on an existing meter that is there already: say so, then fail the script
            lines.append(f"SELECT quote('{DUPLICATE}') WHERE {duplicates};")
            lines.append(f"SELECT abs(-9223372036854775807 - 1) WHERE {duplicates};")
            for table in WRITE_ORDER:
                if not summary.rows.get(table):
                    continue
                columns = TABLE_COLUMNS[table]
                select = []
                for column in columns:
                    if table == "MeterTable" and column == "DeviceIdx":
                        select.append(f"DeviceIdx + {off('dev')}")
                    elif column == "DeviceIdx":
                        select.append(device)
                    elif column == "Id" and table != "MeterTable":
                        select.append(f"Id + {off('hid')}")
                    else:
                        select.append(column)
                lines.append(f"INSERT INTO main.{table} ({', '.join(columns)}) SELECT {', '.join(select)} "
                             f"FROM {schema}.{table} ORDER BY rowid;")
        header_total = sum(header_counts)
        config_ranges = {t: (f"(SELECT {t} + 1 FROM temp.gmd_offsets)", f"(SELECT max(rowid) FROM main.{t})")
                         for t in CONFIG_TABLES if summary.rows.get(t)}
        lines.extend(statement + ";" for statement in ledger.finish_load_sql(
            f"(SELECT {premax + 1} + dev FROM temp.gmd_offsets)" if created else "NULL",
            f"(SELECT {premax + created} + dev FROM temp.gmd_offsets)" if created else "NULL",
            "(SELECT hid0 + 1 FROM temp.gmd_offsets)" if header_total else "NULL",
            f"(SELECT hid0 + {header_total} FROM temp.gmd_offsets)" if header_total else "NULL",
            config_ranges, str(int(time.time())), literal(token)))
        counts = ", ".join("quote(" + " + ".join(f"(SELECT count(*) FROM {schema}.{t})" for schema in schemas) + ")"
                           for t in WRITE_ORDER)
        lines.append(f"SELECT quote('{READY}'), {counts};")
        return "\n".join(lines) + "\n"

    def _merge_command(self, remove: List[str]) -> str:
        command = self._sqlite_command()
        if remove:  # merge, then remove the staged files whatever happened
            command = f"{command}; status=$?; rm -f {' '.join(shlex.quote(p) for p in remove)}; exit $status"
        return command

    def _merge(self, process, script: str, summary: LoadSummary, token: str, progress: Progress) -> None:
        if progress:
            progress("merge", 0, 1)
        commit_sent = False
        try:
            process.write(script.encode("utf-8"))
            ready = process.wait_for(READY.encode())
            if ready:
                line = next(l for l in process._stdout.decode("utf-8", "replace").splitlines() if READY in l)
                merged = [int(v) for v in parse_quoted(line)[0][1:]]
                expected = [summary.rows.get(t, 0) for t in WRITE_ORDER]
                if merged != expected:
                    process.write(b"ROLLBACK;\n")
                    process.close_stdin()
                    process.finish()
                    raise RemoteError(f"{self.settings.where}: the device merged {merged} rows where "
                                      f"{expected} were staged; rolled back", host=self.settings.host)
                process.write(f"COMMIT;\nSELECT quote('{COMMITTED}');\n".encode())
                commit_sent = True
            process.close_stdin()
            result = process.finish()
        except (ConnectError, RemoteError) as exc:
            process.abort()
            if commit_sent and self._committed(token):
                return
            if isinstance(exc, ConnectError):
                raise ConnectError(f"{exc}; the load was not committed, the device's meter.db is unchanged") from None
            raise
        if COMMITTED in result.text():
            if progress:
                progress("merge", 1, 1)
            return
        if commit_sent and self._committed(token):
            return
        if result.status == -1 or not self._ex_alive():
            raise ConnectError(f"{self.settings.where}: connection lost during the merge; the load was not "
                               "committed, the device's meter.db is unchanged")
        self._raise_for(Result(result.status or 1, result.stdout, result.stderr or b"merge ended before COMMIT"),
                        "merge")
        raise RemoteError(f"{self.settings.where}: the merge ended without a commit; nothing was written",
                          host=self.settings.host)

    def _ex_alive(self) -> bool:
        return self.executor is not None and self.executor.alive()

    def _committed(self, token: str) -> bool:
        """After a cut between COMMIT and its confirmation: did the load land?"""
        self.close()
        try:
            rows = self._query(f"SELECT quote(count(*)) FROM {ledger.LEDGER_TABLE} WHERE Token = {literal(token)};")
        except TargetError:
            return False
        return bool(rows) and rows[0][0] == 1

    # ---- lifecycle -----------------------------------------------------------------------
    def fetch(self, sql: str, params: tuple = ()) -> List[tuple]:
        """Rows of a query run by the device's sqlite3 (values quoted, ``.mode quote`` output)."""
        script = f".mode quote\n{self._timeout}\n{bind(sql, params).rstrip(';')};\n"
        result = self._ex().run(self._sqlite_command(), stdin=script.encode())
        self._raise_for(result, "query")
        return parse_quoted(result.text())

    @contextlib.contextmanager
    def readable_copy(self) -> Iterator[str]:
        """A consistent local copy of the device's meter.db (via ``.backup``)."""
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            path = os.path.join(workdir, "meter.db")
            self.backup(path)
            yield path

    def backup(self, destination: str) -> None:
        """``.backup`` on the device, fetched over the exec channel and checked locally."""
        self._preflight()
        remote = f"{REMOTE_TMP}/gmd-backup-{uuid.uuid4().hex}.db"
        try:
            result = self._ex().run(self._sqlite_command(self._timeout,
                                                         f".backup {remote}"))
            self._raise_for(result, "backup")
            reader = f"gzip -c {shlex.quote(remote)}" if self.gzip_on_device else f"cat {shlex.quote(remote)}"
            result = self._ex().run(reader)
            if result.status != 0:
                raise RemoteError(f"{self.settings.where}: reading the backup failed: {_first(result.error_text())}",
                                  host=self.settings.host)
            data = gzip.decompress(result.stdout) if self.gzip_on_device else result.stdout
        finally:
            self._remove_remote(remote)
        partial = destination + ".part"
        with open(partial, "wb") as handle:
            handle.write(data)
        try:
            conn = sqlite3.connect(partial)
            try:
                ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            ok = str(exc)
        if ok != "ok":
            os.remove(partial)
            raise RemoteError(f"{self.settings.where}: the fetched backup is damaged ({ok})", host=self.settings.host)
        os.replace(partial, destination)

    def restore(self, source: str) -> None:
        """Upload a backup and ``.restore`` it into the device's meter.db."""
        if not os.path.exists(source):
            raise TargetError(f"backup {source} not found")
        self._preflight()
        remote = f"{REMOTE_TMP}/gmd-restore-{uuid.uuid4().hex}.db"
        try:
            self._upload(source, remote, None)
            result = self._ex().run(self._sqlite_command(self._timeout,
                                                         f".restore {remote}"))
            self._raise_for(result, "restore")
        finally:
            self._remove_remote(remote)

    def clear(self, tokens=None) -> int:
        """Undo the ledger's loads (all, or those in ``tokens``) in one transaction."""
        exists = self._query(f"SELECT quote(count(*)) FROM sqlite_master WHERE name = '{ledger.LEDGER_TABLE}';",
                             checked=True)
        if not exists or exists[0][0] == 0:
            return 0
        entries = self._query("SELECT " + ", ".join(f"quote({c.strip()})" for c in ledger.LEDGER_COLUMNS.split(","))
                              + f" FROM {ledger.LEDGER_TABLE};")
        entries = ledger.select_entries(entries, tokens)
        if not entries:
            return 0
        script = (f".bail on\n.separator ,\n{self._timeout}\nBEGIN IMMEDIATE;\n"
                  + "".join(s + ";\n" for s in ledger.clear_sql(entries))
                  + f"COMMIT;\nSELECT quote('{COMMITTED}');\n")
        result = self._ex().run(self._sqlite_command(), stdin=script.encode())
        self._raise_for(result, "clear")
        if COMMITTED not in result.text():
            raise RemoteError(f"{self.settings.where}: clear ended without a commit; nothing was removed",
                              host=self.settings.host)
        return len(entries)

    def init(self, force: bool = False) -> None:
        """Create meter.db on the device from the shipped schema (never over an existing one without force)."""
        s = self.settings
        result = self._ex().run(f"test -e {self._db}")
        if result.status == 0 and not force:
            raise TargetError(f"{s.where}: {s.db_path} already exists; use --force to replace it")
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            path = os.path.join(workdir, "meter.db")
            from .local import LocalTarget

            LocalTarget(path).init()
            self.gzip_on_device = False
            temporary = f"{s.db_path}.gmd-{uuid.uuid4().hex}"
            self._upload(path, temporary, None)
            moved = self._ex().run(f"mv {shlex.quote(temporary)} {self._db}")
            if moved.status != 0:
                self._remove_remote(temporary)
                raise RemoteError(f"{s.where}: cannot create {s.db_path}: {_first(moved.error_text())}",
                                  host=s.host)


def _parts_for(produce: Produce) -> int:
    """Two staging processes for a Scenario of several meters on a machine with two cores or
    more (fork only: nothing to pickle, no interpreter start-up); one otherwise."""
    from ..generate.scenario import Scenario

    scenario = getattr(produce, "__self__", None)
    if (isinstance(scenario, Scenario) and getattr(produce, "__name__", "") == "generate"
            and scenario.meter_count() >= 2 and hasattr(os, "fork") and (os.cpu_count() or 1) >= 2):
        return 2
    return 1


def _part_of(produce: Produce, part: int, parts: int) -> Produce:
    scenario = produce.__self__  # type: ignore[attr-defined]
    return lambda ids, names: scenario.generate(ids, names, part=part, parts=parts)


def _stage_file(path: str, produce: Produce, ids: IdAllocator, names: NameIndex, progress: Progress,
                expected_meters: Optional[int]) -> Tuple[LoadSummary, int]:
    """One stage file; returns its summary and how many MeterData headers it holds."""
    header_first = ids.next_header_id
    conn = local_connect(path, 5.0)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        for table in WRITE_ORDER:
            conn.execute(f"CREATE TABLE {table} ({', '.join(TABLE_COLUMNS[table])})")
        summary = write_load(conn, produce, ids, names, progress, expected_meters, ledger_entry=False)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return summary, ids.next_header_id - header_first


def _loopback(host: str) -> bool:
    """A device on this machine (a stand-in): compressing only costs CPU there."""
    import ipaddress
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _first(text: str) -> str:
    """The line of stderr that says what went wrong: sqlite3's error line when there is one
    (a device may print login noise before it), else the first line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() and not line.startswith("Could not chdir"):
            return line
    return lines[0] if lines else ""
