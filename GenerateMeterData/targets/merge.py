"""The SQL text a device's ``sqlite3`` shell runs to merge a staged load, and to clear loads.

Pure functions, no I/O: SQL text in, SQL text out, so they are tested on a local sqlite3 shell
without an SSH server.

A staged load numbers what it creates provisionally: new meters have DeviceIdx -1, -2, ... and,
unless the user fixed it, MeterId -1, -2, ... (ParentId likewise for a child of a new hub);
records are numbered 1, 2, ... in each stage schema.  Inside the device's ``BEGIN IMMEDIATE``
every provisional id is mapped above what the database holds *at that moment*, so any number of
loads into one device may run at once: they serialise on the database lock, never collide on ids.

The merge stops before ``COMMIT`` and prints a READY line with the row counts it found in the
stage; only when the client has compared them does ``COMMIT`` follow on stdin (see ssh.py)."""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..schema.layout import CONFIG_TABLES, METER_ID_MAX, TABLE_COLUMNS, WRITE_ORDER
from . import ledger
from .sqltext import literal, parse_quoted

READY, COMMITTED, DUPLICATE, CHANGED, METER = (
    "GMD-READY", "GMD-COMMITTED", "GMD-DUPLICATE", "GMD-CHANGED", "GMD-METER")
LEDGER_READY = "GMD-LEDGER-READY"
NO_METER_ID = "GMD-NO-METER-ID"  # the new meters' MeterIds would pass METER_ID_MAX (printed with the highest)
RESTORED = "GMD-RESTORED"  # printed by the device's sqlite3 once a .restore finished

# A statement that always fails: with .bail on it ends the script (and so the transaction).
FAIL = "SELECT abs(-9223372036854775807 - 1)"

#: The reference tables a load's ids depend on, and the query that fingerprints each of them.
FINGERPRINTS: Dict[str, str] = {
    "ArchTypes": "SELECT group_concat(x, ',') FROM (SELECT Id || ':' || Name AS x FROM main.ArchTypes ORDER BY Id)",
    "MeterTypes": "SELECT group_concat(x, ',') FROM (SELECT Id || ':' || Type AS x FROM main.MeterTypes ORDER BY Id)",
    "MeterIfaces": "SELECT group_concat(x, ',') FROM (SELECT Id || ':' || Name AS x FROM main.MeterIfaces ORDER BY Id)",
}


def fingerprint(pairs: Iterable[Tuple[int, str]]) -> str:
    """The fingerprint text of (Id, name) pairs, as FINGERPRINTS computes it on the device."""
    return ",".join(f"{i}:{name}" for i, name in sorted(pairs))


def preamble(busy_timeout: float) -> List[str]:
    """Shell settings every script starts with."""
    return [".bail on", ".separator ,", f".timeout {int(busy_timeout * 1000)}"]


def meter_id_range(floor: int, span: Optional[int]) -> str:
    """The SQL condition of the MeterIds a load may hand out."""
    condition = f"MeterId >= {int(floor)}"
    if span is not None:
        condition += f" AND MeterId < {int(floor) + int(span)}"
    return condition


