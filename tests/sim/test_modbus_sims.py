"""The meter and IMD simulators on their own, seen through a plain pymodbus client and raw RTU bytes:
register layout from the map files, values from the plant, self-test behaviour and fault injection."""
import ast
import asyncio
import math
import os
import struct
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.framer.rtu import FramerRTU

from controller.formats.modbus import bender_channel as ch
from hil.plant import ConnectorPlant
from hil.sim.imd import ImdSim
from hil.sim.meter import MeterSim
from hil.sim.pty_link import PtyLink
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(60)
SIM_FILES = ("meter.py", "imd.py", "modbus_device.py", "pty_link.py")


def _plant(volts: float = 400.0, amps: float = 80.0) -> ConnectorPlant:
    plant = ConnectorPlant(connector_id=1)
    plant.cable_voltage_v, plant.output_current_a = volts, amps
    # contactors closed and an ideal cabinet bus: the IMD sees exactly the cable's insulation
    plant.dc_plus_closed = plant.dc_minus_closed = True
    plant.cabinet_isolation_ohm = math.inf
    return plant


async def _client(sim) -> AsyncModbusTcpClient:
    port = await sim.start_tcp()
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=0.3, retries=0, reconnect_delay=0)
    assert await client.connect()
    return client


def _float(regs: list[int]) -> float:
    return struct.unpack(">f", struct.pack(">HH", *regs))[0]


def test_meter_serves_the_acrel_layout_on_an_ephemeral_port():
    async def main():
        plant = _plant(400.12, -12.5)
        plant.energy_wh = 1000.0
        sim = MeterSim(plant, initial_energy_wh=2_000_000.0)
        client = await _client(sim)
        assert sim.port > 0 and sim.port != 502
        regs = (await client.read_holding_registers(0, count=14, device_id=1)).registers
        client.close()
        await sim.stop()
        assert (regs[0], regs[1]) == (40012, 1)  # 400.12 V = 40012 * 10^(1-3)
        assert (regs[2], regs[3]) == (0x10000 - 12500, 0)  # -12.5 A as int16 at 1 mA
        assert (regs[8], regs[9]) == (0x10000 - 5002, 3)  # -5001.5 W rounds to -5002 at 1 W
        assert regs[12] << 16 | regs[13] == 200_100  # 2 001 000 Wh in 0.01 kWh, high word first
    asyncio.run(main())


def test_meter_follows_the_plant_until_frozen():
    async def main():
        plant = _plant()
        sim = MeterSim(plant, "generic_float32", initial_energy_wh=0.0)
        client = await _client(sim)

        async def energy_kwh() -> float:
            return _float((await client.read_input_registers(72, count=2, device_id=1)).registers)

        plant.energy_wh = 500.0
        assert await energy_kwh() == pytest.approx(0.5)
        sim.frozen = True
        plant.energy_wh, plant.output_current_a = 900.0, 10.0
        assert await energy_kwh() == pytest.approx(0.5)
        assert _float((await client.read_input_registers(52, count=2, device_id=1)).registers) == 32000.0
        sim.frozen = False
        assert await energy_kwh() == pytest.approx(0.9)
        wrong = await client.read_holding_registers(72, count=2, device_id=1)
        client.close()
        await sim.stop()
        assert wrong.isError() and wrong.exception_code == 1  # input registers are not holding registers
    asyncio.run(main())


def test_silent_and_exception_injection():
    async def main():
        sim = MeterSim(_plant())
        client = await _client(sim)
        sim.exception_code = 6
        busy = await client.read_holding_registers(0, count=2, device_id=1)
        sim.exception_code, sim.silent = None, True
        with pytest.raises(Exception):
            await client.read_holding_registers(0, count=2, device_id=1)
        client.close()
        await sim.stop()
        assert busy.isError() and busy.exception_code == 6
    asyncio.run(main())


def _rtu_request(unit: int, function: int, address: int, value: int) -> bytes:
    frame = struct.pack(">BBHH", unit, function, address, value)
    return frame + FramerRTU.compute_CRC(frame).to_bytes(2, "big")


