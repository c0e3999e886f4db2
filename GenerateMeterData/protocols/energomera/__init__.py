"""Energomera CE301/CE303 (and CE102M) in IEC 61107 (IEC 62056-21) mode C programming mode with
Energomera's mnemonics (the wire layer: ``codec`` frames, check character, commands as data and
E-codes; ``imitator`` the meter's side; ``client`` the poller's side).

Read, not copied, to learn the dialogue: TR1GUN/SimulatorMeter @ a08dfae7 (the CE301/CE303 emulator
the UM-40 SMART's own daemon polled; ``Simulator_meter.py``, no licence file) and
wirenboard/wb-mqtt-serial @ 7f7a2d43 (MIT-WB licence: ``src/iec_common.cpp`` ``Calc7BitCrc``,
``src/devices/energomera_iec_mode_c_device.cpp``, ``energomera_iec_device.cpp`` and the byte
vectors of ``test/energomera_ce102m_test.cpp`` and ``test/energomera_test.cpp``).  What the device's
daemon stored from each answer: ../shared/reference/device-contract.md sections 1.2-1.7; the
project's notes: docs/energomera.md."""
from .codec import COMMANDS, CEError, check_char

__all__ = ["COMMANDS", "CEError", "check_char"]
