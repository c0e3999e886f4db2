"""A load into a device over SSH: rows staged here, merged on the device by its own ``sqlite3`` in one
``BEGIN IMMEDIATE`` transaction (merge.py), over one SSH connection kept open for the process.

What a load costs: one remote command.  The device's state (ids by name, tools present) is read
once per connection and re-checked inside every load's transaction; a small load travels as SQL
text inside the merge command itself, a large one is uploaded as SQLite files first (``cat >``:
no SFTP needed).  The merge commits only when this side says so: the script stops after the
inserts and prints a READY line with the row counts it found; only when those match does
``COMMIT`` follow on stdin.  A connection cut before that leaves the device's sqlite3 with
end-of-input and no COMMIT, which rolls back.  A cut after COMMIT was sent is settled by looking
for the load's token in the ledger table.  Exit status 0 alone is never taken as proof of a commit."""
from __future__ import annotations

import os
import shlex
import tempfile
import threading
import time
from typing import List, Optional, Sequence, Union

from ..errors import (ConnectError, GenerateMeterDataError, InputError, InterruptedLoad, RemoteError, SchemaError,
                      TargetError)
from ..records.rows import NameIndex, RowSet
from ..records.summary import CreatedMeter, LoadSummary
from ..schema.layout import WRITE_ORDER, meter_ids_exhausted
from . import ledger, merge
from ..records.producer import Produce
from .base import Committed, Progress, Target
from .executor import RemoteProcess, Result
from .resident import Exchange
from .sqltext import literal, parse_quoted
from .ssh_session import DeviceSession, DeviceState
from .staging import (SQL_TEXT_MAX_ROWS, STAGE_SCHEMAS, PartNumbering, Stage, parts_of, remove_stale_workdirs,
                      stage, stage_schema_sql)


class _StateRead:
    """``DeviceSession.device_state`` (with its page check) and ``refuse_damaged``, in a thread:
    ``result`` gives the state or raises what the read raised."""

    def __init__(self, session: DeviceSession) -> None:
        self._session = session
        self._state: Optional[DeviceState] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._read, name="gmd-device-state", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self._state = self._session.device_state(integrity=True)
            self._session.refuse_damaged()
        except BaseException as exc:  # raised in the caller's thread
            self._error = exc

    def result(self) -> DeviceState:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._state is not None
        return self._state

    def join(self) -> None:
        self._thread.join()


