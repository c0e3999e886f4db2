"""What a load wrote, recorded inside the target database in the same transaction as the rows,
so ``clear`` can remove exactly those rows (and put ArchInfo back) from any machine later.

The SQL here is plain enough for an old device-side ``sqlite3`` (no JSON functions, no RETURNING,
no UPSERT) and is shared by the local writer and the SSH merge script: the caller supplies SQL
expressions for the id ranges (literal integers locally, sub-queries on the device)."""
from __future__ import annotations

from typing import Dict, List, Tuple

from ..schema.layout import CONFIG_MEASURE_TABLE, CONFIG_TABLES, VALUE_TABLES

LEDGER_TABLE = "GenerateMeterDataLedger"

CREATE_LEDGER = (f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} ("
                 "LoadId INTEGER PRIMARY KEY, CreatedAt INTEGER NOT NULL, "
                 "DeviceFirst INTEGER, DeviceLast INTEGER, HeaderFirst INTEGER, HeaderLast INTEGER, "
                 "ConfigRowids TEXT, ArchInfoBefore TEXT, Token TEXT)")


def finish_load_sql(device_first: str, device_last: str, header_first: str, header_last: str,
                    config_ranges: Dict[str, Tuple[str, str]], created_at: str,
                    token: str = "NULL") -> List[str]:
    """Statements that raise ArchInfo.Records to hold what the touched meters now have, and
    append a ledger entry (with the ArchInfo values before the raise).  Run inside the load's
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
    ]


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
    return statements


LEDGER_COLUMNS = "LoadId, DeviceFirst, DeviceLast, HeaderFirst, HeaderLast, ConfigRowids, ArchInfoBefore, Token"


def select_entries(entries: List[Tuple], tokens) -> List[Tuple]:
    """The ledger rows of the given load tokens (all rows when tokens is None)."""
    if tokens is None:
        return list(entries)
    wanted = set(tokens)
    return [entry for entry in entries if entry[7] in wanted]
