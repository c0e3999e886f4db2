"""NZiF (Nizhny Novgorod) SET-4TM.03M and PSCh-4TM meters' own binary protocol (the wire layer:
``codec`` frames, values and the meter's side; ``imitator`` meters on a byte stream; ``client``
the poller's side).  The protocol belongs to the Mercury 230 frame family: ``network address |
request code | parameters | CRC-16/Modbus``, a status answer ``address | status | CRC``, an open
channel before anything but the test; the frame, CRC and request reader are Mercury 230's
(``protocols/mercury/v2.py``), imported, not repeated.

Sources, read, not copied: the NZiF document "Протокол обмена счетчиков серии СЭТ-4ТМ" revision
6.6.27 of 18.09.2017 as an open-source Node.js poller plugin (intra-system ``set4tm`` protocol
module, found by its header; the search index did not record the repository's name: the open,
serial, transformation-ratio and variant exchanges as complete frames with their CRC, the energy
and float auxiliary-mode group requests, the meter constant table; a Mercury-based fork of it gives
the energy factor kt = Ktu Kti / (2 A)), BugakovAI/set4tm ``set4tm-console/ComControl.cs`` @ a1d50a5
(no licence; C#: the ASCII ``000000`` password, the clock and journal times in BCD, 0x08 0x1B 0x00
BWRI for one float, the energy arrays as big-endian counts divided by 10000 = 2 A for A = 5000, the
port at 9600 8O1) and a public Python poller's NZiF type table (status codes 1-10).  The byte vectors of those frames are in
tests/data/set4tm/README.md; docs/set4tm.md is the project's note.

Where SET-4TM differs from Mercury 230:
- open channel (0x01): 6 password bytes and no level byte; the meter finds the level from the
  password (ASCII ``000000`` by default);
- serial number (0x08 0x00): 4 bytes, one big-endian binary number (9 digits), then the date of
  manufacture DD MM YY in BCD (Mercury: 4 bytes of two decimal digits each, the date binary);
- energy arrays (0x05): A+, A-, R+, R- each 4 bytes big-endian binary in the meter's impulses,
  not in Wh and not in Mercury's 1 0 3 2 byte order: E [kWh] = N / (2 A), A the meter constant in
  impulses per kWh, read from the variant (0x08 0x12, byte 2 bits 0-3: 5000, 2500, 1250, 6250,
  500, 250, 6400);
- instantaneous values: the auxiliary modes in float format, IEEE floats little-endian:
  0x08 0x1B 0x00 BWRI one value (BWRI as Mercury's: P 0x00-03, Q 0x04-07, S 0x08-0B, U 0x11-13,
  I 0x21-23, cos 0x30-33, F 0x40, T 0x70), 0x08 0x1B 0x02 BWRI a group of four (sum or none, phase
  A, B, C) for P/Q/S, U, I and cos phi, one float for the frequency (BWRI 0x41); P/Q/S in kW, kvar,
  kVA (the Python table's unit; not confirmed by the other sources), U in V, I in A; the sign is
  the float's own (Mercury: 3-byte integers with sign bits and fixed scales);
- the serial line: 9600 8O1 by default (odd parity; Mercury 230: 8N1);
- status codes 6-10 exist (repeat within 0.5 s, measurement not ready, busy, register overflow,
  control impossible).
Not taken from the sources and so not implemented: day/month arrays beyond the energy-array
numbers Mercury 230 shares, the profile memory, journals.  The clock (0x04 0x00) is served in
Mercury 230's 8-byte BCD layout (ss mm hh weekday DD MM YY season), which this family shares;
its weekday numbering was not checked against the NZiF document."""
from .codec import Set4Error, StatusError

__all__ = ["Set4Error", "StatusError"]
