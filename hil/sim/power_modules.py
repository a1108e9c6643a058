"""Power module simulators: InfyPower REG (V1.13) and UUGreenPower UR1000x0 on the rig's CAN port.

They speak the wire protocol from the shared DBC files and keep nothing of their own: set and on/off commands
go into each `ModuleModel`, reads are answered from it (the plant computes voltages and currents). Fault
injection comes from the model: `overtemperature` and `overvoltage` show as status flags, and a `silent` module
neither hears nor answers, so its own communication timeout switches it off like a module with a dead bus.
"""
from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, Callable

import can
from cantools.database.can import Message

from controller.formats.can.codec import FrameRejected, decode_within_limits
from controller.formats.can.dbc import load_dbc
from hil.plant import ModuleModel
from hil.wires.can import RigCanBus


def _encode(message: Message, values: dict[str, Any]) -> bytes:
    """DBC encode; signals not given (reserved, other multiplexer branches) are 0."""
    muxes = {s.name: values.get(s.name, 0) for s in message.signals if s.is_multiplexer}
    full = dict(values)
    for s in message.signals:
        if s.name not in full and (s.multiplexer_ids is None or muxes.get(s.multiplexer_signal) in s.multiplexer_ids):
            full[s.name] = 0
    return bytes(message.encode(full, strict=True))


def _clamp(value: float, signal_owner: Message, name: str) -> float:
    """Keep a physical value inside the DBC range so an extreme plant state still encodes."""
    s = signal_owner.get_signal_by_name(name)
    return min(max(value, s.minimum), s.maximum)


class _ModuleSims:
    """What both vendors' modules do alike: the 10 s communication timeout."""

    def __init__(self, port: RigCanBus, models: list[ModuleModel], clock: Callable[[], float] = time.monotonic,
                 check_period_s: float = 0.1):
        self.port = port
        self.models = list(models)
        self.clock = clock
        self.check_period_s = check_period_s

    async def run(self) -> None:
        """Switch off every module whose controller has been silent for longer than its timeout."""
        while True:
            now = self.clock()
            for model in self.models:
                if model.on and now - model.last_command_t > model.comm_timeout_s:
                    model.on = False
            await asyncio.sleep(self.check_period_s)


class InfyPowerSim(_ModuleSims):
    """InfyPower modules: request IDs carry the module address as destination, answers swap the addresses."""

    def __init__(self, port: RigCanBus, models: list[ModuleModel], clock: Callable[[], float] = time.monotonic,
                 check_period_s: float = 0.1):
        super().__init__(port, models, clock, check_period_s)
        db = load_dbc("infypower_reg")
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
            reply = {"OutputVoltage": _clamp(model.output_voltage_v, answer, "OutputVoltage"),
                     "OutputCurrent": _clamp(model.output_current_a, answer, "OutputCurrent")}
        elif command == 0x04:
            reply = {"Temperature": round(_clamp(model.temperature_c, answer, "Temperature")),
                     "DcOff": int(not model.on), "OverTemperature": int(model.overtemperature),
                     "OutputOverVoltage": int(model.overvoltage), "OutputShortCircuit": int(model.short_circuit)}
        else:  # 0x0A capabilities
            reply = {"MaxVoltage": round(model.max_voltage_v), "MinVoltage": round(model.min_voltage_v),
                     "MaxCurrent": model.max_current_a, "RatedPower": model.max_power_w}
        source = msg.arbitration_id & 0xFF
        answer_id = (answer.frame_id & ~0xFFFF) | (source << 8) | model.address
        self.port.send(answer_id, _encode(answer, reply), extended=True)


UU_SET, UU_SET_RESPONSE, UU_READ, UU_READ_RESPONSE, UU_SET_ALL = 0, 1, 2, 3, 11


class UUGreenSim(_ModuleSims):
    """UUGreen modules: one ID layout both ways; address 0 is the broadcast every module obeys."""

    def __init__(self, port: RigCanBus, models: list[ModuleModel], clock: Callable[[], float] = time.monotonic,
                 check_period_s: float = 0.1):
        super().__init__(port, models, clock, check_period_s)
        self._frame = load_dbc("uugreen_ur1000x0").get_message_by_name("UuFrame")

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
            return {"Vout": _clamp(model.output_voltage_v, f, "Vout")}
        if command == 1:
            return {"Iout": _clamp(model.output_current_a, f, "Iout")}
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
            return {"InletTemperature": _clamp(model.temperature_c, f, "InletTemperature")}
        return {"HighLowMode": 1}  # 95: high range (the simulated module covers its whole range)

    def _answer(self, model: ModuleModel, group: int, kind: int, command: int, values: dict) -> None:
        payload = _encode(self._frame, {"GroupNumber": group, "MessageType": kind, "Command": command, **values})
        self.port.send(self._id(model.address) | self._serial_bits(model.address), payload, extended=True)


SIMULATORS: dict[str, type[_ModuleSims]] = {
    "infypower": InfyPowerSim,
    "uugreen": UUGreenSim,
    "uugreen-40": UUGreenSim,
}
