"""``decode dlms``: HDLC frames (one or more, segmented or not), an IEC 62056-47 wrapper PDU, an
LLC PDU or a bare APDU -> frame fields, APDUs and the push records, as one JSON-able dict."""
from __future__ import annotations

from typing import Any, Dict, Optional

from .acse import decode_apdu
from .pdu import Apdu, unwrap_llc
from .xdlms import CipheredApdu, DataNotification
from .errors import DLMSError, DLMSHdlcError, DLMSInputError
from .hdlc import FLAG, Reassembler, parse_parameters, split_frames
from .push import decode_notification
from .wrapper import WRAPPER_VERSION, parse_wrapper


def _apdu_result(raw: bytes, keys: Optional[Dict[str, bytes]], out: Dict[str, Any]) -> None:
    apdu: Apdu = decode_apdu(unwrap_llc(raw))
    entry = apdu.as_dict()
    if isinstance(apdu, CipheredApdu):
        if keys and keys.get("encryption"):
            from .cipher import decrypt
            apdu = decrypt(apdu, keys["encryption"], keys.get("authentication"), keys.get("system_title"))
            entry["plain"] = apdu.as_dict()
        else:
            entry["note"] = "ciphered: give --key (and --auth-key) to decrypt"
    out["apdus"].append(entry)
    if isinstance(apdu, DataNotification):
        try:
            reading = decode_notification(apdu)
        except DLMSError as exc:  # the APDU is fine; its body is no list layout we know
            entry["push_error"] = str(exc)
            return
        out["records"].extend(r.as_dict() for r in reading.records)
        out["names"].update(reading.names())
        out.setdefault("push", []).append({"manufacturer": reading.manufacturer, "list_id": reading.list_id,
                                           "layout": reading.layout})


def decode_input(raw: bytes, keys: Optional[Dict[str, bytes]] = None, octet_stuffing: bool = False) -> Dict[str, Any]:
    """Everything ``raw`` holds; DLMSError when nothing in it decodes."""
    if not raw:
        raise DLMSInputError("empty input")
    out: Dict[str, Any] = {"frames": [], "apdus": [], "records": [], "names": {}}
    hdlc = raw[0] == FLAG
    if not hdlc and FLAG in raw:   # garbage before the first flag, as a HAN port gives at start-up
        hdlc = bool(split_frames(raw, octet_stuffing)[0])
    if hdlc:
        frames, reader = split_frames(raw, octet_stuffing)
        if not frames and not octet_stuffing:
            frames, _ = split_frames(raw, True)
            if frames:
                out["octet_stuffing"] = True
        if not frames:
            reason = reader.errors[0] if reader.errors else "the input ends before the first frame does"
            raise DLMSHdlcError(f"no complete HDLC frame in {len(raw)} bytes ({reason})")
        if reader.rejected:
            out["rejected_frames"] = reader.errors
        reassembler = Reassembler()
        for frame in frames:
            out["frames"].append(frame.as_dict())
            if frame.kind in ("SNRM", "UA"):
                out["frames"][-1]["parameters"] = parse_parameters(frame.information)
                continue
            if frame.kind not in ("I", "UI") or not frame.information:
                continue
            whole = reassembler.add(frame)
            if whole:
                try:
                    _apdu_result(whole, keys, out)
                except DLMSError as exc:   # a sound frame whose information is no APDU we know
                    out.setdefault("apdu_errors", []).append(f"{exc.category}: {exc}")
        if reassembler.parts:
            out["incomplete_segments"] = len(reassembler.parts)
    elif raw[:2] == WRAPPER_VERSION.to_bytes(2, "big") and len(raw) >= 8:
        pos = 0
        out["wrapper"] = []
        while pos < len(raw):
            header, apdu, pos = parse_wrapper(raw, pos)
            out["wrapper"].append(header)
            _apdu_result(apdu, keys, out)
    else:
        _apdu_result(raw, keys, out)
    if len(out["apdus"]) == 1:
        out["apdu"] = out["apdus"][0]
    return out
