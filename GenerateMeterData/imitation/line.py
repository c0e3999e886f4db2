"""A line of meters: one byte stream (TCP, a pty or a serial port, by URL) serving many generated
meters of mixed protocols, each at its own address, as an RS-485 line does -- Mercury 200 4-byte
addresses, Mercury 230 network addresses, IEC/Energomera device addresses of the sign-on
``/?ADDRESS!``, M-Bus primary addresses, DLMS HDLC server addresses.

Design: the line is one ``StreamService``; its ``serve`` fans every chunk it receives out to one
"responder" per protocol -- the protocol's own imitator (``V1Imitator``, ``V2Imitator``,
``CEImitator``, ``MBusBus``, one ``IECImitator`` / ``DLMSImitator`` per meter) running its own
``serve`` on a queue of the chunks.  Each answers only frames addressed to its meters and skips
the other protocols' bytes as noise; answers leave through one lock, one write per frame.  On TCP
every connection has its own responders (its own sessions); a chunk queue holds at most
``QUEUE_CHUNKS`` chunks (a responder that cannot keep up loses bytes, as a meter busy
transmitting does not hear the line).  The empty sign-on ``/?!`` is answered by nobody on a line
with more than one sign-on meter (they would all answer at once).

Mixed protocols on one line are a bench convenience: real lines usually carry one protocol.

A scenario (``LineScenario``): meters per protocol and a seed; meter i of the line (from 1) is
the generated meter of MeterId ``first_meter_id + i - 1`` of its protocol's default type, with the
``-o`` items (``overrides``) and FAULTs (``faults``, the vocabulary of ``faults.py``) given for
it.  Mercury meters carry theirs per network address; a faulty CE, IEC, M-Bus or DLMS meter is
served by a responder of its own whose answers pass through ``faults.faulty_send``."""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import InputError
from ..model import timegrid
from ..model.rng import DEFAULT_SEED
from ..protocols.stream import StreamService
from .meter import GeneratedMeter

#: The protocols a line carries, in the order of the address plan.
LINE_PROTOCOLS = ("mercury200", "mercury230", "ce303", "iec", "mbus", "dlms")
#: Chunks a responder's queue holds before the line drops what it cannot take.
QUEUE_CHUNKS = 256


@dataclass
class LineMeter:
    """One meter of the line: its protocol, generated meter and address as its client gives it."""

    number: int
    protocol: str
    meter: GeneratedMeter
    address: str
    read_password: str = ""
    write_password: str = ""
    overrides: List[str] = field(default_factory=list)
    faults: List[str] = field(default_factory=list)     # FAULT texts (``faults.parse_fault``)

    @property
    def serial(self) -> str:
        return self.meter.serial


@dataclass
class LineScenario:
    """Meters per protocol, a seed and a time zone: the line, the same every time."""

    counts: Dict[str, int]
    seed: int = DEFAULT_SEED
    timezone: str = timegrid.DEFAULT_TIMEZONE
    first_meter_id: int = 1001
    overrides: Dict[int, List[str]] = field(default_factory=dict)   # meter number -> -o items
    faults: Dict[int, List[str]] = field(default_factory=dict)      # meter number -> FAULTs (``faults.py``)

    @staticmethod
    def parse_counts(text: str) -> Dict[str, int]:
        """``mercury230=8,ce303=8``: meters per protocol (InputError naming the protocols otherwise)."""
        counts: Dict[str, int] = {}
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            name, sep, number = item.partition("=")
            if name not in LINE_PROTOCOLS or not sep or not number.isdigit():
                raise InputError(f"--line-meters {item!r}: give PROTOCOL=COUNT, PROTOCOL one of "
                                 f"{', '.join(LINE_PROTOCOLS)}")
            counts[name] = counts.get(name, 0) + int(number)
        if not sum(counts.values()):
            raise InputError("--line-meters: name at least one meter, e.g. mercury230=4,ce303=4")
        if sum(counts.values()) > 250:
            raise InputError("--line-meters: at most 250 meters on a line (M-Bus primary addresses)")
        return counts


