"""No command may destroy or corrupt what it did not write (issue 14): restore of a file that is
not a meter.db, several first loads into one new file, init --force over an open database."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import stat

import pytest

from GenerateMeterData import InputError, LocalTarget, Scenario, TargetError, verify
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import all_at_once, execute, rows, table_checksums
from conftest import in_both_modes

device = in_both_modes()  # every device test here runs resident and per command

END = dt.date(2026, 3, 1)


def not_meter_dbs(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.db"
    execute(str(notes), "CREATE TABLE notes (text TEXT)")
    text = tmp_path / "text.db"
    text.write_text("not a database at all\n")
    return [str(empty), str(notes), str(text)]


def test_local_restore_refuses_what_is_not_a_meter_db(db_path, tmp_path):
    Scenario(meters=1, days=2, end=END).create(LocalTarget(db_path))
    before = table_checksums(db_path)
    for source in not_meter_dbs(tmp_path):
        with pytest.raises(InputError, match=f"backup {source} is not a meter.db"):
            LocalTarget(db_path).restore(source)
    assert table_checksums(db_path) == before


def test_device_restore_refuses_what_is_not_a_meter_db(device, tmp_path):
    Scenario(meters=1, days=2, end=END).create(LocalTarget(device.path))
    before = table_checksums(device.path)
    with DeviceTarget(device.settings()) as target:
        for source in not_meter_dbs(tmp_path):
            with pytest.raises(InputError, match=f"backup {source} is not a meter.db"):
                target.restore(source)
    assert table_checksums(device.path) == before


def test_device_restore_of_a_real_backup_still_works(device, tmp_path):
    with DeviceTarget(device.settings()) as target:
        Scenario(meters=1, days=2, end=END).create(target)
        backup = str(tmp_path / "backup.db")
        target.backup(backup)
        expected = table_checksums(device.path)
        Scenario(meters=1, days=2, end=END, seed=4).create(target)
        target.restore(backup)
    assert table_checksums(device.path) == expected


def test_first_loads_into_one_new_file_all_land_and_keep_the_file(tmp_path):
    path = str(tmp_path / "new" / "meter.db")
    os.mkdir(os.path.dirname(path))
    errors = all_at_once(lambda seed: Scenario(meters=1, days=2, end=END, seed=seed).create(
        LocalTarget(path, busy_timeout=60)), range(4))[1]
    assert errors == []
    assert os.path.exists(path)
    assert rows(path, "SELECT count(*) FROM GenerateMeterDataLedger")[0][0] == 4
    assert rows(path, "SELECT count(*) FROM MeterTable")[0][0] == 4
    assert verify(path) == []
    assert [name for name in os.listdir(os.path.dirname(path)) if name.startswith(".gmd-init-")] == []


def test_a_new_file_gets_the_users_usual_mode(tmp_path):
    path = str(tmp_path / "meter.db")
    old = os.umask(0o022)
    try:
        LocalTarget(path).init()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_init_force_refuses_a_database_open_in_wal_mode(tmp_path):
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    Scenario(meters=1, days=1, end=END).create(LocalTarget(path))
    holder = sqlite3.connect(path)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("INSERT INTO ArchInfo (RecordTypeId, Records) SELECT 999, 1 WHERE 0")
    assert os.path.exists(path + "-wal")
    with pytest.raises(TargetError, match="-wal exists"):
        LocalTarget(path).init(force=True)
    assert rows(path, "SELECT count(*) FROM MeterTable")[0][0] == 1
    holder.close()


@pytest.fixture
def small_tmpfs(tmp_path):
    """Mount small tmpfs filesystems (root only; skipped with the reason otherwise)."""
    import subprocess

    mounted = []

    def mount(name, size):
        path = tmp_path / name
        path.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    import time
    for path in mounted:
        # the device's sqlite3 of a closed session may hold a file there a moment longer
        deadline = time.monotonic() + 10
        while subprocess.run(["umount", str(path)], capture_output=True).returncode:
            if time.monotonic() > deadline:
                subprocess.run(["umount", "-l", str(path)])   # detach: never leave a mount behind
                break
            time.sleep(0.1)


def stage_files(folder) -> list:
    """What a load left in a stage directory besides the page check's marker (gmd-pages-*: by
    design, one small file per database, see targets/ssh_session.py)."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("gmd-pages-"))


