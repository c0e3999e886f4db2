"""The device's JSON data API (``meter_db_data_api``): its requests, its answers, and running it.

The device runs a program that reads ONE JSON request on stdin and prints one JSON answer
(``/etc/opt/uspd/meter_db_data_api/meter_db_data_api``; settings key ``data_api``).  What this
module knows of it is the evidence of the device's testers (the project's reference note
``device-contract.md`` §2; ``docs/data-api.md`` says what is evidence and what is choice):

- GET ``{"method": "get", "measures": [name ...], "devices": [DeviceIdx ...], "ids": [MeterId ...],
  "serials": [...], "tags": [...], "time": [{"start", "end"}], "flags": ["allMeters" | "lastTime"]}``;
- its answer ``{"measures": [{"measure", "devices": [{"deviceIdx", "meter", "serial",
  "vals": [{"ts", "diff", "tags": [{"tag", "val"}]}] | null}]}], "res": 0}``;
- values pass 1:1 (no scaling), ``ts`` is ``MeterData.Timestamp``, flags are JSON booleans, tags
  map to rows and columns as ``schema/layout.py`` says (the config flags by position).

Running the program is bounded: a timeout, a cap on the answer's size and on what it says on
stderr; anything that is not an answer of ``res`` 0 is one :class:`DataApiError`, one line.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import (Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from ..errors import InputError, ProtocolError, _WithFields
from ..schema import layout
from ..settings import DEFAULT_DATA_API

DEFAULT_PATH = DEFAULT_DATA_API
#: Seconds one request may take, start to end of the answer.
DEFAULT_TIMEOUT = 60.0
#: Bytes an answer may have (a month of a 30-minute profile of 100 meters is about 40 MB).
DEFAULT_MAX_ANSWER = 64 * 1024 * 1024
#: Bytes of the program's stderr kept for the error message (the rest is discarded on the device).
STDERR_KEEP = 4096
ALL_METERS, LAST_TIME = "allMeters", "lastTime"
FLAGS = (ALL_METERS, LAST_TIME)
#: The module a local target runs as its data API: the stand-in (device/data_api_standin.py).
STANDIN_MODULE = "GenerateMeterData.device.data_api_standin"


class DataApiError(_WithFields, ProtocolError):
    """The data-API program could not be run, stalled, flooded, or gave no answer of ``res`` 0;
    carries ``where`` (the program and host), ``res`` (the answer's code, if any) and ``detail``."""

    _fields = ("where", "res", "detail")
    #: The device (its program) failed, as a target does: not 1, which ``check`` keeps for
    #: "values served differently".
    exit_code = 3

    def _compose(self) -> str:
        code = "" if self.res is None else f" (res {self.res})"  # type: ignore[attr-defined]
        return f"{self.where or 'data API'}: {self.detail or 'failed'}{code}"  # type: ignore[attr-defined]


def _one_line(text: str, limit: int = 200) -> str:
    """A message's worth of ``text``: its first non-empty line, cut at ``limit`` characters."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[:limit] + "..."


# ---- which tags the data API serves, from the one home of tags (schema/layout.py) -------------
#: Columns of a value table that are no tag of the data API: the channel count of pulse and
#: digital rows (the testers' tag lists, smart40_tests Template_list_ArchTypes.py lines 54-63, hold
#: Pls1..32 and Chnl1..32 only; a config's channel count is its tag chnl / chnlIn / chnlOut).
NOT_SERVED_COLUMNS = frozenset({"Channels"})
#: Columns of a config row that travel as ``deviceIdx`` and ``ts``, not as tags.
CONFIG_HEADER_COLUMNS = frozenset({"DeviceIdx", "Timestamp"})
#: Columns the data API serves as JSON true/false (the testers post and read booleans for these
#: tags: smart40_tests Template_MeterJSON/Template_generator_field_tags.py, lines 79-88).
BOOLEAN_COLUMNS: Dict[str, FrozenSet[str]] = {
    "ElectricConfig": frozenset({"DST", "Clock", "Tariff", "Reactive", "ActiveReverse", "ReactiveReverse"}),
    "PulseConfig": frozenset({"DST"}),
    "DigitalConfig": frozenset({"DST"}),
    "ElectricPowerValues": frozenset({"Partial", "Overflow", "Season"}),
    "DigitalValues": frozenset(layout.CHANNEL_COLUMNS),
}


@dataclass(frozen=True)
class Cell:
    """Where one tag of one measure lives: the table, the row key (Tariff/Phase, None for a
    one-row table or a config) and the column."""

    table: str
    row_key: object
    column: str

    @property
    def boolean(self) -> bool:
        """Served as a JSON boolean."""
        return self.column in BOOLEAN_COLUMNS.get(self.table, ())


def measure_table(measure: str) -> str:
    """The value (or config) table of a measure; InputError naming it when no ArchTypes name."""
    try:
        return layout.MEASURE_TABLE[measure]
    except KeyError:
        raise InputError(f"unknown measure {measure!r} (an ArchTypes name such as ElDayEnergy)") from None


def served_tags(measure: str) -> Tuple[str, ...]:
    """Every tag the data API serves for ``measure``, in the layout's order."""
    return tuple(_cells(measure_table(measure)))


_CELLS: Dict[str, Dict[str, Cell]] = {}


def _cells(table: str) -> Dict[str, Cell]:
    """{API tag: Cell} of one table, derived from layout.CONFIG_TAGS / layout.FAMILIES."""
    cells = _CELLS.get(table)
    if cells is None:
        cells = {}
        if table in layout.CONFIG_TAGS:
            for tag, column in layout.CONFIG_TAGS[table].items():
                if tag != column and column not in CONFIG_HEADER_COLUMNS:
                    cells[tag] = Cell(table, None, column)
        else:
            family = layout.FAMILIES[table]
            for tag, (key, position) in family.tags.items():
                column = family.value_columns[position]
                if column not in NOT_SERVED_COLUMNS:
                    cells[tag] = Cell(table, key, column)
        _CELLS[table] = cells
    return cells


def cell(measure: str, tag: str) -> Optional[Cell]:
    """The cell of an API tag of ``measure`` (None: the data API serves no such tag)."""
    return _cells(measure_table(measure)).get(tag)


def api_tag(measure: str, tag: str) -> Optional[str]:
    """The data API's name of ``tag`` (an API tag, or a config column name such as ``Reactive``
    -> ``isAm``); None when the data API serves no such value (``Channels``, ``Valid`` ..., and
    what is no measure at all: a ``MeterTable`` row is the settings API's, not the data API's)."""
    if measure not in layout.MEASURE_TABLE:
        return None
    table = measure_table(measure)
    cells = _cells(table)
    if tag in cells:
        return tag
    column = layout.CONFIG_TAGS.get(table, {}).get(tag)
    if column is not None:
        return next((name for name, where in cells.items() if where.column == column), None)
    return None


# ---- requests -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeRange:
    """A ``time`` filter entry: records with start <= ts <= end (both ends inclusive)."""

    start: int
    end: int

    def as_json(self) -> Dict[str, int]:
        return {"start": self.start, "end": self.end}


def _ints(name: str, values: Iterable[object]) -> List[int]:
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"data API request: {name} must be integers, got {value!r}")
        out.append(value)
    return out


