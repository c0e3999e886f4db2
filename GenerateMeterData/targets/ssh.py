"""A USPD over SSH: rows staged here, merged on the device by its own ``sqlite3`` in one
``BEGIN IMMEDIATE`` transaction (merge.py), over one SSH connection kept open for the process.

What a load costs: one remote command.  The device's state (ids by name, tools present) is read
once per connection and re-checked inside every load's transaction; a small load travels as SQL
text inside the merge command itself, a large one is uploaded as SQLite files first (``cat >``:
no SFTP needed).  The merge commits only when this side says so: the script stops after the
inserts and prints a READY line with the row counts it found; only when those match does
``COMMIT`` follow on stdin.  A connection cut before that leaves the device's sqlite3 with
end-of-input and no COMMIT, which rolls back.  A cut after COMMIT was sent is settled by looking
for the load's token in the ledger table.  Exit status 0 alone is never taken as proof of a commit.

The connection is re-opened by itself when it dropped *between* operations, never inside one."""
from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
import tempfile
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

from ..errors import (ConnectError, GenerateMeterDataError, InputError, InterruptedLoad,
                      RemoteError, SchemaError, TargetError)
from ..records.rows import NameIndex
from ..records.summary import CreatedMeter, LoadSummary
from ..schema.layout import REFERENCE_TABLES, WRITE_ORDER, meter_ids_exhausted
from ..schema import integrity_problem, meter_db_problem, quick_check_finding
from ..model.context import TargetContext
from ..settings import DeviceSettings, settings_context
from . import ledger, merge
from .backupfile import new_backup, refuse_foreign
from .base import Committed, Produce, Progress, Target
from .executor import Executor, RemoteProcess, Result
from .sqlerrors import classify_sqlite_error
from .sqltext import bind, literal, parse_quoted
from .staging import SQL_TEXT_MAX_ROWS, PartNumbering, parts_of, remove_stale_workdirs, stage

CHUNK = 256 * 1024
NO_SPACE = 75  # exit status of the free-space check
#: A stage file in stage_dir untouched for this long (minutes, by the device's clock) belongs to
#: a dead run, whatever the command_timeout of the client that left it.
STALE_MINUTES = 24 * 60


@dataclass
class DeviceState:
    """What a load needs to know of the device, read once per connection."""

    names: NameIndex
    fingerprints: Dict[str, str]
    gzip: bool


