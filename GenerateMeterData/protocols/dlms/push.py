"""Push telegrams (data-notification) to readings: the list layouts HAN-port meters send --
arrays of {OBIS, value, scaler_unit} structures (Aidon and generic), structures of OBIS/value
pairs (Kaifa, Kamstrup), bare value lists (Kaifa) -- with scalers and units applied, as
OBIS-keyed records and as the common names AMSHAN uses."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import axdr
from .xdlms import DataNotification
from .axdr import CosemDateTime, Data
from .errors import DLMSPushError
from .obis import obis_text, parse_obis
from .tables import BARE_LISTS, COMMON_NAMES, IMPLIED_SCALERS, LIST_MAKERS, UNITS, implied_unit

CLOCK = (0, 0, 1, 0, 0, 255)


@dataclass
class Record:
    """One value of a push: OBIS code, scaled value, unit symbol (None for no unit)."""

    obis: Tuple[int, int, int, int, int, int]
    value: Any
    unit: Optional[str] = None
    scaler: int = 0

    def as_dict(self) -> dict:
        return {"obis": obis_text(self.obis), "value": self.value, "unit": self.unit}


@dataclass
class PushReading:
    """What one push telegram says."""

    records: List[Record] = field(default_factory=list)
    manufacturer: Optional[str] = None
    list_id: Optional[str] = None
    layout: str = ""
    meter_datetime: Optional[str] = None

    def names(self) -> Dict[str, Any]:
        """AMSHAN-style common names (active_power_import, voltage_l1, meter_id, ...)."""
        out: Dict[str, Any] = {}
        for record in self.records:
            name = COMMON_NAMES.get(record.obis[2:5])
            if name and name not in out:
                out[name] = record.value
        if self.list_id and "list_ver_id" not in out:
            out["list_ver_id"] = self.list_id
        if self.meter_datetime is not None:
            out["meter_datetime"] = self.meter_datetime
        if self.manufacturer:
            out["meter_manufacturer"] = self.manufacturer
        return out

    def value(self, obis: str) -> Any:
        """The value of one OBIS code (KeyError when absent)."""
        code = parse_obis(obis)
        for record in self.records:
            if record.obis == code:
                return record.value
        raise KeyError(obis)

    def as_dict(self) -> dict:
        return {"manufacturer": self.manufacturer, "list_id": self.list_id, "layout": self.layout,
                "meter_datetime": self.meter_datetime, "records": [r.as_dict() for r in self.records],
                "names": self.names()}


def scale(value: Any, scaler: int) -> Any:
    """value x 10^scaler, exact for the decimal places the scaler gives."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or scaler == 0:
        return value
    if scaler > 0:
        return value * 10 ** scaler
    return round(value * 10.0 ** scaler, -scaler)


def _text(raw: bytes) -> Optional[str]:
    if raw and all(0x20 <= b < 0x7F for b in raw):
        return raw.decode("ascii")
    return None


def _plain_value(item: Data) -> Any:
    """A single value as a record holds it: numbers, text, ISO dates, hex for other octets."""
    if item.tag == axdr.OCTET_STRING:
        moment = axdr.parse_datetime_octets(item.value)
        if moment is not None and moment.to_datetime() is not None:
            return moment.isoformat()
        text = _text(item.value)
        return text if text is not None else item.value.hex()
    if item.tag in (axdr.DATE_TIME, axdr.DATE, axdr.TIME):
        return item.value.isoformat()
    if item.tag in (axdr.ARRAY, axdr.STRUCTURE, axdr.COMPACT_ARRAY):
        return item.plain()
    return item.value


def _is_obis(item: Data) -> bool:
    return item.tag == axdr.OCTET_STRING and len(item.value) == 6


def _scaler_unit(item: Data) -> Optional[Tuple[int, int]]:
    if item.tag == axdr.STRUCTURE and len(item.value) == 2:
        scaler, unit = item.value
        if scaler.tag == axdr.INTEGER and unit.tag == axdr.ENUM:
            return scaler.value, unit.value
    return None


class _Builder:
    def __init__(self, maker_hint: Optional[str]) -> None:
        self.reading = PushReading()
        self.maker_hint = maker_hint

    def add(self, obis: Tuple[int, ...], item: Data, scaler_unit: Optional[Tuple[int, int]] = None) -> None:
        value = _plain_value(item)
        code = tuple(obis)
        if scaler_unit is not None:
            scaler, unit_code = scaler_unit
            unit = UNITS.get(unit_code) if unit_code not in (0, 255) else None
        else:
            scaler = IMPLIED_SCALERS.get(self.maker_hint or "", {}).get((code[2], code[3]), 0)
            unit_code = implied_unit(code[2], code[3]) if code[0] == 1 else 0
            unit = UNITS.get(unit_code)
        if isinstance(value, str) or item.tag in (axdr.ARRAY, axdr.STRUCTURE):
            unit = None
            scaler = 0
        value = scale(value, scaler)
        self.reading.records.append(Record(code, value, unit, scaler))  # type: ignore[arg-type]
        if code[2:5] == (1, 0, 0) and isinstance(value, str) and self.reading.meter_datetime is None:
            self.reading.meter_datetime = value
        if code[2:5] == (0, 2, 129) and isinstance(value, str):
            self.reading.list_id = value


