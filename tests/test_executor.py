"""The SSH executor never loses output, whatever the timing: commands that end right at the
readers' receive timeout, hundreds of times, against the real loopback sshd."""
from __future__ import annotations

from GenerateMeterData.targets import executor as executor_module
from GenerateMeterData.targets.executor import Executor


def test_output_is_complete_for_commands_ending_at_the_receive_timeout(device, monkeypatch):
    monkeypatch.setattr(executor_module, "RECEIVE_POLL", 0.02)  # the boundary comes every 20 ms
    ex = Executor(device.settings()).connect()
    lost = []
    try:
        for i in range(300):
            delay = (0.005, 0.015, 0.02, 0.025, 0.04)[i % 5]
            payload = f"line-{i}-" + "x" * (i % 7 * 1000)
            result = ex.run(f"sleep {delay}; printf '%s' '{payload}'; printf 'err-{i}' >&2")
            if result.status != 0 or result.text() != payload or result.error_text() != f"err-{i}":
                lost.append((i, result.status, len(result.stdout), result.error_text()))
    finally:
        ex.close()
    assert lost == []


def test_a_large_output_arrives_whole(device):
    ex = Executor(device.settings()).connect()
    try:
        result = ex.run("head -c 3000000 /dev/zero | tr '\\0' 'a'")
    finally:
        ex.close()
    assert result.status == 0 and result.stdout == b"a" * 3_000_000
