"""UUGreenPower UR100030/UR100040 modules (PROTOCOL-FACTS section 7), payloads from dbc/uugreen_ur1000x0.dbc.

ID: protocol 0x1 in bits 28-25, monitor address 0x1 in 24-21, module address in 20-14; modules fill bits
13-0 with serial-number bits. Requests and answers share the ID; the message type nibble tells them apart.
Address 0 is the broadcast: never used here, since every module would take the full current.
The protocol has no rating command: the rating comes from the model name in the configuration.
"""
from __future__ import annotations

import can

from controller.formats.can.codec import decode_within_limits
from controller.formats.can.dbc import load_dbc
from controller.hw.power.base import (
    Frame, ModuleAnswer, ModuleRating, PowerModuleDriver, encode,
)

UR100030 = ModuleRating(max_voltage_v=1000.0, min_voltage_v=150.0, max_current_a=100.0, max_power_w=30_000.0)
UR100040 = ModuleRating(max_voltage_v=1000.0, min_voltage_v=150.0, max_current_a=133.0, max_power_w=40_000.0)

_ADDRESS_SHIFT = 14
_ID_MASK = 0x1FFFC000  # protocol, monitor address, module address; not the serial bits

SET, SET_RESPONSE, READ, READ_RESPONSE = 0, 1, 2, 3
VOUT, IOUT, VOUT_REFERENCE, IOUT_LIMIT, SHUTDOWN_DCDC, MODULE_STATUS, INLET_TEMPERATURE = 0, 1, 2, 3, 4, 8, 30
_TEMPERATURE_EVERY = 5  # telemetry cycles between temperature reads (slow value, spare the bus)


DBC = "uugreen_ur1000x0"


class UUGreenDriver(PowerModuleDriver):
    name = "uugreen"  # UR100030
    dbc = DBC
    fault_flags = frozenset({
        "AcOverVoltageOff", "PfcBusOverVoltage", "PfcBusUnderVoltage", "PfcBusUnbalance", "DcOverVoltageOff",
        "FanStopped", "FanDriverFault", "OverTemperature", "PfcOverTemperature", "RelayFault",
        "DcOverTemperature", "DcdcPfcCommFault", "PfcFault", "DcdcFault", "DuplicateSerial", "BleederFault",
    })
    overvoltage_flags = frozenset({"DcOverVoltage"})

    def __init__(self, group_index: int, rating: ModuleRating = UR100030):
        super().__init__(group_index)
        self.fixed_rating = rating
        self._frame = load_dbc(self.dbc).get_message_by_name("UuFrame")
        self._status_flags = tuple(s.name for s in self._frame.signals
                                   if s.multiplexer_ids is not None and MODULE_STATUS in s.multiplexer_ids)
        self._reads = {cmd: self._payload(READ, cmd, {}) for cmd in (VOUT, IOUT, MODULE_STATUS, INLET_TEMPERATURE)}
        self._on_off = {on: self._payload(SET, SHUTDOWN_DCDC, {"ShutdownDcdc": 0 if on else 1})
                        for on in (True, False)}

    def _payload(self, message_type: int, command: int, values: dict) -> bytes:
        return encode(self._frame, {"GroupNumber": self.group_index, "MessageType": message_type,
                                    "Command": command, **values})

    def _id(self, address: int) -> int:
        return self._frame.frame_id | (address << _ADDRESS_SHIFT)

    def check_address(self, address: int) -> None:
        if not 1 <= address <= 127:
            raise ValueError(f"UUGreen module address {address} out of range 1..127 (0 is the broadcast)")

    def answer_filter(self, address: int) -> tuple[int, int]:
        return self._id(address), _ID_MASK

    def output_frames(self, address: int, voltage_v: float, current_a: float) -> list[Frame]:
        frame_id = self._id(address)
        return [(frame_id, self._payload(SET, VOUT_REFERENCE, {"VoutReference": voltage_v})),
                (frame_id, self._payload(SET, IOUT_LIMIT, {"IoutLimit": current_a}))]

    def on_off_frame(self, address: int, on: bool) -> Frame:
        return self._id(address), self._on_off[on]

    def poll_frames(self, address: int, cycle: int) -> list[Frame]:
        frame_id = self._id(address)
        frames = [(frame_id, self._reads[VOUT]), (frame_id, self._reads[IOUT]), (frame_id, self._reads[MODULE_STATUS])]
        if cycle % _TEMPERATURE_EVERY == 0:
            frames.append((frame_id, self._reads[INLET_TEMPERATURE]))
        return frames

    def may_report_fault(self, msg: can.Message) -> bool:
        return len(msg.data) > 1 and msg.data[1] == MODULE_STATUS  # byte 1: the command

    def decode_answer(self, address: int, msg: can.Message) -> ModuleAnswer | None:
        values = decode_within_limits(self._frame, msg)
        if values["MessageType"] not in (SET_RESPONSE, READ_RESPONSE):
            return None  # a request on the bus (another controller, or a monitor tool)
        command = values["Command"]
        if values["MessageType"] == SET_RESPONSE:
            return ModuleAnswer(address)  # proof of life only
        if command == VOUT:
            return ModuleAnswer(address, voltage_v=values["Vout"])
        if command == IOUT:
            return ModuleAnswer(address, current_a=values["Iout"])
        if command == MODULE_STATUS:
            return ModuleAnswer(address, flags=frozenset(n for n in self._status_flags if values[n]))
        if command == INLET_TEMPERATURE:
            return ModuleAnswer(address, temperature_c=values["InletTemperature"])
        return ModuleAnswer(address)


class UUGreen40Driver(UUGreenDriver):
    """UR100040: the same protocol, a 40 kW rating."""
    name = "uugreen-40"

    def __init__(self, group_index: int):
        super().__init__(group_index, rating=UR100040)


DRIVERS = (UUGreenDriver, UUGreen40Driver)  # found by controller.hw.power.registry
