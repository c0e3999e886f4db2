"""The device's poll of a line, checked (issue 22 item 3): ``register_line`` writes the MeterTable
rows of an imitated line (type, address, interface, passwords, and the ElectricConfig with the
serial the meter reports) into a target, so the device polls those meters; ``check_poll`` reads
everything stored for them and compares every stored value and stamp with what the imitated
meter served at that stamp -- one ``PollMismatch`` per value that differs.

What is checked, one ``Rule`` per measure (``RULES``; the tolerances are the tables below, each
derived from the protocol's wire resolution):

* ``ElMomentEnergy``: every register against the story's registers ``SLACK`` seconds before and
  after its stamp (a poll reads the clock and the registers seconds apart), widened by half the
  wire's step (``ENERGY_STEP``) -- the sum of the halves for a total the poller sums from tariff
  registers (Mercury 200);
* ``ElMomentQuality``: a value the meter sends as it measures it against the story's snapshot of
  each minute ``SLACK`` seconds around the stamp (a session holds one measurement from its
  start), within half the wire's step (``quality_steps``); a value the meter derives from what it
  sent (``DERIVED``: Mercury 230's S, cos phi and sums, CE303's P and its sum) against that
  derivation from the stored values, within half its own step;
* ``ElDayEnergy`` / ``ElMonthEnergy``: the stamp must be a local midnight (the 1st, for a month)
  and the registers the story's at that instant, within half the wire's step;
* ``ElArr1ConsPower``: the stamp must end a slot the meter recorded (``OUTAGE_SLOTS``), Period
  the story's slot length, P+ P- Q+ Q- the slot's average powers within half a step of the
  profile (``PROFILE_STEP``), Partial, Overflow and Season as ``PROFILE_FLAGS`` (0: the imitated
  meters flag no slot and serve no season, whose null the device stores as 0);
* journals: each row's stamp and Event one of the story's events of that journal (at the
  record's resolution, ``JOURNAL_STEP``: Mercury 230 the second, CE303 the minute), and its
  EventId that event's number in the journal plus the one offset the journal's stored records
  agree on (``_event_ids``: the count starts where the poller first read the journal);
* ``MeterTable``: the row of each meter (by its ElectricConfig's DeviceIdx) as the line
  registered it (``line_table``: type, address, passwords, interface and its settings, no
  parent): a changed column, or a missing row, is a mismatch -- for a meter not polled yet too
  (a line none of whose meters is stored is not registered yet: no mismatch);
* ``ElectricConfig``: every column the line registered (``register_line``) as the generated
  meter's config says.

"Not polled yet": a meter with nothing but its config stored is not polled yet (counted, not a
mismatch); an archive the poll did not read, or read only partly, is not polled yet where it has
no rows.  Between the oldest and the newest stored row of an archive, though, the poll read the
meter's archive: a slot, midnight, month start or journal event the meter served there and that
is not stored is a mismatch (stored nothing).  A stored stamp the story has nothing at (a slot
that had not ended, a shifted stamp) is one too (served nothing).

The check knows the scenario, not the overrides the line was run with: an override is a planted
fault and shows as mismatches.

In the tests the poller standing in for the device is the project's own ``capture PROTOCOL`` of
each meter of the line (``poll_with_capture``)."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..model import timegrid
from ..protocols.obis import DIRECTIONS, QUALITY_BY_TAG
from ..schema import contract, layout
from ..schema.measures import JOURNAL_NAMES
from .line import LineMeter, capture_arguments

#: seconds between a poll's clock read and its value reads that the check allows for
SLACK = 10
INTERFACE = "Iface1"

# ---- the wire resolutions ------------------------------------------------------------------------
#: the step (Wh) of an energy register on the wire, where it is not 1 Wh, and whether the poller's
#: total is the sum of the tariff registers it read (then its tolerance is the sum of their halves).
#: Mercury 200: 0.01 kWh per tariff register (protocols/mercury/v1.py), the total summed by the
#: capture; CE303: ET0xx/ENDxx/ENMxx as a real meter sends them, 0.01 kWh (energomera codec's
#: fixed decimals).  Mercury 230 (Wh), IEC (.3f kWh), M-Bus (VIF 03h: Wh), DLMS (scaler 0, Wh): 1 Wh.
ENERGY_STEP: Dict[str, Tuple[float, bool]] = {"mercury200": (10.0, True), "ce303": (10.0, False)}
#: the step (W) of a profile's average power as the meter keeps it: whole watts of the generated
#: meter's profile (``GeneratedMeter.profile``: CE303 GRAPE, DLMS 0.1 Wh of interval energy) and
#: one count of Mercury 230's profile (``v2.watts(1, 30)``: 1 W at 30-minute slots).
PROFILE_STEP: Dict[str, float] = {"ce303": 1.0, "dlms": 1.0}
#: a profile record's flags (``layout.POWER`` tags) as the device stores them for an imitated
#: meter's slot: Partial and Overflow 0 (the imitated meters flag no slot), Season the device's
#: value for a flag the meter does not give (``contract.DEVICE_DEFAULTS``: null stored as 0) --
#: Mercury 230's record status byte, CE303's GRAxx (meterdev reports isSummer false,
#: device-contract.md 1.4) and the DLMS profile's columns carry no season
PROFILE_FLAGS: Dict[str, int] = {"isPart": 0, "isOvfl": 0,
                                 "isSummer": int(str(contract.DEVICE_DEFAULTS[layout.POWER.table]["Season"]))}
#: whether the imitated meter records the profile slots it was off in (Mercury 230 leaves them
#: unwritten, all FF; the CE303 and DLMS imitators serve the story's values for them)
OUTAGE_SLOTS: Dict[str, bool] = {"mercury230": False, "ce303": True, "dlms": True}
#: the stamp resolution (s) of a journal record: Mercury 230's event times carry seconds, CE303's
#: records minutes (``d-m-yy-h-m``, device-contract.md 1.7: stored at the minute's start)
JOURNAL_STEP: Dict[str, int] = {"mercury230": 1, "ce303": 60}
#: instantaneous values a protocol's wire carries at a fixed step the protocol modules do not give
#: as data: Mercury 200's 0x63 answer (0.1 V, 0.01 A, whole W, protocols/mercury/v1.py), M-Bus
#: records of the imitated slave (VIFE FD 48h: 0.1 V, FD 59h: 0.001 A, VIF 28h: mW; EN 13757-3).
#: IEC readouts carry the value as written (exact): step 0.
QUALITY_STEP_BY_KIND: Dict[str, Dict[str, float]] = {
    "mercury200": {"U": 0.1, "I": 0.01, "P": 1.0},
    "mbus": {"U": 0.1, "I": 0.001, "P": 0.001},
    "iec": {},
}
#: values a meter derives from the values it sends, as the imitators derive them (a meter's one
#: measurement): tag -> (how, the tags it is derived from).  Mercury 230: S = |P, Q|, cos phi =
#: P / S, the sums the sums of the phases (``mercury.consistent_quality``); CE303: P = U I cos phi
#: and its sum (``energomera.GeneratedCE.instant``).
DERIVED: Dict[str, Dict[str, Tuple[str, Tuple[str, ...]]]] = {
    "mercury230": {**{f"S{x}": ("hypot", (f"P{x}", f"Q{x}")) for x in "ABCS"},
                   **{f"kP{x}": ("ratio", (f"P{x}", f"S{x}")) for x in "ABCS"},
                   "PS": ("sum", ("PA", "PB", "PC")), "QS": ("sum", ("QA", "QB", "QC"))},
    "ce303": {**{f"P{x}": ("product", (f"U{x}", f"I{x}", f"kP{x}")) for x in "ABC"},
              "PS": ("sum", ("PA", "PB", "PC"))},
}
#: protocols whose capture reads archives with ``--days`` (and DLMS months with ``--months``)
ARCHIVE_PROTOCOLS = ("mercury230", "ce303", "dlms")


def _derive(how: str, values: Sequence[float]) -> float:
    if how == "sum":
        return sum(values)
    if how == "hypot":
        return math.hypot(*values)
    if how == "ratio":
        return values[0] / values[1] if values[1] else 1.0
    return math.prod(values)


def quality_steps(protocol: str) -> Dict[str, float]:
    """The wire step of each instantaneous value (tag -> step in V, A, W, var, VA, Hz, degrees)
    a protocol carries; a tag it does not carry has none."""
    if protocol == "mercury230":
        from ..protocols.mercury import v2
        from .mercury import V2_TAGS

        return {tag: v2.BWRI[v2.BWRI_OF[key]].scale for key, tag in V2_TAGS.items()}
    if protocol == "ce303":
        from ..protocols.energomera.codec import COMMANDS

        # a real meter's fixed decimals where the codec has them, else the 6 the imitator writes
        return {tag: command.scale * 10.0 ** -(6 if command.decimals is None else command.decimals)
                for command in COMMANDS.values() if command.kind == "instant" for tag in command.tags}
    if protocol == "dlms":
        from ..protocols.dlms import spodes

        return {register.tag: 10.0 ** register.scaler for register in spodes.QUALITY_REGISTERS}
    by_kind = QUALITY_STEP_BY_KIND[protocol]
    if protocol == "iec":
        return {tag: 0.0 for tag in QUALITY_BY_TAG}
    return {tag: by_kind[q.kind] for tag, q in QUALITY_BY_TAG.items() if q.kind in by_kind}


def _near(step: float, value: float) -> float:
    """Half a step, and a float's rounding of the value."""
    return step / 2 + 1e-9 * max(1.0, abs(value))


