"""The poll check (imitation/poll_check.py): a line's MeterTable rows written into a real meter.db,
the project's own capture standing in for the device's poll over a real TCP socket (registers,
instantaneous values, and a day of the archives: profile, day and month registers, journals),
then the check: 0 mismatches for the honest poll; exactly the planted faults otherwise (a meter
told to serve another value, stored rows changed afterwards), each as the lines the test works
out from what it planted; meters not polled yet are counted, not reported."""
from __future__ import annotations

import os
import shutil
import sqlite3
import time

import pytest

from GenerateMeterData.imitation.line import Line, LineScenario, line_meters
from GenerateMeterData.imitation.meter import GeneratedMeter
from GenerateMeterData.imitation.poll_check import check_poll, poll_with_capture, register_line
from test_cli import cli

COUNTS = {"mercury200": 1, "mercury230": 2, "ce303": 1, "iec": 1, "mbus": 1, "dlms": 1}
TZ = "Europe/Moscow"
SEED = 11
DAYS = 1


#: the CE303's outages, seconds before the whole minute the scenario is made in: its journal
#: records have minute resolution, so it serves (and the poll stores) each at its minute's start
CE_OUTAGES = ((5 * 3600 - 17, 5 * 3600 - 17 - 1200), (3 * 3600 - 45, 3 * 3600 - 45 - 600))


def _meters(overrides=None):
    """The scenario's meters; the first Mercury 230 lost power three times in the last six hours
    (so its power journals hold records the poll reads, and its profile has slots it did not record),
    the CE303 twice (``CE_OUTAGES``)."""
    scenario = LineScenario(dict(COUNTS), seed=SEED, timezone=TZ, overrides=dict(overrides or {}))
    meters = line_meters(scenario)
    victim = next(m for m in meters if m.protocol == "mercury230")
    now = int(time.time()) // 60 * 60
    outages = [(now - 6 * 3600, now - 6 * 3600 + 1500), (now - 4 * 3600 - 600, now - 4 * 3600 + 300),
               (now - 2 * 3600, now - 2 * 3600 + 2400)]
    victim.meter = GeneratedMeter(victim.meter.spec.type_name, SEED, scenario.first_meter_id + victim.number - 1,
                                  TZ, outages=outages)
    ce = next(m for m in meters if m.protocol == "ce303")
    ce.meter = GeneratedMeter(ce.meter.spec.type_name, SEED, scenario.first_meter_id + ce.number - 1, TZ,
                              outages=[(now - off, now - on) for off, on in CE_OUTAGES])
    return meters


def _target(path):
    from GenerateMeterData.targets.local import LocalTarget

    return LocalTarget(path, timezone=TZ)


@pytest.fixture(scope="module")
def polled(tmp_path_factory):
    """The line served on TCP, registered into a meter.db (a copy kept before the poll) and polled."""
    from GenerateMeterData.targets.local import LocalTarget

    root = tmp_path_factory.mktemp("poll")
    path, registered = str(root / "meter.db"), str(root / "registered.db")
    LocalTarget(path).init()
    meters = _meters()
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    try:
        with _target(path) as t:
            register_line(meters, t)
        shutil.copy(path, registered)
        with _target(path) as t:
            poll_with_capture(meters, where, t, TZ, DAYS)
        yield meters, path, registered, where
    finally:
        served.stop()


def _copy(path, tmp_path, name="copy.db"):
    copy = str(tmp_path / name)
    shutil.copy(path, copy)
    return copy


