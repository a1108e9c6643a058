"""The simulated I/O boards' heartbeat watchdog: the real board's 0.3 s unless a run asks for longer."""
from __future__ import annotations

import asyncio
import dataclasses

import pytest

from hil.rig import Rig
from hil.setup import load_setup, private_can

pytestmark = pytest.mark.timeout(30)


def board_watchdogs(setup) -> list[float]:
    async def build() -> list[float]:
        rig = Rig(setup, private_can(setup))
        try:
            return [sim.watchdog_s for sim in rig.io_sims.values()]
        finally:
            await rig.stop()
    return asyncio.run(build())


def test_the_simulated_board_trips_after_the_real_boards_time_by_default():
    assert board_watchdogs(load_setup("nevi")) == [0.3] * 4


def test_a_run_for_an_emulated_cpu_can_give_the_boards_a_longer_watchdog():
    setup = dataclasses.replace(load_setup("desk"), board_watchdog_s=2.0)
    assert board_watchdogs(setup) == [2.0]
