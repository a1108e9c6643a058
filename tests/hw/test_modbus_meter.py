"""EnergyMeter against the meter simulator: energy equals the plant's integration, and lost, garbled,
stale and frozen meters raise their faults while the driver keeps polling and recovers."""
import asyncio

import pytest

from controller.hw.meter import EnergyMeter
from controller.formats.cabinet.modbus_devices import MeterConfig, ModbusLinkConfig
from hil.sim.meter import MeterSim
from tests.hw.modbus_rig import TRANSPORTS, FaultLog, charging_plant, served, stepping
from tests.polling import until

pytestmark = pytest.mark.timeout(60)


def _cfg(link: ModbusLinkConfig, model: str = "acrel_djsf1352_rn", **kw) -> MeterConfig:
    options = dict(poll_period_s=0.05, timeout_s=0.3, retries=0, stale_after_s=1.0) | kw
    return MeterConfig(link=link, model=model, unit_id=1, **options)


@pytest.mark.parametrize("transport, model", [("tcp", "acrel_djsf1352_rn"), ("rtu", "generic_float32")])
def test_energy_delta_equals_the_simulated_integration(transport, model):
    async def main():
        plant = charging_plant()
        sim = MeterSim(plant, model)
        async with served(sim, transport) as link:
            meter = EnergyMeter(_cfg(link, model), FaultLog())
            assert await meter.start()
            first, plant_before = meter.latest, plant.energy_wh
            for _ in range(1000):  # 10 s of charging in simulated time
                plant.step(0.01)
            last = await meter.read()
            await meter.close()
        integrated = plant.energy_wh - plant_before
        assert integrated > 50  # current really flowed
        step = sim.model.values["energy_import_wh"].resolution(last.energy_import_wh)
        assert last.energy_import_wh - first.energy_import_wh == pytest.approx(integrated, abs=step + 1e-6)
        assert last.power_w == pytest.approx(plant.cable_voltage_v * plant.output_current_a, rel=1e-3)
        assert last.voltage_v == pytest.approx(plant.cable_voltage_v, abs=0.01)
    asyncio.run(main())


def test_lost_meter_raises_lost_then_stale_and_recovers_over_rtu():
    async def main():
        plant = charging_plant()
        sim = MeterSim(plant)
        faults = FaultLog()
        async with served(sim, "rtu") as link, stepping(plant):
            meter = EnergyMeter(_cfg(link), faults)
            task = asyncio.create_task(meter.run())
            await until(lambda: meter.fresh, "a first reading")
            sim.silent = True
            await until(lambda: "METER_STALE" in faults.active, "METER_STALE")
            assert "no reply within 0.3 s" in faults.active["METER_LOST"]
            assert "last good reading" in faults.active["METER_STALE"]
            assert not meter.fresh and not task.done()
            sim.silent = False
            await until(lambda: not faults.active, "the faults to clear")
            assert meter.fresh
            await meter.close()
            await asyncio.wait_for(task, 1.0)
        assert [(c, a) for c, _, a in faults.events] == [
            ("METER_LOST", True), ("METER_STALE", True), ("METER_LOST", False), ("METER_STALE", False)]
    asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_garbled_replies_raise_bad_reply_and_polling_goes_on(transport):
    async def main():
        plant = charging_plant()
        sim = MeterSim(plant)
        faults = FaultLog()
        async with served(sim, transport) as link:
            meter = EnergyMeter(_cfg(link, stale_after_s=5.0), faults)
            task = asyncio.create_task(meter.run())
            await until(lambda: meter.latest is not None, "a first reading")
            sim.garble = True
            await until(lambda: "METER_BAD_REPLY" in faults.active, "METER_BAD_REPLY")
            assert "no valid reply" in faults.active["METER_BAD_REPLY"]
            sim.garble, sim.exception_code = False, 4
            await until(lambda: meter.link.counters.exceptions > 0, "an exception response")
            assert "METER_BAD_REPLY" in faults.active
            sim.exception_code = None
            requests = sim.requests
            await until(lambda: not faults.active and sim.requests > requests + 2, "recovery")
            await meter.close()
            await asyncio.wait_for(task, 1.0)
        assert not faults.raised("METER_LOST")
    asyncio.run(main())


def test_frozen_meter_is_stale_although_it_answers():
    async def main():
        plant = charging_plant()
        sim = MeterSim(plant, "generic_float32")
        faults = FaultLog()
        async with served(sim, "tcp") as link, stepping(plant):
            meter = EnergyMeter(_cfg(link, "generic_float32", stale_after_s=2.0, frozen_margin_wh=2.0), faults)
            task = asyncio.create_task(meter.run())
            await until(lambda: meter.latest is not None and meter.latest.power_w > 20_000, "power flowing")
            polls = sim.requests
            await until(lambda: sim.requests > polls + 10, "ten polls while energy moves")
            assert "METER_STALE" not in faults.active and meter.fresh
            sim.frozen = True
            await until(lambda: "METER_STALE" in faults.active, "METER_STALE for a frozen meter")
            assert "energy register stuck at" in faults.active["METER_STALE"]
            assert not meter.fresh and meter.latest.t > 0
            sim.frozen = False
            await until(lambda: "METER_STALE" not in faults.active, "the stale fault to clear")
            await meter.close()
            await asyncio.wait_for(task, 1.0)
        assert not faults.raised("METER_LOST") and not faults.raised("METER_BAD_REPLY")
    asyncio.run(main())


def test_meter_absent_at_start_is_reported_and_picked_up_later():
    async def main():
        plant = charging_plant()
        sim = MeterSim(plant)
        port = await sim.start_tcp()
        await sim.stop()  # nothing listens on the port yet
        faults = FaultLog()
        meter = EnergyMeter(_cfg(ModbusLinkConfig(port=port, connect_timeout_s=0.2)), faults)
        assert not await meter.start()
        assert "cannot connect to tcp 127.0.0.1" in faults.active["METER_LOST"]
        task = asyncio.create_task(meter.run())
        await until(lambda: "METER_STALE" in faults.active, "METER_STALE")
        assert "no reading since start" in faults.active["METER_STALE"]
        await sim.start_tcp(port=port)
        await until(lambda: meter.fresh and not faults.active, "the meter to be picked up")
        await meter.close()
        await asyncio.wait_for(task, 1.0)
        await sim.stop()
        assert meter.latest.energy_import_wh == pytest.approx(sim.initial_energy_wh, abs=10)
    asyncio.run(main())


def test_close_stops_run_without_raising_faults():
    async def main():
        sim = MeterSim(charging_plant())
        faults = FaultLog()
        async with served(sim, "tcp") as link:
            meter = EnergyMeter(_cfg(link, poll_period_s=10.0, stale_after_s=20.0), faults)
            task = asyncio.create_task(meter.run())
            await until(lambda: meter.latest is not None, "a first reading")
            await meter.close()
            await asyncio.wait_for(task, 1.0)
        assert faults.events == []
    asyncio.run(main())
