"""The device's contract: what a UM-40 SMART does with meter.db, point by point, as data.

Every convention the package writes or checks by lives here once, with its evidence and how
sure it is.  The generator, ``verify``, ``capture``, the imitators and the docs read the values
below; ``docs/reference/device-contract.md`` is generated from ``POINTS``.

The evidence is the public test suites of people who tested real units (TR1GUN's repositories:
the data-API suite ``smart40_tests``, its CE301/303 emulator polled by the device's own daemon,
the RTU-327 suite ``rtu327-autotests``, the stdin JSON client ``um40_smart_framework`` with a
captured real-device answer), read and summarised with file and line in the project's
reference note ``device-contract.md`` (section numbers below are that note's).  Confidence:

- ``run``: an assertion of a suite that ran against real devices and was kept;
- ``emu``: what the device's daemon stored from a meter emulator it polled;
- ``cap``: a captured answer of a real device;
- ``inferred``: follows from the above but no test shows it directly;
- ``choice``: the evidence is silent or weak; this is what the tool chose, and why.

This module imports nothing: every other module may read it.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

RUN, EMU, CAP, INFERRED, CHOICE = "run", "emu", "cap", "inferred", "choice"
CONFIDENCES = (RUN, EMU, CAP, INFERRED, CHOICE)

# ---- values the code reads ------------------------------------------------------------------
#: ElectricConfig.IntervalPowerArrays is the NUMBER of load-profile arrays ("currently always 1"),
#: not the period: the period lives in each profile row's Period (and in the generator's options).
PROFILE_ARRAYS = 1
#: IntervalPowerArrays of a meter without a load profile (the data API stores a null cArrays as 0).
NO_PROFILE_ARRAYS = 0

#: The data API's config tags for the three direction flags go BY POSITION, not by meaning.
#: (The columns' meaning -- Reactive = R+, ActiveReverse = A-, ReactiveReverse = R- -- is what
#: the values are gated on, and is not contradicted; see ``layout.ENERGY_GATES``.)
CONFIG_FLAG_TAGS: Dict[str, str] = {"isAm": "Reactive", "isRm": "ActiveReverse", "isRp": "ReactiveReverse"}

#: The device never writes a value row (a phase of ElectricQualityValues, a tariff of
#: ElectricEnergyValues) whose value cells are all NULL: the row is left out.
OMIT_ALL_NULL_ROWS = True

#: Cells the device stores as a value where the meter gave null: {table: {column: stored value}}.
DEVICE_DEFAULTS: Dict[str, Dict[str, object]] = {
    "ElectricPowerValues": {"Period": 0, "Partial": 0, "Overflow": 0, "Season": 0},
    "ElectricConfig": {"Serial": "", "Model": "", "IntervalPowerArrays": 0, "DST": 0, "Clock": 0,
                       "Tariff": 0, "Reactive": 0, "ActiveReverse": 0, "ReactiveReverse": 0},
    "PulseConfig": {"Serial": "", "Model": ""},
    "DigitalConfig": {"Serial": "", "Model": ""},
    "JournalValues": {"Event": 0},
}
#: DigitalValues channels 1..Channels: a null channel is stored as 0.
DIGITAL_NULL_CHANNEL = 0

#: ElJrnlTimeCorr: the Event a clock correction is logged with.  RTU-327 maps 0 -> evType 2 and
#: 1 -> 3 (time before / after the correction); the one meter whose journal the device's daemon
#: read (a CE303, through meterdev) gives 0.  The tool logs each correction once, Event 0.
TIME_CORRECTION_EVENT = 0
#: Event values a device may store in ElJrnlTimeCorr (both map to an RTU-327 evType).
TIME_CORRECTION_EVENTS = (0, 1)

#: Moment records (ElMoment*) and config rows are stamped when the device polled the meter, by the
#: meter's clock: a poll cycle of ``moment_step_minutes`` in which each meter has its own place
#: (a fixed offset up to POLL_OFFSET_MAX_S after the cycle starts) plus a per-poll jitter of up to
#: POLL_JITTER_S seconds -- never on a round grid, never before the period they report.
POLL_OFFSET_MAX_S = 120
POLL_JITTER_S = 15

#: What GenerateMeterData 0.1 wrote that a device never does: verify names it as one rule.
LEGACY_CONVENTION = ("GenerateMeterData 0.1 convention: ElectricConfig.IntervalPowerArrays holds the "
                     "profile period (e.g. 30) and single-phase quality records carry all-NULL rows B and C")


# ---- the points, with their evidence --------------------------------------------------------
class Point(NamedTuple):
    """One point of the device contract."""

    key: str          # short id, used by tests and docs
    point: str        # what the device does
    tool: str         # what GenerateMeterData does about it (writes, checks)
    evidence: str     # where it is shown (device-contract.md section; repository and file)
    confidence: str   # one of CONFIDENCES


_SUITE = "smart40_tests (data-API suite)"
_EMU = "smart40_tests Emulator/Simulator_meter.py (CE303 emulator the device's daemon polled)"
_RTU = "rtu327-autotests Service/Service_function.py (RTU-327 suite, run state 71cd1a3)"
_CAP = "um40_smart_framework Setup.py (captured answer of a real SPODES_MILUR meter)"

POINTS: Tuple[Point, ...] = (
    Point("interval-power-arrays",
          "ElectricConfig.IntervalPowerArrays (tag cArrays) is the number of load-profile arrays, 1; "
          "the profile period is the Period of each profile row (meterdev's cTime is not stored)",
          f"writes {PROFILE_ARRAYS} for a meter with a profile, {NO_PROFILE_ARRAYS} without; the period only in "
          "Period; verify's config-profile-arrays flags any other value, legacy-convention a config "
          "holding the period",
          f"§1.4: meterdev contract 'cArrays ... always 1' beside cTime; daemon test keeps cArrays, drops cTime "
          f"({_EMU}); real meter reported cArrays 1 ({_CAP}); RTU GETSHPRM Interv from Period ({_RTU})",
          EMU),
    Point("config-flag-tags",
          "Config tags map to columns by position: isAm = Reactive, isRm = ActiveReverse, isRp = ReactiveReverse",
          "the seed API's Config_tag and .get('ElConfig'), the plugin and capture use these tags; the values "
          "stay gated by the columns' meaning (Reactive = R+, ActiveReverse = A-, ReactiveReverse = R-)",
          f"§2: tag aliases in the suite's config SELECT since its first commit, tested with three independent "
          f"random flags ({_SUITE} Template_SQL_request.py 185-203)",
          RUN),
    Point("no-all-null-rows",
          "A phase row (ElectricQualityValues) or tariff row (ElectricEnergyValues) whose values are all NULL "
          "is never written",
          "a single-phase meter's quality records have rows A and Summ only; a meter without a tariff unit has "
          "tariff 0 only; verify's no-all-null-rows flags such a row",
          f"§1.5, §1.6: the POST check fails if a row of all-null tags appears ({_SUITE} "
          "Template_checkup_from_Meter_db_data_API.py 597-668); single-phase meters are not tested",
          INFERRED),
    Point("device-defaults",
          "Nulls the device stores as values: profile Period/Partial/Overflow/Season 0, config flags and "
          "IntervalPowerArrays 0, Serial/Model '', journal Event 0, digital channels 0",
          "writes those values, never NULL; verify's device-defaults flags a NULL there",
          f"§1.4, §1.7, §1.10, §1.11 ({_SUITE} Template_checkup_from_Meter_db_data_API.py 225)",
          RUN),
    Point("time-correction-event",
          "ElJrnlTimeCorr Event is 0 or 1 (RTU-327 evType 2 'time before', 3 'time after'); a CE303 logs 0",
          f"logs each clock correction once with Event {TIME_CORRECTION_EVENT}; verify accepts 0 and 1",
          f"§1.7: CE303 meterdev test expects 0 ({_SUITE} Template_generator_field_tags.py 99); RTU evType map "
          f"0->2, 1->3 ({_RTU} line 1321). Pairs (0 then 1) are an inference nobody shows",
          CHOICE),
    Point("moment-stamps",
          "Moment records (ElMoment*) and configs are stamped at the poll time by the meter's clock, "
          "with seconds; no 5-minute grid",
          f"a poll cycle of moment_step_minutes, each meter at its own offset (<= {POLL_OFFSET_MAX_S} s) plus "
          f"a jitter (<= {POLL_JITTER_S} s); values are those at that second",
          f"§1.3: captured ElConfig ts 1635752804 ({_CAP}); only the old generator used a grid",
          CAP),
    Point("units",
          "Energy in Wh (varh), powers in W/var/VA, U V, I A, F Hz, angles in degrees",
          "writes and checks these units",
          f"§1.2: emulator serves DB/1000 kWh/kW ({_EMU}); RTU GETPOK/GETTESTS decode DB/1000 ({_RTU})",
          RUN),
    Point("profile-unit",
          "Profile Pp/Pm/Qp/Qm are the average power in W over the slot",
          "slot energy = W x Period / 60; verify compares it with the day's consumption",
          f"§1.2: emulator GRAPE (kW) = DB/1000; RTU GETLP sends DB x Period/60/1000 kWh ({_RTU} 477-501)",
          RUN),
    Point("profile-stamp",
          "A profile slot is stamped at its end",
          "stamps slots at period boundaries from local midnight, at the slot's end",
          f"§1.3: GETLP TLast = newest Timestamp 'end of the last interval' ({_RTU} 713)",
          INFERRED),
    Point("calendar-stamps",
          "Day and month registers are stamped at the local midnight that starts the day (the 1st); "
          "ElDayConsEnergy/ElMonthConsEnergy at the start of the day/month they cover",
          "writes and checks these stamps in the target's time zone",
          f"§1.3: ENDPE(D-1) at D 00:00, EADPE(D) at D 00:00 ({_EMU} 837-945)",
          EMU),
    Point("epoch-seconds",
          "Timestamp is Unix epoch seconds; served unchanged by the data API and RTU-327",
          "writes epoch seconds",
          f"§1.3: GETTIME vs date +%s; ts compared with MeterData.Timestamp for equality ({_RTU}; {_SUITE})",
          RUN),
    Point("tariff-rows",
          "ElectricEnergyValues holds one row per tariff, Tariff 0 (sum) to 4",
          "writes tariff 0-4 (tariff 0 alone without a tariff unit); verify checks the sum",
          f"§1.5 ({_SUITE} Template_SQL_request.py 13-80)",
          RUN),
    Point("quality-rows",
          "ElectricQualityValues: rows A, B, C, Summ; U, I, Angle NULL on Summ, F only on Summ; "
          "row A Angle = AngAB, B = AngBC, C = AngAC",
          "writes and checks this layout (schema/layout.py)",
          f"§1.6 ({_SUITE} phase views)",
          RUN),
    Point("journal-values",
          "JournalValues(Event, EventId): EventId is the record's index in the meter's journal; Event the "
          "on/off or enter/leave state; Reset/Open/UnAyth/TrfCorr 0",
          "numbers events per journal and meter; Event per the journal's kind in schema/measures.py",
          f"§1.7 ({_EMU}; {_SUITE})",
          EMU),
    Point("retention",
          "ArchInfo.Records is the depth the device keeps; it trims older records on write, configs included",
          "raises ArchInfo.Records to hold a load (and restores it on clear)",
          f"§1.8 ({_SUITE} Meter_data_base.py 139-233)",
          RUN),
    Point("names-not-ids",
          "ArchTypes, MeterTypes, MeterIfaces ids are looked up by name",
          "resolves every id by name from the target",
          "§1.9, §4 (every tool of the suites)",
          RUN),
    Point("cascades",
          "Deleting a MeterTable row with foreign keys on removes its data",
          "the shipped DDL has ON DELETE CASCADE",
          f"§1.12 ({_SUITE} sqlite.py 198-200)",
          INFERRED),
    Point("unique-record",
          "(DeviceIdx, RecordTypeId, Timestamp) identifies a record",
          "never writes two headers with the same triple; verify's unique-record",
          "§1.1, §4 (every tool selects by the triple); no DDL is public",
          CHOICE),
    Point("valid-flag",
          "A record with values has Valid = 1; Valid = 0 headers carry no values",
          "writes Valid = 0 headers without rows for readings not taken (outages)",
          f"§1.11 ({_SUITE})",
          RUN),
    Point("diff-not-stored",
          "The meter-minus-concentrator clock difference (diff) travels in the APIs but is not stored",
          "nothing to write",
          "§1.3, §2 (both suites drop it)",
          RUN),
    Point("rtu327-serial",
          "RTU-327 addresses a meter by its ElectricConfig.Serial as 10 BCD digits",
          "writes the type's real serial length (15 digits for CE303, MILUR); how the device addresses a "
          "longer serial over RTU-327 is unknown",
          f"§3: NSH = BCD5 of Serial ({_RTU} 264); real serials of 15 digits ({_EMU}; {_CAP})",
          INFERRED),
)

POINT: Dict[str, Point] = {p.key: p for p in POINTS}
