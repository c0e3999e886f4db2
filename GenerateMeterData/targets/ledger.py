"""What a load wrote, recorded inside the target database in the same transaction as the rows,
so ``clear`` can remove exactly those rows (and put ArchInfo back) from any machine later.

Ownership is by key, never by id range (ids freed at the top are handed out again -- by the
device, an operator, a VACUUM or this tool's next load -- so a range comes to cover other
writers' rows).  Each load has a ledger entry (``LoadId``, ``Token``, the ArchInfo values it
raised) and rows in the ownership table, keyed by that ``LoadId``:

* ``MeterTable``: a meter the load created, as (DeviceIdx, MeterId) -- it is ours only while
  MeterTable still holds that very pair (MeterId is unique in meter.db).  A meter goes whole:
  every record and config row keyed to it (the device's polls of it too), else they would be
  orphans.
* ``MeterData``: a record the load added to a meter it did not create, as (Id, DeviceIdx,
  RecordTypeId, Timestamp) -- all four must still match.
* a config table's name: a config row the load added to a meter it did not create, as
  (DeviceIdx, Timestamp, Serial) -- by content, as VACUUM renumbers those tables' rowids.

A meter created by a load costs one row here, a record into another meter one row: a seed of
new meters writes a handful.  The SQL is plain enough for an old device-side ``sqlite3`` (no
JSON functions, no RETURNING, no UPSERT, no pragma functions) and is shared by the local writer
and the SSH merge script.  Entries written by the earlier range scheme (ranges filled in, no
ownership rows) are still cleared: their meters by the MeterIds the loads table recorded, and
only when their ranges hold nothing else now (else refused in one line)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple, TypeVar

from ..schema.layout import CONFIG_MEASURE_TABLE, CONFIG_TABLES, VALUE_TABLES
from .sqltext import literal

LEDGER_TABLE = "GenerateMeterDataLedger"

CREATE_LEDGER = (f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} ("
                 "LoadId INTEGER PRIMARY KEY, CreatedAt INTEGER NOT NULL, "
                 "DeviceFirst INTEGER, DeviceLast INTEGER, HeaderFirst INTEGER, HeaderLast INTEGER, "
                 "ConfigRowids TEXT, ArchInfoBefore TEXT, Token TEXT)")


#: Who made each load and with what, for ``loads`` (a table of its own, so ledgers written by
#: earlier versions keep working).
LOADS_TABLE = "GenerateMeterDataLoads"
CREATE_LOADS = (f"CREATE TABLE IF NOT EXISTS {LOADS_TABLE} (Token TEXT NOT NULL, CreatedAt INTEGER, "
                "CreatedBy TEXT, Command TEXT, MeterIds TEXT, Rows INTEGER)")

#: The rows each ledger entry owns, by key (see the module docstring).
OWNED_TABLE = "GenerateMeterDataOwned"
CREATE_OWNED = [
    f"CREATE TABLE IF NOT EXISTS {OWNED_TABLE} (LoadId INTEGER NOT NULL, What TEXT NOT NULL, "
    "DeviceIdx INTEGER NOT NULL, MeterId INTEGER, RecordId INTEGER, RecordTypeId INTEGER, Timestamp INTEGER, "
    "Serial TEXT)",
    f"CREATE INDEX IF NOT EXISTS {OWNED_TABLE}Load ON {OWNED_TABLE} (LoadId)",
    f"CREATE INDEX IF NOT EXISTS {OWNED_TABLE}Device ON {OWNED_TABLE} (DeviceIdx, What)",
]
OWNED_COLUMNS = "LoadId, What, DeviceIdx, MeterId, RecordId, RecordTypeId, Timestamp, Serial"

#: The LoadId of a new entry: above every entry and every ownership row (never one that rows of
#: an entry removed by an older version of this tool still name).
NEXT_LOAD_ID = (f"(SELECT coalesce(max(x), 0) + 1 FROM (SELECT max(LoadId) AS x FROM {LEDGER_TABLE} "
                f"UNION ALL SELECT max(LoadId) FROM {OWNED_TABLE}))")

LEDGER_COLUMNS = "LoadId, DeviceFirst, DeviceLast, HeaderFirst, HeaderLast, ConfigRowids, ArchInfoBefore, Token"


@dataclass(frozen=True)
class LoadInfo:
    """One load in a target's ledger, as ``loads`` lists it."""

    token: str
    created_at: int
    created_by: str
    command: str
    meter_ids: Tuple[int, ...]
    rows: Optional[int]