def line_meters(scenario: LineScenario) -> List[LineMeter]:
    """The meters of a scenario with unique addresses (the factory's rule, the next free one on a clash)."""
    from . import registry
    from .energomera import DEFAULT_PASSWORD as CE_PASSWORD
    from .mercury import DEFAULT_PASSWORDS as MERCURY_PASSWORDS, v1_address, v2_address
    from ..protocols.dlms import spodes

    meters: List[LineMeter] = []
    used: Dict[str, set] = {}
    number = 0
    for protocol in LINE_PROTOCOLS:
        for _ in range(scenario.counts.get(protocol, 0)):
            number += 1
            meter = GeneratedMeter(registry.get(protocol).meter_type, scenario.seed,
                                   scenario.first_meter_id + number - 1, scenario.timezone)
            taken = used.setdefault(protocol, set())
            read_pw = write_pw = ""
            if protocol == "mercury200":
                address = v1_address(meter.serial)
                step, low, high = 1, 1, 99999999
            elif protocol == "mercury230":
                address = v2_address(meter.serial)
                step, low, high = 1, 1, 239
                read_pw, write_pw = MERCURY_PASSWORDS[1], MERCURY_PASSWORDS[2]
            elif protocol == "mbus":
                address, step, low, high = len(taken) + 1, 1, 1, 250
            elif protocol == "dlms":
                address = spodes.server_address_from_serial(meter.serial)
                step, low, high = 1, 16, 16383
                read_pw = "12345678"
            else:   # iec, ce303: the address is text; the serial (CE: its last 9 digits)
                text = meter.serial[-9:] if protocol == "ce303" else meter.serial
                while text in taken:
                    text = text + "1"
                taken.add(text)
                pw = CE_PASSWORD if protocol == "ce303" else "00000000"
                meters.append(LineMeter(number, protocol, meter, text, pw, pw,
                                        list(scenario.overrides.get(number, [])), list(scenario.faults.get(number, []))))
                continue
            while address in taken or not low <= address <= high:
                address = address + step if low <= address + step <= high else low
            taken.add(address)
            meters.append(LineMeter(number, protocol, meter, str(address), read_pw, write_pw,
                                    list(scenario.overrides.get(number, [])), list(scenario.faults.get(number, []))))
    return meters


#: A responder and what its answers pass through (a faulty meter's ``faults.faulty_send``), or None.
Responder = Tuple[StreamService, Optional[Callable[[Callable[[bytes], None]], Callable[[bytes], None]]]]


def _responders(meters: List[LineMeter]) -> List[Responder]:
    """One imitator per protocol (one per meter for IEC and DLMS), each serving its meters only.
    Mercury meters carry their overrides and faults themselves (per network address); a CE or
    M-Bus meter with faults (CE: or fixed answers) gets an imitator of its own, whose answers pass
    through its faults, as the IEC and DLMS meters' do."""
    from ..protocols.energomera.imitator import CEImitator
    from ..protocols.mercury import v1, v2
    from .energomera import GeneratedCE, ce_overrides
    from .faults import faulty_send, parse_fault
    from .iec import register_overrides
    from .imitators import DLMSImitator, MBusBus, MBusSlave
    from .mercury import V1Generated, V2Generated, mercury_overrides
    from ..protocols.overrides import RegisterOverrides
    from .dlms import _overrides as dlms_overrides

    by: Dict[str, List[LineMeter]] = {}
    for m in meters:
        by.setdefault(m.protocol, []).append(m)

    def faults(m: LineMeter):
        return [parse_fault(text, str(m.meter.tz), m.protocol) for text in m.faults]

    def through(m: LineMeter):
        planted = [f for f in faults(m) if f.kind != "gap"]
        if not planted:
            return None
        return lambda send: faulty_send(m.protocol, planted, send)

    signing_on = len(by.get("iec", [])) + len(by.get("ce303", []))
    out: List[Responder] = []
    if "mercury200" in by:
        out.append((v1.V1Imitator([V1Generated(m.meter, int(m.address), mercury_overrides(m.overrides, m.protocol),
                                               faults(m)) for m in by["mercury200"]]), None))
    if "mercury230" in by:
        out.append((v2.V2Imitator([V2Generated(m.meter, int(m.address), faults=faults(m),
                                               overrides=mercury_overrides(m.overrides, m.protocol))
                                   for m in by["mercury230"]]), None))
    if "ce303" in by:
        shared: List[GeneratedCE] = []
        for m in by["ce303"]:
            fixed, registers = ce_overrides(m.overrides)
            served = GeneratedCE(m.meter, m.address, m.read_password, RegisterOverrides(registers), faults(m))
            if fixed or m.faults:
                out.append((_ce_imitator(CEImitator, [served], fixed, signing_on), through(m)))
            else:
                shared.append(served)
        if shared:
            out.append((_ce_imitator(CEImitator, shared, {}, signing_on), None))
    for m in by.get("iec", []):
        out.append((_IECOnLine(meter=m.meter, address=m.address, overrides=register_overrides(m.overrides),
                               anonymous=signing_on == 1), through(m)))
    if "mbus" in by:
        plain = [m for m in by["mbus"] if not m.faults]
        for group in [plain] + [[m] for m in by["mbus"] if m.faults]:
            if group:
                slaves: List[Any] = [MBusSlave(meter=m.meter, primary_address=int(m.address),
                                    overrides=register_overrides(m.overrides)) for m in group]
                for slave, m in zip(slaves, group):
                    slave.status = next((f.code for f in faults(m) if f.kind == "status"), 0)
                out.append((MBusBus(slaves), through(group[0]) if group[0].faults else None))
    for m in by.get("dlms", []):
        dlms = DLMSImitator(m.meter, physical=int(m.address), overrides=dlms_overrides(m.overrides))
        status = [f for f in faults(m) if f.kind == "status"]
        if status:
            dlms.objects.refuse = status[0].code
        dlms.objects.gaps = [(f.start, f.end) for f in faults(m) if f.kind == "gap"]
        out.append((dlms, through(m)))
    return out


