"""InsulationMonitor against the IMD simulator: self-test pass, fail and timeout, thresholds and hysteresis,
insulation dropping mid-charge, cable-check mode, and link faults with recovery."""
import asyncio

import pytest

from controller.hw.imd import InsulationMonitor
from controller.formats.cabinet.modbus_devices import ImdConfig, ModbusLinkConfig
from hil.sim.imd import ImdSim
from tests.hw.modbus_rig import FaultLog, charging_plant, served
from tests.polling import until

pytestmark = pytest.mark.timeout(60)


def _cfg(link: ModbusLinkConfig, **kw) -> ImdConfig:
    options = dict(poll_period_s=0.05, timeout_s=0.3, retries=0, stale_after_s=1.0,
                   fault_below_ohm=100_000.0, warning_below_ohm=500_000.0) | kw
    return ImdConfig(link=link, unit_id=3, **options)


def test_self_test_passes_and_isolation_is_not_judged_while_it_runs():
    async def main():
        plant = charging_plant()
        sim = ImdSim(plant, self_test_s=0.3)
        faults = FaultLog()
        async with served(sim, "tcp") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            assert await imd.start()
            task = asyncio.create_task(imd.run())  # polls on while the test runs
            assert await imd.self_test(timeout_s=5.0)
            assert imd.latest.test_done and imd.latest.resistance_valid
            await imd.close()
            await asyncio.wait_for(task, 1.0)
        assert sim.self_tests_started == 1
        assert faults.events == []  # the invalid (zero) resistance during the test raised nothing
    asyncio.run(main())


def test_self_test_failure_over_rtu_then_a_passing_retest_clears_it():
    async def main():
        sim = ImdSim(charging_plant(), self_test_s=0.1)
        sim.self_test_fails = True
        faults = FaultLog()
        async with served(sim, "rtu") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            await imd.start()
            assert not await imd.self_test(timeout_s=5.0)
            assert "device error" in faults.active["IMD_SELFTEST_FAILED"]
            await imd.read()
            assert "IMD_DEVICE_ERROR" in faults.active and imd.latest.device_error
            sim.self_test_fails = False
            assert await imd.self_test(timeout_s=5.0)
            await imd.read()
            await imd.close()
        assert faults.active == {}
        assert faults.raised("IMD_SELFTEST_FAILED") and faults.raised("IMD_DEVICE_ERROR")
    asyncio.run(main())


def test_self_test_without_result_times_out():
    async def main():
        sim = ImdSim(charging_plant(), self_test_s=60.0)
        faults = FaultLog()
        async with served(sim, "tcp") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            await imd.start()
            assert not await imd.self_test(timeout_s=0.3)
            await imd.close()
        assert faults.active["IMD_SELFTEST_FAILED"] == "no self-test result within 0.3 s"
    asyncio.run(main())


def test_self_test_that_cannot_start_fails_with_the_reason():
    async def main():
        sim = ImdSim(charging_plant())
        faults = FaultLog()
        async with served(sim, "tcp") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            await imd.start()
            sim.silent = True
            assert not await imd.self_test(timeout_s=1.0)
            await imd.close()
        assert faults.active["IMD_SELFTEST_FAILED"].startswith("could not start the self-test: write of 0x5445")
        assert "IMD_LOST" in faults.active
    asyncio.run(main())


