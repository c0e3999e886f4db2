"""Run dlms-spodes-client 0.9.8 (DLMS-SPODES 0.74.13, DLMS-SPODES-communications 1.3.1) against a
SPODES meter over TCP (HDLC) and print what it read as JSON: python spodes_client_reader.py HOST
PORT PHYSICAL [SAP [PASSWORD]]. A separate process, as a third-party head-end would be, and because
the package needs its working directory prepared. Used by test_spodes_client.py.

The client connects as it does to a meter it has no type file for: it reads the logical device
name, the device type, the firmware version, then the current association's object list, and
builds its collection of the meter's objects from it. Then this script reads every attribute the
object list declares readable (a profile's buffer by entry, the last three rows), the clock and the
energy registers, each decoded by the client's own classes.

Three faults of the packages are worked around here, none of them the meter's:
  * DLMS-SPODES 0.74.13 reads ``config.toml`` from the working directory; its fallback to the
    file it ships is joined without a separator (``.../DLMS_SPODES.//config.toml``) and never
    found, so importing it fails anywhere else. The script runs in a scratch directory holding a
    copy of the shipped file and an empty ``Types/`` (the client's library of meter types).
  * DLMS-SPODES-communications 1.3.1 imports bleak's Windows backend at import time (``ble.py``:
    ``bleak.backends.winrt``), so ``import DLMS_SPODES_client`` fails on Linux with
    ``No module named 'bleak_winrt'``. The BLE transport is not used: a stand-in module takes
    its place.
  * DLMS-SPODES-communications 1.3.1: ``StreamBase.receive`` (under ``AsyncNetwork``, the TCP
    transport) returns None, which ``Client.read_data_block`` takes for "nothing received": it
    resends and gives up after three tries ("Failed to receive reply from the device in given
    time") although the answer arrived. The transport here returns True once a frame is in.
  * dlms-spodes-client 0.9.8 ``InitType``: to find the association whose object list it read, it
    reads each Association LN's attribute 3 (associated_partners_id) with ``read_attr``, which
    returns the encoding and stores nothing, then compares the object's never-set client_SAP
    (its default) with its own: no association ever matches and the object list it read is
    dropped (``objects.get_object("0.0.40.0.0.255").object_list`` stays None). The script reads
    attributes 3 and 2 again with ``read_attribute``, which stores them; ``attached`` in the
    output says whether the client kept the list itself.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import traceback
import types


def _dotted(name) -> str:
    """A logical name of the client's as A.B.C.D.E.F."""
    return ".".join(str(b) for b in bytes(name.contents))


def _prepare() -> None:
    spec = importlib.util.find_spec("DLMS_SPODES")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("DLMS-SPODES is not installed")
    shipped = os.path.join(list(spec.submodule_search_locations)[0], "config.toml")
    scratch = tempfile.mkdtemp(prefix="spodes-client-")
    shutil.copy(shipped, os.path.join(scratch, "config.toml"))
    os.mkdir(os.path.join(scratch, "Types"))
    os.chdir(scratch)
    ble = types.ModuleType("DLMS_SPODES_communications.ble")
    ble.BLE = type("BLE", (), {})   # type: ignore[attr-defined]
    sys.modules[ble.__name__] = ble


