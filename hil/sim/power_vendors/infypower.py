"""InfyPower REG (V1.13) module simulator: request IDs carry the module address as destination."""
from __future__ import annotations

import functools

import can

from controller.formats.can.codec import FrameRejected, decode_within_limits
from controller.formats.can.dbc import load_dbc
from hil.plant import ModuleModel
from hil.sim.power_modules import ModuleSims, clamp, encode


class InfyPowerSim(ModuleSims):
    """InfyPower modules: request IDs carry the module address as destination, answers swap the addresses."""

    keys = ("infypower",)
    dbc = "infypower_reg"

    def __init__(self, *args, **kwargs):  # ModuleSims' arguments
        super().__init__(*args, **kwargs)
        db = load_dbc(self.dbc)
        self._requests = {(m.frame_id >> 16) & 0x3F: m for m in db.messages if m.name.startswith("Infy")
                          and not m.name.endswith("Answer")}
        self._answers = {(m.frame_id >> 16) & 0x3F: m for m in db.messages if m.name.endswith("Answer")}

    def attach(self) -> None:
        for model in self.models:
            # error code 0, single-module device 0x0A, destination = this module; any command, any source
            self.port.on((0x0A << 22) | (model.address << 8), functools.partial(self._on_request, model),
                         extended=True, mask=0x1FC0FF00)

    def _on_request(self, model: ModuleModel, msg: can.Message) -> None:
        if model.silent:
            return
        command = (msg.arbitration_id >> 16) & 0x3F
        request = self._requests.get(command)
        if request is None:
            raise FrameRejected(f"InfyPower command {command:#04x} is not simulated")
        values = decode_within_limits(request, msg)
        model.last_command_t = self.clock()
        answer = self._answers[command]
        if command == 0x1A:
            model.on = values["Off"] == 0
            reply = {"Off": values["Off"]}
        elif command == 0x1C:
            model.voltage_ref_v, model.current_limit_a = values["Voltage"], values["Current"]
            reply = {"Voltage": values["Voltage"], "Current": values["Current"]}
        elif command == 0x03:
            reply = {"OutputVoltage": clamp(model.output_voltage_v, answer, "OutputVoltage"),
                     "OutputCurrent": clamp(model.output_current_a, answer, "OutputCurrent")}
        elif command == 0x04:
            reply = {"Temperature": round(clamp(model.temperature_c, answer, "Temperature")),
                     "DcOff": int(not model.on), "OverTemperature": int(model.overtemperature),
                     "OutputOverVoltage": int(model.overvoltage), "OutputShortCircuit": int(model.short_circuit)}
        else:  # 0x0A capabilities
            reply = {"MaxVoltage": round(model.max_voltage_v), "MinVoltage": round(model.min_voltage_v),
                     "MaxCurrent": model.max_current_a, "RatedPower": model.max_power_w}
        source = msg.arbitration_id & 0xFF
        answer_id = (answer.frame_id & ~0xFFFF) | (source << 8) | model.address
        self.port.send(answer_id, encode(answer, reply), extended=True)


SIMULATORS = (InfyPowerSim,)  # found by hil.sim.power_vendors