def test_insulation_dropping_mid_charge_raises_warning_then_fault_over_rtu():
    async def main():
        plant = charging_plant()
        sim = ImdSim(plant)
        faults = FaultLog()
        async with served(sim, "rtu") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            assert await imd.start()
            assert (sim.prealarm_kohm, sim.alarm_kohm) == (500, 100)  # the device's own alarms follow the config
            task = asyncio.create_task(imd.run())
            plant.cable_voltage_v = 410.0
            await until(lambda: imd.latest.system_voltage_v == pytest.approx(410.0), "the system voltage")
            assert faults.events == []
            plant.isolation_ohm = 300_000.0
            await until(lambda: "ISOLATION_WARNING" in faults.active, "ISOLATION_WARNING")
            assert imd.latest.prewarning and not imd.latest.alarm
            plant.isolation_ohm = 50_000.0
            await until(lambda: "ISOLATION_FAULT" in faults.active, "ISOLATION_FAULT")
            assert faults.active["ISOLATION_FAULT"] == "insulation 50 kohm, fault below 100 kohm"
            assert "ISOLATION_WARNING" not in faults.active and imd.latest.alarm
            plant.isolation_ohm = 105_000.0  # above the threshold, inside the 10 % hysteresis
            polls = sim.requests
            await until(lambda: sim.requests > polls + 3, "a few polls")
            assert "ISOLATION_FAULT" in faults.active
            plant.isolation_ohm = 2e6
            await until(lambda: not faults.active, "the isolation faults to clear")
            await imd.close()
            await asyncio.wait_for(task, 1.0)
        assert [(c, a) for c, _, a in faults.events] == [
            ("ISOLATION_WARNING", True), ("ISOLATION_FAULT", True), ("ISOLATION_WARNING", False),
            ("ISOLATION_FAULT", False)]
    asyncio.run(main())


def test_cable_check_mode_is_written_before_the_next_read():
    async def main():
        sim = ImdSim(charging_plant())
        async with served(sim, "tcp") as link:
            imd = InsulationMonitor(_cfg(link, write_alarm_thresholds=False), FaultLog())
            await imd.start()
            imd.set_cable_check_mode(True)
            assert imd.cable_check_mode and imd.writes_pending and not sim.cable_check_mode
            await imd.read()
            assert sim.cable_check_mode and not imd.writes_pending
            imd.set_cable_check_mode(False)
            await imd.read()
            await imd.close()
        assert not sim.cable_check_mode
        assert sim.writes == [(3021, 3), (3021, 0)]  # and no threshold writes when switched off
    asyncio.run(main())


def test_lost_and_garbled_imd_raise_faults_and_recover():
    async def main():
        sim = ImdSim(charging_plant())
        faults = FaultLog()
        async with served(sim, "tcp") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            task = asyncio.create_task(imd.run())
            await until(lambda: imd.fresh, "a first reading")
            sim.silent = True
            await until(lambda: "IMD_LOST" in faults.active and not imd.fresh, "IMD_LOST")
            sim.silent, sim.garble = False, True
            await until(lambda: "IMD_BAD_REPLY" in faults.active, "IMD_BAD_REPLY")
            sim.garble = False
            await until(lambda: not faults.active and imd.fresh, "recovery")
            await imd.close()
            await asyncio.wait_for(task, 1.0)
        assert not task.exception()
    asyncio.run(main())


def test_unreachable_imd_at_start():
    async def main():
        faults = FaultLog()
        imd = InsulationMonitor(_cfg(ModbusLinkConfig(transport="rtu", serial_port="/dev/no-such-tty")), faults)
        assert not await imd.start()
        assert "no such serial device" in faults.active["IMD_LOST"]
        assert imd.writes_pending  # the thresholds wait for the device
        await imd.close()
    asyncio.run(main())


def test_a_self_test_begun_from_synchronous_code_reports_its_result():
    """The connector's tick starts the self-test with begin_self_test and reads self_test_result each tick."""
    async def main():
        sim = ImdSim(charging_plant(), self_test_s=0.1)
        faults = FaultLog()
        async with served(sim, "tcp") as link:
            imd = InsulationMonitor(_cfg(link), faults)
            await imd.start()
            assert imd.self_test_result is None  # none begun
            imd.begin_self_test(5.0)
            assert imd.self_test_result is None  # running
            await until(lambda: imd.self_test_result is not None, "a self-test result")
            assert imd.self_test_result is True
            sim.self_test_fails = True
            imd.begin_self_test(5.0)
            assert imd.self_test_result is None  # a new test forgets the old result
            await until(lambda: imd.self_test_result is not None, "a self-test result")
            assert imd.self_test_result is False
            await imd.close()
    asyncio.run(main())
