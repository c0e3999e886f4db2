"""The SSH session to a device: one connection kept open for the process (re-opened by itself
when it dropped *between* operations, never inside one), the device's sqlite3 command lines, the
device's state (ids by name, tools present, quick_check) read once per connection, uploads with
``cat >`` (no SFTP needed), the before_load/after_load hooks, and one clear error per failure."""
from __future__ import annotations

import hashlib
import os
import shlex
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional

from ..errors import ConnectError, RemoteError, SchemaError, TargetError
from ..records.rows import NameIndex
from ..schema import quick_check_finding
from ..schema.layout import REFERENCE_TABLES, WRITE_ORDER
from ..settings import DeviceSettings
from . import merge
from .base import Progress
from .executor import Executor, RemoteProcess, Result
from .resident import Exchange, Resident
from .sqlerrors import classify_sqlite_error
from .sqltext import parse_quoted

CHUNK = 256 * 1024
#: A stage file in stage_dir untouched for this long (minutes, by the device's clock) belongs to
#: a dead run, whatever the command_timeout of the client that left it.
STALE_MINUTES = 24 * 60


@dataclass
class DeviceState:
    """What a load needs to know of the device, read once per connection."""

    names: NameIndex
    fingerprints: Dict[str, str]
    gzip: bool


class DeviceSession:
    """The connection to one device and what is known of it while the connection lasts."""

    def __init__(self, settings: DeviceSettings) -> None:
        self.settings = settings
        self.executor: Optional[Executor] = None
        self.state: Optional[DeviceState] = None
        # quick_check's first finding for the database of this connection: "" sound, None not
        # checked yet (kept when only the reference tables are read again)
        self._damage: Optional[str] = None
        # the file's identity when its pages were last known sound on this connection ("": unknown)
        self.known_identity = ""
        self.page_checks = 0  # quick_checks run (0 when the pages were known sound: PAGES_UNCHANGED)
        self.commands = 0  # remote commands started (what a load or a test costs, for benchmarks)
        self.logins = 0    # SSH logins made
        self._gzip_seen = False
        self.resident = Resident(self)  # one sqlite3 kept running for this connection's operations

    def connection(self) -> Executor:
        """The open connection; re-opened when it dropped since the last operation (the
        device's state is read again then: it may have been replaced meanwhile)."""
        if self.executor is None or not self.executor.alive():
            if self.executor is not None:
                self.executor.close()
            self.forget_state()
            self.executor = Executor(self.settings).connect()
            self.logins += 1
        return self.executor

    def start(self, command: str) -> RemoteProcess:
        self.commands += 1
        return self.connection().start(command)

    def run(self, command: str, stdin: Optional[bytes] = None, timeout: Optional[float] = None) -> Result:
        self.commands += 1
        return self.connection().run(command, stdin=stdin, timeout=timeout)

    def sqlite_script(self, script: str) -> Result:
        """``script`` run by the device's sqlite3 (the resident one when there is one) to its end."""
        process = self.sqlite_process()
        try:
            process.write(script.encode())
            process.close_stdin()
            return process.finish()
        except BaseException:
            process.abort()
            raise

    def sqlite_process(self) -> "RemoteProcess | Exchange":
        """Where the next sqlite3 operation goes: the resident process (resident.py), or a new
        sqlite3 of its own (``sqlite_command``) when this connection cannot keep one."""
        self.connection()
        exchange = self.resident.exchange()
        return exchange if exchange is not None else self.start(self.sqlite_command())

    def close(self) -> None:
        """Close the SSH connection."""
        self.resident.forget()
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        self.forget_state()

    def forget_state(self) -> None:
        """The database may be another one now (a new connection, a restore, init): its state is
        read, and its pages checked, again before the next load."""
        self.resident.stop()  # first: it may refresh the marker from the identity known so far
        self.state, self._damage, self.known_identity = None, None, ""

    @property
    def stage_dir(self) -> str:
        return self.settings.stage_dir.rstrip("/") or "/"

    @property
    def db(self) -> str:
        return shlex.quote(self.settings.db_path)

    @property
    def timeout_command(self) -> str:
        """The sqlite3 shell's busy timeout, from settings (busy_timeout)."""
        return f".timeout {int(self.settings.busy_timeout * 1000)}"

    def sqlite(self, *args: str) -> str:
        """The device's sqlite3 on db_path, with arguments."""
        binary = shlex.quote(self.settings.sqlite3)
        prefix = "sudo -n " if self.settings.sudo else ""
        return (f"{prefix}{binary} -batch -bail {self.db} " + " ".join(shlex.quote(a) for a in args)).rstrip()

    def sqlite_command(self, *args: str) -> str:
        """The device's sqlite3 on db_path -- only when db_path exists (sqlite3 would create an
        empty file there), exit 66 otherwise."""
        return f"test -f {self.db} || exit 66; exec {self.sqlite(*args)}"

    def checks(self) -> str:
        """Shell that exits 127 without sqlite3, 66 without the database, and says if gzip exists;
        on the way it removes this tool's temporaries that dead runs left in stage_dir -- those
        untouched for a day (``STALE_MINUTES``), or longer than this client's own commands may
        live: other clients' loads (their own command_timeout, unknown here) may still use a
        younger one."""
        minutes = max(STALE_MINUTES, int(self.settings.command_timeout // 60) + 2)
        sudo = "command -v sudo >/dev/null 2>&1 || exit 126; " if self.settings.sudo else ""
        return (f"find {shlex.quote(self.stage_dir)} -maxdepth 1 -type f -name 'gmd-*' -mmin +{minutes} "
                f"-exec rm -f {{}} + 2>/dev/null; {sudo}"
                f"command -v {shlex.quote(self.settings.sqlite3)} >/dev/null 2>&1 || exit 127; "
                f"test -f {self.db} || exit 66; "
                "if command -v gzip >/dev/null 2>&1; then echo \"'gzip'\"; fi; ")

    def check_status(self, result: Result) -> None:
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
        self.device_state(integrity=load and not self.settings.before_load)  # else after before_load
        if load:
            self.refuse_damaged()

    def query(self, sql: str, checked: bool = False) -> List[tuple]:
        """Rows of statements whose every column is wrapped in quote(); with ``checked`` the
        device checks (sqlite3 present, database present, gzip) run in the same round trip."""
        return self.rows(self.query_text(sql, checked), checked)

    def query_text(self, sql: str, checked: bool = False, after: str = "") -> str:
        """What the device's sqlite3 printed for ``sql`` (errors raised); ``after``: shell run
        in the same command once sqlite3 succeeded."""
        script = f".separator ,\n{self.timeout_command}\n{sql}\n"
        if not checked and not after:
            result = self.sqlite_script(script)
            self.check_status(result)
            self.raise_for(result, "query")
            return result.text()
        command = (self.checks() + "exec " + self.sqlite()) if checked else self.sqlite_command()
        if after:
            command = (self.checks() if checked else f"test -f {self.db} || exit 66; ") + \
                f"{self.sqlite()} || exit $?; {after}"
        result = self.run(command, stdin=script.encode())
        self.check_status(result)
        self.raise_for(result, "query")
        return result.text()

    def rows(self, text: str, checked: bool) -> List[tuple]:
        rows = parse_quoted(text)
        if checked:
            self._gzip_seen = ("gzip",) in rows
            rows = [row for row in rows if row != ("gzip",)]
        return rows

    def raise_for(self, result: Result, what: str) -> None:
        # A zero exit is success: with -bail sqlite3 exits non-zero on any SQL error, and what a
        # device prints on stderr besides (login banners, "could not chdir to home") is noise.
        # (Commits are never judged by the exit status: see the markers in _merge.)
        self.check_status(result)
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
            raise RemoteError(f"{s.where}: {first_line(text)}", host=s.host, exit_status=result.status, stderr=text)
        raise RemoteError(f"{s.where}: {what} failed (exit {result.status}): {first_line(text) or 'no message'}",
                          host=s.host, exit_status=result.status, stderr=text)

    def hook(self, command: Optional[str], label: str) -> None:
        """Run before_load/after_load: it has done its part once its exit status arrived and its
        output went quiet (a poller it starts in the background keeps the channel open); a hook
        that fails, hangs or loses the connection is named."""
        if not command:
            return
        try:
            self.commands += 1
            result = self.connection().run(command, settle=True)
        except (ConnectError, RemoteError) as exc:
            prefix = f"{self.settings.where}: "
            text = str(exc)[len(prefix):] if str(exc).startswith(prefix) else str(exc)
            message = f"{prefix}{label} command failed: {text}"
            if isinstance(exc, ConnectError):
                raise ConnectError(message, **exc.fields()) from None
            raise RemoteError(message, host=exc.host, exit_status=exc.exit_status, stderr=exc.stderr) from None
        if result.status != 0:
            raise RemoteError(f"{self.settings.where}: {label} command failed (exit {result.status}): "
                              f"{first_line(result.error_text())}", host=self.settings.host, exit_status=result.status)

    def start_upload(self, remote_path: str, size_hint: Optional[int] = None):
        """Start ``cat > file`` (``gzip -dc`` when compressing) on the device; data comes later."""
        compress = self.settings.compress == "yes" or (
            self.settings.compress == "auto" and bool(self.state and self.state.gzip)
            and not _loopback(self.settings.host) and (size_hint is None or size_hint > 64 * 1024))
        writer = "gzip -dc" if compress else "cat"
        quoted = shlex.quote(remote_path)
        return self.start(f"umask 077; {writer} > {quoted} && wc -c < {quoted}"), compress

    def upload(self, local_path: str, remote_path: str, progress: Progress, started=None) -> None:
        """Send a file over the command's stdin, then check its size on the device."""
        size = os.path.getsize(local_path)
        process, compress = started or self.start_upload(remote_path, size)
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
            raise RemoteError(f"{self.settings.where}: upload to {remote_path} failed: "
                              f"{first_line(result.error_text())}",
                              host=self.settings.host, exit_status=result.status)
        received = result.text().strip()
        if received != str(size):
            raise RemoteError(f"{self.settings.where}: upload to {remote_path} arrived incomplete "
                              f"({received or '?'} of {size} bytes)", host=self.settings.host)

    def check_space(self, stage_bytes: int) -> None:
        """Refuse before uploading when stage_dir cannot hold the stage files, or the database's
        filesystem the growth of meter.db and its journal (about twice the staged size)."""
        needs = [(self.stage_dir, stage_bytes, "stage_dir"),
                 (os.path.dirname(self.settings.db_path) or ".", 2 * stage_bytes, "db_path")]
        script = "".join(f"df -Pk {shlex.quote(d)} 2>/dev/null | awk 'NR==2 {{print \"{key}\", $4}}'; "
                         for d, _, key in needs)
        result = self.run(script)
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

    def remove_remote(self, path: str) -> None:
        """Best effort, also after a failure: reconnect once if the connection died."""
        for _ in range(2):
            try:
                self.run(f"rm -f {shlex.quote(path)}", timeout=self.settings.connect_timeout + 10)
                return
            except Exception:  # best effort: a dead connection may fail in many ways
                self.close()

    # ---- the page check: once per database file and change ----------------------------------
    # quick_check reads the whole database (about 1 s for 60 MB on an ARM board): it runs when the
    # file is not known sound.  Known sound: a marker file in stage_dir holds the identity the file
    # had when its pages last passed (device and inode, the header's file change counter, the
    # -wal file's size and mtime when there is one) and the file still has it -- or had it right
    # before one of this tool's own loads, after which the marker takes the new identity.  Any other
    # writer's commit changes the identity, so the pages are checked again; a file whose identity
    # cannot be read (no stat or od on the device) is checked on every connection, as is every file
    # with integrity_check = always.  The marker is a day's at most: stale gmd-* files are removed.
    def _mark(self) -> str:
        digest = hashlib.sha1(self.settings.db_path.encode("utf-8")).hexdigest()[:16]
        return shlex.quote(f"{self.stage_dir}/gmd-pages-{digest}")

    def identity_shell(self) -> str:
        """Shell that sets ``gmd_id`` to the database's identity (empty when it cannot be read)."""
        wal = shlex.quote(self.settings.db_path + "-wal")
        return (f"gmd_id=$(stat -c %d:%i {self.db} 2>/dev/null) && gmd_c=$(od -An -tu1 -j24 -N4 {self.db} "
                f"2>/dev/null) && [ -n \"$gmd_c\" ] && gmd_id=$gmd_id:$(echo $gmd_c | tr ' ' .) || gmd_id=; "
                f"if [ -n \"$gmd_id\" ] && [ -f {wal} ]; then gmd_w=$(stat -c %s:%Y {wal} 2>/dev/null) "
                f"&& gmd_id=$gmd_id:$gmd_w || gmd_id=; fi; ")

    def page_check_shell(self) -> str:
        """Shell (after ``identity_shell``) that prints PAGES_UNCHANGED when the marker says the
        file is sound, else CHECK_MARKER and quick_check's answer -- and, when that is ok, makes
        the marker say so."""
        mark = self._mark()
        sound = "false" if self.settings.integrity_check == "always" else \
            f"[ -n \"$gmd_id\" ] && [ \"$(cat {mark} 2>/dev/null)\" = \"$gmd_id\" ]"
        check = self.sqlite(self.timeout_command, "PRAGMA quick_check(1);")
        return (f"if {sound}; then echo \"{PAGES_UNCHANGED}\"; else gmd_r=$({check}) || exit $?; "
                f"echo \"{CHECK_MARKER}\"; printf '%s\\n' \"$gmd_r\"; "
                f"if [ \"$gmd_r\" = ok ] && [ -n \"$gmd_id\" ]; then (umask 077; printf '%s' \"$gmd_id\" > {mark}); "
                f"fi; fi; echo \"{IDENTITY_MARKER}$gmd_id\"")

    def refresh_shell(self, before: str, after: str) -> str:
        """Shell that makes the marker say ``after`` when the file has that identity now and the
        marker said ``before`` (the resident process's commits, all of them this tool's: see
        resident.py)."""
        mark = self._mark()
        return (f"test -f {self.db} || exit 0; {self.identity_shell()}if [ \"$gmd_id\" = {shlex.quote(after)} ] && "
                f"[ \"$(cat {mark} 2>/dev/null)\" = {shlex.quote(before)} ]; then "
                f"(umask 077; printf '%s' \"$gmd_id\" > {mark}); fi; exit 0")

    def own_write_shell(self, command: str) -> str:
        """``command`` (this tool's write) wrapped so that a file known sound right before it is
        known sound after it: the marker follows the identity the write gave the file."""
        if self.settings.integrity_check != "once":
            return command
        mark = self._mark()
        return (f"{self.identity_shell()}gmd_pre=$gmd_id; ( {command} ); gmd_s=$?; "
                f"if [ $gmd_s = 0 ] && [ -n \"$gmd_pre\" ] && [ \"$(cat {mark} 2>/dev/null)\" = \"$gmd_pre\" ]; "
                f"then {self.identity_shell()}[ -n \"$gmd_id\" ] && (umask 077; printf '%s' \"$gmd_id\" > {mark}); "
                "fi; exit $gmd_s")

    def device_state(self, integrity: bool = True) -> DeviceState:
        """Ids by name and tools present, read once per connection (one round trip); with
        ``integrity`` (what a load needs) the database's pages are known sound or quick_check-ed
        (see above), once per connection, in the same round trip when the state is read then
        (else in one command of its own), unless the settings say integrity_check = off."""
        self.connection()
        integrity = integrity and self.settings.integrity_check != "off" and self._damage is None
        if self.state is not None:
            if integrity:  # the state was read without the check (backup, restore, before_load)
                result = self.run(f"test -f {self.db} || exit 66; {self.identity_shell()}{self.page_check_shell()}")
                self.raise_for(result, "page check")
                damage = self._integrity(result.text())
                if self.state is None:  # the connection dropped and was re-opened meanwhile
                    return self.device_state(integrity=True)
                self._damage = damage
            return self.state
        after = self.identity_shell() + self.page_check_shell() if integrity else ""
        if integrity:  # a load follows: its resident sqlite3 starts while the state is read
            self.resident.prestart()
        text = self.query_text(
            "SELECT quote('R'), quote(Name), quote(Id) FROM ArchTypes;\n"
            "SELECT quote('T'), quote(Type), quote(Id), quote(Class) FROM MeterTypes;\n"
            "SELECT quote('I'), quote(Name), quote(Id) FROM MeterIfaces;\n"
            "SELECT quote('S'), quote(name) FROM sqlite_master WHERE type = 'table';\n", checked=True, after=after)
        if integrity:
            self._damage = self._integrity(text)
            if self._damage:  # no load follows: the process started for it goes
                self.resident.stop()
        rows = self.rows(_before_check(text) if integrity else text, checked=True)
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

    def _integrity(self, text: str) -> str:
        """What quick_check printed after its marker: "" when the pages are sound (or known sound)."""
        self.known_identity = ""
        if PAGES_UNCHANGED + "\n" in text:
            self.known_identity = _identity(text)
            return ""
        _, found, tail = text.partition(CHECK_MARKER + "\n")
        if found:
            self.page_checks += 1
        finding = quick_check_finding(tail.split(IDENTITY_MARKER, 1)[0]) if found else "quick_check gave no answer"
        if not finding:
            self.known_identity = _identity(text)
        return finding

    def refuse_damaged(self) -> None:
        if self._damage:  # rows written into damaged pages could not be cleared again
            raise SchemaError(f"{self.settings.where}: {self.settings.db_path} is damaged (quick_check: "
                              f"{self._damage}); nothing was written; restore a backup, or set "
                              "integrity_check = off to load anyway")

    def alive(self) -> bool:
        return self.executor is not None and self.executor.alive()


#: What the page check prints before quick_check's answer, and instead of it when the file is
#: known sound (quoted as sqlite3's quote() would: the output is parsed as quoted values).
CHECK_MARKER = "'GMD-QUICK-CHECK'"
PAGES_UNCHANGED = "'GMD-PAGES-UNCHANGED'"
#: After the page check: the file's identity then (empty when it could not be read).
IDENTITY_MARKER = "GMD-IDENTITY:"


def _identity(text: str) -> str:
    """The identity the page check printed (see identity_shell)."""
    _, found, tail = text.partition(IDENTITY_MARKER)
    return tail.split("\n", 1)[0].strip() if found else ""


def _before_check(text: str) -> str:
    """The state query's output: what precedes the page check's."""
    for marker in (CHECK_MARKER, PAGES_UNCHANGED):
        text = text.split(marker + "\n", 1)[0]
    return text


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _loopback(host: str) -> bool:
    """A device on this machine (a stand-in): compressing only costs CPU there."""
    import ipaddress
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def first_line(text: str) -> str:
    """The line of stderr that says what went wrong: sqlite3's error line when there is one
    (a device may print login noise before it), else the first line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower() and not line.startswith("Could not chdir"):
            return line
    return lines[0] if lines else ""
