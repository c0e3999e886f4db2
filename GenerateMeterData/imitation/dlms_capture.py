"""Capture from DLMS meters into meter.db through ``imitation.capture`` (same rows, same
rules as the IEC and M-Bus captures): a SPODES meter read by the client, or push telegrams from
a HAN port, followed with reconnection and back-off."""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Callable, Iterator, Optional

from ..model import timegrid
from ..protocols.dlms import spodes
from ..protocols.dlms.acse import decode_apdu
from ..protocols.dlms.errors import DLMSBoundError, DLMSCipherError, DLMSError
from ..protocols.dlms.hdlc import FrameReader, Reassembler
from ..protocols.dlms.link import open_stream
from ..protocols.dlms.obis import obis_text, parse_obis
from ..protocols.dlms.pdu import unwrap_llc
from ..protocols.dlms.push import PushReading, decode_notification
from ..protocols.dlms.xdlms import CipheredApdu, DataNotification
from ..protocols.obis import ENERGY_BY_CODE, QUALITY_BY_CODE, energy_code
from ..protocols.reading import Reading
from ..schema.layout import TARIFFS
from .capture import capture_rows

_SCALE_TO_BASE = {"kWh": 1e3, "kvarh": 1e3, "kW": 1e3, "kvar": 1e3, "kVA": 1e3, "kV": 1e3, "mA": 1e-3}


def spodes_reading(client, timezone: str = timegrid.DEFAULT_TIMEZONE, days: int = 0, months: int = 0) -> Reading:
    """Read a SPODES meter: identity, registers per tariff, instantaneous values and, with
    ``days``, that many complete past days of the load profile and the daily registers and today
    so far (its midnight registers, the half hours completed by the meter's clock); with
    ``months``, the monthly registers of that many past month starts (the present month's included).
    Stamped by the meter's own clock, as its profiles are."""
    tz = timegrid.zone(timezone)
    serial = client.text(spodes.SERIAL).strip()
    try:
        model = client.text(spodes.MODEL).strip()
    except DLMSBoundError:
        raise
    except DLMSError:
        model = ""
    try:
        manufacturer = client.get(spodes.DATA, spodes.LOGICAL_DEVICE_NAME).value[:3].decode("ascii", "replace")
    except DLMSBoundError:
        raise
    except (DLMSError, AttributeError, TypeError):
        manufacturer = ""
    now = client.clock()
    reading = Reading(serial, model, manufacturer, int(now.timestamp()))
    energy = spodes.ENERGY_OBIS
    for register, found in zip(energy.values(), client.registers(list(energy))):
        if found is not None and isinstance(found[0], (int, float)):
            reading.energy[register.tag] = float(found[0]) * _SCALE_TO_BASE.get(found[1] or "", 1.0)
    quality = spodes.QUALITY_REGISTERS
    for quality_register, found in zip(quality, client.registers([r.obis for r in quality])):
        if found is not None and isinstance(found[0], (int, float)):
            reading.quality[quality_register.tag] = float(found[0])
    a_plus = [obis_text(parse_obis(spodes.register_obis(energy_code("A+", t)))) for t in TARIFFS]
    if days > 0:
        today = now.astimezone(tz).date()
        first = timegrid.local_midnight(today - dt.timedelta(days=days), tz)
        last = timegrid.local_midnight(today, tz)
        start = dt.datetime.fromtimestamp(first + 1, tz)
        columns, rows = client.profile(spodes.LOAD_PROFILE, start, now.astimezone(tz))
        obis_columns = [obis for _, obis, _ in columns]
        period = client.get(spodes.PROFILE_GENERIC, spodes.LOAD_PROFILE, 4).value or 1800
        energy_column = obis_columns.index(obis_text(parse_obis(spodes.LOAD_PROFILE_COLUMNS[0][0])))
        for row in rows:
            stamp = row[0]
            if isinstance(stamp, dt.datetime) and stamp <= now:   # a slot still running is no reading
                reading.profile.append((int(stamp.timestamp()), float(row[energy_column]) * 3600 / period))
        columns, rows = client.profile(spodes.DAILY_PROFILE, dt.datetime.fromtimestamp(first, tz),
                                       dt.datetime.fromtimestamp(last, tz))
        obis_columns = [obis for _, obis, _ in columns]
        indexes = [obis_columns.index(obis) for obis in a_plus]
        for row in rows:
            if isinstance(row[0], dt.datetime):
                reading.day_registers.append((int(row[0].timestamp()), [float(row[i]) for i in indexes]))
    if months > 0:
        local = now.astimezone(tz)
        first_month = timegrid.add_months(local.date().replace(day=1), -(months - 1))
        start = dt.datetime.fromtimestamp(timegrid.local_midnight(first_month, tz), tz)
        columns, rows = client.profile(spodes.MONTHLY_PROFILE, start, local)
        obis_columns = [obis for _, obis, _ in columns]
        indexes = [obis_columns.index(obis) for obis in a_plus]
        for row in rows:
            if isinstance(row[0], dt.datetime):
                reading.month_registers.append((int(row[0].timestamp()), [float(row[i]) for i in indexes]))
    return reading


