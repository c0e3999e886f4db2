"""A USPD stand-in: serves a meter.db over RTU-327 as the device does (``imitate uspd``).

Each request is answered from the file as it is at that moment (a read-only connection per
request), so a load made while the server runs is served.  The mapping is
``rtu327_mapping``'s; the result codes are the device's: 10 bad password, 60 bad check code,
5 unknown command, 6 bad parameters (an unknown or ambiguous meter too: **choice**), 2 no data,
3 the database could not be read (locked by a writer, damaged), 1 anything else.

It keeps serving whatever clients do: junk and partial frames are skipped within a small
buffer, a client that does not read its answers is dropped when its send stalls, a silent one
after ``idle_timeout``, at most ``max_connections`` at once (TCPService).
"""
from __future__ import annotations

import pathlib
import socket
import sqlite3
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..protocols.rtu327 import commands as c
from ..protocols.rtu327.client import password_bytes
from ..protocols.rtu327.frames import Command, Frame, Result, Splitter, encode_answer
from ..errors import InputError
from ..protocols.stream import StreamService
from ..schema.layout import QUALITY
from . import rtu327_mapping as m

#: A request body is at most 22 bytes; a larger declared length is junk, skipped at once.
MAX_REQUEST_BODY = 256
#: The largest answer body (NN is a UINT16), less the head.
MAX_ANSWER_DATA = 0xFFFF - 9
DEFAULT_VERSION = "020102"   # what the tested firmware answered to GETVERSION


#: ElMomentQuality tag -> "column:phase" of ElectricQualityValues, from the one layout
_QUALITY_CELL = {tag: f"{QUALITY.value_columns[i]}:{phase}" for tag, (phase, i) in QUALITY.tags.items()}
_QUALITY_SELECT = f"SELECT Phase, {', '.join(QUALITY.value_columns)} FROM ElectricQualityValues WHERE Id = ?"


