"""A poller of Energomera CE meters over any pyserial URL: the IEC 61107 mode C sign-on and
programming mode of ``iec62056.client.IECClient`` with the CE check character, then R1 requests
by mnemonic.  Every wait has the client's deadline (``timeout``, 5 s by default) and every answer
a size cap (``codec.MAX_ANSWER``); a meter that stalls, floods or answers ``(Enn)`` is one
``CEError`` line."""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

from ..iec62056.client import IECClient, ProgrammingSession
from ..iec62056.messages import IECError
from .codec import (COMMANDS, E_UNSUPPORTED, ENERGY_VALUES, MAX_ANSWER, CEError, check_char, day_argument, month_argument,
                    parse_answer, request, slot_argument, to_number)


class CEClient:
    """One CE meter on one port: ``open()`` signs on and sends the password; ``read`` asks for a
    mnemonic; ``close()`` sends B0."""

    def __init__(self, url: Optional[str] = None, *, port=None, address: str = "", password: Optional[str] = "777777",
                 timeout: float = 5.0, retries: int = 2, initial_baud: int = 9600) -> None:
        try:
            self.link = IECClient(url, port=port, address=address, initial_baud=initial_baud, timeout=timeout,
                                  retries=retries, max_message=MAX_ANSWER, check=check_char)
        except IECError as exc:
            raise CEError(str(exc), category=exc.category) from None
        self.url = self.link.url
        self.password = password
        self.session: Optional[ProgrammingSession] = None
        self.identification = ""
        self.requests = 0

    def open(self) -> "CEClient":
        """Sign on, enter programming mode (the meter's P0 names its address), send P1."""
        try:
            self.session = self.link.programming(self.password)
        except IECError as exc:
            raise CEError(str(exc), category=exc.category) from None
        ident = self.link.identification
        self.identification = "" if ident is None else f"{ident.manufacturer}{ident.baud_char}{ident.identification or ''}"
        return self

    @property
    def device_address(self) -> str:
        """The address the meter's P0 operand names."""
        operand = (self.session.operand if self.session else None) or ""
        return operand.strip("()")

    def close(self) -> None:
        """B0, then close the port."""
        try:
            if self.session is not None:
                self.session.close()
        except IECError:
            pass
        self.link.close()

    def __enter__(self) -> "CEClient":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- requests -----------------------------------------------------------------------------
    def read_text(self, mnemonic: str, argument: str = "") -> List[str]:
        """The values of ``R1 MNEMO(argument)`` as sent ([] for the empty answer of a value the
        meter does not hold); CEError for ``(Enn)`` or a malformed answer."""
        if self.session is None:
            self.open()
        assert self.session is not None
        self.requests += 1
        try:
            message = self.session.exchange(request(mnemonic, argument), f"answer to {mnemonic}({argument})")
        except IECError as exc:
            raise CEError(str(exc), category=exc.category) from None
        if message.kind != "data":
            raise CEError(f"{self.url}: {mnemonic}({argument}): the meter answered {message.kind.upper()}", None,
                          "dialogue")
        try:
            return parse_answer(message.data or "", mnemonic).values
        except CEError as exc:
            raise CEError(f"{self.url}: {mnemonic}({argument}): {exc}", exc.code, exc.category) from None

    def read(self, mnemonic: str, argument: str = "") -> Optional[List[Optional[float]]]:
        """The values as numbers in base units (Wh, W, V ...: the meter's kWh and kW times 1000;
        CORUU's third angle negated, as the device's daemon stores it as AngAC), None for the
        empty answer; an empty value is None."""
        spec = COMMANDS.get(mnemonic)
        texts = self.read_text(mnemonic, argument)
        if not texts:
            return None
        scale = 1000.0 if spec is not None and spec.kind in ("energy", "day_end", "month_end", "day_cons",
                                                               "month_cons", "profile") else (spec.scale if spec else 1.0)
        out: List[Optional[float]] = []
        for index, text in enumerate(texts):
            if text == "":
                out.append(None)
                continue
            value = round(to_number(text) * scale, 6)
            if spec is not None and index < len(spec.tags) and spec.tags[index] in spec.negated:
                value = -value
            out.append(value)
        return out

    def energy(self, direction: int = 0) -> List[float]:
        """Registers now: Wh [total, tariff 1-5] of direction 0-3 (A+, A-, R+, R-)."""
        return self._energy(("ET0PE", "ET0PI", "ET0QE", "ET0QI")[direction], "")

    def day_end(self, day: dt.date, direction: int = 0) -> Optional[List[float]]:
        """Registers at the end of ``day`` (ENDxx); None when the meter does not hold the day."""
        return self._energy(("ENDPE", "ENDPI", "ENDQE", "ENDQI")[direction], day_argument(day), True)

    def month_end(self, year: int, month: int, direction: int = 0) -> Optional[List[float]]:
        """Registers at the end of a month (ENMxx)."""
        return self._energy(("ENMPE", "ENMPI", "ENMQE", "ENMQI")[direction], month_argument(year, month), True)

    def day_consumption(self, day: dt.date, direction: int = 0) -> Optional[List[float]]:
        """Energy consumed in ``day`` (EADxx)."""
        return self._energy(("EADPE", "EADPI", "EADQE", "EADQI")[direction], day_argument(day), True)

    def month_consumption(self, year: int, month: int, direction: int = 0) -> Optional[List[float]]:
        """Energy consumed in a month (EAMxx)."""
        return self._energy(("EAMPE", "EAMPI", "EAMQE", "EAMQI")[direction], month_argument(year, month), True)

    def _energy(self, mnemonic: str, argument: str, archive: bool = False):
        values = self.read(mnemonic, argument)
        if values is None:
            if archive:
                return None
            raise CEError(f"{self.url}: {mnemonic}: empty answer")
        if len(values) != ENERGY_VALUES or any(v is None for v in values):
            raise CEError(f"{self.url}: {mnemonic}({argument}): {len(values)} values, expected {ENERGY_VALUES}")
        return values

    def profile_slot(self, day: dt.date, slot: int, direction: int = 0) -> Optional[float]:
        """The average power (W) of half-hour ``slot`` (1-48) of ``day`` (GRAxx); None: not held."""
        values = self.read(("GRAPE", "GRAPI", "GRAQE", "GRAQI")[direction], slot_argument(day, slot))
        return None if values is None else values[0]

    def instant(self) -> Dict[str, float]:
        """Instantaneous values by quality tag (UA ... Freq) in V, A, W, var, Hz, degrees."""
        out: Dict[str, float] = {}
        for mnemonic in ("VOLTA", "CURRE", "POWPP", "POWEP", "POWPQ", "POWEQ", "COS_f", "CORUU", "FREQU"):
            spec = COMMANDS[mnemonic]
            try:
                values = self.read(mnemonic) or []
            except CEError as exc:
                if exc.code != E_UNSUPPORTED:
                    raise
                continue  # a quantity this meter does not measure
            for tag, value in zip(spec.tags, values):
                if value is not None:
                    out[tag] = value
        return out

    def info(self, mnemonic: str) -> str:
        """One text value (SNUMB, MODEL, DATE_, TIME_, TAVER ...)."""
        texts = self.read_text(mnemonic)
        if len(texts) != 1:
            raise CEError(f"{self.url}: {mnemonic}: {len(texts)} values, expected 1")
        return texts[0]

    def clock(self) -> dt.datetime:
        """The meter's local time (DATE_ ``0w.dd.mm.yy`` and TIME_ ``hh:mm:ss``)."""
        date, time_ = self.info("DATE_"), self.info("TIME_")
        try:
            day = dt.datetime.strptime(date[3:], "%d.%m.%y").date()
            clock = dt.datetime.strptime(time_, "%H:%M:%S").time()
        except ValueError:
            raise CEError(f"{self.url}: the meter's date {date!r} / time {time_!r} do not parse") from None
        return dt.datetime.combine(day, clock)
