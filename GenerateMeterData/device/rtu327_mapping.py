"""How meter.db becomes RTU-327 values: the device's mapping, as data, shared by the stand-in
server (``rtu327_server``) and the check (``rtu327_check``).

Evidence: TR1GUN/rtu327-autotests at the run state 71cd1a3 (``Service/Service_function.py``,
``Service/Generator_Data.py``), summarised in the device contract note §1.2, §1.7 and §3.
Everything marked **choice** is this tool's, where the evidence is silent.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

from ..protocols.rtu327.commands import NO_VALUE

#: GETPOK serves the Tariff 0 row of an energy record stamped exactly at the time asked.  When two
#: archives have a record at that stamp (a day and a month register at the 1st's midnight) the
#: first of these is served (**choice**).
POK_MEASURES = ("ElDayEnergy", "ElMonthEnergy", "ElMomentEnergy")
POK_TAGS = {"A+": "A+0", "A-": "A-0", "R+": "R+0", "R-": "R-0"}        # channel -> tag of meter.db

#: GETAUTOREAD serves tariffs 1-4 of the day and month registers (the tests take either, at random),
#: the two archives merged by time; at a stamp both have, the day record (**choice**).
AUTOREAD_MEASURES = ("ElDayEnergy", "ElMonthEnergy")
AUTOREAD_TARIFFS = (1, 2, 3, 4)

#: GETLP channels -> ElectricPowerValues tags (average W over the slot in meter.db)
LP_TAGS = {"P+": "P+", "P-": "P-", "Q+": "Q+", "Q-": "Q-"}
PROFILE_MEASURE = "ElArr1ConsPower"

#: GETTESTS fields -> (ElMomentQuality tag, divisor): W/VA are sent in kW/kVA
#: (Generator_Data.py ``_generate_data_for_GETTESTS``: Wa = PA ... PHangB = AngAB, PhangC = AngAC)
TESTS_TAGS: Dict[str, Tuple[str, float]] = {
    "Wa": ("PA", 1000.0), "Wb": ("PB", 1000.0), "Wc": ("PC", 1000.0),
    "VAa": ("SA", 1000.0), "VAb": ("SB", 1000.0), "VAc": ("SC", 1000.0),
    "FREQ": ("Freq", 1.0), "Ia": ("IA", 1.0), "Ib": ("IB", 1.0), "Ic": ("IC", 1.0),
    "Ua": ("UA", 1.0), "Ub": ("UB", 1.0), "Uc": ("UC", 1.0),
    "PHangB": ("AngAB", 1.0), "PhangC": ("AngAC", 1.0)}
TESTS_MEASURE = "ElMomentQuality"
TESTS_ELEMENTS = 2   # Elm as the tested device sent it

#: GETMTRLOG evType of each (journal, Event) (Service_function.py line 1321, the run state)
EVENT_TYPES: Dict[str, Dict[int, int]] = {
    "ElJrnlPwr": {1: 1, 0: 0},
    "ElJrnlTimeCorr": {0: 2, 1: 3},
    "ElJrnlReset": {0: 6},
    "ElJrnlOpen": {0: 9},
    "ElJrnlPwrA": {1: 208, 0: 209},
    "ElJrnlPwrB": {1: 210, 0: 211},
    "ElJrnlPwrC": {1: 212, 0: 213},
}
EVENT_OF_TYPE: Dict[int, Tuple[str, int]] = {code: (journal, event) for journal, events in EVENT_TYPES.items()
                                             for event, code in events.items()}
JOURNAL_TAG = "event"

#: GETSHPRM Typ_Sh by MeterTypes.Type.  The testers' USPD -> RTU table (Constant_Value_Bank.py)
#: names Mercury23x 15, Mercury200 17, SETxTM 7, SE303 13, PSCHxTM 6, A1140 11, every other type
#: 100 (NO_TYPE) -- but the run state expects 100 for an SE303 (form_data_to_GETSHPRM), so SE303
#: is 100 here: the device's answer wins over the table.
RTU_NO_TYPE = 100
RTU_METER_TYPES: Dict[str, int] = {"Mercury23x": 15, "Mercury200": 17, "SETxTM": 7, "SE303": RTU_NO_TYPE,
                                   "PSCHxTM": 6, "A1140": 11}
SHPRM_VERSION = 1
#: GETSHPRM Kt, Kn, M <- ElectricConfig tags; Syb_Rnk, N_Ob, N_Fid <- MeterTable columns
SHPRM_CONFIG_TAGS = {"Kt": "kI", "Kn": "kU", "M": "const"}
SHPRM_METER_TAGS = {"Syb_Rnk": "RTUObjType", "N_Ob": "RTUObjNum", "N_Fid": "RTUFeederNum"}
CONFIG_MEASURE = "ElConfig"
METER_MEASURE = "MeterTable"
#: cTime of each profile slot is compared with GETSHPRM Interv, the one period the device reports
PERIOD_TAG = "cTime"
#: GETLP Stat bits of the slot flags (bit 1 is the evidence's "passed through zero"; isPart on
#: bit 2 is a **choice**)
LP_FLAG_BITS = {"isOvfl": 0x02, "isPart": 0x04}

#: The testers compare floats with math.isclose(rel_tol=5.96e-08) (assert_answer_data): FLOAT8
#: values divided by 1000 on the device may have gone through a single-precision step.
REL_TOLERANCE = 5.96e-08
ABS_TOLERANCE = 1e-9


def rtu_type(meter_type: Optional[str]) -> int:
    """Typ_Sh of a MeterTypes.Type."""
    return RTU_METER_TYPES.get(meter_type or "", RTU_NO_TYPE)


def kwh(wh: Optional[float]) -> float:
    """A register in Wh -> the FLOAT8 kWh sent (NULL -> -1.0, the device's "no value")."""
    return NO_VALUE if wh is None else wh / 1000.0


def scaled(value: Optional[float], divisor: float) -> float:
    """A value divided for the wire (NULL -> -1.0)."""
    return NO_VALUE if value is None else value / divisor


def slot_kwh(watts: Optional[float], period_minutes: Optional[int]) -> float:
    """A profile slot's average W -> the kWh of the slot: W x Period / 60 / 1000 (NULL -> -1.0)."""
    if watts is None or not period_minutes:
        return NO_VALUE
    return watts * period_minutes / 60.0 / 1000.0


def same(expected_wire: float, served: float) -> bool:
    """Whether a served FLOAT8 equals the expected one within the device's rounding."""
    if expected_wire == NO_VALUE or served == NO_VALUE:
        return expected_wire == served
    if math.isnan(served):
        return False
    return math.isclose(expected_wire, served, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)
