"""InfyPower REG/BEG modules, CAN protocol V1.13 (PROTOCOL-FACTS section 7), payloads from dbc/infypower_reg.dbc.

ID: bits 28-26 error code, 25-22 device (0x0A single module), 21-16 command, 15-8 destination, 7-0 source.
The DBC's frame IDs are those of module address 0; the address goes into the destination (requests) or
source (answers) byte.
"""
from __future__ import annotations

import can

from controller.formats.can.codec import FrameRejected, decode_within_limits
from controller.formats.can.dbc import load_dbc
from controller.hw.power.base import (
    Frame, ModuleAnswer, ModuleRating, PowerModuleDriver, encode,
)

CONTROLLER_ADDRESS = 0xF0
_ERROR_CODE_MASK = 0x7 << 26
_DEVICE_MASK = 0xF << 22
_COMMAND_SHIFT = 16
_READ_STATUS = 0x04  # the command whose answer carries the status flags

_FLAGS = (
    "PowerLimited", "IdRepeat", "LoadSharingAlarm", "InputPhaseLost", "InputUnbalanced", "InputUnderVoltage",
    "InputOverVoltage", "PfcOff", "DcOff", "Fault", "Protection", "FanFault", "OverTemperature",
    "OutputOverVoltage", "WalkInEnabled", "CommInterrupted", "OutputShortCircuit", "InternalCommFault",
    "InputOrBusAbnormal", "Sleeping", "DischargeAbnormal",
)


DBC = "infypower_reg"


class InfyPowerDriver(PowerModuleDriver):
    name = "infypower"
    dbc = DBC
    # Informational flags (DcOff, Sleeping, WalkInEnabled, PowerLimited, CommInterrupted) leave the module in.
    fault_flags = frozenset({
        "IdRepeat", "LoadSharingAlarm", "InputPhaseLost", "InputUnbalanced", "InputUnderVoltage",
        "InputOverVoltage", "PfcOff", "Fault", "Protection", "FanFault", "OverTemperature",
        "OutputShortCircuit", "InternalCommFault", "InputOrBusAbnormal", "DischargeAbnormal",
    })
    overvoltage_flags = frozenset({"OutputOverVoltage"})
    short_circuit_flags = frozenset({"OutputShortCircuit"})
    power_limited_flags = frozenset({"PowerLimited"})

    def __init__(self, group_index: int):
        super().__init__(group_index)
        db = load_dbc(self.dbc)
        self._read_output = db.get_message_by_name("InfyReadOutputRequest")
        self._read_status = db.get_message_by_name("InfyReadStatusRequest")
        self._read_rating = db.get_message_by_name("InfyReadCapabilityRequest")
        self._set_on_off = db.get_message_by_name("InfySetOnOff")
        self._set_output = db.get_message_by_name("InfySetOutput")
        answers = ("InfyReadOutputAnswer", "InfyReadStatusAnswer", "InfyReadCapabilityAnswer",
                   "InfySetOnOffAnswer", "InfySetOutputAnswer")
        self._answers = {m.frame_id: m for m in (db.get_message_by_name(n) for n in answers)}
        self._empty = encode(self._read_output, {})  # the read requests carry no data
        self._on_off = {on: encode(self._set_on_off, {"Off": 0 if on else 1}) for on in (True, False)}

    def check_address(self, address: int) -> None:
        if not 0x00 <= address <= 0x3F:
            raise ValueError(f"InfyPower module address {address:#x} out of range 0x00..0x3F")

    def answer_filter(self, address: int) -> tuple[int, int]:
        # any command and error code, from this module to the controller
        return (0x0A << 22) | (CONTROLLER_ADDRESS << 8) | address, _DEVICE_MASK | 0xFFFF

    def _request(self, message, address: int) -> int:
        return message.frame_id | (address << 8)

    def output_frames(self, address: int, voltage_v: float, current_a: float) -> list[Frame]:
        data = encode(self._set_output, {"Voltage": voltage_v, "Current": current_a})
        return [(self._request(self._set_output, address), data)]

    def on_off_frame(self, address: int, on: bool) -> Frame:
        return self._request(self._set_on_off, address), self._on_off[on]

    def poll_frames(self, address: int, cycle: int) -> list[Frame]:
        return [(self._request(self._read_output, address), self._empty),
                (self._request(self._read_status, address), self._empty)]

    def rating_request(self, address: int) -> Frame | None:
        return self._request(self._read_rating, address), self._empty

    def may_report_fault(self, msg: can.Message) -> bool:
        return (msg.arbitration_id >> _COMMAND_SHIFT) & 0x3F == _READ_STATUS

    def decode_answer(self, address: int, msg: can.Message) -> ModuleAnswer | None:
        command = (msg.arbitration_id >> _COMMAND_SHIFT) & 0x3F
        error_code = (msg.arbitration_id & _ERROR_CODE_MASK) >> 26
        if error_code:
            raise FrameRejected(f"InfyPower module {address:#04x} answered command {command:#04x} "
                                f"with error code {error_code}")
        message = self._answers.get(msg.arbitration_id & ~0xFF)
        if message is None:
            return None  # an answer to a command this driver does not use
        values = decode_within_limits(message, msg)
        if message.name == "InfyReadOutputAnswer":
            return ModuleAnswer(address, voltage_v=values["OutputVoltage"], current_a=values["OutputCurrent"])
        if message.name == "InfyReadStatusAnswer":
            flags = frozenset(name for name in _FLAGS if values[name])
            return ModuleAnswer(address, temperature_c=float(values["Temperature"]), flags=flags)
        if message.name == "InfyReadCapabilityAnswer":
            rating = ModuleRating(max_voltage_v=float(values["MaxVoltage"]),
                                  min_voltage_v=float(values["MinVoltage"]),
                                  max_current_a=float(values["MaxCurrent"]),
                                  max_power_w=float(values["RatedPower"]))
            if rating.min_voltage_v >= rating.max_voltage_v or rating.max_current_a <= 0 or rating.max_power_w <= 0:
                raise FrameRejected(f"InfyPower module {address:#04x}: implausible rating {rating}")
            return ModuleAnswer(address, rating=rating)
        return ModuleAnswer(address)  # a set command's answer: proof of life only


DRIVERS = (InfyPowerDriver,)  # found by controller.hw.power.registry