class DeviceTarget(Target):
    """meter.db on a device reached over SSH."""

    def __init__(self, settings: DeviceSettings, context: Optional[TargetContext] = None) -> None:
        self.settings = settings
        self.name = f"{settings.where}:{settings.db_path}"
        self.context = context or settings_context(settings)
        self.executor: Optional[Executor] = None
        self.state: Optional[DeviceState] = None
        # quick_check's first finding for the database of this connection: "" sound, None not
        # checked yet (kept when only the reference tables are read again)
        self._damage: Optional[str] = None
        self.commands = 0  # remote commands started (what a load or a test costs, for benchmarks)
        self.logins = 0    # SSH logins made
        self._gzip_seen = False
        self._entries_expected = 1  # ledger entries of the current token once its commit landed

    def __repr__(self) -> str:
        return f"DeviceTarget({self.settings.where!r}, db={self.settings.db_path!r})"

    # ---- plumbing ------------------------------------------------------------------------
    def _ex(self) -> Executor:
        """The open connection; re-opened when it dropped since the last operation (the
        device's state is read again then: it may have been replaced meanwhile)."""
        if self.executor is None or not self.executor.alive():
            if self.executor is not None:
                self.executor.close()
            self._forget_state()
            self.executor = Executor(self.settings).connect()
            self.logins += 1
        return self.executor

    def _start(self, command: str) -> RemoteProcess:
        self.commands += 1
        return self._ex().start(command)

    def _run(self, command: str, stdin: Optional[bytes] = None, timeout: Optional[float] = None) -> Result:
        self.commands += 1
        return self._ex().run(command, stdin=stdin, timeout=timeout)

    def close(self) -> None:
        """Close the SSH connection."""
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        self._forget_state()

    def _forget_state(self) -> None:
        """The database may be another one now (a new connection, a restore, init): its state is
        read, and its pages checked, again before the next load."""
        self.state, self._damage = None, None

    @property
    def _stage_dir(self) -> str:
        return self.settings.stage_dir.rstrip("/") or "/"

    @property
    def _db(self) -> str:
        return shlex.quote(self.settings.db_path)

    @property
    def _timeout(self) -> str:
        """The sqlite3 shell's busy timeout, from settings (busy_timeout)."""
        return f".timeout {int(self.settings.busy_timeout * 1000)}"

    def _sqlite(self, *args: str) -> str:
        """The device's sqlite3 on db_path, with arguments."""
        binary = shlex.quote(self.settings.sqlite3)
        prefix = "sudo -n " if self.settings.sudo else ""
        return (f"{prefix}{binary} -batch -bail {self._db} " + " ".join(shlex.quote(a) for a in args)).rstrip()

    def _sqlite_command(self, *args: str) -> str:
        """The device's sqlite3 on db_path -- only when db_path exists (sqlite3 would create an
        empty file there), exit 66 otherwise."""
        return f"test -f {self._db} || exit 66; exec {self._sqlite(*args)}"

    def _checks(self) -> str:
        """Shell that exits 127 without sqlite3, 66 without the database, and says if gzip exists;
        on the way it removes this tool's temporaries that dead runs left in stage_dir -- those
        untouched for a day (``STALE_MINUTES``), or longer than this client's own commands may
        live: other clients' loads (their own command_timeout, unknown here) may still use a
        younger one."""
        minutes = max(STALE_MINUTES, int(self.settings.command_timeout // 60) + 2)
        sudo = "command -v sudo >/dev/null 2>&1 || exit 126; " if self.settings.sudo else ""
        return (f"find {shlex.quote(self._stage_dir)} -maxdepth 1 -type f -name 'gmd-*' -mmin +{minutes} "
                f"-exec rm -f {{}} + 2>/dev/null; {sudo}"
                f"command -v {shlex.quote(self.settings.sqlite3)} >/dev/null 2>&1 || exit 127; "
                f"test -f {self._db} || exit 66; "
                "if command -v gzip >/dev/null 2>&1; then echo \"'gzip'\"; fi; ")

    def _check_status(self, result: Result) -> None:
        s = self.settings
        if result.status == 127:
            raise RemoteError(f"{s.where}: sqlite3 not found on the device (looked for {s.sqlite3!r}; "
                              "set the sqlite3 key in settings.ini)", host=s.host, exit_status=127)
        if result.status == 126 and s.sudo:
            raise RemoteError(f"{s.where}: sudo = yes, but the device has no sudo (set sudo = no, or log in "
                              "as a user that may write db_path)", host=s.host, exit_status=126)
        if result.status == 66:
            raise RemoteError(f"{s.where}: db_path {s.db_path} does not exist on the device "
                              "(create it with 'init', or fix db_path in settings.ini)",
                              host=s.host, exit_status=66)

    def check(self, load: bool = True) -> None:
        """Connect, and read the device's state: sqlite3 present, db_path a meter.db (its pages
        undamaged, with ``load``); one clear line otherwise.  The state is kept for the loads of
        this connection."""
        self._device_state(integrity=load and not self.settings.before_load)  # else after before_load
        if load:
            self._refuse_damaged()

    def _query(self, sql: str, checked: bool = False) -> List[tuple]:
        """Rows of statements whose every column is wrapped in quote(); with ``checked`` the
        device checks (sqlite3 present, database present, gzip) run in the same round trip."""
        return self._rows(self._query_text(sql, checked), checked)

    def _query_text(self, sql: str, checked: bool = False) -> str:
        """What the device's sqlite3 printed for ``sql`` (errors raised)."""
        script = f".separator ,\n{self._timeout}\n{sql}\n"
        command = (self._checks() + "exec " + self._sqlite()) if checked else self._sqlite_command()
        result = self._run(command, stdin=script.encode())
        self._check_status(result)
        self._raise_for(result, "query")
        return result.text()

    def _rows(self, text: str, checked: bool) -> List[tuple]:
        rows = parse_quoted(text)
        if checked:
            self._gzip_seen = ("gzip",) in rows
            rows = [row for row in rows if row != ("gzip",)]
        return rows

    def _raise_for(self, result: Result, what: str) -> None:
        # A zero exit is success: with -bail sqlite3 exits non-zero on any SQL error, and what a
        # device prints on stderr besides (login banners, "could not chdir to home") is noise.
        # (Commits are never judged by the exit status: see the markers in _merge.)
        self._check_status(result)
        if result.status == 0 and merge.DUPLICATE not in result.text():
            return
        text = result.error_text()
        s = self.settings
        if merge.DUPLICATE in result.text():
            text = "UNIQUE constraint failed: MeterData"  # the merge's own duplicate check said so
        error = classify_sqlite_error(text, f"{s.where}: {s.db_path}", s.db_path, s.busy_timeout,
                                      "stop the poller with before_load, or raise busy_timeout or --busy-timeout")
        if error is not None:
            raise error
        if result.status == 127 or "not found" in text:
            raise RemoteError(f"{s.where}: {_first(text)}", host=s.host, exit_status=result.status, stderr=text)
        raise RemoteError(f"{s.where}: {what} failed (exit {result.status}): {_first(text) or 'no message'}",
                          host=s.host, exit_status=result.status, stderr=text)

    def _hook(self, command: Optional[str], label: str) -> None:
        """Run before_load/after_load: it has done its part once its exit status arrived and its
        output went quiet (a poller it starts in the background keeps the channel open); a hook
        that fails, hangs or loses the connection is named."""
        if not command:
            return
        try:
            self.commands += 1
            result = self._ex().run(command, settle=True)
        except (ConnectError, RemoteError) as exc:
            prefix = f"{self.settings.where}: "
            text = str(exc)[len(prefix):] if str(exc).startswith(prefix) else str(exc)
            message = f"{prefix}{label} command failed: {text}"
            if isinstance(exc, ConnectError):
                raise ConnectError(message, **exc.fields()) from None
            raise RemoteError(message, host=exc.host, exit_status=exc.exit_status, stderr=exc.stderr) from None
        if result.status != 0:
            raise RemoteError(f"{self.settings.where}: {label} command failed (exit {result.status}): "
                              f"{_first(result.error_text())}", host=self.settings.host, exit_status=result.status)

    def _start_upload(self, remote_path: str, size_hint: Optional[int] = None):
        """Start ``cat > file`` (``gzip -dc`` when compressing) on the device; data comes later."""
        compress = self.settings.compress == "yes" or (
            self.settings.compress == "auto" and bool(self.state and self.state.gzip)
            and not _loopback(self.settings.host) and (size_hint is None or size_hint > 64 * 1024))
        writer = "gzip -dc" if compress else "cat"
        quoted = shlex.quote(remote_path)
        return self._start(f"umask 077; {writer} > {quoted} && wc -c < {quoted}"), compress

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

    def _check_space(self, stage_bytes: int) -> None:
        """Refuse before uploading when stage_dir cannot hold the stage files, or the database's
        filesystem the growth of meter.db and its journal (about twice the staged size)."""
        needs = [(self._stage_dir, stage_bytes, "stage_dir"),
                 (os.path.dirname(self.settings.db_path) or ".", 2 * stage_bytes, "db_path")]
        script = "".join(f"df -Pk {shlex.quote(d)} 2>/dev/null | awk 'NR==2 {{print \"{key}\", $4}}'; "
                         for d, _, key in needs)
        result = self._run(script)
        free = {}
        for line in result.text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                free[parts[0]] = int(parts[1]) * 1024
        for directory, need, key in needs:
            if key in free and free[key] < need:
                where = "the stage directory" if key == "stage_dir" else "the database's filesystem"
                hint = ("point stage_dir in settings.ini at a bigger filesystem" if key == "stage_dir"
                        else "free space on the device, or load fewer meters/days at once")
                raise TargetError(f"{self.settings.where}: not enough space for this load: {where} {directory} "
                                  f"has {_mb(free[key])} free and the load needs {_mb(need)}; nothing was "
                                  f"written ({hint})")

    def _remove_remote(self, path: str) -> None:
        """Best effort, also after a failure: reconnect once if the connection died."""
        for _ in range(2):
            try:
                self._run(f"rm -f {shlex.quote(path)}", timeout=self.settings.connect_timeout + 10)
                return
            except Exception:  # best effort: a dead connection may fail in many ways
                self.close()

    # ---- device state --------------------------------------------------------------------
    def _device_state(self, integrity: bool = True) -> DeviceState:
        """Ids by name and tools present, read once per connection (one round trip); with
        ``integrity`` (what a load needs) the database's pages are quick_check-ed, once per
        connection, in the same round trip when the state is read then (else in one command of
        its own), unless the settings say integrity_check = off."""
        self._ex()
        integrity = integrity and self.settings.integrity_check != "off" and self._damage is None
        marker = "'GMD-QUICK-CHECK'"
        check = f"SELECT quote({marker});\nPRAGMA quick_check(1);\n" if integrity else ""
        if self.state is not None:
            if integrity:  # the state was read without the check (backup, restore, before_load)
                damage = self._integrity(self._query_text(check), marker)
                if self.state is None:  # the connection dropped and was re-opened meanwhile
                    return self._device_state(integrity=True)
                self._damage = damage
            return self.state
        text = self._query_text(
            "SELECT quote('R'), quote(Name), quote(Id) FROM ArchTypes;\n"
            "SELECT quote('T'), quote(Type), quote(Id), quote(Class) FROM MeterTypes;\n"
            "SELECT quote('I'), quote(Name), quote(Id) FROM MeterIfaces;\n"
            "SELECT quote('S'), quote(name) FROM sqlite_master WHERE type = 'table';\n" + check, checked=True)
        if integrity:
            self._damage = self._integrity(text, marker)
        rows = self._rows(text.split(marker + "\n", 1)[0] if integrity else text, checked=True)
        record_types, meter_types, classes, interfaces = {}, {}, {}, {}
        for row in rows:
            kind = row[0]
            if kind == "R":
                record_types[row[1]] = row[2]
            elif kind == "T":
                meter_types[row[1]] = row[2]
                classes[row[1]] = row[3]
            elif kind == "I":
                interfaces[row[1]] = row[2]
        if not record_types:
            raise SchemaError(f"{self.settings.where}: {self.settings.db_path} has no ArchTypes rows; is it a meter.db?")
        missing = [t for t in REFERENCE_TABLES + WRITE_ORDER if t not in {row[1] for row in rows if row[0] == "S"}]
        if missing:  # a load there could not be cleared afterwards: refuse before writing
            raise SchemaError(f"{self.settings.where}: {self.settings.db_path} is not a meter.db as expected: it has "
                              f"no table {', '.join(missing)}; nothing was written")
        fingerprints = {"ArchTypes": merge.fingerprint((i, n) for n, i in record_types.items()),
                        "MeterTypes": merge.fingerprint((i, n) for n, i in meter_types.items()),
                        "MeterIfaces": merge.fingerprint((i, n) for n, i in interfaces.items())}
        self.state = DeviceState(NameIndex(record_types, meter_types, classes, interfaces), fingerprints,
                                 gzip=self._gzip_seen)
        return self.state

    def _integrity(self, text: str, marker: str) -> str:
        """What quick_check printed after the marker: "" when the pages are sound."""
        _, found, tail = text.partition(marker + "\n")
        return quick_check_finding(tail) if found else "quick_check gave no answer"

    def _refuse_damaged(self) -> None:
        if self._damage:  # rows written into damaged pages could not be cleared again
            raise SchemaError(f"{self.settings.where}: {self.settings.db_path} is damaged (quick_check: "
                              f"{self._damage}); nothing was written; restore a backup, or set "
                              "integrity_check = off to load anyway")

    # ---- load ----------------------------------------------------------------------------
    def _write_load(self, produce: Produce, progress: Progress = None,
                    expected_meters: Optional[int] = None, committed: Committed = None) -> LoadSummary:
        """Stage, (upload,) merge in one device-side transaction; see the module docstring."""
        started = time.perf_counter()
        token = self.new_token()
        remove_stale_workdirs()
        # with before_load (which stops the poller), the whole-database read of quick_check waits
        # for it: one command of its own on the first load of a connection
        deferred = bool(self.settings.before_load)
        state = self._device_state(integrity=not deferred)
        self._refuse_damaged()
        # after_load runs after whatever happens -- once before_load (if any) has started
        hook_started = not self.settings.before_load
        outcome: Optional[BaseException] = None
        summary: Optional[LoadSummary] = None
        try:
            if self.settings.before_load:
                hook_started = True
                self._hook(self.settings.before_load, "before_load")
                state = self._device_state(integrity=True)
                self._refuse_damaged()
            summary = self._load(produce, state, token, progress, expected_meters, committed)
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            if hook_started and self.settings.after_load:
                self._after_load(outcome, summary)
        summary.seconds = time.perf_counter() - started
        summary.target = self.name
        return summary

    def _after_load(self, outcome: Optional[BaseException], summary: Optional[LoadSummary]) -> None:
        """Run after_load whatever happened; its failure is reported with the load's own result."""
        try:
            self._hook(self.settings.after_load, "after_load")
        except Exception as exc:
            if outcome is not None:  # the load's own error stays the error; the hook's rides along
                outcome.args = (f"{outcome}; and then {exc}",) + tuple(outcome.args[1:])
                return
            done = f"the load committed (token {summary.token}, {summary.total_rows} rows)" if summary else "the load ended"
            raise RemoteError(f"{done}, but {exc}", host=self.settings.host) from None

    def _load(self, produce: Produce, state: DeviceState, token: str, progress: Progress,
              expected_meters: Optional[int], committed: Committed = None) -> LoadSummary:
        """One transaction -- or, when the user set max_rows_per_load, one per part of about
        that many rows (whole meters), all under the same token, so clearing the token removes
        every part.  ``committed`` hears the token after each part's commit; a failure or an
        interrupt after some parts committed says the token and how many (and carries them as
        ``token`` and ``parts_committed``)."""
        self._entries_expected = 1
        max_rows = self.settings.max_rows_per_load
        total: Optional[LoadSummary] = None
        done = 0  # parts committed
        try:
            if not max_rows:
                total = self._load_part(produce, None, state, token, progress, expected_meters)
                if committed is not None and total.token:
                    committed(token)
                return total
            numbering = PartNumbering()
            for number, part in enumerate(parts_of(produce, state.names, max_rows)):
                rowsets, created, provisional = numbering.renumber(part)
                self._entries_expected = number + 1
                summary = self._load_part(lambda ids, names, rowsets=rowsets: iter(rowsets), created, state,
                                          token, progress, expected_meters)
                done += 1
                if committed is not None:
                    committed(token)
                numbering.merged(provisional, [meter.meter_id for meter in summary.created])
                total = summary if total is None else _combined(total, summary)
        except BaseException as exc:
            landed = getattr(exc, "landed", False) if isinstance(exc, InterruptedLoad) else False
            if landed is not False and committed is not None:
                committed(token)  # this part is on the device (or may be): its token must be known
            if landed:
                done += 1  # interrupted after this part's commit
            if not done or not max_rows:
                raise
            raise self._partly_loaded(exc, token, done) from None
        return total or LoadSummary({}, 0, None, None)

    def _partly_loaded(self, exc: BaseException, token: str, done: int) -> BaseException:
        """The error of a split load that failed (or was interrupted) after ``done`` parts
        committed: what happened, and the token that clears those parts."""
        kept = (f"{done} part(s) of this load committed and are on the device under token {token} "
                f"('clear --load {token}' removes them)")
        if isinstance(exc, (KeyboardInterrupt, InterruptedLoad)):
            landed = getattr(exc, "landed", False)
            when = {True: f"after the commit of part {done}",
                    None: f"just after part {done + 1}'s COMMIT was sent (whether that part landed is unknown)",
                    False: f"during part {done + 1}"}[landed]
            error: BaseException = InterruptedLoad(f"{self.settings.where}: interrupted {when} of the load: {kept}")
        else:  # the error stays what it is (a bug stays a bug); its message says what is kept
            error = exc
            if isinstance(exc, GenerateMeterDataError) or len(exc.args) <= 1:
                exc.args = (f"{exc}; {kept}",) + tuple(exc.args[1:])
        error.token, error.parts_committed = token, done  # type: ignore[attr-defined]
        return error

    def _load_part(self, produce: Produce, created: Optional[int], state: DeviceState, token: str,
                   progress: Progress, expected_meters: Optional[int]) -> LoadSummary:
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            upload = self.settings.upload
            staged = stage(produce, state.names, workdir, text=upload == "sql",
                           max_text_rows=0 if upload == "staged" else SQL_TEXT_MAX_ROWS,
                           progress=progress, expected_meters=expected_meters, created=created)
            summary = staged.summary
            if summary.total_rows == 0:
                return summary
            remote_stages = [f"{self._stage_dir}/gmd-stage-{token}-{n}.db" for n in range(len(staged.paths))]
            if staged.sql is not None:
                source = staged.sql
            else:
                source = "".join(f"ATTACH {literal(remote)} AS {schema};\n"
                                 for remote, schema in zip(remote_stages, staged.schemas))
            script = merge.merge_script(source, staged.schemas, summary.rows, staged.header_counts, staged.created,
                                        token, int(time.time()), state.fingerprints, self.meter_id_floor,
                                        self.meter_id_span, self.settings.busy_timeout,
                                        about=self.load_about(summary.total_rows))
            merged = False
            try:
                if staged.paths:
                    self._check_space(sum(os.path.getsize(path) for path in staged.paths))
                    uploads = [self._start_upload(remote, os.path.getsize(path))
                               for path, remote in zip(staged.paths, remote_stages)]
                    for path, remote, started_upload in zip(staged.paths, remote_stages, uploads):
                        self._upload(path, remote, progress, started_upload)
                self._merge(script, summary, token, progress, remove=remote_stages)
                merged = True
            finally:
                if staged.paths and not merged:  # after a merge, its own command removed the files
                    for path in remote_stages:
                        self._remove_remote(path)
        summary.token = token
        return summary

    def _merge(self, script: str, summary: LoadSummary, token: str, progress: Progress,
               remove: List[str]) -> None:
        """Run the merge script, check its READY line, COMMIT, confirm (one remote command)."""
        if progress:
            progress("merge", 0, 1)
        command = self._sqlite_command()
        if remove:  # merge, then remove the staged files whatever happened
            command = (f"test -f {self._db} || exit 66; {self._sqlite()}; status=$?; "
                       f"rm -f {' '.join(shlex.quote(p) for p in remove)}; exit $status")
        process = self._start(command)
        commit_sent = False
        try:
            process.write(script.encode("utf-8"))
            if process.wait_for(merge.READY.encode()):
                hid0, before, counts, meters = merge.parse_ready_entries(parse_quoted(_lines_with(
                    process.text(), merge.READY, merge.METER)))
                self._entries_expected = before + 1  # the token's entries once this commit landed
                expected = [summary.rows.get(t, 0) for t in WRITE_ORDER]
                if counts != expected:
                    process.write(b"ROLLBACK;\n")
                    process.close_stdin()
                    process.finish()
                    raise RemoteError(f"{self.settings.where}: the device found {counts} rows where "
                                      f"{expected} were staged; rolled back", host=self.settings.host)
                commit_sent = True
                process.write(merge.commit_text().encode())
                summary.created = [CreatedMeter(m, d, t or "") for m, d, t in meters]
                summary.first_record_id = hid0 + 1 if summary.rows.get("MeterData") and hid0 is not None else None
            process.close_stdin()
            result = process.finish()
        except KeyboardInterrupt:
            self._interrupted(process, commit_sent, token)
            raise  # not reached: _interrupted raises
        except (ConnectError, RemoteError) as exc:
            process.abort()
            if commit_sent and self._committed(token):
                return
            if isinstance(exc, ConnectError):
                raise ConnectError(f"{exc}; the load was not committed, the device's meter.db is unchanged",
                                   **exc.fields()) from None
            raise
        if merge.COMMITTED in result.text():
            if progress:
                progress("merge", 1, 1)
            return
        if commit_sent and self._committed(token):
            return
        highest = [row[1] for row in parse_quoted(_lines_with(result.text(), merge.NO_METER_ID))
                   if len(row) > 1 and row[0] == merge.NO_METER_ID]
        if highest:
            raise InputError(f"{self.settings.where}: {meter_ids_exhausted(highest[0])}")
        changed = merge.changed_tables(parse_quoted(_lines_with(result.text(), merge.CHANGED)))
        if changed:
            self.state, before = None, (self.state.fingerprints if self.state else {})
            what = "; ".join(f"{table}: {merge.describe_change(before.get(table, ''), now)}"
                             for table, now in changed.items())
            raise SchemaError(f"{self.settings.where}: the device's reference tables changed since they were "
                              f"read ({what}); nothing was written -- run the load again")
        if result.status == -1 or not self._ex_alive():
            raise ConnectError(f"{self.settings.where}: connection lost during the merge; the load was not "
                               "committed, the device's meter.db is unchanged", host=self.settings.host,
                               port=self.settings.port, reason="connection lost")
        self._raise_for(Result(result.status or 1, result.stdout, result.stderr or b"merge ended before COMMIT"),
                        "merge")
        raise RemoteError(f"{self.settings.where}: the merge ended without a commit; nothing was written",
                          host=self.settings.host)

    def _interrupted(self, process: RemoteProcess, commit_sent: bool, token: str) -> None:
        """Ctrl-C during a merge: say what happened, from the device's ledger."""
        landed = False
        if commit_sent:
            # COMMIT is on its way: wait for its answer rather than guess
            try:
                landed = process.wait_for(merge.COMMITTED.encode(), timeout=self.settings.busy_timeout + 5)
            except BaseException:
                landed = False
            process.abort()
            if not landed:
                try:
                    landed = self._committed(token)
                except BaseException:
                    error = InterruptedLoad(f"{self.settings.where}: interrupted just after COMMIT was sent; "
                                            f"whether load {token} landed is unknown: look for it with 'loads'")
                    error.landed = None  # type: ignore[attr-defined]
                    raise error from None
        else:
            process.abort()
        if landed:
            error = InterruptedLoad(f"{self.settings.where}: interrupted after the commit: the load is on the "
                                    f"device (token {token})")
        else:
            error = InterruptedLoad(f"{self.settings.where}: interrupted before the commit: nothing was written")
        error.landed = landed  # type: ignore[attr-defined]
        raise error from None

    def _ex_alive(self) -> bool:
        return self.executor is not None and self.executor.alive()

    def _committed(self, token: str) -> bool:
        """After a cut between COMMIT and its confirmation: did the load land?"""
        self.close()
        try:
            rows = self._query(f"SELECT quote(count(*)) FROM {ledger.LEDGER_TABLE} WHERE Token = {literal(token)};")
        except TargetError:
            return False
        return bool(rows) and rows[0][0] >= self._entries_expected

    # ---- lifecycle -----------------------------------------------------------------------
    def fetch(self, sql: str, params: tuple = ()) -> List[tuple]:
        """Rows of a query run by the device's sqlite3 (values quoted, ``.mode quote`` output)."""
        script = f".mode quote\n{self._timeout}\n{bind(sql, params).rstrip().rstrip(';')};\n"
        result = self._run(self._sqlite_command(), stdin=script.encode())
        self._raise_for(result, "query")
        return parse_quoted(result.text())

    @contextlib.contextmanager
    def readable_copy(self) -> Iterator[str]:
        """A consistent local copy of the device's meter.db (via ``.backup``)."""
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            path = os.path.join(workdir, "meter.db")
            self.backup(path)  # quick_check-ed on arrival: only the tables are left to look at
            problem = meter_db_problem(path, integrity=False)
            if problem:
                raise SchemaError(f"{self.settings.where}: {self.settings.db_path} is not a meter.db ({problem})")
            yield path

    def backup(self, destination: str) -> None:
        """``.backup`` on the device (a 0600 file in stage_dir), streamed to a new local file as
        it arrives (never held in memory; see backupfile), checked, then moved into place."""
        refuse_foreign(destination)  # before anything runs on the device
        state = self._device_state(integrity=False)
        remote = f"{self._stage_dir}/gmd-backup-{uuid.uuid4().hex}.db"
        try:
            with new_backup(destination) as partial, open(partial, "wb") as handle:
                result = self._run("umask 077; " + self._sqlite_command(self._timeout, f".backup {remote}"))
                self._raise_for(result, "backup")
                inflate = zlib.decompressobj(31) if state.gzip else None
                write = (lambda data: handle.write(inflate.decompress(data))) if inflate else handle.write
                reader = f"gzip -c {shlex.quote(remote)}" if state.gzip else f"cat {shlex.quote(remote)}"
                self.commands += 1
                process = self._ex().start(reader, sink=write)
                process.close_stdin()
                result = process.finish()
                if process.sink_error is not None:
                    raise InputError(f"cannot write the backup to {destination}: "
                                     f"{getattr(process.sink_error, 'strerror', None) or process.sink_error}")
                if result.status != 0:
                    raise RemoteError(f"{self.settings.where}: reading the backup failed: "
                                      f"{_first(result.error_text())}", host=self.settings.host)
                if inflate is not None:
                    handle.write(inflate.flush())
                handle.close()
                problem = _quick_check(partial)
                if problem:
                    raise RemoteError(f"{self.settings.where}: the fetched backup is damaged ({problem})",
                                      host=self.settings.host)
        finally:
            self._remove_remote(remote)

    def restore(self, source: str) -> None:
        """Upload a backup and ``.restore`` it into the device's meter.db."""
        self.check_backup(source)
        self._device_state(integrity=False)
        remote = f"{self._stage_dir}/gmd-restore-{uuid.uuid4().hex}.db"
        restoring = None
        try:
            self._upload(source, remote, None)
            # .restore is all or nothing on the device; the marker after it says it finished
            script = f"{self._timeout}\n.restore {remote}\nSELECT '{merge.RESTORED}';\n"
            restoring = self._start(self._sqlite_command())
            restoring.write(script.encode())
            restoring.close_stdin()
            result = restoring.finish()
            self._raise_for(result, "restore")
            if merge.RESTORED not in result.text():
                raise RemoteError(f"{self.settings.where}: the restore ended without confirming; run 'verify' "
                                  "to see which content the device holds", host=self.settings.host)
        except KeyboardInterrupt:
            if restoring is None:
                raise InterruptedLoad(f"{self.settings.where}: interrupted before the restore started: the "
                                      "device's meter.db is unchanged") from None
            finished = False
            try:  # the device's .restore runs on: wait for its answer rather than guess
                finished = restoring.wait_for(merge.RESTORED.encode(), timeout=self.settings.busy_timeout + 30)
            except BaseException:
                finished = False
            restoring.abort()
            if finished:
                raise InterruptedLoad(f"{self.settings.where}: interrupted after the restore finished: the "
                                      f"device's meter.db now holds {source}") from None
            raise InterruptedLoad(f"{self.settings.where}: interrupted during the restore, which is all or "
                                  "nothing on the device: run 'verify' or 'loads' to see which content it holds") from None
        finally:
            self._remove_remote(remote)
        self._forget_state()

    def _clear_loads(self, tokens=None, meters=None) -> int:
        """Undo the ledger's loads (all, those in ``tokens``), or remove the ``meters`` (MeterIds)
        a load created (hubs with the meters under them): one remote command that reads the
        ledger and deletes inside one transaction, so no load made meanwhile is touched.  A link
        lost after COMMIT was sent is settled by looking at the ledger again."""
        meters = None if meters is None else [int(m) for m in meters]
        process = self._start(self._sqlite_command())
        commit_sent = False
        try:
            process.write(merge.clear_begin(self.settings.busy_timeout).encode())
            if not process.wait_for(merge.LEDGER_READY.encode()):
                return self._clear_failed(process)
            asked = iter(range(1, 1 << 30))

            def ask(sql: str) -> List[tuple]:
                script, begin, end = merge.ask_text(sql, next(asked))
                process.write(script.encode())
                if not process.wait_for(f"'{end}'".encode()):
                    self._clear_failed(process)
                return merge.asked_rows(process.text(), begin, end)

            plan = ledger.plan_clear(ask, tokens, meters)
            if not plan.statements:
                process.write(b"ROLLBACK;\n")
                process.close_stdin()
                process.finish()
                self.last_clear = plan
                return 0
            process.write(("".join(s + ";\n" for s in plan.statements)).encode())
            commit_sent = True
            process.write(merge.commit_text().encode())
            process.close_stdin()
            result = process.finish()
        except (ConnectError, RemoteError) as exc:
            process.abort()
            if commit_sent and self._cleared(plan):
                return self._cleared_result(plan, meters)
            if isinstance(exc, ConnectError):
                raise ConnectError(f"{exc}; the clear was not committed, nothing was removed",
                                   **exc.fields()) from None
            raise
        except BaseException:
            process.abort()
            raise
        if merge.COMMITTED in result.text():
            return self._cleared_result(plan, meters)
        if self._cleared(plan):  # the link went after COMMIT, before its confirmation
            return self._cleared_result(plan, meters)
        try:
            self._raise_for(result, "clear")
        except TargetError as exc:
            raise ledger.full_disk_hint(exc, meters) from None
        raise RemoteError(f"{self.settings.where}: clear ended without a commit; nothing was removed",
                          host=self.settings.host)

    def _cleared_result(self, plan: ledger.ClearPlan, meters) -> int:
        self.last_clear = plan
        return len(meters) if meters is not None else plan.loads

    def _cleared(self, plan: ledger.ClearPlan) -> bool:
        """After a clear whose confirmation did not arrive: did it land (what it removes is gone)?"""
        self.close()
        try:
            rows = self._query(f"SELECT quote(({plan.settled}));")
        except TargetError:
            return False
        return bool(rows) and rows[0][0] == 0

    def loads(self) -> List[ledger.LoadInfo]:
        """Every load of the device's ledger, oldest first."""
        tables = {row[0]: row[1] or "" for row in self._query(
            "SELECT quote(name), quote(sql) FROM sqlite_master WHERE type = 'table' AND name IN "
            f"('{ledger.LEDGER_TABLE}', '{ledger.LOADS_TABLE}');")}
        if ledger.LEDGER_TABLE not in tables:
            return []
        ledger.check_tables(tables)  # a damaged ledger is called that, not "not a meter.db"
        return [ledger.load_info(row) for row in self._query(merge.loads_query(ledger.LOADS_TABLE in tables))]

    def _clear_failed(self, process: RemoteProcess) -> int:
        process.close_stdin()
        result = process.finish()
        self._raise_for(Result(result.status or 1, result.stdout, result.stderr or b"clear ended early"), "clear")
        raise RemoteError(f"{self.settings.where}: clear ended early; nothing was removed", host=self.settings.host)

    def init(self, force: bool = False) -> None:
        """Create meter.db on the device from the shipped schema.  Never over an existing one
        without force; with force, never while the database is in use (a -wal/-shm beside it,
        or a process holding it open where ``fuser`` can tell) -- the new file takes the old
        one's owner and mode, and replaces it in one ``mv``."""
        s = self.settings
        db = self._db
        in_use = (f"if [ -e {db}-wal ] || [ -e {db}-shm ]; then exit 73; fi; "
                  f"if command -v fuser >/dev/null 2>&1 && fuser {db} >/dev/null 2>&1; then exit 74; fi; ")
        result = self._run(f"if [ -e {db} ]; then {in_use} exit 65; fi; exit 0")
        if result.status == 65 and not force:
            raise TargetError(f"{s.where}: {s.db_path} already exists; use --force to replace it")
        self._check_in_use(result.status)
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            path = os.path.join(workdir, "meter.db")
            from .local import LocalTarget

            LocalTarget(path).init()
            temporary = shlex.quote(f"{s.db_path}.gmd-{uuid.uuid4().hex}")
            self._upload(path, temporary.strip("'"), None,
                         (self._start(f"cat > {temporary} && wc -c < {temporary}"), False))
            keep = (f"if [ -e {db} ]; then {in_use}"
                    f"chown \"$(stat -c %u:%g {db})\" {temporary} 2>/dev/null; "
                    f"chmod \"$(stat -c %a {db})\" {temporary} || exit 1; fi; ")
            moved = self._run(f"{keep}mv -f {temporary} {db}")
            if moved.status != 0:
                self._remove_remote(temporary.strip("'"))
                self._check_in_use(moved.status)
                raise RemoteError(f"{s.where}: cannot create {s.db_path}: {_first(moved.error_text())}",
                                  host=s.host)
        self._forget_state()

    def _check_in_use(self, status: int) -> None:
        s = self.settings
        if status == 73:
            raise TargetError(f"{s.where}: {s.db_path}-wal or -shm exists: the database is in use (or was not "
                              "closed cleanly); stop its users (e.g. with before_load) before init --force")
        if status == 74:
            raise TargetError(f"{s.where}: {s.db_path} is open by another process (fuser); stop it before "
                              "init --force")


def _combined(total: LoadSummary, part: LoadSummary) -> LoadSummary:
    """Two parts of one load as one summary."""
    for table, count in part.rows.items():
        total.rows[table] = total.rows.get(table, 0) + count
    total.meters += part.meters
    firsts = [t for t in (total.first_timestamp, part.first_timestamp) if t is not None]
    lasts = [t for t in (total.last_timestamp, part.last_timestamp) if t is not None]
    total.first_timestamp = min(firsts) if firsts else None
    total.last_timestamp = max(lasts) if lasts else None
    total.created.extend(part.created)
    if total.first_record_id is None:
        total.first_record_id = part.first_record_id
    return total


def _quick_check(path: str) -> str:
    """"" when an SQLite file passes quick_check, else what is wrong."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return integrity_problem(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _lines_with(text: str, *markers: str) -> str:
    """The output lines that carry one of the markers (the rest is other statements' output)."""
    return "\n".join(line for line in text.splitlines() if any(m in line for m in markers)) + "\n"


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
