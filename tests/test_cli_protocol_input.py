"""Bad input to the protocol commands (issue 14): one line, the right exit code, no traceback."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from GenerateMeterData import LocalTarget, Scenario
from helpers import execute

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=120)


def one_line(result, code, *fragments):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def readout(bcc_ok=True) -> bytes:
    body = b"1.8.0(001234.5*kWh)\r\n!\r\n\x03"
    check = 0
    for byte in body:
        check ^= byte
    return b"/GMD5METER\r\n\x02" + body + bytes([check if bcc_ok else check ^ 0x55])


@pytest.mark.parametrize("content, category", [
    (b"", "readout: the input is empty"),
    (b"no meter here, just (some) text; 1.8.0(12) perhaps\r\n" * 20, "error: data: "),
    (b"1.8.0(001234.5*kWh)\r\n", "readout: no identification line"),
    (b"/GMD5METER\r\n", "no data set found"),
])
def test_decode_iec_of_nothing_useful_fails(tmp_path, content, category):
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    one_line(cli("decode", "iec", str(path), cwd=tmp_path), 1, category)


def test_decode_iec_with_a_wrong_bcc_fails_and_a_right_one_decodes(tmp_path):
    good, bad = tmp_path / "good.bin", tmp_path / "bad.bin"
    good.write_bytes(readout(True))
    bad.write_bytes(readout(False))
    result = cli("decode", "iec", str(good), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    assert decoded["bcc_ok"] is True and decoded["data_sets"][0]["address"] == "1.8.0"
    one_line(cli("decode", "iec", str(bad), cwd=tmp_path), 1, "bcc: readout block check character (BCC) is wrong")


def test_decode_refuses_an_oversized_input(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"/" + b"x" * (5 * 1024 * 1024))
    one_line(cli("decode", "iec", str(big), cwd=tmp_path), 2, "more than 4 MiB")


@pytest.mark.parametrize("args, fragment", [
    (["imitate", "iec", "--listen", "127.0.0.1:99999", "--seconds", "1"], "the port must be 0-65535"),
    (["imitate", "mbus", "--address", "999", "--seconds", "1"], "--address 999: an M-Bus primary address is 0-250"),
])
def test_imitator_arguments_out_of_range(tmp_path, args, fragment):
    one_line(cli(*args, cwd=tmp_path), 2, fragment)


def test_a_malformed_neva_fixture_is_one_line(tmp_path):
    fixture = tmp_path / "fixture.json"
    fixture.write_text('{"registers": [1, 2')
    one_line(cli("imitate", "iec", "--neva-fixture", str(fixture), "--seconds", "1", cwd=tmp_path), 2,
             f"--neva-fixture {fixture}: not a Neva register fixture")


def test_a_damaged_ledger_row_makes_clear_refuse_in_one_line(tmp_path):
    path = str(tmp_path / "meter.db")
    Scenario(meters=1, days=1, end=__import__("datetime").date(2026, 3, 1)).create(LocalTarget(path))
    execute(path, "UPDATE GenerateMeterDataLedger SET HeaderFirst = 'garbage'")
    one_line(cli("clear", "--db", path, "--all", cwd=tmp_path), 2, "ledger entry", "is damaged")
    assert sqlite3.connect(path).execute("SELECT count(*) FROM MeterTable").fetchone()[0] == 1
