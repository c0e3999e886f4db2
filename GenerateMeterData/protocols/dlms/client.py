"""A SPODES client: association as client 16 (public) or 32 (reader, low-level password), GET
with block transfer, the clock, registers with their scaler_unit, profiles by time range with
their scaler profile, event logs -- over HDLC on any pyserial URL, or TCP with the wrapper."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Tuple, Union

from . import axdr, spodes
from .acse import AARE, AARQ, ACSE_USER_DIAGNOSTICS, ReleaseRequest, decode_apdu
from .xdlms import (DATA_ACCESS_RESULTS, AccessSelection, AttributeDescriptor, ExceptionResponse,
                    GetRequestNext, GetRequestNormal, GetRequestWithList, GetResponseNormal,
                    GetResponseWithBlock, GetResponseWithList, InitiateRequest, RangeDescriptor)
from .axdr import CosemDateTime, Data
from .errors import DLMSBoundError, DLMSError
from .hdlc import Address
from .link import READ_TIMEOUT, Deadline, HdlcClientLink, SerialStream, SocketStream, WrapperClientLink, open_stream
from .obis import obis_bytes, obis_text, parse_obis
from .push import scale
from .tables import UNITS

CLIENT_CONFORMANCE = 0x001E1D  # get, set, selective access, action, block transfer with get, multiple references
#: The most one GET gathers over block transfer: a year of a 30-minute load profile is ~0.4 MB
MAX_ANSWER = 8 * 1024 * 1024
#: The most blocks one GET follows (a meter sending empty blocks adds no bytes)
MAX_BLOCKS = 10_000


@contextmanager
def _shape(what: str) -> Iterator[None]:
    """A value the meter sent that has not the shape the object's class gives: one DLMSError."""
    try:
        yield
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError) as exc:
        raise DLMSError(f"{what}: the meter's answer has not the expected shape ({exc})", "apdu") from None


