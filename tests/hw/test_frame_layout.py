"""FrameLayout: the shift/mask decode of the receive path gives what cantools gives, for every project DBC."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.formats.can.codec import FrameRejected
from controller.formats.can.dbc import DBC_DIR, load_dbc
from controller.formats.can.frame_layout import FrameLayout, LayoutError, layout_of

pytestmark = pytest.mark.timeout(60)

MESSAGES = [(path.stem, m.name) for path in sorted(DBC_DIR.glob("*.dbc")) for m in load_dbc(path.stem).messages]


def _message(dbc: str, name: str):
    return load_dbc(dbc).get_message_by_name(name)


@pytest.mark.parametrize("dbc, name", MESSAGES)
def test_every_project_message_has_a_layout(dbc, name):
    assert layout_of(_message(dbc, name)) is not None


@pytest.mark.parametrize("dbc, name", MESSAGES)
@settings(max_examples=150, deadline=None)
@given(payload=st.binary(min_size=8, max_size=8))
def test_layout_decodes_as_cantools(dbc, name, payload):
    message = _message(dbc, name)
    data = payload[:message.length]
    try:
        expected = message.decode(data, decode_choices=False)
    except Exception:  # noqa: BLE001 - a payload cantools refuses (unknown multiplexer value) must be refused too
        with pytest.raises(FrameRejected):
            layout_of(message).decode(data)
        return
    got = layout_of(message).decode(data)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key


def test_uugreen_status_bits_and_value_positions():
    layout = layout_of(_message("uugreen_ur1000x0", "UuFrame"))
    values = layout.decode(bytes([0x23, 8, 0, 0]) + struct.pack(">I", 1 << 6))
    assert values["GroupNumber"] == 2 and values["MessageType"] == 3 and values["DcOverVoltage"] == 1
    assert values["Command"] == 8 and sum(v for k, v in values.items() if k not in ("GroupNumber", "MessageType",
                                                                                     "Command")) == 1
    assert layout.decode(bytes([0x23, 30, 0, 0]) + struct.pack(">i", -1500))["InletTemperature"] == -1.5


def test_wrong_length_and_unknown_multiplexer_value_are_refused_with_a_reason():
    layout = layout_of(_message("uugreen_ur1000x0", "UuFrame"))
    with pytest.raises(FrameRejected, match="DLC 4"):
        layout.decode(bytes(4))
    with pytest.raises(FrameRejected, match="multiplexer Command value 7"):
        layout.decode(bytes([0x23, 7, 0, 0, 0, 0, 0, 0]))


def test_a_layout_that_disagrees_with_cantools_is_refused():
    message = _message("io_board", "IoStatus")

    class Skewed(FrameLayout):
        def _field(self, signal):
            field = super()._field(signal)
            return field if signal.name != "Estop" else type(field)(**{**field.__dict__, "shift": field.shift + 1})

    with pytest.raises(LayoutError, match="differs from cantools"):
        Skewed(message)
