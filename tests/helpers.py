"""Shared test helpers: database checksums and small queries on a real meter.db."""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
import time
from typing import Dict, List
from zoneinfo import ZoneInfo

# "Now" for tests of the seed API, whose records end at the current time (fixture seed_api_clock):
# a weekday afternoon in Moscow, away from midnights and month ends, so that no such test depends
# on the date it runs.
SEED_API_LOCAL = "2026-03-10T14:20"  # as the plugin's --meterdata-now takes it
SEED_API_NOW = int(dt.datetime.fromisoformat(SEED_API_LOCAL).replace(tzinfo=ZoneInfo("Europe/Moscow")).timestamp())


def table_checksums(path: str) -> Dict[str, str]:
    """sha256 of every table's rows in rowid order, plus its row count."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for table in tables:
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                digest.update(repr(row).encode())
                count += 1
            out[table] = f"{count}:{digest.hexdigest()}"
        return out
    finally:
        conn.close()


def execute(path: str, *statements: str) -> None:
    """Run statements on a database file and commit: to damage or adjust a test's copy."""
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def rows(path: str, sql: str, params=()) -> List[tuple]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def record_type(path: str, name: str) -> int:
    return rows(path, "SELECT Id FROM ArchTypes WHERE Name = ?", (name,))[0][0]


def energy_by_ts(path: str, device_idx: int, measure: str) -> Dict[int, Dict[int, tuple]]:
    """ts -> tariff -> (Ap, Am, Rp, Rm) of the valid records of one energy measure."""
    out: Dict[int, Dict[int, tuple]] = {}
    for ts, tariff, *values in rows(
            path, "SELECT m.Timestamp, e.Tariff, e.Ap, e.Am, e.Rp, e.Rm FROM MeterData m "
                  "JOIN ElectricEnergyValues e ON e.Id = m.Id JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                  "WHERE m.DeviceIdx = ? AND a.Name = ? AND m.Valid = 1 ORDER BY m.Timestamp",
            (device_idx, measure)):
        out.setdefault(ts, {})[tariff] = tuple(values)
    return out


def hold_lock(path: str, seconds: float, ready: threading.Event) -> None:
    """Hold an exclusive lock on a database for ``seconds`` (a busy device daemon)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def all_at_once(function, arguments):
    """Call ``function(argument)`` for every argument in its own thread, all released together;
    returns (results, errors) -- every failure is collected so a test can show them all."""
    barrier = threading.Barrier(len(arguments))
    results, errors = [], []

    def run(argument):
        barrier.wait()
        try:
            results.append(function(argument))
        except Exception as exc:  # collected for the test's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
