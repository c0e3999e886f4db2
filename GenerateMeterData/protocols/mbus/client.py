"""M-Bus master over any pyserial URL: SND_NKE, REQ_UD2 with FCB toggling and multi-telegram
readouts, selection by secondary address (with F wildcards), primary and secondary scans.
Reply timing is the library's: every request waits for a whole frame with its own deadline."""
from __future__ import annotations

import time
from typing import List, Optional

from .frames import (LONG_START, SHORT_START, Frame, FrameError, SND_UD, _frame_length, encode_frame, parse_frame,
                     req_ud2, snd_nke, split_frames)
from .records import Telegram, decode_user_data

SELECT = 0xFD


def select_frame(mask: str) -> bytes:
    """SND_UD to 253 with CI 52: 8 BCD/hex ID digits (F = any), manufacturer, version, medium."""
    mask = mask.upper()
    if len(mask) != 16 or any(c not in "0123456789ABCDEF" for c in mask):
        raise FrameError(f"secondary address {mask!r}: 16 hex digits, F as wildcard", "address")
    identification = int(mask[0:8], 16).to_bytes(4, "little")
    rest = bytes.fromhex(mask[8:16])
    return encode_frame(Frame("long", SND_UD, SELECT, 0x52, identification + rest))


#: bytes of an exchange kept to tell why no frame came of them
MAX_KEPT = 512


def _why_no_frame(received: bytes) -> str:
    """Why the first frame-like bytes received are no frame (a wrong checksum ...); "" when none."""
    for start, byte in enumerate(received):
        if byte in (LONG_START, SHORT_START):
            length = _frame_length(received, start)
            if length is not None and start + length <= len(received):
                try:
                    parse_frame(received[start:start + length])
                except FrameError as exc:
                    return str(exc)
    return ""


class MBusClient:
    """A master on one bus."""

    def __init__(self, url: Optional[str] = None, *, port=None, baudrate: int = 2400, timeout: float = 1.0,
                 retries: int = 2) -> None:
        if port is None:
            import serial
            try:
                port = serial.serial_for_url(url, baudrate=baudrate, parity=serial.PARITY_EVEN, timeout=0.05)
            except (serial.SerialException, ValueError) as exc:
                raise FrameError(f"cannot open {url}: {exc}", "port") from None
        self.port = port
        self.url = url or "port"
        self.timeout = timeout
        self.retries = retries
        self._fcb = True
        self.requests = 0
        self.rejected = ""   # why the bytes of the last exchange that brought no frame were none

    def close(self) -> None:
        """Close the port."""
        self.port.close()

    def __enter__(self) -> "MBusClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _exchange(self, request: bytes) -> Optional[Frame]:
        """Send a request; the first valid frame back (echo and noise skipped), or None."""
        self.requests += 1
        self.port.reset_input_buffer()
        self.port.write(request)
        deadline = time.monotonic() + self.timeout
        buffer = received = b""
        while time.monotonic() < deadline:
            chunk = self.port.read(self.port.in_waiting or 1)
            if chunk:
                buffer += chunk
                received = (received + chunk)[-MAX_KEPT:]
                if buffer.startswith(request):
                    buffer = buffer[len(request):]  # echo of a converter
                frames, buffer, _ = split_frames(buffer)
                if frames:
                    # an E5 among other bytes may be a byte of a frame that did not check
                    self.rejected = _why_no_frame(received) if frames[0].kind == "ack" and len(received) > 1 else ""
                    return frames[0]
        self.rejected = _why_no_frame(received)
        return None

    def _drain(self, seconds: float) -> int:
        """Read and drop whatever arrives for ``seconds`` (a slave answering after our deadline);
        the number of bytes dropped."""
        dropped = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            dropped += len(self.port.read(self.port.in_waiting or 1))
        return dropped

    def ping(self, address: int) -> bool:
        """SND_NKE: True when the slave answers E5."""
        for _ in range(self.retries + 1):
            frame = self._exchange(snd_nke(address))
            if frame is not None and frame.kind == "ack":
                self._fcb = True
                return True
        return False

    def request(self, address: int) -> Telegram:
        """One REQ_UD2 (FCB toggled per new request, repeated unchanged on a lost answer)."""
        for _ in range(self.retries + 1):
            frame = self._exchange(req_ud2(address, fcb=self._fcb))
            if frame is not None and frame.kind in ("long", "control") and frame.ci is not None:
                self._fcb = not self._fcb
                return decode_user_data(frame.control, frame.address, frame.ci, frame.data)
        why = f" (what came is no frame: {self.rejected})" if self.rejected else ""
        raise FrameError(f"{self.url}: no answer from address {address} after {self.retries + 1} tries{why}",
                         "checksum" if "checksum" in why else "timeout")

    def read_all(self, address: int, limit: int = 16) -> List[Telegram]:
        """Every telegram of a multi-telegram readout (DIF 1F = more records follow)."""
        self.ping(address)
        telegrams = [self.request(address)]
        while telegrams[-1].more_records_follow and len(telegrams) < limit:
            telegrams.append(self.request(address))
        return telegrams

    def select(self, mask: str) -> bool:
        """Select by secondary address (wildcards F); True when exactly one slave confirmed."""
        frame = self._exchange(select_frame(mask))
        return frame is not None and frame.kind == "ack"

    def scan_primary(self, addresses=range(0, 251)) -> List[int]:
        """Addresses that answer SND_NKE.  An E5 carries no address, so a slow slave's late E5
        could pass for the next address's answer: after an address stays silent the line is
        drained for one more timeout, and an address that answers is asked once more -- a late
        E5 answers only once."""
        found: List[int] = []
        for address in addresses:
            if not self.ping(address):
                self._drain(self.timeout)
            elif self.ping(address):
                found.append(address)
        return found

    def scan_secondary(self, prefix: str = "") -> List[str]:
        """Walk the ID digits 0-F (not only 0-9) with wildcards; a collision (garbled answer)
        narrows the mask by one more digit."""
        found: List[str] = []

        def probe(known: str) -> None:
            mask = known + "F" * (16 - len(known))
            # no deselect needed: a slave that does not match a new selection deselects itself
            frame = self._exchange(select_frame(mask))
            if frame is None:
                return
            if frame.kind == "ack" and len(known) >= 8:
                telegram = self.request(SELECT)
                if telegram.secondary_address and telegram.secondary_address not in found:
                    found.append(telegram.secondary_address)
                return
            if len(known) >= 8:
                return
            for digit in "0123456789ABCDEF":
                probe(known + digit)

        for digit in "0123456789ABCDEF":
            probe(prefix + digit)
        return found
