"""A master for SET-4TM meters over any pyserial URL: Mercury 230's exchange (a deadline per answer,
a size cap, a status answer raises) with SET-4TM's requests and decoders."""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional, Tuple

from ..mercury import v2
from .codec import (DEFAULT_PASSWORDS, FROM_RESET, GROUP_OF, GROUPS, HEADER_LENGTH, JOURNAL_RECORDS, JOURNALS, MAX_READ,
                    MIN_READ, PROFILE_BYTES, SINGLE, SINGLE_MODE, SINGLE_OF, SLICE_LENGTH, STATUS, USER, HourHeader,
                    Pointer, Set4Error, Slice, StatusError, block_count, block_length, decode_clock, decode_energy,
                    decode_floats, decode_header, decode_journal_record, decode_pointer, decode_serial, decode_slice,
                    decode_variant, energy_request, float_request, journal_request, memory_request, open_request)


class Set4Client(v2.V2Client):
    """Reads SET-4TM meters; ``energy`` gives Wh (the meter constant is read once per address)."""

    def __init__(self, url: Optional[str] = None, **options) -> None:
        try:
            super().__init__(url, **options)
        except v2.MercuryError as exc:
            raise Set4Error(str(exc)) from None
        self.constants: Dict[int, int] = {}

    def __enter__(self) -> "Set4Client":
        return self

    def exchange(self, request: bytes, size: int) -> bytes:
        try:
            return super().exchange(request, size)
        except v2.StatusError as exc:
            raise StatusError(f"meter {request[0]}: status {exc.status}: {STATUS.get(exc.status, 'unknown status')}",
                              exc.status) from None
        except v2.MercuryError as exc:
            raise Set4Error(str(exc)) from None

    def open(self, address: int, level: int = USER, password: Optional[bytes] = None) -> None:  # type: ignore[override]
        self.exchange(open_request(address, DEFAULT_PASSWORDS[level] if password is None else password), 1)

    def clock(self, address: int) -> Tuple[dt.datetime, bool]:
        return decode_clock(self.exchange(v2.frame(address, b"\x04\x00"), 8))

    def serial(self, address: int) -> Tuple[str, dt.date]:
        return decode_serial(self.exchange(v2.frame(address, b"\x08\x00"), 7))

    def variant(self, address: int) -> Tuple[int, str]:
        """(the meter constant in impulses per kWh, the meter type)."""
        return decode_variant(self.exchange(v2.frame(address, b"\x08\x12"), 3))

    def constant(self, address: int) -> int:
        if address not in self.constants:
            self.constants[address] = self.variant(address)[0]
        return self.constants[address]

    def energy(self, address: int, array: int = FROM_RESET, month: int = 0,  # type: ignore[override]
               tariff: int = 0) -> List[float]:
        """A+, A-, R+, R- in Wh."""
        constant = self.constant(address)
        return decode_energy(self.exchange(energy_request(address, array, month, tariff), 16), constant)

    def instants(self, address: int, name: str) -> Tuple[float, ...]:
        """The group's floats in the meter's units (W, var, VA, V, A, cos, Hz): sum/none, A, B, C."""
        code = GROUP_OF[name]
        group = GROUPS[code]
        values = decode_floats(self.exchange(float_request(address, code), 4 * len(group.phases)))
        return tuple(round(v / group.unit, 6) for v in values)

    def instant(self, address: int, name: str, phase: int = 0) -> float:
        """One value (0x08 0x1B 0x00 BWRI) in the meter's units."""
        code = SINGLE_OF[(name, phase)]
        group = SINGLE[code][0]
        value = decode_floats(self.exchange(float_request(address, code, SINGLE_MODE), 4))[0]
        return round(value / group.unit, 6)

    def profile_top(self, address: int) -> Pointer:
        """The profile pointer (0x08 0x04): the address of the slice being formed, its start, the
        overflow flag; an address that is not one of a slice (a multiple of 8 in the memory) is an error."""
        pointer = decode_pointer(self.exchange(v2.frame(address, b"\x08\x04"), 7))
        if pointer.address % SLICE_LENGTH or pointer.address >= PROFILE_BYTES:
            raise Set4Error(f"meter {address}: profile pointer 0x{pointer.address:04X} is not a slice address "
                            f"(the profile memory's records are {SLICE_LENGTH} bytes each)")
        return pointer

    def profile_memory(self, address: int, start: int, length: int) -> bytes:
        """``length`` bytes (2-16) of the profile memory from ``start``."""
        if not MIN_READ <= length <= MAX_READ or not 0 <= start <= PROFILE_BYTES - length:
            raise Set4Error(f"meter {address}: no profile memory read of {length} bytes at 0x{start:X}")
        return self.exchange(memory_request(address, start, length), length)

    def profile_block(self, address: int, number: int,
                      period: int) -> Tuple[Optional[HourHeader], List[Optional[Slice]]]:
        """Hour block ``number`` at an integration period of ``period`` minutes: its header (None:
        not a header, the memory never written there) and its slices (None: never written)."""
        if not 0 <= number < block_count(period):
            raise Set4Error(f"meter {address}: no hour block {number} at a {period}-minute period")
        at = number * block_length(period)
        header = decode_header(self.profile_memory(address, at, HEADER_LENGTH))
        data = b""
        for start in range(at + HEADER_LENGTH, at + block_length(period), MAX_READ):
            data += self.profile_memory(address, start, min(MAX_READ, at + block_length(period) - start))
        return header, [decode_slice(data[i:i + SLICE_LENGTH]) for i in range(0, len(data), SLICE_LENGTH)]

    def journal(self, address: int, number: int, record: int) -> Tuple[Optional[dt.datetime], Optional[dt.datetime]]:
        """Record ``record`` (0-9) of journal ``number`` (``JOURNALS``): its two times (None: none)."""
        if number not in JOURNALS or not 0 <= record < JOURNAL_RECORDS:
            raise Set4Error(f"meter {address}: no journal record {number}/{record}")
        return decode_journal_record(self.exchange(journal_request(address, number, record), 14))


__all__ = ["Set4Client"]
