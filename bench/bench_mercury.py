"""Mercury 200 (single-phase protocol) decoding speed, GenerateMeterData's client against
mercury-base 1.6 (PyPI, a test/bench-only reference) reading the same answers, in one run
(issue 22's figure: decoding speed of each new protocol vs a third-party client).

    python bench/bench_mercury.py [--rounds 2000]

The answers are recorded once from the project's imitator serving a generated Mercury 206 (the
requests both clients send are byte-identical: 4-byte address, command, CRC-16/Modbus).  Each
side then asks for the same commands through an in-memory line that hands back the recorded
answer: building the request, checking the answer's CRC, address and command, and decoding the
values.  No sockets: what is timed is the protocol code.  Commands: serial, model, energy by
tariff, U/I/P, cos phi and S, battery, tariffs, the tariff in force, relay (the date commands
are left out: mercury-base 1.6 cannot decode them, tests/test_mercury_v1.py names the bug).
mercury-base decodes no Mercury 230 value but the serial, so there is no v2 comparison.

Printed last: requests per second on each side and the ratio (ours / mercury-base's)."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from GenerateMeterData.imitation.meter import GeneratedMeter  # noqa: E402
from GenerateMeterData.imitation.mercury import V1Generated  # noqa: E402
from GenerateMeterData.protocols.mercury import v1  # noqa: E402

#: our command name -> mercury-base's
PAIRS = {"serial": "get_serial_number", "model": "get_info", "energy": "get_energy_accumulators",
         "uip": "get_vcp", "power_factor": "get_full_power_and_cos_fi", "battery": "get_battery_voltage",
         "tariffs": "get_tariffs_count", "tariff": "get_tariff", "relay": "get_is_relay_on"}


def recorded_answers(meter: V1Generated) -> dict:
    """request bytes -> the imitator's answer, for every command of PAIRS."""
    requests = [v1.request(meter.address, name) for name in PAIRS]
    chunks = iter(requests + [b""])
    answers = []
    v1.serve({meter.address: meter}, lambda: next(chunks), answers.append, threading.Event())
    assert len(answers) == len(requests), "the imitator answers every command once"
    return dict(zip(requests, answers))


class RecordedPort:
    """A pyserial-like port for our client: what is written is answered from the recording."""

    def __init__(self, answers: dict) -> None:
        self.answers, self.pending = answers, b""

    def reset_input_buffer(self) -> None:
        self.pending = b""

    def write(self, data: bytes) -> None:
        self.pending = self.answers[bytes(data)]

    @property
    def in_waiting(self) -> int:
        return len(self.pending)

    def read(self, size: int = 1) -> bytes:
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="times each command is asked")
    args = parser.parse_args()
    try:
        import mercury_base
    except ImportError:
        sys.exit("cannot run: mercury-base is not installed (pip install 'GenerateMeterData[test]')")
    moment = dt.datetime(2026, 3, 1, 12).timestamp()
    generated = GeneratedMeter("Mercury206", seed=3, clock=lambda: moment)
    meter = V1Generated(generated)
    answers = recorded_answers(meter)

    class RecordedTransport(mercury_base.DataTransport):
        def ask(self, package: bytes) -> bytes:
            return answers[bytes(package)]

    client = v1.V1Client(port=RecordedPort(answers))
    theirs_meter = mercury_base.Meter(meter.address, RecordedTransport())
    ours_values = {name: client.query(meter.address, name) for name in PAIRS}
    theirs_values = {name: theirs_meter.command(PAIRS[name]) for name in PAIRS}
    if ours_values["serial"] != theirs_values["serial"] or \
            [round(wh / 1000, 2) for wh in ours_values["energy"]] != theirs_values["energy"]:
        sys.exit("the two clients disagree on the same answers: no figure")
    print(f"meter {meter.address}: serial ours {ours_values['serial']}, mercury-base {theirs_values['serial']}; "
          f"energy ours {ours_values['energy']}, mercury-base {theirs_values['energy']}")
    timings = {}
    for side in ("ours", "theirs", "ours", "theirs"):  # alternately, the best of two
        started = time.perf_counter()
        for _ in range(args.rounds):
            if side == "ours":
                for name in PAIRS:
                    client.query(meter.address, name)
            else:
                for name in PAIRS:
                    theirs_meter.command(PAIRS[name])
        rate = args.rounds * len(PAIRS) / (time.perf_counter() - started)
        timings[side] = max(timings.get(side, 0.0), rate)
    print(f"{len(PAIRS)} commands x {args.rounds} rounds through an in-memory line")
    print(f"GenerateMeterData: {timings['ours']:,.0f} requests/s; mercury-base 1.6: {timings['theirs']:,.0f} requests/s")
    print(f"ratio (GenerateMeterData / mercury-base): {timings['ours'] / timings['theirs']:.1f}")


if __name__ == "__main__":
    main()
