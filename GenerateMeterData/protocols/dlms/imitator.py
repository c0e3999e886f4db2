"""A SPODES meter imitator: the COSEM objects of ``spodes`` served from a meter's values
(``values.MeterValues``; ``imitation.DLMSImitator`` defaults to a generated meter of the core:
registers, instantaneous values, load/daily/monthly profiles, event logs), on any
``stream.StreamService`` URL: TCP with HDLC or the IEC 62056-47 wrapper, a pty with HDLC; clients 16 (public) and 32 (reader,
low-level password); ``-o OBIS:value`` overrides; push mode sends data-notifications in
Aidon-, Kamstrup- or Kaifa-style lists."""
from __future__ import annotations

import datetime as dt
import threading
from typing import Callable, Dict, List, Optional, Tuple

from ..obis import DIRECTIONS, QUALITY_BY_CODE, energy_code
from ..stream import StreamService, incoming
from ..values import MeterValues
from . import axdr, spodes
from .acse import AARE, AARQ, ReleaseRequest, ReleaseResponse, decode_apdu
from .xdlms import (ActionRequestNormal, ActionResponseNormal, AttributeDescriptor, DataNotification,
                    ExceptionResponse, GetRequestNext, GetRequestNormal, GetRequestWithList,
                    GetResponseNormal, GetResponseWithBlock, GetResponseWithList, GetResult, InitiateRequest,
                    InitiateResponse, RangeDescriptor, SetRequestNormal, SetResponseNormal)
from .axdr import CosemDateTime, Data
from .errors import DLMSError
from .hdlc import LLC_RESPONSE, UI, Address, Frame, FrameReader, control_u
from .link import HdlcServerLink
from .obis import obis_bytes, obis_text, parse_obis
from .pdu import Apdu
from .push import notification_for
from .wrapper import WrapperReader, wrap

OBJECT_UNDEFINED, READ_WRITE_DENIED, OTHER_REASON, BLOCK_NUMBER_INVALID = 4, 3, 250, 19
SERVER_CONFORMANCE = 0x00501F | 0x001000 | 0x000800  # get, set, selective access, action, block transfer, multiple refs
SERVER_MAX_PDU = 1024
#: The most a GET-with-list gathers, in block transfer when it is longer than the client's PDU
#: (a whole load profile is ~130 kB: two fit); past it, other-reason
MAX_LIST_ANSWER = 256 * 1024