def who() -> str:
    """user@host of this client, for the ledger."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment: say so rather than fail a load
        user = "?"
    return f"{user}@{socket.gethostname()}"


# ---- writing a load ------------------------------------------------------------------------------
def prepare_load_sql() -> List[str]:
    """Statements a load runs first inside its transaction: the ledger's tables exist, and a
    meter this tool created that is no longer there (an operator removed it) is forgotten -- so
    no later meter that happens to get its DeviceIdx and MeterId passes for it."""
    return [CREATE_LEDGER, CREATE_LOADS] + CREATE_OWNED + [
        f"DELETE FROM {OWNED_TABLE} WHERE What = 'MeterTable' AND NOT EXISTS (SELECT 1 FROM MeterTable t "
        f"WHERE t.DeviceIdx = {OWNED_TABLE}.DeviceIdx AND t.MeterId = {OWNED_TABLE}.MeterId)"]


#: One ownership row (values bound with ``?``): the local writer's executemany.
INSERT_OWNED = f"INSERT INTO {OWNED_TABLE} ({OWNED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
#: A record this load adds to a meter under a key another entry names: that entry's record is
#: gone (the key is unique in MeterData), so its claim is stale -- drop it.
FORGET_RECORD = (f"DELETE FROM {OWNED_TABLE} WHERE What = 'MeterData' AND DeviceIdx = ? AND RecordTypeId = ? "
                 "AND Timestamp = ?")


def owned_from_stage_sql(load_id: str, schema: str, table: str, id_offset: str) -> List[str]:
    """Statements recording what one stage schema adds to meters that existed before the load
    (DeviceIdx > 0 in a stage): records by key, config rows by content."""
    if table == "MeterData":
        return [f"DELETE FROM {OWNED_TABLE} WHERE What = 'MeterData' AND EXISTS (SELECT 1 FROM {schema}.MeterData s "
                f"WHERE s.DeviceIdx > 0 AND s.DeviceIdx = {OWNED_TABLE}.DeviceIdx "
                f"AND s.RecordTypeId = {OWNED_TABLE}.RecordTypeId AND s.Timestamp = {OWNED_TABLE}.Timestamp)",
                f"INSERT INTO {OWNED_TABLE} ({OWNED_COLUMNS}) SELECT {load_id}, 'MeterData', DeviceIdx, NULL, "
                f"Id + {id_offset}, RecordTypeId, Timestamp, NULL FROM {schema}.MeterData WHERE DeviceIdx > 0"]
    return [f"INSERT INTO {OWNED_TABLE} ({OWNED_COLUMNS}) SELECT {load_id}, '{table}', DeviceIdx, NULL, NULL, NULL, "
            f"Timestamp, Serial FROM {schema}.{table} WHERE DeviceIdx > 0"]


def owned_meters_sql(load_id: str, device_above: str) -> str:
    """The statement recording the meters a merge created (DeviceIdx above ``device_above``)."""
    return (f"INSERT INTO {OWNED_TABLE} ({OWNED_COLUMNS}) SELECT {load_id}, 'MeterTable', DeviceIdx, MeterId, "
            f"NULL, NULL, NULL, NULL FROM main.MeterTable WHERE DeviceIdx > {device_above}")


def finish_load_sql(load_id: str, header_first: str, header_last: str,
                    config_ranges: Dict[str, Tuple[str, str]], created_at: str,
                    token: str = "NULL", about: Optional[Tuple[str, str, int]] = None) -> List[str]:
    """Statements that raise ArchInfo.Records to hold what the touched meters now have, and
    append the ledger entry ``load_id`` (with the ArchInfo values before and after the raise)
    and, with ``about`` (created_by, command, rows), a line of the loads table.  Run inside the
    load's transaction, after the rows and their ownership rows were inserted: the id ranges
    given here are the load's own at this moment (nobody else can write meanwhile) and are used
    for counting only, never stored."""
    touched = (f"SELECT DISTINCT DeviceIdx FROM MeterData WHERE Id BETWEEN {header_first} AND {header_last}")
    config_need = " UNION ALL ".join(
        f"SELECT {rtid}, count(*) FROM {table} WHERE DeviceIdx IN "
        f"(SELECT DeviceIdx FROM {table} WHERE rowid BETWEEN ({first}) AND ({last})) GROUP BY DeviceIdx"
        for table, (first, last), rtid in (
            (table, rng, f"(SELECT Id FROM ArchTypes WHERE Name = '{_config_measure(table)}')")
            for table, rng in config_ranges.items()))
    need = ("SELECT RecordTypeId AS R, count(*) AS N FROM MeterData "
            f"WHERE DeviceIdx IN ({touched}) GROUP BY DeviceIdx, RecordTypeId")
    if config_need:
        need += " UNION ALL " + config_need
    return [
        "DROP TABLE IF EXISTS temp.gmd_need",
        f"CREATE TEMP TABLE gmd_need AS SELECT R, max(N) AS N FROM ({need}) GROUP BY R",
        f"INSERT INTO {LEDGER_TABLE} (LoadId, CreatedAt, ArchInfoBefore, Token) SELECT {load_id}, {created_at}, "
        "(SELECT group_concat(RecordTypeId || ':' || Records || ':' || "
        "(SELECT N FROM temp.gmd_need WHERE R = ArchInfo.RecordTypeId), ',') FROM ArchInfo "
        " WHERE RecordTypeId IN (SELECT R FROM temp.gmd_need WHERE N > ArchInfo.Records)), "
        f"{token}",
        "UPDATE ArchInfo SET Records = (SELECT N FROM temp.gmd_need WHERE R = ArchInfo.RecordTypeId) "
        "WHERE Records < (SELECT N FROM temp.gmd_need WHERE R = ArchInfo.RecordTypeId)",
        "DROP TABLE temp.gmd_need",
    ] + ([] if about is None else [
        f"INSERT INTO {LOADS_TABLE} (Token, CreatedAt, CreatedBy, Command, MeterIds, Rows) SELECT {token}, "
        f"{created_at}, {literal(about[0])}, {literal(about[1])}, (SELECT group_concat(MeterId, ',') FROM "
        f"(SELECT MeterId FROM {OWNED_TABLE} WHERE LoadId = {load_id} AND What = 'MeterTable' "
        f"ORDER BY DeviceIdx)), {int(about[2])}",
    ])


def _config_measure(table: str) -> str:
    return {t: m for m, t in CONFIG_MEASURE_TABLE.items()}[table]


def parse_ranges(text: str) -> Dict[str, Tuple[int, int]]:
    """Parse an old entry's config rowid ranges (``Table:first-last;...``)."""
    out = {}
    for part in (text or "").split(";"):
        if ":" in part:
            table, span = part.split(":", 1)
            first, last = span.split("-", 1)
            if first and last:
                out[table] = (int(first), int(last))
    return out


