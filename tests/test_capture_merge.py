"""Capture never writes what verify rejects (issue 9, items 1-3): a plain readout and a Neva
archive capture of the same meter, in every order and repeated, end up as one meter with one
ElectricConfig whose flags match the meter, and verify finds nothing; a conflict is refused in
one line with nothing written; --dry-run writes nothing; the summary and --json name the load.

Everything runs end to end: the imitator is the CLI's ``imitate iec`` on a real TCP socket, the
captures are the CLI's ``capture iec`` into real sqlite files."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest

from GenerateMeterData import verify
from GenerateMeterData.imitation.meter import GeneratedMeter
from helpers import rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
SEED = 7
FLAGS = "SELECT Tariff, ActiveReverse, Reactive, ReactiveReverse FROM ElectricConfig"


def cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def start_imitator(*extra, meter_type="NEVA3xx"):
    process = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "iec", "--listen", "127.0.0.1:0",
                                "--reaction-ms", "20", "--meter-seed", str(SEED), "--meter-type", meter_type,
                                "--seconds", "600", *extra],
                               cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert "imitating an IEC meter on socket://" in line, process.stderr.read()
    url = line.split(" on ", 1)[1].split()[0]
    return process, url


@pytest.fixture(scope="module")
def meter_url():
    process, url = start_imitator()
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def zeros_url():
    """A meter that answers its A- list register with zeros although its readout has no 2.8.x
    (as a real Neva that keeps every register does): the two captures disagree on A-."""
    process, url = start_imitator("-o", "02.08.80*FF:0.000,0.000,0.000,0.000,0.000")
    yield url
    process.terminate()
    process.wait(10)


def the_meter(meter_type="NEVA3xx"):
    """The imitated meter, built independently of the imitator (same type and seed)."""
    return GeneratedMeter(type_name=meter_type, seed=SEED)


def capture(url, db, kind, *extra):
    args = ["capture", "iec", "--port", url, "--db", db] + (["--neva", "--days", "2"] if kind == "neva" else [])
    result = cli(*args, *extra)
    assert result.returncode == 0, result.stderr
    return result


ORDERS = [("plain", "neva"), ("neva", "plain"), ("plain", "neva", "plain", "neva"), ("neva", "plain", "neva"),
          ("plain", "plain"), ("neva", "neva")]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_and_repetition_verifies(meter_url, tmp_path, order):
    db = str(tmp_path / "m.db")
    for kind in order:
        capture(meter_url, db, kind)
        assert verify(db) == []
    check_one_meter(db, order, the_meter().story)


# a meter with every quantity, and one without tariffs or reactive energy
@pytest.fixture(scope="module", params=["SE303", "UMTV10"])
def other_meter(request):
    process, url = start_imitator(meter_type=request.param)
    yield request.param, url
    process.terminate()
    process.wait(10)


@pytest.mark.parametrize("order", [("plain", "neva"), ("neva", "plain"), ("plain", "neva", "plain", "neva")],
                         ids=["plain-neva", "neva-plain", "repeated"])
def test_other_meter_types_in_every_order(other_meter, tmp_path, order):
    meter_type, url = other_meter
    db = str(tmp_path / "m.db")
    for kind in order:
        capture(url, db, kind)
        assert verify(db) == []
    check_one_meter(db, order, the_meter(meter_type).story)


def check_one_meter(db, order, story):
    assert rows(db, "SELECT count(*) FROM MeterTable")[0][0] == 1
    assert rows(db, FLAGS) == [(int(story.tariffed), int(story.active_reverse), int(story.reactive),
                                int(story.reactive_reverse))]  # one config, the meter's own flags
    moments = rows(db, "SELECT count(*) FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                       "WHERE a.Name = 'ElMomentEnergy'")[0][0]
    assert 1 <= moments <= len(order)  # two captures within one second are one reading: stored once
    if "neva" in order:  # the archive of two days and today so far, stored once however often it was read
        days = [ts for (ts,) in rows(db, "SELECT m.Timestamp FROM MeterData m JOIN ArchTypes a ON a.Id = "
                                         "m.RecordTypeId WHERE a.Name = 'ElDayEnergy' ORDER BY m.Timestamp")]
        assert len(days) == 3
        slots = [ts for (ts,) in rows(db, "SELECT m.Timestamp FROM ElectricPowerValues p JOIN MeterData m "
                                          "ON m.Id = p.Id")]
        assert len([ts for ts in slots if ts <= days[-1]]) == 96       # up to today's midnight: two whole days
        assert len(slots) == len(set(slots)) and len(slots) - 96 <= 48  # today's half hours, each once
    tariffs = {t for (t,) in rows(db, "SELECT DISTINCT Tariff FROM ElectricEnergyValues")}
    assert tariffs == ({0, 1, 2, 3, 4} if story.tariffed else {0})


@pytest.mark.parametrize("order", [("plain", "neva"), ("neva", "plain"), ("plain", "neva", "plain", "neva")],
                         ids=["plain-neva", "neva-plain", "repeated"])
def test_a_meter_whose_paths_disagree_is_merged_into_one_config(zeros_url, tmp_path, order):
    db = str(tmp_path / "m.db")
    outputs = [capture(zeros_url, db, kind).stdout for kind in order]
    assert verify(db) == []
    assert rows(db, "SELECT count(*) FROM MeterTable")[0][0] == 1
    [(flag,)] = rows(db, "SELECT ActiveReverse FROM ElectricConfig")
    assert flag == (1 if order[0] == "neva" else 0)  # the first capture registers what it saw
    stored = [r[0] for r in rows(db, "SELECT Am FROM ElectricEnergyValues")]
    if flag:
        assert any(v is not None for v in stored) and 0.0 in stored
    else:  # the Neva's A- zeros are not written, and the output says so
        assert all(v is None for v in stored)
        assert any("does not measure A-: written as NULL" in out for out in outputs[1:])


def test_a_profile_of_another_period_is_refused_in_one_line(meter_url, tmp_path):
    db = str(tmp_path / "m.db")
    capture(meter_url, db, "neva")
    with sqlite3.connect(db) as conn:  # the device stored this meter's profile in 60-minute slots
        conn.execute("UPDATE ElectricPowerValues SET Period = 60, Pp = Pp / 2")
    before = rows(db, "SELECT count(*) FROM MeterData")[0][0]
    result = cli("capture", "iec", "--port", meter_url, "--db", db, "--neva", "--days", "1")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "profile of 60-min slots" in line and "30-min" in line and "nothing was written" in line
    assert rows(db, "SELECT count(*) FROM MeterData")[0][0] == before
    result = cli("capture", "iec", "--port", meter_url, "--db", db)  # no profile: no conflict
    assert result.returncode == 0, result.stderr


def test_a_device_written_config_takes_a_profile(meter_url, tmp_path):
    """A config as the device writes it (IntervalPowerArrays = 1, the number of profile arrays;
    device contract) is no conflict for a 30-minute profile: the period is the rows' Period."""
    db = str(tmp_path / "m.db")
    capture(meter_url, db, "plain")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE ElectricConfig SET IntervalPowerArrays = 1")
    result = cli("capture", "iec", "--port", meter_url, "--db", db, "--neva", "--days", "1")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT DISTINCT Period FROM ElectricPowerValues") == [(30,)]
    assert rows(db, "SELECT IntervalPowerArrays FROM ElectricConfig") == [(1,)]
    assert verify(db) == []


