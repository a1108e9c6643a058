"""Vendor drivers against the wire: exact frames derived from PROTOCOL-FACTS section 7, answers decoded."""
from __future__ import annotations

import math
import struct

import can
import pytest

from controller.formats.can.codec import FrameRejected
from controller.hw.power import ModuleRating, VENDORS
from controller.hw.power.vendors.infypower import InfyPowerDriver
from controller.hw.power.vendors.uugreen import UUGreen40Driver, UUGreenDriver

pytestmark = pytest.mark.timeout(10)


def _infy_id(command: int, destination: int, source: int, error: int = 0) -> int:
    # bits 28-26 error code, 25-22 device 0x0A, 21-16 command, 15-8 destination, 7-0 source
    return (error << 26) | (0x0A << 22) | (command << 16) | (destination << 8) | source


def _uu_id(address: int, serial_bits: int = 0) -> int:
    # protocol 0x1 in bits 28-25, monitor address 0x1 in 24-21, module address in 20-14
    return (1 << 25) | (1 << 21) | (address << 14) | serial_bits


def _msg(arbitration_id: int, data: bytes) -> can.Message:
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=True)


# ---- InfyPower --------------------------------------------------------------------------------------------------

def test_infy_command_frames_for_module_5():
    d = InfyPowerDriver(0)
    # 0x1C: uint32 BE mV, uint32 BE mA
    assert d.output_frames(5, 400.0, 20.0) == [
        (_infy_id(0x1C, 5, 0xF0), struct.pack(">II", 400_000, 20_000))]
    # 0x1A: byte0 0x00 on, 0x01 off
    assert d.on_off_frame(5, True) == (_infy_id(0x1A, 5, 0xF0), bytes(8))
    assert d.on_off_frame(5, False) == (_infy_id(0x1A, 5, 0xF0), b"\x01" + bytes(7))
    assert d.poll_frames(5, 0) == [(_infy_id(0x03, 5, 0xF0), bytes(8)), (_infy_id(0x04, 5, 0xF0), bytes(8))]
    assert d.rating_request(5) == (_infy_id(0x0A, 5, 0xF0), bytes(8))
    assert _infy_id(0x1C, 5, 0xF0) == 0x029C05F0


def test_infy_answers_decode():
    d = InfyPowerDriver(0)
    vi = d.decode_answer(7, _msg(_infy_id(0x03, 0xF0, 7), struct.pack(">ff", 401.5, 19.75)))
    assert (vi.voltage_v, vi.current_a) == (401.5, 19.75)

    # byte 4 temperature; byte 5 bit 7 PFC off; byte 6 bit 0 DC off, bit 4 over-temperature, bit 5 output OV
    status = d.decode_answer(7, _msg(_infy_id(0x04, 0xF0, 7), bytes([0, 0, 1, 0, 42, 0x80, 0x31, 0x10])))
    assert status.temperature_c == 42
    assert status.flags == {"PfcOff", "DcOff", "OverTemperature", "OutputOverVoltage", "Sleeping"}
    assert status.flags & d.overvoltage_flags == {"OutputOverVoltage"}
    assert status.flags & d.fault_flags == {"PfcOff", "OverTemperature"}

    # 0x0A: Vmax, Vmin in 1 V, Imax in 0.1 A, power in 10 W
    rating = d.decode_answer(7, _msg(_infy_id(0x0A, 0xF0, 7), struct.pack(">HHHH", 1000, 150, 1000, 3000)))
    assert rating.rating == ModuleRating(1000.0, 150.0, 100.0, 30_000.0)

    echo = d.decode_answer(7, _msg(_infy_id(0x1C, 0xF0, 7), struct.pack(">II", 400_000, 20_000)))
    assert echo.address == 7 and echo.voltage_v is None and echo.flags is None
    assert d.decode_answer(7, _msg(_infy_id(0x0B, 0xF0, 7), bytes(8))) is None  # barcode: not used


@pytest.mark.parametrize("arbitration_id, data, reason", [
    (_infy_id(0x03, 0xF0, 7), struct.pack(">ff", 400.0, 20.0)[:4], "DLC 4"),
    (_infy_id(0x03, 0xF0, 7), struct.pack(">ff", math.nan, 20.0), "OutputVoltage"),
    (_infy_id(0x03, 0xF0, 7), struct.pack(">ff", 5000.0, 20.0), "OutputVoltage"),
    (_infy_id(0x0A, 0xF0, 7), struct.pack(">HHHH", 150, 1000, 1000, 3000), "implausible rating"),
    (_infy_id(0x03, 0xF0, 7, error=2), bytes(8), "error code 2"),
])
def test_infy_bad_answers_are_rejected(arbitration_id, data, reason):
    with pytest.raises(FrameRejected, match=reason):
        InfyPowerDriver(0).decode_answer(7, _msg(arbitration_id, data))