def test_a_load_too_big_for_the_stage_dir_is_refused_before_uploading(device, small_tmpfs, tmp_path):
    tiny = small_tmpfs("stage", "512k")
    before = table_checksums(device.path)
    scenario = Scenario(meters=2, days=30, end=END)
    with DeviceTarget(device.settings(upload="staged", stage_dir=str(tiny))) as target:
        with pytest.raises(TargetError, match=rf"stage directory {tiny} has 0\.5 MB free and the load needs [\d.]+ MB.*stage_dir"):
            scenario.create(target)
    assert table_checksums(device.path) == before
    assert stage_files(tiny) == []
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    with DeviceTarget(device.settings(upload="staged", stage_dir=str(roomy))) as target:
        assert scenario.create(target).meters == 2
    assert stage_files(roomy) == []  # the merge removed its stage files


def test_a_load_too_big_for_the_database_filesystem_is_refused(device, small_tmpfs):
    small_fs = small_tmpfs("db", "1m")
    db = small_fs / "meter.db"
    LocalTarget(str(db)).init()
    before = table_checksums(str(db))
    with DeviceTarget(device.settings(upload="staged", db_path=str(db))) as target:
        with pytest.raises(TargetError, match=rf"database's filesystem {small_fs} has [\d.]+ MB free and the load needs"):
            Scenario(meters=2, days=30, end=END).create(target)
    assert table_checksums(str(db)) == before


def test_litter_of_killed_runs_is_removed_at_the_next_run(device, tmp_path):
    import tempfile
    import time

    from GenerateMeterData.targets import staging

    stage_dir = tmp_path / "stage"
    stage_dir.mkdir()
    two_days_ago = time.time() - 2 * 86400
    dead = stage_dir / "gmd-stage-deadbeef-0.db"
    live = stage_dir / "gmd-stage-cafe-0.db"
    dead.write_bytes(b"x")
    live.write_bytes(b"y")
    os.utime(dead, (two_days_ago, two_days_ago))
    old_local = tempfile.mkdtemp(prefix="gmd-")
    new_local = tempfile.mkdtemp(prefix="gmd-")
    os.utime(old_local, (two_days_ago, two_days_ago))
    staging._swept["done"] = False  # the sweep runs once per process: this test is a new "run"
    with DeviceTarget(device.settings(stage_dir=str(stage_dir))) as target:
        Scenario(meters=1, days=1, end=END).create(target)
    assert not os.path.exists(old_local) and os.path.exists(new_local)
    assert not dead.exists() and live.exists()
    os.rmdir(new_local)


def test_the_sweep_keeps_another_clients_younger_stage_file_whatever_its_own_timeout(device, tmp_path):
    """Issue 19 item 9: a client with command_timeout = 60 s removed stage files of two hours --
    another client's load with a longer command_timeout may still use them."""
    import time

    stage_dir = tmp_path / "stage"
    stage_dir.mkdir()
    other = stage_dir / "gmd-stage-0123456789abcdef-0.db"
    other.write_bytes(b"another client's upload")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(other, (two_hours_ago, two_hours_ago))
    with DeviceTarget(device.settings(stage_dir=str(stage_dir), command_timeout=60)) as target:
        Scenario(meters=1, days=1, end=END).create(target)
    assert other.read_bytes() == b"another client's upload"


def test_backups_are_readable_by_their_owner_only(device, tmp_path):
    local = str(tmp_path / "local-backup.db")
    remote = str(tmp_path / "device-backup.db")
    LocalTarget(device.path).backup(local)
    with DeviceTarget(device.settings()) as target:
        target.backup(remote)
    assert stat.S_IMODE(os.stat(local).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(remote).st_mode) == 0o600


def test_device_init_force_refuses_a_database_in_use_and_keeps_owner_and_mode(device):
    Scenario(meters=1, days=1, end=END).create(LocalTarget(device.path))
    holder = sqlite3.connect(device.path)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("INSERT INTO ArchInfo (RecordTypeId, Records) SELECT 999, 1 WHERE 0")
    with DeviceTarget(device.settings()) as target:
        with pytest.raises(TargetError, match="-wal or -shm exists"):
            target.init(force=True)
        assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 1
        holder.close()  # the last connection checkpoints and removes -wal and -shm
        assert not os.path.exists(device.path + "-wal")
        os.chmod(device.path, 0o640)
        os.chown(device.path, 4321, 4321)
        target.init(force=True)
    info = os.stat(device.path)
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o640, 4321, 4321)
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 0
    assert rows(device.path, "SELECT count(*) FROM ArchTypes")[0][0] > 0