# ---- listing --------------------------------------------------------------------------------------
def list_loads_sql(with_info: bool) -> str:
    """The loads of the ledger, oldest first: token, when, by whom, which command, MeterIds, rows."""
    if not with_info:
        return (f"SELECT Token AS c0, min(CreatedAt) AS c1, NULL AS c2, NULL AS c3, NULL AS c4, NULL AS c5 "
                f"FROM {LEDGER_TABLE} GROUP BY Token ORDER BY min(LoadId)")
    def info(expression: str) -> str:
        return f"(SELECT {expression} FROM {LOADS_TABLE} i WHERE i.Token = l.Token)"

    meter_ids = info("group_concat(MeterIds, ',')")
    return (f"SELECT l.Token AS c0, min(l.CreatedAt) AS c1, {info('max(CreatedBy)')} AS c2, "
            f"{info('max(Command)')} AS c3, {meter_ids} AS c4, {info('sum(Rows)')} AS c5 FROM {LEDGER_TABLE} l "
            "GROUP BY l.Token ORDER BY min(l.LoadId)")


def load_info(row: Tuple) -> LoadInfo:
    """A LoadInfo from a row of ``list_loads_sql``."""
    try:
        token, created_at, created_by, command, meter_ids, rows = row
        ids = tuple(int(m) for m in str(meter_ids).split(",") if m.strip()) if meter_ids else ()
        return LoadInfo(str(token or ""), int(created_at or 0), str(created_by or ""), str(command or ""), ids,
                        int(rows) if rows is not None else None)
    except (ValueError, TypeError) as exc:
        raise _damaged(f"a ledger entry holds {exc}") from None


