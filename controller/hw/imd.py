"""Insulation monitor (IMD) driver: insulation resistance and system voltage over Modbus, the self-test,
the fast cable-check mode, and the isolation thresholds from the config.

`await imd.run()` polls at the configured period (about 1 Hz) and keeps `latest`. Faults via on_fault:
  ISOLATION_FAULT      resistance below fault_below_ohm
  ISOLATION_WARNING    resistance below warning_below_ohm (and not below the fault threshold)
  IMD_DEVICE_ERROR     the IMD reports a device error (earth or system connection, internal fault)
  IMD_SELFTEST_FAILED  the self-test ended in a device error, could not start, or gave no result in time
  IMD_LOST / IMD_BAD_REPLY  as for every Modbus device (see controller.hw.modbus_device)
A raised isolation fault or warning clears once the resistance is above its threshold * (1 + hysteresis).
Writes (alarm thresholds, cable-check mode) wait in a queue and go out before the next read, so
set_cable_check_mode() can be called from synchronous code.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable

from controller.faults import FaultListener
from controller.formats.cabinet.modbus_devices import ImdConfig
from controller.hw.modbus_device import PolledModbusDevice
from controller.hw.modbus_link import ModbusDeviceError, ModbusLink
from controller.formats.modbus.bender_channel import ChannelStatus


@dataclass(frozen=True)
class ImdReading:
    resistance_ohm: float
    system_voltage_v: float
    resistance_valid: bool  # False while the device tests itself or has no measurement
    prewarning: bool  # the device's own pre-alarm (R1)
    alarm: bool  # the device's own alarm (R2)
    device_error: bool
    test_done: bool  # the device reports a finished self-test
    t: float


class InsulationMonitor(PolledModbusDevice):
    lost_code = "IMD_LOST"
    bad_reply_code = "IMD_BAD_REPLY"

    def __init__(self, cfg: ImdConfig, on_fault: FaultListener, clock: Callable[[], float] = time.monotonic,
                 link: ModbusLink | None = None):
        cfg.check()
        super().__init__(f"imd {cfg.model} unit {cfg.unit_id}", cfg.model, cfg.link, cfg.unit_id, cfg.timeout_s,
                         cfg.retries, cfg.poll_period_s, on_fault, clock, link)
        self.cfg = cfg
        self.latest: ImdReading | None = None
        self._pending: dict[int, int] = {}  # register -> value, written before the next read
        self._cable_check_mode = False
        self._testing = False
        self._self_test_task: asyncio.Task | None = None

    async def start(self) -> bool:
        """Open the link, queue the alarm thresholds, take a first reading; False if the IMD does not answer."""
        self.started_t = self.clock()
        if self.cfg.write_alarm_thresholds:
            self._queue_setting("prealarm_kohm", round(self.cfg.warning_below_ohm / 1000))
            self._queue_setting("alarm_kohm", round(self.cfg.fault_below_ohm / 1000))
        try:
            await self.read()
        except ModbusDeviceError:
            return False
        return True

    def set_cable_check_mode(self, on: bool) -> None:
        """Ask for the fast measurement used during cable check; written before the next read."""
        self._cable_check_mode = on
        command = self.model.commands["cable_check_mode_on" if on else "cable_check_mode_off"]
        self._pending[command.address] = command.value

    @property
    def cable_check_mode(self) -> bool:
        """The mode asked for; `writes_pending` says whether the device has it yet."""
        return self._cable_check_mode

    @property
    def writes_pending(self) -> bool:
        return bool(self._pending)

    @property
    def fresh(self) -> bool:
        return self.latest is not None and self.clock() - self.latest.t <= self.cfg.stale_after_s

    async def read(self) -> ImdReading:
        """Write what is queued, then one reading now; raises ModbusDeviceError (and the fault) on failure."""
        await self._flush_writes()
        values = await self._read_values()
        status = ChannelStatus.from_register(int(values["resistance_status"]))
        reading = ImdReading(
            resistance_ohm=values["resistance_ohm"], system_voltage_v=values["system_voltage_v"],
            resistance_valid=status.valid, prewarning=status.prewarning, alarm=status.alarm,
            device_error=status.device_error, test_done=status.test_done, t=self.clock())
        self.latest = reading
        if not self._testing:
            self._judge(reading)
        return reading

    def begin_self_test(self, timeout_s: float = 30.0) -> None:
        """Start `self_test` from synchronous code (the connector's tick); `self_test_result` tells the outcome."""
        if self._self_test_task is not None and not self._self_test_task.done():
            self._self_test_task.cancel()
        self._self_test_task = asyncio.get_running_loop().create_task(self.self_test(timeout_s))

    @property
    def self_test_result(self) -> bool | None:
        """None while the self-test started by begin_self_test runs (or none was started); then passed or not."""
        task = self._self_test_task
        if task is None or not task.done():
            return None
        return not task.cancelled() and task.exception() is None and bool(task.result())

    async def self_test(self, timeout_s: float = 30.0) -> bool:
        """Start the device's self-test and wait for its result; raises or clears IMD_SELFTEST_FAILED."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._testing = True
        try:
            command = self.model.commands["self_test"]
            try:
                await self._flush_writes()
                await self._write(command.address, command.value)
            except ModbusDeviceError as err:
                return self._test_result(False, f"could not start the self-test: {err.reason}")
            while True:
                try:
                    reading = await self.read()
                except ModbusDeviceError:
                    reading = None  # reported as IMD_LOST / IMD_BAD_REPLY; the test may still finish
                if reading is not None and reading.device_error:
                    return self._test_result(False, "the IMD reports a device error after its self-test")
                if reading is not None and reading.test_done:
                    return self._test_result(True, "self-test passed")
                left = deadline - loop.time()
                if left <= 0:
                    return self._test_result(False, f"no self-test result within {timeout_s:g} s")
                await asyncio.sleep(min(self.cfg.poll_period_s, left))
        finally:
            self._testing = False

    async def poll(self) -> None:
        try:
            await self.read()
        except ModbusDeviceError:
            pass  # raised as IMD_LOST / IMD_BAD_REPLY

    def _judge(self, r: ImdReading) -> None:
        self.faults.set("IMD_DEVICE_ERROR", r.device_error, "the IMD reports a device error")
        if r.device_error or not r.resistance_valid:
            return
        kohm = r.resistance_ohm / 1000
        fault = r.resistance_ohm < self._limit("ISOLATION_FAULT", self.cfg.fault_below_ohm)
        warning = not fault and r.resistance_ohm < self._limit("ISOLATION_WARNING", self.cfg.warning_below_ohm)
        self.faults.set("ISOLATION_FAULT", fault,
                        f"insulation {kohm:.0f} kohm, fault below {self.cfg.fault_below_ohm / 1000:.0f} kohm")
        self.faults.set("ISOLATION_WARNING", warning,
                        f"insulation {kohm:.0f} kohm, warning below {self.cfg.warning_below_ohm / 1000:.0f} kohm")

    def _limit(self, code: str, threshold: float) -> float:
        return threshold * (1 + self.cfg.hysteresis) if code in self.faults.active else threshold

    def _test_result(self, passed: bool, detail: str) -> bool:
        self.faults.set("IMD_SELFTEST_FAILED", not passed, detail)
        return passed

    def _queue_setting(self, name: str, value: int) -> None:
        self._pending[self.model.settings[name].address] = value

    async def _flush_writes(self) -> None:
        for address, value in list(self._pending.items()):
            await self._write(address, value)
            if self._pending.get(address) == value:  # unless a newer value was queued meanwhile
                del self._pending[address]
