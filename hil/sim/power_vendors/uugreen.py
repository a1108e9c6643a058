"""UUGreenPower UR1000x0 module simulator (UR100030 and UR100040 speak the same protocol)."""
from __future__ import annotations

import functools

import can

from controller.formats.can.codec import FrameRejected, decode_within_limits
from controller.formats.can.dbc import load_dbc
from hil.plant import ModuleModel
from hil.sim.power_modules import ModuleSims, clamp, encode

UU_SET, UU_SET_RESPONSE, UU_READ, UU_READ_RESPONSE, UU_SET_ALL = 0, 1, 2, 3, 11


class UUGreenSim(ModuleSims):
    """UUGreen modules: one ID layout both ways; address 0 is the broadcast every module obeys."""

    keys = ("uugreen", "uugreen-40")
    dbc = "uugreen_ur1000x0"

    def __init__(self, *args, **kwargs):  # ModuleSims' arguments
        super().__init__(*args, **kwargs)
        self._frame = load_dbc(self.dbc).get_message_by_name("UuFrame")

    def attach(self) -> None:
        for model in self.models:
            self.port.on(self._id(model.address), functools.partial(self._on_request, [model]),
                         extended=True, mask=0x1FFFC000)
        self.port.on(self._id(0), functools.partial(self._on_request, self.models), extended=True, mask=0x1FFFC000)

    def _id(self, address: int) -> int:
        return self._frame.frame_id | (address << 14)

    @staticmethod
    def _serial_bits(address: int) -> int:
        # real modules put serial-number bits in ID bits 13-0; the controller must ignore them
        return (address * 0x9E5) & 0x3FFF

    def _on_request(self, models: list[ModuleModel], msg: can.Message) -> None:
        values = decode_within_limits(self._frame, msg)
        kind, command = values["MessageType"], values["Command"]
        if kind not in (UU_SET, UU_READ, UU_SET_ALL):
            return  # another module's answer
        now = self.clock()
        for model in models:
            if model.silent:
                continue
            model.last_command_t = now
            if kind == UU_READ:
                self._answer(model, values["GroupNumber"], UU_READ_RESPONSE, command, self._read(model, command))
                continue
            written = self._write(model, command, values)
            if kind == UU_SET:
                self._answer(model, values["GroupNumber"], UU_SET_RESPONSE, command, written)

    def _write(self, model: ModuleModel, command: int, values: dict) -> dict:
        if command == 2:
            model.voltage_ref_v = values["VoutReference"]
        elif command == 3:
            model.current_limit_a = values["IoutLimit"]
        elif command == 4:
            model.on = values["ShutdownDcdc"] == 0
        elif command not in (95,):
            raise FrameRejected(f"UUGreen command {command} cannot be set")
        return {k: v for k, v in values.items() if k not in ("GroupNumber", "MessageType", "Command", "Reserved")}

    def _read(self, model: ModuleModel, command: int) -> dict:
        f = self._frame
        if command == 0:
            return {"Vout": clamp(model.output_voltage_v, f, "Vout")}
        if command == 1:
            return {"Iout": clamp(model.output_current_a, f, "Iout")}
        if command == 2:
            return {"VoutReference": model.voltage_ref_v}
        if command == 3:
            return {"IoutLimit": model.current_limit_a}
        if command == 4:
            return {"ShutdownDcdc": int(not model.on)}
        if command == 8:
            return {"DcdcOff": int(not model.on), "OverTemperature": int(model.overtemperature),
                    "DcOverVoltage": int(model.overvoltage)}
        if command == 30:
            return {"InletTemperature": clamp(model.temperature_c, f, "InletTemperature")}
        return {"HighLowMode": 1}  # 95: high range (the simulated module covers its whole range)

    def _answer(self, model: ModuleModel, group: int, kind: int, command: int, values: dict) -> None:
        payload = encode(self._frame, {"GroupNumber": group, "MessageType": kind, "Command": command, **values})
        self.port.send(self._id(model.address) | self._serial_bits(model.address), payload, extended=True)


SIMULATORS = (UUGreenSim,)  # found by hil.sim.power_vendors