class SpodesObjects:
    """The imitated meter's COSEM objects: ``get(class, obis, attribute, access)`` -> Data, or an
    int data-access-result when it cannot be read.  ``refuse``: a planted fault, the
    data-access-result every GET gets instead (0: none); ``gaps``: planted profile gaps."""

    def __init__(self, meter: MeterValues, overrides: Optional[Dict[str, str]] = None) -> None:
        self.meter = meter
        self.refuse = 0
        #: planted gaps: load-profile slots ending in (start, end] have no entry (as a meter
        #: without supply records none)
        self.gaps: List[Tuple[int, int]] = []
        self.overrides = {obis_text(parse_obis(k)): v for k, v in (overrides or {}).items()}
        self.events: Dict[str, List[Tuple[int, int]]] = {log: [] for log in spodes.EVENT_LOGS}
        self._local = threading.local()
        for obis, value in self.overrides.items():
            try:
                self.register_value(obis)
            except ValueError:
                raise DLMSError(f"override {obis}:{value!r}: a register takes a number", "input") from None
        # the objects served: the meter's (spodes.SERVED_OBJECTS) and a Data object per override of
        # a name the meter does not have; the object list is derived from this
        known = {parse_obis(o.obis) for o in spodes.SERVED_OBJECTS}
        self.served: List[spodes.CosemObject] = list(spodes.SERVED_OBJECTS) + [
            spodes.CosemObject(".".join(str(p) for p in parse_obis(obis)), spodes.DATA, (1, 2))
            for obis in self.overrides if parse_obis(obis) not in known]
        self._served = {obis_bytes(o.obis): o for o in self.served}

    def begin_request(self) -> None:
        """Take the snapshot one request reads: every register and instantaneous value of a
        GET-with-list comes from the same moment, so a total is the sum of its tariffs and the
        phase values add up even when the second or the minute turns during the request.
        Per thread: each connection is served by its own."""
        now = self.meter.now()
        self._local.snapshot = (now, self.meter.registers(now), self.meter.quality())

    def _current(self) -> tuple:
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is None or (snapshot[0] != self.meter.now() and not getattr(self._local, "in_request", False)):
            self.begin_request()
        return self._local.snapshot

    def registers(self) -> List[List[int]]:
        """The registers of the present request's snapshot."""
        return self._current()[1]

    def quality(self) -> dict:
        """The instantaneous values of the present request's snapshot."""
        return self._current()[2]

    # ---- values ----------------------------------------------------------------------------
    def moment(self, ts: int) -> Data:
        local = dt.datetime.fromtimestamp(ts, self.meter.tz)
        return axdr.date_time(CosemDateTime.from_datetime(local))

    def _override(self, obis: str) -> Optional[str]:
        return self.overrides.get(obis_text(parse_obis(obis)))

    def register_value(self, obis: str) -> Optional[Tuple[Data, int, int]]:
        """(raw value, scaler, unit) of a register, None when the meter has no such register."""
        dotted = ".".join(str(p) for p in parse_obis(obis))
        energy = spodes.find_energy(dotted)
        if energy is not None:
            override = self._override(obis)
            value = int(float(override)) if override is not None else \
                self.registers()[energy.direction.index][energy.tariff]
            return Data(axdr.DOUBLE_LONG_UNSIGNED, value), 0, spodes.energy_unit(energy.direction)
        if dotted == spodes.INTERVAL_ENERGY:
            override = self._override(obis)
            _, _, scaler, unit = spodes.LOAD_PROFILE_COLUMNS[0]
            if override is not None:
                return Data(axdr.DOUBLE_LONG_UNSIGNED, int(float(override))), scaler, unit
            now = self.meter.now()
            rows = self.profile_rows(spodes.LOAD_PROFILE, now - 7200, now)
            return (rows[-1][1][1] if rows else Data(axdr.DOUBLE_LONG_UNSIGNED, 0)), scaler, unit
        register = spodes.find_quality(dotted)
        if register is not None:
            override = self._override(obis)
            reading = float(override) if override is not None else register.quantity.value_in(self.quality())
            if reading is None:
                return Data(axdr.NULL), register.scaler, register.unit
            return Data(axdr.DOUBLE_LONG, int(round(reading * 10 ** -register.scaler))), register.scaler, register.unit
        return None

    # ---- profiles --------------------------------------------------------------------------
    def profile_rows(self, obis: str, start: Optional[int] = None,
                     end: Optional[int] = None) -> List[Tuple[int, List[Data]]]:
        """(timestamp, row) of the entries of a profile, oldest first (days outside start..end
        are not computed)."""
        name = obis_text(parse_obis(obis))
        meter, now = self.meter, self.meter.now()
        rows: List[Tuple[int, List[Data]]] = []
        if name == obis_text(parse_obis(spodes.LOAD_PROFILE)):
            today = meter.local_now().date()
            for days_ago in range(min(meter_archive_days(meter), 130) - 1, -1, -1):
                day = today - dt.timedelta(days=days_ago)
                midnight = _midnight(day, meter)
                if (start is not None and midnight + 86400 + 3600 < start) or (end is not None and midnight > end):
                    continue
                for slot, power in enumerate(meter.profile(days_ago)):
                    slot_end = midnight + (slot + 1) * 1800   # not ``end``: that bounds the days computed
                    if slot_end > now:
                        break
                    if any(start_ < slot_end <= end_ for start_, end_ in self.gaps):
                        continue
                    rows.append((slot_end, [self.moment(slot_end), Data(axdr.DOUBLE_LONG_UNSIGNED, power * 5)]))
            return rows
        if name in (obis_text(parse_obis(spodes.DAILY_PROFILE)), obis_text(parse_obis(spodes.MONTHLY_PROFILE))):
            today = meter.local_now().date()
            first = today - dt.timedelta(days=meter_archive_days(meter) - 2)
            if name == obis_text(parse_obis(spodes.DAILY_PROFILE)):
                days = [first + dt.timedelta(days=i) for i in range((today - first).days + 1)]
            else:
                days = [d for d in (first + dt.timedelta(days=i) for i in range((today - first).days + 1)) if d.day == 1]
            for day in days:
                ts = _midnight(day, meter)
                registers = meter.registers(ts)
                rows.append((ts, [self.moment(ts)] + [Data(axdr.DOUBLE_LONG_UNSIGNED, registers[q][t])
                                                       for q in range(4) for t in range(5)]))
            return rows
        if name in self.events:
            return [(ts, [self.moment(ts), Data(axdr.UNSIGNED, code)]) for ts, code in self.events[name]]
        return rows

    def profile_columns(self, obis: str) -> List[Tuple[str, int, int, int]]:
        spec = spodes.PROFILES[_profile_key(obis)]
        return [(spodes.CLOCK, spodes.CLOCK_CLASS, 0, 0)] + list(spec["columns"])

    def select(self, obis: str, access) -> Data:
        columns = self.profile_columns(obis)
        if access is None:
            rows = self.profile_rows(obis)
            chosen, picked = rows, None
        elif access.selector == 1:
            rng = RangeDescriptor.from_data(access.parameters)
            start, end = _timestamp(rng.from_value, self.meter), _timestamp(rng.to_value, self.meter)
            rows = self.profile_rows(obis, start, end)
            chosen = [r for r in rows if (start is None or r[0] >= start) and (end is None or r[0] <= end)]
            wanted = [obis_text(c[1]) for c in rng.selected]
            picked = [i for i, c in enumerate(columns) if obis_text(parse_obis(c[0])) in wanted] if wanted else None
        elif access.selector == 2:
            rows = self.profile_rows(obis)
            first, last, first_col, last_col = (d.value for d in access.parameters.value)
            chosen = rows[max(first - 1, 0):(last or len(rows))]
            picked = list(range(max(first_col - 1, 0), last_col or len(columns)))
        else:
            raise DLMSError(f"selective access selector {access.selector}", "access")
        out = []
        for _, row in chosen:
            out.append(axdr.structure(*(row if picked is None else [row[i] for i in picked])))
        return axdr.array(out)

    # ---- the GET entry point ---------------------------------------------------------------
    def served_object(self, class_id: int, obis_raw: bytes, attribute: int):
        """The served object an attribute belongs to, or the data-access-result refusing it:
        object-undefined for an object the meter does not have (or of another class),
        read-write-denied for an attribute of it the meter does not answer."""
        served = self._served.get(bytes(obis_raw))
        if served is None or served.class_id != class_id:
            return OBJECT_UNDEFINED
        if attribute not in served.readable:
            return READ_WRITE_DENIED if 1 <= attribute <= spodes.CLASS_SHAPES[class_id][1] else OBJECT_UNDEFINED
        return served

    def get(self, class_id: int, obis_raw: bytes, attribute: int, access=None):
        if self.refuse:
            return self.refuse
        refused = self.served_object(class_id, obis_raw, attribute)
        if isinstance(refused, int):
            return refused
        obis = ".".join(str(b) for b in obis_raw)
        name = obis_text(obis_raw)
        if attribute == 1:
            return axdr.octets(obis_raw)
        if name == obis_text(parse_obis(spodes.CLOCK)) and class_id == spodes.CLOCK_CLASS:
            if attribute == 2:
                return self.moment(self.meter.now())
            if attribute == 3:
                offset = self.meter.local_now().utcoffset() or dt.timedelta(0)
                return Data(axdr.LONG, -int(offset.total_seconds() // 60))
            return OBJECT_UNDEFINED
        if class_id == spodes.DATA and attribute == 2:
            override = self._override(obis)
            if name == obis_text(parse_obis(spodes.SERIAL)):
                return Data(axdr.VISIBLE_STRING, override or self.meter.serial)
            if name == obis_text(parse_obis(spodes.MODEL)):
                return Data(axdr.VISIBLE_STRING, override or self.meter.model)
            if name == obis_text(parse_obis(spodes.LOGICAL_DEVICE_NAME)):
                return axdr.octets((override or f"GMD{self.meter.serial}").encode("ascii"))
            if name in (obis_text(parse_obis(spodes.FIRMWARE_VERSION)), obis_text(parse_obis(spodes.SOFTWARE_VERSION))):
                return Data(axdr.VISIBLE_STRING, override or spodes.FIRMWARE)
            log = spodes.EVENT_LOG_OF_CODE.get(obis)
            if log is not None and override is None:   # the event code object: the log's last code
                return Data(axdr.UNSIGNED, self.events[log][-1][1] if self.events[log] else 0)
            if override is not None:
                return Data(axdr.VISIBLE_STRING, override)
            return OBJECT_UNDEFINED
        if class_id == spodes.REGISTER:
            found = self.register_value(obis)
            if found is None:
                return OBJECT_UNDEFINED
            value, scaler, unit = found
            if attribute == 2:
                return value
            if attribute == 3:
                return spodes.scaler_unit(scaler, unit)
            return OBJECT_UNDEFINED
        if class_id == spodes.PROFILE_GENERIC:
            key = _profile_key(obis)
            if key in spodes.SCALER_PROFILES:
                columns = spodes.PROFILES[spodes.SCALER_PROFILES[key]]["columns"]
                if attribute == 2:
                    return axdr.array([axdr.structure(*(spodes.scaler_unit(s, u) for _, _, s, u in columns))])
                if attribute == 3:
                    return axdr.array([spodes.capture_object(o, c, 3) for o, c, _, _ in columns])
                if attribute == 4:
                    return Data(axdr.DOUBLE_LONG_UNSIGNED, 0)
                if attribute in (7, 8):
                    return Data(axdr.DOUBLE_LONG_UNSIGNED, 1)
            if attribute == 5:
                return Data(axdr.ENUM, spodes.SORT_FIFO)
            if attribute == 6:
                return spodes.sort_object()
            if key not in spodes.PROFILES:
                return OBJECT_UNDEFINED
            if attribute == 2:
                return self.select(obis, access)
            if attribute == 3:
                return axdr.array([spodes.capture_object(o, c) for o, c, _, _ in self.profile_columns(obis)])
            if attribute == 4:
                return Data(axdr.DOUBLE_LONG_UNSIGNED, spodes.PROFILES[key]["period"])
            if attribute in (7, 8):
                return Data(axdr.DOUBLE_LONG_UNSIGNED, len(self.profile_rows(obis)))
            return OBJECT_UNDEFINED
        return OBJECT_UNDEFINED


def meter_archive_days(meter: MeterValues) -> int:
    """How many days back the meter's archive reaches."""
    return meter.archive_days


def _midnight(day: dt.date, meter: MeterValues) -> int:
    return meter.midnight(day)


def _profile_key(obis: str) -> str:
    return ".".join(str(p) for p in parse_obis(obis))


def _timestamp(value: Data, meter: MeterValues) -> Optional[int]:
    if value.tag == axdr.OCTET_STRING:
        moment = axdr.parse_datetime_octets(value.value)
    elif value.tag == axdr.DATE_TIME:
        moment = value.value
    else:
        return None
    if moment is None:
        return None
    when = moment.to_datetime()
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=meter.tz)
    return int(when.timestamp())


class Association:
    """The application layer of one connection: AARQ/AARE, GET (normal, with list, block
    transfer), SET and ACTION refused, RLRQ/RLRE."""

    def __init__(self, objects: SpodesObjects, passwords: Dict[int, bytes]) -> None:
        self.objects = objects
        self.passwords = passwords
        self.associated = False
        self.client_max_pdu = 0xFFFF
        self.blocks: List[bytes] = []
        self.block_number = 0
        self.invoke = 0xC1
        self.client, self.mechanism, self.conformance = 0, 0, SERVER_CONFORMANCE

    def reset(self) -> None:
        self.associated = False
        self.blocks = []

    def handle(self, raw: bytes, client: int) -> Optional[bytes]:
        self.objects.begin_request()
        self.objects._local.in_request = True
        try:
            return self._handle(raw, client)
        finally:
            self.objects._local.in_request = False

    def _handle(self, raw: bytes, client: int) -> Optional[bytes]:
        try:
            request = decode_apdu(raw)
        except DLMSError:
            return ExceptionResponse(2, 2).encode()    # service-unknown
        if isinstance(request, AARQ):
            return self._associate(request, client).encode()
        if isinstance(request, ReleaseRequest):
            self.associated = False
            return ReleaseResponse(0).encode()
        if not self.associated:
            return ExceptionResponse(1, 1).encode()    # service-not-allowed, operation-not-possible
        if isinstance(request, GetRequestNormal):
            return self._answer(self._get(request.attribute, request.access), request.invoke)
        if isinstance(request, GetRequestWithList):
            results, size = [], 0
            for attribute, access in request.attributes:   # each encoded at once: one value's tree at a time
                value = self._get(attribute, access)
                results.append((GetResult(error=value) if isinstance(value, int) else GetResult(data=value)).encode())
                size += len(results[-1])
                if size > MAX_LIST_ANSWER:   # stop at once: a list of many whole profiles is refused, not gathered
                    return GetResponseNormal(GetResult(error=OTHER_REASON), request.invoke).encode()
            listed = axdr.encode_length(len(results)) + b"".join(results)
            encoded = GetResponseWithList.wrap(listed, request.invoke)
            if len(encoded) <= self.client_max_pdu:
                return encoded
            # longer than the client takes: in blocks, whose raw data is the list of
            # Get-Data-Results (its quantity, then each), as for a single attribute its Data
            return self._in_blocks(listed, request.invoke)
        if isinstance(request, GetRequestNext):
            if not self.blocks or request.block_number != self.block_number:
                return GetResponseWithBlock(True, request.block_number, error=BLOCK_NUMBER_INVALID,
                                            invoke=request.invoke).encode()
            return self._next_block(request.invoke)
        if isinstance(request, SetRequestNormal):
            return SetResponseNormal(READ_WRITE_DENIED, request.invoke).encode()
        if isinstance(request, ActionRequestNormal):
            return ActionResponseNormal(READ_WRITE_DENIED, None, request.invoke).encode()
        return ExceptionResponse(1, 2).encode()

    def _associate(self, request: AARQ, client: int) -> AARE:
        initiate = request.user_apdu if isinstance(request.user_apdu, InitiateRequest) else None
        if request.application_context != 1 or initiate is None:
            return AARE(1, 2, user_apdu=InitiateResponse(SERVER_CONFORMANCE, SERVER_MAX_PDU))
        expected = spodes.CLIENT_MECHANISMS.get(client)
        if expected is None:
            return AARE(1, 1, user_apdu=InitiateResponse(SERVER_CONFORMANCE, SERVER_MAX_PDU))
        mechanism = request.mechanism or 0
        if mechanism not in (0, 1):   # HLS is not supported
            return AARE(1, 11, user_apdu=InitiateResponse(SERVER_CONFORMANCE, SERVER_MAX_PDU))
        if expected == 1 and (mechanism != 1 or request.password != self.passwords.get(client)):
            return AARE(1, 13 if mechanism == 1 else 12, user_apdu=InitiateResponse(SERVER_CONFORMANCE, SERVER_MAX_PDU))
        self.associated = True
        self.client_max_pdu = max(64, min(initiate.max_receive_pdu_size or 0xFFFF, 0xFFFF))
        conformance = SERVER_CONFORMANCE & initiate.conformance or SERVER_CONFORMANCE
        self.client, self.mechanism, self.conformance = client, mechanism, conformance
        return AARE(0, 0, user_apdu=InitiateResponse(conformance, SERVER_MAX_PDU))

    def current_association(self, attribute: int):
        """Association LN 0.0.40.0.0.255 (version 1) of this connection: its object list (derived
        from the served objects), the partners, the application context and mechanism names
        (Blue Book OIDs 2.16.756.5.8.1.1 and 2.16.756.5.8.2.x), the xDLMS context, the status."""
        if attribute == 2:
            return spodes.object_list(self.objects.served)
        if attribute == 3:
            return axdr.structure(Data(axdr.INTEGER, self.client), Data(axdr.LONG_UNSIGNED, 1))
        if attribute == 4:
            return axdr.octets(bytes((0x60, 0x85, 0x74, 0x05, 0x08, 0x01, 0x01)))
        if attribute == 5:
            return axdr.structure(Data(axdr.BIT_STRING, format(self.conformance, "024b")),
                                  Data(axdr.LONG_UNSIGNED, self.client_max_pdu),
                                  Data(axdr.LONG_UNSIGNED, SERVER_MAX_PDU), Data(axdr.UNSIGNED, 6),
                                  Data(axdr.INTEGER, 0), axdr.octets(b""))
        if attribute == 6:
            return axdr.octets(bytes((0x60, 0x85, 0x74, 0x05, 0x08, 0x02, self.mechanism)))
        return Data(axdr.ENUM, 2)   # 8, association_status: associated

    def _get(self, attribute: AttributeDescriptor, access):
        try:
            if attribute.class_id == spodes.ASSOCIATION_LN:
                served = self.objects.served_object(attribute.class_id, attribute.obis, attribute.attribute)
                if isinstance(served, int) or attribute.attribute == 1:
                    return served if isinstance(served, int) else axdr.octets(bytes(attribute.obis))
                return self.current_association(attribute.attribute)
            return self.objects.get(attribute.class_id, attribute.obis, attribute.attribute, access)
        except (DLMSError, TypeError, ValueError, AttributeError):
            # parameters of a shape the selector does not take (a client's mistake): the meter
            # answers other-reason and keeps serving, as a real one does
            return OTHER_REASON

    def _answer(self, value, invoke: int) -> bytes:
        if isinstance(value, int):
            return GetResponseNormal(GetResult(error=value), invoke).encode()
        encoded = GetResponseNormal(GetResult(data=value), invoke).encode()
        if len(encoded) <= self.client_max_pdu:
            return encoded
        return self._in_blocks(value.encode(), invoke)

    def _in_blocks(self, raw: bytes, invoke: int) -> bytes:
        """The first of the get-response-with-datablock answers carrying ``raw``, each within the
        client's max PDU size (12 bytes of the APDU's head and the raw data's length)."""
        size = max(16, self.client_max_pdu - 16)
        self.blocks = [raw[i:i + size] for i in range(0, len(raw), size)]
        self.block_number = 0
        return self._next_block(invoke)

    def _next_block(self, invoke: int) -> bytes:
        part = self.blocks.pop(0)
        self.block_number += 1
        last = not self.blocks
        return GetResponseWithBlock(last, self.block_number, part, None, invoke).encode()


PUSH_LAYOUTS = ("aidon", "kamstrup", "kaifa")


#: the layouts whose meters also send a short list of the active power alone, without the meter id
#: (Aidon and Kaifa "list 1", every 2.5 s between the full lists)
SHORT_LIST_LAYOUTS = ("aidon", "kaifa")


def push_records(objects: SpodesObjects, layout: str, short: bool = False) -> DataNotification:
    """One push telegram of the meter's present values in a HAN list layout; ``short``: the list 1
    of Aidon and Kaifa meters, the active power import alone (no meter id)."""
    meter = objects.meter
    quality = meter.quality()
    registers = meter.registers()
    totals = [registers[d.index][0] for d in DIRECTIONS]   # A+, A-, R+, R- total (tariff 0)

    def number(c: int, factor: float = 1.0) -> int:
        """The meter's instantaneous value C.7.0 as an integer of the list (0 when absent)."""
        value = QUALITY_BY_CODE[(c, 7, 0)].value_in(quality)
        return 0 if value is None else int(round(value * factor))

    now = CosemDateTime.from_datetime(meter.local_now().replace(microsecond=0))
    if short:
        power = Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(1), 0))
        if layout == "aidon":
            return notification_for([("1.0.1.7.0.255", power)], layout="obis-structures",
                                    scaler_units={"1.0.1.7.0.255": (0, 27)})
        if layout == "kaifa":
            return notification_for([("", power)], layout="bare-values", moment=now)
        raise DLMSError(f"push layout {layout!r} has no short list: {', '.join(SHORT_LIST_LAYOUTS)} have", "push")
    if layout == "aidon":
        records = [("1.1.0.2.129.255", Data(axdr.VISIBLE_STRING, "AIDON_V0001")),
                   ("0.0.96.1.0.255", Data(axdr.VISIBLE_STRING, meter.serial)),
                   ("0.0.96.1.7.255", Data(axdr.VISIBLE_STRING, meter.model)),
                   ("1.0.1.7.0.255", Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(1), 0))),
                   ("1.0.3.7.0.255", Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(3), 0)))]
        scalers = {"1.0.1.7.0.255": (0, 27), "1.0.3.7.0.255": (0, 29)}
        for current, voltage in ((31, 32), (51, 52), (71, 72)):
            records.append((f"1.0.{current}.7.0.255", Data(axdr.LONG, number(current, 10))))
            records.append((f"1.0.{voltage}.7.0.255", Data(axdr.LONG_UNSIGNED, number(voltage, 10))))
            scalers[f"1.0.{current}.7.0.255"] = (-1, 33)
            scalers[f"1.0.{voltage}.7.0.255"] = (-1, 35)
        records.append(("0.0.1.0.0.255", axdr.date_time(now)))
        for direction, total in zip(DIRECTIONS, totals):
            obis = spodes.register_obis(energy_code(direction.tag, 0))
            records.append((obis, Data(axdr.DOUBLE_LONG_UNSIGNED, total // 10)))
            scalers[obis] = (1, spodes.energy_unit(direction))
        return notification_for(records, layout="obis-structures", scaler_units=scalers)
    if layout == "kamstrup":
        records = [("1.1.0.0.5.255", Data(axdr.VISIBLE_STRING, meter.serial)),
                   ("1.1.96.1.1.255", Data(axdr.VISIBLE_STRING, meter.model)),
                   ("1.1.1.7.0.255", Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(1), 0))),
                   ("1.1.3.7.0.255", Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(3), 0)))]
        for c in (31, 51, 71):
            records.append((f"1.1.{c}.7.0.255", Data(axdr.DOUBLE_LONG_UNSIGNED, number(c, 100))))
        for c in (32, 52, 72):
            records.append((f"1.1.{c}.7.0.255", Data(axdr.LONG_UNSIGNED, number(c))))
        records.append(("0.1.1.0.0.255", axdr.date_time(now)))
        for direction, total in zip(DIRECTIONS, totals):
            c, d, e = energy_code(direction.tag, 0)
            records.append((f"1.1.{c}.{d}.{e}.255", Data(axdr.DOUBLE_LONG_UNSIGNED, total // 10)))
        return notification_for(records, layout="obis-pairs", list_id="Kamstrup_V0001", moment=now,
                                invoke_id=0)
    if layout == "kaifa":
        values = [Data(axdr.OCTET_STRING, b"KFM_001"), Data(axdr.OCTET_STRING, meter.serial.encode()),
                  Data(axdr.OCTET_STRING, meter.model.encode()),
                  Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(1), 0)), Data(axdr.DOUBLE_LONG_UNSIGNED, 0),
                  Data(axdr.DOUBLE_LONG_UNSIGNED, max(number(3), 0)), Data(axdr.DOUBLE_LONG_UNSIGNED, 0)]
        values += [Data(axdr.DOUBLE_LONG_UNSIGNED, number(c, 1000)) for c in (31, 51, 71)]
        values += [Data(axdr.DOUBLE_LONG_UNSIGNED, number(c, 10)) for c in (32, 52, 72)]
        values += [axdr.octets(now.encode())] + [Data(axdr.DOUBLE_LONG_UNSIGNED, total) for total in totals]
        return notification_for([("", v) for v in values], layout="bare-values", moment=now)
    raise DLMSError(f"push layout {layout!r}: {', '.join(PUSH_LAYOUTS)}", "push")


class DLMSImitator(StreamService):
    """One imitated SPODES meter. ``start(url)``: ``start_tcp()`` (HDLC, or the wrapper with
    ``wrapper=True``), ``start_pty()``, ``start_serial(url)`` (HDLC); with ``push`` set,
    data-notifications go out every ``push_interval`` seconds."""

    def __init__(self, meter: Optional[MeterValues] = None, *, overrides: Optional[Dict[str, str]] = None,
                 passwords: Optional[Dict[int, bytes]] = None, logical: int = 1, physical: Optional[int] = None,
                 wrapper: bool = False, push: Optional[str] = None, push_interval: float = 10.0,
                 push_short: int = 0, push_key: Optional[bytes] = None, push_auth_key: Optional[bytes] = None,
                 max_info: int = 512, window: int = 7) -> None:
        super().__init__()
        if meter is None:
            raise TypeError("DLMSImitator: give a meter (GenerateMeterData.imitation.DLMSImitator serves a "
                            "generated one by default)")
        self.meter = meter
        self.objects = SpodesObjects(self.meter, overrides)
        self.passwords = dict(spodes.DEFAULT_PASSWORDS if passwords is None else passwords)
        if physical is None:
            physical = spodes.server_address_from_serial(self.meter.serial)
        self.address = Address.server(logical, physical)
        self.wrapper = wrapper
        if push is not None and push not in PUSH_LAYOUTS:
            raise DLMSError(f"push layout {push!r}: {', '.join(PUSH_LAYOUTS)}", "push")
        if push_short and push not in SHORT_LIST_LAYOUTS:
            raise DLMSError(f"short lists are sent by {', '.join(SHORT_LIST_LAYOUTS)} meters, not {push}", "push")
        self.push = push
        self.push_interval = push_interval
        self.push_short = push_short        # short lists (no meter id) after each full one
        self.push_key, self.push_auth_key = push_key, push_auth_key
        self.push_counter = 0
        self.max_info = max_info
        self.window = window
        self.requests = 0

    # ---- push ------------------------------------------------------------------------------
    def push_frame(self, short: bool = False) -> bytes:
        """One push telegram as a UI frame (what a HAN port sends); general-glo-ciphered with
        ``push_key`` (and authenticated with ``push_auth_key``) when given."""
        notification: Apdu = push_records(self.objects, self.push or "aidon", short)
        if self.push_key:
            from .cipher import encrypt_general_glo
            self.push_counter += 1
            title = b"GMD" + (int("".join(c for c in self.meter.serial if c.isdigit()) or 0) % 2 ** 40).to_bytes(5, "big")
            notification = encrypt_general_glo(notification, title, self.push_counter, self.push_key,
                                               self.push_auth_key, 0x30 if self.push_auth_key else 0x20)
        return Frame(Address(16), self.address, control_u(UI), LLC_RESPONSE + notification.encode()).encode()

    def _push_loop(self, send: Callable[[bytes], None]) -> None:
        sent = 0
        while not self._stop.is_set():
            try:   # a full list, then push_short short ones, each push_interval apart
                send(self.push_frame(short=sent % (self.push_short + 1) != 0))
            except OSError:
                return
            sent += 1
            if self._stop.wait(self.push_interval):
                return

    # ---- one byte stream -------------------------------------------------------------------
    def serve(self, receive: Callable[[], Optional[bytes]], send: Callable[[bytes], None],
              keep_open: bool = False) -> None:
        """Answer requests on one byte stream until it closes; with ``push`` set, send
        data-notifications every ``push_interval`` seconds instead."""
        if self.push:
            self._push_loop(send)
            return
        association = Association(self.objects, self.passwords)

        def application(apdu: bytes, client: int) -> Optional[bytes]:
            self.requests += 1
            return association.handle(apdu, client)

        if self.wrapper:
            wrapper_reader = WrapperReader()
        else:
            reader = FrameReader()
            link = HdlcServerLink(self.address, application, max_info=self.max_info, window=self.window,
                                  on_disconnect=lambda client: association.reset())
        for chunk in incoming(receive, self._stop, keep_open):
            try:
                if self.wrapper:
                    for header, apdu in wrapper_reader.feed(chunk):
                        answer = application(apdu, header["source"])
                        if answer is not None:
                            send(wrap(answer, header["destination"], header["source"]))
                else:
                    for frame in reader.feed(chunk):
                        if frame.destination != self.address and not (
                                frame.destination.logical == self.address.logical
                                and frame.destination.physical in (None, self.address.physical)):
                            continue   # another meter on the bus
                        try:
                            answers = link.handle(frame)
                        except DLMSError:   # e.g. reassembly past its cap: the link forgot the parts;
                            continue        # the frames after this one in the chunk still count
                        for out in answers:
                            send(out)
            except DLMSError:
                if self.wrapper:
                    wrapper_reader = WrapperReader()