def main(argv) -> None:
    host, port, physical = argv[1], int(argv[2]), int(argv[3])
    sap = int(argv[4]) if len(argv) > 4 else 0x10
    password = argv[5] if len(argv) > 5 else ""
    _prepare()
    stdout, sys.stdout = sys.stdout, sys.stderr   # DLMS-SPODES prints on import
    from DLMS_SPODES import exceptions as exc
    from DLMS_SPODES.types import cdt, ut
    from DLMS_SPODES_client import task
    from DLMS_SPODES_client.client import Client, mechanism_id
    from DLMS_SPODES_client.servers import session
    from DLMS_SPODES_communications.network import AsyncNetwork

    class Network(AsyncNetwork):
        async def receive(self, buf):
            await super().receive(buf)
            return True

    found: dict = {"read": [], "refused": [], "undecoded": []}

    class ReadAll(task.ExTask):
        async def exchange(self, c):
            try:
                return await self.read_all(c)
            except BaseException:
                traceback.print_exc()
                raise

        async def read_all(self, c):
            association = c.objects.get_object("0.0.40.0.0.255")
            found["attached"] = association.object_list is not None
            if association.object_list is None:   # the client's fault: see the module's docstring
                await c.read_attribute(association, 3)
                await c.read_attribute(association, 2)
            found["object_list"] = [
                [int(el.class_id), int(el.version), _dotted(el.logical_name),
                 [[int(a.attribute_id), int(a.access_mode),
                   None if a.access_selectors is None or isinstance(a.access_selectors, cdt.NullData)
                   else [int(s) for s in a.access_selectors]]
                  for a in el.access_rights.attribute_access],
                 [[int(m[0]), int(m[1])] for m in el.access_rights.method_access]]
                for el in association.object_list]
            found["partners"] = [int(association.associated_partners_id.client_SAP),
                                 int(association.associated_partners_id.server_SAP)]
            for class_id, _, ln, attributes, _ in found["object_list"]:
                obj = c.objects.get_object(ln)
                # the client types a profile's buffer from its capture objects and those from its
                # sort object: it needs 6 before 3, and 3 before 2
                for index, mode, _ in sorted(attributes, key=lambda a: ({2: 2, 3: 1}.get(a[0], 0), -a[0])):
                    if mode not in (1, 3):
                        continue
                    desc = ut.CosemAttributeDescriptor((class_id, ln, index))
                    try:
                        raw = await c.read_attr(desc)
                    except exc.ResultError as e:
                        found["refused"].append([ln, index, str(e)])
                        continue
                    found["read"].append([ln, index, bytes(raw).hex()])
                    try:
                        obj.set_attr(index, raw)
                    except Exception as e:   # the client's own classes refuse the value
                        found["undecoded"].append([ln, index, f"{type(e).__name__}: {e}"])
            # the last entries of the load and daily profiles, as the client's classes decoded them
            found["profiles"] = {
                ln: [[str(entry[0]), [int(value) for value in list(entry)[1:]]]
                     for entry in list(c.objects.get_object(ln).buffer)[-3:]]
                for ln in ("1.0.99.1.0.255", "1.0.98.2.0.255")}
            clock = c.objects.get_object("0.0.1.0.0.255")
            found["clock"] = str(clock.time)   # its decode() fails on this meter's clock: see the test
            try:
                found["clock_decoded"] = clock.time.decode().isoformat()
            except ValueError as e:
                found["clock_decoded"] = f"ValueError: {e}"
            found["energy"] = {_dotted(o.logical_name): int(o.value) for o in c.objects.get_objects_by_class_id(
                ut.CosemClassId(3)) if _dotted(o.logical_name).endswith("255") and o.value is not None}
            found["scaler_unit"] = {_dotted(o.logical_name): [int(o.scaler_unit.scaler), int(o.scaler_unit.unit)]
                                    for o in c.objects.get_objects_by_class_id(ut.CosemClassId(3))
                                    if o.scaler_unit is not None}
            return True

    client = Client(SAP=sap, secret=password.encode().hex(), media=Network(host=host, port=port))
    client.device_address = cdt.LongUnsigned(physical)
    if password:
        client.m_id = mechanism_id.MechanismIdElement(1)   # low-level security
    result = asyncio.run(session(client, ReadAll(), None))
    sys.stdout = stdout
    objects = client.objects
    found.update({
        "ok": result.value is True,
        "errors": {str(k): str(v) for k, v in result.errors.items()},
        "ldn": objects.LDN.value.to_str() if objects is not None and objects.LDN.value is not None else None,
        "server_type": objects.server_type.to_str() if objects is not None and objects.server_type else None,
        "firmware": {str(k): str(v) for k, v in objects.server_ver.items()} if objects is not None else None,
        "objects": len(objects) if objects is not None else 0,
    })
    print(json.dumps(found, default=str))


if __name__ == "__main__":
    main(sys.argv)
