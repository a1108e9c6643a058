"""A polling loop whose task lost a cancellation still ends once the app stops it (stop_polling).

On Python 3.11 asyncio.wait_for (pymodbus reads use it) can swallow a cancel that lands as its await
completes; the loop then polled on, and the app's stop waited for it forever (a rig scenario hung 180 s)."""
from __future__ import annotations

import asyncio

import pytest

from controller.hw.modbus_device import PolledModbusDevice

pytestmark = pytest.mark.timeout(10)


class SwallowingDevice(PolledModbusDevice):
    """Each poll swallows a cancellation, as a wait_for that completed in the same instant would."""

    polls = 0

    async def poll(self) -> None:
        self.polls += 1
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass


def _device() -> SwallowingDevice:
    return SwallowingDevice("imd", "bender_isocha425hv", None, 3, timeout_s=0.1, retries=0, poll_period_s=0.01,
                            on_fault=lambda *a: None, clock=lambda: 0.0, link=object())


def test_a_swallowed_cancel_keeps_the_loop_polling_until_stop_polling():
    async def main() -> None:
        device = _device()
        task = asyncio.create_task(device.run())
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.1)
        assert not task.done()  # the cancel was swallowed: without stop_polling it would poll for ever
        polls = device.polls
        device.stop_polling()
        await asyncio.wait_for(task, 1.0)
        assert device.polls <= polls + 1 and device.closed
    asyncio.run(main())
