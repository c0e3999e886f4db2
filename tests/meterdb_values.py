"""Every value a meter.db holds, as check Values, read with plain SQL written here -- not with the
package's layout -- so that a test of the data-API check has an expectation of its own.

The tag names and columns follow the device's testers' SQL, read by hand
(TR1GUN/smart40_tests @ e3c7fea, working_directory/Template/Template_Meter_db_data_API/
Template_SQL_request.py, lines 13-80 and 185-203: ``Reactive AS isAm, ActiveReverse AS isRm,
ReactiveReverse AS isRp`` ...; Template_list_ArchTypes.py, lines 36-63, for the tag lists)."""
from __future__ import annotations

import sqlite3
from typing import Dict, List

from GenerateMeterData.device.checking import Value

# ElectricConfig as the testers' SELECT aliases it (Template_SQL_request.py, lines 185-203).
ELCONFIG = {"serial": "Serial", "model": "Model", "cArrays": "IntervalPowerArrays", "isDst": "DST",
            "isClock": "Clock", "isTrf": "Tariff", "isAm": "Reactive", "isRm": "ActiveReverse",
            "isRp": "ReactiveReverse", "kI": "CurrentCoeff", "kU": "VoltageCoeff", "const": "MeterConst"}
# One query per tariff: SELECT Am AS 'A-0', Ap AS 'A+0', Rm AS 'R-0', Rp AS 'R+0' ... Tariff == 0.
ENERGY = {"A+": "Ap", "A-": "Am", "R+": "Rp", "R-": "Rm"}
# The phase views (Phase_A ... Phase_Summ) and their tags.
QUALITY = {"A": {"UA": "U", "IA": "I", "PA": "P", "QA": "Q", "SA": "S", "kPA": "KP", "AngAB": "Angle"},
           "B": {"UB": "U", "IB": "I", "PB": "P", "QB": "Q", "SB": "S", "kPB": "KP", "AngBC": "Angle"},
           "C": {"UC": "U", "IC": "I", "PC": "P", "QC": "Q", "SC": "S", "kPC": "KP", "AngAC": "Angle"},
           "Summ": {"PS": "P", "QS": "Q", "SS": "S", "kPS": "KP", "Freq": "F"}}
POWER = {"cTime": "Period", "P+": "Pp", "P-": "Pm", "Q+": "Qp", "Q-": "Qm", "isPart": "Partial",
         "isOvfl": "Overflow", "isSummer": "Season"}
JOURNAL = {"event": "Event", "eventId": "EventId"}
# Pulse and digital modules (Template_list_ArchTypes.py lines 40-43 and 54-61): the configs' tags,
# counters Pls1..32 in PulseValues.Chnl1..32, input states Chnl1..32 in DigitalValues.
CONFIGS = {"PlsConfig": ("PulseConfig", {"serial": "Serial", "model": "Model", "chnl": "Channels", "isDst": "DST"}),
           "DigConfig": ("DigitalConfig", {"serial": "Serial", "model": "Model", "chnlIn": "ChannelsIn",
                                           "chnlOut": "ChannelsOut", "isDst": "DST"})}
CHANNELS = [f"Chnl{i}" for i in range(1, 33)]


def read_values(path: str) -> List[Value]:
    """Every cell of every record and ElConfig row of ``path`` as a Value."""
    conn = sqlite3.connect(path)
    try:
        meters = {idx: meter for idx, meter in conn.execute("SELECT DeviceIdx, MeterId FROM MeterTable")}
        serials: Dict[int, str] = {}
        out: List[Value] = []
        for row in conn.execute(f"SELECT DeviceIdx, Timestamp, {', '.join(ELCONFIG.values())} FROM ElectricConfig "
                                "ORDER BY DeviceIdx, Timestamp"):
            idx, ts, cells = row[0], row[1], row[2:]
            serials[idx] = cells[0]
            out += [Value(idx, meters[idx], cells[0], "ElConfig", ts, tag, cell)
                    for tag, cell in zip(ELCONFIG, cells)]
        for measure, (table, tags) in CONFIGS.items():
            for row in conn.execute(f"SELECT DeviceIdx, Timestamp, {', '.join(tags.values())} FROM {table}"):
                idx, ts, cells = row[0], row[1], row[2:]
                serials.setdefault(idx, cells[0])
                out += [Value(idx, meters[idx], cells[0], measure, ts, tag, cell) for tag, cell in zip(tags, cells)]
        records = conn.execute("SELECT m.Id, m.DeviceIdx, m.Timestamp, a.Name FROM MeterData m "
                               "JOIN ArchTypes a ON a.Id = m.RecordTypeId ORDER BY m.Id").fetchall()

        def value(record, tag, cell, period=None):
            _, idx, ts, name = record
            return Value(idx, meters[idx], serials.get(idx, ""), name, ts, tag, cell, period)

        energy: Dict[int, list] = {}
        for row in conn.execute("SELECT Id, Tariff, Ap, Am, Rp, Rm FROM ElectricEnergyValues"):
            energy.setdefault(row[0], []).append(row[1:])
        quality: Dict[int, list] = {}
        for row in conn.execute("SELECT Id, Phase, U, I, P, Q, S, KP, Angle, F FROM ElectricQualityValues"):
            quality.setdefault(row[0], []).append(row[1:])
        power = {row[0]: row[1:] for row in conn.execute(
            f"SELECT Id, {', '.join(POWER.values())} FROM ElectricPowerValues")}
        journal = {row[0]: row[1:] for row in conn.execute("SELECT Id, Event, EventId FROM JournalValues")}
        pulse = {row[0]: row[1:] for row in conn.execute(f"SELECT Id, {', '.join(CHANNELS)} FROM PulseValues")}
        digital = {row[0]: row[1:] for row in conn.execute(f"SELECT Id, {', '.join(CHANNELS)} FROM DigitalValues")}
        for record in records:
            rid = record[0]
            for tariff, *cells in energy.get(rid, ()):
                out += [value(record, f"{q}{tariff}", cell) for q, cell in zip(("A+", "A-", "R+", "R-"), cells)]
            for phase, *cells in quality.get(rid, ()):
                columns = dict(zip(("U", "I", "P", "Q", "S", "KP", "Angle", "F"), cells))
                out += [value(record, tag, columns[column]) for tag, column in QUALITY[phase].items()]
            if rid in power:
                out += [value(record, tag, cell, power[rid][0]) for tag, cell in zip(POWER, power[rid])]
            if rid in journal:
                out += [value(record, tag, cell) for tag, cell in zip(JOURNAL, journal[rid])]
            if rid in pulse:
                out += [value(record, f"Pls{i}", cell) for i, cell in enumerate(pulse[rid], start=1)]
            if rid in digital:
                out += [value(record, f"Chnl{i}", cell) for i, cell in enumerate(digital[rid], start=1)]
        return out
    finally:
        conn.close()
