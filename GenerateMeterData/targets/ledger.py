"""What a load wrote, recorded inside the target database in the same transaction as the rows,
so ``clear`` can remove exactly those rows (and put ArchInfo back) from any machine later.

The SQL here is plain enough for an old device-side ``sqlite3`` (no JSON functions, no RETURNING,
no UPSERT) and is shared by the local writer and the SSH merge script: the caller supplies SQL
expressions for the id ranges (literal integers locally, sub-queries on the device)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

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


def finish_load_sql(device_first: str, device_last: str, header_first: str, header_last: str,
                    config_ranges: Dict[str, Tuple[str, str]], created_at: str,
                    token: str = "NULL", about: Optional[Tuple[str, str, int]] = None) -> List[str]:
    """Statements that raise ArchInfo.Records to hold what the touched meters now have, and
    append a ledger entry (with the ArchInfo values before the raise) and, with ``about``
    (created_by, command, rows), a line of the loads table.  Run inside the load's
    transaction, after the rows were inserted."""
    touched = (f"SELECT DISTINCT DeviceIdx FROM MeterData WHERE Id BETWEEN {header_first} AND {header_last}")
    config_text = " || ';' || ".join(
        f"'{table}:' || ({first}) || '-' || ({last})" for table, (first, last) in config_ranges.items()) or "''"
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
        CREATE_LEDGER,
        "DROP TABLE IF EXISTS temp.gmd_need",
        f"CREATE TEMP TABLE gmd_need AS SELECT R, max(N) AS N FROM ({need}) GROUP BY R",
        f"INSERT INTO {LEDGER_TABLE} (CreatedAt, DeviceFirst, DeviceLast, HeaderFirst, HeaderLast, "
        "ConfigRowids, ArchInfoBefore, Token) SELECT "
        f"{created_at}, {device_first}, {device_last}, {header_first}, {header_last}, {config_text}, "
        "(SELECT group_concat(RecordTypeId || ':' || Records || ':' || "
        "(SELECT N FROM temp.gmd_need WHERE R = ArchInfo.RecordTypeId), ',') FROM ArchInfo "
        " WHERE RecordTypeId IN (SELECT R FROM temp.gmd_need WHERE N > ArchInfo.Records)), "
        f"{token}",
        "UPDATE ArchInfo SET Records = (SELECT N FROM temp.gmd_need WHERE R = ArchInfo.RecordTypeId) "
        "WHERE Records < (SELECT N FROM temp.gmd_need WHERE R = ArchInfo.RecordTypeId)",
        "DROP TABLE temp.gmd_need",
    ] + ([] if about is None else [
        CREATE_LOADS,
        f"INSERT INTO {LOADS_TABLE} (Token, CreatedAt, CreatedBy, Command, MeterIds, Rows) SELECT {token}, "
        f"{created_at}, {literal(about[0])}, {literal(about[1])}, (SELECT group_concat(MeterId, ',') FROM "
        f"(SELECT MeterId FROM MeterTable WHERE DeviceIdx BETWEEN {device_first} AND {device_last} "
        f"ORDER BY DeviceIdx)), {int(about[2])}",
    ])


def _config_measure(table: str) -> str:
    return {t: m for m, t in CONFIG_MEASURE_TABLE.items()}[table]


def parse_ranges(text: str) -> Dict[str, Tuple[int, int]]:
    """Parse the ledger's config rowid ranges (``Table:first-last;...``)."""
    out = {}
    for part in (text or "").split(";"):
        if ":" in part:
            table, span = part.split(":", 1)
            first, last = span.split("-", 1)
            if first and last:
                out[table] = (int(first), int(last))
    return out


def clear_sql(entries: List[Tuple]) -> List[str]:
    """Statements that undo ledger entries, newest first: every row of the meters a load created
    (whoever wrote it), the records and config rows it added to other meters, and the ArchInfo
    values it raised (where they still hold what the load set).  ``entries`` are ledger rows (LoadId, DeviceFirst, DeviceLast, HeaderFirst,
    HeaderLast, ConfigRowids, ArchInfoBefore); every value is an integer or parsed to one."""
    try:
        return _clear_sql(entries)
    except (ValueError, TypeError, IndexError) as exc:
        from ..errors import SchemaError

        raise SchemaError(f"a ledger entry of {LEDGER_TABLE} is damaged ({exc}); nothing was removed -- "
                          f"fix or delete that row (SELECT * FROM {LEDGER_TABLE})") from None


