"""The one OBIS <-> meter.db table (``protocols/obis.py``) against IEC 62056-61 (OBIS), written out
by hand from the standard, not from the code:

value group C  1 +P (active import, sum of phases)   21 / 41 / 61  +P of L1 / L2 / L3
               3 +Q (reactive import)                23 / 43 / 63  +Q of L1 / L2 / L3
               9 +S (apparent import)                29 / 49 / 69  +S of L1 / L2 / L3
              13 power factor                        33 / 53 / 73  power factor of L1 / L2 / L3
              14 frequency                           31 / 51 / 71  current of L1 / L2 / L3
              81 angles (E = 10 x + y, 0/1/2 = U(L1)/U(L2)/U(L3))  32 / 52 / 72  voltage of L1 / L2 / L3
value group D  7 instantaneous value, 8 time integral 1 (the energy register)
energy C       1 +A (A+), 2 -A (A-), 3 +R (R+), 4 -R (R-); E 0 the total, 1-4 tariffs 1-4

and the meter.db side from ``schema/meterdb.sql``: ElectricQualityValues has one row per Phase
(A, B, C, Summ) with columns U, I, P, Q, S, KP, Angle, F; ElectricEnergyValues one row per Tariff
with columns Ap, Am, Rp, Rm."""
from __future__ import annotations

from GenerateMeterData.protocols import obis
from GenerateMeterData.protocols.dlms import spodes
from GenerateMeterData.schema.layout import QUALITY

# C.D.E -> (quality tag, meter.db row Phase, meter.db column, unit)
STANDARD_INSTANTANEOUS = {
    "32.7.0": ("UA", "A", "U", "V"), "52.7.0": ("UB", "B", "U", "V"), "72.7.0": ("UC", "C", "U", "V"),
    "31.7.0": ("IA", "A", "I", "A"), "51.7.0": ("IB", "B", "I", "A"), "71.7.0": ("IC", "C", "I", "A"),
    "21.7.0": ("PA", "A", "P", "W"), "41.7.0": ("PB", "B", "P", "W"), "61.7.0": ("PC", "C", "P", "W"),
    "1.7.0": ("PS", "Summ", "P", "W"),
    "23.7.0": ("QA", "A", "Q", "var"), "43.7.0": ("QB", "B", "Q", "var"), "63.7.0": ("QC", "C", "Q", "var"),
    "3.7.0": ("QS", "Summ", "Q", "var"),
    "29.7.0": ("SA", "A", "S", "VA"), "49.7.0": ("SB", "B", "S", "VA"), "69.7.0": ("SC", "C", "S", "VA"),
    "9.7.0": ("SS", "Summ", "S", "VA"),
    "33.7.0": ("kPA", "A", "KP", None), "53.7.0": ("kPB", "B", "KP", None), "73.7.0": ("kPC", "C", "KP", None),
    "13.7.0": ("kPS", "Summ", "KP", None),
    "81.7.10": ("AngAB", "A", "Angle", "deg"),   # between U(L1) and U(L2)
    "81.7.21": ("AngBC", "B", "Angle", "deg"),   # between U(L2) and U(L3)
    "81.7.20": ("AngAC", "C", "Angle", "deg"),   # between U(L1) and U(L3)
    "14.7.0": ("Freq", "Summ", "F", "Hz"),
}

# C.D.E -> (energy tag, meter.db column, Tariff, unit)
STANDARD_ENERGY = {
    "1.8.0": ("A+0", "Ap", 0, "Wh"), "1.8.1": ("A+1", "Ap", 1, "Wh"), "1.8.2": ("A+2", "Ap", 2, "Wh"),
    "1.8.3": ("A+3", "Ap", 3, "Wh"), "1.8.4": ("A+4", "Ap", 4, "Wh"),
    "2.8.0": ("A-0", "Am", 0, "Wh"), "2.8.1": ("A-1", "Am", 1, "Wh"), "2.8.2": ("A-2", "Am", 2, "Wh"),
    "2.8.3": ("A-3", "Am", 3, "Wh"), "2.8.4": ("A-4", "Am", 4, "Wh"),
    "3.8.0": ("R+0", "Rp", 0, "varh"), "3.8.1": ("R+1", "Rp", 1, "varh"), "3.8.2": ("R+2", "Rp", 2, "varh"),
    "3.8.3": ("R+3", "Rp", 3, "varh"), "3.8.4": ("R+4", "Rp", 4, "varh"),
    "4.8.0": ("R-0", "Rm", 0, "varh"), "4.8.1": ("R-1", "Rm", 1, "varh"), "4.8.2": ("R-2", "Rm", 2, "varh"),
    "4.8.3": ("R-3", "Rm", 3, "varh"), "4.8.4": ("R-4", "Rm", 4, "varh"),
}


def test_instantaneous_values_are_the_standards_codes_in_their_meter_db_cells():
    table = {q.address: (q.tag, q.phase, QUALITY.value_columns[q.column], q.unit) for q in obis.INSTANTANEOUS}
    assert table == STANDARD_INSTANTANEOUS
    assert {".".join(map(str, code)) for code in obis.QUALITY_BY_CODE} == set(STANDARD_INSTANTANEOUS)
    assert obis.instantaneous("U", "A").address == "32.7.0" and obis.instantaneous("I", "C").address == "71.7.0"


def test_energy_registers_are_the_standards_codes_per_direction_and_tariff():
    table = {r.address: (r.tag, r.direction.column, r.tariff, r.direction.unit) for r in obis.ENERGY_REGISTERS}
    assert table == STANDARD_ENERGY
    assert obis.energy_code("A+", 1) == (1, 8, 1) and obis.energy_code("R-", 0) == (4, 8, 0)
    assert obis.ENERGY_BY_CODE[(2, 8, 3)].tag == "A-3"


def test_spodes_objects_are_the_same_codes_with_a_1_b_0_f_255():
    # SPODES / DLMS logical names: A = 1 (electricity), B = 0 (channel), F = 255
    assert {r.obis: r.tag for r in spodes.QUALITY_REGISTERS} == {
        f"1.0.{address}.255": tag for address, (tag, *_) in STANDARD_INSTANTANEOUS.items()}
    assert {column[0] for column in spodes.BILLING_COLUMNS} == {f"1.0.{address}.255" for address in STANDARD_ENERGY}
    # Blue Book unit enumeration: 30 Wh, 32 varh
    assert {obis_code: unit for obis_code, _, _, unit in spodes.BILLING_COLUMNS}["1.0.3.8.2.255"] == 32
    assert {obis_code: unit for obis_code, _, _, unit in spodes.BILLING_COLUMNS}["1.0.2.8.0.255"] == 30