def _stored(path, serial, measure):
    """(MeterData.Id, Timestamp) of the rows of a measure stored for a serial, oldest first."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT d.Id, d.Timestamp FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId "
                          "WHERE a.Name = ? AND d.DeviceIdx IN (SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?) "
                          "ORDER BY d.Timestamp", (measure, serial)).fetchall()


def test_a_clean_poll_of_a_mixed_line_has_no_mismatch(polled):
    meters, path, _, _ = polled
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM MeterTable").fetchone()[0] == len(meters)  # the capture made none
    with _target(path) as t:
        result = check_poll(meters, t)
    assert [m.line() for m in result.mismatches] == []
    assert result.meters_not_polled == [] and result.meters_polled == len(meters)
    victim = next(m for m in meters if m.protocol == "mercury230")
    ce = next(m for m in meters if m.protocol == "ce303")
    dlms = next(m for m in meters if m.protocol == "dlms")
    # every measure the poll stores was there to be checked
    for m in meters:
        assert _stored(path, m.serial, "ElMomentEnergy") and _stored(path, m.serial, "ElMomentQuality"), m.protocol
    for m in (victim, ce, dlms):
        for measure in ("ElDayEnergy", "ElMonthEnergy", "ElArr1ConsPower"):
            assert _stored(path, m.serial, measure), (m.protocol, measure)
    assert len(_stored(path, victim.serial, "ElJrnlPwr")) == 6   # three outages: off and on each
    assert len(_stored(path, victim.serial, "ElJrnlPwrA")) == 6
    # the slots the victim was off in were not recorded: the profile has holes the check allows for
    profile = [ts for _, ts in _stored(path, victim.serial, "ElArr1ConsPower")]
    assert len(profile) < (profile[-1] - profile[0]) // 1800 + 1
    assert result.checked > 1000


def test_exactly_the_planted_faults_are_reported(polled, tmp_path):
    meters, path, _, _ = polled
    copy = _copy(path, tmp_path)
    victim = next(m for m in meters if m.protocol == "mercury230")
    iec = next(m for m in meters if m.protocol == "iec")
    expected = []
    # 1. a line override: the IEC meter serves 1 kWh as its A+ tariff 1 register, polled once more
    faulty = [m for m in _meters({iec.number: ["1.8.1:1.000*kWh"]}) if m.number == iec.number]
    served = Line(faulty)
    where = served.start("tcp://127.0.0.1:0")
    try:
        with _target(copy) as t:
            poll_with_capture(faulty, where, t, TZ)
    finally:
        served.stop()
    newest = _stored(copy, iec.serial, "ElMomentEnergy")[-1][1]
    expected.append((iec.number, "ElMomentEnergy A+ tariff 1", newest))
    db = sqlite3.connect(copy)
    # 2. a profile value changed: P+ of a slot + 100 W
    profile = _stored(copy, victim.serial, "ElArr1ConsPower")
    row_id, ts = profile[len(profile) // 3]
    db.execute("UPDATE ElectricPowerValues SET Pp = Pp + 100 WHERE Id = ?", (row_id,))
    expected.append((victim.number, "ElArr1ConsPower P+", ts))
    # 3. a shifted stamp: another slot's row a minute later -- no slot ends there, and its slot has no row
    row_id, ts = profile[2 * len(profile) // 3]
    db.execute("UPDATE MeterData SET Timestamp = Timestamp + 60 WHERE Id = ?", (row_id,))
    expected += [(victim.number, "ElArr1ConsPower slot", ts + 60), (victim.number, "ElArr1ConsPower record", ts)]
    # 4. a quality value changed: U of phase A + 10 V
    quality_id, quality_ts = _stored(copy, victim.serial, "ElMomentQuality")[0]
    db.execute("UPDATE ElectricQualityValues SET U = U + 10 WHERE Phase = 'A' AND Id = ?", (quality_id,))
    expected.append((victim.number, "ElMomentQuality UA", quality_ts))
    # 5. journals: one record deleted (between others: the poll read it), another's Event altered
    journal = _stored(copy, victim.serial, "ElJrnlPwr")
    gone_id, gone_ts = journal[1]
    db.execute("DELETE FROM JournalValues WHERE Id = ?", (gone_id,))
    db.execute("DELETE FROM MeterData WHERE Id = ?", (gone_id,))
    expected.append((victim.number, "ElJrnlPwr record", gone_ts))
    altered_id, altered_ts = journal[2]
    db.execute("UPDATE JournalValues SET Event = 1 - Event WHERE Id = ?", (altered_id,))
    expected.append((victim.number, "ElJrnlPwr Event", altered_ts))
    # 6. a config column changed
    config_ts = db.execute("SELECT Timestamp FROM ElectricConfig WHERE Serial = ?", (victim.serial,)).fetchone()[0]
    db.execute("UPDATE ElectricConfig SET ReactiveReverse = 1 - ReactiveReverse WHERE Serial = ?", (victim.serial,))
    expected.append((victim.number, "ElectricConfig ReactiveReverse", config_ts))
    # 7. the MeterTable row the device polls by: one meter's address changed, another's row deleted
    dlms = next(m for m in meters if m.protocol == "dlms")
    dlms_device, dlms_config_ts = db.execute("SELECT DeviceIdx, Timestamp FROM ElectricConfig WHERE Serial = ?",
                                             (dlms.serial,)).fetchone()
    db.execute("UPDATE MeterTable SET Address = '99' WHERE DeviceIdx = ?", (dlms_device,))
    expected.append((dlms.number, "MeterTable Address", dlms_config_ts))
    single = next(m for m in meters if m.protocol == "mercury200")
    single_config_ts = db.execute("SELECT Timestamp FROM ElectricConfig WHERE Serial = ?", (single.serial,)).fetchone()[0]
    db.execute("DELETE FROM MeterTable WHERE DeviceIdx = (SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?)",
               (single.serial,))
    expected.append((single.number, "MeterTable row", single_config_ts))   # foreign keys off: the config stays
    db.commit()
    db.close()
    with _target(copy) as t:
        result = check_poll(meters, t)
    assert sorted((m.number, m.what, m.stamp) for m in result.mismatches) == sorted(expected)
    by_what = {m.what: m for m in result.mismatches}
    assert by_what["ElMomentEnergy A+ tariff 1"].stored == 1000.0
    assert by_what["ElArr1ConsPower record"].stored is None          # one line each: stored nothing
    assert by_what["ElArr1ConsPower slot"].expected is None          # served nothing
    assert by_what["MeterTable Address"].stored == "99" and by_what["MeterTable Address"].expected == (dlms.address,) * 2
    for mismatch in result.mismatches:
        assert "\n" not in mismatch.line() and mismatch.line().startswith(f"meter {mismatch.number} (")


def test_meters_not_polled_yet_are_counted_not_reported(polled, tmp_path):
    meters, _, registered, where = polled
    copy = _copy(registered, tmp_path)
    some = [m for m in meters if m.protocol in ("mercury200", "mbus")]
    with _target(copy) as t:
        poll_with_capture(some, where, t, TZ)
        result = check_poll(meters, t)
    assert [m.line() for m in result.mismatches] == []
    assert result.meters_polled == len(some)
    assert result.meters_not_polled == [m.number for m in meters if m not in some]


def test_the_command_prints_a_line_per_mismatch_and_exits_1(tmp_path):
    """``poll-check --register``, ``--poll URL --days 1``, then a stored value changed: exit 0, then 1."""
    from GenerateMeterData.targets.local import LocalTarget

    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    plan = ["--line-meters", "iec=1,mercury230=1", "--meter-seed", str(SEED), "--timezone", TZ, "--db", path]
    meters = line_meters(LineScenario({"iec": 1, "mercury230": 1}, seed=SEED, timezone=TZ))
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    try:
        assert cli("poll-check", "--register", *plan).returncode == 0
        result = cli("poll-check", "--poll", where, "--days", "1", *plan)
    finally:
        served.stop()
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.strip().splitlines()[-1].startswith("poll check: 0 mismatches in ")
    m230 = next(m for m in meters if m.protocol == "mercury230")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE ElectricQualityValues SET F = F + 1 WHERE Phase = 'Summ' AND Id IN "
                   "(SELECT d.Id FROM MeterData d JOIN ElectricConfig c ON c.DeviceIdx = d.DeviceIdx "
                   "WHERE c.Serial = ?)", (m230.serial,))
    result = cli("poll-check", *plan)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"meter {m230.number} (mercury230 ") and "ElMomentQuality Freq" \
        in lines[0] and lines[1].startswith("poll check: 1 mismatches in "), lines
    assert os.path.exists(path)


def test_a_planted_gap_is_reported_for_a_dlms_meter_as_for_a_mercury_230(tmp_path):
    """``--line-fault N=gap:FROM/TO`` on a Mercury 230 and a DLMS meter, polled with a day of the
    archives: the check (which knows the scenario, not the faults) reports each slot of the gap
    as a profile record stored nothing, for both meters alike, and nothing else."""
    from GenerateMeterData.model import timegrid
    from GenerateMeterData.targets.local import LocalTarget

    last = int(time.time()) // 1800 * 1800
    tz = timegrid.zone(TZ)

    def local(ts):
        return timegrid.local_datetime(ts, tz).strftime("%Y-%m-%dT%H:%M")

    gap = f"gap:{local(last - 4 * 1800 - 60)}/{local(last - 2 * 1800)}"   # the slots ending in it: three
    gap_ends = [last - 4 * 1800, last - 3 * 1800, last - 2 * 1800]
    meters = line_meters(LineScenario({"mercury230": 1, "dlms": 1}, seed=SEED, timezone=TZ,
                                      faults={1: [gap], 2: [gap]}))
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    served = Line(meters)
    where = served.start("tcp://127.0.0.1:0")
    try:
        with _target(path) as t:
            register_line(meters, t)
            poll_with_capture(meters, where, t, TZ, DAYS)
            result = check_poll(meters, t)
    finally:
        served.stop()
    assert sorted((m.number, m.protocol, m.what, m.stamp, m.stored) for m in result.mismatches) == sorted(
        (m.number, m.protocol, "ElArr1ConsPower record", end, None) for m in meters for end in gap_ends)
    assert result.meters_polled == 2


def _planted(polled, tmp_path, plant):
    """The mismatches of the check of a copy of the polled meter.db that ``plant(db)`` changed
    (plain sqlite3, foreign keys off as sqlite3 opens a database), as (number, what, stamp)."""
    meters, path, _, _ = polled
    copy = _copy(path, tmp_path)
    db = sqlite3.connect(copy)
    plant(db)
    db.commit()
    db.close()
    with _target(copy) as t:
        result = check_poll(meters, t)
    for mismatch in result.mismatches:
        assert "\n" not in mismatch.line() and mismatch.line().startswith(f"meter {mismatch.number} (")
    return result.mismatches


def _one(mismatches):
    assert len(mismatches) == 1, [m.line() for m in mismatches]
    return mismatches[0]


def _journal_ids(path, serial, measure):
    """(Timestamp, Event, EventId) of a journal's stored records, oldest first."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT d.Timestamp, j.Event, j.EventId FROM MeterData d "
                          "JOIN ArchTypes a ON a.Id = d.RecordTypeId JOIN JournalValues j ON j.Id = d.Id "
                          "WHERE a.Name = ? AND d.DeviceIdx IN (SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?) "
                          "ORDER BY d.Timestamp",
                          (measure, serial)).fetchall()


