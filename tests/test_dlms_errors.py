"""One exception class per kind of DLMS failure: what raises which, the ``category`` each keeps
(what the CLI prints), and the old two-argument form.  Byte vectors are hand-built from the
standards (IEC 62056-46 HDLC frame format, IEC 62056-47 wrapper header, IEC 62056-6-2 A-XDR);
the session failures run against real loopback sockets."""
from __future__ import annotations

import pickle
import socket
import threading

import pytest

from GenerateMeterData.errors import GenerateMeterDataError, ProtocolError
from GenerateMeterData.protocols import dlms
from GenerateMeterData.protocols.dlms.axdr import Data
from GenerateMeterData.protocols.dlms.client import SpodesClient
from GenerateMeterData.protocols.dlms.decode import decode_input
from GenerateMeterData.protocols.dlms.errors import (DLMSAccessError, DLMSApduError, DLMSAssociationError,
                                                     DLMSAxdrError, DLMSBoundError, DLMSCipherError,
                                                     DLMSDeadlineError, DLMSDecodeError, DLMSError, DLMSHdlcError,
                                                     DLMSInputError, DLMSLimitError, DLMSObisError, DLMSPushError,
                                                     DLMSSessionError, DLMSTimeoutError, DLMSWrapperError)
from GenerateMeterData.protocols.dlms.obis import parse_obis
from GenerateMeterData.protocols.dlms.push import decode_body

# the categories the CLI has printed since before the classes existed (README, "decode dlms" and
# the client's bounds): the class that now stands for each
KINDS = {"hdlc": DLMSHdlcError, "wrapper": DLMSWrapperError, "axdr": DLMSAxdrError, "apdu": DLMSApduError,
         "obis": DLMSObisError, "push": DLMSPushError, "cipher": DLMSCipherError, "session": DLMSSessionError,
         "association": DLMSAssociationError, "access": DLMSAccessError, "timeout": DLMSTimeoutError,
         "deadline": DLMSDeadlineError, "limit": DLMSLimitError, "input": DLMSInputError}


@pytest.mark.parametrize("category", sorted(KINDS))
def test_every_kind_sits_under_the_package_root_and_keeps_its_category(category):
    cls = KINDS[category]
    error = cls("a message")
    assert isinstance(error, DLMSError) and isinstance(error, ProtocolError)
    assert isinstance(error, GenerateMeterDataError)
    assert error.category == category and str(error) == "a message"
    assert error.exit_code == 1          # docs/exit-codes.md: a frame that does not decode exits 1
    assert cls.__name__ in dlms.__all__ and getattr(dlms, cls.__name__) is cls


def test_the_groups_a_caller_catches():
    for cls in (DLMSHdlcError, DLMSWrapperError, DLMSAxdrError, DLMSApduError, DLMSObisError, DLMSPushError):
        assert issubclass(cls, DLMSDecodeError)
    assert issubclass(DLMSDeadlineError, DLMSBoundError) and issubclass(DLMSLimitError, DLMSBoundError)
    # a timeout is no bound of a read: the client may still try another object after one
    for cls in (DLMSTimeoutError, DLMSSessionError, DLMSAccessError, DLMSCipherError, DLMSInputError):
        assert not issubclass(cls, (DLMSBoundError, DLMSDecodeError))


def test_the_old_two_argument_form_builds_the_kind():
    error = DLMSError("too many blocks", "limit")
    assert type(error) is DLMSLimitError and isinstance(error, DLMSBoundError)
    assert error.category == "limit" and str(error) == "too many blocks"
    plain = DLMSError("something else")
    assert type(plain) is DLMSError and plain.category == "dlms"
    own = DLMSError("a caller's own kind", "vendor")
    assert type(own) is DLMSError and own.category == "vendor"


def test_category_is_read_only():
    error = DLMSTimeoutError("no answer")
    with pytest.raises(AttributeError):
        error.category = "session"
    assert error.category == "timeout"


@pytest.mark.parametrize("error", [DLMSHdlcError("bad FCS"), DLMSError("old form", "deadline"),
                                   DLMSError("own", "vendor")], ids=["class", "two-argument", "own-category"])
def test_the_class_and_category_survive_pickling(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and back.category == error.category and str(back) == str(error)


# ---- what raises which --------------------------------------------------------------------------
@pytest.mark.parametrize("hex_input, kind", [
    # an HDLC frame (7E A0 08 ...) whose FCS does not match its bytes
    ("7ea00801020110378c7e", DLMSHdlcError),
    # GET-response (C4) with choice 05, which IEC 62056-5-3 does not define
    ("c405c100", DLMSApduError),
    # GET-response-normal whose data is a visible-string (0A) of 5 bytes with only 3 present
    ("c401c1000a05414243", DLMSAxdrError),
    # a wrapper header (version 0001, source 0001, destination 0010) announcing 16 bytes, 2 present
    ("0001000100100010" "c401", DLMSWrapperError),
], ids=["hdlc", "apdu", "axdr", "wrapper"])
def test_bytes_that_do_not_decode_raise_the_class_of_their_layer(hex_input, kind):
    with pytest.raises(kind) as caught:
        decode_input(bytes.fromhex(hex_input))
    assert isinstance(caught.value, DLMSDecodeError)


def test_empty_input_an_obis_code_and_a_push_body():
    with pytest.raises(DLMSInputError):
        decode_input(b"")
    with pytest.raises(DLMSObisError):
        parse_obis("1-0:1.8")                       # five groups: an OBIS code has six
    with pytest.raises(DLMSPushError):
        decode_body(Data(6, 42))                     # a double-long-unsigned, not a list of values


def _server(behaviour):
    """A loopback TCP server that accepts one connection and does ``behaviour(conn)``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def run():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            behaviour(conn)
            done.wait(5)

    threading.Thread(target=run, daemon=True).start()
    return listener, done


def test_a_meter_that_never_answers_raises_the_timeout_class():
    listener, done = _server(lambda conn: None)      # accepts, reads nothing, answers nothing
    try:
        host, port = listener.getsockname()
        with pytest.raises(DLMSTimeoutError) as caught:
            SpodesClient(f"socket://{host}:{port}", timeout=0.2, retries=1).open()
        assert caught.value.category == "timeout"
    finally:
        done.set()
        listener.close()


def test_a_meter_that_hangs_up_raises_the_session_class():
    listener, done = _server(lambda conn: conn.shutdown(socket.SHUT_RDWR))
    try:
        host, port = listener.getsockname()
        with pytest.raises(DLMSSessionError) as caught:
            SpodesClient(f"socket://{host}:{port}", timeout=2.0, retries=0).open()
        assert caught.value.category == "session"
    finally:
        done.set()
        listener.close()


def test_a_port_nobody_listens_on_raises_the_session_class():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    host, port = probe.getsockname()
    probe.close()                                     # the port is free now: connecting is refused
    with pytest.raises(DLMSSessionError, match="cannot connect"):
        SpodesClient(f"socket://{host}:{port}", timeout=0.5).open()