def merge_script(source: str, schemas: Sequence[str], counts: Dict[str, int], header_counts: Sequence[int],
                 created: int, token: str, created_at: int, fingerprints: Dict[str, str],
                 meter_floor: int = 1001, meter_span: Optional[int] = None,
                 busy_timeout: float = 5.0, about: Optional[Tuple[str, str, int]] = None) -> str:
    """The whole merge of one load, up to (not including) COMMIT.

    ``source`` makes the stage schemas available (ATTACH of uploaded files, or SQL text into
    in-memory schemas); ``counts`` are the rows staged per table (all schemas together);
    ``header_counts`` the MeterData rows of each schema; ``created`` the number of new meters;
    ``fingerprints`` the reference tables as the client saw them (a changed device fails)."""
    off = "(SELECT {} FROM temp.gmd_offsets)".format
    in_range = meter_id_range(meter_floor, meter_span)
    lines = preamble(busy_timeout) + [source.rstrip("\n"), "BEGIN IMMEDIATE;"]
    for table, expected in fingerprints.items():
        differs = f"({FINGERPRINTS[table]}) IS NOT {literal(expected)}"
        lines.append(f"SELECT quote('{CHANGED}'), quote('{table}'), quote(({FINGERPRINTS[table]})) WHERE {differs};")
        lines.append(f"{FAIL} WHERE {differs};")
    fixed_ids = " UNION ALL ".join(f"SELECT MeterId FROM {schema}.MeterTable WHERE {in_range}" for schema in schemas)
    lines += [statement + ";" for statement in ledger.prepare_load_sql()]
    lines += [
        "DROP TABLE IF EXISTS temp.gmd_offsets;",
        "CREATE TEMP TABLE gmd_offsets AS SELECT "
        "(SELECT coalesce(max(DeviceIdx), 0) FROM main.MeterTable) AS dev, "
        "(SELECT coalesce(max(Id), 0) FROM main.MeterData) AS hid, "
        "(SELECT coalesce(max(Id), 0) FROM main.MeterData) AS hid0, "
        f"(SELECT coalesce(max(MeterId), {int(meter_floor) - 1}) FROM "
        f"(SELECT MeterId FROM main.MeterTable WHERE {in_range} UNION ALL {fixed_ids})) AS mid, "
        + ", ".join(f"(SELECT coalesce(max(rowid), 0) FROM main.{t}) AS {t}" for t in CONFIG_TABLES)
        + f", {ledger.NEXT_LOAD_ID} AS lid, "
        f"(SELECT count(*) FROM main.{ledger.LEDGER_TABLE} WHERE Token = {literal(token)}) AS entries;",
    ]
    # numbered above the highest MeterId, the new meters must stay SQLite INTEGERs (past the
    # largest one, SQL arithmetic makes a REAL): say so and fail rather than write one
    numbered = " UNION ALL ".join(f"SELECT MeterId FROM {schema}.MeterTable WHERE MeterId < 0" for schema in schemas)
    exhausted = f"{off('mid')} > {METER_ID_MAX} - (SELECT count(*) FROM ({numbered}))"
    lines.append(f"SELECT quote('{NO_METER_ID}'), quote({off('mid')}) WHERE {exhausted};")
    lines.append(f"{FAIL} WHERE {exhausted};")
    device = f"CASE WHEN DeviceIdx < 0 THEN {off('dev')} - DeviceIdx ELSE DeviceIdx END"
    mapped = {"DeviceIdx": device, "Id": f"Id + {off('hid')}",
              "MeterId": f"CASE WHEN MeterId < 0 THEN {off('mid')} - MeterId ELSE MeterId END",
              "ParentId": f"CASE WHEN ParentId < 0 THEN {off('mid')} - ParentId ELSE ParentId END"}
    for index, schema in enumerate(schemas):
        if index:  # the next schema's record ids go after the ones just inserted
            lines.append("UPDATE temp.gmd_offsets SET hid = (SELECT coalesce(max(Id), 0) FROM main.MeterData);")
        duplicates = (f"EXISTS (SELECT 1 FROM {schema}.MeterData s JOIN main.MeterData m "
                      "ON m.DeviceIdx = s.DeviceIdx AND m.RecordTypeId = s.RecordTypeId AND m.Timestamp = s.Timestamp "
                      "WHERE s.DeviceIdx > 0)")
        # a record of an existing meter that is there already: say so, then fail the script
        lines.append(f"SELECT quote('{DUPLICATE}') WHERE {duplicates};")
        lines.append(f"{FAIL} WHERE {duplicates};")
        for table in WRITE_ORDER:
            if not counts.get(table):
                continue
            columns = TABLE_COLUMNS[table]
            select = [mapped.get(column, column) if (column != "ParentId" or table == "MeterTable") else column
                      for column in columns]
            lines.append(f"INSERT INTO main.{table} ({', '.join(columns)}) SELECT {', '.join(select)} "
                         f"FROM {schema}.{table} ORDER BY rowid;")
            if table == "MeterData" or table in CONFIG_TABLES:  # what goes into meters that were there
                lines.extend(statement + ";" for statement in ledger.owned_from_stage_sql(
                    off("lid"), schema, table, off("hid")))
    header_total = sum(header_counts)
    config_ranges = {t: (f"(SELECT {t} + 1 FROM temp.gmd_offsets)", f"(SELECT max(rowid) FROM main.{t})")
                     for t in CONFIG_TABLES if counts.get(t)}
    if created:
        lines.append(ledger.owned_meters_sql(off("lid"), off("dev")) + ";")
    lines.extend(statement + ";" for statement in ledger.finish_load_sql(
        off("lid"),
        "(SELECT hid0 + 1 FROM temp.gmd_offsets)" if header_total else "NULL",
        f"(SELECT hid0 + {int(header_total)} FROM temp.gmd_offsets)" if header_total else "NULL",
        config_ranges, str(int(created_at)), literal(token), about))
    if created:
        lines.append(f"SELECT quote('{METER}'), quote(t.MeterId), quote(t.DeviceIdx), quote(y.Type) "
                     "FROM main.MeterTable t LEFT JOIN main.MeterTypes y ON y.Id = t.TypeId "
                     f"WHERE t.DeviceIdx > {off('dev')} ORDER BY t.DeviceIdx;")
    staged = ", ".join("quote(" + " + ".join(f"(SELECT count(*) FROM {schema}.{t})" for schema in schemas) + ")"
                       for t in WRITE_ORDER)
    lines.append(f"SELECT quote('{READY}'), quote((SELECT hid0 FROM temp.gmd_offsets)), "
                 f"quote((SELECT entries FROM temp.gmd_offsets)), {staged};")
    return "\n".join(lines) + "\n"