def test_a_load_into_a_db_it_could_not_clear_is_refused_before_writing(device, tmp_path):
    from GenerateMeterData import SchemaError

    LocalTarget(str(tmp_path / "local.db")).init()
    for path in (device.path, str(tmp_path / "local.db")):
        execute(path, "DROP TABLE JournalValues")
    before = table_checksums(device.path)
    with DeviceTarget(device.settings()) as target:
        with pytest.raises(SchemaError, match="no table JournalValues; nothing was written"):
            Scenario(meters=1, days=1, end=END, measures=["ElDayEnergy"]).create(target)
    assert table_checksums(device.path) == before
    local = str(tmp_path / "local.db")
    before = table_checksums(local)
    with pytest.raises(SchemaError, match="no table JournalValues; nothing was written"):
        Scenario(meters=1, days=1, end=END, measures=["ElDayEnergy"]).create(LocalTarget(local))
    assert table_checksums(local) == before


def test_a_silent_or_non_ssh_service_on_the_port_is_one_clear_line(device):
    import socket
    import threading as _threading

    from GenerateMeterData import ConnectError
    from GenerateMeterData.targets.executor import Executor

    for greeting in (b"HTTP/1.1 400 Bad Request\r\n\r\n", None):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def serve(server=server, greeting=greeting):
            client, _ = server.accept()
            if greeting:
                client.sendall(greeting)
                client.close()
            else:
                _threading.Event().wait(6)  # accept, say nothing
                client.close()

        _threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(ConnectError, match=f"no SSH server answers there .*port {port}"):
            Executor(device.settings(port=port, connect_timeout=2.0)).connect()
        server.close()


def test_a_device_backup_streams_to_disk_instead_of_memory(device, tmp_path):
    import tracemalloc

    Scenario(meters=10, days=120, end=END).create(LocalTarget(device.path))
    size = os.path.getsize(device.path)
    assert size > 15_000_000
    backup = str(tmp_path / "backup.db")
    with DeviceTarget(device.settings()) as target:
        target.check()
        tracemalloc.start()
        try:
            target.backup(backup)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert table_checksums(backup) == table_checksums(device.path)
    assert peak < size / 3, (peak, size)  # the old backup held the whole file (and its gzip) in memory


def damage_an_index_leaf(path: str, index: str = "MeterDataRecord") -> None:
    """Overwrite the page-type byte of the first leaf under ``index``'s root with a value no b-tree
    page has -- worked out from the SQLite file format (fileformat2.html, "B-tree Pages"): an
    interior index page has flag 2 and a 12-byte header, then the cell pointer array; an interior
    cell starts with its left child's 4-byte page number.  The leftmost leaf holds the oldest
    rows' keys: a new load does not pass through it, a clear or a reader may."""
    import struct

    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * size)
        page = handle.read(size)
        assert page[0] == 2, "the index must span several pages (an interior root)"
        first_cell = struct.unpack(">H", page[12:14])[0]
        child = struct.unpack(">I", page[first_cell:first_cell + 4])[0]
        handle.seek((child - 1) * size)
        assert handle.read(1) == b"\x0a"  # a leaf index page
        handle.seek((child - 1) * size)
        handle.write(b"\x55")


def sha256(path: str) -> str:
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture(scope="module")
def damaged_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("damaged") / "meter.db")
    Scenario(meters=3, days=20, end=END).create(LocalTarget(path))
    damage_an_index_leaf(path)
    return path


def test_a_load_into_a_damaged_local_db_is_refused_before_writing(damaged_db, tmp_path):
    from GenerateMeterData import SchemaError

    path = str(tmp_path / "meter.db")
    shutil.copy(damaged_db, path)
    before = sha256(path)
    target = LocalTarget(path)
    with pytest.raises(SchemaError, match=r"is damaged \(quick_check: Page \d+: .*\); nothing was written"):
        Scenario(meters=1, days=2, end=END, seed=9).create(target)
    with pytest.raises(SchemaError, match="is damaged"):
        target.check()  # what --dry-run and the plugin ask first
    target.check(load=False)  # a restore over it stays possible
    assert sha256(path) == before
    # the damage is off a new load's path: without the check the load would have gone in
    LocalTarget(path, integrity_check=False).load(Scenario(meters=1, days=2, end=END, seed=9))
    assert sha256(path) != before


def test_seed_into_a_damaged_db_is_one_line_exit_2_dry_run_too(damaged_db, tmp_path):
    from test_cli import assert_one_line_error, cli

    path = str(tmp_path / "meter.db")
    shutil.copy(damaged_db, path)
    before = sha256(path)
    for extra in ((), ("--dry-run",)):
        assert_one_line_error(cli("seed", "--db", path, "--meters", "1", "--days", "2", "--end", "2026-03-01",
                                  *extra), 2, f"{path} is damaged (quick_check: Page", "nothing was written")
    assert sha256(path) == before
    settings = tmp_path / "settings.ini"
    settings.write_text(f"[Local]\ndb_path = {path}\nintegrity_check = off\n")
    result = cli("seed", "--settings", str(settings), "--meters", "1", "--days", "2", "--end", "2026-03-01")
    assert result.returncode == 0, result.stderr