def get_request(measures: Iterable[str], *, devices: Iterable[int] = (), ids: Iterable[int] = (),
                serials: Iterable[str] = (), tags: Iterable[str] = (),
                time: Iterable[Union[TimeRange, Tuple[int, int]]] = (), all_meters: bool = False,
                last_time: bool = False) -> Dict[str, Any]:
    """A GET request: ``measures`` (ArchTypes names) of the meters named by ``devices``
    (DeviceIdx), ``ids`` (MeterTable.MeterId) or ``serials`` (or every meter: ``all_meters``),
    the ``tags`` asked for (none: every tag), ``time`` ranges (inclusive; none: all time),
    ``last_time``: only each meter's newest record.  Keys with nothing to say are left out, as
    the testers' captured request leaves them (um40_smart_framework Setup.py, line 36)."""
    names = list(measures)
    for name in names:
        measure_table(name)
    ranges = []
    for entry in time:
        start, end = (entry.start, entry.end) if isinstance(entry, TimeRange) else entry
        ranges.append(TimeRange(*_ints("time ranges", (start, end))).as_json())
    request: Dict[str, Any] = {"method": "get", "measures": names}
    for key, values in (("devices", _ints("devices", devices)), ("ids", _ints("ids", ids)),
                        ("serials", [str(serial) for serial in serials])):
        if values:
            request[key] = values
    request["tags"] = [str(tag) for tag in tags]
    request["time"] = ranges
    request["flags"] = [flag for flag, on in ((ALL_METERS, all_meters), (LAST_TIME, last_time)) if on]
    return request