def test_a_journal_record_s_event_id_is_checked(polled, tmp_path):
    """EventId numbers a journal's records as they happen: the capture read the victim's power
    journal whole into an empty meter.db, three outages (off, on each) numbered 0 to 5; one record
    renumbered is one mismatch of its EventId."""
    meters, path, _, _ = polled
    victim = next(m for m in meters if m.protocol == "mercury230")
    stored = _journal_ids(path, victim.serial, "ElJrnlPwr")
    assert [(event, event_id) for _, event, event_id in stored] == [(0, 0), (1, 1), (0, 2), (1, 3), (0, 4), (1, 5)]
    ts = stored[3][0]

    def plant(db):
        db.execute("UPDATE JournalValues SET EventId = 7 WHERE Id IN (SELECT d.Id FROM MeterData d JOIN ArchTypes a "
                   "ON a.Id = d.RecordTypeId WHERE a.Name = 'ElJrnlPwr' AND d.Timestamp = ? AND d.DeviceIdx IN "
                   "(SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?))", (ts, victim.serial))

    mismatch = _one(_planted(polled, tmp_path, plant))
    assert (mismatch.number, mismatch.what, mismatch.stamp, mismatch.stored) == \
        (victim.number, "ElJrnlPwr EventId", ts, 7)
    assert mismatch.expected == (3, 3)
    assert f"meter {victim.number} (mercury230 " in mismatch.line() and "ElJrnlPwr EventId stored 7, served 3" in \
        mismatch.line()


