"""ProtectedEncoder: the cached command encode gives the very frame a full encode gives, every time."""
from __future__ import annotations

import pytest

from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import ProtectedEncoder, e2e_crc

pytestmark = pytest.mark.timeout(10)


def _command():
    return load_dbc("io_board").get_message_by_name("IoCommand")


def _full_encode(message, data_id: int, values: dict, counter: int) -> bytes:
    frame = {**values, "Crc": 0, "HeartbeatCounter": counter}
    data = message.encode(frame, strict=True)
    return message.encode({**frame, "Crc": e2e_crc(data_id, data[1:])}, strict=True)


def _values(**changes) -> dict:
    values = {"CpDuty": 5.0, "RequestStateF": 0, "DcPlusClose": 0, "DcMinusClose": 0, "LockRequest": 0,
              "MaxVoltage": 0.0, "ResetRequest": 0}
    return {**values, **changes}


def test_every_frame_equals_a_full_encode_as_values_and_counter_change():
    message = _command()
    data_id = message.frame_id + 3
    encoder = ProtectedEncoder(message, data_id, counter_signal="HeartbeatCounter")
    sequence = [_values(), _values(), _values(LockRequest=1), _values(LockRequest=1, MaxVoltage=455.5),
                _values(LockRequest=1, MaxVoltage=455.5, DcPlusClose=1, DcMinusClose=1), _values()]
    for counter, values in enumerate(sequence * 50):
        assert encoder.encode(values, counter % 256) == _full_encode(message, data_id, values, counter % 256)


def test_a_value_outside_the_schema_is_refused_every_time_not_only_the_first():
    encoder = ProtectedEncoder(_command(), 0x100, counter_signal="HeartbeatCounter")
    encoder.encode(_values(), 1)
    for counter in (2, 3):
        with pytest.raises(Exception, match="MaxVoltage"):
            encoder.encode(_values(MaxVoltage=99999.0), counter)
    assert encoder.encode(_values(), 4) == _full_encode(_command(), 0x100, _values(), 4)


def test_a_counter_that_is_not_a_whole_byte_is_refused_at_construction():
    with pytest.raises(ValueError, match="one whole byte"):
        ProtectedEncoder(_command(), 0x100, counter_signal="CpDuty")