class _Refused(Exception):
    """A request answered with a result code other than 0."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Rtu327Server(StreamService):
    """``Rtu327Server(db_path, password="00000000").start_tcp(host, port)``: the stand-in."""

    idle_timeout = 60.0
    send_timeout = 2.0

    def __init__(self, db_path: str, password: object = "00000000", version: str = DEFAULT_VERSION,
                 busy_timeout: float = 0.5) -> None:
        super().__init__()
        path = pathlib.Path(db_path)
        if not path.is_file():
            raise FileNotFoundError(f"{db_path}: no such meter.db")
        self.db_uri = path.resolve().as_uri() + "?mode=ro"
        self.password = password_bytes(password)
        self.version = version
        self.busy_timeout = busy_timeout
        self.clock_offset = 0           # SETTIME moves the stand-in's clock, never the host's
        self.log: List[c.LogEvent] = []  # the concentrator's own log: one event per SETTIME
        self.counters: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._handlers: Dict[int, Callable[[sqlite3.Connection, bytes], bytes]] = {
            Command.GETSHPRM: self._shprm, Command.GETPOK: self._pok, Command.GETLP: self._lp,
            Command.GETSHORTLP: self._shortlp, Command.GETLPCMN: self._lpcmn, Command.GETTESTS: self._tests,
            Command.GETAUTOREAD: self._autoread, Command.GETMTRLOG: self._mtrlog, Command.GETTOU: self._tou}

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + 1

    # ---- connections -------------------------------------------------------------------------------
    def serve_connection(self, connection: socket.socket) -> None:
        splitter = Splitter(MAX_REQUEST_BODY)
        while not self._stop.is_set():
            try:
                chunk = connection.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                return
            for kind, item in splitter.feed(chunk):
                if kind == "junk":
                    self._count("junk bytes skipped")
                    continue
                frame: Frame = item  # type: ignore[assignment]
                if kind == "crc":
                    self._count("bad check codes")
                    answer = encode_answer(Result.CRC_ERROR, b"", frame.packet)
                else:
                    answer = self.answer(frame)
                self._send(connection, answer)

    def _send(self, connection: socket.socket, data: bytes) -> None:
        """Send, giving up (and so dropping the client) when it reads nothing for send_timeout."""
        deadline = time.monotonic() + self.send_timeout
        view = memoryview(data)
        while view:
            try:
                sent = connection.send(view)
            except socket.timeout:
                if time.monotonic() > deadline:
                    raise
                continue
            view = view[sent:]

    # ---- requests -----------------------------------------------------------------------------------
    def answer(self, frame: Frame) -> bytes:
        """The answer packet to one request."""
        if frame.word != self.password:
            self._count("bad passwords")
            return encode_answer(Result.BAD_PASSWORD, b"", frame.packet)
        try:
            data = self._dispatch(frame.code, frame.data)
        except _Refused as refused:
            self._count(f"result {refused.code}")
            return encode_answer(refused.code, b"", frame.packet)
        except ValueError:
            self._count("bad parameters")
            return encode_answer(Result.BAD_PARAMETERS, b"", frame.packet)
        except sqlite3.Error:
            self._count("database errors")
            return encode_answer(Result.DB_ERROR, b"", frame.packet)
        except Exception:  # a bug must cost one answer, not the server
            self._count("server errors")
            return encode_answer(Result.SERVER_ERROR, b"", frame.packet)
        self._count("answers")
        return encode_answer(Result.OK, data, frame.packet)

    def _dispatch(self, command: int, data: bytes) -> bytes:
        if command == Command.GETVERSION:
            return c.encode_version(self.version)
        if command == Command.GETTIME:
            return c.encode_time(int(time.time()) + self.clock_offset)
        if command == Command.SETTIME:
            correction = c.parse_settime(data)
            with self._lock:
                self.clock_offset += correction
                self.log.append(c.LogEvent(len(self.log) + 1, int(time.time()) + self.clock_offset, 1))
            return b""
        if command == Command.GETMAXLOGID:
            return c.encode_maxlogid(len(self.log))
        if command == Command.GETLOG:
            _, first, count = c.parse_getlog(data)
            events = [e for e in self.log if e.event_id >= first][:count]
            if not events:
                raise _Refused(Result.NO_MORE_DATA)
            return c.encode_log(events)
        handler = self._handlers.get(command)
        if handler is None:
            raise _Refused(Result.BAD_COMMAND)
        db = sqlite3.connect(self.db_uri, uri=True, timeout=self.busy_timeout, check_same_thread=False)
        try:
            db.execute("BEGIN")   # one consistent read of the file for the whole answer
            return handler(db, data)
        finally:
            db.close()

    # ---- meter.db --------------------------------------------------------------------------------------
    @staticmethod
    def _type_ids(db: sqlite3.Connection, names: Sequence[str]) -> Dict[int, str]:
        marks = ", ".join("?" * len(names))
        return {row[0]: row[1] for row in db.execute(f"SELECT Id, Name FROM ArchTypes WHERE Name IN ({marks})",
                                                       tuple(names))}

    @staticmethod
    def _meter(db: sqlite3.Connection, digits: str) -> Tuple[int, str]:
        """(DeviceIdx, Serial) of the meter whose newest ElectricConfig serial is addressed by
        ``digits`` (6 bad parameters when none or several are)."""
        found: List[Tuple[int, str]] = []
        for device_idx, serial in db.execute(
                "SELECT c.DeviceIdx, c.Serial FROM ElectricConfig c WHERE c.Timestamp = "
                "(SELECT max(x.Timestamp) FROM ElectricConfig x WHERE x.DeviceIdx = c.DeviceIdx)"):
            text = str(serial or "").strip()
            if text.isdigit() and text.isascii() and c.address_digits(text) == digits:
                if device_idx not in [f[0] for f in found]:
                    found.append((device_idx, text))
        if len(found) != 1:
            raise _Refused(Result.BAD_PARAMETERS)
        return found[0]

    def _records(self, db: sqlite3.Connection, device_idx: int, measures: Sequence[str], table: str,
                 columns: str, where: str, params: tuple, order: str, limit: int) -> List[tuple]:
        types = self._type_ids(db, measures)
        if not types:
            return []
        marks = ", ".join("?" * len(types))
        return db.execute(f"SELECT d.Id, d.RecordTypeId, d.Timestamp, {columns} FROM MeterData d "
                          f"JOIN {table} v ON v.Id = d.Id WHERE d.DeviceIdx = ? AND d.RecordTypeId IN ({marks}) "
                          f"AND {where} ORDER BY {order} LIMIT ?",
                          (device_idx, *types) + params + (limit,)).fetchall()

    def _period(self, db: sqlite3.Connection, device_idx: int) -> int:
        rows = self._records(db, device_idx, (m.PROFILE_MEASURE,), "ElectricPowerValues", "v.Period",
                             "1", (), "d.Timestamp DESC", 1)
        return int(rows[0][3] or 0) if rows else 0

    def _shprm(self, db: sqlite3.Connection, data: bytes) -> bytes:
        if len(data) != 5:
            raise ValueError("GETSHPRM: NSH")
        device_idx, _ = self._meter(db, c.nsh_digits(data))
        meter = db.execute("SELECT t.RTUObjType, t.RTUObjNum, t.RTUFeederNum, y.Type FROM MeterTable t "
                           "LEFT JOIN MeterTypes y ON y.Id = t.TypeId WHERE t.DeviceIdx = ?", (device_idx,)).fetchone()
        config = db.execute("SELECT CurrentCoeff, VoltageCoeff, MeterConst FROM ElectricConfig WHERE DeviceIdx = ? "
                            "ORDER BY Timestamp DESC LIMIT 1", (device_idx,)).fetchone()
        if meter is None or config is None:
            raise _Refused(Result.BAD_PARAMETERS)
        kt, kn, const = (m.scaled(v, 1.0) for v in config)
        kind, number, feeder = (int(v or 0) for v in meter[:3])
        return c.encode_shprm(c.MeterParameters(m.SHPRM_VERSION, m.rtu_type(meter[3]), kt, kn, const,
                                                self._period(db, device_idx), kind, number, feeder))

    def _pok(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, channels, at = c.parse_pok(data)
        device_idx, _ = self._meter(db, digits)
        rows = self._records(db, device_idx, m.POK_MEASURES, "ElectricEnergyValues", "v.Ap, v.Am, v.Rp, v.Rm",
                             "d.Timestamp = ? AND v.Tariff = 0", (at,), "d.RecordTypeId", 10)
        if not rows:
            raise _Refused(Result.NO_MORE_DATA)
        types = self._type_ids(db, m.POK_MEASURES)
        rows.sort(key=lambda row: m.POK_MEASURES.index(types[row[1]]))
        values = dict(zip(c.POK_CHANNELS, rows[0][3:7]))
        return c.encode_pok([m.kwh(values[name]) for name in c.POK_CHANNELS if name in channels])

    def _profile(self, db: sqlite3.Connection, digits: str, channels: Sequence[str], start: int,
                 count: int) -> bytes:
        """Up to ``count`` intervals on the profile grid, from the first slot stamped at or after
        ``start`` (a slot stamped exactly at ``start`` included).  A grid interval meter.db has no
        slot for is sent as -1.0 with Stat bit 0 "no meter readings" (**choice**), so a head-end
        can tell which one is missing."""
        device_idx, _ = self._meter(db, digits)
        per_slot = 8 * len(channels) + 1
        count = min(count, 0x7FFF, (MAX_ANSWER_DATA - 7) // per_slot)
        if count <= 0:
            raise ValueError("GETLP: Kk 0")
        rows = self._records(db, device_idx, (m.PROFILE_MEASURE,), "ElectricPowerValues",
                             "v.Period, v.Pp, v.Pm, v.Qp, v.Qm, v.Partial, v.Overflow",
                             "d.Timestamp >= ?", (start,), "d.Timestamp", count)
        if not rows:
            raise _Refused(Result.NO_MORE_DATA)
        by_time = {row[2]: row for row in rows}
        step = int(rows[0][3] or 0) * 60
        first, newest = rows[0][2], rows[-1][2]
        slots: List[c.ProfileSlot] = []
        t = first
        while len(slots) < count and t <= newest:
            row = by_time.get(t)
            if row is None:
                slots.append(c.ProfileSlot((c.NO_VALUE,) * len(channels), c.STAT_NO_READINGS))
            else:
                period = row[3]
                values = dict(zip(c.LP_CHANNELS, row[4:8]))
                stat = (m.LP_FLAG_BITS["isOvfl"] if row[9] else 0) | (m.LP_FLAG_BITS["isPart"] if row[8] else 0)
                slots.append(c.ProfileSlot(tuple(m.slot_kwh(values[name], period) for name in c.LP_CHANNELS
                                                 if name in channels), stat))
            last = t
            if step <= 0:
                break
            t += step
        return c.encode_lp(c.Profile(tuple(channels), 0, last, tuple(slots)))

    def _lp(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, channels, start, count = c.parse_lp(data)
        return self._profile(db, digits, channels, start, count)

    def _shortlp(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, channels, _interval, start, count = c.parse_shortlp(data)
        return self._profile(db, digits, channels, start, count)

    def _lpcmn(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, kind, channels, start, count = c.parse_lpcmn(data)
        if kind != c.LPCMN_LOAD_PROFILE:
            raise _Refused(Result.BAD_PARAMETERS)
        return self._profile(db, digits, channels, start, count)

    def _tests(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, start, count = c.parse_tests(data)
        device_idx, _ = self._meter(db, digits)
        if count <= 0:
            raise ValueError("GETTESTS: NumTests 0")
        types = self._type_ids(db, (m.TESTS_MEASURE,))
        headers = db.execute("SELECT Id, Timestamp FROM MeterData WHERE DeviceIdx = ? AND RecordTypeId = ? "
                             "AND Timestamp >= ? ORDER BY Timestamp LIMIT ?",
                             (device_idx, next(iter(types), -1), start, count)).fetchall()
        if not headers:
            raise _Refused(Result.NO_MORE_DATA)
        records = []
        for record_id, stamp in headers:
            cells: Dict[str, object] = {}
            for phase, *values in db.execute(_QUALITY_SELECT, (record_id,)):
                cells.update({f"{column}:{phase}": value for column, value in zip(QUALITY.value_columns, values)})
            records.append(c.TestRecord(stamp, {name: m.scaled(cells.get(_QUALITY_CELL[tag]), divisor)  # type: ignore[arg-type]
                                                for name, (tag, divisor) in m.TESTS_TAGS.items()}))
        return c.encode_tests(c.Tests(c.DEVICE_TEST_FIELDS, m.TESTS_ELEMENTS, tuple(records)))

    def _autoread(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, day, kanal, count = c.parse_autoread(data)
        device_idx, serial = self._meter(db, digits)
        if not 1 <= kanal <= 4 or count <= 0:
            raise ValueError("GETAUTOREAD: Kanal 1-4, Kk > 0")
        column = ("Ap", "Am", "Rp", "Rm")[kanal - 1]
        rows = self._records(db, device_idx, m.AUTOREAD_MEASURES, "ElectricEnergyValues", f"v.Tariff, v.{column}",
                             "d.Timestamp > ? AND v.Tariff BETWEEN 1 AND 4", (day,), "d.Timestamp, d.RecordTypeId",
                             count * 2 * 4)
        types = self._type_ids(db, m.AUTOREAD_MEASURES)
        by_time: Dict[int, Dict[str, Dict[int, Optional[float]]]] = {}
        for _, type_id, stamp, tariff, value in rows:
            by_time.setdefault(stamp, {}).setdefault(types[type_id], {})[tariff] = value
        records = []
        for stamp in sorted(by_time)[:count]:
            archives = by_time[stamp]
            tariffs = next(archives[name] for name in m.AUTOREAD_MEASURES if name in archives)
            records.append(c.AutoRead(serial, stamp, tuple(m.kwh(tariffs.get(t)) for t in m.AUTOREAD_TARIFFS)))  # type: ignore[arg-type]
        if not records:
            raise _Refused(Result.NO_MORE_DATA)
        return c.encode_autoread(records)

    def _mtrlog(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, start, count = c.parse_mtrlog(data)
        device_idx, _ = self._meter(db, digits)
        count = min(count, MAX_ANSWER_DATA // 6)
        if count <= 0:
            raise ValueError("GETMTRLOG: Cnt 0")
        types = self._type_ids(db, tuple(m.EVENT_TYPES))
        rows = self._records(db, device_idx, tuple(m.EVENT_TYPES), "JournalValues", "v.Event",
                             "d.Timestamp >= ?", (start,), "d.RecordTypeId, d.Timestamp", 0x7FFFFFFF)
        events = []
        for _, type_id, stamp, event in rows:
            code = m.EVENT_TYPES[types[type_id]].get(int(event or 0))
            if code is not None:      # an Event the evidence gives no evType for is not sent (choice)
                events.append((stamp, code))
            if len(events) == count:
                break
        if not events:
            raise _Refused(Result.NO_MORE_DATA)
        return c.encode_mtrlog(events)

    def _tou(self, db: sqlite3.Connection, data: bytes) -> bytes:
        digits, kanal = c.parse_tou(data)
        device_idx, _ = self._meter(db, digits)
        if not 1 <= kanal <= 4:
            raise ValueError("GETTOU: Kanal 1-4")
        column = ("Ap", "Am", "Rp", "Rm")[kanal - 1]
        readings = []
        newest = 0x7FFFFFFF
        for measure in ("ElMomentEnergy", "ElDayEnergy"):   # choice: now, and the midnight before it
            rows = self._records(db, device_idx, (measure,), "ElectricEnergyValues", "1", "d.Timestamp <= ?",
                                 (newest,), "d.Timestamp DESC", 1)
            if not rows:
                raise _Refused(Result.NO_MORE_DATA)
            newest = rows[0][2]
            tariffs = dict(db.execute(f"SELECT Tariff, {column} FROM ElectricEnergyValues WHERE Id = ?", (rows[0][0],)))
            readings.append(c.TouReading(rows[0][2], tuple(m.kwh(tariffs.get(t)) for t in range(5))))  # type: ignore[arg-type]
        return c.encode_tou(readings[0], readings[1])


def check(command: str, args) -> None:
    """``imitate uspd`` serves RTU-327 over TCP only, and needs the meter.db (``--db``)."""
    if command != "imitate":
        return
    if not args.db:
        raise InputError("imitate uspd: give the meter.db to serve with --db FILE")
    url = args.url or ""
    if args.pty or args.serve_port or (url and not url.startswith("tcp://")):
        raise InputError("imitate uspd serves RTU-327 over TCP: give --listen HOST:PORT, not --pty, --port or a "
                         "non-TCP --url")


def imitator(args, meter) -> Tuple["Rtu327Server", str]:
    """The stand-in of ``imitate uspd --db FILE [--listen HOST:PORT] [--password PW]`` (``meter`` is
    not used: it serves the file's meters); the note names the file."""
    try:
        server = Rtu327Server(args.db, password=args.password)
        probe = sqlite3.connect(server.db_uri, uri=True, timeout=5)
        try:
            tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            probe.close()
        if not {"MeterData", "ArchTypes", "ElectricConfig"} <= tables:
            raise InputError(f"{args.db} is not a meter.db (no MeterData, ArchTypes, ElectricConfig tables)")
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{args.db} is not a meter.db ({exc})") from None
    except ValueError as exc:
        raise InputError(f"--password: {exc}") from None
    return server, f", serving {args.db} over RTU-327"