def push_reading(push: PushReading, received: Optional[int] = None) -> Reading:
    """A push telegram's reading: identity, total registers, instantaneous values."""
    names = push.names()
    serial = str(names.get("meter_id") or "")
    if not serial:
        raise DLMSError("the push telegram carries no meter id (0.0.96.1.0.255 or 0.0.0.5)", "push")
    stamp = received if received is not None else int(time.time())
    if push.meter_datetime:
        try:
            moment = dt.datetime.fromisoformat(push.meter_datetime)
            if moment.tzinfo is not None:
                stamp = int(moment.timestamp())
        except ValueError:
            pass
    reading = Reading(serial, str(names.get("meter_type") or ""), push.manufacturer or "", stamp)
    for record in push.records:
        code = tuple(record.obis[2:5])
        if not isinstance(record.value, (int, float)):
            continue
        factor = _SCALE_TO_BASE.get(record.unit or "", 1.0)
        if code in ENERGY_BY_CODE:
            reading.energy[ENERGY_BY_CODE[code].tag] = float(record.value) * factor
        elif code in QUALITY_BY_CODE:
            reading.quality[QUALITY_BY_CODE[code].tag] = float(record.value) * factor
    return reading


def push_telegrams(stream, keys: Optional[dict] = None, octet_stuffing: bool = False,
                   skipped: Optional[Counter] = None) -> Iterator[DataNotification]:
    """Every complete push telegram arriving on a stream (until it fails). Frames that are no
    APDU are skipped and counted in ``skipped``; a ciphered telegram without ``keys``, or one
    that does not decrypt with them, raises DLMSError ``cipher`` at once (reading on could never
    capture anything). A telegram is reassembled up to the largest APDU (DLMSError ``limit``)."""
    reader = FrameReader(octet_stuffing)
    reassembler = Reassembler()
    while True:
        for frame in reader.feed(stream.read(1.0)):
            if frame.kind not in ("I", "UI"):
                continue
            whole = reassembler.add(frame)
            if whole is None:
                continue
            try:
                apdu = decode_apdu(unwrap_llc(whole))
            except DLMSError:
                if skipped is not None:
                    skipped["not an APDU"] += 1
                continue
            if isinstance(apdu, CipheredApdu):
                apdu = _decrypted(apdu, keys)
            if isinstance(apdu, DataNotification):
                yield apdu
            elif skipped is not None:
                skipped[f"{apdu.name}, not a data-notification"] += 1


def _decrypted(apdu: CipheredApdu, keys: Optional[dict]):
    """The plain APDU of a ciphered push; DLMSError ``cipher`` naming what to give."""
    if not keys:
        raise DLMSError(f"the meter pushes ciphered telegrams ({apdu.name}): give its encryption key "
                        "(--dlms-key, and --dlms-auth-key when they are authenticated)", "cipher")
    from ..protocols.dlms.cipher import decrypt
    try:
        return decrypt(apdu, keys["encryption"], keys.get("authentication"))
    except DLMSError as exc:
        detail = str(exc) if isinstance(exc, DLMSCipherError) else "it decrypts to no APDU"
        raise DLMSError(f"a ciphered push telegram does not decrypt with the keys given ({detail}): "
                        "check --dlms-key and --dlms-auth-key", "cipher") from None


class Backoff:
    """AMSHAN's reconnect rule: 1 s doubling to 60 s; a connection that lasted a while resets it,
    repeated quick drops keep it growing."""

    def __init__(self, first: float = 1.0, longest: float = 60.0, settled: float = 30.0) -> None:
        self.first, self.longest, self.settled = first, longest, settled
        self.delay = first

    def after(self, lasted: float) -> float:
        """The pause before the next attempt, given how long the last connection lasted."""
        if lasted >= self.settled:
            self.delay = self.first
        pause = self.delay
        self.delay = min(self.delay * 2, self.longest)
        return pause


def follow_pushes(url: str, handle: Callable[[DataNotification], Optional[bool]], *, keys: Optional[dict] = None,
                  count: Optional[int] = None, sleep: Callable[[float], None] = time.sleep,
                  log: Callable[[str], None] = lambda _: None, backoff: Optional[Backoff] = None,
                  max_attempts: Optional[int] = None, skipped: Optional[Counter] = None) -> int:
    """Read push telegrams from ``url`` for ever (or until ``count`` were handled), reconnecting
    with back-off when the link drops; every complete telegram goes to ``handle``, which returns
    False for one it skipped (it does not count towards ``count``, and is no link failure).
    Returns how many were handled. A telegram that does not decrypt raises DLMSError ``cipher``
    at once, without reconnecting: another attempt would meet the same key."""
    backoff = backoff or Backoff()
    handled = failures = 0
    while count is None or handled < count:
        started = time.monotonic()
        try:
            stream = open_stream(url)
            try:
                for notification in push_telegrams(stream, keys, skipped=skipped):
                    failures = 0
                    if handle(notification) is False:
                        continue
                    handled += 1
                    if count is not None and handled >= count:
                        return handled
            finally:
                stream.close()
        except DLMSCipherError:
            raise
        except DLMSError as exc:
            failures += 1
            if max_attempts is not None and failures >= max_attempts:
                raise
            pause = backoff.after(time.monotonic() - started)
            log(f"{exc}; reconnecting in {pause:g} s")
            sleep(pause)
    return handled


def capture_push(notification: DataNotification, target, timezone: Optional[str] = None):
    """Write one push telegram's reading (one transaction)."""
    return capture_rows(push_reading(decode_notification(notification)), target, timezone)