def test_a_profile_record_s_season_is_checked(polled, tmp_path):
    """Season (isSummer): the imitated meters serve no season flag, the device stores its null as 0
    (device-contract.md 1.4, 8.11) -- every stored profile row has 0; one set to 1 is one mismatch."""
    meters, path, _, _ = polled
    dlms = next(m for m in meters if m.protocol == "dlms")
    with sqlite3.connect(path) as db:
        assert {row[0] for row in db.execute("SELECT DISTINCT Season FROM ElectricPowerValues")} == {0}
    row_id, ts = _stored(path, dlms.serial, "ElArr1ConsPower")[5]
    mismatch = _one(_planted(polled, tmp_path, lambda db: db.execute(
        "UPDATE ElectricPowerValues SET Season = 1 WHERE Id = ?", (row_id,))))
    assert (mismatch.number, mismatch.what, mismatch.stamp, mismatch.stored, mismatch.expected) == \
        (dlms.number, "ElArr1ConsPower Season", ts, 1, (0.0, 0.0))


def _config_stamp(path, serial):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT Timestamp FROM ElectricConfig WHERE Serial = ?", (serial,)).fetchone()[0]


def _device_idx(db, serial):
    return db.execute("SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?", (serial,)).fetchone()[0]


@pytest.mark.parametrize("column, change, stored", [
    ("Address", "Address = '77'", "77"),
    ("ReadPassword", "ReadPassword = 'secret'", "secret"),
    ("WritePassword", "WritePassword = NULL", None),
    ("TypeId", "TypeId = (SELECT Id FROM MeterTypes WHERE Type = 'SE303')", "SE303"),
    ("InterfaceId", "InterfaceId = (SELECT Id FROM MeterIfaces WHERE Name = 'Iface3')", "Iface3"),
    ("InterfaceConfig", "InterfaceConfig = '19200,8N1'", "19200,8N1"),
    ("ParentId", "ParentId = 5", 5),
])
def test_a_changed_meter_table_row_is_one_mismatch(polled, tmp_path, column, change, stored):
    """The MeterTable row the line registered for the device to poll the meter (Mercury 200: type
    Mercury200, interface Iface1 at 9600,8N1, its address and passwords, no parent), one column
    changed after the poll."""
    meters, path, _, _ = polled
    m200 = next(m for m in meters if m.protocol == "mercury200")
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT t.Type, m.Address, m.ReadPassword, m.WritePassword, i.Name, m.InterfaceConfig, "
                         "m.ParentId FROM MeterTable m JOIN MeterTypes t ON t.Id = m.TypeId JOIN MeterIfaces i "
                         "ON i.Id = m.InterfaceId WHERE m.DeviceIdx = ?", (_device_idx(db, m200.serial),)).fetchone()
    assert row == (m200.meter.spec.type_name, m200.address, m200.read_password, m200.write_password, "Iface1",
                   "9600,8N1", 0)
    assert row[0] != "SE303" and row[1] != "77"
    mismatch = _one(_planted(polled, tmp_path, lambda db: db.execute(
        f"UPDATE MeterTable SET {change} WHERE DeviceIdx = ?", (_device_idx(db, m200.serial),))))
    assert (mismatch.number, mismatch.what, mismatch.stamp, mismatch.stored) == \
        (m200.number, f"MeterTable {column}", _config_stamp(path, m200.serial), stored)