class SpodesClient:
    """``with SpodesClient("socket://host:port", client=32, password=b"12345678", serial="...") as c:``

    Every read is bounded: ``timeout`` per frame (resent ``retries`` times), one deadline of
    ``read_timeout`` seconds for a whole read (a GET with all its blocks and segments: DLMSError
    ``deadline``), at most ``max_answer`` bytes and ``max_blocks`` blocks per GET and ``max_pdu``
    bytes per APDU (DLMSError ``limit``)."""

    def __init__(self, url: str, *, client: int = spodes.PUBLIC_CLIENT, password: Optional[bytes] = None,
                 logical: int = 1, physical: Optional[int] = None, serial: Optional[str] = None,
                 wrapper: bool = False, timeout: float = 3.0, retries: int = 3, baudrate: int = 9600,
                 max_info: int = 512, window: int = 7, max_pdu: int = 0xFFFF, read_timeout: float = READ_TIMEOUT,
                 max_answer: int = MAX_ANSWER, max_blocks: int = MAX_BLOCKS) -> None:
        if physical is None and serial:
            physical = spodes.server_address_from_serial(serial)
        self.url = url
        self.client = client
        self.password = password if password is not None else spodes.DEFAULT_PASSWORDS.get(client)
        self.server = Address.server(logical, physical)
        self.wrapper = wrapper
        self.timeout, self.retries, self.baudrate = timeout, retries, baudrate
        self.max_info, self.window, self.max_pdu = max_info, window, max_pdu
        self.read_timeout, self.max_answer, self.max_blocks = read_timeout, max_answer, max_blocks
        self.link: Optional[Union[HdlcClientLink, WrapperClientLink]] = None
        self.stream: Optional[Union[SocketStream, SerialStream]] = None
        self.invoke = 1
        self.server_max_pdu = 0

    # ---- session ---------------------------------------------------------------------------
    def __enter__(self) -> "SpodesClient":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close(release=exc[0] is None)

    def open(self) -> None:
        """Connect the link and associate."""
        stream = self.stream = open_stream(self.url, self.baudrate)
        try:
            link: Union[HdlcClientLink, WrapperClientLink]
            if self.wrapper:
                link = WrapperClientLink(stream, self.client, self.server.logical, self.timeout * 3,
                                         read_timeout=self.read_timeout)
            else:
                link = HdlcClientLink(stream, self.client, self.server, timeout=self.timeout,
                                      retries=self.retries, max_info=self.max_info, window=self.window,
                                      read_timeout=self.read_timeout, max_answer=self.max_pdu)
            self.link = link
            link.connect()
            self.associate()
        except BaseException:
            stream.close()
            raise

    def _link(self) -> Union[HdlcClientLink, WrapperClientLink]:
        if self.link is None:
            raise DLMSError(f"{self.url}: not connected (open() it, or use it in a with block)", "session")
        return self.link

    def associate(self) -> AARE:
        mechanism = spodes.CLIENT_MECHANISMS.get(self.client, 1 if self.password else 0)
        aarq = AARQ(InitiateRequest(CLIENT_CONFORMANCE, self.max_pdu), mechanism=mechanism or None,
                    password=self.password if mechanism else None)
        answer = decode_apdu(self._link().request(aarq.encode()))
        if not isinstance(answer, AARE):
            raise DLMSError(f"the meter answered the AARQ with {answer.name}", "session")
        if not answer.accepted:
            reason = ACSE_USER_DIAGNOSTICS.get(answer.diagnostic, str(answer.diagnostic))
            raise DLMSError(f"association refused ({reason}) for client {self.client}", "association")
        if answer.user_apdu is not None and hasattr(answer.user_apdu, "max_receive_pdu_size"):
            self.server_max_pdu = answer.user_apdu.max_receive_pdu_size
        return answer

    def close(self, release: bool = True) -> None:
        """RLRQ, DISC, close the stream."""
        link, stream = self.link, self.stream
        if link is None:
            return
        # a meter that does not answer the release or the DISC is left after one frame's timeout
        leave = Deadline(min(self.read_timeout, self.timeout))
        try:
            if release:
                try:
                    link.request(ReleaseRequest(0).encode(), leave)
                except DLMSError:
                    pass
            link.disconnect(leave)
        finally:
            if stream is not None:
                stream.close()
            self.link = None

    @property
    def round_trips(self) -> int:
        return self.link.round_trips if self.link else 0

    # ---- services --------------------------------------------------------------------------
    def get(self, class_id: int, obis: str, attribute: int = 2, access: Optional[AccessSelection] = None) -> Data:
        """One attribute's value (block transfer followed); DLMSError category ``access`` when the
        meter answers with a data-access-result."""
        self.invoke = (self.invoke % 15) + 1
        invoke = 0xC0 | self.invoke
        request = GetRequestNormal(AttributeDescriptor(class_id, obis_bytes(obis), attribute), access, invoke)
        deadline = Deadline(self.read_timeout)
        answer = decode_apdu(self._link().request(request.encode(), deadline))
        where = f"{obis_text(parse_obis(obis))} attribute {attribute}"
        if isinstance(answer, GetResponseNormal):
            if answer.result.error is not None:
                raise DLMSError(f"{where}: {DATA_ACCESS_RESULTS.get(answer.result.error, answer.result.error)}",
                                "access")
            if answer.result.data is None:
                raise DLMSError(f"{where}: the answer holds neither data nor an error", "session")
            return answer.result.data
        if isinstance(answer, GetResponseWithBlock):
            return axdr.decode_all(self._blocks(answer, invoke, deadline, where))
        if isinstance(answer, ExceptionResponse):
            raise DLMSError(f"{where}: {answer.as_dict()['state_error']}, {answer.as_dict()['service_error']}",
                            "session")
        raise DLMSError(f"{where}: unexpected answer {answer.name}", "session")

    def _blocks(self, answer: GetResponseWithBlock, invoke: int, deadline: Deadline, where: str) -> bytes:
        """The raw data of a block transfer, from its first answer on (each next block asked for),
        bounded by ``max_answer`` bytes, ``max_blocks`` blocks and the deadline."""
        raw = bytearray()
        blocks = 0
        while True:
            if answer.error is not None:
                raise DLMSError(f"{where}: block {answer.block_number}: "
                                f"{DATA_ACCESS_RESULTS.get(answer.error, answer.error)}", "access")
            blocks += 1
            if len(raw) + len(answer.raw_data or b"") > self.max_answer or blocks > self.max_blocks:
                raise DLMSError(f"{where}: the meter's block transfer runs past {self.max_answer} bytes or "
                                f"{self.max_blocks} blocks ({blocks} blocks, {len(raw)} bytes so far) "
                                "without its last block", "limit")
            raw += answer.raw_data or b""
            if answer.last_block:
                return bytes(raw)
            if deadline.expired():
                raise deadline.error()
            following = decode_apdu(self._link().request(GetRequestNext(answer.block_number, invoke).encode(),
                                                         deadline))
            if not isinstance(following, GetResponseWithBlock):
                raise DLMSError(f"{where}: expected the next block, got {following.name}", "session")
            answer = following

    def get_many(self, items: List[Tuple[int, str, int]]) -> List[Any]:
        """Several attributes in one GET-with-list: a Data, or a DLMSError, per item (a list
        longer than a PDU comes in blocks: their raw data is the list of Get-Data-Results)."""
        self.invoke = (self.invoke % 15) + 1
        request = GetRequestWithList([(AttributeDescriptor(c, obis_bytes(o), a), None) for c, o, a in items],
                                     0xC0 | self.invoke)
        deadline = Deadline(self.read_timeout)
        answer = decode_apdu(self._link().request(request.encode(), deadline))
        if isinstance(answer, GetResponseWithBlock):
            raw = self._blocks(answer, request.invoke, deadline, f"GET with list of {len(items)}")
            answer = decode_apdu(GetResponseWithList.wrap(raw, request.invoke))
        if not isinstance(answer, GetResponseWithList) or len(answer.results) != len(items):
            raise DLMSError(f"GET with list of {len(items)}: unexpected answer {answer.name}", "session")
        out: List[Any] = []
        for (_, obis, attribute), result in zip(items, answer.results):
            if result.error is not None:
                out.append(DLMSError(f"{obis} attribute {attribute}: "
                                     f"{DATA_ACCESS_RESULTS.get(result.error, result.error)}", "access"))
            else:
                out.append(result.data)
        return out

    def registers(self, obis_codes: List[str]) -> List[Optional[Tuple[Any, Optional[str]]]]:
        """(scaled value, unit) of several registers read together (None where the meter has no
        such register): one request for the scaler_units, one for the values."""
        units = self.get_many([(spodes.REGISTER, o, 3) for o in obis_codes])
        values = self.get_many([(spodes.REGISTER, o, 2) for o in obis_codes])
        out: List[Optional[Tuple[Any, Optional[str]]]] = []
        for obis, su, value in zip(obis_codes, units, values):
            if isinstance(su, DLMSError) or isinstance(value, DLMSError):
                out.append(None)
                continue
            with _shape(f"{obis} scaler_unit"):
                scaler, unit = (d.value for d in su.value)
                out.append((scale(value.value, scaler), UNITS.get(unit)))
        return out

    def clock(self) -> dt.datetime:
        """The meter's clock (aware when the meter gives its deviation)."""
        value = self.get(spodes.CLOCK_CLASS, spodes.CLOCK, 2)
        moment = axdr.parse_datetime_octets(value.value) if value.tag == axdr.OCTET_STRING else value.value
        when = moment.to_datetime() if moment is not None else None
        if when is None:
            raise DLMSError(f"the meter's clock reads {value.plain()!r}", "session")
        return when

    def text(self, obis: str) -> str:
        """A Data object's value as text (serial number, model)."""
        value = self.get(spodes.DATA, obis, 2)
        if value.tag == axdr.OCTET_STRING:
            return value.value.decode("latin-1")
        return str(value.value)

    def register(self, obis: str) -> Tuple[Any, Optional[str]]:
        """(scaled value, unit symbol) of a register."""
        scaler, unit = self.scaler_unit(obis)
        value = self.get(spodes.REGISTER, obis, 2)
        return scale(value.value, scaler), UNITS.get(unit)

    def scaler_unit(self, obis: str, class_id: int = spodes.REGISTER) -> Tuple[int, int]:
        value = self.get(class_id, obis, 3)
        try:
            scaler, unit = value.value
            return scaler.value, unit.value
        except (TypeError, ValueError, AttributeError):
            raise DLMSError(f"{obis}: scaler_unit is {value.plain()!r}", "session") from None

    def capture_objects(self, profile: str) -> List[Tuple[int, str, int]]:
        """(class, OBIS, attribute) of a profile's columns."""
        value = self.get(spodes.PROFILE_GENERIC, profile, 3)
        with _shape(f"{profile} capture_objects"):
            return [(c.value[0].value, obis_text(c.value[1].value), c.value[2].value) for c in value.value]

    def profile(self, profile: str, start: Optional[dt.datetime] = None, end: Optional[dt.datetime] = None,
                scalers: bool = True) -> Tuple[List[Tuple[int, str, int]], List[List[Any]]]:
        """(columns, rows) of a profile between ``start`` and ``end`` (both included), values
        scaled by the profile's scaler profile (or each column's own scaler_unit)."""
        columns = self.capture_objects(profile)
        access = None
        if start is not None or end is not None:
            clock_column = (spodes.CLOCK_CLASS, obis_bytes(spodes.CLOCK), 2, 0)
            far = CosemDateTime()
            rng = RangeDescriptor(clock_column,
                                  axdr.date_time(CosemDateTime.from_datetime(start) if start else far),
                                  axdr.date_time(CosemDateTime.from_datetime(end) if end else far), [])
            access = AccessSelection(1, rng.to_data())
        buffer = self.get(spodes.PROFILE_GENERIC, profile, 2, access)
        factors = self._column_scalers(profile, columns) if scalers else [0] * len(columns)
        rows = []
        with _shape(f"{profile} buffer"):
            for entry in buffer.value:
                row = []
                for item, factor in zip(entry.value, factors):
                    if item.tag == axdr.OCTET_STRING:
                        moment = axdr.parse_datetime_octets(item.value)
                        row.append(moment.to_datetime() if moment is not None else item.value)
                    else:
                        row.append(scale(item.value, factor))
                rows.append(row)
        return columns, rows

    def _column_scalers(self, profile: str, columns: List[Tuple[int, str, int]]) -> List[int]:
        spec = spodes.PROFILES.get(".".join(str(p) for p in parse_obis(profile)))
        scaler_profile = spec["scalers"] if spec else None
        by_obis = {}
        if scaler_profile:
            try:
                objects = self.capture_objects(scaler_profile)
                values = self.get(spodes.PROFILE_GENERIC, scaler_profile, 2).value
                with _shape(f"{scaler_profile} buffer"):
                    if values:
                        for (_, obis, _), su in zip(objects, values[0].value):
                            by_obis[obis] = su.value[0].value
            except DLMSBoundError:   # never taken for "the meter has no such object"
                raise
            except DLMSError:
                by_obis = {}
        factors = []
        for class_id, obis, _ in columns:
            if obis in by_obis:
                factors.append(by_obis[obis])
            elif class_id in (spodes.REGISTER, 4):
                factors.append(self.scaler_unit(obis, class_id)[0])
            else:
                factors.append(0)
        return factors
