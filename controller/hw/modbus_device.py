"""What the Modbus drivers (meter, IMD) share: the link, fixed-period polling, and link failures as faults.

A failed request raises `<lost_code>` (no answer: timeout or closed link) or `<bad_reply_code>` (exception
response or garbled reply) through on_fault; the next good reply clears both. The error itself still
reaches the caller of read(); run() swallows it and polls on.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from controller.faults import FaultListener
from controller.hw.device_faults import DeviceFaults
from controller.formats.cabinet.modbus_devices import ModbusLinkConfig
from controller.hw.modbus_link import ModbusDeviceError, ModbusLink
from controller.formats.modbus import RegisterModel, load_model


class PolledModbusDevice:
    lost_code = ""
    bad_reply_code = ""
    # called after every poll cycle by run() (answered or not): the task supervisor's proof of progress
    on_progress: Callable[[], None] = staticmethod(lambda: None)

    def __init__(self, name: str, model: str, link_cfg: ModbusLinkConfig, unit_id: int, timeout_s: float,
                 retries: int, poll_period_s: float, on_fault: FaultListener, clock: Callable[[], float],
                 link: ModbusLink | None):
        self.name = name
        self.model: RegisterModel = load_model(model)
        self.unit_id = unit_id
        self.clock = clock
        self._timeout_s = timeout_s
        self._retries = retries
        self._period_s = poll_period_s
        self.faults = DeviceFaults(on_fault, name)
        self.link = link if link is not None else ModbusLink(link_cfg)
        self._owns_link = link is None  # a shared RS-485 link is closed by its owner
        self._closed = asyncio.Event()
        self.started_t: float | None = None

    async def run(self) -> None:
        """Poll every poll period until close(); never raises for device trouble (that becomes faults)."""
        if self.started_t is None:
            self.started_t = self.clock()
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while not self._closed.is_set():
            await self.poll()
            self.on_progress()
            next_t = max(next_t + self._period_s, loop.time())
            try:
                await asyncio.wait_for(self._closed.wait(), next_t - loop.time())
            except TimeoutError:
                pass

    async def poll(self) -> None:
        """One poll cycle of run(); subclasses read and judge here."""
        raise NotImplementedError

    def stop_polling(self) -> None:
        """run() ends at its next check, even if a cancellation of its task was lost: on 3.11 an asyncio.wait_for
        (pymodbus reads use it) can swallow a cancel that lands as its await completes, and the loop then polled on
        while the app waited for it to end."""
        self._closed.set()

    async def close(self) -> None:
        self._closed.set()
        if self._owns_link:
            self.link.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def _read_values(self) -> dict[str, float]:
        try:
            values = await self.link.read_model(self.unit_id, self.model, timeout_s=self._timeout_s,
                                                retries=self._retries)
        except ModbusDeviceError as err:
            self._link_failed(err)
            raise
        self._link_ok()
        return values

    async def _write(self, address: int, value: int) -> None:
        try:
            await self.link.write_register(self.unit_id, address, value, timeout_s=self._timeout_s,
                                           retries=self._retries)
        except ModbusDeviceError as err:
            self._link_failed(err)
            raise
        self._link_ok()

    def _link_failed(self, err: ModbusDeviceError) -> None:
        if self.closed:  # close() pulled the link from under a request: not a device fault
            return
        code = self.lost_code if err.kind in ("timeout", "closed") else self.bad_reply_code
        self.faults.raise_(code, err.reason)

    def _link_ok(self) -> None:
        self.faults.clear(self.lost_code)
        self.faults.clear(self.bad_reply_code)
