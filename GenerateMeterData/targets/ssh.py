"""A USPD over SSH: ``DeviceTarget``, made of three parts.

- ``ssh_session.DeviceSession``: one SSH connection kept open for the process (re-opened by itself
  when it dropped *between* operations, never inside one), the device's sqlite3 command lines,
  its state read once per connection, uploads, hooks.
- ``ssh_load.DeviceLoad``: a load -- rows staged here, merged on the device by its own
  ``sqlite3`` in one ``BEGIN IMMEDIATE`` transaction, committed only when the counts match, a cut
  settled by the ledger.
- ``ssh_admin.DeviceAdmin``: queries, backup, restore, clear, the ledger's loads, init."""
from __future__ import annotations

from typing import Callable, ContextManager, Iterable, List, Optional

from ..records.producer import Producer
from ..records.summary import LoadSummary
from ..model.context import TargetContext
from ..settings import DeviceSettings, settings_context
from . import ledger
from .base import Progress, Target
from .executor import Executor
from .ssh_admin import DeviceAdmin
from .ssh_load import DeviceLoad
from .ssh_session import DeviceSession, DeviceState


class DeviceTarget(Target):
    """meter.db on a device reached over SSH."""

    def __init__(self, settings: DeviceSettings, context: Optional[TargetContext] = None) -> None:
        self.settings = settings
        self.name = f"{settings.where}:{settings.db_path}"
        self.context = context or settings_context(settings)
        self.session = DeviceSession(settings)
        self.admin = DeviceAdmin(self.session)

    def __repr__(self) -> str:
        return f"DeviceTarget({self.settings.where!r}, db={self.settings.db_path!r})"

    # ---- the connection ------------------------------------------------------------------
    @property
    def executor(self) -> Optional[Executor]:
        """The SSH connection, None before the first operation and after ``close``."""
        return self.session.executor

    @property
    def state(self) -> Optional[DeviceState]:
        """What is known of the device for this connection (None until read)."""
        return self.session.state

    @property
    def commands(self) -> int:
        """Remote commands started (what a load or a test costs, for benchmarks)."""
        return self.session.commands

    @property
    def round_trips(self) -> int:
        """Remote commands started plus operations fed to the resident sqlite3 (what a load or a
        test costs in round trips, for benchmarks)."""
        return self.session.commands + self.session.resident.exchanges

    @property
    def logins(self) -> int:
        """SSH logins made."""
        return self.session.logins

    def check(self, load: bool = True) -> None:
        """Connect, and read the device's state: sqlite3 present, db_path a meter.db (its pages
        undamaged, with ``load``); one clear line otherwise.  The state is kept for the loads of
        this connection."""
        self.session.check(load)

    def close(self) -> None:
        """Close the SSH connection."""
        self.session.close()

    # ---- load ----------------------------------------------------------------------------
    def _write_load(self, producer: Producer, progress: Progress, expected_meters: Optional[int],
                    committed: Callable[[str], None]) -> LoadSummary:
        """Stage, (upload,) merge in one device-side transaction; see ``ssh_load``."""
        return DeviceLoad(self, self.session).run(producer, progress, expected_meters, committed)

    # ---- lifecycle -----------------------------------------------------------------------
    def fetch(self, sql: str, params: tuple = ()) -> List[tuple]:
        """Rows of a query run by the device's sqlite3 (values quoted, ``.mode quote`` output)."""
        return self.admin.fetch(sql, params)

    def readable_copy(self) -> ContextManager[str]:
        """A consistent local copy of the device's meter.db (via ``.backup``)."""
        return self.admin.readable_copy()

    def backup(self, destination: str) -> None:
        """``.backup`` on the device (a 0600 file in stage_dir), streamed to a new local file as
        it arrives (never held in memory; see backupfile), checked, then moved into place."""
        self.admin.backup(destination)

    def restore(self, source: str) -> None:
        """Upload a backup and ``.restore`` it into the device's meter.db."""
        self.check_backup(source)
        self.admin.restore(source)

    def _clear_loads(self, tokens: Optional[Iterable[str]], meters: Optional[Iterable[int]]) -> int:
        """Undo the ledger's loads (all, those in ``tokens``), or remove the ``meters`` (MeterIds)
        a load created (hubs with the meters under them): one remote command that reads the
        ledger and deletes inside one transaction, so no load made meanwhile is touched.  A link
        lost after COMMIT was sent is settled by looking at the ledger again."""
        count, self.last_clear = self.admin.clear(tokens, meters)
        return count

    def loads(self) -> List[ledger.LoadInfo]:
        """Every load of the device's ledger, oldest first."""
        return self.admin.loads()

    def init(self, force: bool = False) -> None:
        """Create meter.db on the device from the shipped schema.  Never over an existing one
        without force; with force, never while the database is in use (a -wal/-shm beside it,
        or a process holding it open where ``fuser`` can tell) -- the new file takes the old
        one's owner and mode, and replaces it in one ``mv``."""
        self.admin.init(force)
