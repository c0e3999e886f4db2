"""The device target against a real OpenSSH server on loopback, with the stock sqlite3 binary."""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import GenerateMeterData
from GenerateMeterData import ConnectError, DatabaseLockedError, Scenario, verify
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import SEED_API_NOW, execute, hold_lock, rows, table_checksums

END = dt.date(2026, 3, 1)
END_ARGS = ("--end", END.isoformat())   # the command line's form: no test depends on the date it runs
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scenario(meters=3, days=10, seed=1, **kwargs):
    return Scenario(meters=meters, days=days, end=END, seed=seed, **kwargs)


def remote_temp_files(device):
    """Staged or backup files left in the stand-in's stage directory (the test's own); not the
    page check's marker (gmd-pages-*, kept by design)."""
    return sorted(name for name in os.listdir(device.stage_dir)
                  if name.startswith("gmd-") and not name.startswith("gmd-pages-"))


def test_seed_verify_clear_over_ssh(device):
    target = DeviceTarget(device.settings())
    # rows the device collected itself, before and outside this tool
    scenario(meters=2, seed=9).create(GenerateMeterData.LocalTarget(device.path))
    execute(device.path, "DELETE FROM GenerateMeterDataLedger")
    before = table_checksums(device.path)
    summary = scenario(meters=4).create(target)
    assert summary.meters == 4 and summary.total_rows > 10_000
    # staged by two processes, merged in one transaction: the same story as a local load
    local = os.path.join(os.path.dirname(device.path), "local.db")
    scenario(meters=4).create(GenerateMeterData.LocalTarget(local))
    story = ("SELECT t.MeterId - {first}, m.RecordTypeId, m.Timestamp, e.Tariff, e.Ap, e.Am, e.Rp, e.Rm "
             "FROM MeterData m JOIN MeterTable t ON t.DeviceIdx = m.DeviceIdx JOIN ElectricEnergyValues e ON e.Id = m.Id "
             "WHERE t.MeterId > {first}")
    assert sorted(rows(device.path, story.format(first=1002))) == sorted(rows(local, story.format(first=1000)))
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 6
    assert verify(device.path) == []
    with target.readable_copy() as copy:
        assert verify(copy) == []
    assert not remote_temp_files(device)
    assert target.clear() == 1
    assert table_checksums(device.path) == before
    target.close()


def test_ids_do_not_collide_with_rows_already_there(device):
    scenario(meters=2, seed=9).create(GenerateMeterData.LocalTarget(device.path))
    existing = rows(device.path, "SELECT max(Id), max(DeviceIdx) FROM MeterData")[0]
    with DeviceTarget(device.settings()) as target:
        scenario(meters=2, seed=10).create(target)
    new = rows(device.path, "SELECT min(Id), min(DeviceIdx) FROM MeterData WHERE Id > ?", (existing[0],))[0]
    assert new[0] == existing[0] + 1 and new[1] == existing[1] + 1
    assert rows(device.path, "SELECT count(DISTINCT MeterId) FROM MeterTable")[0][0] == 4
    assert verify(device.path) == []


def test_sql_text_fallback_lands_the_same_rows(device, tmp_path):
    tricky = "O'Brien \"x\"; DROP TABLE MeterTable; -- комментарий\nline2\n.quit"
    plan = [GenerateMeterData.MeterPlan("SE303", table={"Address": tricky}, config={"serial": tricky, "model": "Нева'"}),
            GenerateMeterData.MeterPlan("Mercury200")]  # two meters: staged by two processes
    with DeviceTarget(device.settings(upload="sql")) as target:
        Scenario(meters=plan, days=3, end=END, seed=2).create(target)
    local = str(tmp_path / "local.db")
    Scenario(meters=plan, days=3, end=END, seed=2).create(GenerateMeterData.LocalTarget(local))
    for table in ("MeterTable", "ElectricConfig", "MeterData", "ElectricEnergyValues", "ElectricPowerValues",
                  "ElectricQualityValues"):
        assert rows(device.path, f"SELECT * FROM {table} ORDER BY rowid") == rows(local, f"SELECT * FROM {table} ORDER BY rowid"), table
    assert rows(device.path, "SELECT Address FROM MeterTable")[0] == (tricky,)
    assert rows(device.path, "SELECT Serial, Model FROM ElectricConfig")[0] == (tricky, "Нева'")


def test_staged_path_keeps_tricky_text_byte_for_byte(device):
    tricky = "a'b\"c;d -- e\nf\r\nж\\%"
    with DeviceTarget(device.settings(compress="yes", upload="staged")) as target:  # the gzip upload path
        Scenario(meters=[GenerateMeterData.MeterPlan("SE303", table={"Address": tricky, "ReadPassword": "%(x)s"})],
                 days=1, end=END).create(target)
    assert rows(device.path, "SELECT Address, ReadPassword FROM MeterTable") == [(tricky, "%(x)s")]


