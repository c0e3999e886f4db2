"""``capture dlms --follow`` on push streams as real meters send them (issue 19 item 6), against the
push imitator over real sockets: short lists that name no meter (Aidon and Kaifa list 1, between the
full lists) are skipped and counted, never taken for a link failure; ``--count N`` stops after N
telegrams captured; a ciphered stream without the key, or with a wrong one, is one line and exit 2
after its first telegram."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from GenerateMeterData import verify
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "000102030405060708090a0b0c0d0e0f"      # any 16 bytes: the imitator ciphers with what it is given
AUTH = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
ENV = dict(os.environ, PYTHONPATH=REPO)


@pytest.fixture
def push_meter():
    processes = []

    def start(*options: str) -> str:
        process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "dlms", "--listen",
                                    "127.0.0.1:0", "--seconds", "120", *options],
                                   cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        line = process.stdout.readline()
        assert "imitating a DLMS meter on socket://" in line, process.stderr.read()
        return line.split(" on ", 1)[1].split()[0]

    yield start
    for process in processes:
        process.terminate()
        process.communicate(timeout=30)


def capture(url: str, db_path: str, *options: str) -> subprocess.CompletedProcess:
    # the timeout only turns a capture that never ends (the old --count 1) into a failure
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", "capture", "dlms", "--port", url, "--follow",
                           "--db", db_path, *options], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=90)


@pytest.mark.parametrize("layout", ["aidon", "kaifa"])
def test_short_lists_without_a_meter_id_are_skipped_and_counted_not_backed_off(push_meter, db_path, layout):
    url = push_meter("--push", layout, "--push-interval", "0.3", "--push-short", "3")
    done = capture(url, db_path, "--count", "3", "-v")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("captured push of meter") == 3
    assert "reconnecting" not in done.stdout + done.stderr          # no back-off for a short list
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped a push telegram: no meter id")]
    assert len(skipped) >= 6                                        # three short lists between full ones
    assert rows(db_path, "SELECT count(*) FROM ElectricConfig")[0][0] == 1
    assert verify(db_path) == []


def test_count_one_stops_after_one_telegram_captured(push_meter, db_path):
    url = push_meter("--push", "kamstrup", "--push-interval", "0.5")
    done = capture(url, db_path, "--count", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("captured push of meter") == 1
    assert rows(db_path, "SELECT count(*) FROM ElectricConfig")[0][0] == 1


def test_ciphered_pushes_with_the_right_keys_are_captured(push_meter, db_path):
    pytest.importorskip("cryptography")
    url = push_meter("--push", "aidon", "--push-interval", "0.5", "--push-key", KEY, "--push-auth-key", AUTH)
    done = capture(url, db_path, "--count", "1", "--dlms-key", KEY, "--dlms-auth-key", AUTH)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("captured push of meter") == 1


@pytest.mark.parametrize("keys, says", [
    (("--dlms-key", "ff" * 16, "--dlms-auth-key", AUTH), "does not decrypt"),
    (("--dlms-key", KEY, "--dlms-auth-key", "ee" * 16), "does not decrypt"),
    ((), "give its encryption key"),
], ids=["wrong-key", "wrong-auth-key", "no-key"])
def test_a_stream_that_does_not_decrypt_is_one_line_and_exit_2(push_meter, db_path, keys, says):
    pytest.importorskip("cryptography")
    url = push_meter("--push", "kaifa", "--push-interval", "0.5", "--push-key", KEY, "--push-auth-key", AUTH)
    done = capture(url, db_path, *keys)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert rows(db_path, "SELECT count(*) FROM ElectricConfig")[0][0] == 0
