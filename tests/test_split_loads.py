"""Loads split by ``max_rows_per_load``: every committed part is known to the caller (and to the
pytest plugin) the moment it commits, and a failure or a Ctrl-C in a later part says which
token holds the parts already on the device and how many.  Later parts are made to fail by the
producer itself (in-process) or by a device-side sqlite3 wrapper that acts on the 2nd merge."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from GenerateMeterData import Scenario
from GenerateMeterData.errors import InterruptedLoad
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import rows, table_checksums
from conftest import in_both_modes

device = in_both_modes()  # every device test here runs resident and per command

END = dt.date(2026, 3, 1)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = "GenerateMeterDataLedger"
#: A meter-day is several hundred rows: with this limit every meter is a part of its own.
ONE_METER_PER_PART = 100


def stops_at_meter(scenario: Scenario, meter: int, exc: BaseException):
    """A producer that yields ``scenario``'s rows and raises ``exc`` when asked for the rows of
    meter number ``meter`` (1-based).  A part is sent when the next meter's rows arrive, so the
    parts of meters 1 .. meter - 2 have committed by then, and meter - 1's part is being made."""
    def produce(ids, names):
        seen = 0
        for rowset in scenario(ids, names):
            seen += len(rowset["MeterTable"])
            if seen >= meter:
                raise exc
            yield rowset
    return produce


def test_ctrl_c_in_a_later_part_names_the_token_and_the_parts_committed(device):
    before = table_checksums(device.path)
    heard = []
    scenario = Scenario(meters=4, days=1, end=END, seed=3)
    with DeviceTarget(device.settings(max_rows_per_load=ONE_METER_PER_PART)) as target:
        with pytest.raises(InterruptedLoad) as caught:
            target.load(stops_at_meter(scenario, 4, KeyboardInterrupt()), committed=heard.append)
        message = str(caught.value)
        token = rows(device.path, f"SELECT DISTINCT Token FROM {LEDGER}")[0][0]
        # meters 1 and 2 were parts 1 and 2; part 3 (meter 3) was being made
        assert f"interrupted during part 3 of the load: 2 part(s) of this load committed and are on the " \
               f"device under token {token}" in message
        assert "nothing was written" not in message
        assert (caught.value.token, caught.value.parts_committed) == (token, 2)
        assert heard == [token, token]  # told at each commit, before the interrupt
        assert rows(device.path, "SELECT count(*) FROM MeterTable")[0][0] == 2
        assert target.clear([token]) == 1  # one load (in two committed parts)
    assert table_checksums(device.path) == before


def test_an_error_in_a_later_part_keeps_its_kind_and_names_the_token(device):
    from GenerateMeterData import InputError

    heard = []
    with DeviceTarget(device.settings(max_rows_per_load=ONE_METER_PER_PART)) as target:
        with pytest.raises(InputError, match=r"^bad meter; 1 part\(s\) of this load committed and are on the "
                                             r"device under token [0-9a-f]{32} \('clear --load") as caught:
            target.load(stops_at_meter(Scenario(meters=3, days=1, end=END), 3, InputError("bad meter")),
                        committed=heard.append)
    assert heard == [caught.value.token] and caught.value.parts_committed == 1
    assert rows(device.path, f"SELECT DISTINCT Token FROM {LEDGER}") == [(caught.value.token,)]


def counting_wrapper(tmp_path, on_second_ready: str) -> str:
    """A device sqlite3 that passes everything through; on the 2nd merge's READY line it runs
    ``on_second_ready`` (shell) -- the 1st merge (part 1) has committed by then."""
    path = tmp_path / "counting-sqlite3"
    count = tmp_path / "ready-count"
    path.write_text("#!/bin/sh\n"
                    "sqlite3 \"$@\" | while IFS= read -r line; do\n"
                    "  case \"$line\" in *GMD-READY*)\n"
                    f"    n=$(( $(cat {count} 2>/dev/null || echo 0) + 1 )); echo $n > {count}\n"
                    f"    if [ $n -eq 2 ]; then {on_second_ready}; fi;;\n"
                    "  esac\n"
                    "  printf '%s\\n' \"$line\"\n"
                    "done\n")
    path.chmod(0o755)
    return str(path)


def test_ctrl_c_during_a_later_parts_merge_over_the_cli(device, tmp_path):
    mark = tmp_path / "mark"
    wrapper = counting_wrapper(tmp_path, f"touch {mark}; sleep 4")
    (tmp_path / "settings.ini").write_text(
        device.ini(f"sqlite3 = {wrapper}\nmax_rows_per_load = {ONE_METER_PER_PART}\n"), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "seed", "--meters", "3", "--days", "1",
                                "--end", "2026-03-01"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not mark.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the 2nd merge never reached READY"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    token = rows(device.path, f"SELECT DISTINCT Token FROM {LEDGER}")[0][0]
    assert f"interrupted during part 2 of the load: 1 part(s) of this load committed and are on the device " \
           f"under token {token} ('clear --load {token}' removes them)" in stderr
    assert "nothing was written" not in stderr and "Traceback" not in stderr


def test_the_plugin_clears_a_split_load_that_failed_after_committing_parts(pytester, device, tmp_path):
    before = table_checksums(device.path)
    wrapper = counting_wrapper(tmp_path, "kill 0")  # the 2nd merge dies before its COMMIT
    (pytester.path / "settings.ini").write_text(
        device.ini(f"sqlite3 = {wrapper}\nmax_rows_per_load = {ONE_METER_PER_PART}\n"), encoding="utf-8")
    pytester.makepyfile("""
        import pytest
        from GenerateMeterData import TargetError

        def test_load_fails_in_part_2(meterdata):
            with pytest.raises(TargetError, match="1 part.s. of this load committed"):
                meterdata.scenario(meters=3, days=1, end=__import__("datetime").date(2026, 3, 1))
            assert meterdata.query("SELECT count(*) FROM MeterTable") == [(1,)]  # part 1 is there
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--meterdata-settings", "settings.ini")
    result.assert_outcomes(passed=1)
    assert rows(device.path, f"SELECT count(*) FROM {LEDGER}") == [(0,)]  # teardown cleared part 1
    assert table_checksums(device.path) == before