def test_infy_answer_filter_matches_only_that_module():
    value, mask = InfyPowerDriver(0).answer_filter(7)
    assert _infy_id(0x03, 0xF0, 7) & mask == value
    assert _infy_id(0x04, 0xF0, 7, error=3) & mask == value
    assert _infy_id(0x03, 0xF0, 8) & mask != value  # another module
    assert _infy_id(0x03, 7, 0xF0) & mask != value  # a request to the module


def test_infy_addresses():
    with pytest.raises(ValueError, match="0x40"):
        InfyPowerDriver(0).check_address(0x40)
    InfyPowerDriver(0).check_address(0x3F)


# ---- UUGreen ----------------------------------------------------------------------------------------------------

def test_uugreen_command_frames_for_module_5_in_group_2():
    d = UUGreenDriver(2)
    frame_id = _uu_id(5)
    assert frame_id == 0x02214000
    # byte0 group 2 (high nibble) | type 0 set; byte1 command; bytes 2-3 reserved; bytes 4-7 uint32 BE
    assert d.output_frames(5, 400.0, 20.0) == [
        (frame_id, bytes([0x20, 2, 0, 0]) + struct.pack(">I", 400_000)),  # VoutReference, mV
        (frame_id, bytes([0x20, 3, 0, 0]) + struct.pack(">I", 20_000)),  # IoutLimit, mA
    ]
    assert d.on_off_frame(5, True) == (frame_id, bytes([0x20, 4, 0, 0, 0, 0, 0, 0]))
    assert d.on_off_frame(5, False) == (frame_id, bytes([0x20, 4, 0, 0, 0, 0, 0, 1]))
    reads = [(frame_id, bytes([0x22, cmd, 0, 0, 0, 0, 0, 0])) for cmd in (0, 1, 8)]
    assert d.poll_frames(5, 1) == reads
    assert d.poll_frames(5, 0) == reads + [(frame_id, bytes([0x22, 30, 0, 0, 0, 0, 0, 0]))]
    assert d.rating_request(5) is None


def test_uugreen_answers_decode():
    d = UUGreenDriver(2)
    frame_id = _uu_id(5, serial_bits=0x1ABC)
    assert d.decode_answer(5, _msg(frame_id, bytes([0x23, 0, 0, 0]) + struct.pack(">I", 401_500))).voltage_v == 401.5
    assert d.decode_answer(5, _msg(frame_id, bytes([0x23, 1, 0, 0]) + struct.pack(">I", 19_750))).current_a == 19.75
    # status word: bit 12 over-temperature, bit 6 DC over-voltage, bit 25 DC/DC off
    word = (1 << 12) | (1 << 6) | (1 << 25)
    status = d.decode_answer(5, _msg(frame_id, bytes([0x23, 8, 0, 0]) + struct.pack(">I", word)))
    assert status.flags == {"OverTemperature", "DcOverVoltage", "DcdcOff"}
    assert status.flags & d.overvoltage_flags == {"DcOverVoltage"}
    assert status.flags & d.fault_flags == {"OverTemperature"}
    assert d.decode_answer(5, _msg(frame_id, bytes([0x23, 30, 0, 0]) + struct.pack(">i", 35_500))).temperature_c == 35.5
    assert d.decode_answer(5, _msg(frame_id, bytes([0x21, 3, 0, 0]) + struct.pack(">I", 20_000))).address == 5
    # a read request seen on the bus is not an answer
    assert d.decode_answer(5, _msg(frame_id, bytes([0x22, 0, 0, 0, 0, 0, 0, 0]))) is None
    value, mask = d.answer_filter(5)
    assert frame_id & mask == value and _uu_id(6) & mask != value


@pytest.mark.parametrize("data, reason", [
    (bytes([0x23, 0, 0, 0]), "DLC 4"),
    (bytes([0x23, 7, 0, 0, 0, 0, 0, 0]), "multiplexer"),  # command 7 is not in the DBC
    (bytes([0x23, 0, 0, 0]) + struct.pack(">I", 2_000_000), "Vout"),  # 2000 V
])
def test_uugreen_bad_answers_are_rejected(data, reason):
    with pytest.raises(FrameRejected, match=reason):
        UUGreenDriver(0).decode_answer(5, _msg(_uu_id(5), data))


def test_uugreen_never_addresses_the_broadcast_and_checks_the_group():
    with pytest.raises(ValueError, match="broadcast"):
        UUGreenDriver(0).check_address(0)
    UUGreenDriver(0).check_address(127)
    with pytest.raises(ValueError, match="group index"):
        UUGreenDriver(16)


def test_registry_and_ratings():
    assert {"infypower", "uugreen", "uugreen-40"} <= set(VENDORS)
    assert VENDORS["uugreen"](0).fixed_rating.max_power_w == 30_000.0
    assert UUGreen40Driver(0).fixed_rating.max_power_w == 40_000.0
    assert VENDORS["infypower"](0).fixed_rating is None  # read with command 0x0A


def test_setpoints_outside_the_dbc_range_are_refused():
    with pytest.raises(ValueError, match="InfySetOutput"):
        InfyPowerDriver(0).output_frames(1, 2000.0, 10.0)
