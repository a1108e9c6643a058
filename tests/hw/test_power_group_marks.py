"""A module fault flag is one fault of the group: raised again by each module that reports it, with that module's
address in its words, and cleared only when the last one stops (issue 19's surviving mutants of
controller/hw/power/group.py: the address and words of MODULE_SHORT_CIRCUIT and MODULE_OVERVOLTAGE)."""
from __future__ import annotations

import asyncio

import pytest

from tests.hw.test_power_group import Bench
from tests.polling import until

pytestmark = pytest.mark.timeout(20)


@pytest.mark.parametrize("flag, code, words", [
    ("short_circuit", "MODULE_SHORT_CIRCUIT", "module {:#04x} reports an output short circuit"),
    ("overvoltage", "MODULE_OVERVOLTAGE", "module {:#04x} reports output over-voltage"),
])
def test_a_flag_on_two_modules_is_one_fault_until_the_last_one_clears(flag, code, words):
    reports: list[tuple[str, str, bool]] = []

    async def scenario():
        bench = Bench("infypower", [1, 2, 3], on_fault=lambda c, d, a: reports.append((c, d, a)))
        async with bench as b:
            mine = lambda: [(d, a) for c, d, a in reports if c == code]  # noqa: E731
            setattr(b.models[1], flag, True)
            await until(lambda: mine())
            setattr(b.models[2], flag, True)
            await until(lambda: len(mine()) == 2)  # raised again, in module 3's words
            setattr(b.models[1], flag, False)
            await asyncio.sleep(0.1)
            assert mine() == [(words.format(2), True), (words.format(3), True)]  # module 3 still reports it
            setattr(b.models[2], flag, False)
            await until(lambda: len(mine()) == 3)
            assert mine()[2] == (words.format(3), False)

    asyncio.run(scenario())