# ---- what a check reports ------------------------------------------------------------------------
@dataclass
class PollMismatch:
    """One stored value that is not what the imitated meter served (or one it served and that
    is not stored: ``stored`` None; or one stored where it served nothing: ``expected`` None)."""

    number: int
    protocol: str
    address: str
    serial: str
    stamp: int
    what: str
    stored: Any                                  # a number, a config column's text, or None
    expected: Optional[Tuple[Any, Any]]

    def line(self) -> str:
        where = f"meter {self.number} ({self.protocol} {self.address}, serial {self.serial}) at {self.stamp}"
        if self.stored is None and self.expected is None:
            return f"{where}: {self.what} served, stored nothing"
        if self.expected is None:
            shown = "nothing"
        else:
            low, high = (f"{v:g}" if isinstance(v, float) else repr(v) for v in self.expected)
            shown = low if low == high else f"{low}..{high}"
        stored = "nothing" if self.stored is None else repr(self.stored)
        return f"{where}: {self.what} stored {stored}, served {shown}"


@dataclass
class PollResult:
    mismatches: List[PollMismatch]
    checked: int          # values compared
    meters_polled: int
    meters_not_polled: List[int]


#: what a rule yields: (stamp, what, stored value or None, (low, high) served or None, whether it matches)
Finding = Tuple[int, str, Any, Optional[Tuple[Any, Any]], bool]
#: stored records of a measure: (archive name, stamp) -> {tag: value}
Records = Dict[Tuple[str, int], Dict[str, Optional[float]]]


