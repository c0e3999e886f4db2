"""Planted faults of the imitated meters the device polls (issue 22): ``imitate mercury200|mercury230
--fault FAULT`` and ``imitate line --line-fault N=FAULT``.  The vocabulary is here, once, as data:
the fault kinds (``KINDS``), which protocol takes which and what each means on its wire
(``PROTOCOL_FAULTS``), the parser, and the wire side of the faults a line plants on a meter served
by a responder of its own (``faulty_send``).

A FAULT is written as for Mercury 230 since the first faults were planted there:

* ``silent[:HEX]``: no answer;
* ``crc[:HEX]``: the answer leaves with its check broken (the CRC-16 of Mercury, the BCC of an IEC
  readout, the check character of a CE frame, the M-Bus checksum, the HDLC FCS of DLMS);
* ``status:N[:HEX]``: an error status N instead of the answer, where the protocol has error
  statuses (Mercury 230's status byte, CE's ``(Enn)``, DLMS's data-access-result), or with it
  (M-Bus: the status byte of the answer's header);
* ``gap:FROM/TO``: the profile slots ending after FROM and up to TO (local ``YYYY-MM-DDTHH:MM``)
  are not recorded, where the protocol has a profile (Mercury 230 memory 3, CE's GRAPE, the DLMS
  load profile's buffer).

``HEX`` (Mercury only, whose requests are bytes): the fault hits only requests whose body (after
the address) starts with those bytes; without it, every request."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import InputError


@dataclass(frozen=True)
class Fault:
    """One planted fault: ``kind`` silent, crc, status (``code``) for requests whose body starts
    with ``prefix`` (b"": all), or gap: profile slots ending in (``start``, ``end``] (epoch s)."""
    kind: str
    prefix: bytes = b""
    code: int = 0
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class FaultKind:
    """A fault kind: its name, how it is written, what the meter does."""
    name: str
    form: str
    meaning: str


KINDS: Dict[str, FaultKind] = {k.name: k for k in (
    FaultKind("silent", "silent[:HEX]", "no answer"),
    FaultKind("crc", "crc[:HEX]", "the answer with its check broken"),
    FaultKind("status", "status:N[:HEX]", "error status N instead of the answer"),
    FaultKind("gap", "gap:FROM/TO", "profile slots ending after FROM up to TO (local YYYY-MM-DDTHH:MM) not recorded"),
)}


@dataclass(frozen=True)
class ProtocolFaults:
    """The faults one protocol takes and what each is on its wire."""
    kinds: Dict[str, str]                 # kind -> what it does on this protocol's wire
    status: Tuple[int, int] = (0, 0)      # the codes N of ``status:N`` (low, high)
    prefixes: bool = False                # HEX request prefixes (binary requests)


PROTOCOL_FAULTS: Dict[str, ProtocolFaults] = {
    "mercury200": ProtocolFaults({"silent": "no answer", "crc": "the answer's CRC-16 with its last byte inverted"},
                                 prefixes=True),
    "mercury230": ProtocolFaults({"silent": "no answer", "crc": "the answer's CRC-16 with its last byte inverted",
                                  "status": "the 4-byte status answer N (1 bad request, 2 internal error, "
                                            "3 access level, 4 clock corrected today, 5 channel not open)",
                                  "gap": "memory 3 records of the slots read all FF"},
                                 status=(1, 15), prefixes=True),
    "set4tm": ProtocolFaults({"silent": "no answer", "crc": "the answer's CRC-16 with its last byte inverted",
                              "status": "the 4-byte status answer N (1 bad request, 2 internal error, 3 access level, "
                                        "5 channel not open)"},
                             status=(1, 15), prefixes=True),
    "ce303": ProtocolFaults({"silent": "no answer, not even to the sign-on",
                             "crc": "the check character (7-bit sum) of every SOH/STX frame inverted",
                             "status": "(Enn) instead of every R1 answer (12 no such parameter, 17 bad argument)",
                             "gap": "GRAPE of the slots answers the empty block (value not held)"},
                            status=(0, 99)),
    "iec": ProtocolFaults({"silent": "no answer, not even to the sign-on",
                           "crc": "the readout's BCC inverted (the client's NAKs get it again, as broken)"}),
    "mbus": ProtocolFaults({"silent": "no answer, not even E5",
                            "crc": "the checksum of every long frame (RSP_UD) inverted",
                            "status": "status byte N in every RSP_UD's header (EN 13757-3: 1 busy, 2 application "
                                      "error, 3 abnormal condition, 4 power low, 8 permanent error, 16 temporary "
                                      "error; bits combine)"},
                           status=(1, 255)),
    "dlms": ProtocolFaults({"silent": "no answer, not even UA",
                            "crc": "the FCS of every HDLC frame broken",
                            "status": "data-access-result N to every GET (1 hardware-fault, 2 temporary-failure, "
                                      "11 object-unavailable, 250 other-reason ...)",
                            "gap": "the load profile (1.0.99.1.0.255) holds no entry for the slots"},
                           status=(1, 250)),
}


def forms(protocol: str) -> str:
    """The FAULT forms a protocol takes, for an error line."""
    spec = PROTOCOL_FAULTS[protocol]
    return ", ".join(KINDS[k].form if spec.prefixes else KINDS[k].form.replace("[:HEX]", "") for k in spec.kinds)


def takers(protocols: Sequence[str]) -> str:
    """Each fault kind and which of ``protocols`` take it (none named: all of them), for a help line."""
    out = []
    for kind in KINDS.values():
        named = [p for p in protocols if kind.name in PROTOCOL_FAULTS[p].kinds]
        form = kind.form.replace("[:HEX]", "")
        if named:
            out.append(form if len(named) == len(protocols) else f"{form} ({', '.join(named)})")
    return ", ".join(out)


def _local_epoch(text: str, timezone: str) -> int:
    from ..model import timegrid

    return int(dt.datetime.fromisoformat(text).replace(tzinfo=timegrid.zone(timezone)).timestamp())


def parse_fault(text: str, timezone: str, protocol: str = "mercury230", label: Optional[str] = None) -> Fault:
    """One FAULT for a meter of ``protocol``; an InputError naming the forms it takes otherwise
    (``label``: how the error line names the value, default ``--fault 'TEXT'``)."""
    label = label or f"--fault {text!r}"
    spec = PROTOCOL_FAULTS.get(protocol)
    if spec is None:
        raise InputError(f"{label}: {protocol} takes no planted faults")
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise InputError(f"{label}: unknown fault {kind!r}; {protocol} takes {forms(protocol)}")
    if kind not in spec.kinds:
        raise InputError(f"{label}: {protocol} has no {kind} fault; it takes {forms(protocol)}")
    try:
        if kind == "gap":
            start, _, end = rest.partition("/")
            a, b = _local_epoch(start, timezone), _local_epoch(end, timezone)
            if a < b:
                return Fault("gap", start=a, end=b)
        elif kind in ("silent", "crc"):
            prefix = bytes.fromhex(rest)
            if (not rest or prefix) and (spec.prefixes or not rest):
                return Fault(kind, prefix)
        elif kind == "status":
            code, _, hexa = rest.partition(":")
            low, high = spec.status
            if low <= int(code) <= high and (spec.prefixes or not hexa):
                return Fault("status", bytes.fromhex(hexa), int(code))
    except ValueError:
        pass
    raise InputError(f"{label}: {protocol} takes {forms(protocol)}"
                     + (f" (N {spec.status[0]}-{spec.status[1]})" if "status" in spec.kinds else ""))


def in_gap(faults: Sequence[Fault], end: int) -> bool:
    """Whether the profile slot ending at ``end`` falls in a planted gap."""
    return any(f.kind == "gap" and f.start < end <= f.end for f in faults)


def request_fault(faults: Sequence[Fault], body: bytes):
    """What the faults do with a request of this body (Mercury): None (answer it), "silent",
    "crc" or a status code."""
    for fault in faults:
        if fault.kind != "gap" and body.startswith(fault.prefix):
            return fault.code if fault.kind == "status" else fault.kind
    return None


# ---- the wire side of a meter served by a responder of its own --------------------------------
#: where the check of an answer frame is, by protocol: (the first bytes of the frames that carry
#: one, the offset of the byte to break from the end)
CHECK_BYTE: Dict[str, Tuple[bytes, int]] = {
    "iec": (b"\x02", -1),            # STX ... ETX BCC
    "ce303": (b"\x01\x02", -1),      # SOH/STX ... ETX C
    "mbus": (b"\x68", -2),           # 68 L L 68 ... CS 16
    "dlms": (b"\x7e", -2),           # 7E ... FCS(lo hi) 7E
}


def broken_check(protocol: str, frame: bytes) -> bytes:
    """``frame`` with its check byte inverted (a frame without a check: as it is)."""
    starts, at = CHECK_BYTE[protocol]
    if len(frame) < 3 or frame[0] not in starts:
        return frame
    value = frame[at] ^ 0xFF
    if protocol == "dlms" and value == 0x7E:
        value ^= 0x01   # never a flag inside the frame
    out = bytearray(frame)
    out[at] = value
    return bytes(out)


def faulty_send(protocol: str, faults: Sequence[Fault], send: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``send`` for the responder of one faulty meter: silent drops every answer, crc breaks each
    frame's check, CE's status replaces every R1 answer (an STX frame) with ``(Enn)``."""
    kinds = {f.kind: f for f in faults}
    if "silent" in kinds:
        return lambda data: None
    status = kinds.get("status")

    def out(data: bytes) -> None:
        if status is not None and protocol == "ce303" and data[:1] == b"\x02":
            from ..protocols.energomera.codec import error

            data = error(status.code)
        if "crc" in kinds:
            data = broken_check(protocol, data)
        send(data)
    return out


def plan_protocols(counts: Dict[str, int], order: Sequence[str]) -> List[str]:
    """The protocol of each meter of a line's plan (meter N is item N - 1), from the counts alone."""
    return [protocol for protocol in order for _ in range(counts.get(protocol, 0))]


def by_meter(items: Sequence[str], option: str, protocols: List[str], timezone: Optional[str] = None,
             parse: bool = True) -> Dict[int, List[str]]:
    """``N=ITEM`` items by meter number; an InputError for an N outside the plan (or, with
    ``parse``, a FAULT meter N's protocol does not take)."""
    out: Dict[int, List[str]] = {}
    for item in items:
        number, sep, what = item.partition("=")
        if not sep or not number.isdigit() or not what:
            raise InputError(f"{option} {item!r}: give N={'FAULT' if parse else 'ITEM'} (N: the meter's number "
                             "in the plan)")
        n = int(number)
        if not 1 <= n <= len(protocols):
            raise InputError(f"{option} {item!r}: the line's plan has meters 1-{len(protocols)}")
        if parse:
            parse_fault(what, timezone or "UTC", protocols[n - 1], f"{option} {item!r} (meter {n}, {protocols[n - 1]})")
        out.setdefault(n, []).append(what)
    return out