def test_dry_run_reads_the_meter_and_writes_nothing(meter_url, tmp_path):
    db = str(tmp_path / "m.db")
    assert cli("init", "--db", db).returncode == 0
    with open(db, "rb") as handle:
        pristine = handle.read()
    result = cli("capture", "iec", "--port", meter_url, "--db", db, "--neva", "--days", "1", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    planned = json.loads(result.stdout)
    with open(db, "rb") as handle:
        assert handle.read() == pristine  # not a byte changed
    assert planned["dry_run"] is True and planned["token"] is None
    assert planned["serial"] == the_meter().serial
    result = cli("capture", "iec", "--port", meter_url, "--db", db, "--neva", "--days", "1", "--json")
    written = json.loads(result.stdout)
    assert written["rows"] == planned["rows"]
    counted = {table: rows(db, f"SELECT count(*) FROM {table}")[0][0] for table in planned["rows"]}
    assert counted == planned["rows"]  # the dry run counted what the real capture wrote
    # the text form says it, too, and a second dry run sees the stored archive
    result = cli("capture", "iec", "--port", meter_url, "--db", db, "--neva", "--days", "1", "--dry-run")
    assert result.returncode == 0 and "nothing was written (--dry-run)" in result.stdout
    assert "already stored, not written again:" in result.stdout
    assert re.search(r"ElDayEnergy 2, ElArr1ConsPower (4[89]|[5-9]\d)\b", result.stdout), result.stdout
    assert "MeterTable" not in result.stdout


def test_summary_and_json_name_the_load_and_its_meter(meter_url, tmp_path):
    db = str(tmp_path / "m.db")
    result = capture(meter_url, db, "plain")
    [(meter_id,)] = rows(db, "SELECT MeterId FROM MeterTable")
    ledger = json.loads(cli("loads", "--db", db, "--json").stdout)["loads"]
    assert len(ledger) == 1
    token = ledger[0]["token"]
    assert f"load   : {token}" in result.stdout and f"MeterId {meter_id} (new)" in result.stdout
    again = capture(meter_url, db, "plain").stdout
    assert f"MeterId {meter_id} (known by its serial" in again
    document = json.loads(capture(meter_url, db, "neva", "--json").stdout)
    ledger = json.loads(cli("loads", "--db", db, "--json").stdout)["loads"]
    assert document["token"] == ledger[-1]["token"] != token
    assert document["meter_ids"] == []  # the meter was known: this load created none
    assert document["meter_id"] == meter_id
    assert set(document) >= {"token", "meter_ids", "rows", "first", "last", "seconds", "target", "dry_run"}
    result = cli("clear", "--db", db, "--load", document["token"])  # the Neva load alone goes
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) FROM ElectricPowerValues")[0][0] == 0
    assert rows(db, "SELECT count(*) FROM MeterTable")[0][0] == 1 and verify(db) == []


def test_json_of_repeated_captures_is_one_document(meter_url, tmp_path):
    db = str(tmp_path / "m.db")
    result = cli("capture", "iec", "--port", meter_url, "--db", db, "--every", "1.1", "--count", "2", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    tokens = [c["token"] for c in document["captures"]]
    assert tokens == [load["token"] for load in json.loads(cli("loads", "--db", db, "--json").stdout)["loads"]]