def _records(target, serial: str, names: Sequence[str], family: layout.Family) -> Records:
    """The stored records of some archives of a serial's meter, their values by tag."""
    key = f"v.{family.key_column}" if family.key_column else "NULL"
    rows = target.fetch(
        f"SELECT a.Name, d.Timestamp, {key}, {', '.join('v.' + c for c in family.value_columns)} "
        f"FROM MeterData d JOIN ArchTypes a ON a.Id = d.RecordTypeId JOIN {family.table} v ON v.Id = d.Id "
        f"WHERE a.Name IN ({', '.join('?' * len(names))}) AND d.DeviceIdx IN "
        "(SELECT DeviceIdx FROM ElectricConfig WHERE Serial = ?) ORDER BY d.Timestamp",
        (*names, serial))
    out: Records = {}
    for name, stamp, row_key, *values in rows:
        record = out.setdefault((str(name), int(stamp)), {})
        for tag, (tag_key, index) in family.tags.items():
            if tag_key == row_key:
                record[tag] = values[index]
    return out


def _compare(stamp: int, what: str, value: Optional[float], low: float, high: float, slack: float) -> Finding:
    ok = value is not None and low - slack <= value <= high + slack
    return stamp, what, value, (float(low), float(high)), ok


# ---- the rules: energy registers -----------------------------------------------------------------
def _energy_slack(protocol: str, tariff: int, tariffed: bool) -> float:
    step, summed = ENERGY_STEP.get(protocol, (1.0, False))
    return step / 2 * (4 if summed and tariff == 0 and tariffed else 1)


