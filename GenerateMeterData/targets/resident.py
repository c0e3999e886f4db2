"""One device ``sqlite3`` kept running per SSH connection, fed each load, clear and query on its
stdin (the settings key ``resident = auto``; ``no``: one sqlite3 per command).

Why: on a small ARM device starting sqlite3, opening meter.db and reading its schema costs tens
of milliseconds per command -- most of a small load.  A resident process pays it once.

How an exchange works: the client writes the script of one operation (the same text the
per-command mode sends, so the all-or-nothing handshake of a merge or clear is unchanged: READY
with the counts, COMMIT only when they match, COMMITTED after it), then a line that prints
``GMD-DONE-<n>``; the exchange ends when that line arrives.  ``.bail on`` holds for the process,
so an SQL error ends it: the operation's result is then its exit status and stderr, exactly as a
per-command sqlite3 would have given, and the next operation starts a new process.  A process
killed on the device (OOM, an operator) or a connection that drops does the same.  What an
operation leaves behind is undone before the next one: the output mode is reset at the start of
each exchange, stage files are detached by the load that attached them, the in-memory stage
schema (rows sent as SQL text) is kept from load to load and emptied by each (``Exchange.stage``),
temp tables are dropped-if-exists by the scripts that make them.

Detected, once per connection: the process is started and asked ``.filectrl has_moved`` and a
marker.  Both must come back within ``PROBE_TIMEOUT`` -- a sqlite3 older than 3.31 has no
``.filectrl``, one that buffers its output when not on a terminal never answers before its
input ends -- else the connection uses one sqlite3 per command (said once at ``-v``).  The
same question starts every exchange: a database file replaced on the device (moved, restored)
while the process holds the old one open is refused before anything is written into the old
file (in rollback-journal mode SQLite refuses such writes itself; in WAL mode it would not).
``init`` and ``restore`` stop the process first (they replace or rewrite the file)."""
from __future__ import annotations

import atexit
import logging
import weakref
from typing import Any, Optional, Sequence, Tuple

from ..errors import RemoteError, TargetError
from .executor import RemoteProcess, Result
from .merge import COMMITTED
from .staging import stage_emptied_sql, stage_schema_sql

log = logging.getLogger("GenerateMeterData.ssh")

#: Seconds the started process has to answer the first question.
PROBE_TIMEOUT = 10.0
PROBE = "GMD-RESIDENT"
MOVED = "GMD-MOVED"
DONE = "GMD-DONE"
#: What every exchange starts with: the output mode the scripts expect, and whether the file the
#: process holds is still the one at db_path.
RESET = ".mode list\n.separator ,\n.headers off\n"


#: The resident processes running in this Python process: a plain script that never closes its
#: target still ends them at exit (and so keeps the page-check marker in step with its commits).
_RUNNING: "weakref.WeakSet[Resident]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for resident in list(_RUNNING):
        try:
            resident.stop()
        except Exception:  # at exit, a dead link is nobody's business
            pass