class DeviceLoad:
    """One load (its parts, with max_rows_per_load) into the device of ``session``; ``target``
    gives the token, the MeterId range and the recorded command."""

    def __init__(self, target: Target, session: DeviceSession) -> None:
        self.target = target
        self.session = session
        self.settings = session.settings
        self._entries_expected = 1  # ledger entries of the current token once its commit landed

    def run(self, produce: Produce, progress: Progress = None,
             expected_meters: Optional[int] = None, committed: Committed = None) -> LoadSummary:
        """Stage, (upload,) merge in one device-side transaction; see the module docstring."""
        started = time.perf_counter()
        token = self.target.new_token()
        remove_stale_workdirs()
        # with before_load (which stops the poller), the whole-database read of quick_check waits
        # for it: one command of its own on the first load of a connection
        deferred = bool(self.settings.before_load)
        state: Union[DeviceState, _StateRead]
        if deferred or self.settings.max_rows_per_load:
            state = self.session.device_state(integrity=not deferred)
            self.session.refuse_damaged()
        else:  # read while the rows are staged with the reference numbering (``_load_part``)
            state = _StateRead(self.session)
        # after_load runs after whatever happens -- once before_load (if any) has started
        hook_started = not self.settings.before_load
        outcome: Optional[BaseException] = None
        summary: Optional[LoadSummary] = None
        try:
            if self.settings.before_load:
                hook_started = True
                self.session.hook(self.settings.before_load, "before_load")
                state = self.session.device_state(integrity=True)
                self.session.refuse_damaged()
            summary = self._load(produce, state, token, progress, expected_meters, committed)
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            if isinstance(state, _StateRead):
                state.join()
            if hook_started and self.settings.after_load:
                self._after_load(outcome, summary)
        summary.seconds = time.perf_counter() - started
        summary.target = self.target.name
        return summary

    def _after_load(self, outcome: Optional[BaseException], summary: Optional[LoadSummary]) -> None:
        """Run after_load whatever happened; its failure is reported with the load's own result."""
        try:
            self.session.hook(self.settings.after_load, "after_load")
        except Exception as exc:
            if outcome is not None:  # the load's own error stays the error; the hook's rides along
                outcome.args = (f"{outcome}; and then {exc}",) + tuple(outcome.args[1:])
                return
            done = f"the load committed (token {summary.token}, {summary.total_rows} rows)" if summary else "the load ended"
            raise RemoteError(f"{done}, but {exc}", host=self.settings.host) from None

    def _load(self, produce: Produce, state: Union[DeviceState, "_StateRead"], token: str, progress: Progress,
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
            assert isinstance(state, DeviceState), "a load in parts reads the state first (run)"
            for number, part in enumerate(parts_of(produce, state.names, max_rows)):
                rowsets, created, provisional = numbering.renumber(part)
                self._entries_expected = number + 1
                summary = self._load_part(_replay(rowsets), created, state, token, progress, expected_meters)
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

    def _load_part(self, produce: Produce, created: Optional[int], state: Union[DeviceState, "_StateRead"],
                   token: str, progress: Progress, expected_meters: Optional[int]) -> LoadSummary:
        with tempfile.TemporaryDirectory(prefix="gmd-") as workdir:
            upload = self.settings.upload

            def staged_with(names: NameIndex) -> Stage:
                return stage(produce, names, workdir, text=upload == "sql",
                             max_text_rows=0 if upload == "staged" else SQL_TEXT_MAX_ROWS,
                             progress=progress, expected_meters=expected_meters, created=created)

            if isinstance(state, _StateRead):   # staged while the state is read
                staged = staged_with(NameIndex.reference())
                state = state.result()
                if not state.names.same_numbering(NameIndex.reference()):
                    for path in staged.paths:
                        os.remove(path)
                    staged = staged_with(state.names)
            else:
                staged = staged_with(state.names)
            summary = staged.summary
            if summary.total_rows == 0:
                return summary
            remote_stages = [f"{self.session.stage_dir}/gmd-stage-{token}-{n}.db" for n in range(len(staged.paths))]
            # the stage schemas come first: ATTACH and CREATE, or what a resident sqlite3 already
            # has (_merge puts it in place of STAGE_SCHEMAS once it knows which process merges)
            if staged.sql is not None:
                source = STAGE_SCHEMAS + staged.sql
            else:
                source = STAGE_SCHEMAS + "".join(f"ATTACH {literal(remote)} AS {schema};\n"
                                                 for remote, schema in zip(remote_stages, staged.schemas))
            script = merge.merge_script(source, staged.schemas, summary.rows, staged.header_counts, staged.created,
                                        token, int(time.time()), state.fingerprints, self.target.meter_id_floor,
                                        self.target.meter_id_span, self.settings.busy_timeout,
                                        about=self.target.load_about(summary.total_rows))
            merged = False
            try:
                if staged.paths:
                    self.session.check_space(sum(os.path.getsize(path) for path in staged.paths))
                    uploads = [self.session.start_upload(remote, os.path.getsize(path))
                               for path, remote in zip(staged.paths, remote_stages)]
                    for path, remote, started_upload in zip(staged.paths, remote_stages, uploads):
                        self.session.upload(path, remote, progress, started_upload)
                self._merge(script, summary, token, progress, remove=remote_stages, schemas=staged.schemas,
                            memory=staged.sql is not None)
                merged = True
            finally:
                if staged.paths and not merged:  # after a merge, its own command removed the files
                    for path in remote_stages:
                        self.session.remove_remote(path)
        summary.token = token
        return summary

    def _merge(self, script: str, summary: LoadSummary, token: str, progress: Progress,
               remove: List[str], schemas: Sequence[str] = (), memory: bool = False) -> None:
        """Run the merge script, check its READY line, COMMIT, confirm (one remote command);
        ``memory``: the rows come as SQL text into the in-memory schema stage0."""
        if progress:
            progress("merge", 0, 1)
        self.session.connection()
        process: "RemoteProcess | Exchange"
        exchange = self.session.resident.exchange()
        if exchange is not None:  # the resident sqlite3 merges; the staged files go afterwards
            process = exchange
            before, detach = exchange.stage(schemas, memory)
            script = script.replace(STAGE_SCHEMAS, before, 1)
        else:
            script = script.replace(STAGE_SCHEMAS, stage_schema_sql(schemas[0]) if memory else "", 1)
            command = self.session.sqlite_command()
            if remove:  # merge, then remove the staged files whatever happened
                command = (f"test -f {self.session.db} || exit 66; {self.session.sqlite()}; status=$?; "
                           f"rm -f {' '.join(shlex.quote(p) for p in remove)}; exit $status")
            command = self.session.own_write_shell(command)  # pages known sound stay known sound
            process = self.session.start(command)
            detach = ""
        self._exchange(process, script, summary, token, progress, detach)
        if exchange is not None:  # merged: the staged files go (after a failure, _load_part removes them)
            for path in remove:
                self.session.remove_remote(path)

    def _exchange(self, process: "RemoteProcess | Exchange", script: str, summary: LoadSummary, token: str,
                  progress: Progress, detach: str) -> None:
        """The merge's dialogue with the device's sqlite3: READY checked, COMMIT, confirmed."""
        commit_sent = False
        try:
            process.write(script.encode("utf-8"))
            if process.wait_for(merge.READY.encode()):
                hid0, before, counts, meters = merge.parse_ready_entries(parse_quoted(_lines_with(
                    process.text(), merge.READY, merge.METER)))
                self._entries_expected = before + 1  # the token's entries once this commit landed
                expected = [summary.rows.get(t, 0) for t in WRITE_ORDER]
                if counts != expected:
                    process.write(b"ROLLBACK;\n" + detach.encode())
                    process.close_stdin()
                    process.finish()
                    raise RemoteError(f"{self.settings.where}: the device found {counts} rows where "
                                      f"{expected} were staged; rolled back", host=self.settings.host)
                commit_sent = True
                process.write(merge.commit_text().encode() + detach.encode())
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
            self.session.state, before = None, (self.session.state.fingerprints if self.session.state else {})
            what = "; ".join(f"{table}: {merge.describe_change(before.get(table, ''), now)}"
                             for table, now in changed.items())
            raise SchemaError(f"{self.settings.where}: the device's reference tables changed since they were "
                              f"read ({what}); nothing was written -- run the load again")
        if result.status == -1 or not self.session.alive():
            raise ConnectError(f"{self.settings.where}: connection lost during the merge; the load was not "
                               "committed, the device's meter.db is unchanged", host=self.settings.host,
                               port=self.settings.port, reason="connection lost")
        self.session.raise_for(Result(result.status or 1, result.stdout, result.stderr or b"merge ended before COMMIT"),
                        "merge")
        raise RemoteError(f"{self.settings.where}: the merge ended without a commit; nothing was written",
                          host=self.settings.host)

    def _interrupted(self, process: "RemoteProcess | Exchange", commit_sent: bool, token: str) -> None:
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

    def _committed(self, token: str) -> bool:
        """After a cut between COMMIT and its confirmation: did the load land?"""
        self.session.close()
        try:
            rows = self.session.query(f"SELECT quote(count(*)) FROM {ledger.LEDGER_TABLE} "
                                      f"WHERE Token = {literal(token)};")
        except TargetError:
            return False
        return bool(rows) and rows[0][0] >= self._entries_expected


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


def _lines_with(text: str, *markers: str) -> str:
    """The output lines that carry one of the markers (the rest is other statements' output)."""
    return "\n".join(line for line in text.splitlines() if any(m in line for m in markers)) + "\n"


def _replay(rowsets: List[RowSet]) -> Produce:
    """A producer that yields rows already made (one renumbered part of a split load)."""
    def produce(ids, names):
        return iter(rowsets)
    return produce
