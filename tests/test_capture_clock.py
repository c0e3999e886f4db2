"""Capture with a fixed clock, exact values: imitated meters on real sockets (IEC readout, Neva
programming mode with its archive, SPODES over HDLC, M-Bus) whose clock stands at one moment and
whose registers and instantaneous values are set by hand through the imitators' overrides
(``-o ADDRESS:VALUE``).  What capture writes to meter.db must be those numbers, each in its own
tariff row / phase row and column, stamped at the moments computed by hand below for the meter's
time zone -- a register in the wrong tariff, a value on the wrong phase, or a stamp a slot or a
day off fails."""
from __future__ import annotations

import pytest

from GenerateMeterData import LocalTarget
from GenerateMeterData.model import timegrid
from GenerateMeterData.imitation.capture import capture_rows, mbus_reading, neva_reading, reading_from_data_sets
from GenerateMeterData.imitation.dlms_capture import spodes_reading
from GenerateMeterData.protocols.dlms.client import SpodesClient
from GenerateMeterData.imitation import DLMSImitator
from GenerateMeterData.protocols.iec62056.client import IECClient
from GenerateMeterData.imitation import IECImitator
from GenerateMeterData.protocols.mbus.client import MBusClient
from GenerateMeterData.imitation import MBusSlave
from GenerateMeterData.imitation.meter import GeneratedMeter
from helpers import rows

ZONE = "Asia/Yekaterinburg"  # UTC+5 all year (no daylight saving since 2011)
# The meter's clock: 2026-03-14 13:17:42 local = 08:17:42 UTC.  1970-01-01 .. 2026-01-01 is 56 years
# with 14 leap days (1972 ... 2024) = 20454 days; + 31 (Jan) + 28 (Feb) + 13 = 20526 days to
# 2026-03-14 00:00 UTC = 1773446400; + 8 h 17 min 42 s (29862 s).
NOW = 1773476262
MIDNIGHT_14 = 1773428400    # 2026-03-14 00:00 local = 1773446400 - 5 h
MIDNIGHT_13 = 1773342000    # one day earlier (yesterday)
MIDNIGHT_12 = 1773255600    # two days earlier
MARCH_1 = 1772305200        # 2026-03-01 00:00 local = MIDNIGHT_14 - 13 days

# Energy registers given to the meter, kWh (multiples of 1/8, exact in binary); each total is the sum
# of its tariffs.  Stored in Wh: the rows below, written out by hand (Tariff, Ap, Am, Rp, Rm).
REGISTERS_KWH = {
    "1.8.0": "1000.125", "1.8.1": "100.250", "1.8.2": "200.375", "1.8.3": "300.500", "1.8.4": "399.000",
    "2.8.0": "11.250", "2.8.1": "1.125", "2.8.2": "2.250", "2.8.3": "3.375", "2.8.4": "4.500",
    "3.8.0": "210.000", "3.8.1": "51.000", "3.8.2": "52.000", "3.8.3": "53.000", "3.8.4": "54.000",
    "4.8.0": "1.250", "4.8.1": "0.125", "4.8.2": "0.250", "4.8.3": "0.375", "4.8.4": "0.500",
}
ENERGY_ROWS = [
    (0, 1000125.0, 11250.0, 210000.0, 1250.0),
    (1, 100250.0, 1125.0, 51000.0, 125.0),
    (2, 200375.0, 2250.0, 52000.0, 250.0),
    (3, 300500.0, 3375.0, 53000.0, 375.0),
    (4, 399000.0, 4500.0, 54000.0, 500.0),
]
# Instantaneous values given to the meter by OBIS C.D.E (IEC 62056-61), and the ElectricQualityValues
# rows they must make (Phase, U, I, P, Q, S, KP, Angle, F).
QUALITY_GIVEN = {
    "32.7.0": "231.5", "52.7.0": "232.25", "72.7.0": "233.75",                      # U L1 L2 L3
    "31.7.0": "7.25", "51.7.0": "8.5", "71.7.0": "9.75",                           # I
    "21.7.0": "1601.5", "41.7.0": "1702.25", "61.7.0": "1803.75", "1.7.0": "5107.5",   # P, sum
    "23.7.0": "401.5", "43.7.0": "402.25", "63.7.0": "403.75", "3.7.0": "1207.5",      # Q
    "29.7.0": "1651.25", "49.7.0": "1749.5", "69.7.0": "1848.75", "9.7.0": "5249.5",   # S
    "33.7.0": "0.9375", "53.7.0": "0.875", "73.7.0": "0.8125", "13.7.0": "0.75",       # power factor
    "81.7.10": "120.25", "81.7.21": "119.75", "81.7.20": "240.5",                   # angles U1-U2, U2-U3, U1-U3
    "14.7.0": "49.75",                                                              # frequency
}
QUALITY_ROWS = [
    ("A", 231.5, 7.25, 1601.5, 401.5, 1651.25, 0.9375, 120.25, None),
    ("B", 232.25, 8.5, 1702.25, 402.25, 1749.5, 0.875, 119.75, None),
    ("C", 233.75, 9.75, 1803.75, 403.75, 1848.75, 0.8125, 240.5, None),
    ("Summ", None, None, 5107.5, 1207.5, 5249.5, 0.75, None, 49.75),
]


