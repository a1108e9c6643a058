"""A module group that was never switched on never switches a module on (a mutant starting the group "on" sent
on-frames with its keepalives and survived every other test)."""
from __future__ import annotations

import asyncio

import pytest

from tests.hw.test_power_group import Bench
from tests.polling import until

pytestmark = pytest.mark.timeout(20)


@pytest.mark.parametrize("vendor, addresses", [("infypower", [1, 2]), ("uugreen", [11, 12])])
def test_a_fresh_group_keeps_its_modules_off_through_its_keepalives(vendor, addresses):
    async def scenario():
        async with Bench(vendor, addresses) as b:
            assert not b.group.is_on
            for _ in range(4):  # keepalives go out once a second of the fake clock
                b.clock.now += 1.1
                await asyncio.sleep(0.05)
            assert not any(m.on for m in b.models) and not b.group.is_on
            b.group.set_output(400.0, 10.0)
            b.group.switch_on()
            await until(lambda: all(m.on for m in b.models))  # the same bench does switch them on when told

    asyncio.run(scenario())