def _clear_sql(entries: List[Tuple]) -> List[str]:
    statements: List[str] = []
    for load_id, device_first, device_last, header_first, header_last, configs, archinfo, *_ in \
            sorted(entries, key=lambda e: -int(e[0])):
        headers = []
        if header_first is not None and header_last is not None:
            headers.append(f"Id BETWEEN {int(header_first)} AND {int(header_last)}")
        if device_first is not None and device_last is not None:
            devices = f"DeviceIdx BETWEEN {int(device_first)} AND {int(device_last)}"
            headers.append(f"Id IN (SELECT Id FROM MeterData WHERE {devices})")
        if headers:
            condition = " OR ".join(headers)
            for table in VALUE_TABLES:
                statements.append(f"DELETE FROM {table} WHERE {condition}")
            statements.append(f"DELETE FROM MeterData WHERE {condition}")
        for table, (first, last) in parse_ranges(configs).items():
            if table in CONFIG_TABLES:
                statements.append(f"DELETE FROM {table} WHERE rowid BETWEEN {int(first)} AND {int(last)}")
        if device_first is not None and device_last is not None:
            devices = f"DeviceIdx BETWEEN {int(device_first)} AND {int(device_last)}"
            for table in CONFIG_TABLES:
                statements.append(f"DELETE FROM {table} WHERE {devices}")
            statements.append(f"DELETE FROM MeterTable WHERE {devices}")
        for item in (archinfo or "").split(","):
            parts = item.split(":")
            if len(parts) >= 2:
                # put back the value from before the load -- only where ArchInfo still holds what
                # the load set (an operator's later change stays); old entries lack that value
                guard = f" AND Records = {int(parts[2])}" if len(parts) >= 3 and parts[2] else ""
                statements.append(f"UPDATE ArchInfo SET Records = {int(parts[1])} "
                                  f"WHERE RecordTypeId = {int(parts[0])}{guard}")
        statements.append(f"DELETE FROM {LEDGER_TABLE} WHERE LoadId = {int(load_id)}")
    tokens = sorted({entry[7] for entry in entries if len(entry) > 7 and entry[7]})
    if tokens:
        statements.append(CREATE_LOADS)
        statements.append(f"DELETE FROM {LOADS_TABLE} WHERE Token IN ({', '.join(literal(t) for t in tokens)}) "
                          f"AND Token NOT IN (SELECT Token FROM {LEDGER_TABLE} WHERE Token IS NOT NULL)")
    return statements


def meters_sql(meter_ids: List[int]) -> str:
    """MeterId, DeviceIdx, and whether a ledger load created it, of the given MeterIds."""
    ids = ", ".join(str(int(m)) for m in meter_ids)
    return (f"SELECT t.MeterId AS m, t.DeviceIdx AS d, EXISTS (SELECT 1 FROM {LEDGER_TABLE} l WHERE t.DeviceIdx "
            f"BETWEEN l.DeviceFirst AND l.DeviceLast) AS o FROM MeterTable t WHERE t.MeterId IN ({ids})")


def check_meters(meter_ids: List[int], found: List[Tuple]) -> List[int]:
    """The DeviceIdx of each requested meter; InputError naming the first that is not there or
    was not created by this tool (nothing is removed then)."""
    from ..errors import InputError

    by_id = {int(m): (int(d), int(ours)) for m, d, ours in found}
    for meter_id in meter_ids:
        if meter_id not in by_id:
            raise InputError(f"meter {meter_id} is not in the database; nothing was removed")
        if not by_id[meter_id][1]:
            raise InputError(f"meter {meter_id} was not created by GenerateMeterData (it is not in the "
                             "ledger); nothing was removed")
    return [by_id[m][0] for m in meter_ids]


def clear_meters_sql(device_idxs: List[int]) -> List[str]:
    """Statements that remove whole meters (every row keyed by their DeviceIdx)."""
    devices = ", ".join(str(int(d)) for d in device_idxs)
    statements = [f"DELETE FROM {table} WHERE Id IN (SELECT Id FROM MeterData WHERE DeviceIdx IN ({devices}))"
                  for table in VALUE_TABLES]
    statements.append(f"DELETE FROM MeterData WHERE DeviceIdx IN ({devices})")
    statements += [f"DELETE FROM {table} WHERE DeviceIdx IN ({devices})" for table in CONFIG_TABLES]
    statements.append(f"DELETE FROM MeterTable WHERE DeviceIdx IN ({devices})")
    return statements


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
    token, created_at, created_by, command, meter_ids, rows = row
    ids = tuple(int(m) for m in str(meter_ids).split(",") if m.strip()) if meter_ids else ()
    return LoadInfo(token or "", int(created_at or 0), created_by or "", command or "", ids,
                    int(rows) if rows is not None else None)


LEDGER_COLUMNS = "LoadId, DeviceFirst, DeviceLast, HeaderFirst, HeaderLast, ConfigRowids, ArchInfoBefore, Token"


def select_entries(entries: List[Tuple], tokens) -> List[Tuple]:
    """The ledger rows of the given load tokens (all rows when tokens is None)."""
    if tokens is None:
        return list(entries)
    wanted = set(tokens)
    return [entry for entry in entries if entry[7] in wanted]
