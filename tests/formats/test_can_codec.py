"""The one CAN frame codec: each decoder refuses what it says it refuses, with the message and signal named."""
from __future__ import annotations

import struct

import can
import pytest

from controller.formats.can.codec import (
    FrameRejected, decode_defined, decode_for_display, decode_frame, decode_marking_bad, decode_within_limits,
)
from controller.formats.can.dbc import load_dbc

pytestmark = pytest.mark.timeout(10)


def _message(name: str):
    return load_dbc("io_board").get_message_by_name(name)


def _frame(data: bytes) -> can.Message:
    return can.Message(arbitration_id=0x121, data=data, is_extended_id=False)


def _status(lock_state: int, trip_cause: int) -> bytes:
    return bytes([lock_state << 6, 0, 0, trip_cause << 3, 0, 0, 0, 0])


def test_a_wrong_length_is_refused_by_every_decoder_naming_the_message():
    short = _frame(b"abc")
    for decode in (decode_frame, decode_within_limits, decode_defined):
        with pytest.raises(FrameRejected, match="IoStatus: DLC 3, expected 8"):
            decode(_message("IoStatus"), short)
    with pytest.raises(FrameRejected, match="DLC 3"):
        decode_marking_bad(_message("IoStatus"), short)
    assert decode_for_display(_message("IoStatus"), b"abc") is None


def test_raw_decoding_checks_no_range():
    values = decode_frame(_message("IoDcMeasure"), _frame(struct.pack("<Hh4x", 0xFFFF, 0)))
    assert values["CableVoltage"] == pytest.approx(6553.5)


def test_within_limits_refuses_a_value_above_the_dbc_maximum():
    with pytest.raises(FrameRejected, match=r"IoDcMeasure.CableVoltage = 6553.5 outside \[0, 1500\]"):
        decode_within_limits(_message("IoDcMeasure"), _frame(struct.pack("<Hh4x", 0xFFFF, 0)))
    values = decode_within_limits(_message("IoDcMeasure"), _frame(struct.pack("<Hh4x", 4000, -120)))
    assert values == {"CableVoltage": pytest.approx(400.0), "CableCurrent": pytest.approx(-12.0)}


def test_defined_refuses_a_value_the_dbc_does_not_name_and_marking_bad_names_every_bad_field():
    with pytest.raises(FrameRejected, match="IoStatus: LockState value 3 is undefined"):
        decode_defined(_message("IoStatus"), _frame(_status(lock_state=3, trip_cause=0)))
    values, bad = decode_marking_bad(_message("IoStatus"), _frame(_status(lock_state=3, trip_cause=7)))
    assert bad == {"LockState": "LockState value 3 is undefined", "TripCause": "TripCause value 7 is undefined"}
    assert values["LockState"] == 3 and values["TripCause"] == 7
    assert decode_defined(_message("IoStatus"), _frame(_status(lock_state=1, trip_cause=2)))["LockState"] == 1


def test_display_names_the_enumerations():
    values = decode_for_display(_message("IoStatus"), _status(lock_state=1, trip_cause=3))
    assert str(values["LockState"]) == "LOCKED" and str(values["TripCause"]) == "OVERVOLTAGE"
