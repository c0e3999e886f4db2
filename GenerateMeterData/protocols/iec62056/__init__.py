"""IEC 62056-21 (formerly IEC 61107): messages and BCC (``messages``), a client over any
pyserial URL (``client``), and a meter imitator (``imitator``)."""
from .messages import (ACK, NAK, DataSet, Identification, IECError, Readout, bcc, parse_data_sets,
                       parse_identification, parse_readout)

__all__ = ["ACK", "NAK", "DataSet", "Identification", "IECError", "Readout", "bcc", "parse_data_sets",
           "parse_identification", "parse_readout"]