@pytest.mark.parametrize("cascade", [False, True])
def test_a_deleted_meter_table_row_is_one_mismatch(polled, tmp_path, cascade):
    """The M-Bus meter's MeterTable row deleted: with foreign keys off its config and data stay
    (one mismatch at the config's stamp); with them on the delete cascades, the meter is not
    polled yet -- and, the rest of the line registered as it was (the line is registered in one
    load), its missing row is still the one mismatch (stamp 0: nothing is stored)."""
    meters, path, _, _ = polled
    mbus = next(m for m in meters if m.protocol == "mbus")

    def plant(db):
        if cascade:
            db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM MeterTable WHERE DeviceIdx = ?", (_device_idx(db, mbus.serial),))

    mismatch = _one(_planted(polled, tmp_path, plant))
    assert (mismatch.number, mismatch.what, mismatch.stored, mismatch.expected) == \
        (mbus.number, "MeterTable row", None, None)
    assert mismatch.stamp == (0 if cascade else _config_stamp(path, mbus.serial))


def test_ce303_journals_are_stored_and_checked(polled, tmp_path):
    """The CE303's two outages: its power journals (the meter's and each phase's) hold the off
    and the on of each at the start of its minute (the meter's records have minute resolution),
    numbered 0 to 3; an Event or an EventId changed is one mismatch."""
    meters, path, _, _ = polled
    ce = next(m for m in meters if m.protocol == "ce303")
    expected = []
    for off, on in ce.meter.story.outages:
        expected += [(off // 60 * 60, 0), (on // 60 * 60, 1)]
    assert all(t % 60 for off_on in ce.meter.story.outages for t in off_on)   # the flooring is checked
    for measure in ("ElJrnlPwr", "ElJrnlPwrA", "ElJrnlPwrB", "ElJrnlPwrC"):
        stored = _journal_ids(path, ce.serial, measure)
        assert [(ts, event) for ts, event, _ in stored] == expected, measure
        assert [event_id for _, _, event_id in stored] == [0, 1, 2, 3], measure
    ts = expected[2][0]
    where = ("Id IN (SELECT d.Id FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId WHERE a.Name = ? "
             "AND d.Timestamp = ? AND d.DeviceIdx IN (SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?))")
    mismatch = _one(_planted(polled, tmp_path, lambda db: db.execute(
        f"UPDATE JournalValues SET Event = 1 WHERE {where}", ("ElJrnlPwrB", ts, ce.serial))))
    assert (mismatch.number, mismatch.what, mismatch.stamp, mismatch.stored) == \
        (ce.number, "ElJrnlPwrB Event", ts, 1)
    mismatch = _one(_planted(polled, tmp_path, lambda db: db.execute(
        f"UPDATE JournalValues SET EventId = 0 WHERE {where}", ("ElJrnlPwrC", ts, ce.serial))))
    assert (mismatch.number, mismatch.what, mismatch.stamp, mismatch.stored, mismatch.expected) == \
        (ce.number, "ElJrnlPwrC EventId", ts, 0, (2, 2))
