"""Everything but a load on a device over SSH, each one remote command: queries, backup (streamed
to a new local file) and restore, clear (reads the ledger and deletes in one transaction), the
ledger's loads, and init of a fresh meter.db."""
from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
import tempfile
import uuid
import zlib
from typing import Iterator, List, NoReturn, Tuple

from ..errors import ConnectError, InputError, InterruptedLoad, RemoteError, SchemaError, TargetError
from ..schema import integrity_problem, meter_db_problem
from . import ledger, merge
from .backupfile import new_backup, refuse_foreign
from .executor import RemoteProcess, Result
from .resident import Exchange
from .sqltext import bind, parse_quoted
from .ssh_session import DeviceSession, first_line


class DeviceAdmin:
    """Queries, backup, restore, clear, loads and init on the device of ``session``."""

    def __init__(self, session: DeviceSession) -> None:
        self.session = session
        self.settings = session.settings

    def fetch(self, sql: str, params: tuple = ()) -> List[tuple]:
        """Rows of a query run by the device's sqlite3 (values quoted, ``.mode quote`` output)."""
        script = f".mode quote\n{self.session.timeout_command}\n{bind(sql, params).rstrip().rstrip(';')};\n"
        result = self.session.sqlite_script(script)
        self.session.raise_for(result, "query")
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
        state = self.session.device_state(integrity=False)
        remote = f"{self.session.stage_dir}/gmd-backup-{uuid.uuid4().hex}.db"
        try:
            with new_backup(destination) as partial, open(partial, "wb") as handle:
                command = self.session.sqlite_command(self.session.timeout_command, f".backup {remote}")
                result = self.session.run("umask 077; " + command)
                self.session.raise_for(result, "backup")
                inflate = zlib.decompressobj(31) if state.gzip else None
                def write(data: bytes) -> None:
                    handle.write(inflate.decompress(data) if inflate else data)
                reader = f"gzip -c {shlex.quote(remote)}" if state.gzip else f"cat {shlex.quote(remote)}"
                self.session.commands += 1
                process = self.session.connection().start(reader, sink=write)
                process.close_stdin()
                result = process.finish()
                if process.sink_error is not None:
                    raise InputError(f"cannot write the backup to {destination}: "
                                     f"{getattr(process.sink_error, 'strerror', None) or process.sink_error}")
                if result.status != 0:
                    raise RemoteError(f"{self.settings.where}: reading the backup failed: "
                                      f"{first_line(result.error_text())}", host=self.settings.host)
                if inflate is not None:
                    handle.write(inflate.flush())
                handle.close()
                problem = _quick_check(partial)
                if problem:
                    raise RemoteError(f"{self.settings.where}: the fetched backup is damaged ({problem})",
                                      host=self.settings.host)
        finally:
            self.session.remove_remote(remote)

    def restore(self, source: str) -> None:
        """Upload a backup (checked by the target: ``Target.check_backup``) and ``.restore`` it into
        the device's meter.db."""
        self.session.resident.stop()  # the file is rewritten: no process of ours keeps it open
        self.session.device_state(integrity=False)
        remote = f"{self.session.stage_dir}/gmd-restore-{uuid.uuid4().hex}.db"
        restoring = None
        try:
            self.session.upload(source, remote, None)
            # .restore is all or nothing on the device; the marker after it says it finished
            script = f"{self.session.timeout_command}\n.restore {remote}\nSELECT '{merge.RESTORED}';\n"
            restoring = self.session.start(self.session.sqlite_command())
            restoring.write(script.encode())
            restoring.close_stdin()
            result = restoring.finish()
            self.session.raise_for(result, "restore")
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
            self.session.remove_remote(remote)
        self.session.forget_state()

    def clear(self, tokens=None, meters=None) -> Tuple[int, ledger.ClearPlan]:
        """Undo the ledger's loads (all, those in ``tokens``), or remove the ``meters`` (MeterIds)
        a load created (hubs with the meters under them): one remote command that reads the
        ledger and deletes inside one transaction, so no load made meanwhile is touched.  A link
        lost after COMMIT was sent is settled by looking at the ledger again.  Returns the count
        (loads, or meters asked for) and the plan."""
        meters = None if meters is None else [int(m) for m in meters]
        process = self.session.sqlite_process()
        commit_sent = False
        try:
            process.write(merge.clear_begin(self.settings.busy_timeout).encode())
            if not process.wait_for(merge.LEDGER_READY.encode()):
                self._clear_failed(process)
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
                return 0, plan
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
            self.session.raise_for(result, "clear")
        except TargetError as exc:
            raise ledger.full_disk_hint(exc, meters) from None
        raise RemoteError(f"{self.settings.where}: clear ended without a commit; nothing was removed",
                          host=self.settings.host)

    @staticmethod
    def _cleared_result(plan: ledger.ClearPlan, meters) -> Tuple[int, ledger.ClearPlan]:
        return (len(meters) if meters is not None else plan.loads), plan

    def _cleared(self, plan: ledger.ClearPlan) -> bool:
        """After a clear whose confirmation did not arrive: did it land (what it removes is gone)?"""
        self.session.close()
        try:
            rows = self.session.query(f"SELECT quote(({plan.settled}));")
        except TargetError:
            return False
        return bool(rows) and rows[0][0] == 0

    def loads(self) -> List[ledger.LoadInfo]:
        """Every load of the device's ledger, oldest first."""
        tables = {row[0]: row[1] or "" for row in self.session.query(
            "SELECT quote(name), quote(sql) FROM sqlite_master WHERE type = 'table' AND name IN "
            f"('{ledger.LEDGER_TABLE}', '{ledger.LOADS_TABLE}');")}
        if ledger.LEDGER_TABLE not in tables:
            return []
        ledger.check_tables(tables)  # a damaged ledger is called that, not "not a meter.db"
        return [ledger.load_info(row) for row in self.session.query(merge.loads_query(ledger.LOADS_TABLE in tables))]

    def _clear_failed(self, process: "RemoteProcess | Exchange") -> NoReturn:
        process.close_stdin()
        result = process.finish()
        self.session.raise_for(Result(result.status or 1, result.stdout, result.stderr or b"clear ended early"),
                               "clear")
        raise RemoteError(f"{self.settings.where}: clear ended early; nothing was removed", host=self.settings.host)

    def init(self, force: bool = False) -> None:
        """Create meter.db on the device from the shipped schema.  Never over an existing one
        without force; with force, never while the database is in use (a -wal/-shm beside it,
        or a process holding it open where ``fuser`` can tell) -- the new file takes the old
        one's owner and mode, and replaces it in one ``mv``."""
        self.session.resident.stop()  # our own process must not hold the file ("in use") or the old one
        s = self.settings
        db = self.session.db
        in_use = (f"if [ -e {db}-wal ] || [ -e {db}-shm ]; then exit 73; fi; "
                  f"if command -v fuser >/dev/null 2>&1 && fuser {db} >/dev/null 2>&1; then exit 74; fi; ")
        result = self.session.run(f"if [ -e {db} ]; then {in_use} exit 65; fi; exit 0")
        if result.status == 65 and not force:
            raise TargetError(f"{s.where}: {s.db_path} already exists; use --force to replace it")
        self._check_in_use(result.status)
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            path = os.path.join(workdir, "meter.db")
            from .local import LocalTarget

            LocalTarget(path).init()
            temporary = shlex.quote(f"{s.db_path}.gmd-{uuid.uuid4().hex}")
            self.session.upload(path, temporary.strip("'"), None,
                         (self.session.start(f"cat > {temporary} && wc -c < {temporary}"), False))
            keep = (f"if [ -e {db} ]; then {in_use}"
                    f"chown \"$(stat -c %u:%g {db})\" {temporary} 2>/dev/null; "
                    f"chmod \"$(stat -c %a {db})\" {temporary} || exit 1; fi; ")
            moved = self.session.run(f"{keep}mv -f {temporary} {db}")
            if moved.status != 0:
                self.session.remove_remote(temporary.strip("'"))
                self._check_in_use(moved.status)
                raise RemoteError(f"{s.where}: cannot create {s.db_path}: {first_line(moved.error_text())}",
                                  host=s.host)
        self.session.forget_state()

    def _check_in_use(self, status: int) -> None:
        s = self.settings
        if status == 73:
            raise TargetError(f"{s.where}: {s.db_path}-wal or -shm exists: the database is in use (or was not "
                              "closed cleanly); stop its users (e.g. with before_load) before init --force")
        if status == 74:
            raise TargetError(f"{s.where}: {s.db_path} is open by another process (fuser); stop it before "
                              "init --force")


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