def post_request(measure: str, records: Mapping[int, Sequence[Tuple[int, Mapping[str, object]]]]) -> Dict[str, Any]:
    """A POST request writing ``records`` of one measure: {DeviceIdx: [(ts, {tag: value})]}
    (the shape of device-contract.md §2; answered ``{"res": 0}``)."""
    measure_table(measure)
    devices = [{"id": device, "vals": [{"ts": ts, "tags": [{"tag": tag, "val": val} for tag, val in tags.items()]}
                                       for ts, tags in vals]}
               for device, vals in records.items()]
    return {"method": "post", "measures": [{"measure": measure, "devices": devices}]}


def encode(request: Mapping[str, Any]) -> bytes:
    """A request as the bytes sent to the program's stdin (one line of JSON)."""
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


# ---- answers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """One record a device served: its ``ts``, the clock difference ``diff`` when sent, and the
    values by tag (in the order served)."""

    ts: int
    tags: Dict[str, object] = field(hash=False)
    diff: Optional[int] = None


@dataclass(frozen=True)
class DeviceData:
    """What the answer holds for one measure of one meter (``vals`` None: no data)."""

    measure: str
    device_idx: Optional[int]
    meter_id: Optional[int]
    serial: Optional[str]
    vals: Optional[Tuple[Reading, ...]]


def decode(answer: Union[bytes, str, Mapping[str, Any]], where: str = "data API") -> Dict[str, Any]:
    """The answer as a JSON object with ``res`` 0, else one DataApiError."""
    if isinstance(answer, (bytes, bytearray)):
        try:
            answer = bytes(answer).decode("utf-8")
        except UnicodeDecodeError:
            raise DataApiError(where=where, detail="the answer is not UTF-8 text") from None
    if isinstance(answer, str):
        if not answer.strip():
            raise DataApiError(where=where, detail="no answer (nothing on stdout)")
        try:
            answer = json.loads(answer)
        except ValueError:
            raise DataApiError(where=where, detail=f"the answer is not JSON: {_one_line(str(answer), 80)!r}") from None
    if not isinstance(answer, Mapping):
        raise DataApiError(where=where, detail=f"the answer is not a JSON object but {type(answer).__name__}")
    res = answer.get("res")
    if res != 0 or isinstance(res, bool):
        said = answer.get("error") or answer.get("err") or answer.get("message")
        detail = "the program refused the request" + (f": {_one_line(str(said))}" if said else "")
        if res is None:
            detail = "the answer has no res"
        raise DataApiError(where=where, res=res, detail=detail)
    return dict(answer)


def _bad(where: str, path: str, what: str) -> DataApiError:
    return DataApiError(where=where, detail=f"the answer's {path} {what}")


def parse_answer(answer: Union[bytes, str, Mapping[str, Any]], where: str = "data API") -> List[DeviceData]:
    """The devices of a GET answer, as typed records, in the order served."""
    data = decode(answer, where)
    measures = data.get("measures")
    if measures is None:
        return []
    if not isinstance(measures, list):
        raise _bad(where, "measures", "is not a list")
    out: List[DeviceData] = []
    for m, entry in enumerate(measures):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("measure"), str):
            raise _bad(where, f"measures[{m}]", "has no measure name")
        devices = entry.get("devices") or []
        if not isinstance(devices, list):
            raise _bad(where, f"measures[{m}].devices", "is not a list")
        for d, device in enumerate(devices):
            path = f"measures[{m}].devices[{d}]"
            if not isinstance(device, Mapping):
                raise _bad(where, path, "is not an object")
            vals = device.get("vals")
            readings: Optional[Tuple[Reading, ...]] = None
            if vals is not None:
                if not isinstance(vals, list):
                    raise _bad(where, f"{path}.vals", "is neither a list nor null")
                readings = tuple(_reading(where, f"{path}.vals[{v}]", val) for v, val in enumerate(vals))
            serial = device.get("serial")
            out.append(DeviceData(entry["measure"], _optional_int(where, f"{path}.deviceIdx", device.get("deviceIdx")),
                                  _optional_int(where, f"{path}.meter", device.get("meter")),
                                  None if serial is None else str(serial), readings))
    return out


def _optional_int(where: str, path: str, value: object) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, path, f"is not an integer: {value!r}")
    return value


def _reading(where: str, path: str, val: object) -> Reading:
    # json.loads gives dict and list: checked as such (an isinstance against the abstract
    # Mapping costs more than the rest of a reading)
    if not isinstance(val, dict):
        raise _bad(where, path, "is not an object")
    ts = val.get("ts")
    if type(ts) is not int:
        ts = _optional_int(where, f"{path}.ts", ts)
        if ts is None:
            raise _bad(where, f"{path}.ts", "is missing")
    tags: Dict[str, object] = {}
    for index, item in enumerate(val.get("tags") or ()):
        if type(item) is not dict or type(item.get("tag")) is not str:
            raise _bad(where, f"{path}.tags[{index}]", 'is not {"tag", "val"}')
        tags[item["tag"]] = item.get("val")
    diff = val.get("diff")
    return Reading(ts, tags, diff if isinstance(diff, int) and not isinstance(diff, bool) else None)


# ---- running the program ------------------------------------------------------------------
class LocalProgram:
    """The data API as a program on this machine (the stand-in for a local meter.db): one
    subprocess per request, killed at the timeout or when its answer passes ``max_answer``."""

    def __init__(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT,
                 max_answer: int = DEFAULT_MAX_ANSWER) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.max_answer = max_answer
        self.where = f"data API {shlex.join(self.argv)}"

    def exchange(self, request: bytes) -> bytes:
        """Send one request, return the program's stdout (DataApiError on any failure)."""
        posix = os.name == "posix"
        try:
            # its own process group (POSIX): stopping it stops what it started too
            process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=posix)
        except OSError as exc:
            raise DataApiError(where=self.where, detail=f"cannot run it ({exc.strerror or exc})") from None
        out, err = bytearray(), bytearray()
        overflow = threading.Event()
        stdout, stderr, stdin = process.stdout, process.stderr, process.stdin
        assert stdout is not None and stderr is not None and stdin is not None   # all three are PIPEs

        def stop() -> None:
            try:
                if posix:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            except OSError:  # already gone
                pass

        def read_out() -> None:
            while True:
                chunk = stdout.read1(65536)  # type: ignore[attr-defined]  # a BufferedReader
                if not chunk:
                    return
                out.extend(chunk)
                if len(out) > self.max_answer:
                    overflow.set()
                    stop()
                    return

        def read_err() -> None:
            while True:
                chunk = stderr.read1(65536)  # type: ignore[attr-defined]  # a BufferedReader
                if not chunk:
                    return
                if len(err) < STDERR_KEEP:
                    err.extend(chunk[:STDERR_KEEP - len(err)])

        def write_in() -> None:
            try:
                stdin.write(request)
            except OSError:  # it ended before reading: its answer and status tell why
                pass
            finally:
                try:
                    stdin.close()
                except OSError:
                    pass

        threads = [threading.Thread(target=work, daemon=True) for work in (read_out, read_err, write_in)]
        for thread in threads:
            thread.start()
        try:
            status = process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            stop()
            process.wait()
            raise DataApiError(where=self.where, detail=f"no answer within {self.timeout:g} s (stalled); "
                                                        "it was stopped") from None
        finally:
            if posix:  # what it left running in its group holds the pipes open
                stop()
            for thread in threads:
                thread.join(5)
            for stream in (stdout, stderr):
                stream.close()
        if overflow.is_set():
            raise DataApiError(where=self.where, detail=f"the answer passed {self.max_answer} bytes (flooding?); "
                                                        "it was stopped")
        return _checked(self.where, bytes(out), status, bytes(err).decode("utf-8", "replace"))

    def close(self) -> None:
        """Nothing to close: each request is its own process."""


