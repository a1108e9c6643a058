"""Serving a simulated Modbus device to a driver under test, over TCP on loopback or RTU on a pty pair.

The pty pair carries no parity (Linux pseudo-terminals here reject PARENB); the RTU framing and CRC are
the same with or without it.
"""
from __future__ import annotations

import asyncio
import math
from contextlib import asynccontextmanager
from typing import AsyncIterator

from controller.formats.cabinet.modbus_devices import ModbusLinkConfig
from hil.plant import ConnectorPlant, ModuleModel
from hil.sim.modbus_device import ModbusDeviceSim
from hil.sim.pty_link import PtyLink

TRANSPORTS = ("tcp", "rtu")


@asynccontextmanager
async def served(sim: ModbusDeviceSim, transport: str) -> AsyncIterator[ModbusLinkConfig]:
    """Start `sim` and yield the link config that reaches it; stops it afterwards."""
    if transport == "tcp":
        port = await sim.start_tcp()
        try:
            yield ModbusLinkConfig(transport="tcp", host="127.0.0.1", port=port, connect_timeout_s=0.5)
        finally:
            await sim.stop()
        return
    async with PtyLink() as pty:
        await sim.start_rtu(pty.device_path, baudrate=19200)
        try:
            yield ModbusLinkConfig(transport="rtu", serial_port=pty.controller_path, baudrate=19200,
                                   connect_timeout_s=0.5)
        finally:
            await sim.stop()


class FaultLog:
    """Records on_fault(code, detail, active) calls."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool]] = []
        self.active: dict[str, str] = {}

    def __call__(self, code: str, detail: str, active: bool) -> None:
        self.events.append((code, detail, active))
        if active:
            self.active[code] = detail
        else:
            self.active.pop(code, None)

    def raised(self, code: str) -> bool:
        return any(c == code and a for c, _, a in self.events)


class Battery:
    """A fixed-voltage battery for the plant: enough to make current flow."""

    def __init__(self, voltage_v: float = 400.0, resistance_ohm: float = 0.05):
        self.voltage_v = voltage_v
        self.internal_resistance_ohm = resistance_ohm

    def open_circuit_voltage(self) -> float:
        return self.voltage_v

    def absorb(self, current_a: float, dt: float) -> None:
        pass


def charging_plant() -> ConnectorPlant:
    """A plant with contactors closed and one module pushing current into a 400 V battery."""
    module = ModuleModel(address=1, on=True, voltage_ref_v=420.0, current_limit_a=100.0)
    # an ideal cabinet bus: the IMD sees exactly the cable's insulation
    return ConnectorPlant(connector_id=1, modules=[module], dc_plus_closed=True, dc_minus_closed=True,
                          ev_cp_state="C", ev_contactor_closed=True, battery=Battery(),
                          cabinet_isolation_ohm=math.inf)


@asynccontextmanager
async def stepping(plant: ConnectorPlant, period_s: float = 0.01) -> AsyncIterator[None]:
    """Advance `plant` in real time in the background, as the rig does."""
    async def step() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(period_s)
            now = loop.time()
            plant.step(now - last)
            last = now

    task = asyncio.create_task(step())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