async def _rtu_exchange(fd: int, request: bytes, length: int) -> bytes:
    os.write(fd, request)
    reply = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while len(reply) < length and loop.time() < deadline:
        await asyncio.sleep(0.01)
        try:
            reply += os.read(fd, 256)
        except BlockingIOError:
            pass
    return reply


def test_rtu_replies_carry_a_crc_unless_garbled():
    async def main():
        plant = _plant()
        plant.isolation_ohm = 2.5e6
        sim = ImdSim(plant)
        async with PtyLink() as pty:
            await sim.start_rtu(pty.device_path)
            fd = os.open(pty.controller_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                good = await _rtu_exchange(fd, _rtu_request(3, 3, 1000, 4), 13)
                sim.garble = True
                bad = await _rtu_exchange(fd, _rtu_request(3, 3, 1000, 4), 13)
            finally:
                os.close(fd)
                await sim.stop()
        for reply, crc_ok in ((good, True), (bad, False)):
            assert len(reply) == 13 and reply[:3] == b"\x03\x03\x08"
            crc = int.from_bytes(reply[-2:], "big")
            assert FramerRTU.check_CRC(reply[:-2], crc) is crc_ok
        assert struct.unpack(">f", good[3:7])[0] == 2.5e6
        status = ch.ChannelStatus.from_register(int.from_bytes(good[7:9], "big"))
        assert (status.unit, status.range, status.alarm_type) == (ch.UNIT_OHM, ch.RANGE_ACTUAL, ch.ALARM_NONE)
        assert int.from_bytes(good[9:11], "big") == ch.CODE_INSULATION
    asyncio.run(main())


def test_imd_self_test_and_alarm_registers():
    async def main():
        plant = _plant(volts=650.0)
        clock = FakeClock(100.0)
        sim = ImdSim(plant, self_test_s=5.0, clock=clock)
        client = await _client(sim)

        async def channel(address: int) -> tuple[float, ch.ChannelStatus, int]:
            regs = (await client.read_holding_registers(address, count=4, device_id=3)).registers
            return _float(regs[:2]), ch.ChannelStatus.from_register(regs[2]), regs[3]

        value, status, code = await channel(1008)
        assert (value, status.unit, code) == (650.0, ch.UNIT_VOLT, ch.CODE_VOLTAGE)
        plant.isolation_ohm = 80e6
        value, status, _ = await channel(1000)
        assert (value, status.range) == (50e6, ch.RANGE_HIGHER)  # beyond the measuring range
        plant.isolation_ohm = 300e3
        assert (await channel(1000))[1].alarm_type == ch.ALARM_PREWARNING  # below R1 = 600 kohm
        await client.write_register(3007, 400, device_id=3)  # R2 = 400 kohm
        assert (await channel(1000))[1].alarm_type == ch.ALARM_ALARM

        rejected = await client.write_register(8005, 0x1234, device_id=3)  # not "TE"
        assert rejected.isError() and rejected.exception_code == 3 and sim.self_tests_started == 0
        assert (await client.write_register(8005, 0x5445, device_id=3)).registers == [0x5445]
        _, status, code = await channel(1000)
        assert (status.valid, status.test_done, code) == (False, False, ch.CODE_TEMPORARILY_INACTIVE)
        clock.advance(5.0)
        _, status, _ = await channel(1000)
        assert status.valid and status.test_bits == ch.TEST_INTERNAL_DONE and not status.device_error

        sim.self_test_fails = True
        await client.write_register(8005, 0x5445, device_id=3)
        clock.advance(5.0)
        _, status, code = await channel(1000)
        assert (status.alarm_type, status.test_done, code) == (ch.ALARM_DEVICE_ERROR, True, ch.CODE_DEVICE_ERROR)
        assert sim.self_tests_started == 2
        client.close()
        await sim.stop()
    asyncio.run(main())


def test_rig_simulators_do_not_import_controller_drivers():
    forbidden = {"controller.hw.meter", "controller.hw.imd", "controller.hw.modbus_link",
                 "controller.hw.modbus_device", "controller.formats.cabinet.modbus_devices"}
    sim_dir = Path(__file__).resolve().parents[2] / "hil" / "sim"
    for name in SIM_FILES:
        tree = ast.parse((sim_dir / name).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & forbidden, f"hil/sim/{name} imports {imported & forbidden}"
