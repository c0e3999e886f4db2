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
- the clock (0x04 0x00): Mercury 230's 8 BCD bytes (ss mm hh weekday DD MM YY season) with the
  weekday Monday 1 ... Sunday 7 (ti-cortex-m4/tm4c1294ncpdt ``sensors/device_a.c`` sets a SET-4TM's
  clock with day-of-week + 1 counting Monday 0; Mercury's numbering has Sunday 0);
- the power profile (the first array), from ti-cortex-m4/tm4c1294ncpdt @ 4c50e0fe
  (``sensors/device_a.c``, ``devices/case_a2.h``; no licence stated: facts only) and a public
  Python poller's ``nzif_profiles.py`` (quoting the NZiF document's sections 2.4.3.5, 2.4.4,
  2.4.4.1, 2.4.3.6.1; its repository's name was not recorded by the search index): ``08 04``
  answers 7 bytes, mm hh DD MM YY (BCD; bit 7 of the minutes: the array has overflowed) and the
  address of the current slice, high byte first, a multiple of 8; ``06 03 hi lo N`` reads N bytes
  (2-16) of memory 3, the profile; the memory holds hour blocks, a header (hh DD MM YY BCD, a
  byte neither source reads, the integration period in minutes, the sum of bytes 0-5, a byte
  ignored) and one 8-byte slice per period (P+ P- Q+ Q-, 2 bytes each high byte first, bit 15
  a flag the readers mask off: the Python poller drops such values, "masking" per 2.4.3.6.1;
  here: the slice is incomplete); at 30 minutes a block is 24 bytes, 2730 blocks (0000-FFEFh;
  the firmware walks back block by block, wrapping to block 2729); not overflowed, the first
  record is at 0000h; overflowed, the oldest is at the pointer; where a whole hour no longer
  fits at the end, the memory is not used and the next hour starts at 0000h (reads there are
  refused);
- the journals: ``04 JN`` (one parameter byte: journal J, record N 0-9) answers 14 bytes, two times
  of 7 bytes ss mm hh weekday DD MM YY (BCD), from tm4c1294ncpdt ``digitals/extended/extended_3_a.c``
  (journals 1 the meter, 7-9 phases 1-3) and BugakovAI/set4tm ``Program.cs`` @ a1d50a5 (journal 1
  read as "last switch-off" then "last switch-on", 0xA the cover "opened" then "closed"; records
  0 (oldest) to 9 (newest)).
Not found in a public source and so not done or chosen here: the profile count's unit (taken as
the energy registers', 1/(2A) kWh, as for Mercury 230), the meaning of header byte 4 (0 here) and
of the incomplete flag beyond the readers' masking, the integration-period setting, the second
profile array, the time-correction journal's number and the other journals, the day and month
arrays beyond the energy-array numbers Mercury 230 shares."""
from .codec import Set4Error, StatusError

__all__ = ["Set4Error", "StatusError"]