# ---- clearing -------------------------------------------------------------------------------------
#: Runs one read query inside the clear's transaction and returns its rows (values as SQLite
#: has them: int, float, str, None).
Ask = Callable[[str], List[tuple]]


@dataclass
class ClearPlan:
    """What a clear removes, as statements to run in the transaction that read the ledger."""

    statements: List[str] = field(default_factory=list)
    tokens: List[str] = field(default_factory=list)        # loads removed whole
    meter_ids: List[int] = field(default_factory=list)     # meters removed (MeterIds), hub children too
    shrunk: List[str] = field(default_factory=list)        # loads that lost meters and stay
    settled: str = "SELECT 0"  # a query giving 0 once the statements committed (after a lost link)

    @property
    def loads(self) -> int:
        """How many loads went whole."""
        return len(self.tokens)


@dataclass
class _ArchInfoStep:
    """One ArchInfo change a load made: RecordTypeId's Records went from ``before`` to ``after``
    (None: not recorded, an entry of an older version of this tool)."""

    type_id: int
    before: int
    after: Optional[int]


@dataclass
class _Entry:
    load_id: int
    device_range: Optional[Tuple[int, int]]
    header_range: Optional[Tuple[int, int]]
    config_ranges: Dict[str, Tuple[int, int]]
    archinfo: List[_ArchInfoStep]
    token: Optional[str]

    @property
    def old(self) -> bool:
        """Written by the range scheme (ranges filled in)."""
        return bool(self.device_range or self.header_range or self.config_ranges)


def _damaged(what: str):
    from ..errors import SchemaError

    return SchemaError(f"the ledger of this tool ({LEDGER_TABLE}) is damaged ({what}); nothing was removed -- "
                       f"the meters are untouched: look at it with 'SELECT * FROM {LEDGER_TABLE}', repair or "
                       "delete that row, or restore a backup (not init: that makes a new, empty database)")


_COLUMNS = {LEDGER_TABLE: [c.strip() for c in LEDGER_COLUMNS.split(",")] + ["CreatedAt"],
            LOADS_TABLE: ["Token", "CreatedAt", "CreatedBy", "Command", "MeterIds", "Rows"],
            OWNED_TABLE: [c.strip() for c in OWNED_COLUMNS.split(",")]}


def check_tables(tables: Dict[str, str]) -> None:
    """SchemaError, saying the ledger is damaged, when one of its tables (name -> its CREATE
    statement in sqlite_master) lacks a column this tool reads."""
    for table, columns in _COLUMNS.items():
        if table in tables:
            text = tables[table]
            for column in columns:
                if column not in text:
                    raise _damaged(f"table {table} has no column {column}")