class Resident:
    """The resident sqlite3 of one DeviceSession (None until first used, again after it ended)."""

    def __init__(self, session: Any) -> None:  # the ssh_session.DeviceSession that owns it
        self.session = session
        self.process: Optional[RemoteProcess] = None
        self.unsupported: Optional[str] = None  # why this connection uses one sqlite3 per command
        self.started = 0     # processes started
        self.exchanges = 0   # operations fed to a resident process
        self.commits = 0     # commits the running process confirmed
        # the in-memory stage schema the running process holds: "" none, "empty" attached with its
        # tables emptied by the last exchange, "used" attached and maybe holding rows
        self.kept_stage = ""
        self._pending: Optional[RemoteProcess] = None  # started by prestart, not yet asked back
        self._number = 0

    def usable(self) -> bool:
        """Whether operations may go to a resident process on this connection."""
        return self.session.settings.resident != "no" and self.unsupported is None

    def stop(self) -> None:
        """End the process (its stdin closes: sqlite3 ends; an open transaction rolls back);
        after commits, the page-check marker follows them (``_refresh``)."""
        process, self.process = self.process, None
        self.kept_stage = ""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.close_stdin()
            pending.abort()
        if process is not None:
            process.close_stdin()
            process.abort()
        commits, self.commits = self.commits, 0
        if commits:
            self._refresh(commits)

    def _refresh(self, commits: int) -> None:
        """A file known sound before this process's ``commits`` is known sound after them --
        when nobody else committed meanwhile: in rollback-journal mode every commit adds one to
        the file change counter, so the file must now have exactly the identity the known one
        plus ``commits`` gives (in WAL mode, or with any other writer, it has not: the next
        connection checks the pages again, as after another writer's commit)."""
        session = self.session
        before = session.known_identity
        after = advanced(before, commits)
        session.known_identity = ""
        if not after or session.settings.integrity_check != "once" or not session.alive():
            return
        try:
            session.run(session.refresh_shell(before, after), timeout=session.settings.connect_timeout)
        except TargetError:
            return
        session.known_identity = after

    def forget(self) -> None:
        """A new connection: stop, and detect again."""
        self.stop()
        self.unsupported = None

    def exchange(self) -> Optional["Exchange"]:
        """An exchange with the resident process (started when needed), or None when this
        connection uses one sqlite3 per command."""
        if not self.usable():
            return None
        if self.process is not None and self.process.ended():
            self.stop()
        if self.process is None:
            self.process = self._start()
            if self.process is None:
                return None
        self._number += 1
        self.exchanges += 1
        return Exchange(self, self.process, self._number)

    def prestart(self) -> None:
        """Start the process and put the question to it without waiting for the answer: the
        connection's state read runs meanwhile (the first load then finds the process started
        and its schema read -- about 60 ms of a first object on the ARM stand-in)."""
        if self.usable() and self.process is None and self._pending is None:
            self._pending = self._ask()

    def _ask(self) -> RemoteProcess:
        session = self.session
        process = session.start(session.sqlite_command())
        process.resident = True
        process.renew(PROBE_TIMEOUT)
        process.write(f".bail on\nSELECT '{PROBE}';\n.filectrl has_moved\nSELECT '{PROBE}-2';\n".encode())
        return process

    def _start(self) -> Optional[RemoteProcess]:
        process, self._pending = self._pending, None
        if process is None:
            process = self._ask()
        else:
            process.renew(PROBE_TIMEOUT)  # the probe's time counts from now, as if just asked
        answered = process.wait_for(f"{PROBE}-2".encode())
        taken = process.take()
        lines = taken.text().split()
        if answered and lines[:3] == [PROBE, "0", f"{PROBE}-2"]:
            self.started += 1
            _RUNNING.add(self)
            return process
        ended = process.ended()
        process.abort()
        if ended and process.channel.exit_status_ready() and process.channel.recv_exit_status() in (66, 126, 127):
            return None  # no database or no sqlite3: the per-command path says so in one line
        if not answered and not ended:
            self.unsupported = (f"the device's sqlite3 did not answer within {PROBE_TIMEOUT:g} s while its input "
                                "stayed open")
        elif lines[1:2] == ["1"]:
            self.unsupported = "the device's sqlite3 holds a moved database file"
        else:
            said = taken.error_text().splitlines()
            self.unsupported = ("the device's sqlite3 has no .filectrl has_moved (SQLite 3.31 or newer has it)"
                                + (f": {said[0]}" if said else ""))
        log.info("%s: one sqlite3 per command: %s", self.session.settings.where, self.unsupported)
        return None


