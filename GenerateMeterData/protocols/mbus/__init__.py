"""Wired M-Bus: link layer (``frames``), application layer (``records``, with the EN 13757-3
Annex A date and time types in ``timepoints``), master (``client``) and slave imitator
(``slave``)."""
from .frames import (ACK, Frame, FrameError, encode_frame, parse_frame, split_frames)
from .records import DecodeError, Record, Telegram, decode_telegram, encode_telegram

__all__ = ["ACK", "Frame", "FrameError", "encode_frame", "parse_frame", "split_frames", "DecodeError",
           "Record", "Telegram", "decode_telegram", "encode_telegram"]