def _energy(m: LineMeter, name: str, stamp: int, values: Dict[str, Optional[float]], window: int) -> Iterator[Finding]:
    meter = m.meter
    before, after = meter.registers(stamp - window), meter.registers(stamp + window)
    measured = meter.measured()
    for tag, value in values.items():
        if value is None:
            continue
        direction, tariff = next(d for d in DIRECTIONS if tag.startswith(d.tag)), int(tag[-1])
        i = direction.index
        low, high = (before[i][tariff], after[i][tariff]) if measured[i] else (0, 0)
        yield _compare(stamp, f"{name} {direction.tag} tariff {tariff}", value, low, high,
                       _energy_slack(m.protocol, tariff, meter.tariffed))


def _moment_energy(m: LineMeter, name: str, stamp: int, values) -> Iterator[Finding]:
    return _energy(m, name, stamp, values, SLACK)


def _archive_energy(m: LineMeter, name: str, stamp: int, values) -> Iterator[Finding]:
    if stamp not in _archive_stamps(m, name, stamp, stamp):
        yield stamp, f"{name} stamp (no local {'midnight' if name == 'ElDayEnergy' else 'month start'})", \
            values.get("A+0"), None, False
        return
    yield from _energy(m, name, stamp, values, 0)


def _archive_stamps(m: LineMeter, name: str, first: int, last: int) -> List[int]:
    """The local midnights (ElDayEnergy) or month starts (ElMonthEnergy) from first to last."""
    tz = m.meter.tz
    day = timegrid.local_datetime(first, tz).date()
    out: List[int] = []
    while True:
        midnight = timegrid.local_midnight(day, tz)
        if midnight > last:
            return out
        if midnight >= first and (name == "ElDayEnergy" or day.day == 1):
            out.append(midnight)
        day += dt.timedelta(days=1)


