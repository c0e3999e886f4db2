"""One test per verify rule: a good meter.db, a copy damaged with plain SQL in exactly the way that
rule forbids, and exactly that rule firing -- at the damaged record -- while the undamaged copy
passes every rule.  A rule added without a damage here fails ``test_every_rule_has_a_damage``."""
from __future__ import annotations

import datetime as dt
import math
import shutil
import sqlite3
from typing import Callable, Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

import pytest

import GenerateMeterData
from GenerateMeterData import (LocalTarget, MeterPlan, Scenario, StoryOptions, VerificationFailed,
                               verify)
from GenerateMeterData.verify import RULES

MSK = ZoneInfo("Europe/Moscow")
END = dt.date(2026, 3, 5)
CHANNELS = 8
# DeviceIdx of each meter in the good database, in plan order
SE303, SINGLE_PHASE, NO_REACTIVE, PULSE, DIGITAL = 1, 2, 3, 4, 5
CHANNEL_COLUMNS = ", ".join(f"Chnl{i}" for i in range(1, 33))


@pytest.fixture(scope="module")
def good_db(tmp_path_factory):
    """Five meters over 40 days: a three-phase SE303 with outages, a single-phase Mercury200, an
    SE303 without reactive energy (Reactive = 0), a Pulsar pulse module and a UMTV10 digital
    module with 8 channels each; every measure, moments every 30 minutes."""
    path = str(tmp_path_factory.mktemp("good") / "meter.db")
    Scenario(meters=[MeterPlan("SE303"), MeterPlan("Mercury200"), MeterPlan("SE303", config={"Reactive": 0}),
                     MeterPlan("Pulsar", config={"Channels": CHANNELS}),
                     MeterPlan("UMTV10", config={"ChannelsIn": CHANNELS})],
             days=40, end=END, seed=5,
             options=StoryOptions(outages_per_30_days=3, moment_step_minutes=30)).create(LocalTarget(path))
    return path


# ---- plain-SQL helpers over the copy ------------------------------------------------------
def record_type(conn, name: str) -> int:
    return conn.execute("SELECT Id FROM ArchTypes WHERE Name = ?", (name,)).fetchone()[0]


def headers(conn, device: int, measure: str, valid: Optional[int] = 1) -> List[Tuple[int, int]]:
    """(Id, Timestamp) of a meter's records of one measure, oldest first."""
    sql = "SELECT Id, Timestamp FROM MeterData WHERE DeviceIdx = ? AND RecordTypeId = ?"
    params = [device, record_type(conn, measure)]
    if valid is not None:
        sql += " AND Valid = ?"
        params.append(valid)
    return list(conn.execute(sql + " ORDER BY Timestamp", params))


def local(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, MSK)