def test_connection_cut_during_upload_then_retry(device):
    import sshd
    proxy = sshd.CuttableProxy(device.server.port)
    target = DeviceTarget(device.settings(port=proxy.port, compress="no", known_hosts=device.server.known_hosts_for(proxy.port)))
    before = table_checksums(device.path)
    cut = {"done": False}

    def progress(stage, done, total):
        if stage == "upload" and total and done >= total // 3 and not cut["done"]:
            cut["done"] = True
            proxy.cut()

    with pytest.raises(ConnectError):
        target.load(scenario(meters=5, days=30).generate, progress=progress)
    assert cut["done"]
    assert table_checksums(device.path) == before
    assert not remote_temp_files(device)  # removed after the failure, over a new connection
    target.close()
    summary = scenario(meters=5, days=30).create(DeviceTarget(device.settings(port=proxy.port, known_hosts=device.server.known_hosts_for(proxy.port))))
    assert summary.meters == 5
    assert verify(device.path) == []
    proxy.close()


def test_connection_cut_during_merge_then_retry(device):
    import sshd
    proxy = sshd.CuttableProxy(device.server.port)
    target = DeviceTarget(device.settings(port=proxy.port, busy_timeout=20, known_hosts=device.server.known_hosts_for(proxy.port)))
    before = table_checksums(device.path)
    holder = sqlite3.connect(device.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # readers go on; the merge waits at its BEGIN IMMEDIATE ...

    def progress(stage, done, total):
        if stage == "merge" and done == 0:
            def cut_then_release():
                time.sleep(1.0)
                proxy.cut()             # ... while the network goes away,
                time.sleep(1.0)
                holder.execute("ROLLBACK")  # and then the lock is released: no COMMIT ever arrives
            threading.Thread(target=cut_then_release, daemon=True).start()

    with pytest.raises(ConnectError, match="not committed"):
        target.load(scenario(meters=3).generate, progress=progress)
    time.sleep(1.5)  # give the device's sqlite3 time to run what it had (and roll back)
    holder.close()
    assert table_checksums(device.path) == before
    target.close()
    scenario(meters=3).create(DeviceTarget(device.settings(port=proxy.port, known_hosts=device.server.known_hosts_for(proxy.port))))
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 3
    assert verify(device.path) == []
    proxy.close()


def test_locked_for_three_seconds_waits_and_succeeds(device):
    ready = threading.Event()
    thread = threading.Thread(target=hold_lock, args=(device.path, 3.0, ready))
    thread.start()
    ready.wait()
    with DeviceTarget(device.settings(busy_timeout=10)) as target:
        summary = scenario(meters=1, days=2).create(target)
    thread.join()
    assert summary.meters == 1


def test_locked_past_timeout_is_a_clear_error_and_nothing_written(device):
    before = table_checksums(device.path)
    ready = threading.Event()
    thread = threading.Thread(target=hold_lock, args=(device.path, 4.0, ready))
    thread.start()
    ready.wait()
    with pytest.raises(DatabaseLockedError, match="stayed locked by another process for 1 s"):
        with DeviceTarget(device.settings(busy_timeout=1)) as target:
            scenario(meters=1, days=2).create(target)
    thread.join()
    assert table_checksums(device.path) == before
    assert not remote_temp_files(device)


def cli(*args, cwd, env=None):
    full_env = dict(os.environ, PYTHONPATH=REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


def one_line(result, *fragments, code=3):
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_cli_seed_verify_clear_with_settings_ini(device, tmp_path):
    (tmp_path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    result = cli("seed", "--section", "Test", "--meters", "10", "--days", "60", *END_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "meters : 10" in result.stdout
    result = cli("verify", "--section", "Test", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    backup = tmp_path / "backup.db"
    assert cli("backup", str(backup), cwd=tmp_path).returncode == 0
    assert rows(str(backup), "SELECT count(*) FROM MeterTable")[0][0] == 10
    result = cli("clear", "--section", "Test", cwd=tmp_path)  # no selector: refused, nothing removed
    assert result.returncode == 2 and "--load" in result.stderr and "--all" in result.stderr
    assert cli("clear", "--section", "Test", "--all", cwd=tmp_path).returncode == 0
    assert rows(device.path, "SELECT count(*) FROM MeterData")[0][0] == 0
    assert cli("restore", str(backup), cwd=tmp_path).returncode == 0
    assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 10


def test_wrong_password_is_one_line_and_never_printed(device, tmp_path):
    secret = "s3cr%t-P@ss'word"
    ini = (f"[Test]\nIP_address = 127.0.0.1\nIP_port = {device.server.port}\nuser_login = nobody-here\n"
           f"user_password = {secret}\nknown_hosts = {device.server.known_hosts}\ndb_path = {device.path}\n")
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    one_line(cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path),
             "authentication failed for user 'nobody-here'")
    verbose = cli("seed", "--meters", "1", "--days", "1", *END_ARGS, "-v", cwd=tmp_path)  # prints the settings it uses
    assert verbose.returncode == 3 and "password=***" in verbose.stderr
    assert secret not in verbose.stdout + verbose.stderr


def test_password_authentication(device, tmp_path):
    import shutil
    import sshd
    password = sshd.password_user()
    if password is None:
        pytest.skip("cannot create a login with a password here (needs root and useradd)")
    import tempfile
    workdir = tempfile.mkdtemp(prefix="gmd-pw-")  # outside pytest's root-only folders
    db = os.path.join(workdir, "meter.db")
    shutil.copy(device.path, db)
    shutil.chown(workdir, sshd.PASSWORD_USER)
    shutil.chown(db, sshd.PASSWORD_USER)
    ini = (f"[Test]\nIP_address = 127.0.0.1\nIP_port = {device.server.port}\nuser_login = {sshd.PASSWORD_USER}\n"
           f"user_password = {password}\nknown_hosts = {device.server.known_hosts}\ndb_path = {db}\n")
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    result = cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    assert rows(db, "SELECT count(*) FROM MeterTable")[0][0] == 1
    shutil.rmtree(workdir)


def test_unknown_and_changed_host_keys_are_refused(device, tmp_path):
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    (tmp_path / "settings.ini").write_text(device.ini(f"known_hosts = {empty}\n").replace(
        f"known_hosts = {device.server.known_hosts}\n", ""), encoding="utf-8")
    one_line(cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path), "unknown host key")
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    public = (tmp_path / "other_key.pub").read_text().split()
    changed = tmp_path / "known_hosts_changed"
    changed.write_text(f"[127.0.0.1]:{device.server.port} {public[0]} {public[1]}\n")
    (tmp_path / "settings.ini").write_text(device.ini().replace(device.server.known_hosts, str(changed)),
                                           encoding="utf-8")
    one_line(cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path), "host key CHANGED")


def test_accept_new_host_key_is_an_explicit_opt_in(device, tmp_path):
    fresh = tmp_path / "known_hosts_new"
    (tmp_path / "settings.ini").write_text(
        device.ini("host_key_policy = accept-new\n").replace(device.server.known_hosts, str(fresh)), encoding="utf-8")
    result = cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "accepting new host key" in result.stderr
    assert f"[127.0.0.1]:{device.server.port}" in fresh.read_text()
    # the fingerprint as OpenSSH shows it, to compare with the device's console (`ssh-keygen -lf`)
    shown = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", device.server.host_key + ".pub"],
                           capture_output=True, text=True, check=True).stdout.split()[1]
    assert shown.startswith("SHA256:") and f"ssh-ed25519 {shown} for" in result.stderr


def test_unreachable_host_missing_sqlite3_and_missing_db(device, tmp_path):
    import sshd
    dead_port = sshd.free_port()
    (tmp_path / "settings.ini").write_text(device.ini().replace(f"IP_port = {device.server.port}",
                                                                f"IP_port = {dead_port}"), encoding="utf-8")
    one_line(cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path), "cannot reach the device")
    (tmp_path / "settings.ini").write_text(device.ini("sqlite3 = /opt/none/sqlite3\n"), encoding="utf-8")
    one_line(cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path), "sqlite3 not found on the device")
    (tmp_path / "settings.ini").write_text(device.ini().replace(f"db_path = {device.path}",
                                                                "db_path = /var/opt/none/meter.db"), encoding="utf-8")
    one_line(cli("seed", "--meters", "1", "--days", "1", *END_ARGS, cwd=tmp_path),
             "db_path /var/opt/none/meter.db does not exist on the device", "init", code=2)