_EXIT_MARK = "gmd-data-api-exit="
_EXIT_RE = re.compile(re.escape(_EXIT_MARK) + r"(\d+)")


def _checked(where: str, out: bytes, status: Optional[int], err: str) -> bytes:
    """stdout when the program gave something to read; else one error with its status and stderr."""
    if out.strip():
        return out
    said = _one_line(err)
    if status:
        raise DataApiError(where=where, detail=f"exited with status {status} and no answer"
                                               + (f": {said}" if said else ""))
    raise DataApiError(where=where, detail="no answer (nothing on stdout)" + (f"; stderr: {said}" if said else ""))


class SshProgram:
    """The data API as the device's own program, run over SSH (the Executor's public ``start``,
    and ``write``, ``close_stdin``, ``finish``, ``abort`` of the process it returns): its path
    shell-quoted, through ``sudo -n`` when the settings say ``sudo``, its stdout counted as it
    arrives (stopped past ``max_answer``), its stderr cut to STDERR_KEEP bytes on the device."""

    def __init__(self, settings, path: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT,
                 max_answer: int = DEFAULT_MAX_ANSWER) -> None:
        self.settings = settings
        self.path = path or getattr(settings, "data_api", None) or DEFAULT_PATH
        self.timeout = timeout
        self.max_answer = max_answer
        self.where = f"{settings.where}: data API {self.path}"
        self.executor = None

    def command(self) -> str:
        """The remote command (POSIX sh, as busybox runs it): the program with stdout as it is,
        stderr through ``head -c`` (a flood stays on the device), stopped by a watcher when it
        outlives the timeout (closing the channel alone leaves a stalled program running), and
        its exit status on stderr after it."""
        program = ("sudo -n " if getattr(self.settings, "sudo", False) else "") + shlex.quote(self.path)
        seconds = int(math.ceil(self.timeout)) + 1
        # the program in the background keeps the request on stdin only through an explicit
        # redirection (fd 5): an asynchronous list otherwise reads /dev/null; the watcher's own
        # sleep ends with it (trap), so nothing is left behind on the device
        return (f"{{ {{ exec 5<&0; {program} 0<&5 5<&- 4>&- & p=$!; exec 5<&-; "
                f"( sleep {seconds} & t=$!; trap 'kill $t; exit 0' TERM; wait $t; kill $p ) "
                f">/dev/null 2>&1 3>&- 4>&- </dev/null & w=$!; "
                f"wait $p; s=$?; kill $w 2>/dev/null; echo {_EXIT_MARK}$s >&4; }} 2>&1 1>&3 3>&- "
                f"| head -c {STDERR_KEEP} >&2; }} 3>&1 4>&2")

    def _executor(self):
        from ..targets.executor import Executor

        if self.executor is None or not self.executor.alive():
            if self.executor is not None:
                self.executor.close()
            self.executor = Executor(self.settings).connect()
        return self.executor

    def exchange(self, request: bytes) -> bytes:
        """Send one request, return the program's stdout (DataApiError on any failure; a lost or
        refused connection is the Executor's ConnectError)."""
        from ..errors import RemoteError

        answer = bytearray()
        max_answer = self.max_answer

        class Overflow(Exception):
            pass

        def sink(data: bytes) -> None:
            answer.extend(data)
            if len(answer) > max_answer:
                raise Overflow()

        process = self._executor().start(self.command(), timeout=self.timeout, sink=sink)
        try:
            process.write(request)
            process.close_stdin()
            try:
                result = process.finish()
            except RemoteError:
                if isinstance(process.sink_error, Overflow):
                    raise self._flooded() from None
                raise DataApiError(where=self.where, detail=f"no answer within {self.timeout:g} s (stalled); "
                                                            "the command was closed") from None
        finally:
            process.abort()
        if isinstance(process.sink_error, Overflow):
            raise self._flooded()
        err = result.error_text()
        found = _EXIT_RE.findall(err)
        status = int(found[-1]) if found else result.status
        err = _EXIT_RE.sub("", err)
        if status == 127 and not answer.strip():
            raise DataApiError(where=self.where, detail="the program is not there (exit status 127); set the "
                                                        "settings key data_api to its path")
        return _checked(self.where, bytes(answer), status, err)

    def _flooded(self) -> DataApiError:
        return DataApiError(where=self.where, detail=f"the answer passed {self.max_answer} bytes (flooding?); "
                                                     "the command was closed")

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None