def commit_text() -> str:
    """What the client sends once the READY line checked out."""
    return f"COMMIT;\nSELECT quote('{COMMITTED}');\n"


def parse_ready(rows: List[tuple]) -> Tuple[Optional[int], List[int], List[Tuple[int, int, str]]]:
    """(hid0, staged counts in WRITE_ORDER, created meters) from the merge's output rows."""
    hid0, _, counts, meters = parse_ready_entries(rows)
    return hid0, counts, meters


def parse_ready_entries(rows: List[tuple]):
    """(hid0, ledger entries of the token before this merge, staged counts in WRITE_ORDER,
    created meters) from the merge's output rows."""
    hid0, entries, counts, meters = None, 0, [], []
    for row in rows:
        if not row:
            continue
        if row[0] == READY:
            hid0, entries, counts = int(row[1]), int(row[2]), [int(v) for v in row[3:]]
        elif row[0] == METER:
            meters.append((int(row[1]), int(row[2]), row[3]))
    return hid0, entries, counts, meters


def changed_tables(rows: List[tuple]) -> Dict[str, str]:
    """Reference tables the merge found changed: table -> its fingerprint on the device."""
    return {row[1]: row[2] or "" for row in rows if row and row[0] == CHANGED}


def describe_change(before: str, after: str) -> str:
    """What differs between two fingerprints, in words ("Id 7 ElArr1ConsPower -> Profile30")."""
    old = dict(item.split(":", 1) for item in before.split(",") if ":" in item)
    new = dict(item.split(":", 1) for item in after.split(",") if ":" in item)
    parts = []
    for key in sorted(set(old) | set(new), key=lambda k: int(k) if k.lstrip("-").isdigit() else 0):
        if old.get(key) != new.get(key):
            parts.append(f"Id {key}: {old.get(key, '(none)')} -> {new.get(key, '(none)')}")
    return "; ".join(parts[:5]) + (f" (+{len(parts) - 5} more)" if len(parts) > 5 else "")


def clear_begin(busy_timeout: float) -> str:
    """First step of a clear: take the lock, and say so."""
    return "\n".join(preamble(busy_timeout) + [
        "BEGIN IMMEDIATE;", f"SELECT quote('{LEDGER_READY}');"]) + "\n"


def ask_text(sql: str, number: int) -> Tuple[str, str, str]:
    """(script, begin marker, end marker) of one read query inside a running clear: its rows
    printed in quote mode between two markers unique to ``number``."""
    begin, end = f"GMD-BEGIN-{number}", f"{READY}-{number}"
    return (f".mode quote\nSELECT '{begin}';\n{sql.rstrip().rstrip(';')};\nSELECT '{end}';\n"
            ".mode list\n.separator ,\n", begin, end)


def asked_rows(text: str, begin: str, end: str) -> List[tuple]:
    """The rows a query of ``ask_text`` printed."""
    _, _, tail = text.partition(f"'{begin}'\n")
    body, found, _ = tail.partition(f"'{end}'")
    return parse_quoted(body) if found else []


def loads_query(with_info: bool) -> str:
    """The ledger's loads, quoted (see ledger.list_loads_sql)."""
    return ("SELECT " + ", ".join(f"quote(c{i})" for i in range(6)) + " FROM ("
            + ledger.list_loads_sql(with_info) + ");\n")