def middle(items: list) -> object:
    return items[len(items) // 2]


def cycle(ts: int) -> dt.datetime:
    """The start of the 30-minute poll cycle ``ts`` falls in (a grid stamp is its own cycle):
    moment readings are stamped at the poll, seconds to minutes after the cycle starts."""
    moment = local(ts)
    return moment.replace(minute=moment.minute // 30 * 30, second=0)


def at_local_time(items: List[Tuple[int, int]], hour: int, minute: int) -> List[Tuple[int, int]]:
    """The records of the hh:mm local poll cycle (stamped at hh:mm exactly for grid archives),
    from the second day on (the first is partial)."""
    first_day = local(items[0][1]).date()
    return [(i, ts) for i, ts in items
            if (cycle(ts).hour, cycle(ts).minute) == (hour, minute) and local(ts).date() > first_day]


def energy(conn, record_id: int, tariff: int, column: str = "Ap") -> Optional[float]:
    row = conn.execute(f"SELECT {column} FROM ElectricEnergyValues WHERE Id = ? AND Tariff = ?",
                       (record_id, tariff)).fetchone()
    return row[0] if row else None


def growing_moment(conn) -> Tuple[int, int, int]:
    """(Id, Timestamp, tariff) of a mid-series 12:30 ElMomentEnergy record of the SE303 whose
    total and one tariff register grow by more than 2 Wh until the next moment record, so adding
    1 Wh to them keeps both registers non-decreasing."""
    moments = headers(conn, SE303, "ElMomentEnergy")
    index = {record_id: n for n, (record_id, _) in enumerate(moments)}
    for record_id, ts in at_local_time(moments, 12, 30)[3:]:
        following = moments[index[record_id] + 1]
        if cycle(following[1]) - cycle(ts) != dt.timedelta(minutes=30):
            continue
        if energy(conn, following[0], 0) - energy(conn, record_id, 0) < 2:
            continue
        for tariff in (1, 2, 3, 4):
            if energy(conn, following[0], tariff) - energy(conn, record_id, tariff) > 2:
                return record_id, ts, tariff
    raise AssertionError("no growing moment record in the good database")


def quality_record(conn, device: int = SE303, min_power: float = 100.0, angle_needed: bool = True) -> Tuple[int, int]:
    """(Id, Timestamp) of a mid-series valid quality record whose phase A draws real power (and
    has an angle, which a single-phase meter has not)."""
    for record_id, ts in headers(conn, device, "ElMomentQuality")[100:]:
        p, angle = conn.execute("SELECT P, Angle FROM ElectricQualityValues WHERE Id = ? AND Phase = 'A'",
                                (record_id,)).fetchone()
        if p is not None and p > min_power and (angle is not None or not angle_needed):
            return record_id, ts
    raise AssertionError("no quality record with load")


def outages(conn) -> List[Tuple[int, int]]:
    """(off, on) of the SE303's outages, read from its power journal."""
    events = list(conn.execute(
        "SELECT m.Timestamp, j.Event FROM MeterData m JOIN JournalValues j ON j.Id = m.Id "
        "WHERE m.DeviceIdx = ? AND m.RecordTypeId = ? ORDER BY m.Timestamp", (SE303, record_type(conn, "ElJrnlPwr"))))
    return [(a[0], b[0]) for a, b in zip(events, events[1:]) if (a[1], b[1]) == (0, 1)]


def pulse(conn, record_id: int, channel: int = 1) -> int:
    return conn.execute(f"SELECT Chnl{channel} FROM PulseValues WHERE Id = ?", (record_id,)).fetchone()[0]


# ---- one damage per rule -------------------------------------------------------------------
# Each damage changes the copy and returns where the rule must point: (table, timestamp), with
# timestamp None for rules about the database as a whole.
Where = Tuple[str, Optional[int]]
DAMAGES: Dict[str, Callable[[sqlite3.Connection], Where]] = {}


def damage(rule_name: str, variant: str = ""):
    """Register a damage for a rule; a second damage of the same rule is named ``rule/variant``."""
    def register(function):
        DAMAGES[f"{rule_name}/{variant}" if variant else rule_name] = function
        return function
    return register


def rule_of(damage_name: str) -> str:
    return damage_name.split("/")[0]


@damage("unique-record")
def _second_header_for_one_reading(conn):
    """A second (Valid = 0) header for an existing power-journal reading; the database's own
    UNIQUE index is dropped first, as a device's database may not have it.  The meter is one
    with fewer power-journal records than another, so the extra header stays within ArchInfo."""
    counts = {device: len(headers(conn, device, "ElJrnlPwr")) for device in (SE303, SINGLE_PHASE, NO_REACTIVE)}
    device = next(d for d, n in counts.items() if n < max(counts.values()))
    _, ts = headers(conn, device, "ElJrnlPwr")[2]
    conn.execute("DROP INDEX MeterDataRecord")
    conn.execute("INSERT INTO MeterData (DeviceIdx, RecordTypeId, Timestamp, Valid) VALUES (?, ?, ?, 0)",
                 (device, record_type(conn, "ElJrnlPwr"), ts))
    return "ElJrnlPwr", ts


@damage("orphan-values")
def _journal_row_without_header(conn):
    """A JournalValues row whose Id no MeterData header has."""
    unused = conn.execute("SELECT max(Id) + 1000 FROM MeterData").fetchone()[0]
    conn.execute("INSERT INTO JournalValues (Id, Event, EventId) VALUES (?, 1, 0)", (unused,))
    return "JournalValues", None


@damage("header-without-meter")
def _header_of_missing_meter(conn):
    """A Valid = 0 header of DeviceIdx 99, which MeterTable does not have."""
    conn.execute("INSERT INTO MeterData (DeviceIdx, RecordTypeId, Timestamp, Valid) VALUES (99, ?, 1772000000, 0)",
                 (record_type(conn, "ElJrnlPwr"),))
    return "MeterData", None


@damage("retention-holds-records")
def _retention_below_holdings(conn):
    """ElDayEnergy retention lowered to 10 records while each meter holds 41."""
    conn.execute("UPDATE ArchInfo SET Records = 10 WHERE RecordTypeId = ?", (record_type(conn, "ElDayEnergy"),))
    return "ArchInfo", None


@damage("valid-0-without-values")
def _invalid_header_keeps_values(conn):
    """A time-correction journal record turned Valid = 0 with its value row left in place."""
    record_id, ts = headers(conn, SE303, "ElJrnlTimeCorr")[1]
    conn.execute("UPDATE MeterData SET Valid = 0 WHERE Id = ?", (record_id,))
    return "ElJrnlTimeCorr", ts


@damage("valid-1-rows")
def _phase_row_missing(conn):
    """The phase C row of a three-phase meter's quality record deleted, its P and Q taken out of
    the Summ row too (a tariff the meter did not report may be missing; a phase of a
    three-phase meter may not)."""
    record_id, ts = quality_record(conn)
    pc, qc = conn.execute("SELECT P, Q FROM ElectricQualityValues WHERE Id = ? AND Phase = 'C'",
                          (record_id,)).fetchone()
    ps, qs = conn.execute("SELECT P, Q FROM ElectricQualityValues WHERE Id = ? AND Phase = 'Summ'",
                          (record_id,)).fetchone()
    p, q = round(ps - pc, 3), round(qs - qc, 3)
    s = round(math.hypot(p, q), 3)
    conn.execute("UPDATE ElectricQualityValues SET P = ?, Q = ?, S = ?, KP = ? WHERE Id = ? AND Phase = 'Summ'",
                 (p, q, s, round(p / s, 4), record_id))
    conn.execute("DELETE FROM ElectricQualityValues WHERE Id = ? AND Phase = 'C'", (record_id,))
    return "ElMomentQuality", ts


@damage("untagged-cells-null")
def _frequency_on_phase_a(conn):
    """A frequency written into phase A's F column (only the Summ row's F has a tag, Freq)."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET F = 50.0 WHERE Id = ? AND Phase = 'A'", (record_id,))
    return "ElMomentQuality", ts


@damage("stamp-on-grid")
def _day_record_an_hour_late(conn):
    """A day consumption record stamped at 01:00 instead of midnight."""
    record_id, ts = middle(headers(conn, SE303, "ElDayConsEnergy"))
    conn.execute("UPDATE MeterData SET Timestamp = Timestamp + 3600 WHERE Id = ?", (record_id,))
    return "ElDayConsEnergy", ts + 3600


@damage("stamp-on-grid", "profile")
def _profile_slot_a_minute_late(conn):
    """A loaded 12:00 profile slot (neither it nor the next one cut by an outage) stamped 12:01."""
    slots = headers(conn, SE303, "ElArr1ConsPower")
    following = dict(zip((ts for _, ts in slots), (record_id for record_id, _ in slots[1:])))
    for record_id, ts in at_local_time(slots, 12, 0)[5:]:
        pp, partial = conn.execute("SELECT Pp, Partial FROM ElectricPowerValues WHERE Id = ?",
                                   (record_id,)).fetchone()
        next_partial = conn.execute("SELECT Partial FROM ElectricPowerValues WHERE Id = ?",
                                    (following[ts],)).fetchone()[0]
        if pp > 0 and partial == 0 and next_partial == 0:
            conn.execute("UPDATE MeterData SET Timestamp = Timestamp + 60 WHERE Id = ?", (record_id,))
            return "ElArr1ConsPower", ts + 60
    raise AssertionError("no loaded 12:00 slot")


@damage("stamp-on-grid", "hour")
def _hour_counter_half_past(conn):
    """A 10:00 hour-archive pulse record stamped 10:15 (no other archive reads at 10:15)."""
    record_id, ts = middle(at_local_time(headers(conn, PULSE, "PlsHourPulse"), 10, 0))
    conn.execute("UPDATE MeterData SET Timestamp = Timestamp + 900 WHERE Id = ?", (record_id,))
    return "PlsHourPulse", ts + 900


@damage("calendar-gap")
def _day_record_deleted(conn):
    """One day consumption record (header and rows) deleted from the middle of the archive."""
    records = headers(conn, SE303, "ElDayConsEnergy")
    n = len(records) // 2
    record_id = records[n][0]
    conn.execute("DELETE FROM ElectricEnergyValues WHERE Id = ?", (record_id,))
    conn.execute("DELETE FROM MeterData WHERE Id = ?", (record_id,))
    return "ElDayConsEnergy", records[n + 1][1]


@damage("calendar-gap", "month")
def _month_before_a_missing_month(conn):
    """A (Valid = 0) pulse month record for December 2025 added before the archive's first,
    February 2026: January is missing between them."""
    first_id, first_ts = headers(conn, PULSE, "PlsMonthPulse")[0]
    assert local(first_ts).date() == dt.date(2026, 2, 1)
    december = int(dt.datetime(2025, 12, 1, tzinfo=MSK).timestamp())
    conn.execute("INSERT INTO MeterData (DeviceIdx, RecordTypeId, Timestamp, Valid) VALUES (?, ?, ?, 0)",
                 (PULSE, record_type(conn, "PlsMonthPulse"), december))
    return "PlsMonthPulse", first_ts


@damage("cumulative-decreases")
def _pulse_counter_goes_down(conn):
    """A pulse counter at hh:30 (a moment reading no other archive has) set 1 below the reading
    half an hour earlier."""
    moments = headers(conn, PULSE, "PlsMomentPulse")
    index = {record_id: n for n, (record_id, _) in enumerate(moments)}
    record_id, ts = middle(at_local_time(moments, 10, 30))
    before = moments[index[record_id] - 1][0]
    conn.execute("UPDATE PulseValues SET Chnl1 = ? WHERE Id = ?", (pulse(conn, before) - 1, record_id))
    return "PlsMomentPulse", ts


@damage("same-instant")
def _hour_archive_disagrees_with_day(conn):
    """The 00:00 hour-archive counter lowered by 1 pulse; the day archive keeps the true
    reading of that midnight (moment readings are taken at polls, never at the hour).  The hour
    chosen grew by 2+ pulses, so the hour archive still rises."""
    hours = headers(conn, PULSE, "PlsHourPulse")
    index = {record_id: n for n, (record_id, _) in enumerate(hours)}
    for record_id, ts in at_local_time(hours, 0, 0)[5:]:
        if pulse(conn, record_id) - pulse(conn, hours[index[record_id] - 1][0]) >= 2:
            conn.execute("UPDATE PulseValues SET Chnl1 = Chnl1 - 1 WHERE Id = ?", (record_id,))
            return "PlsHourPulse", ts
    raise AssertionError("no hour with 2 pulses")


@damage("config-gates-values")
def _reactive_energy_without_reactive_flag(conn):
    """R+ of tariff 1 written on a meter whose ElConfig says Reactive = 0."""
    record_id, ts = middle(headers(conn, NO_REACTIVE, "ElDayConsEnergy"))
    conn.execute("UPDATE ElectricEnergyValues SET Rp = 5.0 WHERE Id = ? AND Tariff = 1", (record_id,))
    return "ElDayConsEnergy", ts


@damage("tariff-sum")
def _tariff_register_raised(conn):
    """1 Wh added to one tariff's A+ of a moment record, the total left as it was."""
    record_id, ts, tariff = growing_moment(conn)
    conn.execute("UPDATE ElectricEnergyValues SET Ap = Ap + 1 WHERE Id = ? AND Tariff = ?", (record_id, tariff))
    return "ElMomentEnergy", ts


@damage("consumption-difference")
def _consumption_moved_between_tariffs(conn):
    """100 Wh of a day's A+ consumption moved from tariff 2 to tariff 1 (the total unchanged)."""
    record_id, ts = middle(headers(conn, SE303, "ElDayConsEnergy"))
    conn.execute("UPDATE ElectricEnergyValues SET Ap = Ap + 100 WHERE Id = ? AND Tariff = 1", (record_id,))
    conn.execute("UPDATE ElectricEnergyValues SET Ap = Ap - 100 WHERE Id = ? AND Tariff = 2", (record_id,))
    return "ElDayConsEnergy", ts


@damage("config-profile-arrays")
def _config_says_two_profile_arrays(conn):
    """The SE303's ElConfig.IntervalPowerArrays set to 2 (the device stores 1, the number of
    profile arrays; 2 is not the profile's period either)."""
    ts = conn.execute("SELECT Timestamp FROM ElectricConfig WHERE DeviceIdx = ?", (SE303,)).fetchone()[0]
    conn.execute("UPDATE ElectricConfig SET IntervalPowerArrays = 2 WHERE DeviceIdx = ?", (SE303,))
    return "ElectricConfig", ts


@damage("legacy-convention")
def _config_holds_the_period(conn):
    """The SE303's ElConfig.IntervalPowerArrays set to 30, its profile's period, as
    GenerateMeterData 0.1 wrote it."""
    conn.execute("UPDATE ElectricConfig SET IntervalPowerArrays = 30 WHERE DeviceIdx = ?", (SE303,))
    return "ElectricConfig", None


@damage("legacy-convention", "null-rows")
def _single_phase_with_null_phases(conn):
    """All-NULL rows B and C added to every quality record of the single-phase Mercury200, as
    GenerateMeterData 0.1 wrote them: reported once, for the meter."""
    conn.execute("INSERT INTO ElectricQualityValues (Id, Phase) SELECT m.Id, p.Phase FROM MeterData m, "
                 "(SELECT 'B' AS Phase UNION ALL SELECT 'C') p WHERE m.DeviceIdx = ? AND m.Valid = 1 "
                 "AND m.RecordTypeId = ?", (SINGLE_PHASE, record_type(conn, "ElMomentQuality")))
    return "ElectricConfig", None


@damage("no-all-null-rows")
def _empty_phase_row(conn):
    """An all-NULL phase B row added to one quality record of the single-phase Mercury200 (the
    device leaves such a row out)."""
    record_id, ts = middle(headers(conn, SINGLE_PHASE, "ElMomentQuality"))
    conn.execute("INSERT INTO ElectricQualityValues (Id, Phase) VALUES (?, 'B')", (record_id,))
    return "ElMomentQuality", ts


@damage("device-defaults")
def _profile_flag_null(conn):
    """isOvfl of one profile slot set to NULL (the device stores a null flag as 0)."""
    record_id, ts = middle(headers(conn, SE303, "ElArr1ConsPower"))
    conn.execute("UPDATE ElectricPowerValues SET Overflow = NULL WHERE Id = ?", (record_id,))
    return "ElArr1ConsPower", ts


@damage("journal-event-values")
def _reset_event_one(conn):
    """A time-correction record's Event set to 2 (the device logs 0 or 1)."""
    record_id, ts = headers(conn, SE303, "ElJrnlTimeCorr")[0]
    conn.execute("UPDATE JournalValues SET Event = 2 WHERE Id = ?", (record_id,))
    return "ElJrnlTimeCorr", ts


@damage("profile-day-energy")
def _last_slot_of_a_day_raised(conn):
    """100 W added to the slot that ends a day at midnight (no moment of that day sees it; a
    slot with load and not cut by an outage)."""
    slots = at_local_time(headers(conn, SE303, "ElArr1ConsPower"), 0, 0)
    for record_id, ts in slots[len(slots) // 2:]:
        pp, partial = conn.execute("SELECT Pp, Partial FROM ElectricPowerValues WHERE Id = ?",
                                   (record_id,)).fetchone()
        if pp > 0 and partial == 0:
            conn.execute("UPDATE ElectricPowerValues SET Pp = Pp + 100 WHERE Id = ?", (record_id,))
            return "ElArr1ConsPower", ts - 86400  # reported at the day's own midnight
    raise AssertionError("no loaded midnight slot")


@damage("moment-register-profile")
def _moment_register_below_profile(conn):
    """A moment of the 12:30 poll cycle (taken a little after 12:30) lowered, total and the
    tariff it is counting in alike, to 1 Wh below the day register plus the energy of the
    day's slots ended by then: the tariffs still sum up and the registers still rise from the
    previous moment (taken a little after 12:00, most of a slot earlier), but the profile says
    the meter had counted more."""
    moments = headers(conn, SE303, "ElMomentEnergy")
    index = {record_id: n for n, (record_id, _) in enumerate(moments)}
    days = dict((ts, record_id) for record_id, ts in headers(conn, SE303, "ElDayEnergy"))
    slots = headers(conn, SE303, "ElArr1ConsPower")
    for record_id, ts in at_local_time(moments, 12, 30)[3:]:
        midnight = int(local(ts).replace(hour=0, minute=0, second=0).timestamp())
        if midnight not in days:
            continue
        ended = [slot_id for slot_id, end in slots if midnight < end <= ts]
        energy_so_far = sum(conn.execute("SELECT Pp * Period / 60.0 FROM ElectricPowerValues WHERE Id = ?",
                                         (slot_id,)).fetchone()[0] for slot_id in ended)
        low = energy(conn, days[midnight], 0) + energy_so_far
        drop = energy(conn, record_id, 0) - (low - 1)
        previous = moments[index[record_id] - 1][0]
        for tariff in (1, 2, 3, 4):
            grew = energy(conn, record_id, tariff) - energy(conn, previous, tariff)
            if grew > drop + 1 and energy(conn, previous, 0) < low - 2:
                conn.execute("UPDATE ElectricEnergyValues SET Ap = Ap - ? WHERE Id = ? AND Tariff IN (0, ?)",
                             (drop, record_id, tariff))
                return "ElMomentEnergy", ts
    raise AssertionError("no moment with room below its profile bound")


@damage("outage-in-profile")
def _cut_slot_not_marked(conn):
    """isPart cleared on a profile slot that a journaled outage cuts (but does not cover)."""
    cuts = outages(conn)
    for record_id, ts in headers(conn, SE303, "ElArr1ConsPower"):
        start = ts - 1800
        if any(start < on and ts > off and not (start >= off and ts <= on) for off, on in cuts):
            conn.execute("UPDATE ElectricPowerValues SET Partial = 0 WHERE Id = ?", (record_id,))
            return "ElArr1ConsPower", ts
    raise AssertionError("no slot cut by an outage")


@damage("quality-apparent-power")
def _apparent_power_scaled(conn):
    """Phase A: S x 1.1, with kP / 1.1 and I x 1.1 so that kP = P/S and P = U*I*kP still hold."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET S = S * 1.1, KP = KP / 1.1, I = I * 1.1 "
                 "WHERE Id = ? AND Phase = 'A'", (record_id,))
    return "ElMomentQuality", ts


@damage("quality-power-factor")
def _power_factor_scaled(conn):
    """Phase A: kP x 0.9, with I / 0.9 so that P = U*I*kP still holds."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET KP = KP * 0.9, I = I / 0.9 WHERE Id = ? AND Phase = 'A'",
                 (record_id,))
    return "ElMomentQuality", ts


@damage("quality-active-power")
def _current_scaled(conn):
    """Phase A: I x 1.2 (20 % more current for the same power)."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET I = I * 1.2 WHERE Id = ? AND Phase = 'A'", (record_id,))
    return "ElMomentQuality", ts


@damage("quality-voltage-range")
def _overvoltage(conn):
    """Phase A at 300 V, the current lowered so that U*I stays the same."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET I = I * U / 300.0, U = 300.0 WHERE Id = ? AND Phase = 'A'",
                 (record_id,))
    return "ElMomentQuality", ts


@damage("quality-angle-range")
def _angle_off(conn):
    """The A-B angle at 150 degrees."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET Angle = 150.0 WHERE Id = ? AND Phase = 'A'", (record_id,))
    return "ElMomentQuality", ts


@damage("quality-phase-sum")
def _total_power_off(conn):
    """PS (the Summ row's P) 100 W above the sum of the phases."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET P = P + 100 WHERE Id = ? AND Phase = 'Summ'", (record_id,))
    return "ElMomentQuality", ts


@damage("quality-frequency-range")
def _frequency_off(conn):
    """Network frequency 55 Hz."""
    record_id, ts = quality_record(conn)
    conn.execute("UPDATE ElectricQualityValues SET F = 55.0 WHERE Id = ? AND Phase = 'Summ'", (record_id,))
    return "ElMomentQuality", ts


@damage("quality-single-phase")
def _phase_b_on_single_phase_meter(conn):
    """A voltage on phase B of the single-phase Mercury200."""
    record_id, ts = quality_record(conn, SINGLE_PHASE, min_power=0.0, angle_needed=False)
    conn.execute("INSERT INTO ElectricQualityValues (Id, Phase, U) VALUES (?, 'B', 230.0)", (record_id,))
    return "ElMomentQuality", ts


@damage("journal-event-id-increases")
def _event_id_repeated(conn):
    """The third phase-A power journal entry given the second one's EventId."""
    (_, _), (second, _), (third, ts) = headers(conn, SE303, "ElJrnlPwrA")[:3]
    conn.execute("UPDATE JournalValues SET EventId = (SELECT EventId FROM JournalValues WHERE Id = ?) WHERE Id = ?",
                 (second, third))
    return "ElJrnlPwrA", ts


@damage("power-journal-alternates")
def _last_power_event_flipped(conn):
    """The last power journal event flipped (two offs or two ons in a row)."""
    record_id, ts = headers(conn, SE303, "ElJrnlPwr")[-1]
    conn.execute("UPDATE JournalValues SET Event = 1 - Event WHERE Id = ?", (record_id,))
    return "ElJrnlPwr", ts


@damage("channel-count")
def _record_claims_16_channels(conn):
    """A day record of the 8-channel pulse module saying Channels = 16 (channels 9-16 NULL)."""
    record_id, ts = middle(headers(conn, PULSE, "PlsDayPulse"))
    conn.execute("UPDATE PulseValues SET Channels = 16 WHERE Id = ?", (record_id,))
    return "PlsDayPulse", ts


@damage("channels-beyond-count-null")
def _value_on_channel_12_of_8(conn):
    """A value on channel 12 of the 8-channel pulse module (a :30 moment reading)."""
    record_id, ts = middle(at_local_time(headers(conn, PULSE, "PlsMomentPulse"), 10, 30))
    conn.execute("UPDATE PulseValues SET Chnl12 = 7 WHERE Id = ?", (record_id,))
    return "PlsMomentPulse", ts


@damage("digital-states-binary")
def _state_2_on_a_quiet_input(conn):
    """An input that never changes set to 2 in every digital record (consistently, so the
    journal and the moments still agree)."""
    for channel in range(1, CHANNELS + 1):
        states = conn.execute(f"SELECT DISTINCT v.Chnl{channel} FROM DigitalValues v JOIN MeterData m "
                              "ON m.Id = v.Id WHERE m.DeviceIdx = ?", (DIGITAL,)).fetchall()
        if len(states) == 1:
            conn.execute(f"UPDATE DigitalValues SET Chnl{channel} = 2 WHERE Id IN "
                         "(SELECT Id FROM MeterData WHERE DeviceIdx = ?)", (DIGITAL,))
            _, ts = headers(conn, DIGITAL, "DigMomentState")[0]
            return "DigMomentState", ts
    raise AssertionError("every input changes")


@damage("digital-journal-changes")
def _journal_entry_repeated(conn):
    """A copy of a journal entry one second after it: an entry that changes nothing."""
    entries = headers(conn, DIGITAL, "DigJournalState")
    for (record_id, ts), (_, next_ts) in zip(entries[10:], entries[11:]):
        if next_ts - ts > 1:
            cursor = conn.execute("INSERT INTO MeterData (DeviceIdx, RecordTypeId, Timestamp, Valid) "
                                  "VALUES (?, ?, ?, 1)", (DIGITAL, record_type(conn, "DigJournalState"), ts + 1))
            conn.execute(f"INSERT INTO DigitalValues (Id, Channels, {CHANNEL_COLUMNS}) "
                         f"SELECT ?, Channels, {CHANNEL_COLUMNS} FROM DigitalValues WHERE Id = ?",
                         (cursor.lastrowid, record_id))
            return "DigJournalState", ts + 1
    raise AssertionError("no room for a copy")


@damage("digital-moment-follows-journal")
def _moment_state_flipped(conn):
    """One input of a moment reading (after the first journal entry) flipped 0 <-> 1."""
    first_entry = headers(conn, DIGITAL, "DigJournalState")[0][1]
    moments = [(i, ts) for i, ts in headers(conn, DIGITAL, "DigMomentState") if ts > first_entry]
    record_id, ts = middle(moments)
    conn.execute("UPDATE DigitalValues SET Chnl1 = 1 - Chnl1 WHERE Id = ?", (record_id,))
    return "DigMomentState", ts


# ---- the tests ----------------------------------------------------------------------------
def damaged_copy(good_db: str, tmp_path, damage_name: str) -> Tuple[str, Where]:
    path = str(tmp_path / "damaged.db")
    shutil.copyfile(good_db, path)
    conn = sqlite3.connect(path)
    try:
        where = DAMAGES[damage_name](conn)
        conn.commit()
    finally:
        conn.close()
    return path, where


def test_undamaged_database_passes_every_rule(good_db):
    assert verify(good_db) == []


def test_every_rule_has_a_damage():
    assert sorted({rule_of(name) for name in DAMAGES}) == sorted(RULES)


def test_readme_lists_every_rule():
    import os
    import re
    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"),
                  encoding="utf-8").read()
    section = readme.split("## What verify checks", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M) == list(RULES)


def test_every_rule_says_what_and_why():
    for rule in RULES.values():
        assert len(rule.doc.split("\n\n")) >= 2, f"{rule.name}: docstring needs what and why"


@pytest.mark.parametrize("damage_name", sorted(DAMAGES))
def test_damage_fires_exactly_its_rule(good_db, tmp_path, damage_name):
    path, (table, ts) = damaged_copy(good_db, tmp_path, damage_name)
    violations = verify(path)
    assert {v.rule_name for v in violations} == {rule_of(damage_name)}, [v.format(MSK) for v in violations]
    assert any(v.table == table and v.timestamp == ts for v in violations), [v.format(MSK) for v in violations]


# ---- the moment register while its profile slot is still running --------------------------
def test_moment_in_the_running_slot_is_not_a_false_positive(tmp_path, seed_clock):
    """The reported case: on one meter, ElDayEnergy(3), ElArr1ConsPower(96), ElMomentEnergy(3)
    through the seed API at 19:57 -- the moments of 19:45-19:55 fall in the slot 19:30-20:00,
    which the profile does not hold yet."""
    now = int(dt.datetime(2026, 11, 22, 19, 57, tzinfo=MSK).timestamp())
    seed_clock(now)
    path = str(tmp_path / "meter.db")
    GenerateMeterData.configure(LocalTarget(path))
    meter = GenerateMeterData.MeterTable().get("MeterTable")
    config = GenerateMeterData.ElConfig(MeterTable=meter).get("ElConfig")
    GenerateMeterData.ElDayEnergy(MeterTable=meter, ElConfig=config, Count_timestamp=3)
    GenerateMeterData.ElArr1ConsPower(MeterTable=meter, ElConfig=config, Count_timestamp=96)
    moments = GenerateMeterData.ElMomentEnergy(MeterTable=meter, ElConfig=config, Count_timestamp=3)
    stamps = [local(r["Timestamp"]).strftime("%H:%M") for r in moments.get("ElMomentEnergy")]
    assert stamps == ["19:45", "19:50", "19:55"]
    assert verify(path) == []


def test_moment_in_the_running_slot_is_still_bounded_below(tmp_path, seed_clock):
    """Skipping what cannot be known is not loosening the rest: a moment in the running slot
    below the day register plus the stored slots still fires."""
    now = int(dt.datetime(2026, 11, 22, 19, 57, tzinfo=MSK).timestamp())
    seed_clock(now)
    path = str(tmp_path / "meter.db")
    GenerateMeterData.configure(LocalTarget(path))
    meter = GenerateMeterData.MeterTable().get("MeterTable")
    config = GenerateMeterData.ElConfig(MeterTable=meter).get("ElConfig")
    GenerateMeterData.ElDayEnergy(MeterTable=meter, ElConfig=config, Count_timestamp=3)
    GenerateMeterData.ElArr1ConsPower(MeterTable=meter, ElConfig=config, Count_timestamp=96)
    GenerateMeterData.ElMomentEnergy(MeterTable=meter, ElConfig=config, Count_timestamp=3)
    conn = sqlite3.connect(path)
    # the 19:45 moment lowered to the day register itself: it ignores the day's stored slots
    conn.execute("UPDATE ElectricEnergyValues SET Ap = (SELECT e.Ap FROM ElectricEnergyValues e JOIN MeterData d "
                 "ON d.Id = e.Id JOIN ArchTypes a ON a.Id = d.RecordTypeId WHERE a.Name = 'ElDayEnergy' AND "
                 "e.Tariff = 0 ORDER BY d.Timestamp DESC LIMIT 1) WHERE Tariff = 0 AND Id = "
                 "(SELECT m.Id FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                 "WHERE a.Name = 'ElMomentEnergy' ORDER BY m.Timestamp LIMIT 1)")
    conn.commit()
    conn.close()
    fired = [v for v in verify(path) if v.rule_name == "moment-register-profile"]
    assert [(local(v.timestamp).strftime("%H:%M"), v.rule) for v in fired] == [
        ("19:45", "A+0 is not the day register plus the profile energy so far")]


# ---- raise_on_violation --------------------------------------------------------------------
def test_raise_on_violation_carries_the_violations(good_db, tmp_path):
    assert verify(good_db, raise_on_violation=True) == []
    path, _ = damaged_copy(good_db, tmp_path, "power-journal-alternates")
    with pytest.raises(VerificationFailed) as info:
        verify(path, raise_on_violation=True)
    assert info.value.path == path
    assert [v.rule_name for v in info.value.violations] == ["power-journal-alternates"]
    assert info.value.exit_code == 1
    assert "1 violation(s)" in str(info.value) and "power journal does not alternate" in str(info.value)


def test_the_joined_energy_pivot_finds_what_the_grouped_one_finds(good_db, tmp_path):
    """verify pivots ElectricEnergyValues by index lookups when (Id, Tariff) is unique
    (meter.db's primary key) and by GROUP BY otherwise (a table without it, as a device's own
    schema may be): on the same rows -- tariffs missing, a tariff no meter has (7), all-NULL
    rows of known and unknown tariffs -- both give the same violations, and some."""
    keyed = tmp_path / "keyed.db"
    shutil.copy(good_db, keyed)
    with sqlite3.connect(keyed) as conn:
        ids = [row[0] for row in conn.execute("SELECT DISTINCT Id FROM ElectricEnergyValues ORDER BY Id LIMIT 40")]
        conn.execute(f"DELETE FROM ElectricEnergyValues WHERE Id = {ids[0]} AND Tariff = 2")
        conn.execute(f"UPDATE ElectricEnergyValues SET Ap = NULL, Am = NULL, Rp = NULL, Rm = NULL "
                     f"WHERE Id = {ids[1]} AND Tariff = 1")
        conn.execute(f"INSERT INTO ElectricEnergyValues VALUES ({ids[2]}, 7, 1.5, 0, 0, 0)")
        conn.execute(f"INSERT INTO ElectricEnergyValues VALUES ({ids[3]}, 7, NULL, NULL, NULL, NULL)")
        conn.execute(f"INSERT INTO ElectricEnergyValues VALUES ({ids[4]}, 9, NULL, 2.0, NULL, NULL)")
    grouped = tmp_path / "grouped.db"
    shutil.copy(keyed, grouped)
    with sqlite3.connect(grouped) as conn:   # the same rows, in a table without the key
        conn.execute("ALTER TABLE ElectricEnergyValues RENAME TO old_energy")
        conn.execute("CREATE TABLE ElectricEnergyValues (Id INTEGER, Tariff INTEGER, Ap REAL, Am REAL, Rp REAL, Rm REAL)")
        conn.execute("INSERT INTO ElectricEnergyValues SELECT * FROM old_energy ORDER BY rowid")
        conn.execute("DROP TABLE old_energy")
    found = GenerateMeterData.verify(str(keyed))
    assert found and found == GenerateMeterData.verify(str(grouped))   # dataclasses: every field
    assert {"valid-1-rows", "no-all-null-rows"} <= {v.rule_name for v in found}   # key counts, all-NULL rows
    from GenerateMeterData.verify import ENERGY, _unique_keys
    for path, joined in ((keyed, True), (grouped, False)):   # each took the path it names
        with sqlite3.connect(path) as conn:
            assert _unique_keys(conn, ENERGY) is joined