Program = Union[LocalProgram, SshProgram]


def standin_argv(db_path: str) -> List[str]:
    """The command that runs the stand-in over a local meter.db with this Python."""
    return [sys.executable, "-m", STANDIN_MODULE, "--db", db_path]


def program_for(target, program: Union[None, str, Sequence[str]] = None, *, timeout: float = DEFAULT_TIMEOUT,
                max_answer: int = DEFAULT_MAX_ANSWER) -> Program:
    """How to reach the data API of ``target``: a device (a target with SSH ``settings``) runs
    ``program`` or its settings' ``data_api`` over SSH; a local file runs ``program`` (a command
    line or argv) here, by default the stand-in over that file."""
    settings = getattr(target, "settings", None)
    if settings is not None and hasattr(settings, "host"):
        if program is not None and not isinstance(program, str):
            raise InputError("the data API of a device is one program path, not an argv list")
        return SshProgram(settings, program, timeout, max_answer)
    path = getattr(target, "path", None)
    if program is None:
        if path is None:
            raise InputError(f"{target!r}: neither a device nor a local meter.db; give the data API program")
        return LocalProgram(standin_argv(os.fspath(path)), timeout, max_answer)
    argv = shlex.split(program) if isinstance(program, str) else list(program)
    return LocalProgram(argv, timeout, max_answer)