def _entry(row: Tuple) -> _Entry:
    load_id, device_first, device_last, header_first, header_last, configs, archinfo, token = row[:8]

    def pair(a, b):
        if a is None and b is None:
            return None
        return int(a), int(b)  # one of them missing, or not a number: a damaged entry

    items = []
    for item in (archinfo or "").split(","):
        parts = item.split(":")
        if len(parts) >= 2 and parts[0] != "":
            after = int(parts[2]) if len(parts) >= 3 and parts[2] != "" else None
            items.append(_ArchInfoStep(int(parts[0]), int(parts[1]), after))
    if token is not None and not isinstance(token, str):
        raise ValueError(f"token {token!r}")
    return _Entry(int(load_id), pair(device_first, device_last), pair(header_first, header_last),
                  parse_ranges(configs) if configs else {}, items, token)


def _ids(values: Iterable[int]) -> str:
    return ", ".join(str(int(v)) for v in sorted(set(values)))


def _tables(ask: Ask) -> Dict[str, str]:
    return {name: sql or "" for name, sql in ask("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}


def plan_clear(ask: Ask, tokens: Optional[Iterable[str]] = None,
               meters: Optional[Iterable[int]] = None) -> ClearPlan:
    """What undoing the loads in ``tokens`` (None: every load), or removing the ``meters``
    (MeterIds), takes -- read through ``ask`` inside the clear's transaction (or read-only for a
    dry run).  InputError (nothing removed) for a meter no load of this tool created or a hub
    with meters under it that this tool did not create; SchemaError for a damaged ledger or an
    old entry whose id ranges now hold other writers' rows."""
    from ..errors import InputError, SchemaError

    tables = _tables(ask)
    meter_rows = [(int(d), int(m), p) for d, m, p in ask("SELECT DeviceIdx, MeterId, ParentId FROM MeterTable")]
    by_meter_id = {m: d for d, m, _ in meter_rows}
    meter_of = {d: m for d, m, _ in meter_rows}
    children: Dict[int, List[int]] = {}
    for d, m, parent in meter_rows:
        if parent and parent != m:  # 0: no parent
            children.setdefault(int(parent), []).append(m)
    if meters is not None:
        meters = [int(m) for m in meters]
        for meter_id in meters:
            if meter_id not in by_meter_id:
                raise InputError(f"meter {meter_id} is not in the database; nothing was removed")
    if LEDGER_TABLE not in tables:
        if meters:
            raise InputError(f"meter {meters[0]} was not created by GenerateMeterData (the database has no "
                             "ledger of this tool); nothing was removed")
        return ClearPlan()
    check_tables(tables)
    try:
        entries = [_entry(row) for row in ask(f"SELECT {LEDGER_COLUMNS} FROM {LEDGER_TABLE}")]
    except (ValueError, TypeError, IndexError) as exc:
        raise _damaged(f"a ledger entry holds {exc}") from None
    has_owned = OWNED_TABLE in tables
    owned = [(int(l), w, int(d), m, int(n)) for l, w, d, m, n in ask(
        f"SELECT LoadId, What, DeviceIdx, MeterId, count(*) FROM {OWNED_TABLE} "
        "GROUP BY LoadId, What, DeviceIdx, MeterId")] if has_owned else []
    loads_rows = [(rowid, token, ids) for rowid, token, ids in ask(
        f"SELECT rowid, Token, MeterIds FROM {LOADS_TABLE}")] if LOADS_TABLE in tables else []

    listed: Dict[str, Set[int]] = {}
    for _, token, ids in loads_rows:
        listed.setdefault(token, set()).update(int(m) for m in str(ids or "").split(",") if m.strip())
    with_owned = {load_id for load_id, *_ in owned}
    by_id = {e.load_id: e for e in entries}

    # the meters each entry owns now (DeviceIdx): MeterTable must still hold the pair it recorded
    own: Dict[int, Set[int]] = {e.load_id: set() for e in entries}
    unknown: Set[int] = set()  # old entries with meters but no record of which MeterIds they made
    for load_id, what, device, meter_id, _ in owned:
        if what == "MeterTable" and load_id in own and meter_of.get(device) == meter_id:
            own[load_id].add(device)
    for e in entries:
        if e.old and e.load_id not in with_owned and e.device_range:
            if e.token not in listed:
                unknown.add(e.load_id)
                continue
            first, last = e.device_range
            own[e.load_id] = {d for d, m, _ in meter_rows if first <= d <= last and m in listed[e.token]}
    owner: Dict[int, int] = {}
    for load_id, devices in own.items():
        for device in devices:
            owner.setdefault(device, load_id)

    plan = ClearPlan()
    if meters is not None:
        gone_whole: Set[int] = set()
        devices = set()
        for meter_id in meters:
            device = by_meter_id[meter_id]
            if device not in owner:
                raise InputError(f"meter {meter_id} was not created by GenerateMeterData (no load in the ledger "
                                 "created it); nothing was removed")
            devices.add(device)
    else:
        wanted = None if tokens is None else set(tokens)
        selected = [e for e in entries if wanted is None or e.token in wanted]
        gone_whole = {e.load_id for e in selected}
        for e in selected:
            if e.load_id in unknown:
                raise SchemaError(_old_refusal(e, "its ledger has no record of which MeterIds it created"))
        devices = set().union(*(own[e.load_id] for e in selected)) if selected else set()
        for e in selected:
            if e.old and e.load_id not in with_owned:
                _check_old_entry(ask, e, own[e.load_id])
    devices |= _hub_children(devices, children, by_meter_id, meter_of, owner)

    statements: List[str] = []
    if devices:
        statements += clear_meters_sql(sorted(devices))
    records_of = sorted({l for l, w, *_ in owned if w == "MeterData" and l in gone_whole})
    configs_of = {w: sorted({l for l, what, *_ in owned if what == w and l in gone_whole}) for w in CONFIG_TABLES}
    if records_of:
        mine = (f"SELECT m.Id FROM MeterData m JOIN {OWNED_TABLE} o ON o.RecordId = m.Id AND o.DeviceIdx = m.DeviceIdx "
                "AND o.RecordTypeId = m.RecordTypeId AND o.Timestamp = m.Timestamp "
                f"WHERE o.What = 'MeterData' AND o.LoadId IN ({_ids(records_of)})")
        statements += [f"DELETE FROM {table} WHERE Id IN ({mine})" for table in VALUE_TABLES]
        statements.append(f"DELETE FROM MeterData WHERE Id IN ({mine})")
    for table, load_ids in configs_of.items():
        if load_ids:
            statements.append(
                f"DELETE FROM {table} WHERE rowid IN (SELECT c.rowid FROM {table} c JOIN {OWNED_TABLE} o "
                "ON o.DeviceIdx = c.DeviceIdx AND o.Timestamp = c.Timestamp AND o.Serial = c.Serial "
                f"WHERE o.What = '{table}' AND o.LoadId IN ({_ids(load_ids)}))")

    # which entries end with nothing: those cleared, and those whose last meter went
    remaining_rows: Dict[int, int] = {}
    for load_id, what, device, meter_id, count in owned:
        if load_id in gone_whole or device in devices:
            continue
        if what == "MeterTable" and meter_of.get(device) != meter_id:
            continue  # a meter that is no longer there: nothing left to own
        remaining_rows[load_id] = remaining_rows.get(load_id, 0) + count
    gone = set(gone_whole)
    touched = {owner[d] for d in devices if d in owner} | {l for l, _, d, *_ in owned if d in devices}
    for load_id in touched - gone_whole:
        touched_entry = by_id.get(load_id)
        if touched_entry is None:
            continue
        if touched_entry.old and load_id not in with_owned:
            if not (own[load_id] - devices):
                gone.add(load_id)
        elif not remaining_rows.get(load_id):
            gone.add(load_id)
    if has_owned and (gone or devices):
        conditions = []
        if gone:
            conditions.append(f"LoadId IN ({_ids(gone)})")
        if devices:  # the temporary table clear_meters_sql filled
            conditions.append("DeviceIdx IN (SELECT d FROM temp.gmd_clear)")
        statements.append(f"DELETE FROM {OWNED_TABLE} WHERE {' OR '.join(conditions)}")
    statements += _archinfo_sql([by_id[l] for l in gone], [e for e in entries if e.load_id not in gone])
    if gone:
        statements.append(f"DELETE FROM {LEDGER_TABLE} WHERE LoadId IN ({_ids(gone)})")
    if devices:
        statements.append("DROP TABLE temp.gmd_clear")

    # the loads table: rows of loads that went; the MeterIds of loads that lost meters
    removed_ids = {meter_of[d] for d in devices}
    gone_tokens = {e.token for e in (by_id[l] for l in gone) if e.token}
    left_tokens = {e.token for e in entries if e.load_id not in gone and e.token}
    plan.tokens = sorted(gone_tokens - left_tokens,
                         key=lambda t: min(e.load_id for e in entries if e.token == t))
    if LOADS_TABLE in tables:
        if plan.tokens:
            statements.append(f"DELETE FROM {LOADS_TABLE} WHERE Token IN ({', '.join(literal(t) for t in plan.tokens)})")
        for rowid, token, ids in loads_rows:
            if token in plan.tokens or not ids:
                continue
            kept = [m for m in str(ids).split(",") if m.strip() and int(m) not in removed_ids]
            if len(kept) != len([m for m in str(ids).split(",") if m.strip()]):
                statements.append(f"UPDATE {LOADS_TABLE} SET MeterIds = {literal(','.join(kept)) if kept else 'NULL'} "
                                  f"WHERE rowid = {int(rowid)}")
                if token not in plan.shrunk:
                    plan.shrunk.append(token)
    plan.statements = statements
    plan.meter_ids = sorted(removed_ids)
    checks = []
    if gone:
        checks.append(f"(SELECT count(*) FROM {LEDGER_TABLE} WHERE LoadId IN ({_ids(gone)}))")
    for device in sorted(devices):
        checks.append(f"(SELECT count(*) FROM MeterTable WHERE DeviceIdx = {device} AND MeterId = {meter_of[device]})")
    if checks:
        plan.settled = "SELECT " + " + ".join(checks)
    return plan


def _hub_children(devices: Set[int], children: Dict[int, List[int]], by_meter_id: Dict[int, int],
                  meter_of: Dict[int, int], owner: Dict[int, int]) -> Set[int]:
    """The meters under the hubs among ``devices`` (and under those...): each must be one this
    tool created, which then goes with its hub; InputError (nothing removed) otherwise."""
    from ..errors import InputError

    found: Set[int] = set()
    todo = [meter_of[d] for d in devices]
    while todo:
        hub = todo.pop()
        for child in children.get(hub, []):
            device = by_meter_id[child]
            if device in devices or device in found:
                continue
            if device not in owner:
                raise InputError(f"meter {hub} is a hub with meter {child} under it, which this tool did not "
                                 f"create; nothing was removed (remove or re-parent meter {child} on the device "
                                 "first)")
            found.add(device)
            todo.append(child)
    return found


def _old_refusal(e: _Entry, why: str) -> str:
    return (f"load {e.token or '(no token)'} was recorded by an older GenerateMeterData as id ranges, and {why}: "
            "it cannot be told from other writers' rows now; nothing was removed (remove its meters with "
            f"clear --meter, then its entry with: DELETE FROM {LEDGER_TABLE} WHERE LoadId = {e.load_id})")


def _check_old_entry(ask: Ask, e: _Entry, devices: Set[int]) -> None:
    """An entry of the range scheme is cleared through its meters only: its ranges must hold
    nothing else now (rows it wrote into other meters, or ids reused since)."""
    from ..errors import SchemaError

    outside = f"DeviceIdx NOT IN ({_ids(devices)})" if devices else "1"
    counts = []
    if e.header_range:
        counts.append(f"(SELECT count(*) FROM MeterData WHERE Id BETWEEN {e.header_range[0]} AND "
                      f"{e.header_range[1]} AND {outside})")
    for table, (first, last) in e.config_ranges.items():
        if table in CONFIG_TABLES:
            counts.append(f"(SELECT count(*) FROM {table} WHERE rowid BETWEEN {first} AND {last} AND {outside})")
    if counts and int(ask("SELECT " + " + ".join(counts))[0][0]):
        raise SchemaError(_old_refusal(e, "its id ranges now also hold rows outside the meters it created"))


def _archinfo_sql(gone: List[_Entry], remaining: List[_Entry]) -> List[str]:
    """Put back ArchInfo for the entries that go, newest first: where ArchInfo still holds what
    an entry set, the value before it; where a later entry that stays raised it further from
    exactly that value, that entry now remembers the earlier value instead -- so clearing loads
    in any order ends at the value before the first of them (an operator's change in between
    stays)."""
    statements: List[str] = []
    changed: Dict[int, _Entry] = {}
    later = sorted(remaining, key=lambda e: e.load_id)
    for e in sorted(gone, key=lambda e: -e.load_id):
        for step in e.archinfo:
            type_id, before, after = step.type_id, step.before, step.after
            heir = next((r for r in later if r.load_id > e.load_id
                         for item in r.archinfo if item.type_id == type_id and after is not None
                         and item.before == after),
                        None)
            if heir is not None:
                for item in heir.archinfo:
                    if item.type_id == type_id and item.before == after:
                        item.before = before
                changed[heir.load_id] = heir
                continue
            guard = f" AND Records = {int(after)}" if after is not None else ""
            statements.append(f"UPDATE ArchInfo SET Records = {int(before)} WHERE RecordTypeId = {int(type_id)}{guard}")
    for load_id, e in sorted(changed.items()):
        text = ",".join(f"{s.type_id}:{s.before}:{s.after}" if s.after is not None else f"{s.type_id}:{s.before}"
                        for s in e.archinfo)
        statements.append(f"UPDATE {LEDGER_TABLE} SET ArchInfoBefore = {literal(text)} WHERE LoadId = {load_id}")
    return statements


E = TypeVar("E", bound=BaseException)


def full_disk_hint(exc: E, meters: Optional[List[int]]) -> E:
    """A clear that ran out of disk space: the same error, saying how to do it with less (SQLite's
    rollback journal holds a copy of every page a clear changes, so a smaller clear needs less)."""
    text = str(exc)
    if "disk is full" in text or "disk I/O error" in text:
        smaller = ("clear the loads one at a time (clear --load TOKEN, as 'loads' lists them)"
                   if meters is None else "clear fewer meters at once")
        text = text.replace("nothing was written", "nothing was removed")
        if "nothing was removed" not in text:
            text += "; nothing was removed"
        exc.args = (f"{text} -- a clear needs free space for SQLite's journal, about the size of what it "
                    f"removes: free some, or {smaller}",) + tuple(exc.args[1:])
    return exc


def clear_meters_sql(device_idxs: List[int]) -> List[str]:
    """Statements that remove whole meters (every row keyed by their DeviceIdx).  The DeviceIdx
    go into a temporary table first, so a clear of many meters sends each id once (in chunks of
    500 rows: older SQLite counts a multi-row VALUES as a compound select)."""
    ids = sorted({int(d) for d in device_idxs})
    statements = ["DROP TABLE IF EXISTS temp.gmd_clear", "CREATE TEMP TABLE gmd_clear (d INTEGER PRIMARY KEY)"]
    statements += [f"INSERT INTO temp.gmd_clear (d) VALUES {', '.join(f'({d})' for d in ids[i:i + 500])}"
                   for i in range(0, len(ids), 500)]
    devices = "SELECT d FROM temp.gmd_clear"
    statements += [f"DELETE FROM {table} WHERE Id IN (SELECT Id FROM MeterData WHERE DeviceIdx IN ({devices}))"
                   for table in VALUE_TABLES]
    statements.append(f"DELETE FROM MeterData WHERE DeviceIdx IN ({devices})")
    statements += [f"DELETE FROM {table} WHERE DeviceIdx IN ({devices})" for table in CONFIG_TABLES]
    statements.append(f"DELETE FROM MeterTable WHERE DeviceIdx IN ({devices})")
    return statements
