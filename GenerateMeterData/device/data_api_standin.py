"""A STAND-IN for the device's data-API program, ``meter_db_data_api``.

The device's own program cannot run here; this one is built from the evidence of the device's
testers (device-contract.md §2: smart40_tests' reading of meter.db behind every GET it checks,
Template_read_handler_table.py, and a captured real answer, um40_smart_framework Setup.py line 35)
and named as such.  Run it as the device runs its program: one JSON request on stdin, one JSON
answer on stdout::

    echo '{"method":"get","measures":["ElConfig"],"flags":["allMeters"]}' | \\
        python3 -m GenerateMeterData.device.data_api_standin --db meter.db

What it does, from the evidence: values 1:1 from meter.db, tags named and placed as
``schema/layout.py`` says (the config flags by position), flags as JSON booleans, ``ts`` =
``MeterData.Timestamp`` (a config's own Timestamp); meters chosen by ``devices`` (DeviceIdx),
``ids`` (MeterTable.MeterId), ``serials`` (``ElectricConfig.Serial LIKE '%s%'``, for every
measure) or the flag ``allMeters``, one entry per meter and selector, in that order; ``time``
ranges inclusive at both ends (none: all time); ``lastTime``: each meter's newest record in
them; a meter without data ``"vals": null``.  What it chose where the evidence is silent
(records in ascending time, tags in the order asked or, asked for none, sorted by name as the
captured answer has them; a header without value rows not served; ``diff`` not sent; an error
as ``{"res": 1, "error": ...}``): docs/data-api.md.  It only reads: a POST is refused.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import InputError
from ..schema import layout
from . import data_api

#: Bytes of request read from stdin at most.
MAX_REQUEST = 16 * 1024 * 1024
#: Variables per IN (...) list: well below SQLite's oldest limit of 999.
CHUNK = 500
ERROR = 1


class RequestError(Exception):
    """The request cannot be answered: answered ``{"res": 1, "error": <text>}``."""


def _connect(path: str) -> sqlite3.Connection:
    """meter.db, read-only (a URI: as_uri() escapes a '?' or '#' in the path)."""
    if not os.path.isfile(path):
        raise RequestError(f"meter.db {path} does not exist")
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=10)


def _ints(request: Mapping[str, Any], key: str) -> List[int]:
    values = request.get(key) or []
    if not isinstance(values, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise RequestError(f"{key} must be a list of integers")
    return values


def _meters(conn: sqlite3.Connection, request: Mapping[str, Any], flags: Sequence[str]) -> List[Tuple[int, int]]:
    """(DeviceIdx, MeterId) of every meter the request names, per selector, in the evidence's order."""
    if data_api.ALL_METERS in flags:
        return list(conn.execute("SELECT DeviceIdx, MeterId FROM MeterTable ORDER BY DeviceIdx"))
    out: List[Tuple[int, int]] = []
    for key, column in (("devices", "DeviceIdx"), ("ids", "MeterId")):
        for value in _ints(request, key):
            out += list(conn.execute(f"SELECT DeviceIdx, MeterId FROM MeterTable WHERE {column} = ?", (value,)))
    serials = request.get("serials") or []
    if not isinstance(serials, list):
        raise RequestError("serials must be a list")
    for serial in serials:
        out += list(conn.execute(
            "SELECT DISTINCT t.DeviceIdx, t.MeterId FROM MeterTable t JOIN ElectricConfig c ON c.DeviceIdx = t.DeviceIdx "
            "WHERE c.Serial LIKE '%' || ? || '%' ORDER BY t.DeviceIdx", (str(serial),)))
    return out


def _time_filter(request: Mapping[str, Any], column: str) -> Tuple[str, List[int]]:
    ranges = request.get("time") or []
    if not isinstance(ranges, list):
        raise RequestError("time must be a list of {start, end}")
    parts: List[str] = []
    params: List[int] = []
    for entry in ranges:
        if not isinstance(entry, Mapping):
            raise RequestError("time must be a list of {start, end}")
        start, end = entry.get("start"), entry.get("end")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, end)):
            raise RequestError("time start and end must be integers")
        parts.append(f"({column} >= ? AND {column} <= ?)")
        params += [int(start), int(end)]  # type: ignore[arg-type]  # both checked int above
    return (" AND (" + " OR ".join(parts) + ")" if parts else ""), params


def _serial(conn: sqlite3.Connection, device_idx: int) -> str:
    """The meter's serial: its newest config row's (ElectricConfig first, as the evidence selects
    serials there for every measure), '' without one."""
    for table in layout.CONFIG_TABLES:
        row = conn.execute(f"SELECT Serial FROM {table} WHERE DeviceIdx = ? ORDER BY Timestamp DESC LIMIT 1",
                           (device_idx,)).fetchone()
        if row is not None and row[0] is not None:
            return str(row[0])
    return ""


def _served(cell: data_api.Cell, value: object) -> object:
    if cell.boolean and value is not None:
        return bool(value)
    return value