def test_a_load_into_a_damaged_device_db_is_refused_in_the_state_read(damaged_db, device, tmp_path):
    from GenerateMeterData import SchemaError

    shutil.copy(damaged_db, device.path)
    before = sha256(device.path)
    with DeviceTarget(device.settings()) as target:
        with pytest.raises(SchemaError, match=r"is damaged \(quick_check: Page \d+: .*\); nothing was written"):
            Scenario(meters=1, days=2, end=END, seed=9).create(target)
        # the check rode in the state read: no load command was sent (resident: the sqlite3 a load
        # would have used was started beside the state read, and stopped once the pages failed)
        assert target.commands == (2 if device.resident == "auto" else 1)
        assert target.session.resident.process is None and not target.session.resident._pending
        target.check(load=False)
    with DeviceTarget(device.settings()) as target:
        target.check(load=False)  # the state read without the check (as backup and restore do) ...
        with pytest.raises(SchemaError, match="is damaged"):  # ... so the load checks on its own
            Scenario(meters=1, days=2, end=END, seed=9).create(target)
        assert target.commands == 2
    assert sha256(device.path) == before
    with DeviceTarget(device.settings(integrity_check="off")) as target:
        Scenario(meters=1, days=2, end=END, seed=9).create(target)
    assert sha256(device.path) != before


def test_the_device_check_is_once_per_connection_and_costs_no_command(device):
    with DeviceTarget(device.settings()) as target:
        target.check()
        for seed in (1, 2, 3):
            Scenario(meters=1, days=1, end=END, seed=seed).create(target)
        # the state read (with quick_check) + one command per load, or + the resident sqlite3's start
        assert target.commands == (4 if device.resident == "no" else 2)


def test_with_before_load_the_check_runs_after_it(damaged_db, device, tmp_path):
    """before_load stops the device's poller: the whole-database read of quick_check waits for
    it.  Proof of the order: here before_load itself damages the database (copies a damaged one
    over it), so only a check made after it can refuse the load; after_load still runs."""
    from GenerateMeterData import SchemaError

    ran = tmp_path / "after_load-ran"
    settings = device.settings(before_load=f"cp {damaged_db} {device.path}", after_load=f"touch {ran}")
    with DeviceTarget(settings) as target:
        target.check()  # sound now: the check is left for the first load
        with pytest.raises(SchemaError, match=r"is damaged \(quick_check: Page \d+"):
            Scenario(meters=1, days=2, end=END, seed=9).create(target)
        # the state read, before_load, quick_check, after_load: no load command was sent
        assert target.commands == 4
    assert ran.exists()
    assert sha256(device.path) == sha256(damaged_db)


def test_the_device_page_check_is_once_per_file_and_change(device):
    """quick_check reads the whole database (a second for 60 MB on an ARM board): it runs when the
    file is not known sound -- first, and after a writer other than this tool committed -- and
    not on every connection; integrity_check = always restores every connection."""
    def load(seed, **settings):
        with DeviceTarget(device.settings(**settings)) as target:
            Scenario(meters=1, days=1, end=END, seed=seed).create(target)
            return target.session.page_checks

    assert load(1) == 1  # a file never checked
    marks = [name for name in os.listdir(device.stage_dir) if name.startswith("gmd-pages-")]
    assert len(marks) == 1 and os.stat(os.path.join(device.stage_dir, marks[0])).st_mode & 0o777 == 0o600
    assert load(2) == 0  # changed since, but only by this tool's own load: known sound
    assert load(3) == 0
    conn = sqlite3.connect(device.path)  # another writer (the device's own web UI) changes a meter
    with conn:  # (a value that changes: SQLite leaves a page alone when a row is rewritten as it was)
        conn.execute("UPDATE MeterTable SET Address = Address || '7' WHERE DeviceIdx = "
                     "(SELECT min(DeviceIdx) FROM MeterTable)")
    conn.close()
    assert load(4) == 1  # another writer's commit: checked again
    assert load(5) == 0
    assert load(6, integrity_check="always") == 1  # every connection
    assert load(7, integrity_check="off") == 0
    os.replace(device.path, device.path + ".moved")
    shutil.copy(device.path + ".moved", device.path)  # a new file at db_path (another inode)
    assert load(8) == 1