def test_all_sections_seeds_every_device(device, tmp_path, ssh_server):
    second = tmp_path / "second.db"
    GenerateMeterData.LocalTarget(str(second)).init()
    ini = device.ini(section="A") + "\n" + device.ini(section="B").replace(device.path, str(second))
    (tmp_path / "settings.ini").write_text(ini, encoding="utf-8")
    result = cli("seed", "--all-sections", "--meters", "2", "--days", "2", *END_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[A] ok: 2 meters" in result.stdout and "[B] ok: 2 meters" in result.stdout
    assert rows(str(second), "SELECT count(*) FROM MeterTable")[0][0] == 2


def test_seed_api_writes_through_the_device(device, tmp_path, monkeypatch, seed_clock):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "settings.ini").write_text(device.ini(), encoding="utf-8")
    # pinned after settings.ini is in place: the clock belongs to the default target, which
    # set_clock() resolves from the settings.ini of the current folder
    seed_clock(SEED_API_NOW)
    mt = GenerateMeterData.MeterTable()
    cfg = GenerateMeterData.ElConfig(MeterTable=mt.get('MeterTable'))
    GenerateMeterData.Journal(RecordTypeId=GenerateMeterData.JournalName.ElJrnlLimPwr,
                              MeterTable=cfg.get('MeterTable'), ElConfig=cfg.get('ElConfig'),
                              Redefine_tag={"Valid": 0})
    days = GenerateMeterData.ElDayEnergy(MeterTable=mt.get('MeterTable'), Count_timestamp=3)
    assert len(days.get('ElDayEnergy')) == 3
    assert rows(device.path, "SELECT count(*) FROM MeterData")[0][0] == 4
    assert rows(device.path, "SELECT count(*) FROM ElectricConfig")[0][0] == 1
    GenerateMeterData.default_target().close()
