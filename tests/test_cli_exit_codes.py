"""One exit-code table, enforced (issue 9 item 5): every command walked through each class it
can reach -- 0 ok, 1 verify violations, 2 bad input or settings, 3 the target (device, port)
failed, 130 interrupted -- with one line on stderr and never a traceback.  Also: --version, a
small load imports only what it needs (issue 8 item 5), and a protocol module that cannot be
imported is an error, not a silently missing command (issue 11 item 4)."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from helpers import execute, table_checksums
from test_cli import END, REPO, cli

MBUS_FRAME = sorted(glob.glob(os.path.join(REPO, "tests", "data", "mbus", "libmbus", "test-frames", "*.hex")))[0]


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """Files every case needs: a good meter.db, one with violations, one that is not a meter.db,
    a backup, settings naming a device nobody answers for, a frame and garbage to decode."""
    root = tmp_path_factory.mktemp("bench")
    good = str(root / "good.db")
    assert cli("seed", "--db", good, "--meters", "2", "--days", "2", *END).returncode == 0
    damaged = str(root / "damaged.db")
    shutil.copy(good, damaged)
    execute(damaged, "UPDATE ElectricEnergyValues SET Ap = Ap + 1000 WHERE Tariff = 1")
    notmeter = str(root / "notes.db")
    conn = sqlite3.connect(notmeter)
    conn.execute("CREATE TABLE notes (text)")
    conn.close()
    backup = str(root / "backup.db")
    shutil.copy(good, backup)
    unreachable = root / "unreachable.ini"
    unreachable.write_text(f"[Test]\nIP_address = 127.0.0.1\nIP_port = {closed_port()}\nuser_login = tester\n"
                           "user_password = secret\nconnect_timeout = 3\n", encoding="utf-8")
    garbage = root / "garbage.bin"
    garbage.write_bytes(b"\x7a\x00not a frame")
    from GenerateMeterData.device.rtu327_server import Rtu327Server
    uspd = "%s:%d" % Rtu327Server(damaged).start_tcp("127.0.0.1", 0)  # serves the damaged copy to 'check'
    return {"root": str(root), "good": good, "damaged": damaged, "notmeter": notmeter, "backup": backup,
            "unreachable": str(unreachable), "frame": MBUS_FRAME, "garbage": str(garbage),
            "closed": str(closed_port()), "uspd": uspd}


CASES = [
    # command, arguments, exit code, a fragment of stderr (codes 2 and 3) or stdout
    ("init", ["--db", "{root}/fresh.db"], 0, "created"),
    ("init", ["--bogus"], 2, "unrecognized arguments: --bogus (see 'generatemeterdata init --help')"),
    ("init", ["--db", "{good}"], 3, "already exists; use --force"),
    ("init", ["--settings", "{unreachable}", "--force"], 3, "cannot reach the device"),
    ("seed", ["--db", "{root}/seeded.db", "--meters", "1", "--days", "1", *END], 0, "meters : 1"),
    ("seed", ["--db", "{root}/seeded.db", "--days", "0"], 2, "--days: '0' must be >= 1"),
    ("seed", ["--settings", "{unreachable}", "--meters", "1", "--days", "1", *END], 3, "cannot reach the device"),
    ("verify", ["--db", "{good}"], 0, "all invariants hold"),
    ("verify", ["--db", "{damaged}"], 1, "A+0 is not the sum of tariffs"),
    ("verify", ["--db", "{notmeter}"], 2, "is not a meter.db (it has no table"),
    ("verify", ["--settings", "{unreachable}"], 3, "cannot reach the device"),
    ("clear", ["--db", "{good}", "--all", "--dry-run"], 0, "would remove 1 load(s)"),
    ("clear", ["--db", "{good}"], 2, "clear needs a choice"),
    ("clear", ["--settings", "{unreachable}", "--all"], 3, "cannot reach the device"),
    ("loads", ["--db", "{good}"], 0, "1 load(s) in"),
    ("loads", ["--settings", "{unreachable}", "--section", "Nope"], 2, "section [Nope] not found"),
    ("loads", ["--settings", "{unreachable}"], 3, "cannot reach the device"),
    ("backup", ["{root}/copy.db", "--db", "{good}"], 0, "backup written to"),
    ("backup", ["", "--db", "{good}"], 2, "backup needs a file name"),
    ("backup", ["{root}/no/such/folder/copy.db", "--db", "{good}"], 2, "does not exist"),
    ("backup", ["{root}/copy2.db", "--settings", "{unreachable}"], 3, "cannot reach the device"),
    ("restore", ["{backup}", "--db", "{root}/restored.db"], 0, "restored"),
    ("restore", ["{root}/missing.db", "--db", "{good}"], 2, "backup {root}/missing.db not found"),
    ("restore", ["{notmeter}", "--db", "{good}"], 2, "is not a meter.db"),
    ("restore", ["{backup}", "--settings", "{unreachable}"], 3, "cannot reach the device"),
    ("plot", ["--db", "{good}", "--out", "{root}/meter.png"], 0, "meter.png"),
    ("plot", ["--db", "{good}", "--json"], 2, "unrecognized arguments: --json"),
    ("plot", ["--settings", "{unreachable}", "--out", "{root}/x.png"], 3, "cannot reach the device"),
    ("decode", ["mbus", "{frame}"], 0, '"c":'),
    ("decode", ["mbus", "{garbage}"], 1, "error:"),
    ("decode", ["mbus", "{root}/missing.hex"], 2, "cannot read"),
    ("imitate", ["iec", "--listen", "nohost"], 2, "give HOST:PORT"),
    ("imitate", ["line", "--line-meters", "iec=1", "--line-fault", "2=silent"], 2, "the line's plan has meters 1-1"),
    ("imitate", ["line", "--line-meters", "iec=1", "--line-fault", "1=bogus"], 2, "unknown fault 'bogus'"),
    ("imitate", ["mercury230", "-o", "0.9.1:5"], 2, "reports no such register"),
    ("capture", ["iec"], 2, "the following arguments are required: --port"),
    ("imitate", ["uspd"], 2, "give the meter.db to serve with --db FILE"),
    ("imitate", ["uspd", "--db", "{notmeter}"], 2, "is not a meter.db"),
    ("check", ["--db", "{damaged}", "--rtu327", "{uspd}"], 0, "all served as loaded"),
    ("check", ["--db", "{good}", "--rtu327", "{uspd}"], 1, "mismatch(es)"),
    ("check", ["--db", "{good}", "--rtu327", "nohost"], 2, "give HOST:PORT"),
    ("check", ["--db", "{good}", "--rtu327", "127.0.0.1:{closed}"], 3, "Connection refused"),
    ("capture", ["iec", "--port", "socket://127.0.0.1:{closed}", "--db", "{root}/captured.db"], 3, "Connection refused"),
    ("poll-check", ["--line-meters", "iec=1", "--db", "{good}"], 0, "not polled yet: 1"),
    ("poll-check", ["--line-meters", "bogus=1", "--db", "{good}"], 2, "give PROTOCOL=COUNT"),
    ("poll-check", ["--line-meters", "iec=1", "--days", "1", "--db", "{good}"], 2, "give --poll URL too"),
]


@pytest.mark.parametrize("command,arguments,code,fragment", CASES,
                         ids=[f"{c[0]}-{c[2]}-{n}" for n, c in enumerate(CASES)])
def test_exit_code_table(bench, command, arguments, code, fragment):
    if command == "plot" and code == 0:
        pytest.importorskip("matplotlib")
    args = [a.format(**bench) for a in arguments]
    result = cli(command, *args)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if code in (2, 3):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert fragment.format(**bench) in result.stderr, result.stderr
    else:
        assert fragment in result.stdout + result.stderr, (result.stdout, result.stderr)


def test_every_command_is_walked():
    from GenerateMeterData.cli import build_parser

    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    assert commands - {"loads"} <= {case[0] for case in CASES} and "loads" in {case[0] for case in CASES}


def test_version_and_usage_errors_are_one_line():
    from GenerateMeterData import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"generatemeterdata {__version__}"
    for args, fragment in ((["loads", "--bogus"], "unrecognized arguments: --bogus"),
                           ([], "the following arguments are required: COMMAND"),
                           (["sed"], "invalid choice: 'sed'"),
                           (["seed", "--all"], "unrecognized arguments: --all"),   # never --all-sections
                           (["seed", "--meter", "3"], "unrecognized arguments: --meter")):
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and fragment in result.stderr and "--help')" in result.stderr
        assert "usage:" not in result.stderr and result.stdout == ""


def _interrupt(process: subprocess.Popen, ready: str, stream) -> subprocess.CompletedProcess:
    seen = []
    for line in stream:
        seen.append(line)
        if ready in line:
            break
    else:
        process.kill()
        pytest.fail(f"never saw {ready!r}: {''.join(seen)}")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(seen) + stdout, stderr)


def _popen(*args):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen([sys.executable, "-m", "GenerateMeterData", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_interrupted_seed_exits_130_and_claims_nothing_it_cannot_know(tmp_path):
    path = str(tmp_path / "m.db")
    assert cli("init", "--db", path).returncode == 0
    before = table_checksums(path)
    process = _popen("seed", "--db", path, "--meters", "3000", "--days", "30", *END, "-v")
    result = _interrupt(process, "scenario:", process.stderr)
    assert result.returncode == 130, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == "interrupted during seed: 'loads' shows whether anything landed on the target"
    assert "Traceback" not in result.stderr and "rolled back" not in result.stderr
    assert table_checksums(path) == before


def test_interrupted_imitator_exits_130(tmp_path):
    process = _popen("imitate", "iec", "--listen", "127.0.0.1:0")
    result = _interrupt(process, "imitating an IEC meter", process.stdout)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "interrupted"


def test_missing_database_on_a_device_is_bad_settings_and_hints_at_init(device, tmp_path):
    missing = os.path.join(os.path.dirname(device.path), "absent.db")
    (tmp_path / "settings.ini").write_text(device.ini().replace(f"db_path = {device.path}", f"db_path = {missing}"),
                                           encoding="utf-8")
    for command in (["verify"], ["loads"], ["clear", "--all"], ["seed", "--meters", "1", "--days", "1", *END]):
        result = cli(*command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "init" in result.stderr, result.stderr
        assert missing in result.stderr
    assert not os.path.exists(missing)


def test_a_small_local_load_imports_only_what_it_needs(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "GenerateMeterData", "seed", "--db",
                             str(tmp_path / "x.db"), "--meters", "1", "--days", "1", *END], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "GenerateMeterData.cli" in imported
    heavy = sorted(name for name in imported if name.split(".")[0] in ("matplotlib", "paramiko", "cryptography", "serial")
                   or name.startswith(("GenerateMeterData.protocols", "GenerateMeterData.imitation",
                                       "GenerateMeterData.targets.ssh")))  # ssh, ssh_session, ssh_load ...
    assert heavy == []
    # the protocol commands do import their modules (so the check above can fail)
    decode = subprocess.run([sys.executable, "-X", "importtime", "-m", "GenerateMeterData", "decode", "mbus",
                             MBUS_FRAME], env=env, capture_output=True, text=True, timeout=300)
    assert "GenerateMeterData.imitation.cli" in decode.stderr


def test_protocol_commands_that_cannot_be_imported_are_an_error(tmp_path):
    """A broken installation: the core commands work, the protocol commands say why they cannot."""
    copy = tmp_path / "site"
    shutil.copytree(os.path.join(REPO, "GenerateMeterData"), copy / "GenerateMeterData",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "GenerateMeterData" / "imitation" / "cli.py").write_text(
        'raise ImportError("No module named \'serial\' (simulated)")\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(copy))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], env=env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=300)

    result = run("decode", "mbus", MBUS_FRAME)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "the protocol commands (decode, imitate, capture) cannot be loaded: No module named 'serial'" in result.stderr
    assert run("seed", "--db", str(tmp_path / "x.db"), "--meters", "1", "--days", "1", *END).returncode == 0
    helped = run("--help")
    assert helped.returncode == 0 and "decode, imitate and capture are unavailable" in " ".join(helped.stdout.split())


def test_interrupted_all_sections_stop_before_their_commit_and_say_so(tmp_path):
    (tmp_path / "settings.ini").write_text("[A]\ndb_path = a.db\n\n[B]\ndb_path = b.db\n\n[C]\ndb_path = c.db\n",
                                           encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "seed", "--all-sections", "--jobs", "2",
                                "--meters", "3000", "--days", "30", *END], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not ((tmp_path / "a.db").exists() and (tmp_path / "b.db").exists()):  # both loads have begun
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert stdout.splitlines() == ["[A] interrupted before its commit: no rows were written",
                                   "[B] interrupted before its commit: no rows were written",
                                   "[C] not started (interrupted): untouched"]
    for name in ("a.db", "b.db"):
        conn = sqlite3.connect(str(tmp_path / name))
        assert conn.execute("SELECT count(*) FROM MeterTable").fetchone()[0] == 0
        conn.close()
    assert not (tmp_path / "c.db").exists()