def _ce_imitator(make, served, answers, signing_on: int):
    """A CE imitator of ``served`` meters; the empty sign-on answered by nobody on a line of more
    than one sign-on meter (they would all answer at once)."""
    ce = make(served, answers=answers)
    if signing_on > 1:
        ce.first = None   # the empty sign-on: nobody answers
    return ce


def _iec_base():
    from .imitators import IECImitator
    return IECImitator


class _IECOnLine(_iec_base()):  # type: ignore[misc]
    """An IEC meter on a line: the empty sign-on ``/?!`` only when it is the line's one sign-on meter."""

    def __init__(self, *, anonymous: bool, **options) -> None:
        super().__init__(**options)
        self.anonymous = anonymous

    def serve(self, receive, send, keep_open: bool = False) -> None:
        if self.anonymous:
            return super().serve(receive, send, keep_open)

        def filtered() -> Optional[bytes]:
            chunk = receive()
            if chunk:
                chunk = chunk.replace(b"/?!\r\n", b"")
            return chunk

        return super().serve(filtered, send, keep_open)


class Line(StreamService):
    """The meters of a scenario on one byte stream; ``start(url)`` as every imitator."""

    def __init__(self, meters: List[LineMeter]) -> None:
        super().__init__()
        self.meters = meters
        made = _responders(meters)
        self.responders = [responder for responder, _ in made]
        self._through = [wrap for _, wrap in made]
        self.dropped_chunks = 0

    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        from ..protocols.stream import incoming

        lock = threading.Lock()
        closed = threading.Event()

        def one_write(data: bytes) -> None:
            with lock:
                send(data)

        queues: List["queue.Queue[bytes]"] = []
        threads = []
        for responder, wrap in zip(self.responders, self._through):
            q: "queue.Queue[bytes]" = queue.Queue(QUEUE_CHUNKS)
            queues.append(q)

            def feed(q=q) -> Optional[bytes]:
                try:
                    return q.get(timeout=0.2)
                except queue.Empty:
                    return b"" if closed.is_set() else None

            def run(responder=responder, feed=feed, out=wrap(one_write) if wrap else one_write) -> None:
                try:
                    responder.serve(feed, out, False)
                except OSError:
                    pass

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            threads.append(thread)
        try:
            for chunk in incoming(receive, self._stop, keep_open):
                for q in queues:
                    try:
                        q.put_nowait(chunk)
                    except queue.Full:
                        self.dropped_chunks += 1
        finally:
            closed.set()
            for q in queues:
                try:
                    q.put_nowait(b"")
                except queue.Full:
                    pass
            for thread in threads:
                thread.join(timeout=2.0)

    def stop(self) -> None:
        for responder in self.responders:
            responder.stop()
        super().stop()


