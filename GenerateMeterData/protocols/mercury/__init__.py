"""Incotex Mercury meters' own binary protocols (the wire layer: frames, codecs, clients; nothing
of the stack is imported here).

- ``v1``: the single-phase protocol of Mercury 200, 201, 203 and 206: a 4-byte network address
  (big-endian; by default the serial number's last 8 digits), a command byte, data, CRC-16/Modbus.
- ``v2``: the three-phase protocol of Mercury 230/231/234/236 and 203.2TD: a 1-byte network address,
  an access channel opened with a level and a password, energy arrays and BWRI instantaneous values.

Read, not copied, to learn the frames: wirenboard/wb-mqtt-serial ``src/devices/mercury200_device.cpp``
and ``mercury230_device.cpp`` with their test vectors ``test/TEMDeviceTest.Mercury200*.dat``,
``test/mercury230_expectations.cpp`` and ``test/em_test.cpp`` (MIT-WB licence), openHAB's
``M200Protocol.java`` (EPL-2.0; the 7-byte time answer with the day of week first), and the PyPI
package ``mercury-base`` 1.6 (BSD-3-Clause; its ``mercury_v1/commands.py``), which the tests use as
an independent client.  The v2 profile memory, its pointer and the journals: the public poller
ti-cortex-m4/tm4c1294ncpdt (``devices/device_b.c``, ``automatic_b.c``, ``extended_3_b.c``; no licence
stated, facts only), which uses the Incotex document "Протокол обмена счётчиков Меркурий
230/231/233/234/236"; v2's docstring says what each gave."""