def _maker_from_list_id(list_id: Optional[str]) -> Optional[str]:
    if not list_id:
        return None
    upper = list_id.upper()
    for prefix, maker in LIST_MAKERS.items():
        if upper.startswith(prefix):
            return maker
    return None


def _list_id_of(items: List[Data]) -> Optional[str]:
    for item in items[:3]:
        if item.tag in (axdr.VISIBLE_STRING, axdr.UTF8_STRING):
            return item.value
        if item.tag == axdr.OCTET_STRING and not _is_obis(item):
            text = _text(item.value)
            if text:
                return text
    return None


def decode_body(body: Data) -> PushReading:
    """The records of a notification body, whatever list layout the meter uses."""
    items = body.value if body.tag in (axdr.ARRAY, axdr.STRUCTURE) else None
    if not items:
        raise DLMSPushError(f"push body is {body.type_name}, not a list of values")
    # 1. {OBIS, value[, scaler_unit]} structures (Aidon, Landis+Gyr, most generic meters)
    if all(i.tag == axdr.STRUCTURE and 2 <= len(i.value) <= 3 and _is_obis(i.value[0]) for i in items):
        builder = _Builder(None)
        for element in items:
            scaler_unit = _scaler_unit(element.value[2]) if len(element.value) == 3 else None
            builder.add(tuple(element.value[0].value), element.value[1], scaler_unit)
        reading = builder.reading
        reading.layout = "obis-structures"
        reading.manufacturer = _maker_from_list_id(reading.list_id) or "Aidon"
        return reading
    if body.tag != axdr.STRUCTURE:
        raise DLMSPushError("push body is an array of something other than {OBIS, value} structures")
    # 2. a leading list identifier (Kamstrup) and OBIS/value pairs, nulls for absent phases
    head: Optional[str] = None
    rest = items
    if items[0].tag == axdr.VISIBLE_STRING and len(items) % 2 == 1:
        head, rest = items[0].value, items[1:]
    pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)] if len(rest) % 2 == 0 else None
    if pairs and all((_is_obis(o) or (o.tag == axdr.NULL and v.tag == axdr.NULL)) for o, v in pairs) \
            and any(_is_obis(o) for o, _ in pairs):
        maker = _maker_from_list_id(head) or _maker_from_list_id(_list_id_of([v for _, v in pairs[:2]]))
        if maker is None:
            maker = "Kamstrup" if head is not None else "Kaifa"
        builder = _Builder(maker)
        for obis, value in pairs:
            if obis.tag == axdr.NULL:
                continue
            builder.add(tuple(obis.value), value)
        reading = builder.reading
        reading.layout = "obis-pairs"
        reading.manufacturer = maker
        reading.list_id = head or reading.list_id
        return reading
    # 3. bare values in a known order (Kaifa, Norway)
    layout = BARE_LISTS.get(len(items))
    if layout is None:
        raise DLMSPushError(f"push list of {len(items)} values without OBIS codes matches no known list layout")
    maker = _maker_from_list_id(_list_id_of(items)) or "Kaifa"
    builder = _Builder(maker)
    for obis, item in zip(layout, items):
        builder.add(parse_obis(obis), item)
    reading = builder.reading
    reading.layout = "bare-values"
    reading.manufacturer = maker
    return reading


def decode_notification(notification: DataNotification) -> PushReading:
    """A data-notification's reading; the telegram's own date-time stands in for a missing clock."""
    reading = decode_body(notification.body)
    if reading.meter_datetime is None and notification.date_time is not None:
        moment = notification.date_time
        if moment.to_datetime() is not None:
            reading.meter_datetime = moment.isoformat()
    return reading


def notification_for(records: List[Tuple[str, Data]], *, layout: str = "obis-structures",
                     list_id: Optional[str] = None, moment: Optional[CosemDateTime] = None,
                     scaler_units: Optional[Dict[str, Tuple[int, int]]] = None,
                     invoke_id: int = 0x40000000) -> DataNotification:
    """Build a push in one of the layouts (``obis-structures`` like Aidon, ``obis-pairs`` like
    Kamstrup/Kaifa, ``bare-values`` like Kaifa without OBIS): the imitator's push mode."""
    scaler_units = scaler_units or {}
    if layout == "obis-structures":
        elements = []
        for obis, value in records:
            parts = [axdr.octets(bytes(parse_obis(obis))), value]
            if obis in scaler_units:
                scaler, unit = scaler_units[obis]
                parts.append(axdr.structure(Data(axdr.INTEGER, scaler), Data(axdr.ENUM, unit)))
            elements.append(axdr.structure(*parts))
        body = axdr.array(elements)
    elif layout == "obis-pairs":
        flat: List[Data] = [Data(axdr.VISIBLE_STRING, list_id)] if list_id else []
        for obis, value in records:
            flat += [axdr.octets(bytes(parse_obis(obis))), value]
        body = Data(axdr.STRUCTURE, flat)
    elif layout == "bare-values":
        body = Data(axdr.STRUCTURE, [value for _, value in records])
    else:
        raise DLMSPushError(f"push layout {layout!r}: obis-structures, obis-pairs or bare-values")
    return DataNotification(body, invoke_id, moment, 0x09 if moment is not None and layout == "bare-values" else
                            (0x0C if moment is not None else 0))
