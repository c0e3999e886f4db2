"""pytest side of the device checks (registered by ``pytest_plugin``).

Fixture:
  meterdata_rtu327   (host, port) of an RTU-327 server for the session's target: for a local
                     meter.db a USPD stand-in serving that very file (started for the test, so it
                     serves what the test loaded); for a device, the device itself on port 8888
One-line assertion:
  assert_served(target, load, rtu327=(host, port))   fails listing the mismatch lines unless the
                     device serves every value of ``load`` (a LoadSummary, a token, or a list of
                     them) as it was loaded
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple, Union

import pytest

from .checking import Interface

RTU327_DEVICE_PORT = 8888
MAX_LINES = 20


def _inner(target):
    return getattr(target, "inner", target)


@pytest.fixture
def meterdata_rtu327(meterdata_target) -> Iterator[Tuple[str, int]]:
    """(host, port) of the RTU-327 server that serves ``meterdata_target``."""
    from ..targets.local import LocalTarget

    inner = _inner(meterdata_target)
    if not isinstance(inner, LocalTarget):
        yield inner.settings.host, RTU327_DEVICE_PORT
        return
    from .rtu327_server import Rtu327Server

    server = Rtu327Server(inner.path)
    try:
        yield server.start_tcp("127.0.0.1", 0)
    finally:
        server.stop()


def _tokens(load) -> Sequence[str]:
    loads = load if isinstance(load, (list, tuple)) else [load]
    tokens = []
    for item in loads:
        token = item if isinstance(item, str) else getattr(item, "token", None)
        if not token:
            raise ValueError(f"assert_served: {item!r} has no ledger token")
        tokens.append(token)
    return tokens


def assert_served(target, load, rtu327: Optional[Tuple[str, int]] = None, password: str = "00000000",
                  data_api: Union[bool, str] = False):
    """Assert in one line that the device serves ``load`` as it was loaded; returns the CheckResult."""
    from .check import mismatch_line, run_check, summary_line

    interfaces: List[Interface] = []
    client = None
    if rtu327 is not None:
        from ..protocols.rtu327 import Rtu327Client
        from .rtu327_check import Rtu327Interface

        client = Rtu327Client(rtu327[0], int(rtu327[1]), password=password)
        interfaces.append(Rtu327Interface(client))
    if data_api:
        from .check_data_api import DataApiInterface

        interfaces.append(DataApiInterface(_inner(target), data_api if isinstance(data_api, str) else None))
    if not interfaces:
        raise ValueError("assert_served: name an interface (rtu327=(host, port) or data_api=True)")
    try:
        result = run_check(_inner(target), interfaces, tokens=_tokens(load))
    finally:
        if client is not None:
            client.close()
    compared = sum(s.compared for s in result.summaries)
    if not result.ok or not compared:
        lines = [mismatch_line(m) for m in result.mismatches[:MAX_LINES]]
        if len(result.mismatches) > MAX_LINES:
            lines.append(f"... and {len(result.mismatches) - MAX_LINES} more")
        lines += [summary_line(s) for s in result.summaries]
        raise AssertionError("the device does not serve the load as loaded:\n" + "\n".join(lines))
    return result
