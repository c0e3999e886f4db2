"""The device's poll of a line, checked (issue 22 item 3): ``register_line`` writes the MeterTable
rows of an imitated line (type, address, interface, passwords, and the ElectricConfig with the
serial the meter reports) into a target, so the device polls those meters; ``check_poll`` reads
what was stored for them and compares every stored energy value and its stamp with what the
imitated meter served at that stamp -- one ``PollMismatch`` per value that differs.

What "served at that stamp" allows for: a poll reads the clock and the registers a few seconds
apart, so a stored register may lie anywhere between the story's value ``SLACK`` seconds before
and after its stamp, widened by the protocol's resolution (Mercury 200: 0.01 kWh per tariff,
its total the sum of four).  Meters with nothing stored are "not polled yet", counted, not
mismatches.  The check knows the scenario, not the overrides the line was run with: an override
is a planted fault and shows as mismatches.

In the tests the poller standing in for the device is the project's own ``capture PROTOCOL`` of
each meter of the line (``poll_with_capture``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..protocols.obis import DIRECTIONS
from .line import LineMeter, read_meter

#: seconds between a poll's clock read and its register reads that the check allows for
SLACK = 10
#: the resolution (Wh) of a stored register by protocol, where it is not 1 Wh
RESOLUTION = {"mercury200": 50.0, "ce303": 10.0}
#: ElectricEnergyValues columns in obis.DIRECTIONS order (A+, A-, R+, R-)
ENERGY_COLUMNS = ("Ap", "Am", "Rp", "Rm")
INTERFACE = "Iface1"


@dataclass
class PollMismatch:
    """One stored value that is not what the imitated meter served."""

    number: int
    protocol: str
    address: str
    serial: str
    stamp: int
    what: str
    stored: Optional[float]
    expected: Tuple[float, float]

    def line(self) -> str:
        low, high = self.expected
        shown = f"{low:g}" if low == high else f"{low:g}..{high:g}"
        return (f"meter {self.number} ({self.protocol} {self.address}, serial {self.serial}) at {self.stamp}: "
                f"{self.what} stored {self.stored!r}, served {shown}")


@dataclass
class PollResult:
    mismatches: List[PollMismatch]
    checked: int          # values compared
    meters_polled: int
    meters_not_polled: List[int]


def register_line(meters: List[LineMeter], target) -> Dict[int, int]:
    """Write the line's MeterTable and ElectricConfig rows (one load); MeterId by line number."""
    from ..records.rows import RowSet

    made: Dict[int, int] = {}

    def produce(ids, names):
        rows = RowSet()
        for m in meters:
            spec = m.meter.spec
            saved = dict(spec.table), spec.device_idx
            meter_id = ids.meter_id()
            spec.table.update(MeterId=meter_id, Address=m.address, ReadPassword=m.read_password,
                              WritePassword=m.write_password, InterfaceId=INTERFACE, ParentId=0,
                              InterfaceConfig="9600,8N1" if m.protocol != "mbus" else "2400,8E1")
            spec.device_idx = ids.device_idx()
            rows["MeterTable"].append(spec.meter_table_row(names))
            rows["ElectricConfig"].append(spec.config_row())
            made[m.number] = meter_id
            spec.table.clear()
            spec.table.update(saved[0])
            spec.device_idx = saved[1]
        yield rows

    target.load(produce)
    return made


def poll_with_capture(meters: List[LineMeter], port: str, target, timezone: str) -> int:
    """The stand-in for the device's poll: ``capture PROTOCOL`` of every meter of the line into the
    target; the number of meters read."""
    from .capture import capture_rows

    for m in meters:
        capture_rows(read_meter(m, port, timezone), target, timezone)
    return len(meters)


def _stored(target, serial: str) -> List[Tuple[int, int, List[Optional[float]]]]:
    """(stamp, tariff, [Ap, Am, Rp, Rm]) of the ElMomentEnergy rows stored for a serial."""
    rows = target.fetch(
        f"SELECT d.Timestamp, e.Tariff, {', '.join('e.' + c for c in ENERGY_COLUMNS)} "
        "FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId JOIN ElectricEnergyValues e ON e.Id = d.Id "
        "WHERE a.Name = 'ElMomentEnergy' AND d.DeviceIdx IN "
        "(SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?) ORDER BY d.Timestamp, e.Tariff", (serial,))
    return [(int(r[0]), int(r[1]), list(r[2:])) for r in rows]


def check_poll(meters: List[LineMeter], target) -> PollResult:
    """Every stored ElMomentEnergy value of the line's meters against the imitated meter's story."""
    mismatches: List[PollMismatch] = []
    checked, polled, not_polled = 0, 0, []
    for m in meters:
        stored = _stored(target, m.serial)
        if not stored:
            not_polled.append(m.number)
            continue
        polled += 1
        resolution = RESOLUTION.get(m.protocol, 1.0)
        measured = m.meter.measured()
        for stamp, tariff, values in stored:
            before, after = m.meter.registers(stamp - SLACK), m.meter.registers(stamp + SLACK)
            for direction, value in zip(DIRECTIONS, values):
                if value is None:
                    continue
                checked += 1
                i = direction.index
                low, high = before[i][tariff] - resolution, after[i][tariff] + resolution
                if not measured[i]:
                    low = high = 0.0
                if not low <= value <= high:
                    mismatches.append(PollMismatch(m.number, m.protocol, m.address, m.serial, stamp,
                                                   f"ElMomentEnergy {direction.tag} tariff {tariff}", value,
                                                   (float(before[i][tariff]), float(after[i][tariff]))))
    return PollResult(mismatches, checked, polled, not_polled)
