"""Run dlms-cosem 21.3.2's client against a meter and print what it read as JSON (a separate
process, as a third-party head-end would be): python dlms_cosem_reader.py hdlc PTY_PATH PHYSICAL
or python dlms_cosem_reader.py wrapper HOST PORT. Used by test_dlms_interop.py."""
from __future__ import annotations

import datetime as dt
import json
import sys

from dlms_cosem import cosem, enumerations
from dlms_cosem.clients.dlms_client import DlmsClient
from dlms_cosem.cosem import Obis
from dlms_cosem.cosem.selective_access import CaptureObject, RangeDescriptor
from dlms_cosem.utils import parse_as_dlms_data


def main(argv):
    mode = argv[1]
    if mode == "hdlc":
        client = DlmsClient.with_serial_hdlc_transport(
            serial_port=argv[2], client_logical_address=32, server_logical_address=1,
            server_physical_address=int(argv[3]), authentication_method=enumerations.AuthenticationMechanism.LLS,
            password=b"12345678", timeout=10)
    else:
        client = DlmsClient.with_tcp_transport(host=argv[2], port=int(argv[3]), client_logical_address=16,
                                               server_logical_address=1, timeout=10)
    start = dt.datetime.fromisoformat(argv[4])
    end = dt.datetime.fromisoformat(argv[5])
    with client.session() as session:
        register = parse_as_dlms_data(session.get(cosem.CosemAttribute(
            interface=enumerations.CosemInterface.REGISTER, instance=Obis(1, 0, 1, 8, 0, 255), attribute=2)))
        scaler_unit = parse_as_dlms_data(session.get(cosem.CosemAttribute(
            interface=enumerations.CosemInterface.REGISTER, instance=Obis(1, 0, 32, 7, 0, 255), attribute=3)))
        clock = CaptureObject(cosem_attribute=cosem.CosemAttribute(
            interface=enumerations.CosemInterface.CLOCK, instance=Obis(0, 0, 1, 0, 0, 255), attribute=2),
            data_index=0)
        raw = session.get(cosem.CosemAttribute(interface=enumerations.CosemInterface.PROFILE_GENERIC,
                                               instance=Obis(1, 0, 99, 1, 0, 255), attribute=2),
                          access_descriptor=RangeDescriptor(restricting_object=clock, from_value=start, to_value=end))
        entries = [[bytes(e[0]).hex(), e[1]] for e in parse_as_dlms_data(raw)]
    print(json.dumps({"register": register, "scaler_unit": scaler_unit, "profile": entries}))


if __name__ == "__main__":
    main(sys.argv)