class Exchange:
    """One operation fed to the resident process, with the interface of a RemoteProcess that
    runs one sqlite3 (write, wait_for, text, close_stdin, finish, abort)."""

    def __init__(self, resident: Resident, process: RemoteProcess, number: int) -> None:
        self.resident = resident
        self.process = process
        self.number = number
        self.done = f"{DONE}-{number}"
        self.moved = f"{MOVED}-{number}"
        self._stage_used = False  # this exchange's load uses (and empties) the kept stage schema
        process.take()  # nothing is left of the last exchange; this keeps it so
        process.renew(resident.session.settings.command_timeout)
        self.write(f"{RESET}SELECT '{self.moved}';\n.filectrl has_moved\n".encode())

    def stage(self, schemas: Sequence[str], memory: bool) -> Tuple[str, str]:
        """(what makes a load's stage schemas available, what follows its COMMIT or ROLLBACK).
        The in-memory schema (``memory``: rows as SQL text) is attached once per process and kept:
        attaching it and creating its tables is most of a small load's cost on an ARM device
        (about 8 of 22 ms under the bench's qemu stand-in); each load empties it after its end.
        Stage files are attached under the same names, so the kept schema goes first."""
        resident = self.resident
        kept, resident.kept_stage = resident.kept_stage, ("used" if memory else "")
        if memory:
            [schema] = schemas
            before = "" if kept == "empty" else (f"DETACH {schema};\n" if kept else "") + stage_schema_sql(schema)
            self._stage_used = True
            return before, stage_emptied_sql(schema)
        before = "".join(f"DETACH {schema};\n" for schema in schemas[:1]) if kept else ""
        return before, "".join(f"DETACH {schema};\n" for schema in schemas)

    @property
    def input_refused(self) -> bool:
        return self.process.input_refused

    def write(self, data: bytes) -> None:
        self.process.write(data)

    def _checked(self, text: str) -> str:
        """The operation's own output: what follows the file question's answer (a moved file
        is refused here, before anything is committed)."""
        head, found, tail = text.partition(self.moved + "\n")
        if not found:
            return ""
        answer, _, rest = tail.partition("\n")
        if answer.strip() == "1":
            self.abort()
            self.resident.session.forget_state()
            settings = self.resident.session.settings
            raise TargetError(f"{settings.where}: {settings.db_path} was replaced on the device while this tool "
                              "held it open; nothing was written -- run the command again")
        return rest

    def text(self) -> str:
        return self._checked(self.process.text())

    def wait_for(self, marker: bytes, timeout: Optional[float] = None) -> bool:
        found = self.process.wait_for(marker, timeout)
        self.text()  # a moved file is refused before the caller acts on the marker
        return found

    def close_stdin(self) -> None:
        """The end of this operation's input (the process goes on): ask for the end marker."""
        self.write(f"SELECT '{self.done}';\n".encode())

    def finish(self, settle: bool = False) -> Result:
        """The operation's exit status (0 once its end marker came; the process's own when it
        ended, as after an SQL error with .bail on) and output."""
        if self.process.wait_for(self.done.encode()):
            taken = self.process.take()
            text = self._checked(taken.text())
            stdout = text.replace(self.done + "\n", "").replace(f"'{self.done}'\n", "")
            if COMMITTED in stdout:
                self.resident.commits += 1
            if self._stage_used:  # it ran to its end marker: the stage's tables were emptied
                self.resident.kept_stage = "empty"
            return Result(0, stdout.encode("utf-8"), taken.stderr)
        if not self.process.ended():  # the deadline passed
            self.abort()
            raise RemoteError(f"{self.resident.session.settings.where}: command did not finish within "
                              f"{self.process.timeout:g} s", host=self.resident.session.settings.host)
        self.resident.process = None
        self.process.renew(self.resident.session.settings.connect_timeout)
        self.process.resident = False
        result = self.process.finish()
        text = self._checked(result.text()) if self.moved in result.text() else result.text()
        return Result(result.status, text.encode("utf-8"), result.stderr)

    def abort(self) -> None:
        """Give up on the process (a cut or an interrupt mid-operation: nothing commits)."""
        if self.resident.process is self.process:
            self.resident.process = None
        self.process.close_stdin()
        self.process.abort()


def advanced(identity: str, commits: int) -> str:
    """The identity (``dev:inode:b24.b25.b26.b27``, see ssh_session.identity_shell) the file has
    after ``commits`` more commits in rollback-journal mode; "" when that cannot be told (no
    identity, or a WAL part)."""
    parts = identity.split(":")
    if len(parts) != 3:
        return ""
    counter = parts[2].split(".")
    if len(counter) != 4 or not all(b.isdigit() for b in counter):
        return ""
    value = (int.from_bytes(bytes(int(b) for b in counter), "big") + commits) % (1 << 32)
    return ":".join(parts[:2] + [".".join(str(b) for b in value.to_bytes(4, "big"))])
