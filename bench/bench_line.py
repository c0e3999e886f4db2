"""A line of 32 imitated meters of mixed types (``imitate line``, in its own process) read
completely by the project's clients -- each meter's ``capture PROTOCOL`` read: identity, clock,
energy registers and instantaneous values (the Mercury, IEC readout and M-Bus clients read no
archive; CE303 and DLMS read one day of day registers and profile with ``DAYS``).

    python bench/bench_line.py

Printed last: total time, time per meter, and the imitator process's CPU per meter read and per
request (requests counted at the client's socket: the line's writes = its answers)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from GenerateMeterData.imitation.line import LineScenario, line_meters, read_meter  # noqa: E402

COUNTS = "mercury200=6,mercury230=8,ce303=6,iec=4,mbus=4,dlms=4"
SEED = 7
DAYS = 1
TZ = "Europe/Moscow"


def _cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
    server = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "line", "--line-meters", COUNTS,
                               "--meter-seed", str(SEED), "--timezone", TZ, "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = server.stdout.readline()  # type: ignore[union-attr]
        where = re.search(r"on (socket://\S+)", first).group(1)  # type: ignore[union-attr]
        counts = dict((k, int(v)) for k, v in (item.split("=") for item in COUNTS.split(",")))
        meters = line_meters(LineScenario(counts, SEED, TZ))
        cpu0 = _cpu(server.pid)
        requests = 0
        from GenerateMeterData.protocols import stream  # noqa: F401
        import socket
        original = socket.socket.send, socket.socket.sendall

        def counting_sendall(self, data, *a):
            nonlocal requests
            requests += 1
            return original[1](self, data, *a)

        def counting_send(self, data, *a):
            nonlocal requests
            requests += 1
            return original[0](self, data, *a)

        socket.socket.sendall = counting_sendall  # type: ignore[method-assign]
        socket.socket.send = counting_send  # type: ignore[method-assign]
        start = time.perf_counter()
        per_protocol = {}
        for m in meters:
            t0 = time.perf_counter()
            days = DAYS if m.protocol in ("ce303", "dlms") else 0
            reading = read_meter(m, where, TZ, days)
            assert reading.serial == m.serial, (m.protocol, m.address, reading.serial)
            per_protocol.setdefault(m.protocol, []).append(time.perf_counter() - t0)
        total = time.perf_counter() - start
        socket.socket.sendall, socket.socket.send = original[1], original[0]  # type: ignore[method-assign]
        cpu = _cpu(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(10)
    for protocol, times in per_protocol.items():
        print(f"{protocol:<10} {len(times)} meters, {sum(times) / len(times):.2f} s per meter")
    print(f"requests (client writes): {requests}")
    print(f"imitator CPU: {cpu:.2f} s, {cpu / len(meters) * 1000:.0f} ms per meter, "
          f"{cpu / max(requests, 1) * 1000:.2f} ms per request")
    print(f"line of {len(meters)} meters read in {total:.1f} s, {total / len(meters):.2f} s per meter")
    return 0


if __name__ == "__main__":
    sys.exit(main())
