"""A Modbus device that goes away logs one line when lost and one when back, not a line per poll."""
import asyncio
import logging

import pytest

from controller.formats.cabinet.modbus_devices import ModbusLinkConfig
from controller.hw.modbus_link import ModbusDeviceError, ModbusLink
from hil.plant import ConnectorPlant
from hil.sim.meter import MeterSim

pytestmark = pytest.mark.timeout(60)


def _sim() -> MeterSim:
    plant = ConnectorPlant(connector_id=1)
    plant.cable_voltage_v, plant.output_current_a, plant.energy_wh = 400.0, 50.0, 0.0
    return MeterSim(plant)


def test_lost_and_back_are_one_line_each(caplog):
    async def poll(link: ModbusLink, sim: MeterSim, times: int) -> int:
        failures = 0
        for _ in range(times):
            try:
                await link.read_model(sim.unit_id, sim.model, timeout_s=0.3, retries=0)
            except ModbusDeviceError:
                failures += 1
            await asyncio.sleep(0.01)
        return failures

    async def main():
        sim = _sim()
        port = await sim.start_tcp()
        link = ModbusLink(ModbusLinkConfig(transport="tcp", host="127.0.0.1", port=port, connect_timeout_s=0.3))
        assert await poll(link, sim, 3) == 0
        await sim.stop()
        link.close()  # the next poll connects anew and is refused
        assert await poll(link, sim, 20) == 20
        lost = [r for r in caplog.records if r.levelno >= logging.WARNING]
        sim = _sim()
        await sim.start_tcp(port=port)
        assert await poll(link, sim, 3) == 0
        link.close()
        await sim.stop()
        return lost

    with caplog.at_level(logging.DEBUG):
        lost = asyncio.run(main())
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [m for m in warnings if "Failed to connect" in m] == []  # pymodbus' own line for every attempt
    assert len(lost) == 1, [r.getMessage() for r in lost]
    assert lost[0].getMessage().endswith(": cannot connect (refused or unreachable); retrying, quietly until it is back")
    assert warnings[-1].endswith(": connected again") and len(warnings) == 2
