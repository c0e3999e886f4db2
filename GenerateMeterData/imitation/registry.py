"""The protocols of ``decode``, ``imitate`` and ``capture``, as data: one ``Protocol`` a line.
The commands' choices, their help and the CLI reference derive from ``PROTOCOLS``; nothing else
lists the protocols.

A protocol names its parts as ``"module:attribute"`` (imported when the command runs, so the
help needs none of them):

* ``decode(raw: bytes, args) -> dict``: the bytes of a frame, readout or capture as a JSON-able
  document; a ``ProtocolError`` for bytes that are not one (printed as ``error: CATEGORY: ...``).
* ``imitator(args, meter) -> (StreamService, note)``: an imitator for ``imitate``; ``meter()``
  gives the generated meter of the command line (``--meter-type``, ``--meter-seed``,
  ``--timezone``), ``note`` follows the "imitating ... on WHERE" line.
* ``read(args, timezone: str) -> Reading``: one reading of the meter on ``args.port`` for
  ``capture``, written by ``imitation.capture`` as generated data is.
* ``options(command, parser)``: the protocol's own options of a command (``decode``,
  ``imitate`` or ``capture``); the shared ones are ``imitation.cli``'s.
* ``check(command, args)``: refuse, with an ``InputError``, options the protocol does not take,
  before anything is opened.
* ``capture(args, out, target) -> int or None``: the protocol's own capture loop when its
  options ask for one (DLMS ``--follow``); None: the shared read-and-write loop.

A new protocol is a package under ``protocols/`` and one line here."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, List, Optional


@dataclass(frozen=True)
class Protocol:
    """One protocol of the protocol commands."""

    name: str              # the word on the command line
    title: str             # how messages name it ("imitating an IEC meter")
    help: str              # one line: what it is
    decodes: str = ""      # what ``decode`` reads, for its help ("an M-Bus frame")
    decode: str = ""       # "module:function", see the module's docstring
    imitator: str = ""
    read: str = ""
    options: str = ""
    check: str = ""
    capture: str = ""
    kind: str = "meter"    # what ``imitate`` says it imitates ("imitating an IEC meter on ...")
    meter_type: str = "NEVA3xx"  # the generated meter ``imitate`` serves without --meter-type

    def part(self, name: str) -> Optional[Callable[..., Any]]:
        """The function a field names, imported now; None when the protocol has none."""
        path = getattr(self, name)
        if not path:
            return None
        module, _, attribute = path.partition(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def article(self) -> str:
        """"a" or "an" before the title, as it is spoken ("an IEC", "an MBUS", "a DLMS"; a word
        that is not an acronym as a word: "a Mercury")."""
        word = self.title.split()[0] if self.title.strip() else ""
        if not word.isupper():
            return "an" if word[:1].upper() in "AEIOU" else "a"
        return "an" if word[:1] in "AEFHILMNORSX" else "a"


_GLUE = "GenerateMeterData.imitation"

PROTOCOLS: List[Protocol] = [
    Protocol("iec", "IEC", "IEC 62056-21 (IEC 61107): readout modes A-D and programming mode; Neva MT 3xx registers",
             decodes="an IEC 62056-21 readout", decode=f"{_GLUE}.iec:decode", imitator=f"{_GLUE}.iec:imitator",
             read=f"{_GLUE}.iec:read", options=f"{_GLUE}.iec:options", check=f"{_GLUE}.iec:check"),
    Protocol("mbus", "MBUS", "wired M-Bus (EN 13757-2/-3): SND_NKE, REQ_UD2, RSP_UD, selection",
             decodes="an M-Bus frame", decode=f"{_GLUE}.mbus:decode", imitator=f"{_GLUE}.mbus:imitator",
             read=f"{_GLUE}.mbus:read", options=f"{_GLUE}.mbus:options", check=f"{_GLUE}.mbus:check"),
    Protocol("dlms", "DLMS", "DLMS/COSEM (SPODES) over HDLC or the IEC 62056-47 wrapper; HAN-port pushes",
             decodes="DLMS/COSEM frames or APDUs", decode=f"{_GLUE}.dlms:decode", imitator=f"{_GLUE}.dlms:imitator",
             read=f"{_GLUE}.dlms:read", options=f"{_GLUE}.dlms:options", check=f"{_GLUE}.dlms:check",
             capture=f"{_GLUE}.dlms:capture"),
    Protocol("mercury200", "Mercury 200", "Incotex Mercury 200/201/203/206 single-phase protocol (4-byte address)",
             decodes="a Mercury 200 frame", decode=f"{_GLUE}.mercury:decode_v1", imitator=f"{_GLUE}.mercury:imitator_v1",
             read=f"{_GLUE}.mercury:read_v1", check=f"{_GLUE}.mercury:check", meter_type="Mercury206"),
    Protocol("mercury230", "Mercury 230", "Incotex Mercury 230/231/234/236 protocol (network address, access levels)",
             decodes="a Mercury 230 frame", decode=f"{_GLUE}.mercury:decode_v2", imitator=f"{_GLUE}.mercury:imitator_v2",
             read=f"{_GLUE}.mercury:read_v2", options=f"{_GLUE}.mercury:options", check=f"{_GLUE}.mercury:check",
             meter_type="Mercury23x"),
    Protocol("ce303", "CE303", "Energomera CE301/CE303: IEC 61107 mode C with Energomera's mnemonics (ET0PE, ENDPE, "
             "GRAPE, VOLTA ...) and its 7-bit-sum check character",
             decodes="an Energomera CE frame", decode=f"{_GLUE}.energomera:decode",
             imitator=f"{_GLUE}.energomera:imitator", read=f"{_GLUE}.energomera:read",
             options=f"{_GLUE}.energomera:options", check=f"{_GLUE}.energomera:check",
             meter_type="SE303"),
    Protocol("set4tm", "SET-4TM", "NZiF SET-4TM.03M / PSCh-4TM protocol (Mercury 230's frame family: network address, "
             "password, energy in counts of the meter constant, float values)",
             decodes="a SET-4TM frame", decode=f"{_GLUE}.set4tm:decode", imitator=f"{_GLUE}.set4tm:imitator",
             read=f"{_GLUE}.set4tm:read", options=f"{_GLUE}.set4tm:options", check=f"{_GLUE}.set4tm:check",
             meter_type="SETxTM"),
    Protocol("line", "RS-485", "a line of meters of mixed protocols at their own addresses on one stream "
             "(--line-meters mercury230=8,ce303=8,...)", imitator=f"{_GLUE}.line:imitator",
             options=f"{_GLUE}.line:options", check=f"{_GLUE}.line:check", kind="line of meters"),
    Protocol("uspd", "USPD", "the concentrator's own RTU-327 server, serving a meter.db (--db) to head-end systems",
             imitator="GenerateMeterData.device.rtu327_server:imitator",
             check="GenerateMeterData.device.rtu327_server:check", kind="concentrator"),
]


def protocols(command: Optional[str] = None) -> List[Protocol]:
    """The protocols (of one command: those with a ``decode``, ``imitator`` or ``read``)."""
    field = {"decode": "decode", "imitate": "imitator", "capture": "read", None: "name"}[command]
    return [p for p in PROTOCOLS if getattr(p, field)]


def get(name: str) -> Protocol:
    """The protocol of a name (the CLI's choices allow no other)."""
    for protocol in PROTOCOLS:
        if protocol.name == name:
            return protocol
    raise KeyError(name)


def meter_type(args: Any) -> str:
    """The meter type of an ``imitate`` command line: ``--meter-type``, else the protocol's own."""
    return str(args.meter_type or get(args.protocol).meter_type)
