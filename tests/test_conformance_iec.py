"""The IEC 62056-21 imitator driven by a third-party client, pwitab's ``iec62056-21`` 0.0.2, over
a real TCP socket and over a real pseudo-terminal with its serial transport: mode C readout (every
data set and the BCC pass its parser) and programming mode (P0/P1, R1, W1, B0).  What it decodes is
compared with this project's decoder on the very bytes it received.

pwitab deviations met on the way, each worked around without weakening the check:
- its identification parser takes the identification from the 7th character on, as if the
  optional ``\\W`` enhanced-identification pair were always there: without it the first character
  of the identification is lost;
- ``send_password`` writes ``None(password)`` (a data set without address prints as ``None``);
- its serial transport reopens the port 0.5 s after resting 1.25 x 200 ms behind the ACK, and
  pyserial's open empties the input buffer, so a meter answering at less than ~0.75 s (the
  standard allows 200 ms) is lost: the pty test runs the imitator at tr = 1500 ms, the
  standard's maximum."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from iec62056_21 import constants, messages, transports  # the `test` extra pins iec62056-21==0.0.2
from iec62056_21.client import Iec6205621Client  # noqa: E402
from iec62056_21.utils import add_bcc  # noqa: E402

from GenerateMeterData.protocols.iec62056.client import IECClient  # noqa: E402
from GenerateMeterData.imitation import IECImitator  # noqa: E402
from GenerateMeterData.protocols.iec62056.messages import command, parse_message, parse_readout  # noqa: E402
from GenerateMeterData.imitation.meter import GeneratedMeter  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXED_CLOCK = 1767258000.0   # 2026-01-01 09:00 UTC: the readout's values stay put while two parsers read them


class RecordingTcpTransport(transports.TcpTransport):
    """pwitab's TCP transport, keeping what it received so our decoder can read the same bytes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = b""

    def _recv(self, chars=1):
        data = super()._recv(chars)
        self.received += data
        return data


@pytest.fixture
def meter():
    return GeneratedMeter(clock=lambda: FIXED_CLOCK)


def triples(data_sets):
    return [(d.address, d.value, d.unit) for d in data_sets]


def test_pwitab_mode_c_readout_over_tcp(meter):
    imitator = IECImitator(meter=meter)
    host, port = imitator.start_tcp()
    try:
        transport = RecordingTcpTransport(address=(host, port), timeout=10)
        client = Iec6205621Client(transport)
        client.connect()
        answer = client.standard_readout()      # raises on a bad BCC or a data set it cannot parse
        client.disconnect()
    finally:
        imitator.stop()
    ours = parse_readout(transport.received, require_bcc=True)
    assert ours.bcc_ok
    theirs = [d for line in answer.data_block.data_lines for d in line.data_sets]
    assert triples(theirs) == [(d.address, d.value, d.unit) for d in ours.data_sets]
    assert len(theirs) == len(imitator.readout()) and len(theirs) > 20
    assert ours.get("1.8.0").number() == pytest.approx(sum(ours.get(f"1.8.{t}").number() for t in (1, 2, 3, 4)))
    assert client.manufacturer_id == ours.identification.manufacturer == "GMD"
    assert client.switchover_baudrate == 9600 and not client.use_short_reaction_time
    # pwitab drops the character after the baud character (it expects "\W" there)
    assert client.identification == ours.identification.identification[1:]


def test_pwitab_serial_transport_on_a_pty(meter):
    imitator = IECImitator(meter=meter, reaction_ms=1500)   # see the module docstring
    path = imitator.start_pty()
    client = Iec6205621Client.with_serial_transport(path)
    try:
        client.connect()
        answer = client.standard_readout()
        client.disconnect()
    finally:
        imitator.stop()
    theirs = [d for line in answer.data_block.data_lines for d in line.data_sets]
    ours = parse_readout(imitator.readout_message(), require_bcc=True)
    assert triples(theirs) == [(d.address, d.value, d.unit) for d in ours.data_sets]


def test_pwitab_programming_mode_r1_w1_b0(meter):
    imitator = IECImitator(meter=meter)
    host, port = imitator.start_tcp()
    transport = RecordingTcpTransport(address=(host, port), timeout=10)
    client = Iec6205621Client(transport, password="00000000")
    try:
        client.connect()
        challenge = client.access_programming_mode()
        assert (challenge.command, challenge.command_type, challenge.data_set.value) == ("P", 0, "00000000")
        # pwitab's send_password would send "None(00000000)"; the same command with an empty address
        # is the standard's P1, byte for byte
        password = messages.CommandMessage(command="P", command_type=1,
                                           data_set=messages.DataSet(address="", value="00000000"))
        assert password.to_bytes() == command("P1", "(00000000)")
        transport.send(password.to_bytes())
        assert client._recv_ack() == constants.ACK

        start = len(transport.received)
        serial = client.read_single_value("600100FF")
        assert (serial.address, serial.value) == ("600100FF", meter.serial.rjust(12, "0")[-12:])
        ours = parse_message(transport.received[start:])                 # the same answer, our decoder
        assert ours.bcc_ok and ours.data == f"600100FF({serial.value})"

        client.write_single_value("60010AFF", "Bench 4")                  # W1, acknowledged
        assert client.read_single_value("60010AFF").value == "Bench 4"

        start = len(transport.received)
        error = client.read_single_value("77777777")                      # unknown register
        assert (error.address, error.value) == (None, "ERR02")            # "(ERR02)": no address echoed
        assert transport.received[start:] == add_bcc(b"\x02(ERR02)\x03")   # BCC by pwitab's own rule

        break_message = messages.CommandMessage(command="B", command_type=0, data_set=None).to_bytes()
        assert break_message == command("B0")
        client.send_break()
        client.startup()                          # B0 ended the session: a new sign-on is answered
        assert client.manufacturer_id == "GMD"
    finally:
        client.disconnect()
        imitator.stop()


def test_our_client_reads_the_imitator_launched_with_reaction_ms_from_the_cli():
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "iec", "--reaction-ms", "1500",
                                "--listen", "127.0.0.1:0", "--seconds", "30"], cwd=REPO,
                               env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        with IECClient(url) as client:
            readout = client.readout()
        assert readout.bcc_ok and readout.get("1.8.0") is not None
    finally:
        process.terminate()
        process.wait(10)