def fixed_meter() -> GeneratedMeter:
    """A three-phase meter with export, reactive energy and tariffs, its clock standing at NOW."""
    return GeneratedMeter("SE303", clock=lambda: NOW, timezone=ZONE)


def stamps(db: str, measure: str) -> list:
    return [ts for (ts,) in rows(db, "SELECT m.Timestamp FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                                     "WHERE a.Name = ? ORDER BY m.Timestamp", (measure,))]


def energy_rows(db: str, measure: str, ts: int) -> list:
    return rows(db, "SELECT e.Tariff, e.Ap, e.Am, e.Rp, e.Rm FROM ElectricEnergyValues e "
                    "JOIN MeterData m ON m.Id = e.Id JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                    "WHERE a.Name = ? AND m.Timestamp = ? ORDER BY e.Tariff", (measure, ts))


def quality_rows(db: str) -> list:
    return rows(db, "SELECT Phase, U, I, P, Q, S, KP, Angle, F FROM ElectricQualityValues ORDER BY Phase")


def power_by_stamp(db: str) -> dict:
    return dict(rows(db, "SELECT m.Timestamp, p.Pp FROM ElectricPowerValues p JOIN MeterData m ON m.Id = p.Id"))


@pytest.fixture
def iec_meter():
    # the archive of the last two days, by hand: day-start registers (kWh: total, T1..T4) and 48
    # half-hour powers (W) that differ in every slot and between the days
    archive = {"0F.80.80*01": "20.000,5.000,5.000,5.000,5.000", "0F.80.80*02": "10.000,2.500,2.500,2.500,2.500",
               "63.01.00*01": ",".join(str(1000 + slot) for slot in range(48)),
               "63.01.00*02": ",".join(str(2000 + slot) for slot in range(48)),
               # today: a value in every slot, so the test sees that only those completed by NOW are read
               "0F.80.80*00": "30.000,7.500,7.500,7.500,7.500",
               "63.01.00*00": ",".join(str(3000 + slot) for slot in range(48))}
    imitator = IECImitator(meter=fixed_meter(), overrides={**REGISTERS_KWH, **QUALITY_GIVEN, **archive},
                           reaction_ms=20)
    host, port = imitator.start_tcp()
    yield f"socket://{host}:{port}"
    imitator.stop()


def test_iec_readout_capture_at_a_fixed_clock(iec_meter, db_path):
    with IECClient(iec_meter, baud_switch_delay=0) as client:
        readout = client.readout()
    reading = reading_from_data_sets(readout.data_sets, readout.identification.manufacturer,
                                     readout.identification.identification, clock=lambda: NOW)
    capture_rows(reading, LocalTarget(db_path), ZONE)
    assert stamps(db_path, "ElMomentEnergy") == [NOW] and stamps(db_path, "ElMomentQuality") == [NOW]
    assert rows(db_path, "SELECT Timestamp FROM ElectricConfig") == [(NOW,)]
    assert energy_rows(db_path, "ElMomentEnergy", NOW) == ENERGY_ROWS
    assert quality_rows(db_path) == QUALITY_ROWS


def test_neva_capture_at_a_fixed_clock_stamps_by_the_meters_clock_and_zone(iec_meter, db_path):
    with IECClient(iec_meter, baud_switch_delay=0, initial_baud=9600) as client:
        with client.programming("00000000") as session:
            reading = neva_reading(session, timegrid.zone(ZONE), days=2)
    capture_rows(reading, LocalTarget(db_path), ZONE)
    assert stamps(db_path, "ElMomentEnergy") == [NOW] and stamps(db_path, "ElMomentQuality") == [NOW]
    assert energy_rows(db_path, "ElMomentEnergy", NOW) == ENERGY_ROWS
    assert quality_rows(db_path) == QUALITY_ROWS
    # --days 2: two past days and today so far (issue 19): day-start registers at today's, yesterday's
    # and the day before's local midnight
    assert stamps(db_path, "ElDayEnergy") == [MIDNIGHT_12, MIDNIGHT_13, MIDNIGHT_14]
    assert energy_rows(db_path, "ElDayEnergy", MIDNIGHT_14) == [
        (0, 30000.0, None, None, None), (1, 7500.0, None, None, None), (2, 7500.0, None, None, None),
        (3, 7500.0, None, None, None), (4, 7500.0, None, None, None)]
    assert energy_rows(db_path, "ElDayEnergy", MIDNIGHT_13) == [
        (0, 20000.0, None, None, None), (1, 5000.0, None, None, None), (2, 5000.0, None, None, None),
        (3, 5000.0, None, None, None), (4, 5000.0, None, None, None)]
    assert energy_rows(db_path, "ElDayEnergy", MIDNIGHT_12) == [
        (0, 10000.0, None, None, None), (1, 2500.0, None, None, None), (2, 2500.0, None, None, None),
        (3, 2500.0, None, None, None), (4, 2500.0, None, None, None)]
    # slot n (1..48) of a day ends n half hours after its midnight; the last one of yesterday at MIDNIGHT_14
    # today: NOW is 13:17:42, so the 26 slots ending 00:30 ... 13:00 are complete, 13:30 is not
    profile = power_by_stamp(db_path)
    assert len(profile) == 96 + 26
    assert profile[MIDNIGHT_12 + 1800] == 2000.0 and profile[MIDNIGHT_13] == 2047.0
    assert profile[MIDNIGHT_13 + 1800] == 1000.0 and profile[MIDNIGHT_14] == 1047.0
    assert profile == {**{MIDNIGHT_12 + 1800 * n: 2000.0 + n - 1 for n in range(1, 49)},
                       **{MIDNIGHT_13 + 1800 * n: 1000.0 + n - 1 for n in range(1, 49)},
                       **{MIDNIGHT_14 + 1800 * n: 3000.0 + n - 1 for n in range(1, 27)}}


def test_spodes_capture_at_a_fixed_clock(db_path):
    overrides = {f"1.0.{code}.255": str(int(float(kwh) * 1000)) for code, kwh in REGISTERS_KWH.items()}
    overrides.update({f"1.0.{code}.255": value for code, value in QUALITY_GIVEN.items()})
    meter = fixed_meter()
    imitator = DLMSImitator(meter, overrides=overrides)
    host, port = imitator.start_tcp()
    try:
        with SpodesClient(f"socket://{host}:{port}", client=32, serial=meter.serial) as session:
            reading = spodes_reading(session, ZONE, days=2, months=1)
    finally:
        imitator.stop()
    capture_rows(reading, LocalTarget(db_path), ZONE)
    assert stamps(db_path, "ElMomentEnergy") == [NOW] and stamps(db_path, "ElMomentQuality") == [NOW]
    assert energy_rows(db_path, "ElMomentEnergy", NOW) == ENERGY_ROWS
    assert quality_rows(db_path) == QUALITY_ROWS
    # the archives are the imitated meter's own: stamped at the local midnights and slot ends by
    # hand, each holding what the meter's registers and profile say for that very moment
    # --days 2: two past days and today so far (issue 19)
    assert stamps(db_path, "ElDayEnergy") == [MIDNIGHT_12, MIDNIGHT_13, MIDNIGHT_14]
    assert stamps(db_path, "ElMonthEnergy") == [MARCH_1]
    for measure, ts in (("ElDayEnergy", MIDNIGHT_12), ("ElDayEnergy", MIDNIGHT_13), ("ElDayEnergy", MIDNIGHT_14),
                        ("ElMonthEnergy", MARCH_1)):
        a_plus = [float(v) for v in meter.registers(ts)[0]]
        assert energy_rows(db_path, measure, ts) == [(t, a_plus[t], None, None, None) for t in range(5)]
    profile = power_by_stamp(db_path)
    # NOW is 13:17:42: today's 26 slots ending 00:30 ... 13:00 are complete
    assert sorted(profile) == [MIDNIGHT_12 + 1800 * n for n in range(1, 97 + 26)]
    assert [profile[MIDNIGHT_14 + 1800 * n] for n in range(1, 27)] == [float(p) for p in meter.profile(0)[:26]]
    assert [profile[MIDNIGHT_12 + 1800 * n] for n in range(1, 49)] == [float(p) for p in meter.profile(2)]
    assert [profile[MIDNIGHT_13 + 1800 * n] for n in range(1, 49)] == [float(p) for p in meter.profile(1)]


def test_mbus_capture_at_a_fixed_clock(db_path):
    # the slave sends A+ and A- per tariff, and U (0.1 V), I (mA) and P (mW) of each phase
    given = {code: kwh for code, kwh in REGISTERS_KWH.items() if code[0] in "12"}
    given.update({"32.7.0": "231.5", "52.7.0": "232.5", "72.7.0": "233.5", "31.7.0": "7.25", "51.7.0": "8.5",
                  "71.7.0": "9.75", "21.7.0": "1601.5", "41.7.0": "1702.25", "61.7.0": "1803.75"})
    slave = MBusSlave(fixed_meter(), primary_address=5, overrides=given)
    host, port = slave.start_tcp()
    try:
        with MBusClient(f"socket://{host}:{port}", timeout=0.5) as client:
            reading = mbus_reading(client.read_all(5), clock=lambda: NOW)
    finally:
        slave.stop()
    capture_rows(reading, LocalTarget(db_path), ZONE)
    assert stamps(db_path, "ElMomentEnergy") == [NOW] and stamps(db_path, "ElMomentQuality") == [NOW]
    assert energy_rows(db_path, "ElMomentEnergy", NOW) == [
        (0, 1000125.0, 11250.0, None, None), (1, 100250.0, 1125.0, None, None), (2, 200375.0, 2250.0, None, None),
        (3, 300500.0, 3375.0, None, None), (4, 399000.0, 4500.0, None, None)]
    stored = quality_rows(db_path)
    assert [row[0] for row in stored] == ["A", "B", "C"]  # M-Bus gives no totals: no all-NULL Summ row
    # decimal scalers decoded in binary: the given numbers to the last bits
    assert [row[1:4] for row in stored[:3]] == [pytest.approx((231.5, 7.25, 1601.5), rel=1e-12),
                                                pytest.approx((232.5, 8.5, 1702.25), rel=1e-12),
                                                pytest.approx((233.5, 9.75, 1803.75), rel=1e-12)]
    assert [row[4:] for row in stored[:3]] == [(None,) * 5] * 3
