"""PowerModuleGroup where make mutate found it untested: the emergency off frames on the bus (the modules' own
off frames, extended identifiers), the setpoint bounds, a refused setpoint that keeps the previous one, and
what a technician reads of the modules. Each test kills mutants of controller/hw/power/group.py that
survived every other test."""
from __future__ import annotations

import asyncio
import logging

import pytest

from tests.hw.test_power_group import Bench
from tests.polling import until

pytestmark = pytest.mark.timeout(20)


@pytest.mark.parametrize("vendor", ["infypower", "uugreen"])
def test_the_emergency_off_reaches_every_module_through_the_bus(vendor):
    async def scenario():
        async with Bench(vendor, [1, 2, 3]) as b:
            b.group.set_output(300.0, 30.0)
            b.group.switch_on()
            await until(lambda: all(m.on for m in b.models))
            b.group.emergency_off()  # the fake clock stands still: no keep-alive could switch them off
            assert not b.group.is_on
            await until(lambda: not any(m.on for m in b.models))

    asyncio.run(scenario())


def test_a_zero_setpoint_is_a_setpoint_and_a_negative_one_is_refused_keeping_the_last():
    async def scenario():
        async with Bench("uugreen", [1, 2]) as b:
            b.group.set_output(0.0, 0.0)
            assert b.group.setpoint == (0.0, 0.0)
            b.group.set_output(300.0, 20.0)
            for bad in ((-1.0, 10.0), (300.0, -0.5), (float("nan"), 1.0)):
                with pytest.raises(ValueError, match="must be finite and not negative"):
                    b.group.set_output(*bad)
            assert b.group.setpoint == (300.0, 20.0)

    asyncio.run(scenario())


def test_a_setpoint_the_modules_protocol_cannot_carry_keeps_the_previous_one():
    async def scenario():
        async with Bench("uugreen", [1, 2]) as b:
            b.group.set_output(300.0, 20.0)
            with pytest.raises(ValueError):
                b.group.set_output(1e9, 20.0)  # beyond any module's voltage field
            assert b.group.setpoint == (300.0, 20.0)

    asyncio.run(scenario())


def test_the_module_view_a_technician_reads():
    async def scenario():
        async with Bench("uugreen", [11, 12]) as b:
            states = b.group.module_states()
            assert [s["address"] for s in states] == [11, 12]
            for s in states:
                assert set(s) == {"address", "healthy", "state", "voltage", "current", "temperature", "flags",
                                  "last_seen_age_s"}
                assert s["last_seen_age_s"] is not None and 0.0 <= s["last_seen_age_s"] < 1.0

    asyncio.run(scenario())


def test_a_group_fault_log_line_names_the_group(caplog):
    async def scenario():
        async with Bench("uugreen", [11, 12]) as b:
            b.models[1].silent = True
            with caplog.at_level(logging.WARNING, logger="controller.faults"):
                for _ in range(100):  # silent_after_s is 5 s of the fake clock: lost after about 10 steps
                    if ("MODULE_LOST", True) in b.faults:
                        break
                    b.clock.now += 0.5
                    await asyncio.sleep(0.02)
            assert "module group 1: MODULE_LOST raised" in caplog.text

    asyncio.run(scenario())
