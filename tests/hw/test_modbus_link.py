"""ModbusLink against the simulators over TCP on loopback and RTU on a pty pair: every failure becomes
ModbusDeviceError with the right kind and a readable reason, and the link recovers afterwards."""
import asyncio

import pytest

from controller.formats.cabinet.modbus_devices import ModbusLinkConfig
from controller.hw.modbus_link import ModbusDeviceError, ModbusLink, create_client
from hil.plant import ConnectorPlant
from hil.sim.imd import ImdSim
from hil.sim.meter import MeterSim
from tests.hw.modbus_rig import TRANSPORTS, served

pytestmark = pytest.mark.timeout(60)
FAST = dict(timeout_s=0.3, retries=0)


def _plant() -> ConnectorPlant:
    plant = ConnectorPlant(connector_id=1)
    plant.cable_voltage_v, plant.output_current_a, plant.energy_wh = 400.0, 50.0, 0.0
    return plant


async def _read(link: ModbusLink, sim: MeterSim, **kw) -> dict[str, float]:
    return await link.read_model(sim.unit_id, sim.model, **(FAST | kw))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_read_decodes_the_model(transport):
    async def main():
        sim = MeterSim(_plant(), "generic_float32" if transport == "rtu" else "acrel_djsf1352_rn")
        async with served(sim, transport) as cfg:
            link = ModbusLink(cfg)
            values = await _read(link, sim)
            link.close()
        assert values["voltage_v"] == pytest.approx(400.0)
        assert values["current_a"] == pytest.approx(50.0)
        assert values["power_w"] == pytest.approx(20000.0)
        assert values["energy_import_wh"] == pytest.approx(sim.initial_energy_wh, abs=10)
    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_reply_is_a_timeout_and_the_link_recovers(transport):
    async def main():
        sim = MeterSim(_plant())
        async with served(sim, transport) as cfg:
            link = ModbusLink(cfg)
            await _read(link, sim)
            sim.silent = True
            with pytest.raises(ModbusDeviceError) as info:
                await _read(link, sim, retries=2)
            assert info.value.kind == "timeout"
            assert "no reply within 0.3 s" in info.value.reason
            assert "unit 1" in info.value.reason
            assert link.counters.timeouts == 3  # the first attempt and two retries
            sim.silent = False
            assert (await _read(link, sim))["voltage_v"] == pytest.approx(400.0)
            link.close()
    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_corrupt_reply_is_garbled_and_the_link_recovers(transport):
    async def main():
        sim = MeterSim(_plant())
        async with served(sim, transport) as cfg:
            link = ModbusLink(cfg)
            sim.garble = True
            with pytest.raises(ModbusDeviceError) as info:
                await _read(link, sim)
            assert info.value.kind == "garbled"
            assert "no valid reply (bad CRC or framing)" in info.value.reason
            sim.garble = False
            assert (await _read(link, sim))["current_a"] == pytest.approx(50.0)
            link.close()
    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exception_response_is_not_retried(transport):
    async def main():
        sim = MeterSim(_plant())
        async with served(sim, transport) as cfg:
            link = ModbusLink(cfg)
            sim.exception_code = 6
            with pytest.raises(ModbusDeviceError) as info:
                await _read(link, sim, retries=3)
            assert info.value.kind == "exception"
            assert "exception 6 (device_busy)" in info.value.reason
            assert link.counters.requests == 1
            with pytest.raises(ModbusDeviceError, match="illegal_function"):
                sim.exception_code = None
                await link.read_registers(1, 4, 0, 2, **FAST)  # the Acrel map has holding registers only
            link.close()
    asyncio.run(main())


def test_write_register_reaches_the_device_over_rtu():
    async def main():
        sim = ImdSim(_plant())
        async with served(sim, "rtu") as cfg:
            link = ModbusLink(cfg)
            await link.write_register(3, 3005, 250, **FAST)
            await link.write_register(3, 3021, 3, **FAST)
            with pytest.raises(ModbusDeviceError) as info:
                await link.write_register(3, 3021, 7, **FAST)
            link.close()
        assert (sim.prealarm_kohm, sim.cable_check_mode) == (250, True)
        assert info.value.kind == "exception" and "illegal_value" in info.value.reason
    asyncio.run(main())


def test_closed_links_name_the_endpoint():
    async def main():
        sim = MeterSim(_plant())
        port = await sim.start_tcp()
        link = ModbusLink(ModbusLinkConfig(port=port, connect_timeout_s=0.5))
        await _read(link, sim)
        await sim.stop()
        with pytest.raises(ModbusDeviceError) as info:
            await _read(link, sim)
        assert info.value.kind == "closed"
        with pytest.raises(ModbusDeviceError) as info:
            await _read(link, sim)
        assert info.value.kind == "closed"
        assert f"cannot connect to tcp 127.0.0.1:{port}" in info.value.reason
        await sim.start_tcp(port=port)  # the device comes back
        assert (await _read(link, sim))["power_w"] == pytest.approx(20000.0)
        link.close()
        await sim.stop()

        serial = ModbusLink(ModbusLinkConfig(transport="rtu", serial_port="/dev/no-such-tty"))
        with pytest.raises(ModbusDeviceError) as info:
            await serial.read_registers(1, 3, 0, 1, **FAST)
        assert info.value.kind == "closed"
        assert "rtu /dev/no-such-tty 19200 8N1 (no such serial device)" in info.value.reason
    asyncio.run(main())


def test_clients_carry_the_serial_settings():
    async def main():
        cfg = ModbusLinkConfig(transport="rtu", serial_port="/dev/ttyS9", baudrate=9600, parity="E", stopbits=2,
                               bytesize=7, connect_timeout_s=0.7)
        params = create_client(cfg, lambda sending, data: data).comm_params
        assert (params.host, params.baudrate, params.parity, params.stopbits, params.bytesize) == \
            ("/dev/ttyS9", 9600, "E", 2, 7)
        assert params.timeout_connect == 0.7
        tcp = create_client(ModbusLinkConfig(host="10.0.0.9", port=1502), lambda sending, data: data).comm_params
        assert (tcp.host, tcp.port) == ("10.0.0.9", 1502)
    asyncio.run(main())