# ---- instantaneous values ------------------------------------------------------------------------
def _quality(m: LineMeter, name: str, stamp: int, values: Dict[str, Optional[float]]) -> Iterator[Finding]:
    steps = quality_steps(m.protocol)
    derived = DERIVED.get(m.protocol, {})
    minutes = range((stamp - SLACK) // 60 * 60, (stamp + SLACK) // 60 * 60 + 1, 60)
    snapshots = [m.meter.quality_at(minute) for minute in minutes]
    for tag, value in values.items():
        if value is None:
            continue
        what = f"{name} {tag}"
        step = steps.get(tag)
        if tag in derived:
            how, inputs = derived[tag]
            given = [v for v in (values.get(t) for t in inputs) if v is not None]
            if len(given) == len(inputs):
                expected = _derive(how, given)
                yield _compare(stamp, what, value, expected, expected, _near(step or 0.0, expected))
                continue
        served = [v for v in (QUALITY_BY_TAG[tag].value_in(s) for s in snapshots) if v is not None]
        if step is None or not served:
            yield stamp, what, value, None, False   # the meter's wire carries no such value
            continue
        yield _compare(stamp, what, value, min(served), max(served), _near(step, max(map(abs, served))))


# ---- the profile ---------------------------------------------------------------------------------
def _profile_step(protocol: str) -> float:
    if protocol == "mercury230":
        from ..protocols.mercury import v2
        from .mercury import V2_PERIOD

        return float(v2.watts(1, V2_PERIOD) or 0.0)
    return PROFILE_STEP.get(protocol, 1.0)


def _slot(m: LineMeter, end: int) -> Optional[List[float]]:
    return m.meter.slot_powers(end, off_too=OUTAGE_SLOTS.get(m.protocol, True))


def _profile(m: LineMeter, name: str, stamp: int, values: Dict[str, Optional[float]]) -> Iterator[Finding]:
    powers = _slot(m, stamp)
    if powers is None:
        yield stamp, f"{name} slot", values.get("P+"), None, False   # no slot the meter recorded ends here
        return
    period = m.meter.story.period_s // 60
    yield _compare(stamp, f"{name} Period", values.get("cTime"), period, period, 0.0)
    for flag, served in PROFILE_FLAGS.items():
        if values.get(flag) is not None:
            yield _compare(stamp, f"{name} {layout.POWER.value_columns[layout.POWER.tags[flag][1]]}",
                           values[flag], served, served, 0.0)
    step = _profile_step(m.protocol)
    for direction, power in zip(("P+", "P-", "Q+", "Q-"), powers):
        value = values.get(direction)
        if value is not None:
            yield _compare(stamp, f"{name} {direction}", value, power, power, _near(step, power))


def _profile_stamps(m: LineMeter, name: str, first: int, last: int) -> List[int]:
    """The ends of the slots the meter recorded from first to last (on its day's grid)."""
    period = m.meter.story.period_s
    midnight = timegrid.local_midnight(timegrid.local_datetime(first, m.meter.tz).date(), m.meter.tz)
    start = midnight + -(-(first - midnight) // period) * period
    return [end for end in range(start, last + 1, period) if _slot(m, end) is not None]


# ---- journals ------------------------------------------------------------------------------------
def _stamped_events(m: LineMeter, name: str) -> Dict[int, List[Tuple[int, int]]]:
    """The story's events of a journal by the stamp the meter records them at (its record's
    resolution, ``JOURNAL_STEP``, floors the time): stamp -> [(number, Event)], the number
    counting the journal's events from the story's first (what the generator writes as EventId)."""
    step = JOURNAL_STEP.get(m.protocol, 1)
    stamped: Dict[int, List[Tuple[int, int]]] = {}
    for number, (t, event) in enumerate(m.meter.story.journal_events(name)):
        stamped.setdefault(t - t % step, []).append((number, event))
    return stamped


def _journal(m: LineMeter, name: str, stamp: int, values: Dict[str, Optional[float]]) -> Iterator[Finding]:
    events = [e for _, e in _stamped_events(m, name).get(stamp, [])]
    event = values.get("event")
    if not events:
        yield stamp, f"{name} record", event, None, False   # the meter served no record then
    else:
        yield stamp, f"{name} Event", event, (float(min(events)), float(max(events))), event in events


def _journal_stamps(m: LineMeter, name: str, first: int, last: int) -> List[int]:
    return sorted(stamp for stamp in _stamped_events(m, name) if first <= stamp <= last)


def _event_ids(m: LineMeter, name: str, records: Records) -> Iterator[Finding]:
    """Each stored record's EventId against the number of the event the meter served at its stamp.

    EventId counts a journal's records as they happen (``verify``: it increases); the count starts
    where the poller first read the journal (a capture into an empty meter.db numbers its first
    record 0), so the stored numbers are the story's numbers plus one offset per journal: the
    offset most of the stored records agree on (on a tie, the oldest record's).  A record whose
    EventId is not its event's number plus that offset is a mismatch; a record the meter served
    nothing at is one already (``_journal``)."""
    stamped = _stamped_events(m, name)
    served = {stamp: [i for i, _ in stamped.get(stamp, [])] for (n, stamp) in records if n == name}
    stored = {stamp: records[(name, stamp)].get("eventId") for stamp in served if served[stamp]}
    votes: Dict[int, int] = {}
    for stamp in sorted(stored):
        event_id = stored[stamp]
        if event_id is not None and float(event_id).is_integer():
            for offset in {int(event_id) - i for i in served[stamp]}:
                votes[offset] = votes.get(offset, 0) + 1
    if not votes:
        offset = 0
    else:
        offset = max(votes, key=lambda o: votes[o])   # the first (oldest) of the most agreed on
    for stamp, event_id in sorted(stored.items()):
        numbers = [i + offset for i in served[stamp]]
        yield stamp, f"{name} EventId", event_id, (min(numbers), max(numbers)), event_id in numbers


@dataclass(frozen=True)
class Rule:
    """How the stored records of some archives are checked: ``values`` yields a finding per
    stored value of a record; ``served`` (archives) gives the stamps the meter served between the
    oldest and the newest stored record, each of which must be stored; ``across`` (journals)
    yields the findings that need all the stored records of one archive."""

    names: Tuple[str, ...]
    family: layout.Family
    values: Callable[[LineMeter, str, int, Dict[str, Optional[float]]], Iterator[Finding]]
    served: Optional[Callable[[LineMeter, str, int, int], List[int]]] = None
    across: Optional[Callable[[LineMeter, str, Records], Iterator[Finding]]] = None


RULES: Tuple[Rule, ...] = (
    Rule(("ElMomentEnergy",), layout.ENERGY, _moment_energy),
    Rule(("ElMomentQuality",), layout.QUALITY, _quality),
    Rule(("ElDayEnergy", "ElMonthEnergy"), layout.ENERGY, _archive_energy, _archive_stamps),
    Rule(("ElArr1ConsPower",), layout.POWER, _profile, _profile_stamps),
    Rule(JOURNAL_NAMES, layout.JOURNAL, _journal, _journal_stamps, _event_ids),
)


def _config(m: LineMeter, target) -> Iterator[Finding]:
    """Every stored ElectricConfig column of the meter (but its DeviceIdx and stamp) as registered."""
    columns = [c for c in layout.TABLE_COLUMNS["ElectricConfig"] if c not in ("DeviceIdx", "Timestamp")]
    expected = dict(zip(layout.TABLE_COLUMNS["ElectricConfig"], m.meter.spec.config_row() or ()))
    for stamp, *values in target.fetch(f"SELECT Timestamp, {', '.join(columns)} FROM ElectricConfig WHERE Serial = ?",
                                       (m.serial,)):
        for column, value in zip(columns, values):
            want = expected.get(column)
            yield int(stamp), f"ElectricConfig {column}", value, (want, want), value == want


def line_table(m: LineMeter) -> Dict[str, Any]:
    """The MeterTable columns ``register_line`` gives a line meter for the device to poll it (TypeId
    and InterfaceId by name; MeterId and DeviceIdx are the target's to number)."""
    return {"TypeId": m.meter.spec.type_name, "ParentId": 0, "Address": m.address,
            "ReadPassword": m.read_password, "WritePassword": m.write_password, "InterfaceId": INTERFACE,
            "InterfaceConfig": "9600,8N1" if m.protocol != "mbus" else "2400,8E1"}


def _meter_table(m: LineMeter, target, line_registered: bool) -> Iterator[Finding]:
    """The meter's MeterTable row (the one its ElectricConfig's DeviceIdx names) against what
    ``register_line`` wrote, stamped at the config's Timestamp: a changed column is a finding of
    that column, a missing row one ``MeterTable row`` finding.  A meter with no config either is
    one whose row was deleted (a cascade takes its config and data) when the rest of the line is
    registered (``register_line`` writes the whole line in one load): stamp 0; else the line is
    not registered yet, and that is no finding."""
    expected = line_table(m)
    shown = {"TypeId": "t.Type", "InterfaceId": "i.Name"}
    rows = target.fetch(
        f"SELECT c.Timestamp, m.DeviceIdx, {', '.join(shown.get(c, 'm.' + c) for c in expected)} "
        "FROM ElectricConfig c LEFT JOIN MeterTable m ON m.DeviceIdx = c.DeviceIdx "
        "LEFT JOIN MeterTypes t ON t.Id = m.TypeId LEFT JOIN MeterIfaces i ON i.Id = m.InterfaceId "
        "WHERE c.Serial = ? ORDER BY c.Timestamp", (m.serial,))
    if not rows and line_registered:
        yield 0, "MeterTable row", None, None, False
    for stamp, device_idx, *values in rows:
        if device_idx is None:
            yield int(stamp), "MeterTable row", None, None, False
            continue
        for (column, want), value in zip(expected.items(), values):
            yield int(stamp), f"MeterTable {column}", value, (want, want), value == want


def _findings(m: LineMeter, target, line_registered: bool) -> Tuple[bool, List[Finding]]:
    """(whether anything but the config is stored, every finding) of one meter."""
    findings: List[Finding] = list(_meter_table(m, target, line_registered)) + list(_config(m, target))
    polled = False
    for rule in RULES:
        records = _records(target, m.serial, rule.names, rule.family)
        polled = polled or bool(records)
        for (name, stamp), values in records.items():
            findings.extend(rule.values(m, name, stamp, values))
        if rule.across is not None:
            for name in sorted({n for n, _ in records}):
                findings.extend(rule.across(m, name, records))
        if rule.served is None:
            continue
        for name in rule.names:
            stamps = sorted(s for n, s in records if n == name)
            if stamps:
                findings.extend((s, f"{name} record", None, None, False)
                                for s in rule.served(m, name, stamps[0], stamps[-1]) if (name, s) not in records)
    return polled, findings


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
            spec.table.update(line_table(m), MeterId=meter_id)
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


def poll_with_capture(meters: List[LineMeter], port: str, target, timezone: str, days: int = 0) -> int:
    """The stand-in for the device's poll: ``capture PROTOCOL`` of every meter of the line into the
    target (with ``days`` past days of the archives, and this month's, for the protocols whose
    capture reads them: ``ARCHIVE_PROTOCOLS``); the number of meters read."""
    from . import registry
    from .capture import capture_rows

    for m in meters:
        args = capture_arguments(m, port, days if m.protocol in ARCHIVE_PROTOCOLS else 0)
        if m.protocol == "dlms" and days:
            args.months = 1
        read = registry.get(m.protocol).part("read")
        capture_rows(read(args, timezone), target, timezone)  # type: ignore[misc]
    return len(meters)


def check_poll(meters: List[LineMeter], target) -> PollResult:
    """Every stored value and stamp of the line's meters against the imitated meter's story."""
    mismatches: List[PollMismatch] = []
    checked, polled, not_polled = 0, 0, []
    serials = [m.serial for m in meters]
    line_registered = bool(serials) and bool(target.fetch(
        f"SELECT 1 FROM ElectricConfig WHERE Serial IN ({', '.join('?' * len(serials))}) LIMIT 1", tuple(serials)))
    for m in meters:
        stored, findings = _findings(m, target, line_registered)
        if not stored:
            not_polled.append(m.number)
            findings = [f for f in findings if not f[4]]   # a changed config counts all the same
        else:
            polled += 1
            checked += len(findings)
        for stamp, what, value, expected, ok in findings:
            if not ok:
                mismatches.append(PollMismatch(m.number, m.protocol, m.address, m.serial, stamp, what,
                                               value, expected))
    return PollResult(mismatches, checked, polled, not_polled)
