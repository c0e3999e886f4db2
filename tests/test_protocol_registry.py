"""A new protocol is one package under protocols/ and one line of imitation/registry.py: a scratch
"echo" protocol (asked ``?`` CR LF, a meter answers ``SERIAL;A+ Wh`` CR LF) is added to a copy of
the package that way, and ``decode``, ``imitate`` and ``capture`` take it -- choices, help, a
decoded answer, an imitator on a real TCP port and a capture written into a real meter.db -- with
no other file touched.  The registry of the installed package lists exactly the protocols the
commands offer."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from GenerateMeterData.cli import build_parser
from GenerateMeterData.imitation import registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The scratch protocol's package: codec, imitator engine and reader, importing only the wire layer.
ECHO_PACKAGE = '''"""Echo: asked "?" CR LF, a meter answers "SERIAL;ENERGY" CR LF (A+ total, Wh)."""
from __future__ import annotations

import time

from ...errors import ProtocolError
from ..reading import Reading
from ..stream import StreamService, incoming


def decode(raw, args):
    text = raw.decode("ascii", "replace").strip()
    serial, sep, energy = text.partition(";")
    if not sep or not energy.isdigit():
        raise ProtocolError(f"not an echo answer: {text[:40]!r}")
    return {"serial": serial, "A+0": int(energy)}


class EchoImitator(StreamService):
    def __init__(self, meter):
        super().__init__()
        self.meter = meter

    def serve(self, receive, send, keep_open=False):
        for chunk in incoming(receive, self._stop, keep_open):
            if b"?" in chunk:
                send(f"{self.meter.serial};{self.meter.registers()[0][0]}\\r\\n".encode())


def imitator(args, meter):
    served = EchoImitator(meter())
    return served, f" (serial {served.meter.serial})"


def read(args, timezone):
    import serial

    port = serial.serial_for_url(args.port, timeout=5)
    try:
        port.write(b"?\\r\\n")
        answer = port.readline()
    finally:
        port.close()
    document = decode(answer, args)
    return Reading(document["serial"], "ECHO", timestamp=int(time.time()), energy={"A+0": float(document["A+0"])})
'''
ECHO_LINE = ('    Protocol("echo", "ECHO", "a scratch protocol: SERIAL;ENERGY lines", decodes="an echo answer", '
             'decode="GenerateMeterData.protocols.echo:decode", imitator="GenerateMeterData.protocols.echo:imitator", '
             'read="GenerateMeterData.protocols.echo:read"),\n')


def _choices(command: str):
    parser = build_parser([command])
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    action = next(a for a in sub.choices[command]._actions if a.dest == "protocol")
    return action.choices, action.help


@pytest.mark.parametrize("command", ["decode", "imitate", "capture"])
def test_the_commands_offer_exactly_the_registered_protocols(command):
    # the meters of every command; a line of them and the concentrator's RTU-327 stand-in for imitate only
    expected = ("iec", "mbus", "dlms", "mercury200", "mercury230", "ce303", "set4tm") + \
        (("line", "uspd") if command == "imitate" else ())
    choices, text = _choices(command)
    assert tuple(choices) == expected
    for name in expected:
        assert f"{name}: " in text
    assert [p.name for p in registry.protocols(command)] == list(expected)


@pytest.fixture(scope="module")
def with_echo(tmp_path_factory):
    """A copy of the package with the echo protocol added: one new package, one registry line."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(os.path.join(REPO, "GenerateMeterData"), site / "GenerateMeterData",
                    ignore=shutil.ignore_patterns("__pycache__"))
    package = site / "GenerateMeterData" / "protocols" / "echo"
    package.mkdir()
    (package / "__init__.py").write_text(ECHO_PACKAGE, encoding="utf-8")
    registry_file = site / "GenerateMeterData" / "imitation" / "registry.py"
    text = registry_file.read_text(encoding="utf-8")
    end = text.index("\n]\n", text.index("PROTOCOLS: List[Protocol] = ["))
    registry_file.write_text(text[:end + 1] + ECHO_LINE + text[end + 1:], encoding="utf-8")
    assert registry_file.read_text(encoding="utf-8").count("\n") == text.count("\n") + 1   # one line
    return site


def _run(site, *args, cwd, **kwargs):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(site)), **kwargs)


def test_a_new_protocol_appears_in_the_choices_and_help(with_echo, tmp_path):
    for command in ("decode", "imitate", "capture"):
        helped = _run(with_echo, command, "--help", cwd=tmp_path)
        assert helped.returncode == 0, helped.stderr
        text = " ".join(helped.stdout.split())
        assert ("{iec,mbus,dlms,mercury200,mercury230,ce303,set4tm,line,uspd,echo}" if command == "imitate"
                else "{iec,mbus,dlms,mercury200,mercury230,ce303,set4tm,echo}") in text
        assert "echo: a scratch protocol: SERIAL;ENERGY lines" in text
    assert "an echo answer" in " ".join(_run(with_echo, "--help", cwd=tmp_path).stdout.split())


def test_a_new_protocol_decodes(with_echo, tmp_path):
    answer = tmp_path / "answer.txt"
    answer.write_bytes(b"00012345;987654\r\n")
    decoded = _run(with_echo, "decode", "echo", str(answer), cwd=tmp_path)
    assert decoded.returncode == 0, decoded.stderr
    assert json.loads(decoded.stdout) == {"serial": "00012345", "A+0": 987654}
    answer.write_bytes(b"no separator\r\n")
    refused = _run(with_echo, "decode", "echo", str(answer), cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.strip() == "error: protocol: not an echo answer: 'no separator'"


def test_a_new_protocol_is_imitated_and_captured(with_echo, tmp_path):
    """imitate echo on a loopback port; capture echo reads it and writes the meter into meter.db."""
    db = tmp_path / "meter.db"
    assert _run(with_echo, "init", "--db", str(db), cwd=tmp_path).returncode == 0
    imitate = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "echo", "--seconds", "60"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(with_echo)))
    try:
        banner = imitate.stdout.readline()
        match = re.match(r"imitating an ECHO meter on (socket://127\.0\.0\.1:\d+) \(serial (\d+)\)$", banner.strip())
        assert match, banner + imitate.stderr.read() if imitate.poll() is not None else banner
        url, serial = match.groups()
        captured = _run(with_echo, "capture", "echo", "--port", url, "--db", str(db), cwd=tmp_path)
        assert captured.returncode == 0, captured.stderr
        assert f"captured meter {serial} (ECHO)" in captured.stdout
    finally:
        imitate.terminate()
        imitate.communicate(timeout=30)
    conn = sqlite3.connect(str(db))
    try:
        assert conn.execute("SELECT Serial, Model FROM ElectricConfig").fetchall() == [(serial, "ECHO")]
        values = conn.execute("SELECT COUNT(*) FROM ElectricEnergyValues").fetchone()[0]
    finally:
        conn.close()
    assert values >= 1