def plan_lines(meters: List[LineMeter]) -> List[str]:
    """The address plan: one line per meter."""
    return [f"  {m.number:3d} {m.protocol:<10} address {m.address:<12} serial {m.serial:<14} "
            f"type {m.meter.spec.type_name}" + (f" overrides {';'.join(m.overrides)}" if m.overrides else "")
            + (f" faults {';'.join(m.faults)}" if m.faults else "") for m in meters]


# ---- the registry's functions ------------------------------------------------------------------
def options(command: str, p) -> None:
    """``imitate line``: the scenario."""
    if command == "imitate":
        from .faults import takers

        p.add_argument("--line-meters", default="mercury200=2,mercury230=2,ce303=2,iec=2,mbus=2,dlms=2",
                       help="line: meters per protocol, e.g. mercury230=8,ce303=8,mbus=4 (protocols: "
                            + ", ".join(LINE_PROTOCOLS) + ")")
        p.add_argument("--line-override", action="append", default=[], metavar="N=ITEM",
                       help="line: meter N of the plan serves this -o item of its protocol instead of its story")
        p.add_argument("--line-fault", action="append", default=[], metavar="N=FAULT",
                       help="line: meter N of the plan has this fault of its protocol (repeatable; docs/line.md): "
                            + takers(LINE_PROTOCOLS) + "; the others answer as before")


def scenario_from_arguments(args) -> LineScenario:
    """The scenario of an ``imitate line`` (or a poll check) command line; an InputError for an
    N outside the plan or a FAULT meter N's protocol does not take."""
    from ..settings import context_for, from_arguments
    from .faults import by_meter, plan_protocols

    counts = LineScenario.parse_counts(args.line_meters)
    timezone = context_for(args, from_arguments(args)).timezone
    protocols = plan_protocols(counts, LINE_PROTOCOLS)
    overrides = by_meter(getattr(args, "line_override", []) or [], "--line-override", protocols, parse=False)
    faults = by_meter(getattr(args, "line_fault", []) or [], "--line-fault", protocols, timezone)
    seed = args.meter_seed if getattr(args, "meter_seed", None) is not None else DEFAULT_SEED
    return LineScenario(counts, seed, timezone, overrides=overrides, faults=faults)


def check(command: str, args) -> None:
    """The scenario must parse: the counts, and meter numbers of overrides and faults in the plan."""
    from .faults import by_meter, plan_protocols

    if command == "imitate":
        protocols = plan_protocols(LineScenario.parse_counts(args.line_meters), LINE_PROTOCOLS)
        by_meter(getattr(args, "line_override", []) or [], "--line-override", protocols, parse=False)
        by_meter(getattr(args, "line_fault", []) or [], "--line-fault", protocols, getattr(args, "timezone", None))


def imitator(args, meter) -> Tuple[object, str]:
    """``imitate line``: the scenario's meters on one stream; the note is the address plan."""
    meters = line_meters(scenario_from_arguments(args))
    return Line(meters), f" ({len(meters)} meters)\n" + "\n".join(plan_lines(meters))


def capture_arguments(m: LineMeter, port: str, days: int = 0):
    """The ``capture PROTOCOL`` arguments that read meter ``m`` of a line on ``port``: what the
    stand-in poller (the project's own capture) is given for each meter of the line."""
    import argparse

    a = argparse.Namespace(protocol=m.protocol, port=port, days=days, neva=False, password=m.read_password,
                           device_address="", initial_baud=300, baud_switch_delay=0.0, mbus_address=1,
                           network_address=None, level=1, level_password=None, answer_timeout=2.0,
                           ce_password=m.read_password, client=16, dlms_password="12345678", serial=None,
                           physical_address=None, logical_address=1, wrapper=False, months=0,
                           read_timeout=30.0, follow=False)
    if m.protocol in ("iec", "ce303"):
        a.device_address = m.address
    elif m.protocol == "mbus":
        a.mbus_address = int(m.address)
    elif m.protocol in ("mercury200", "mercury230"):
        a.network_address = int(m.address)
        a.level_password = m.read_password or None
    elif m.protocol == "dlms":
        a.physical_address = int(m.address)
    return a


def read_meter(m: LineMeter, port: str, timezone: str, days: int = 0):
    """One reading of meter ``m`` of a line through its protocol's ``capture`` client."""
    from . import registry

    read = registry.get(m.protocol).part("read")
    return read(capture_arguments(m, port, days), timezone)  # type: ignore[misc]