class DataApiClient:
    """Sends requests to one data-API program and reads its answers."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.requests = 0  # requests sent (what a check costs)

    @classmethod
    def for_target(cls, target, program: Union[None, str, Sequence[str]] = None, *,
                   timeout: float = DEFAULT_TIMEOUT, max_answer: int = DEFAULT_MAX_ANSWER) -> "DataApiClient":
        """A client of ``target``'s data API (see :func:`program_for`)."""
        return cls(program_for(target, program, timeout=timeout, max_answer=max_answer))

    @property
    def where(self) -> str:
        return self.program.where

    def request(self, request: Mapping[str, Any]) -> Dict[str, Any]:
        """Send one request; the answer as a JSON object of ``res`` 0 (else DataApiError)."""
        self.requests += 1
        return decode(self.program.exchange(encode(request)), self.where)

    def get(self, measures: Iterable[str], **filters: Any) -> List[DeviceData]:
        """A GET (the keywords of :func:`get_request`), its answer parsed."""
        return parse_answer(self.request(get_request(measures, **filters)), self.where)

    def post(self, measure: str, records: Mapping[int, Sequence[Tuple[int, Mapping[str, object]]]]) -> None:
        """A POST of ``records`` (see :func:`post_request`); DataApiError unless ``res`` 0."""
        self.request(post_request(measure, records))

    def close(self) -> None:
        self.program.close()

    def __enter__(self) -> "DataApiClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