def _records(conn: sqlite3.Connection, measure: str, device_idx: int, tags: Sequence[str],
             request: Mapping[str, Any], last_time: bool) -> List[Dict[str, Any]]:
    """The vals of one meter for one measure."""
    table = data_api.measure_table(measure)
    cells = [data_api.cell(measure, tag) for tag in tags]
    order = " ORDER BY {ts} DESC LIMIT 1" if last_time else " ORDER BY {ts}"
    if table in layout.CONFIG_TABLES:
        where, params = _time_filter(request, "Timestamp")
        columns = ", ".join(c.column for c in cells) or "NULL"  # type: ignore[union-attr]
        rows = conn.execute(f"SELECT Timestamp, {columns} FROM {table} WHERE DeviceIdx = ?{where}"
                            + order.format(ts="Timestamp") + (", rowid" if not last_time else ""),
                            [device_idx] + params).fetchall()
        return [{"ts": row[0], "tags": [{"tag": tag, "val": _served(c, v)}  # type: ignore[arg-type]
                                        for tag, c, v in zip(tags, cells, row[1:])]} for row in rows]
    family = layout.FAMILIES[table]
    type_row = conn.execute("SELECT Id FROM ArchTypes WHERE Name = ?", (measure,)).fetchone()
    if type_row is None:
        return []
    where, params = _time_filter(request, "m.Timestamp")
    headers = conn.execute(
        f"SELECT m.Id, m.Timestamp FROM MeterData m WHERE m.DeviceIdx = ? AND m.RecordTypeId = ?{where}"
        f" AND EXISTS (SELECT 1 FROM {table} v WHERE v.Id = m.Id)"
        + order.format(ts="m.Timestamp") + (", m.Id" if not last_time else ""),
        [device_idx, type_row[0]] + params).fetchall()
    key = family.key_column
    columns = ", ".join(family.value_columns)
    cells_of: Dict[int, Dict[object, tuple]] = {}
    ids = [header[0] for header in headers]
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        for row in conn.execute(f"SELECT Id, {key or 'NULL'}, {columns} FROM {table} "
                                f"WHERE Id IN ({', '.join('?' * len(part))})", part):
            cells_of.setdefault(row[0], {})[row[1]] = row[2:]
    # where each asked tag is, worked out once: (tag, row key, position in the row, boolean)
    places = [(tag, c.row_key, family.value_columns.index(c.column), c.boolean)  # type: ignore[union-attr]
              for tag, c in zip(tags, cells)]
    out = []
    for record_id, ts in headers:
        found = cells_of.get(record_id, {})
        values = []
        for tag, row_key, position, boolean in places:
            row = found.get(row_key)
            value = None if row is None else row[position]
            if boolean and value is not None:
                value = bool(value)
            values.append({"tag": tag, "val": value})
        out.append({"ts": ts, "tags": values})
    return out


def answer(conn: sqlite3.Connection, request: object) -> Dict[str, Any]:
    """The answer to one request (``{"res": 1, "error": ...}`` when it cannot be answered)."""
    try:
        return _answer(conn, request)
    except RequestError as exc:
        return {"res": ERROR, "error": str(exc)}
    except InputError as exc:
        return {"res": ERROR, "error": str(exc)}


def _answer(conn: sqlite3.Connection, request: object) -> Dict[str, Any]:
    if not isinstance(request, Mapping):
        raise RequestError("the request is not a JSON object")
    method = request.get("method")
    if method != "get":
        raise RequestError(f"method {method!r}: this stand-in answers get only (it never writes meter.db)")
    measures = request.get("measures")
    if not isinstance(measures, list) or not all(isinstance(m, str) for m in measures):
        raise RequestError("measures must be a list of ArchTypes names")
    flags = request.get("flags") or []
    if not isinstance(flags, list) or any(flag not in data_api.FLAGS for flag in flags):
        raise RequestError(f"flags must be a list of {' / '.join(data_api.FLAGS)}")
    asked = request.get("tags") or []
    if not isinstance(asked, list) or not all(isinstance(t, str) for t in asked):
        raise RequestError("tags must be a list of tag names")
    meters = _meters(conn, request, flags)
    serials: Dict[int, str] = {}
    out = []
    for measure in measures:
        data_api.measure_table(measure)
        if asked:
            unknown = [tag for tag in asked if data_api.cell(measure, tag) is None]
            if unknown:
                raise RequestError(f"measure {measure} has no tag {unknown[0]!r}")
            tags: Sequence[str] = asked
        else:
            tags = sorted(data_api.served_tags(measure))
        devices = []
        for device_idx, meter_id in meters:
            if device_idx not in serials:
                serials[device_idx] = _serial(conn, device_idx)
            vals = _records(conn, measure, device_idx, tags, request, data_api.LAST_TIME in flags)
            devices.append({"deviceIdx": device_idx, "meter": meter_id, "serial": serials[device_idx],
                            "vals": vals or None})
        out.append({"measure": measure, "devices": devices})
    return {"measures": out, "res": 0}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="data_api_standin",
                                     description="A stand-in for the device's meter_db_data_api: one JSON request "
                                                 "on stdin, its answer from meter.db on stdout.")
    parser.add_argument("--db", required=True, help="the meter.db to answer from (opened read-only)")
    args = parser.parse_args(argv)
    raw = sys.stdin.buffer.read(MAX_REQUEST + 1)
    try:
        if len(raw) > MAX_REQUEST:
            raise RequestError(f"the request is larger than {MAX_REQUEST} bytes")
        try:
            request = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RequestError("the request is not JSON") from None
        conn = _connect(args.db)
        try:
            try:
                result = answer(conn, request)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise RequestError(f"meter.db {args.db}: {exc}") from None
    except RequestError as exc:
        result = {"res": ERROR, "error": str(exc)}
    sys.stdout.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
